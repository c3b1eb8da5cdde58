/**
 * HLS-GMAC client, over real loopback TCP:
 *  - against the four recorded associations of codec-security.json (a replay peer checks every request byte
 *    for byte: AARQ with calling-AP-title, CtoS and glo-initiate-request, pass 3 f(StoC), the ciphered GET)
 *    and decodes the recorded answers to the values Gurux decoded;
 *  - end to end against the simulator over WRAPPER and HDLC: ciphered GET/SET/profile (block transfer),
 *    glo and general-glo, and one clear error for a wrong key, a tampered tag, a replayed counter,
 *    a wrong meter system title, a counter that went backwards after a restart.
 */
import {afterEach, describe, expect, it} from 'vitest'
import {
  D,
  DlmsClient,
  isDlmsError,
  startSimulator,
  type DlmsClientOptions,
  type DlmsError,
  type Simulator,
  type SimulatorOptions,
} from '../../../src/core/dlms/index.js'
import {clientSecurity, hlsSessions, type HlsSession} from '../../unit/dlms/hls-vectors.js'
import {hex} from '../../unit/dlms/vectors.js'
import {startReplay} from './replay.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

async function failure(p: Promise<unknown>): Promise<DlmsError> {
  try {
    await p
  } catch (e) {
    if (isDlmsError(e)) return e
    throw new Error(`not a DlmsError: ${String(e)}`)
  }
  throw new Error('expected a failure')
}

describe('client replays the four recorded HLS-GMAC associations byte-exact', () => {
  for (const s of hlsSessions()) {
    it(`${s.name}`, async () => {
      const replay = await startReplay(s)
      const c = new DlmsClient({
        host: '127.0.0.1',
        port: replay.port,
        framing: 'wrapper',
        clientAddress: s.client_address,
        serverAddress: s.server_address,
        timeoutMs: 3000,
        security: clientSecurity(s),
      })
      cleanups.push(() => c.close())
      cleanups.push(() => replay.close()) // first: the recording has no RLRQ/RLRE
      const assoc = await c.open()
      const aare = s.raw.steps[1].gurux_client_parse
      expect(assoc.maxPduSize).toBe(aare.negotiated_max_pdu)
      expect(assoc.conformance.toString(16).padStart(6, '0')).toBe(aare.negotiated_conformance)
      expect(assoc.security).toMatchObject({level: 'hls-gmac', meterSystemTitle: s.fixed.server_system_title})
      const decoded = s.raw.steps[5].gurux_client_decoded
      if (s.name.startsWith('alt')) {
        const clock = await c.readClock()
        expect(Buffer.from(clock.raw.type === 'octet-string' ? clock.raw.value : []).toString('hex')).toBe(decoded.value)
        expect(clock.iso).toBe('2024-06-15T12:34:56+01:00')
      } else {
        const v = await c.read('1.0.1.8.0.255', 3, 2)
        expect(v).toEqual({type: 'uint32', value: decoded.value})
      }
      expect(replay.mismatches).toEqual([])
      expect(replay.matched()).toBe(3)
      // the next counter continues after the last one used (never reused)
      const lastIc = Number.parseInt(s.raw.steps[4].protected?.fields.invocation_counter ?? s.raw.steps[2].f_stoc.fields.invocation_counter, 16)
      expect(c.nextInvocationCounter).toBe(lastIc + 1)
    })
  }

  it('refuses the recorded pass 4 with a flipped f(CtoS) bit (error vector hls5-f-ctos-bit-flipped)', async () => {
    const base = hlsSessions().find(x => x.name === 'hls5-no-apdu-protection')!
    const bad: HlsSession = {
      ...base,
      steps: base.steps.map((st, i) => (i === 3 ? {...st, hex: '0001000100010019c701c100010009111001234567fe1466afb3dbcd4f9389e2b6'} : st)),
    }
    const replay = await startReplay(bad)
    cleanups.push(() => replay.close())
    const c = new DlmsClient({host: '127.0.0.1', port: replay.port, clientAddress: 1, timeoutMs: 3000, security: clientSecurity(base)})
    cleanups.push(() => c.close())
    const err = await failure(c.open())
    expect(err.dlmsCode).toBe('SECURITY')
    expect(err.message).toMatch(/HLS-GMAC authentication failed: the meter's proof f\(challenge\) does not verify/)
    expect(c.state).not.toBe('associated')
  })

  it('refuses the recorded GET answer with a flipped tag bit (error vector client-receives-sc30-response-tag-bit-flipped)', async () => {
    const base = hlsSessions().find(x => x.name === 'hls5-sc30-glo')!
    const steps = base.steps.map(st => ({...st}))
    const last = Buffer.from(steps[5]!.hex, 'hex')
    last[last.length - 1]! ^= 1
    steps[5]!.hex = last.toString('hex')
    const replay = await startReplay({...base, steps})
    const c = new DlmsClient({host: '127.0.0.1', port: replay.port, clientAddress: 1, timeoutMs: 3000, security: clientSecurity(base)})
    cleanups.push(() => c.close())
    cleanups.push(() => replay.close())
    await c.open()
    const err = await failure(c.read('1.0.1.8.0.255', 3, 2))
    expect(err.dlmsCode).toBe('SECURITY')
    expect(err.details.securityReason).toBe('tag-mismatch')
    expect(err.message).toMatch(/authentication tag .* does not verify/)
  })
})

// ---------- end to end against the simulator ----------

const METER_ST = hex('4d4d4d0000bc614e')
const CLIENT_ST = hex('4d4d4d0000000001')
const EK = hex('000102030405060708090a0b0c0d0e0f')
const AK = hex('d0d1d2d3d4d5d6d7d8d9dadbdcdddedf')

async function sim(opts: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  const s = await startSimulator({host: '127.0.0.1', port: 0, security: {systemTitle: METER_ST, ek: EK, ak: AK}, ...opts})
  cleanups.push(() => s.close())
  return s
}

function hlsClient(s: Simulator, sec: Partial<NonNullable<DlmsClientOptions['security']>> = {}, opts: Partial<DlmsClientOptions> = {}): DlmsClient {
  const c = new DlmsClient({
    host: '127.0.0.1',
    port: s.ports[0]!,
    framing: s.framing,
    clientAddress: 1,
    timeoutMs: 2000,
    security: {level: 'hls-gmac', systemTitle: CLIENT_ST, ek: EK, ak: AK, peerSystemTitle: METER_ST, ...sec},
    ...opts,
  })
  cleanups.push(() => c.close())
  return c
}

for (const framing of ['wrapper', 'hdlc'] as const) {
  describe(`HLS-GMAC end to end over ${framing}`, () => {
    for (const ciphering of ['glo', 'general-glo'] as const) {
      it(`associates, reads and writes ciphered (${ciphering}), block transfer included`, async () => {
        const s = await sim({framing})
        const c = hlsClient(s, {ciphering})
        const assoc = await c.open()
        expect(assoc.security).toEqual({level: 'hls-gmac', meterSystemTitle: '4d4d4d0000bc614e', securityControl: 0x30, ciphering})
        const e = await c.readRegister('1.0.1.8.0.255')
        expect(e).toMatchObject({unit: 'Wh', classId: 3})
        expect(e.value).toBeGreaterThan(0)
        const p = await c.readProfile('1.0.99.1.0.255') // 96 rows: several ciphered blocks
        expect(p.rows).toHaveLength(96)
        const clock = await c.readClock()
        await c.write('0.0.1.0.0.255', 8, 2, D.dateTimeOctets(clock.dateTime))
        await c.release()
        await c.associate() // a second association on the same link continues the counters
        expect((await c.readRegister('1.0.1.8.0.255')).unit).toBe('Wh')
      })
    }

    it('HLS without APDU protection (security control 0) still authenticates both sides', async () => {
      const s = await sim({framing, security: {systemTitle: METER_ST, ek: EK, ak: AK, securityControl: 0}})
      const c = hlsClient(s, {securityControl: 0})
      expect((await c.open()).security?.ciphering).toBe('none')
      expect((await c.readRegister('1.0.1.8.0.255')).unit).toBe('Wh')
    })

    it('a wrong authentication key: one clear error, no association', async () => {
      const s = await sim({framing})
      const c = hlsClient(s, {ak: hex('0f0e0d0c0b0a09080706050403020100')})
      const err = await failure(c.open())
      expect(err.dlmsCode).toBe('ASSOCIATION_REJECTED')
      expect(err.message).toBe('HLS association rejected: authentication failure')
      expect(err.hint).toMatch(/keys/)
      expect(err.message + (err.hint ?? '')).not.toMatch(/0f0e0d0c/)
    })

    it('a wrong authentication key without APDU protection: the meter refuses f(StoC)', async () => {
      const s = await sim({framing, security: {systemTitle: METER_ST, ek: EK, ak: AK, securityControl: 0}})
      const c = hlsClient(s, {securityControl: 0, ak: hex('0f0e0d0c0b0a09080706050403020100')})
      const err = await failure(c.open())
      expect(err.dlmsCode).toBe('ASSOCIATION_REJECTED')
      expect(err.message).toBe('HLS authentication failed: the meter refused our proof f(StoC)')
    })

    it('a wrong meter system title is refused before anything is sent ciphered', async () => {
      const s = await sim({framing})
      const c = hlsClient(s, {peerSystemTitle: hex('4d4d4d0000000099')})
      const err = await failure(c.open())
      expect(err.dlmsCode).toBe('SECURITY')
      expect(err.details.securityReason).toBe('system-title')
    })

    it('a tampered answer tag and a replayed answer counter are refused', async () => {
      const s = await sim({framing})
      const c = hlsClient(s)
      await c.open()
      s.setCipherFault(0, 'tamper')
      const t = await failure(c.readRegister('1.0.1.8.0.255', {refreshScaler: true}))
      expect(t.dlmsCode).toBe('SECURITY')
      expect(t.details.securityReason).toBe('tag-mismatch')
      const c2 = hlsClient(s, {invocationCounter: c.nextInvocationCounter}) // same client system title: continue its counter
      await c2.open()
      await c2.read('1.0.1.8.0.255', 3, 2)
      s.setCipherFault(0, 'replay')
      const r = await failure(c2.read('1.0.1.8.0.255', 3, 2))
      expect(r.dlmsCode).toBe('SECURITY')
      expect(r.details.securityReason).toBe('replay')
      expect(r.message).toMatch(/not greater than the last accepted/)
    })

    it('a restart that continues the persisted counter works; one that reuses a counter is refused by the meter', async () => {
      const s = await sim({framing})
      let persisted = 1
      const first = hlsClient(s, {invocationCounter: persisted, onInvocationCounter: n => (persisted = n)})
      await first.open()
      await first.readRegister('1.0.1.8.0.255')
      await first.close()
      expect(persisted).toBe(first.nextInvocationCounter)
      expect(persisted).toBeGreaterThan(4)
      const restarted = hlsClient(s, {invocationCounter: persisted})
      await restarted.open()
      expect((await restarted.readRegister('1.0.1.8.0.255')).unit).toBe('Wh')
      await restarted.close()
      const reused = hlsClient(s, {invocationCounter: 1}) // lost its counter: the meter refuses the replayed AARQ
      const err = await failure(reused.open())
      expect(err.dlmsCode).toBe('ASSOCIATION_REJECTED')
    })

    it('without security, a ciphered meter answer stays UNSUPPORTED with a hint', async () => {
      const s = await sim({framing})
      const c = new DlmsClient({
        host: '127.0.0.1',
        port: s.ports[0]!,
        framing,
        clientAddress: 1,
        timeoutMs: 2000,
        auth: {mechanism: 'low', password: '12345678'},
      })
      cleanups.push(() => c.close())
      const err = await failure(c.open())
      expect(err.dlmsCode).toBe('ASSOCIATION_REJECTED') // client 1 needs HLS on this meter
      expect(err.details.diagnostic).toBe(14)
    })
  })
}

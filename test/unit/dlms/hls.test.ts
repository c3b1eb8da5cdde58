/**
 * HLS-GMAC associations, meter side and ACSE codec: the four whole associations of codec-security.json.
 * The simulator's session, given the recorded fixed inputs (keys, system titles, StoC, first counter),
 * answers the recorded Gurux client requests with the recorded bytes (AARE with responding-AP-title, StoC
 * and glo-initiate-response; pass 4 f(CtoS); the ciphered GET answer). The client side is replayed over TCP
 * in test/integration/dlms/hls.test.ts.
 */
import {describe, expect, it} from 'vitest'
import {decodeAare, decodeAarq, encodeAare, encodeAarq, decodeApdu, encodeApdu} from '../../../src/core/dlms/codec/apdu/index.js'
import {InvocationCounter, type FrameCounterGuard, protectApdu} from '../../../src/core/dlms/codec/security.js'
import {MeterModel} from '../../../src/core/dlms/simulator/objects.js'
import {CosemServerSession} from '../../../src/core/dlms/simulator/session.js'
import {clientSecurity, grantedConformance, hlsSessions, serverSecurity, SECURITY_VECTORS, type HlsSession} from './hls-vectors.js'
import {hex, toHex} from './vectors.js'

const gurux = () => new MeterModel({index: 0, now: Date.now, offsetMinutes: 60, seed: 1, profileRows: 96, profilePeriodMinutes: 15, preset: 'gurux'})

function meterSession(s: HlsSession, guards = new Map<string, FrameCounterGuard>()): CosemServerSession {
  const config = serverSecurity(s)
  return new CosemServerSession(gurux(), {
    password: '12345678',
    maxPduSize: 512,
    conformance: grantedConformance(s),
    security: {config, counter: new InvocationCounter(config.invocationCounter), guards},
  })
}

describe('the four HLS-GMAC associations', () => {
  const sessions = hlsSessions()
  it('has four', () =>
    expect(sessions.map(s => s.name)).toEqual(['hls5-no-apdu-protection', 'hls5-sc30-glo', 'hls5-sc30-general-glo', 'alt-keys-hls5-sc30-glo']))

  for (const s of sessions) {
    it(`${s.name}: the meter answers every recorded request with the recorded bytes`, () => {
      const sess = meterSession(s)
      for (let i = 0; i < s.steps.length; i += 2) {
        const req = hex(s.steps[i]!.hex).subarray(8)
        const want = hex(s.steps[i + 1]!.hex).subarray(8)
        expect(toHex(sess.handle(req, s.client_address)!), s.steps[i + 1]!.meaning).toBe(toHex(want))
      }
      expect(sess.associated).toBe(true)
    })

    it(`${s.name}: AARQ and AARE decode to the recorded fields and re-encode byte-exact`, () => {
      const aarqBytes = hex(s.raw.steps[0].apdu)
      const aarq = decodeAarq(aarqBytes)
      expect(aarq.status).toBe('ok')
      if (aarq.status !== 'ok') return
      expect(toHex(aarq.value.callingApTitle!)).toBe(s.fixed.client_system_title)
      expect(toHex(aarq.value.authenticationValue!)).toBe(s.fixed.ctos)
      expect(toHex(encodeAarq(aarq.value))).toBe(s.raw.steps[0].apdu)
      const aare = decodeAare(hex(s.raw.steps[1].apdu))
      expect(aare.status).toBe('ok')
      if (aare.status !== 'ok') return
      expect(aare.value.result).toBe(0)
      expect(aare.value.diagnostic).toEqual({source: 'user', value: 14})
      expect(toHex(aare.value.respondingApTitle!)).toBe(s.fixed.server_system_title)
      expect(toHex(aare.value.respondingAuthenticationValue!)).toBe(s.fixed.stoc)
      expect(toHex(encodeAare(aare.value))).toBe(s.raw.steps[1].apdu)
    })
  }

  it('the reply_to_HLS_authentication APDUs decode and re-encode byte-exact', () => {
    for (const h of SECURITY_VECTORS.hls) {
      for (const k of ['action_request_apdu', 'action_response_apdu', 'plain_action_apdu']) {
        if (!h[k]) continue
        const a = decodeApdu(hex(h[k]))
        expect(a.status).toBe('ok')
        if (a.status !== 'ok' || a.value.kind === 'unsupported') continue
        expect(['action-request', 'action-response']).toContain(a.value.kind)
        expect(toHex(encodeApdu(a.value))).toBe(h[k])
      }
    }
  })
})

describe('the meter refuses', () => {
  const s = hlsSessions().find(x => x.name === 'hls5-sc30-glo')!
  const req = (i: number) => hex(s.steps[i]!.hex).subarray(8)

  it('a wrong f(StoC) (error vector hls5-f-stoc-wrong-authentication-key): no f(CtoS), not associated', () => {
    const plain = hlsSessions().find(x => x.name === 'hls5-no-apdu-protection')!
    const sess = meterSession(plain)
    sess.handle(hex(plain.steps[0]!.hex).subarray(8), 1)
    const bad = SECURITY_VECTORS.errors.find((e: {name: string}) => e.name === 'hls5-f-stoc-wrong-authentication-key').hex
    const action = hex(`c301c1000f0000280000ff01010911${bad}`)
    const answer = decodeApdu(sess.handle(action, 1)!)
    expect(answer.status === 'ok' && answer.value.kind === 'action-response' && answer.value.apdu).toMatchObject({result: 250})
    expect(answer.status === 'ok' && answer.value.kind === 'action-response' && answer.value.apdu.returnParameters).toBeUndefined()
    expect(sess.associated).toBe(false)
    // and a GET is not served
    expect(toHex(sess.handle(hex(plain.steps[4]!.hex).subarray(8), 1)!).slice(0, 2)).toBe('d8')
  })

  it('a replayed AARQ (same client invocation counter) on a new association', () => {
    const guards = new Map<string, FrameCounterGuard>()
    const a = meterSession(s, guards)
    expect(decodeAare(a.handle(req(0), 1)!).status).toBe('ok')
    const b = meterSession(s, guards) // the meter remembers the client's counter across associations
    const again = decodeAare(b.handle(req(0), 1)!)
    expect(again.status === 'ok' && again.value).toMatchObject({result: 1, diagnostic: {value: 13}})
  })

  it('a replayed or tampered ciphered GET with an exception (invocation-counter / deciphering error)', () => {
    const sess = meterSession(s)
    for (let i = 0; i < 4; i += 2) sess.handle(req(i), 1)
    expect(sess.associated).toBe(true)
    expect(toHex(sess.handle(req(4), 1)!).slice(0, 2)).toBe('cc')
    expect(toHex(sess.handle(req(4), 1)!)).toBe('d8010600000004') // replay: invocation-counter-error, last accepted 4
    const c = clientSecurity(s)
    const fresh = protectApdu(hex('c001c100030100010800ff0200'), {ek: c.ek, ak: c.ak, sc: 0x30, systemTitle: c.systemTitle, invocationCounter: 9})
    const tampered = fresh.slice()
    tampered[tampered.length - 1]! ^= 1
    expect(toHex(sess.handle(tampered, 1)!)).toBe('d80105') // deciphering-error
    const wrongKey = protectApdu(hex('c001c100030100010800ff0200'), {ek: c.ak, ak: c.ak, sc: 0x30, systemTitle: c.systemTitle, invocationCounter: 10})
    expect(toHex(sess.handle(wrongKey, 1)!)).toBe('d80105')
    expect(toHex(sess.handle(fresh, 1)!).slice(0, 2)).toBe('cc') // the forged ones did not move the counter
    // a GET in clear in a ciphered association is refused too
    expect(toHex(sess.handle(hex('c001c100030100010800ff0200'), 1)!)).toBe('d80105')
  })
})

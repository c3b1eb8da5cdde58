/**
 * Server-side interop: the simulator (preset 'gurux' = the recorded meter's fixed values) answers the
 * recorded Gurux client requests with Gurux's own bytes, wherever Gurux follows the standard.
 * Known, deliberate differences: a rejected AARE carries no InitiateResponse, the RLRE has consistent
 * lengths and an LLC header, a UA answering DISC has no parameters, HDLC segments are 128 bytes (Gurux: 125).
 */
import {describe, expect, it} from 'vitest'
import {decodeApdu} from '../../../src/core/dlms/codec/apdu/index.js'
import {HdlcServerLink} from '../../../src/core/dlms/link/hdlc.js'
import {MeterModel} from '../../../src/core/dlms/simulator/objects.js'
import {CosemServerSession} from '../../../src/core/dlms/simulator/session.js'
import {formatFault, parseFault} from '../../../src/core/dlms/simulator/faults.js'
import {hex, sessionVectors, toHex} from './vectors.js'

const gurux = () => new MeterModel({index: 0, now: Date.now, offsetMinutes: 60, seed: 1, profileRows: 96, profilePeriodMinutes: 15, preset: 'gurux'})
const session = () => new CosemServerSession(gurux(), {password: '12345678', maxPduSize: 512, conformance: 0x401e5d})

describe('simulator answers Gurux requests with Gurux bytes (wrapper sessions, APDU level)', () => {
  for (const s of sessionVectors().filter(x => x.framing === 'wrapper')) {
    it(s.name, () => {
      const sess = session()
      let exact = 0
      for (let i = 0; i < s.steps.length; i += 2) {
        const req = hex(s.steps[i]!.hex).subarray(8)
        const want = hex(s.steps[i + 1]!.hex).subarray(8)
        const got = sess.handle(req, s.client_address)!
        const kind = decodeApdu(want)
        if (kind.status === 'ok' && (kind.value.kind === 'rlre' || (kind.value.kind === 'aare' && kind.value.apdu.result !== 0))) {
          const mine = decodeApdu(got)
          expect(mine.status === 'ok' && mine.value.kind).toBe(kind.value.kind)
          if (kind.value.kind === 'aare' && mine.status === 'ok' && mine.value.kind === 'aare') {
            expect(mine.value.apdu.result).toBe(kind.value.apdu.result)
            expect(mine.value.apdu.diagnostic).toEqual(kind.value.apdu.diagnostic)
          }
          continue
        }
        expect(toHex(got), s.steps[i]!.meaning).toBe(toHex(want))
        exact++
      }
      expect(exact).toBeGreaterThanOrEqual(s.name.includes('bad-password') ? 0 : 1)
    })
  }
})

describe('simulator HDLC frames equal Gurux frames (UA to SNRM, AARE, GET answers)', () => {
  for (const name of ['hdlc-get-clock', 'hdlc-get-registers', 'hdlc-get-undefined-object', 'hdlc-4byte-address', 'hdlc-assoc-lls']) {
    it(name, () => {
      const s = sessionVectors().find(x => x.name === name)!
      const link = new HdlcServerLink({logical: 1, physical: s.server_physical})
      const sess = session()
      let compared = 0
      for (let i = 0; i < s.steps.length; i += 2) {
        const meaning = s.steps[i]!.meaning
        const out: string[] = []
        for (const ev of link.receive(hex(s.steps[i]!.hex))) {
          if (ev.type === 'send') out.push(toHex(ev.bytes))
          if (ev.type === 'apdu') for (const e2 of link.sendApdu(sess.handle(ev.apdu, link.clientAddress!)!)) if (e2.type === 'send') out.push(toHex(e2.bytes))
        }
        if (/RLRQ|DISC/.test(meaning)) continue
        expect(out, meaning).toEqual([s.steps[i + 1]!.hex])
        compared++
      }
      expect(compared).toBeGreaterThanOrEqual(3)
    })
  }
})

describe('faults text form', () => {
  it('parses and prints', () => {
    for (const t of ['drop', 'delay:1500', 'corrupt:once', 'reject-password', 'silent', 'truncate', 'delay:10:once']) expect(formatFault(parseFault(t))).toBe(t)
    expect(parseFault('none')).toBeNull()
    expect(() => parseFault('explode')).toThrow(/invalid fault/)
    expect(() => parseFault('delay:abc')).toThrow(/invalid fault/)
  })
})

describe('meter model', () => {
  it('energy is the integral of power: monotonic, consistent with the profile', () => {
    const m = new MeterModel({
      index: 0,
      now: () => Date.parse('2025-06-01T12:00:00Z'), // fixed clock (injected)
      offsetMinutes: 60,
      seed: 1,
      profileRows: 96,
      profilePeriodMinutes: 15,
      preset: 'default',
    })
    let prev = 0
    for (let t = Date.parse('2025-06-01T00:00:00Z'); t < Date.parse('2025-06-02T00:00:00Z'); t += 600_000) {
      const e = m.energyAt(t)
      expect(e).toBeGreaterThanOrEqual(prev)
      prev = e
    }
    const day = m.energyAt(Date.parse('2025-06-02T00:00:00Z')) - m.energyAt(Date.parse('2025-06-01T00:00:00Z'))
    expect(day).toBeGreaterThan(1200 * 24 - 50)
    expect(day).toBeLessThan(1200 * 24 + 50)
  })
})

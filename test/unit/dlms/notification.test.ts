/**
 * DataNotification (push) codec, byte for byte against test/vectors/dlms/data-notification.json (u9n/dlms-cosem's
 * plain and ciphered meter push, the Aidon HAN "list 1" example with its HDLC FCS intact, two constructed vectors
 * whose ciphering was computed with Python cryptography): three ways (decode, encode, decode(encode(x))), the
 * ciphered ones three ways too (unprotect, protect, unprotect(protect(x))), and every error vector refused with a
 * typed result, never a throw of anything else.
 */
import {describe, expect, it} from 'vitest'
import {toPlain} from '../../../src/core/dlms/codec/axdr.js'
import {unwrap} from '../../../src/core/dlms/codec/bytes.js'
import {dateTimeToIso} from '../../../src/core/dlms/codec/datetime.js'
import {decodeHdlcFrame} from '../../../src/core/dlms/codec/hdlc.js'
import {
  decodeDataNotification,
  decodeLongInvokeId,
  encodeDataNotification,
  encodeLongInvokeId,
  notificationSystemTitle,
  protectNotification,
  unprotectNotification,
  type UnprotectedNotification,
} from '../../../src/core/dlms/codec/apdu/notification.js'
import {FrameCounterGuard, protectApdu} from '../../../src/core/dlms/codec/security.js'
import {isDlmsError, type DlmsError} from '../../../src/core/dlms/errors.js'
import {hex, loadVector, toHex} from './vectors.js'

type Any = any
const V: Any = loadVector('data-notification')

const decodeOk = (h: string) => {
  const r = decodeDataNotification(hex(h))
  if (r.status !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(r)}`)
  return r
}

function refusal(fn: () => unknown): DlmsError {
  try {
    fn()
  } catch (e) {
    if (isDlmsError(e)) return e
    throw e
  }
  throw new Error('expected a refusal')
}

describe('plain DataNotification vectors', () => {
  it('covers every vector of the file', () => {
    expect(V.plain.map((p: Any) => p.name)).toEqual([
      'u9n-octet-string-body',
      'aidon-list1-self-describing',
      'aidon-list1-self-describing-b',
      'constructed-with-date-time',
    ])
  })

  for (const p of V.plain as Any[]) {
    it(`${p.name}: decode`, () => {
      const r = decodeOk(p.hex)
      expect(r.consumed).toBe(p.hex.length / 2)
      const n = r.value
      expect(n.longInvokeId).toBe(p.decoded.long_invoke_id)
      expect(decodeLongInvokeId(n.longInvokeId)).toEqual({
        invokeId: p.decoded.invoke_id,
        selfDescriptive: p.decoded.self_descriptive,
        breakOnError: p.decoded.break_on_error,
        confirmed: p.decoded.confirmed,
        highPriority: p.decoded.high_priority,
      })
      expect(n.dateTime === null ? null : dateTimeToIso(n.dateTime)).toBe(p.decoded.date_time)
      expect(n.body.type).toBe(p.decoded.body_type)
      expect(toPlain(n.body)).toEqual(p.decoded.body_plain)
    })

    it(`${p.name}: encode`, () => {
      const n = decodeOk(p.hex).value
      // encode from the decoded value, and from a value built from the vector's own fields
      expect(toHex(encodeDataNotification(n))).toBe(p.hex)
      expect(toHex(encodeDataNotification({longInvokeId: p.decoded.long_invoke_id, dateTime: n.dateTime, body: n.body}))).toBe(p.hex)
    })

    it(`${p.name}: decode(encode(x)) == x`, () => {
      const n = decodeOk(p.hex).value
      expect(decodeOk(toHex(encodeDataNotification(n))).value).toEqual(n)
    })

    if (p.hdlc_frame)
      it(`${p.name}: the quoted HDLC frame's FCS verifies and carries this APDU after the LLC header`, () => {
        const f = unwrap(decodeHdlcFrame(hex(p.hdlc_frame)), 'HDLC frame')
        expect(toHex(f.info)).toBe(`e6e700${p.hex}`)
      })
  }

  it('long-invoke-id-and-priority: every flag bit', () => {
    const all = {invokeId: 0xabcdef, selfDescriptive: true, breakOnError: true, confirmed: true, highPriority: true}
    expect(encodeLongInvokeId(all)).toBe(0xf0abcdef)
    expect(decodeLongInvokeId(0xf0abcdef)).toEqual(all)
    expect(encodeLongInvokeId({...all, invokeId: 1, selfDescriptive: false, breakOnError: false, highPriority: false})).toBe(0x40000001)
    expect(() => encodeLongInvokeId({...all, invokeId: 0x1000000})).toThrow(/out of range/)
  })
})

describe('ciphered DataNotification vectors (general-glo-ciphering)', () => {
  for (const c of V.ciphered as Any[]) {
    const keys = {ek: hex(c.ek), ak: hex(c.ak)}
    it(`${c.name}: unprotect (tag verified) == the plain APDU`, () => {
      expect(toHex(notificationSystemTitle(hex(c.hex))!)).toBe(c.system_title)
      let asked = ''
      const u = unprotectNotification(hex(c.hex), st => {
        asked = toHex(st)
        return keys
      }) as UnprotectedNotification
      expect(asked).toBe(c.system_title)
      expect(u.sc).toBe(c.sc)
      expect(u.invocationCounter).toBe(c.invocation_counter)
      expect(toHex(encodeDataNotification(u.notification))).toBe(c.plaintext)
    })

    it(`${c.name}: protect == the recorded bytes`, () => {
      const n = decodeOk(c.plaintext).value
      expect(toHex(protectNotification(n, {...keys, sc: c.sc, systemTitle: hex(c.system_title), invocationCounter: c.invocation_counter}))).toBe(c.hex)
    })

    it(`${c.name}: unprotect(protect(x)) == x`, () => {
      const n = decodeOk(c.plaintext).value
      const bytes = protectNotification(n, {...keys, sc: c.sc, systemTitle: hex(c.system_title), invocationCounter: c.invocation_counter + 7})
      const u = unprotectNotification(bytes, () => keys) as UnprotectedNotification
      expect(u.notification).toEqual(n)
      expect(u.invocationCounter).toBe(c.invocation_counter + 7)
    })
  }

  it('an unknown sender is reported with its system title, nothing deciphered', () => {
    const c = V.ciphered[0]
    expect(unprotectNotification(hex(c.hex), () => undefined)).toEqual({unknown: hex(c.system_title)})
  })

  it('a replay guard advances only on verified pushes', () => {
    const c = V.ciphered[0]
    const keys = {ek: hex(c.ek), ak: hex(c.ak)}
    const guard = new FrameCounterGuard()
    const tampered = hex(c.hex)
    tampered[tampered.length - 1]! ^= 1
    expect(refusal(() => unprotectNotification(tampered, () => ({...keys, guard}))).details.securityReason).toBe('tag-mismatch')
    expect(guard.last).toBeUndefined()
    unprotectNotification(hex(c.hex), () => ({...keys, guard}))
    expect(guard.last).toBe(c.invocation_counter)
  })
})

describe('error vectors', () => {
  for (const e of V.errors as Any[]) {
    it(`${e.name}: ${e.expect}`, () => {
      const r = decodeDataNotification(hex(e.hex))
      if (e.expect === 'truncated') expect(r.status).toBe('need-more')
      else expect(r.status).toBe('malformed')
      // a caller holding a whole APDU gets one typed error either way
      const err = refusal(() => unwrap(r, 'DataNotification'))
      expect(err.dlmsCode).toBe('MALFORMED_FRAME')
    })
  }

  for (const e of V.cipher_errors as Any[]) {
    it(`ciphered, ${e.name}: refused (${e.expect})`, () => {
      const c = (V.ciphered as Any[]).find(x => x.name === e.of)
      let bytes = hex(c.hex)
      if (e.flip_byte !== undefined) bytes[e.flip_byte < 0 ? bytes.length + e.flip_byte : e.flip_byte]! ^= 0x01
      if (e.cut) bytes = bytes.subarray(0, bytes.length - e.cut)
      const guard = e.last_accepted !== undefined ? new FrameCounterGuard(e.last_accepted) : undefined
      const err = refusal(() =>
        unprotectNotification(bytes, () => ({
          ek: hex(e.ek ?? c.ek),
          ak: hex(c.ak),
          ...(guard ? {guard} : {}),
          ...(e.require !== undefined ? {require: e.require} : {}),
        })),
      )
      expect(err.dlmsCode).toBe('SECURITY')
      expect(err.details.securityReason).toBe(e.expect)
      // keys never appear in the message
      expect(err.message).not.toMatch(new RegExp(c.ek, 'i'))
    })
  }

  it('a verified general-glo APDU that is not a DataNotification is refused as malformed', () => {
    const c = V.ciphered[1]
    const keys = {ek: hex(c.ek), ak: hex(c.ak)}
    // a GET-Request in general-glo-ciphering from the same sender
    const inner = protectApdu(hex('c001c100080000010000ff0200'), {...keys, sc: 0x30, systemTitle: hex(c.system_title), invocationCounter: 2, general: true})
    const err = refusal(() => unprotectNotification(inner, () => keys))
    expect(err.details.securityReason).toBe('malformed')
  })

  it('a seeded fuzz of mutated vectors never throws, only typed results', () => {
    let seed = 0x5eed
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) >>> 0
      return seed / 2 ** 32
    }
    const corpus = [...(V.plain as Any[]).map(p => hex(p.hex)), ...(V.ciphered as Any[]).map(c => hex(c.hex))]
    const keys = {ek: hex(V.ciphered[0].ek), ak: hex(V.ciphered[0].ak)}
    let n = 0
    for (let i = 0; i < 4000; i++) {
      const base = corpus[i % corpus.length]!
      const b = Uint8Array.from(base.subarray(0, Math.max(1, Math.floor(rnd() * (base.length + 1)))))
      for (let k = 0; k < 1 + Math.floor(rnd() * 3); k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256)
      const r = decodeDataNotification(b)
      expect(['ok', 'need-more', 'malformed']).toContain(r.status)
      try {
        unprotectNotification(b, () => keys)
      } catch (e) {
        expect(isDlmsError(e)).toBe(true)
      }
      n++
    }
    expect(n).toBe(4000)
  })
})

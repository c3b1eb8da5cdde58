/**
 * Security suite 0 (AES-GCM-128) and HLS-GMAC, byte for byte against test/vectors/dlms/codec-security.json
 * (Gurux 1.0.197, cross-checked with two independent AES-GCM implementations): every protected APDU three
 * ways (protect == recorded, unprotect == recorded plaintext, unprotect(protect(x)) == x), every f(StoC) /
 * f(CtoS), and each of the 15 error vectors refused as the file says a conformant receiver must.
 */
import {describe, expect, it} from 'vitest'
import {decodeWrapperFrame} from '../../../src/core/dlms/codec/wrapper.js'
import {
  FrameCounterGuard,
  InvocationCounter,
  hlsGmac,
  parseProtectedApdu,
  protectApdu,
  unprotectApdu,
  verifyHlsGmac,
  GENERAL_GLO_CIPHERING,
} from '../../../src/core/dlms/codec/security.js'
import {isDlmsError, type DlmsError} from '../../../src/core/dlms/errors.js'
import {hex, loadVector, toHex} from './vectors.js'

type Any = any
const V: Any = loadVector('codec-security')

interface Protected {
  path: string
  hex: string
  plaintext: string
  protection: Any
}

function collectProtected(): Protected[] {
  const out: Protected[] = []
  const walk = (o: Any, path: string): void => {
    if (Array.isArray(o)) o.forEach((v, i) => walk(v, `${path}[${i}]`))
    else if (o && typeof o === 'object') {
      if (o.protection && typeof o.protection === 'object' && typeof o.plaintext_apdu === 'string' && typeof o.hex === 'string')
        out.push({path: `${path}${o.name ? ` ${o.name}` : ''}`, hex: o.hex, plaintext: o.plaintext_apdu, protection: o.protection})
      for (const [k, v] of Object.entries(o)) if (k !== 'protection') walk(v, `${path}.${k}`)
    }
  }
  walk({codec: V.codec, acse: V.acse, sessions: V.sessions}, '')
  return out
}

interface HlsValue {
  path: string
  hex: string
  inputs: Any
}

function collectHls(): HlsValue[] {
  const out: HlsValue[] = []
  const walk = (o: Any, path: string): void => {
    if (Array.isArray(o)) o.forEach((v, i) => walk(v, `${path}[${i}]`))
    else if (o && typeof o === 'object') {
      if (typeof o.hex === 'string' && o.inputs?.challenge_hex) out.push({path, hex: o.hex, inputs: o.inputs})
      for (const [k, v] of Object.entries(o)) walk(v, `${path}.${k}`)
    }
  }
  walk({hls: V.hls, sessions: V.sessions}, '')
  return out
}

function failure(fn: () => unknown): DlmsError {
  try {
    fn()
  } catch (e) {
    if (isDlmsError(e)) return e
    throw e
  }
  throw new Error('expected a refusal')
}

const PROTECTED = collectProtected()
const HLS = collectHls()

describe('vectors', () => {
  it('covers every protected body and HLS value of the file', () => {
    // 13 codec + 2 ACSE + 4 sessions × 6 (some repeat the ACSE ones): 33 occurrences, 31 distinct
    expect(PROTECTED.length).toBe(33)
    expect(new Set(PROTECTED.map(p => p.hex)).size).toBe(V.index.independent_check.counts.protected_bodies)
    expect(new Set(HLS.map(h => h.hex)).size).toBe(V.index.independent_check.counts.hls_values)
    expect(V.errors).toHaveLength(15)
  })
})

describe('protected APDUs, three ways', () => {
  for (const p of PROTECTED) {
    const pr = p.protection
    const keys = {ek: hex(pr.block_cipher_key), ak: hex(pr.authentication_key)}
    const st = hex(pr.originator_system_title)
    const ic = pr.invocation_counter_int as number
    const sc = Number.parseInt(pr.security_control, 16)
    const general = p.hex.startsWith('db')
    it(`${p.path}: SC ${pr.security_control} IC ${pr.invocation_counter}`, () => {
      // 1. protect(plaintext) == recorded bytes
      expect(toHex(protectApdu(hex(p.plaintext), {...keys, sc, systemTitle: st, invocationCounter: ic, general}))).toBe(p.hex)
      // 2. unprotect(recorded) == recorded plaintext (tag verified)
      const u = unprotectApdu(hex(p.hex), {...keys, systemTitle: st})
      expect(toHex(u.apdu)).toBe(p.plaintext)
      expect(u).toMatchObject({sc, invocationCounter: ic, general})
      // 3. round trip
      expect(
        toHex(unprotectApdu(protectApdu(hex(p.plaintext), {...keys, sc, systemTitle: st, invocationCounter: ic, general}), {...keys, systemTitle: st}).apdu),
      ).toBe(p.plaintext)
    })
  }

  it('parses the fields as the file names them', () => {
    for (const c of V.codec as Any[]) {
      const f = parseProtectedApdu(hex(c.hex))
      expect(f.tag.toString(16)).toBe(c.fields.tag)
      expect(f.sc.toString(16)).toBe(c.fields.security_control)
      expect(f.invocationCounter).toBe(c.protection.invocation_counter_int)
      if (c.fields.system_title) expect(toHex(f.systemTitle!)).toBe(c.fields.system_title)
      if (c.fields.authentication_tag) expect(toHex(f.body.subarray(f.body.length - 12))).toBe(c.fields.authentication_tag)
    }
  })

  it('maps the plain tags to the glo-* tags of the vectors', () => {
    const seen = new Map<string, string>()
    for (const p of PROTECTED) if (!p.hex.startsWith('db')) seen.set(p.plaintext.slice(0, 2), p.hex.slice(0, 2))
    expect(Object.fromEntries(seen)).toEqual({c0: 'c8', c4: 'cc', '01': '21', '08': '28', c3: 'cb', c7: 'cf'})
    const k = {ek: new Uint8Array(16), ak: new Uint8Array(16), sc: 0x30, systemTitle: new Uint8Array(8), invocationCounter: 1}
    expect(protectApdu(Uint8Array.of(0xc1, 0x01, 0xc1), k)[0]).toBe(0xc9) // glo-set-request
    expect(protectApdu(Uint8Array.of(0xc5, 0x01, 0xc1, 0x00), k)[0]).toBe(0xcd) // glo-set-response
    expect(protectApdu(Uint8Array.of(0xc5), {...k, general: true})[0]).toBe(GENERAL_GLO_CIPHERING)
  })
})

describe('HLS mechanism 5 (GMAC)', () => {
  for (const h of HLS) {
    const i = h.inputs
    it(`${h.path}: f(${i.challenge}) by ${i.system_title}`, () => {
      const p = {ek: hex(i.block_cipher_key), ak: hex(i.authentication_key), systemTitle: hex(i.system_title), challenge: hex(i.challenge_hex)}
      expect(toHex(hlsGmac({...p, invocationCounter: i.invocation_counter_int}))).toBe(h.hex)
      expect(verifyHlsGmac(hex(h.hex), p)).toBe(i.invocation_counter_int)
    })
  }

  it('matches the Green Book Table 43 values', () => {
    for (const h of V.hls as Any[]) if (h.green_book_published) expect(h.f.fields.gmac_tag).toBe(h.green_book_published.authentication_tag.toLowerCase())
  })

  it('the reply_to_HLS_authentication APDUs carry f unchanged', () => {
    for (const h of V.hls as Any[]) {
      const apdu: string = h.action_request_apdu ?? h.action_response_apdu ?? h.plain_action_apdu
      expect(apdu.endsWith(`11${h.f.hex}`)).toBe(true)
    }
  })
})

describe('error vectors: a conformant receiver refuses', () => {
  const gg = V.codec.find((c: Any) => c.name === 'glo-get-response-sc30')
  for (const e of V.errors as Any[]) {
    it(`${e.name}: ${e.expected_conformant_result}`, () => {
      if (e.name === 'client-receives-truncated-wrapper-frame') {
        // the wrapper says one more octet follows: the stream decoder waits for it, it is not a frame yet
        const r = decodeWrapperFrame(hex(e.hex))
        expect(r.status).toBe('need-more')
        return
      }
      if (e.name === 'client-receives-sc30-response-tag-bit-flipped') {
        const r = decodeWrapperFrame(hex(e.hex))
        expect(r.status).toBe('ok')
        const apdu = r.status === 'ok' ? r.value.apdu : new Uint8Array(0)
        const err = failure(() =>
          unprotectApdu(apdu, {
            ek: hex(gg.protection.block_cipher_key),
            ak: hex(gg.protection.authentication_key),
            systemTitle: hex(gg.protection.originator_system_title),
          }),
        )
        expect(err.dlmsCode).toBe('SECURITY')
        expect(err.details.securityReason).toBe('tag-mismatch')
        expect(e.gurux_result.raised).toBe(false) // Gurux accepted it
        return
      }
      if (e.name === 'hls5-f-ctos-bit-flipped') {
        const src = V.hls.find((h: Any) => h.name === 'hls5-f-ctos-server')
        const apdu = hex(e.hex).subarray(8) // after the wrapper header
        const f = apdu.subarray(apdu.length - 17)
        const i = src.f.inputs
        const err = failure(() =>
          verifyHlsGmac(f, {ek: hex(i.block_cipher_key), ak: hex(i.authentication_key), systemTitle: hex(i.system_title), challenge: hex(i.challenge_hex)}),
        )
        expect(err.details.securityReason).toBe('tag-mismatch')
        return
      }
      if (e.name === 'hls5-f-stoc-wrong-authentication-key') {
        // the server checks the client's f(StoC) with the right key: it does not verify
        const i = V.hls.find((h: Any) => h.name === 'hls5-f-stoc-client').f.inputs
        const err = failure(() =>
          verifyHlsGmac(hex(e.hex), {
            ek: hex(i.block_cipher_key),
            ak: hex(i.authentication_key),
            systemTitle: hex(i.system_title),
            challenge: hex(i.challenge_hex),
          }),
        )
        expect(err.details.securityReason).toBe('tag-mismatch')
        expect(e.gurux_result.server_expected_f_stoc).not.toBe(e.hex)
        return
      }
      const ri = e.receiver_inputs
      const err = failure(() =>
        unprotectApdu(hex(e.hex), {ek: hex(ri.block_cipher_key), ak: hex(ri.authentication_key), systemTitle: hex(ri.originator_system_title)}),
      )
      expect(err.dlmsCode).toBe('SECURITY')
      expect(err.details.securityReason).toBe(e.name.includes('truncated') ? 'truncated' : 'tag-mismatch')
      // the message names what failed and never carries a key
      expect(err.message).not.toMatch(new RegExp(`${ri.block_cipher_key}|${ri.authentication_key}`, 'i'))
    })
  }

  it('names every error vector of the file (none skipped)', () => {
    expect((V.errors as Any[]).map(e => e.name).sort()).toEqual(
      [
        'client-receives-sc30-response-tag-bit-flipped',
        'client-receives-truncated-wrapper-frame',
        'hls5-f-ctos-bit-flipped',
        'hls5-f-stoc-wrong-authentication-key',
        'sc10-apdu-bit-flipped',
        'sc10-tag-bit-flipped',
        'sc10-truncated-last-octet',
        'sc10-wrong-authentication-key',
        'sc30-ciphertext-bit-flipped',
        'sc30-tag-bit-flipped',
        'sc30-truncated-in-header',
        'sc30-truncated-last-octet',
        'sc30-wrong-authentication-key',
        'sc30-wrong-block-cipher-key',
        'sc30-wrong-system-title',
      ].sort(),
    )
  })
})

describe('frame counters and policy', () => {
  const c = V.codec.find((x: Any) => x.name === 'glo-get-request-sc30')
  const keys = {ek: hex(c.protection.block_cipher_key), ak: hex(c.protection.authentication_key)}
  const st = hex(c.protection.originator_system_title)
  const plain = hex(c.plaintext_apdu)
  const make = (ic: number): Uint8Array => protectApdu(plain, {...keys, sc: 0x30, systemTitle: st, invocationCounter: ic})

  it('refuses a replayed and a decreasing invocation counter, accepts increasing ones', () => {
    const guard = new FrameCounterGuard()
    expect(unprotectApdu(make(5), {...keys, systemTitle: st, guard}).invocationCounter).toBe(5)
    expect(guard.last).toBe(5)
    expect(failure(() => unprotectApdu(make(5), {...keys, systemTitle: st, guard})).details.securityReason).toBe('replay')
    expect(failure(() => unprotectApdu(make(4), {...keys, systemTitle: st, guard})).details.securityReason).toBe('replay')
    expect(unprotectApdu(make(9), {...keys, systemTitle: st, guard}).invocationCounter).toBe(9)
  })

  it('a forged frame does not move the counter', () => {
    const guard = new FrameCounterGuard(3)
    const bad = make(100)
    bad[bad.length - 1]! ^= 1
    expect(failure(() => unprotectApdu(bad, {...keys, systemTitle: st, guard})).details.securityReason).toBe('tag-mismatch')
    expect(guard.last).toBe(3)
    expect(unprotectApdu(make(4), {...keys, systemTitle: st, guard}).invocationCounter).toBe(4)
  })

  it('the send counter never repeats and stops at 2^32-1', () => {
    const ic = new InvocationCounter(0xfffffffe)
    expect(ic.take()).toBe(0xfffffffe)
    expect(ic.take()).toBe(0xffffffff)
    expect(failure(() => ic.take()).details.securityReason).toBe('counter-exhausted')
  })

  it('refuses weaker protection than required, other suites, broadcast key, compression', () => {
    const sc10 = V.codec.find((x: Any) => x.name === 'glo-get-request-sc10')
    expect(failure(() => unprotectApdu(hex(sc10.hex), {...keys, systemTitle: st, require: 0x30})).details.securityReason).toBe('policy')
    for (const sc of [0x31, 0x70, 0xb0, 0x00]) {
      const b = hex(c.hex)
      b[2] = sc
      expect(failure(() => unprotectApdu(b, {...keys, systemTitle: st})).details.securityReason).toBe('unsupported')
    }
  })

  it('refuses a general-glo-ciphering APDU from another system title', () => {
    const g = V.codec.find((x: Any) => x.name === 'general-glo-ciphering-get-request-sc30')
    const err = failure(() => unprotectApdu(hex(g.hex), {...keys, systemTitle: hex('4d4d4d0000bc614e')}))
    expect(err.details.securityReason).toBe('system-title')
  })

  it('refuses bytes after the protected content and keys of the wrong size', () => {
    expect(failure(() => unprotectApdu(hex(`${c.hex}00`), {...keys, systemTitle: st})).details.securityReason).toBe('malformed')
    expect(failure(() => unprotectApdu(hex(c.hex), {...keys, ek: new Uint8Array(15), systemTitle: st})).details.securityReason).toBe('key')
    expect(failure(() => unprotectApdu(hex(c.hex), {...keys, systemTitle: new Uint8Array(7)})).details.securityReason).toBe('key')
  })
})

describe('mutated protected APDUs (seeded)', () => {
  it('every single-octet change, truncation or extension of a recorded APDU is refused with a SECURITY error, never anything else', () => {
    let seed = 0x5eed
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) >>> 0
      return seed
    }
    let refused = 0
    for (const p of PROTECTED.filter(x => x.protection.security_control !== '20')) {
      const pr = p.protection
      const o = {ek: hex(pr.block_cipher_key), ak: hex(pr.authentication_key), systemTitle: hex(pr.originator_system_title)}
      const good = hex(p.hex)
      for (let i = 0; i < 60; i++) {
        const b = good.slice()
        const kind = rnd() % 3
        let mutated: Uint8Array
        if (kind === 0) {
          const at = 1 + (rnd() % (b.length - 1)) // keep the tag octet: another tag is another error class
          b[at]! ^= 1 + (rnd() % 255)
          mutated = b
        } else if (kind === 1) mutated = b.subarray(0, rnd() % b.length)
        else mutated = Uint8Array.from([...b, rnd() & 0xff])
        const e = failure(() => unprotectApdu(mutated, o))
        expect(e.dlmsCode).toBe('SECURITY')
        refused++
      }
    }
    expect(refused).toBeGreaterThan(1500)
  })
})

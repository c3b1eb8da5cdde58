/**
 * xDLMS / ACSE APDUs: every APDU of every recorded session decoded (values checked against Gurux's
 * decode), re-encoded byte-exact (except Gurux's RLRE, whose lengths are inconsistent — decoded
 * leniently), requests generated from their meaning byte-exact, plus error vectors.
 */
import {describe, expect, it} from 'vitest'
import {D} from '../../../src/core/dlms/codec/axdr.js'
import {
  buildAarq,
  conformanceNames,
  decodeApdu,
  decodeAare,
  decodeGetResponse,
  encodeAare,
  encodeAarq,
  encodeApdu,
  encodeGetRequest,
  encodeGetResponse,
  encodeRlrq,
  encodeExceptionResponse,
  encodeSetRequest,
  decodeSetRequest,
  diagnosticName,
  associationResultName,
  type Apdu,
} from '../../../src/core/dlms/codec/apdu/index.js'
import {HdlcServerLink} from '../../../src/core/dlms/link/hdlc.js'
import {parseObis} from '../../../src/core/dlms/codec/obis.js'
import {hex, sessionVectors, toHex} from './vectors.js'

const sessions = sessionVectors()

/** APDUs of a session in order (wrapper: frame body; HDLC: reassembled via the server link for c2s). */
function apdusOf(name: string): Array<{dir: 'c2s' | 's2c'; apdu: Uint8Array; meaning: string}> {
  const s = sessions.find(x => x.name === name)!
  return s.steps.filter(x => x.dir === 'c2s' || x.dir === 's2c').map(x => ({dir: x.dir, apdu: hex(x.hex).subarray(8), meaning: x.meaning}))
}

const decoded = (bytes: Uint8Array): Apdu => {
  const res = decodeApdu(bytes)
  if (res.status !== 'ok') throw new Error(`${res.status}: ${toHex(bytes)} ${'reason' in res ? res.reason : ''}`)
  return res.value
}

describe('every APDU of every wrapper session', () => {
  for (const s of sessions.filter(x => x.framing === 'wrapper')) {
    it(s.name, () => {
      for (const {apdu, meaning} of apdusOf(s.name)) {
        const a = decoded(apdu)
        if (a.kind === 'rlre') {
          expect(a.apdu.reason).toBe(0)
          expect(a.apdu.lengthQuirk).toBe(true) // Gurux's RLRE lengths do not add up
          expect(a.apdu.initiateResponse?.maxReceivePduSize).toBe(512)
          continue
        }
        if (a.kind === 'unsupported') throw new Error(`unsupported in ${meaning}`)
        expect(toHex(encodeApdu(a)), meaning).toBe(toHex(apdu))
      }
    })
  }

  it('the APDUs inside HDLC sessions equal the wrapper ones (same Gurux client/server)', () => {
    const s = sessions.find(x => x.name === 'hdlc-get-registers')!
    const link = new HdlcServerLink({logical: 1})
    const got: string[] = []
    for (const step of s.steps.filter(x => x.dir === 'c2s')) for (const ev of link.receive(hex(step.hex))) if (ev.type === 'apdu') got.push(toHex(ev.apdu))
    const want = apdusOf('wrapper-get-registers')
      .filter(x => x.dir === 'c2s')
      .map(x => toHex(x.apdu))
    expect(got).toEqual(want)
  })
})

describe('requests generated from their meaning, byte-exact', () => {
  const c2s = (name: string) => apdusOf(name).filter(x => x.dir === 'c2s')

  it('AARQ, no authentication', () => expect(toHex(encodeAarq(buildAarq({})))).toBe(toHex(c2s('wrapper-assoc-none')[0]!.apdu)))
  it('AARQ, LLS password 12345678', () =>
    expect(toHex(encodeAarq(buildAarq({mechanism: 'low', password: new Uint8Array(Buffer.from('12345678'))})))).toBe(toHex(c2s('wrapper-assoc-lls')[0]!.apdu)))
  it('AARQ, LLS wrong password', () =>
    expect(toHex(encodeAarq(buildAarq({mechanism: 'low', password: new Uint8Array(Buffer.from('wrongpw0'))})))).toBe(
      toHex(c2s('wrapper-assoc-lls-bad-password')[0]!.apdu),
    ))
  it('RLRQ', () => expect(toHex(encodeRlrq({reason: 0}))).toBe(toHex(c2s('wrapper-assoc-none')[1]!.apdu)))

  it('GET-Request-Normal for every GET of the sessions (invoke-id-and-priority 0xC1)', () => {
    const cases: Array<[string, number, string, number, number]> = [
      ['wrapper-get-clock', 1, '0.0.1.0.0.255', 8, 2],
      ['wrapper-get-undefined-object', 1, '0.0.96.99.99.255', 1, 2],
      ['wrapper-get-registers', 1, '1.0.1.8.0.255', 3, 3],
      ['wrapper-get-registers', 2, '1.0.1.8.0.255', 3, 2],
      ['wrapper-get-registers', 5, '1.0.31.7.0.255', 3, 3],
      ['wrapper-get-profile-buffer', 1, '1.0.99.1.0.255', 7, 3],
      ['wrapper-get-profile-buffer', 2, '1.0.99.1.0.255', 7, 2],
    ]
    for (const [name, i, obis, classId, attribute] of cases)
      expect(toHex(encodeGetRequest({type: 'normal', invokeId: 0xc1, descriptor: {classId, obis: parseObis(obis), attribute}}))).toBe(toHex(c2s(name)[i]!.apdu))
  })

  it('GET-Request-Next for blocks 1..4 of the profile', () => {
    const next = c2s('wrapper-get-profile-buffer').slice(3, 7)
    next.forEach((x, k) => expect(toHex(encodeGetRequest({type: 'next', invokeId: 0xc1, blockNumber: k + 1}))).toBe(toHex(x.apdu)))
  })
})

describe('AARE decoding', () => {
  it('accepted: negotiated PDU 512 and conformance 401e5d (Gurux names)', () => {
    const s = sessions.find(x => x.name === 'wrapper-assoc-none')!
    const res = decodeAare(hex(s.steps[1]!.hex).subarray(8))
    expect(res.status).toBe('ok')
    if (res.status !== 'ok') return
    expect(associationResultName(res.value.result)).toBe(s.decoded.aare.result)
    expect(res.value.initiateResponse?.maxReceivePduSize).toBe(512)
    expect(conformanceNames(res.value.initiateResponse!.conformance)).toEqual(s.decoded.aare.negotiated_conformance)
  })

  it('rejected: result 1 rejected-permanent, diagnostic 13 authentication-failure', () => {
    const s = sessions.find(x => x.name === 'wrapper-assoc-lls-bad-password')!
    const res = decodeAare(hex(s.steps[1]!.hex).subarray(8))
    expect(res.status === 'ok' && res.value.result).toBe(1)
    if (res.status !== 'ok') return
    expect(associationResultName(res.value.result)).toBe(s.decoded.aare.result_name)
    expect(res.value.diagnostic).toEqual({source: 'user', value: 13})
    expect(diagnosticName(res.value.diagnostic)).toBe(s.decoded.aare.diagnostic_name)
  })

  it('a real-meter form: mechanism name echoed, responder requirements, provider diagnostic, Confirmed-ServiceError', () => {
    const aare = {
      applicationContext: [2, 16, 756, 5, 8, 1, 1],
      result: 1,
      diagnostic: {source: 'provider' as const, value: 2},
      mechanism: [2, 16, 756, 5, 8, 2, 1],
      initiateError: {service: 1, errorClass: 6, value: 3, name: 'pdu-size-too-short'},
    }
    const res = decodeAare(encodeAare(aare))
    expect(res.status === 'ok' && res.value).toEqual(aare)
    expect(diagnosticName(aare.diagnostic)).toBe('no-common-acse-version')
  })
})

describe('GET responses', () => {
  it('with-datablock blocks of the profile: numbers 1..5, last only on 5, 500 bytes each but the last', () => {
    const blocks = apdusOf('wrapper-get-profile-buffer')
      .filter(x => x.dir === 's2c')
      .map(x => decodeGetResponse(x.apdu))
      .filter(r => r.status === 'ok' && r.value.type === 'with-datablock')
      .map(r => (r.status === 'ok' && r.value.type === 'with-datablock' ? r.value : undefined)!)
    expect(blocks.map(b => b.blockNumber)).toEqual([1, 2, 3, 4, 5])
    expect(blocks.map(b => b.lastBlock)).toEqual([false, false, false, false, true])
    expect(blocks.map(b => (b.result.ok ? b.result.raw.length : -1))).toEqual([500, 500, 500, 500, 18])
  })

  it('with-list round-trip, data-access-result in a block', () => {
    const list = {
      type: 'with-list' as const,
      invokeId: 0xc1,
      results: [
        {ok: true as const, data: D.uint16(5)},
        {ok: false as const, error: 4},
      ],
    }
    expect(decodeGetResponse(encodeGetResponse(list))).toMatchObject({status: 'ok', value: list})
    const block = {type: 'with-datablock' as const, invokeId: 0xc1, lastBlock: true, blockNumber: 3, result: {ok: false as const, error: 19}}
    expect(decodeGetResponse(encodeGetResponse(block))).toMatchObject({status: 'ok', value: block})
  })

  it('GET-Request-With-List and selective access round-trip', () => {
    const req = {
      type: 'with-list' as const,
      invokeId: 0xc1,
      items: [
        {descriptor: {classId: 3, obis: parseObis('1.0.1.8.0.255'), attribute: 2}},
        {
          descriptor: {classId: 7, obis: parseObis('1.0.99.1.0.255'), attribute: 2},
          access: {selector: 2, parameters: D.struct(D.uint32(1), D.uint32(0), D.uint16(1), D.uint16(0))},
        },
      ],
    }
    const back = decodeApdu(encodeGetRequest(req))
    expect(back.status === 'ok' && back.value).toEqual({kind: 'get-request', apdu: req})
  })

  it('SET-Request-Normal round-trip', () => {
    const req = {
      type: 'normal' as const,
      invokeId: 0xc1,
      descriptor: {classId: 8, obis: parseObis('0.0.1.0.0.255'), attribute: 2},
      value: D.octets(new Uint8Array(12)),
    }
    expect(decodeSetRequest(encodeSetRequest(req))).toMatchObject({status: 'ok', value: req})
  })
})

describe('APDU error vectors', () => {
  const cases: Array<[string, string, 'need-more' | 'malformed', RegExp?]> = [
    ['empty', '', 'malformed', /empty/],
    ['unknown tag', '42', 'malformed', /unknown APDU tag 0x42/],
    ['truncated GET response', 'c401c1000600bc61', 'need-more'],
    ['trailing byte after GET response', 'c401c1000600bc614e00', 'malformed', /after/],
    ['bad Get-Response choice', 'c409c100', 'malformed', /choice/],
    ['bad Get-Data-Result choice', 'c401c10200', 'malformed', /Get-Data-Result/],
    ['lying AARE length', '61ff', 'malformed'],
    ['AARE without result', '610ba109060760857405080101', 'malformed', /without result/],
    ['AARQ with a bad application context tag', '6003a20100', 'malformed', /application-context/],
    ['lying with-list count', 'c403c184ffffffff', 'need-more'],
    ['lying octet-string in a datablock', 'c402c1000000000100840fffffff', 'need-more'],
    ['bad OPTIONAL marker', 'c001c100080000010000ff0205', 'malformed', /OPTIONAL/],
  ]
  for (const [name, h, status, re] of cases)
    it(name, () => {
      const res = decodeApdu(hex(h))
      expect(res.status).toBe(status)
      if (re && res.status === 'malformed') expect(res.reason).toMatch(re)
    })

  it('ciphered and unimplemented APDUs are recognised as unsupported, not malformed', () => {
    expect(decodeApdu(hex('cc0102'))).toMatchObject({status: 'ok', value: {kind: 'unsupported', tag: 0xcc, ciphered: true}})
    expect(decodeApdu(hex('0f00000001000000'))).toMatchObject({status: 'ok', value: {kind: 'unsupported', tag: 0x0f, ciphered: false}})
    // ACTION normal is decoded now (HLS pass 3/4)
    expect(decodeApdu(hex('c701c10000'))).toMatchObject({status: 'ok', value: {kind: 'action-response', apdu: {invokeId: 0xc1, result: 0}}})
    expect(decodeApdu(encodeExceptionResponse({stateError: 2, serviceError: 2}))).toMatchObject({status: 'ok', value: {kind: 'exception-response'}})
  })
})

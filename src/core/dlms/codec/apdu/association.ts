/**
 * ACSE APDUs of the COSEM application layer (Green Book 9.4 / IEC 62056-5-3 "ACSE services", BER-encoded
 * as in ISO/IEC 8650): AARQ (0x60), AARE (0x61), RLRQ (0x62), RLRE (0x63), and the xDLMS
 * InitiateRequest / InitiateResponse they carry in user-information (A-XDR inside a BER OCTET STRING).
 *
 * Only the parts a LN client without ciphering needs are built; every other element is skipped on decode,
 * so a meter's extra fields (AP titles, responder ACSE requirements…) do not break us.
 */
import {encodeError} from '../../errors.js'
import {Reader, run, Writer, type DecodeResult} from '../bytes.js'

// ---------- object identifiers ----------

/** application-context-name values (Green Book 9.4.2.2.2): joint-iso-ccitt(2) country(16) country-name(756) identified-organization(5) DLMS-UA(8) application-context(1) x. */
export const APPLICATION_CONTEXTS = {
  ln: [2, 16, 756, 5, 8, 1, 1],
  sn: [2, 16, 756, 5, 8, 1, 2],
  'ln-ciphered': [2, 16, 756, 5, 8, 1, 3],
  'sn-ciphered': [2, 16, 756, 5, 8, 1, 4],
} as const
export type ApplicationContext = keyof typeof APPLICATION_CONTEXTS

/** mechanism-name values (Green Book 9.4.2.2.3): … DLMS-UA(8) authentication-mechanism-name(2) x. */
export const MECHANISMS = {
  none: [2, 16, 756, 5, 8, 2, 0],
  low: [2, 16, 756, 5, 8, 2, 1],
  high: [2, 16, 756, 5, 8, 2, 2],
  'high-md5': [2, 16, 756, 5, 8, 2, 3],
  'high-sha1': [2, 16, 756, 5, 8, 2, 4],
  'high-gmac': [2, 16, 756, 5, 8, 2, 5],
  'high-sha256': [2, 16, 756, 5, 8, 2, 6],
  'high-ecdsa': [2, 16, 756, 5, 8, 2, 7],
} as const
export type Mechanism = keyof typeof MECHANISMS

function encodeOid(oid: readonly number[]): Uint8Array {
  const out: number[] = [oid[0]! * 40 + oid[1]!]
  for (const arc of oid.slice(2)) {
    const groups: number[] = [arc & 0x7f]
    let v = Math.floor(arc / 128)
    while (v > 0) {
      groups.unshift((v & 0x7f) | 0x80)
      v = Math.floor(v / 128)
    }
    out.push(...groups)
  }
  return Uint8Array.from(out)
}

function decodeOid(b: Uint8Array, r: Reader, at: number): number[] {
  if (b.length === 0) r.fail('empty object identifier', at)
  const first = b[0]!
  const oid = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80]
  let v = 0
  for (let i = 1; i < b.length; i++) {
    v = v * 128 + (b[i]! & 0x7f)
    if (v > Number.MAX_SAFE_INTEGER / 256) r.fail('object identifier arc too large', at)
    if ((b[i]! & 0x80) === 0) {
      oid.push(v)
      v = 0
    } else if (i === b.length - 1) r.fail('object identifier ends inside an arc', at)
  }
  return oid
}

const oidEq = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i])

export function contextName(oid: readonly number[]): ApplicationContext | undefined {
  return (Object.keys(APPLICATION_CONTEXTS) as ApplicationContext[]).find(k => oidEq(APPLICATION_CONTEXTS[k], oid))
}

export function mechanismName(oid: readonly number[]): Mechanism | undefined {
  return (Object.keys(MECHANISMS) as Mechanism[]).find(k => oidEq(MECHANISMS[k], oid))
}

// ---------- conformance block ----------

/** Conformance block bits (Green Book 9.5, xDLMS "Conformance ::= [APPLICATION 31] IMPLICIT BIT STRING"); index = bit number, bit 0 = MSB of the first byte. */
export const CONFORMANCE_BITS = [
  'reserved-zero',
  'general-protection',
  'general-block-transfer',
  'read',
  'write',
  'unconfirmed-write',
  'delta-value-encoding',
  'reserved-seven',
  'attribute0-supported-with-set',
  'priority-mgmt-supported',
  'attribute0-supported-with-get',
  'block-transfer-with-get-or-read',
  'block-transfer-with-set-or-write',
  'block-transfer-with-action',
  'multiple-references',
  'information-report',
  'data-notification',
  'access',
  'parameterized-access',
  'get',
  'set',
  'selective-access',
  'event-notification',
  'action',
] as const
export type ConformanceName = (typeof CONFORMANCE_BITS)[number]

export function conformanceNames(block: number): ConformanceName[] {
  return CONFORMANCE_BITS.filter((_, i) => (block & (1 << (23 - i))) !== 0)
}

export function conformanceFromNames(names: readonly string[]): number {
  let v = 0
  for (const n of names) {
    const i = CONFORMANCE_BITS.indexOf(n as ConformanceName)
    if (i < 0) throw encodeError(`unknown conformance bit "${n}"`)
    v |= 1 << (23 - i)
  }
  return v >>> 0
}

export function hasConformance(block: number, name: ConformanceName): boolean {
  return (block & (1 << (23 - CONFORMANCE_BITS.indexOf(name)))) !== 0
}

/** What Gurux's client proposes (and so the vectors carry): 0x401E5D. */
export const DEFAULT_CLIENT_CONFORMANCE = 0x401e5d

// ---------- xDLMS InitiateRequest / InitiateResponse (A-XDR) ----------

export interface InitiateRequest {
  dedicatedKey?: Uint8Array
  /** DEFAULT TRUE; false is sent explicitly. */
  responseAllowed?: boolean
  proposedQualityOfService?: number
  dlmsVersion: number
  conformance: number
  maxReceivePduSize: number
}

export interface InitiateResponse {
  negotiatedQualityOfService?: number
  dlmsVersion: number
  conformance: number
  maxReceivePduSize: number
  /** 0x0007 for LN referencing, 0xFA00 for SN. */
  vaaName: number
}

const INITIATE_REQUEST_TAG = 0x01
const INITIATE_RESPONSE_TAG = 0x08
const CONFIRMED_SERVICE_ERROR_TAG = 0x0e

/** [APPLICATION 31] IMPLICIT BIT STRING (SIZE(24)): tag 5F 1F, length 4, unused bits 0, three bytes. */
function writeConformance(w: Writer, c: number): void {
  w.u8(0x5f)
    .u8(0x1f)
    .u8(0x04)
    .u8(0x00)
    .u8((c >> 16) & 0xff)
    .u8((c >> 8) & 0xff)
    .u8(c & 0xff)
}

function readConformance(r: Reader): number {
  const at = r.pos
  if (r.u8() !== 0x5f || r.u8() !== 0x1f) r.fail('conformance block tag is not 5F 1F', at)
  const len = r.u8()
  if (len !== 4) r.fail(`conformance block length ${len} (expected 4)`, at + 2)
  r.u8() // unused bits
  return (r.u8() << 16) | (r.u8() << 8) | r.u8()
}

export function encodeInitiateRequest(p: InitiateRequest): Uint8Array {
  const w = new Writer(20).u8(INITIATE_REQUEST_TAG)
  if (p.dedicatedKey) w.u8(1).berLength(p.dedicatedKey.length).bytes(p.dedicatedKey)
  else w.u8(0)
  if (p.responseAllowed === false) w.u8(1).u8(0)
  else w.u8(0) // DEFAULT TRUE → not encoded
  if (p.proposedQualityOfService !== undefined) w.u8(1).u8(p.proposedQualityOfService)
  else w.u8(0)
  w.u8(p.dlmsVersion)
  writeConformance(w, p.conformance)
  if (!Number.isInteger(p.maxReceivePduSize) || p.maxReceivePduSize < 0 || p.maxReceivePduSize > 0xffff)
    throw encodeError(`max PDU size ${p.maxReceivePduSize} is out of range`)
  w.u16(p.maxReceivePduSize)
  return w.finish()
}

function readOptionalFlag(r: Reader): boolean {
  const at = r.pos
  const b = r.u8()
  if (b > 1) r.fail(`OPTIONAL marker ${b} (expected 0 or 1)`, at)
  return b === 1
}

export function readInitiateRequest(r: Reader): InitiateRequest {
  const at = r.pos
  if (r.u8() !== INITIATE_REQUEST_TAG) r.fail('user-information is not an xDLMS InitiateRequest', at)
  const p: Partial<InitiateRequest> = {}
  if (readOptionalFlag(r)) p.dedicatedKey = r.bytes(r.berLength()).slice()
  if (readOptionalFlag(r)) p.responseAllowed = r.u8() !== 0
  if (readOptionalFlag(r)) p.proposedQualityOfService = r.u8()
  p.dlmsVersion = r.u8()
  p.conformance = readConformance(r)
  p.maxReceivePduSize = r.u16()
  return p as InitiateRequest
}

export function encodeInitiateResponse(p: InitiateResponse): Uint8Array {
  const w = new Writer(16).u8(INITIATE_RESPONSE_TAG)
  if (p.negotiatedQualityOfService !== undefined) w.u8(1).u8(p.negotiatedQualityOfService)
  else w.u8(0)
  w.u8(p.dlmsVersion)
  writeConformance(w, p.conformance)
  w.u16(p.maxReceivePduSize).u16(p.vaaName)
  return w.finish()
}

export function readInitiateResponse(r: Reader): InitiateResponse {
  const at = r.pos
  if (r.u8() !== INITIATE_RESPONSE_TAG) r.fail('user-information is not an xDLMS InitiateResponse', at)
  const qos = readOptionalFlag(r) ? r.u8() : undefined
  const dlmsVersion = r.u8()
  const conformance = readConformance(r)
  const maxReceivePduSize = r.u16()
  const vaaName = r.u16()
  return {...(qos === undefined ? {} : {negotiatedQualityOfService: qos}), dlmsVersion, conformance, maxReceivePduSize, vaaName}
}

/** Confirmed-ServiceError carried instead of an InitiateResponse (Green Book 9.5): initiateError [1] → ServiceError initiate [6] enum. */
export const INITIATE_ERRORS: Record<number, string> = {
  0: 'other',
  1: 'dlms-version-too-low',
  2: 'incompatible-conformance',
  3: 'pdu-size-too-short',
  4: 'refused-by-the-VDE-Handler',
}

// ---------- BER TLV helpers for the ACSE part ----------

function writeTlv(w: Writer, tag: number, value: Uint8Array): void {
  w.u8(tag).berLength(value.length).bytes(value)
}

interface Tlv {
  tag: number
  at: number
  value: Uint8Array
}

/**
 * Reads the TLVs inside a constructed element. With `lenient`, an element that runs past the declared end
 * of its container but fits in the input is accepted (Gurux's RLRE declares a shorter length than it sends).
 */
function readTlvs(r: Reader, end: number, lenient: boolean): Tlv[] {
  const out: Tlv[] = []
  while (r.pos < end) {
    const at = r.pos
    const tag = r.u8()
    if ((tag & 0x1f) === 0x1f) r.fail(`multi-byte BER tag 0x${tag.toString(16)} is not used in ACSE APDUs`, at)
    const len = r.berLength()
    if (r.pos + len > end && !lenient) {
      if (r.pos + len > r.end) r.need(len)
      r.fail(`element 0x${tag.toString(16)} of ${len} bytes overruns its container`, at)
    }
    out.push({tag, at, value: r.bytes(len)})
  }
  return out
}

/** Reads `tag len value`, as the outer element of an ACSE APDU. */
function readOuter(r: Reader, tag: number, name: string): number {
  const at = r.pos
  const t = r.u8()
  if (t !== tag) r.fail(`expected ${name} tag 0x${tag.toString(16)}, got 0x${t.toString(16)}`, at)
  const len = r.berLength()
  return r.pos + len
}

function inner(buf: Uint8Array, tlv: Tlv, headerLen: number): Reader {
  // a sub-reader over the TLV value whose offsets stay meaningful in the whole APDU
  const start = tlv.value.byteOffset - buf.byteOffset
  void headerLen
  return new Reader(buf, start, start + tlv.value.length)
}

/** INTEGER inside a context tag: 02 01 xx. */
function readTaggedInteger(buf: Uint8Array, tlv: Tlv): number {
  const r = inner(buf, tlv, 0)
  const at = r.pos
  if (r.u8() !== 0x02) r.fail('expected INTEGER', at)
  const len = r.u8()
  if (len < 1 || len > 4) r.fail(`INTEGER of ${len} bytes`, at + 1)
  let v = 0
  for (let i = 0; i < len; i++) v = v * 256 + r.u8()
  return v
}

function readOidElement(buf: Uint8Array, tlv: Tlv): number[] {
  const r = inner(buf, tlv, 0)
  const at = r.pos
  if (r.u8() !== 0x06) r.fail('expected OBJECT IDENTIFIER', at)
  const len = r.berLength()
  return decodeOid(r.bytes(len), r, at)
}

function oidElement(oid: readonly number[]): Uint8Array {
  const enc = encodeOid(oid)
  return new Writer(enc.length + 2).u8(0x06).berLength(enc.length).bytes(enc).finish()
}

/** user-information: [30] → OCTET STRING (04 len) → xDLMS APDU. */
function userInformation(xdlms: Uint8Array): Uint8Array {
  return new Writer(xdlms.length + 4).u8(0x04).berLength(xdlms.length).bytes(xdlms).finish()
}

function readUserInformation(buf: Uint8Array, tlv: Tlv): Reader {
  const r = inner(buf, tlv, 0)
  const at = r.pos
  if (r.u8() !== 0x04) r.fail('user-information is not an OCTET STRING', at)
  const len = r.berLength()
  r.need(len)
  return new Reader(buf, r.pos, r.pos + len)
}

// ---------- AARQ ----------

export interface Aarq {
  applicationContext: readonly number[]
  /** sender-acse-requirements authentication bit + mechanism name; absent = no authentication. */
  mechanism?: readonly number[]
  /** calling-authentication-value: the LLS password (charstring [0]). */
  authenticationValue?: Uint8Array
  callingApTitle?: Uint8Array
  /** The xDLMS InitiateRequest (absent when it is ciphered or not understood). */
  initiateRequest?: InitiateRequest
  /** Raw user-information contents, kept when they are not a plain InitiateRequest. */
  userInformation?: Uint8Array
}

export function encodeAarq(a: Aarq): Uint8Array {
  const body = new Writer(64)
  writeTlv(body, 0xa1, oidElement(a.applicationContext)) // application-context-name [1]
  if (a.callingApTitle) writeTlv(body, 0xa6, new Writer().u8(0x04).berLength(a.callingApTitle.length).bytes(a.callingApTitle).finish())
  if (a.mechanism) {
    writeTlv(body, 0x8a, Uint8Array.of(0x07, 0x80)) // sender-acse-requirements [10]: BIT STRING, 7 unused bits, authentication = 1
    writeTlv(body, 0x8b, encodeOid(a.mechanism)) // mechanism-name [11] IMPLICIT OBJECT IDENTIFIER
    if (a.authenticationValue) writeTlv(body, 0xac, new Writer().u8(0x80).berLength(a.authenticationValue.length).bytes(a.authenticationValue).finish()) // calling-authentication-value [12] → charstring [0]
  }
  const xdlms = a.initiateRequest ? encodeInitiateRequest(a.initiateRequest) : a.userInformation
  if (xdlms) writeTlv(body, 0xbe, userInformation(xdlms)) // user-information [30]
  const b = body.finish()
  return new Writer(b.length + 4).u8(0x60).berLength(b.length).bytes(b).finish()
}

export function readAarq(r: Reader): Aarq {
  const buf = r.buf
  const end = readOuter(r, 0x60, 'AARQ')
  r.need(end - r.pos)
  const a: Partial<Aarq> = {}
  for (const tlv of readTlvs(r, end, false)) {
    switch (tlv.tag) {
      case 0xa1:
        a.applicationContext = readOidElement(buf, tlv)
        break
      case 0xa6: {
        const ir = inner(buf, tlv, 0)
        if (ir.u8() === 0x04) a.callingApTitle = ir.bytes(ir.berLength()).slice()
        break
      }
      case 0x8b:
        a.mechanism = decodeOid(tlv.value, r, tlv.at)
        break
      case 0xac: {
        const ir = inner(buf, tlv, 0)
        const at = ir.pos
        if (ir.u8() !== 0x80) ir.fail('calling-authentication-value is not a charstring', at)
        a.authenticationValue = ir.bytes(ir.berLength()).slice()
        break
      }
      case 0xbe: {
        const ur = readUserInformation(buf, tlv)
        if (ur.remaining > 0 && ur.peek() === INITIATE_REQUEST_TAG) a.initiateRequest = readInitiateRequest(ur)
        else a.userInformation = ur.bytes(ur.remaining).slice()
        break
      }
      default:
        break // protocol-version, AP titles, qualifiers, implementation-information…: not needed
    }
  }
  if (!a.applicationContext) r.fail('AARQ without application-context-name', end)
  return a as Aarq
}

export function decodeAarq(bytes: Uint8Array): DecodeResult<Aarq> {
  return run(new Reader(bytes), readAarq)
}

// ---------- AARE ----------

export const ASSOCIATION_RESULTS: Record<number, string> = {0: 'accepted', 1: 'rejected-permanent', 2: 'rejected-transient'}

/** acse-service-user diagnostics (ISO/IEC 8650 / Green Book 9.4.2.2.4). */
export const ACSE_SERVICE_USER_DIAGNOSTICS: Record<number, string> = {
  0: 'null',
  1: 'no-reason-given',
  2: 'application-context-name-not-supported',
  3: 'calling-AP-title-not-recognized',
  4: 'calling-AP-invocation-identifier-not-recognized',
  5: 'calling-AE-qualifier-not-recognized',
  6: 'calling-AE-invocation-identifier-not-recognized',
  7: 'called-AP-title-not-recognized',
  8: 'called-AP-invocation-identifier-not-recognized',
  9: 'called-AE-qualifier-not-recognized',
  10: 'called-AE-invocation-identifier-not-recognized',
  11: 'authentication-mechanism-name-not-recognised',
  12: 'authentication-mechanism-name-required',
  13: 'authentication-failure',
  14: 'authentication-required',
}

export const ACSE_SERVICE_PROVIDER_DIAGNOSTICS: Record<number, string> = {0: 'null', 1: 'no-reason-given', 2: 'no-common-acse-version'}

export interface Aare {
  applicationContext: readonly number[]
  /** 0 accepted, 1 rejected-permanent, 2 rejected-transient. */
  result: number
  diagnostic: {source: 'user' | 'provider'; value: number}
  /** Echoed mechanism name, when the meter sends one (Gurux does not for LLS). */
  mechanism?: readonly number[]
  /** responding-AP-title: the meter's system title (HLS / ciphered contexts). */
  respondingApTitle?: Uint8Array
  /** responding-authentication-value: StoC for HLS. */
  respondingAuthenticationValue?: Uint8Array
  initiateResponse?: InitiateResponse
  /** Confirmed-ServiceError in user-information (a meter refusing the xDLMS part). */
  initiateError?: {service: number; errorClass: number; value: number; name: string}
  userInformation?: Uint8Array
}

export function encodeAare(a: Aare): Uint8Array {
  const body = new Writer(64)
  writeTlv(body, 0xa1, oidElement(a.applicationContext))
  writeTlv(body, 0xa2, Uint8Array.of(0x02, 0x01, a.result)) // result [2] INTEGER
  const diagTag = a.diagnostic.source === 'user' ? 0xa1 : 0xa2
  writeTlv(body, 0xa3, Uint8Array.of(diagTag, 0x03, 0x02, 0x01, a.diagnostic.value)) // result-source-diagnostic [3]
  if (a.respondingApTitle) writeTlv(body, 0xa4, new Writer().u8(0x04).berLength(a.respondingApTitle.length).bytes(a.respondingApTitle).finish()) // responding-AP-title [4]
  if (a.mechanism) {
    writeTlv(body, 0x88, Uint8Array.of(0x07, 0x80)) // responder-acse-requirements [8]
    writeTlv(body, 0x89, encodeOid(a.mechanism)) // mechanism-name [9]
  }
  if (a.respondingAuthenticationValue)
    writeTlv(body, 0xaa, new Writer().u8(0x80).berLength(a.respondingAuthenticationValue.length).bytes(a.respondingAuthenticationValue).finish())
  let xdlms: Uint8Array | undefined
  if (a.initiateResponse) xdlms = encodeInitiateResponse(a.initiateResponse)
  else if (a.initiateError) xdlms = Uint8Array.of(CONFIRMED_SERVICE_ERROR_TAG, a.initiateError.service, a.initiateError.errorClass, a.initiateError.value)
  else xdlms = a.userInformation
  if (xdlms) writeTlv(body, 0xbe, userInformation(xdlms))
  const b = body.finish()
  return new Writer(b.length + 4).u8(0x61).berLength(b.length).bytes(b).finish()
}

export function readAare(r: Reader): Aare {
  const buf = r.buf
  const end = readOuter(r, 0x61, 'AARE')
  r.need(end - r.pos)
  const a: Partial<Aare> = {}
  for (const tlv of readTlvs(r, end, false)) {
    switch (tlv.tag) {
      case 0xa1:
        a.applicationContext = readOidElement(buf, tlv)
        break
      case 0xa2:
        a.result = readTaggedInteger(buf, tlv)
        break
      case 0xa3: {
        const ir = inner(buf, tlv, 0)
        const at = ir.pos
        const choice = ir.u8()
        if (choice !== 0xa1 && choice !== 0xa2) ir.fail(`result-source-diagnostic choice 0x${choice.toString(16)}`, at)
        const len = ir.berLength()
        const value = readTaggedInteger(buf, {tag: choice, at, value: ir.bytes(len)})
        a.diagnostic = {source: choice === 0xa1 ? 'user' : 'provider', value}
        break
      }
      case 0x89:
        a.mechanism = decodeOid(tlv.value, r, tlv.at)
        break
      case 0xa4: {
        const ir = inner(buf, tlv, 0)
        if (ir.u8() === 0x04) a.respondingApTitle = ir.bytes(ir.berLength()).slice()
        break
      }
      case 0xaa: {
        const ir = inner(buf, tlv, 0)
        if (ir.u8() === 0x80) a.respondingAuthenticationValue = ir.bytes(ir.berLength()).slice()
        break
      }
      case 0xbe: {
        const ur = readUserInformation(buf, tlv)
        const first = ur.remaining > 0 ? ur.peek() : -1
        if (first === INITIATE_RESPONSE_TAG) a.initiateResponse = readInitiateResponse(ur)
        else if (first === CONFIRMED_SERVICE_ERROR_TAG && ur.remaining >= 4) {
          ur.u8()
          const service = ur.u8()
          const errorClass = ur.u8()
          const value = ur.u8()
          a.initiateError = {
            service,
            errorClass,
            value,
            name: errorClass === 6 ? (INITIATE_ERRORS[value] ?? `initiate-error-${value}`) : `service-error-${errorClass}-${value}`,
          }
        } else a.userInformation = ur.bytes(ur.remaining).slice()
        break
      }
      default:
        break
    }
  }
  if (a.applicationContext === undefined) r.fail('AARE without application-context-name', end)
  if (a.result === undefined) r.fail('AARE without result', end)
  if (a.diagnostic === undefined) r.fail('AARE without result-source-diagnostic', end)
  return a as Aare
}

export function decodeAare(bytes: Uint8Array): DecodeResult<Aare> {
  return run(new Reader(bytes), readAare)
}

export function associationResultName(result: number): string {
  return ASSOCIATION_RESULTS[result] ?? `result-${result}`
}

export function diagnosticName(d: Aare['diagnostic']): string {
  const table = d.source === 'user' ? ACSE_SERVICE_USER_DIAGNOSTICS : ACSE_SERVICE_PROVIDER_DIAGNOSTICS
  return table[d.value] ?? `${d.source}-diagnostic-${d.value}`
}

// ---------- RLRQ / RLRE ----------

export const RELEASE_REQUEST_REASONS: Record<number, string> = {0: 'normal', 1: 'urgent', 30: 'user-defined'}
export const RELEASE_RESPONSE_REASONS: Record<number, string> = {0: 'normal', 1: 'not-finished', 30: 'user-defined'}

export interface Release {
  /** [0] IMPLICIT INTEGER; absent when the element is absent. */
  reason?: number
  initiateRequest?: InitiateRequest
  initiateResponse?: InitiateResponse
  userInformation?: Uint8Array
  /** True when the element lengths did not add up and were read leniently (Gurux RLRE). */
  lengthQuirk?: boolean
}

function encodeRelease(tag: number, rel: Release): Uint8Array {
  const body = new Writer(32)
  if (rel.reason !== undefined) writeTlv(body, 0x80, Uint8Array.of(rel.reason))
  const xdlms = rel.initiateRequest
    ? encodeInitiateRequest(rel.initiateRequest)
    : rel.initiateResponse
      ? encodeInitiateResponse(rel.initiateResponse)
      : rel.userInformation
  if (xdlms) writeTlv(body, 0xbe, userInformation(xdlms))
  const b = body.finish()
  return new Writer(b.length + 2).u8(tag).berLength(b.length).bytes(b).finish()
}

export const encodeRlrq = (rel: Release = {reason: 0}): Uint8Array => encodeRelease(0x62, rel)
export const encodeRlre = (rel: Release = {reason: 0}): Uint8Array => encodeRelease(0x63, rel)

function readRelease(r: Reader, tag: number, name: string): Release {
  const buf = r.buf
  const declaredEnd = readOuter(r, tag, name)
  // Gurux's RLRE says 0x0E but carries 21 bytes (its user-information length is off too): read what is there.
  const lenient = tag === 0x63
  r.need(declaredEnd - r.pos)
  const rel: Release = {}
  const tlvs = readTlvs(r, declaredEnd, lenient)
  if (r.pos !== declaredEnd) rel.lengthQuirk = true
  for (const tlv of tlvs) {
    if (tlv.tag === 0x80) {
      if (tlv.value.length !== 1) r.fail(`${name} reason of ${tlv.value.length} bytes`, tlv.at)
      rel.reason = tlv.value[0]
    } else if (tlv.tag === 0xbe) {
      const start = tlv.value.byteOffset - buf.byteOffset
      const ir = new Reader(buf, start, lenient ? r.end : start + tlv.value.length)
      const at = ir.pos
      if (ir.u8() !== 0x04) ir.fail('user-information is not an OCTET STRING', at)
      const len = ir.berLength()
      ir.need(len)
      const ur = new Reader(buf, ir.pos, ir.pos + len)
      const first = ur.remaining > 0 ? ur.peek() : -1
      if (first === INITIATE_RESPONSE_TAG) rel.initiateResponse = readInitiateResponse(ur)
      else if (first === INITIATE_REQUEST_TAG) rel.initiateRequest = readInitiateRequest(ur)
      else rel.userInformation = ur.bytes(ur.remaining).slice()
      if (lenient && ir.pos + len > r.pos) {
        rel.lengthQuirk = true
        r.pos = ir.pos + len
      }
    }
  }
  return rel
}

export const readRlrq = (r: Reader): Release => readRelease(r, 0x62, 'RLRQ')
export const readRlre = (r: Reader): Release => readRelease(r, 0x63, 'RLRE')
export const decodeRlrq = (bytes: Uint8Array): DecodeResult<Release> => run(new Reader(bytes), readRlrq)
export const decodeRlre = (bytes: Uint8Array): DecodeResult<Release> => run(new Reader(bytes), readRlre)

/**
 * The LN AARQ a client sends, byte-compatible with Gurux's (see the vectors). For HLS-GMAC: the client system
 * title goes in calling-AP-title, CtoS in calling-authentication-value, and when `protectInitiate` is given the
 * InitiateRequest travels as glo-initiate-request (then the application context is LN with ciphering).
 */
export function buildAarq(opts: {
  mechanism?: 'none' | 'low' | 'high-gmac'
  password?: Uint8Array
  conformance?: number
  maxReceivePduSize?: number
  callingApTitle?: Uint8Array
  /** CtoS (HLS). */
  challenge?: Uint8Array
  /** Protects the encoded InitiateRequest (returns glo-initiate-request bytes). */
  protectInitiate?: (initiateRequest: Uint8Array) => Uint8Array
}): Aarq {
  const initiateRequest: InitiateRequest = {
    dlmsVersion: 6,
    conformance: opts.conformance ?? DEFAULT_CLIENT_CONFORMANCE,
    maxReceivePduSize: opts.maxReceivePduSize ?? 0xffff,
  }
  const ciphered = opts.protectInitiate !== undefined
  const base: Aarq = {
    applicationContext: ciphered ? APPLICATION_CONTEXTS['ln-ciphered'] : APPLICATION_CONTEXTS.ln,
    ...(opts.callingApTitle ? {callingApTitle: opts.callingApTitle} : {}),
    ...(ciphered ? {userInformation: opts.protectInitiate!(encodeInitiateRequest(initiateRequest))} : {initiateRequest}),
  }
  if (opts.mechanism === 'low') return {...base, mechanism: MECHANISMS.low, authenticationValue: opts.password ?? new Uint8Array(0)}
  if (opts.mechanism === 'high-gmac') return {...base, mechanism: MECHANISMS['high-gmac'], authenticationValue: opts.challenge ?? new Uint8Array(0)}
  return base
}

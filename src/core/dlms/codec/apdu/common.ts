/**
 * Pieces shared by the xDLMS service APDUs (Green Book 9.5, COSEMpdu ASN.1): APDU tags, the
 * Invoke-Id-And-Priority byte, the Cosem-Attribute-Descriptor, selective access and Data-Access-Result.
 */
import {encodeError} from '../../errors.js'
import {readData, writeData, type DlmsData} from '../axdr.js'
import type {Reader, Writer} from '../bytes.js'

/** COSEMpdu tags (Green Book 9.5, "COSEMpdu ::= CHOICE"). */
export const ApduTag = {
  AARQ: 0x60,
  AARE: 0x61,
  RLRQ: 0x62,
  RLRE: 0x63,
  GET_REQUEST: 0xc0,
  SET_REQUEST: 0xc1,
  ACTION_REQUEST: 0xc3,
  GET_RESPONSE: 0xc4,
  SET_RESPONSE: 0xc5,
  ACTION_RESPONSE: 0xc7,
  EXCEPTION_RESPONSE: 0xd8,
  CONFIRMED_SERVICE_ERROR: 0x0e,
  DATA_NOTIFICATION: 0x0f,
  EVENT_NOTIFICATION: 0xc2,
} as const

/** Tags of ciphered / general APDUs we recognise only to say "not supported" clearly. */
export const CIPHERED_TAGS = new Set([
  0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5,
  0xd6, 0xd7, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0,
])

/**
 * Invoke-Id-And-Priority (Green Book 9.5): bits 0-3 invoke-id, bit 6 service-class (1 = confirmed),
 * bit 7 priority (1 = high). Gurux (and so the vectors) always sends 0xC1: id 1, confirmed, high.
 */
export interface InvokeIdAndPriority {
  invokeId: number
  confirmed: boolean
  highPriority: boolean
}

export function encodeInvokeId(p: InvokeIdAndPriority): number {
  if (!Number.isInteger(p.invokeId) || p.invokeId < 0 || p.invokeId > 15) throw encodeError(`invoke-id ${p.invokeId} is out of range 0..15`)
  return (p.highPriority ? 0x80 : 0) | (p.confirmed ? 0x40 : 0) | p.invokeId
}

export function decodeInvokeId(b: number): InvokeIdAndPriority {
  return {invokeId: b & 0x0f, confirmed: (b & 0x40) !== 0, highPriority: (b & 0x80) !== 0}
}

export const DEFAULT_INVOKE_ID = 0xc1

export interface AttributeDescriptor {
  classId: number
  /** 6-byte logical name (OBIS). */
  obis: Uint8Array
  /** Attribute index (1 = logical_name). Integer8 on the wire; 0..255 here. */
  attribute: number
}

export interface AccessSelection {
  /** 1 = range_descriptor, 2 = entry_descriptor for profile generic buffers. */
  selector: number
  parameters: DlmsData
}

export function writeDescriptor(w: Writer, d: AttributeDescriptor): void {
  if (!Number.isInteger(d.classId) || d.classId < 0 || d.classId > 0xffff) throw encodeError(`class id ${d.classId} is out of range`)
  if (d.obis.length !== 6) throw encodeError('logical name must be 6 bytes')
  if (!Number.isInteger(d.attribute) || d.attribute < -128 || d.attribute > 255) throw encodeError(`attribute ${d.attribute} is out of range`)
  w.u16(d.classId)
    .bytes(d.obis)
    .u8(d.attribute & 0xff)
}

export function readDescriptor(r: Reader): AttributeDescriptor {
  const classId = r.u16()
  const obis = r.bytes(6).slice()
  const attribute = r.u8()
  return {classId, obis, attribute}
}

/** Selective-Access-Descriptor OPTIONAL: 0x00 absent, 0x01 + access-selector + access-parameters (Data). */
export function writeAccess(w: Writer, a: AccessSelection | undefined): void {
  if (!a) {
    w.u8(0)
    return
  }
  w.u8(1).u8(a.selector)
  writeData(w, a.parameters)
}

export function readAccess(r: Reader): AccessSelection | undefined {
  const at = r.pos
  const present = r.u8()
  if (present === 0) return undefined
  if (present !== 1) r.fail(`OPTIONAL marker ${present} (expected 0 or 1)`, at)
  const selector = r.u8()
  return {selector, parameters: readData(r)}
}

/** Data-Access-Result (Green Book 9.5 / Blue Book). */
export const DATA_ACCESS_RESULTS: Record<number, string> = {
  0: 'success',
  1: 'hardware-fault',
  2: 'temporary-failure',
  3: 'read-write-denied',
  4: 'object-undefined',
  9: 'object-class-inconsistent',
  11: 'object-unavailable',
  12: 'type-unmatched',
  13: 'scope-of-access-violated',
  14: 'data-block-unavailable',
  15: 'long-get-aborted',
  16: 'no-long-get-in-progress',
  17: 'long-set-aborted',
  18: 'no-long-set-in-progress',
  19: 'data-block-number-invalid',
  250: 'other-reason',
}

export const DataAccessResult = {
  SUCCESS: 0,
  HARDWARE_FAULT: 1,
  TEMPORARY_FAILURE: 2,
  READ_WRITE_DENIED: 3,
  OBJECT_UNDEFINED: 4,
  OBJECT_CLASS_INCONSISTENT: 9,
  OBJECT_UNAVAILABLE: 11,
  TYPE_UNMATCHED: 12,
  SCOPE_OF_ACCESS_VIOLATED: 13,
  DATA_BLOCK_UNAVAILABLE: 14,
  LONG_GET_ABORTED: 15,
  NO_LONG_GET_IN_PROGRESS: 16,
  DATA_BLOCK_NUMBER_INVALID: 19,
  OTHER_REASON: 250,
} as const

export function dataAccessResultName(code: number): string {
  return DATA_ACCESS_RESULTS[code] ?? `data-access-result-${code}`
}

/** What a user should understand from a data-access-result, for error messages. */
export const DATA_ACCESS_EXPLANATIONS: Record<number, string> = {
  3: 'the association has no right to this attribute',
  4: 'the meter has no such object',
  9: 'the object exists with another class id',
  11: 'the object is not available at the moment',
  12: 'the value has the wrong type',
  13: 'out of the scope of this association',
}

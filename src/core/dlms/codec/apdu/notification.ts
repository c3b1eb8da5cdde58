/**
 * DataNotification (COSEMpdu tag 15, Green Book 9.3 / 9.5, the APDU a push setup object (class 40) sends):
 *
 *   Data-Notification ::= SEQUENCE {
 *     long-invoke-id-and-priority  Long-Invoke-Id-And-Priority,   -- 4 octets, big-endian
 *     date-time                    OCTET STRING,                  -- A-XDR: length octet + contents; 0 = absent
 *     notification-body            Notification-Body              -- data-value Data (one A-XDR Data)
 *   }
 *
 *   0F | 40 00 00 00 | 00 (no date-time) or 0C + 12-octet date-time | Data
 *
 * Long-Invoke-Id-And-Priority: bits 0-23 invoke-id, bit 28 self-descriptive, bit 29 processing-option
 * (break on error), bit 30 service-class (1 = confirmed), bit 31 priority (1 = high).
 *
 * The date-time is read as Gurux's handleDataNotification reads it (a length octet, then that many octets):
 * 12 octets = a COSEM date-time, 0 = none. Other lengths (Gurux also takes 4 = time, 5 = date) are refused
 * here as malformed: the push listener needs an instant or none.
 *
 * Ciphered pushes travel in general-glo-ciphering (0xDB), which carries the meter's system title — the
 * only way a receiver without an association can know whose keys to use (the xDLMS CHOICE has no glo-
 * form of data-notification). `unprotectNotification` does the lookup, the check and the decode; the
 * cryptography is codec/security.ts.
 *
 * Pure: bytes in, values out; no sockets, no timers, no state beyond the caller's FrameCounterGuard.
 */
import {encodeError} from '../../errors.js'
import {readData, writeData, type DlmsData} from '../axdr.js'
import {Reader, run, Writer, type DecodeResult} from '../bytes.js'
import {encodeDateTime, readDateTime, type CosemDateTime} from '../datetime.js'
import {GENERAL_GLO_CIPHERING, parseProtectedApdu, protectApdu, securityError, unprotectApdu, type FrameCounterGuard, type SecurityKeys} from '../security.js'
import {ApduTag} from './common.js'

export interface LongInvokeIdAndPriority {
  /** 0 .. 2^24-1 */
  invokeId: number
  selfDescriptive: boolean
  breakOnError: boolean
  confirmed: boolean
  highPriority: boolean
}

export interface DataNotification {
  /** The whole 32-bit Long-Invoke-Id-And-Priority as on the wire. */
  longInvokeId: number
  /** The date-time field; null when the meter sent none (length 0). */
  dateTime: CosemDateTime | null
  body: DlmsData
}

export function decodeLongInvokeId(v: number): LongInvokeIdAndPriority {
  return {
    invokeId: v & 0xffffff,
    selfDescriptive: (v & 0x10000000) !== 0,
    breakOnError: (v & 0x20000000) !== 0,
    confirmed: (v & 0x40000000) !== 0,
    highPriority: (v & 0x80000000) !== 0,
  }
}

export function encodeLongInvokeId(p: LongInvokeIdAndPriority): number {
  if (!Number.isInteger(p.invokeId) || p.invokeId < 0 || p.invokeId > 0xffffff) throw encodeError(`long invoke-id ${p.invokeId} is out of range 0..16777215`)
  return (
    ((p.highPriority ? 0x80000000 : 0) |
      (p.confirmed ? 0x40000000 : 0) |
      (p.breakOnError ? 0x20000000 : 0) |
      (p.selfDescriptive ? 0x10000000 : 0) |
      p.invokeId) >>>
    0
  )
}

/** Reads one DataNotification APDU (the Reader's private signals are turned into a result by run()). */
export function readDataNotification(r: Reader): DataNotification {
  const at = r.pos
  const tag = r.u8()
  if (tag !== ApduTag.DATA_NOTIFICATION) r.fail(`not a DataNotification: tag 0x${tag.toString(16).padStart(2, '0')} (expected 0x0f)`, at)
  const longInvokeId = r.u32()
  const dtAt = r.pos
  const dtLen = r.u8()
  let dateTime: CosemDateTime | null = null
  if (dtLen === 12) {
    r.need(12)
    dateTime = readDateTime(r)
  } else if (dtLen !== 0) r.fail(`DataNotification date-time of ${dtLen} octets (expected 0 = none or 12)`, dtAt)
  if (r.remaining === 0) r.fail('DataNotification without a notification body')
  const body = readData(r)
  return {longInvokeId, dateTime, body}
}

/** Decodes one complete DataNotification APDU; bytes left after the body make it malformed. */
export function decodeDataNotification(bytes: Uint8Array): DecodeResult<DataNotification> {
  return run(new Reader(bytes), r => {
    if (r.remaining === 0) r.fail('empty APDU')
    const n = readDataNotification(r)
    if (r.remaining !== 0) r.fail(`${r.remaining} byte(s) after the DataNotification body`)
    return n
  })
}

export function encodeDataNotification(n: DataNotification): Uint8Array {
  if (!Number.isInteger(n.longInvokeId) || n.longInvokeId < 0 || n.longInvokeId > 0xffffffff)
    throw encodeError(`long-invoke-id-and-priority ${n.longInvokeId} is out of range 0..2^32-1`)
  const w = new Writer(64).u8(ApduTag.DATA_NOTIFICATION).u32(n.longInvokeId)
  if (n.dateTime) w.u8(12).bytes(encodeDateTime(n.dateTime))
  else w.u8(0)
  writeData(w, n.body)
  return w.finish()
}

// ---------- ciphered: general-glo-ciphering ----------

export interface NotificationKeys extends SecurityKeys {
  /** Replay protection for this sender; checked before and advanced only after the tag verified. */
  guard?: FrameCounterGuard
  /** Security bits the push must at least have (0x30 = authenticated and encrypted). */
  require?: number
}

export interface UnprotectedNotification {
  notification: DataNotification
  systemTitle: Uint8Array
  sc: number
  invocationCounter: number
}

/** The sender's system title of a general-glo-ciphering APDU (no cryptography); undefined for anything else. */
export function notificationSystemTitle(bytes: Uint8Array): Uint8Array | undefined {
  if (bytes[0] !== GENERAL_GLO_CIPHERING) return undefined
  return parseProtectedApdu(bytes).systemTitle
}

/**
 * Verifies, deciphers and decodes a DataNotification inside general-glo-ciphering. `keysFor` gets the sender's
 * system title and returns its keys, or undefined for a sender it does not know. Throws DlmsError 'SECURITY'
 * (tag, key, system title, counter, truncation) or 'MALFORMED_FRAME' (what was inside is not a DataNotification).
 */
export function unprotectNotification(
  bytes: Uint8Array,
  keysFor: (systemTitle: Uint8Array) => NotificationKeys | undefined,
): UnprotectedNotification | {unknown: Uint8Array} {
  const p = parseProtectedApdu(bytes)
  if (p.tag !== GENERAL_GLO_CIPHERING || !p.systemTitle)
    throw securityError('unsupported', `a ciphered push must be general-glo-ciphering (0xdb), got tag 0x${p.tag.toString(16)}`)
  const keys = keysFor(p.systemTitle)
  if (!keys) return {unknown: p.systemTitle}
  const u = unprotectApdu(bytes, {
    ek: keys.ek,
    ak: keys.ak,
    systemTitle: p.systemTitle,
    ...(keys.guard ? {guard: keys.guard} : {}),
    ...(keys.require !== undefined ? {require: keys.require} : {}),
  })
  // node:crypto hands back a Buffer: decode from a plain copy so the values are plain Uint8Arrays (and own their bytes)
  const res = decodeDataNotification(Uint8Array.from(u.apdu))
  if (res.status !== 'ok')
    throw securityError(
      'malformed',
      `the deciphered APDU is not a valid DataNotification: ${res.status === 'malformed' ? `${res.reason} at byte ${res.offset}` : 'truncated'}`,
    )
  return {notification: res.value, systemTitle: p.systemTitle, sc: u.sc, invocationCounter: u.invocationCounter}
}

export interface ProtectNotificationOptions extends SecurityKeys {
  sc: number
  systemTitle: Uint8Array
  invocationCounter: number
}

/** The meter side: a DataNotification in general-glo-ciphering (the simulator's ciphered push). */
export function protectNotification(n: DataNotification, o: ProtectNotificationOptions): Uint8Array {
  return protectApdu(encodeDataNotification(n), {...o, general: true})
}

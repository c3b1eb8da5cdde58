/**
 * COSEM date-time (Blue Book 4.1.6.1, "date-time" OCTET STRING (SIZE(12))):
 *
 *   year(2, 0xFFFF = unspecified) month day-of-month day-of-week hour minute second hundredths
 *   deviation(2, signed minutes, 0x8000 = unspecified) clock-status(1, 0xFF = unspecified)
 *
 * Each 1-byte field uses 0xFF for "not specified"; month and day also have the DST/last-day specials
 * 0xFD/0xFE, kept as numbers. Sign of the deviation: the vectors (Gurux) put -60 on the wire for a
 * local time of UTC+01:00, i.e. offset = -deviation — the Blue Book's original "local time to UTC" reading.
 */
import {encodeError} from '../errors.js'
import {Reader, run, type DecodeResult} from './bytes.js'

export interface CosemDateTime {
  year: number | null
  month: number | null
  dayOfMonth: number | null
  /** 1 = Monday … 7 = Sunday. */
  dayOfWeek: number | null
  hour: number | null
  minute: number | null
  second: number | null
  hundredths: number | null
  /** Deviation as on the wire, in minutes (UTC+01:00 → -60). */
  deviation: number | null
  clockStatus: number | null
}

export interface CosemDate {
  year: number | null
  month: number | null
  dayOfMonth: number | null
  dayOfWeek: number | null
}

export interface CosemTime {
  hour: number | null
  minute: number | null
  second: number | null
  hundredths: number | null
}

const ff = (v: number): number | null => (v === 0xff ? null : v)

export function readDate(r: Reader): CosemDate {
  const y = r.u16()
  return {year: y === 0xffff ? null : y, month: ff(r.u8()), dayOfMonth: ff(r.u8()), dayOfWeek: ff(r.u8())}
}

export function readTime(r: Reader): CosemTime {
  return {hour: ff(r.u8()), minute: ff(r.u8()), second: ff(r.u8()), hundredths: ff(r.u8())}
}

/** Reads 12 bytes. Values are taken as they are (real meters send odd ones); use isValidDateTime to check. */
export function readDateTime(r: Reader): CosemDateTime {
  const d = readDate(r)
  const t = readTime(r)
  const dev = r.i16()
  return {...d, ...t, deviation: dev === -0x8000 ? null : dev, clockStatus: ff(r.u8())}
}

export function decodeDateTime(bytes: Uint8Array): DecodeResult<CosemDateTime> {
  return run(new Reader(bytes), r => {
    if (bytes.length !== 12) r.fail(`date-time must be 12 bytes, got ${bytes.length}`, 0)
    return readDateTime(r)
  })
}

const u8f = (v: number | null, name: string, specials: readonly number[] = []): number => {
  if (v === null) return 0xff
  if (!Number.isInteger(v) || v < 0 || v > 0xfe || (v > 99 && !specials.includes(v))) throw encodeError(`date-time ${name} ${v} is out of range`)
  return v
}

export function writeDate(d: CosemDate, out: number[]): void {
  const y = d.year === null ? 0xffff : d.year
  if (!Number.isInteger(y) || y < 0 || y > 0xffff) throw encodeError(`date-time year ${d.year} is out of range`)
  out.push(y >> 8, y & 0xff, u8f(d.month, 'month', [0xfd, 0xfe]), u8f(d.dayOfMonth, 'day', [0xfd, 0xfe]), u8f(d.dayOfWeek, 'day of week'))
}

export function writeTime(t: CosemTime, out: number[]): void {
  out.push(u8f(t.hour, 'hour'), u8f(t.minute, 'minute'), u8f(t.second, 'second'), u8f(t.hundredths, 'hundredths'))
}

export function encodeDateTime(dt: CosemDateTime): Uint8Array {
  const out: number[] = []
  writeDate(dt, out)
  writeTime(dt, out)
  const dev = dt.deviation === null ? 0x8000 : dt.deviation
  if (dt.deviation !== null && (!Number.isInteger(dev) || dev < -720 || dev > 720)) throw encodeError(`date-time deviation ${dev} is out of range (-720..720)`)
  out.push((dev >> 8) & 0xff, dev & 0xff)
  const cs = dt.clockStatus === null ? 0xff : dt.clockStatus
  if (!Number.isInteger(cs) || cs < 0 || cs > 0xff) throw encodeError(`clock status ${cs} is out of range`)
  out.push(cs)
  return Uint8Array.from(out)
}

/** True when every field needed for an instant is specified and in range. */
export function isCompleteDateTime(dt: CosemDateTime): boolean {
  const {year, month, dayOfMonth, hour, minute, second} = dt
  return (
    year !== null &&
    month !== null &&
    month >= 1 &&
    month <= 12 &&
    dayOfMonth !== null &&
    dayOfMonth >= 1 &&
    dayOfMonth <= 31 &&
    hour !== null &&
    hour <= 23 &&
    minute !== null &&
    minute <= 59 &&
    second !== null &&
    second <= 59
  )
}

const p2 = (n: number): string => String(n).padStart(2, '0')

export function formatOffset(offsetMinutes: number): string {
  const sign = offsetMinutes < 0 ? '-' : '+'
  const a = Math.abs(offsetMinutes)
  return `${sign}${p2(Math.floor(a / 60))}:${p2(a % 60)}`
}

/**
 * ISO 8601 text of a complete date-time: local meter time with the UTC offset (-deviation), e.g.
 * "2024-06-15T12:34:56+01:00". Hundredths appear only when non-zero; no offset when the deviation is unspecified.
 * Returns null for an incomplete date-time (wildcards).
 */
export function dateTimeToIso(dt: CosemDateTime): string | null {
  if (!isCompleteDateTime(dt)) return null
  let s = `${String(dt.year).padStart(4, '0')}-${p2(dt.month!)}-${p2(dt.dayOfMonth!)}T${p2(dt.hour!)}:${p2(dt.minute!)}:${p2(dt.second!)}`
  if (dt.hundredths !== null && dt.hundredths > 0 && dt.hundredths <= 99) s += `.${p2(dt.hundredths)}`
  if (dt.deviation !== null) s += formatOffset(-dt.deviation)
  return s
}

/** The instant of a complete date-time; an unspecified deviation is taken as UTC. */
export function dateTimeToDate(dt: CosemDateTime): Date | null {
  if (!isCompleteDateTime(dt)) return null
  const ms = Date.UTC(dt.year!, dt.month! - 1, dt.dayOfMonth!, dt.hour!, dt.minute!, dt.second!, (dt.hundredths ?? 0) * 10)
  return new Date(ms + (dt.deviation ?? 0) * 60_000)
}

export interface FromDateOptions {
  /** UTC offset of the meter's local time in minutes (+60 for UTC+01:00). Default 0. */
  offsetMinutes?: number
  /** Fill the day of week (default: leave it unspecified, 0xFF, as Gurux does). */
  dayOfWeek?: boolean
  clockStatus?: number | null
  /** Fill hundredths from the milliseconds (default: 0). */
  hundredths?: boolean
}

export function dateTimeFromDate(date: Date, opts: FromDateOptions = {}): CosemDateTime {
  const offset = opts.offsetMinutes ?? 0
  const local = new Date(date.getTime() + offset * 60_000)
  const dow = local.getUTCDay()
  return {
    year: local.getUTCFullYear(),
    month: local.getUTCMonth() + 1,
    dayOfMonth: local.getUTCDate(),
    dayOfWeek: opts.dayOfWeek ? (dow === 0 ? 7 : dow) : null,
    hour: local.getUTCHours(),
    minute: local.getUTCMinutes(),
    second: local.getUTCSeconds(),
    hundredths: opts.hundredths ? Math.floor(local.getUTCMilliseconds() / 10) : 0,
    deviation: -offset,
    clockStatus: opts.clockStatus === undefined ? 0 : opts.clockStatus,
  }
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:?\d{2})?$/

/**
 * Parses ISO text field by field, keeping the wall-clock time written (no conversion): the offset becomes
 * the deviation, day of week stays unspecified, clock status 0. Text without an offset gets an unspecified
 * deviation. Returns null when the text is not an ISO date-time.
 */
export function dateTimeFromIso(text: string): CosemDateTime | null {
  const m = ISO.exec(text.trim())
  if (!m) return null
  let deviation: number | null = null
  if (m[8] !== undefined) {
    if (m[8] === 'Z') deviation = 0
    else {
      const sign = m[8][0] === '-' ? -1 : 1
      const digits = m[8].slice(1).replace(':', '')
      deviation = -sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2)))
    }
  }
  const dt: CosemDateTime = {
    year: Number(m[1]),
    month: Number(m[2]),
    dayOfMonth: Number(m[3]),
    dayOfWeek: null,
    hour: Number(m[4]),
    minute: Number(m[5]),
    second: m[6] === undefined ? 0 : Number(m[6]),
    hundredths: m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 100),
    deviation,
    clockStatus: 0,
  }
  return isCompleteDateTime(dt) ? dt : null
}

/** Clock status bits (Blue Book 4.1.6.1). */
export const CLOCK_STATUS_BITS = [
  'invalid',
  'doubtful',
  'different-clock-base',
  'invalid-clock-status',
  'reserved-4',
  'reserved-5',
  'reserved-6',
  'daylight-saving-active',
] as const

export function clockStatusNames(status: number | null): string[] {
  if (status === null) return []
  return CLOCK_STATUS_BITS.filter((_, i) => (status & (1 << i)) !== 0)
}

import {invalidInput} from '../errors.js'

/** JSON timestamp convention: ISO-8601 UTC string plus epoch milliseconds. */
export interface Stamp {
  iso: string
  ms: number
}

const TWO = Array.from({length: 100}, (_, i) => (i < 10 ? '0' : '') + i)
const THREE = Array.from({length: 1000}, (_, i) => (i < 10 ? '00' : i < 100 ? '0' : '') + i)
let lastDay = Number.NaN
let lastPrefix = ''

/**
 * `new Date(ms).toISOString()`, ~5× faster for years 1970–9999 (bandwidth stats formats two
 * stamps per device: toISOString was a third of `stats` for 1,000 devices). The date part is
 * cached per day; anything outside the fast range goes through Date.
 */
export function isoOf(ms: number): string {
  if (!(ms >= 0 && ms < 253_402_300_800_000) || !Number.isInteger(ms)) return new Date(ms).toISOString()
  const day = Math.floor(ms / 86_400_000)
  if (day !== lastDay) {
    // Days since 1970-01-01 → civil date (H. Hinnant's days_from_civil, inverted).
    const z = day + 719_468
    const era = Math.floor(z / 146_097)
    const doe = z - era * 146_097
    const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365)
    const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
    const mp = Math.floor((5 * doy + 2) / 153)
    const d = doy - Math.floor((153 * mp + 2) / 5) + 1
    const m = mp < 10 ? mp + 3 : mp - 9
    const y = yoe + era * 400 + (m <= 2 ? 1 : 0)
    lastDay = day
    lastPrefix = `${y}-${TWO[m]}-${TWO[d]}T`
  }
  let rest = ms - day * 86_400_000
  const h = Math.floor(rest / 3_600_000)
  rest -= h * 3_600_000
  const mi = Math.floor(rest / 60_000)
  rest -= mi * 60_000
  const sec = Math.floor(rest / 1000)
  return `${lastPrefix}${TWO[h]}:${TWO[mi]}:${TWO[sec]}.${THREE[rest - sec * 1000]}Z`
}
export const stamp = (ms: number): Stamp => ({iso: isoOf(ms), ms})

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}

/** Parses `500ms`, `5s`, `10m`, `24h`, `7d`, `2w`, or a combination like `1h30m`. */
export function parseDuration(text: string, what = 'duration'): number {
  const s = text.trim().toLowerCase()
  const re = /(\d+(?:\.\d+)?)(ms|sec|min|s|m|h|d|w)/gy
  let total = 0
  let matched = 0
  let m: RegExpExecArray | null
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!
    matched = re.lastIndex
  }
  if (s.length === 0 || matched !== s.length || !Number.isFinite(total)) {
    throw invalidInput(`invalid ${what} "${text}"`, 'use a number with a unit, e.g. 500ms, 5s, 10m, 24h, 7d')
  }
  return Math.round(total)
}

/** The range of a JavaScript Date (±10^8 days around 1970). */
export const MAX_DATE_MS = 8.64e15

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?)?$/

// Day 0 of the next month is the last day of this one (years here are ≥ 1970, so no 19xx mapping).
const daysIn = (y: number, m: number): number => new Date(Date.UTC(y, m, 0)).getUTCDate()

/**
 * Strict ISO-8601 (RFC 3339 spelling): `2026-11-23T10:00:00Z`, `…T10:00:00.123+01:00`, `…T10:00Z`;
 * a date alone (`2026-11-23`, midnight UTC) only when `dateOnly`. A date-time needs a zone: local
 * time would mean something else on every machine. Impossible fields (30 February, hour 24, second
 * 60) are refused rather than rolled over the way Date.parse does. Returns epoch ms, or a reason.
 */
export function parseIso(text: string, opts: {dateOnly?: boolean} = {}): number | {error: string} {
  const m = ISO.exec(text)
  if (!m) return {error: 'not an ISO-8601 time'}
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (y < 1970) return {error: 'is before 1970'}
  if (mo < 1 || mo > 12) return {error: `has no month ${m[2]}`}
  if (d < 1 || d > daysIn(y, mo)) return {error: `${m[1]}-${m[2]} has no day ${m[3]}`}
  if (m[4] === undefined) {
    if (!opts.dateOnly) return {error: 'needs a time and a zone'}
    return Date.UTC(y, mo - 1, d)
  }
  const [h, mi, sec] = [Number(m[4]), Number(m[5]), Number(m[6] ?? 0)]
  if (h > 23 || mi > 59 || sec > 59) return {error: `has no time ${m[4]}:${m[5]}${m[6] === undefined ? '' : ':' + m[6]}`}
  if (m[8] === undefined && m[9] === undefined) return {error: 'has no zone (add Z or an offset such as +01:00)'}
  let offset = 0
  if (m[9] !== undefined) {
    const [oh, om] = [Number(m[10]), Number(m[11])]
    if (oh > 23 || om > 59) return {error: `has no offset ${m[9]}${m[10]}:${m[11]}`}
    offset = (m[9] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000
  }
  const frac = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000)
  return Date.UTC(y, mo - 1, d, h, mi, sec, frac) - offset
}

/** Epoch ms given as digits: a safe integer within the Date range, or a reason. */
function epochDigits(s: string): number | {error: string} {
  const n = Number(s)
  if (!Number.isSafeInteger(n) || n > MAX_DATE_MS) return {error: 'is out of range for epoch milliseconds'}
  if (s.length <= 10) return {error: 'is too small for epoch milliseconds (epoch seconds? multiply by 1000)'}
  return n
}

const TIME_HINT = 'use an ISO-8601 time with a zone (2026-11-23T10:00:00Z), a date (2026-11-23), epoch milliseconds, now, or a duration back from now (24h, 7d)'

/**
 * Parses a point in time given on the command line or in a query (`--since`, `--until`, `--at`):
 * an ISO-8601 date-time with a zone, a date (midnight UTC), epoch milliseconds, `now`, or a
 * duration meaning "that long before now" (`24h` → now − 24 h). Returns epoch ms. Stored data
 * (NDJSON `ts`) takes the narrower `parseStamp`.
 */
export function parseTime(text: string, now = Date.now(), what = 'time'): number {
  const s = text.trim()
  const bad = (why?: string) => invalidInput(`invalid ${what} "${text}"${why ? `: ${why}` : ''}`, TIME_HINT)
  if (s === 'now') return now
  if (/^\d+$/.test(s)) {
    const n = epochDigits(s)
    if (typeof n !== 'number') throw bad(n.error)
    return n
  }
  if (/^\d+(\.\d+)?(ms|sec|min|s|m|h|d|w)/i.test(s)) {
    const t = now - parseDuration(s, what)
    if (!(Math.abs(t) <= MAX_DATE_MS)) throw bad('too far back')
    return t
  }
  if (/^\d{4}-/.test(s)) {
    const ms = parseIso(s, {dateOnly: true})
    if (typeof ms !== 'number') throw bad(ms.error)
    return ms
  }
  throw bad()
}

/**
 * A timestamp in stored data (an NDJSON `ts`): a JSON number of epoch milliseconds, or a string in
 * ISO-8601 with a date, a time and a zone. Nothing relative (`now`, `24h`: a file means the same
 * thing whenever it is replayed), no numbers in strings. Range checks are the caller's (`checkTs`).
 * Returns epoch ms, or a reason.
 */
export function parseStamp(raw: unknown): number | {error: string} {
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw) || Math.abs(raw) > MAX_DATE_MS) return {error: 'is out of range for epoch milliseconds'}
    return raw
  }
  if (typeof raw !== 'string') return {error: 'must be epoch milliseconds (a number) or an ISO-8601 string'}
  const ms = parseIso(raw)
  if (typeof ms !== 'number') return {error: `${ms.error} (use epoch milliseconds as a number, or ISO-8601 with a zone: 2026-11-23T10:00:00Z)`}
  return ms
}

const humanFormats = new Map<string, Intl.DateTimeFormat>()

/**
 * A time for human output (issue 17: local time with its zone, or UTC): `2026-12-04 21:05 +01:00`,
 * `2026-12-04 20:05 UTC`; with `seconds`, `21:05:07`. The zone is the UTC offset then in force
 * (abbreviations such as CET exist only for some zones and locales, and repeat across zones); a
 * zone at offset 0 is written UTC only when it is UTC. JSON keeps ISO-8601 UTC + epoch ms.
 * The zone is the process's ($TZ) unless `utc` or an IANA `tz` is given.
 */
export function humanTime(ms: number, opts: {utc?: boolean; tz?: string; seconds?: boolean} = {}): string {
  const tz = opts.utc ? 'UTC' : opts.tz
  const key = `${tz ?? ''}|${opts.seconds ? 's' : ''}`
  let f = humanFormats.get(key)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      ...(opts.seconds ? {second: '2-digit'} : {}),
      timeZoneName: 'longOffset',
    })
    humanFormats.set(key, f)
  }
  const p: Record<string, string> = {}
  for (const part of f.formatToParts(ms)) p[part.type] = part.value
  // longOffset: "GMT+01:00" ("GMT" or "GMT+00:00" at offset 0, by ICU version).
  const off = String(p.timeZoneName).replace(/^GMT/, '') || '+00:00'
  const zone = off === '+00:00' && /^(Etc\/)?(UTC|GMT|Zulu|UCT)$/.test(f.resolvedOptions().timeZone) ? 'UTC' : off
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}${opts.seconds ? `:${p.second}` : ''} ${zone}`
}

const ISO_UTC = /\b(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.\d{1,9})?Z\b/g

/**
 * Human output's one time format (issue 17): every ISO-8601 UTC timestamp in a text (what core
 * results carry, `2026-12-04T20:05:07.123Z`) becomes humanTime with seconds, in the local zone
 * or UTC: `2026-12-04 21:05:07 +01:00`. The base command runs all human output through it, so a
 * command prints the ISO strings of its result and the reader sees local time with its zone.
 */
export function humanizeTimes(text: string, opts: {utc?: boolean; tz?: string} = {}): string {
  return text.replace(ISO_UTC, iso => {
    const ms = Date.parse(iso)
    return Number.isFinite(ms) ? humanTime(ms, {...opts, seconds: true}) : iso
  })
}

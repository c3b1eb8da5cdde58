import {invalidInput} from '../errors.js'

/** JSON timestamp convention: ISO-8601 UTC string plus epoch milliseconds. */
export interface Stamp {
  iso: string
  ms: number
}

export const isoOf = (ms: number): string => new Date(ms).toISOString()
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

/**
 * Parses a point in time: an ISO-8601 date/time, epoch milliseconds, `now`, or a duration meaning
 * "that long before now" (`24h` → now − 24 h). Returns epoch ms.
 */
export function parseTime(text: string, now = Date.now(), what = 'time'): number {
  const s = text.trim()
  if (s === 'now') return now
  if (/^\d{12,}$/.test(s)) return Number(s)
  if (/^\d+(\.\d+)?(ms|sec|min|s|m|h|d|w)/i.test(s)) return now - parseDuration(s, what)
  if (/^\d{4}-\d{2}-\d{2}/.test(s)) {
    const ms = Date.parse(s)
    if (Number.isFinite(ms)) return ms
  }
  throw invalidInput(`invalid ${what} "${text}"`, 'use an ISO-8601 time (2026-11-23T10:00:00Z), epoch milliseconds, or a duration back from now (24h, 7d)')
}

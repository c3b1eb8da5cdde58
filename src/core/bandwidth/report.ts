/**
 * `bandwidth report` (issue 17, vnStat's -5/-h/-d/-m/-y/-t and --oneline): traffic per period,
 * network-wide (the sum of every device) or per device.
 *
 * Periods: 5-minute and hourly periods are the 5m/1h rollup buckets themselves. Days, months and
 * years are calendar periods in a time zone (an IANA zone, default the process's) and are summed
 * from the 1h rollups, each hourly bucket counted in the local day that holds its start. The 1d
 * rollups are UTC days, so they are never used here: in Europe/Vienna a local day starts at 22:00
 * or 23:00 UTC. A local day is 23, 24 or 25 hours long (DST), which the boundaries below follow
 * exactly; in zones whose offset is not a whole number of hours (Asia/Kolkata) an hourly bucket
 * that straddles local midnight is counted in the day of its start.
 *
 * Estimate (vnStat's "estimated"): for the period that contains `now` (daily, monthly, yearly),
 * estimate = round(bytes so far × period length / elapsed), elapsed = now − period start, per
 * direction; total = rx + tx estimates. Average rate = bytes × 8 / seconds of the period (the
 * current period: the seconds elapsed so far).
 */
import {invalidInput, notFound} from '../errors.js'
import {findDevice} from '../devices/repo.js'
import {isoOf} from '../format/time.js'
import type {Store} from '../store/index.js'
import {getRetention} from './retention.js'

export type ReportKind = '5min' | 'hourly' | 'daily' | 'monthly' | 'yearly' | 'top'

export const DEFAULT_LIMIT: Record<ReportKind, number> = {'5min': 24, hourly: 24, daily: 30, monthly: 12, yearly: 10, top: 10}
const MAX_PERIODS = 100_000

// ---- time zones (Intl only: no tz database of our own) ----

const formats = new Map<string, Intl.DateTimeFormat>()
function fmt(tz: string): Intl.DateTimeFormat {
  let f = formats.get(tz)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    formats.set(tz, f)
  }
  return f
}

/** Checks an IANA zone name (exit 2 on an unknown one) and returns its canonical spelling. */
export function checkZone(tz: string): string {
  try {
    return new Intl.DateTimeFormat('en-US', {timeZone: tz}).resolvedOptions().timeZone
  } catch {
    throw invalidInput(`unknown time zone "${tz}"`, 'use an IANA zone name such as Europe/Vienna or UTC')
  }
}

export const processZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC'

interface Parts {
  y: number
  m: number
  d: number
  h: number
  mi: number
  s: number
}

export function zoneParts(ms: number, tz: string): Parts {
  const p: Record<string, number> = {}
  for (const x of fmt(tz).formatToParts(new Date(ms))) if (x.type !== 'literal') p[x.type] = Number(x.value)
  return {y: p.year!, m: p.month!, d: p.day!, h: p.hour! % 24, mi: p.minute!, s: p.second!}
}

/** The zone's UTC offset at `ms` (local − UTC), in ms. */
export function zoneOffset(ms: number, tz: string): number {
  const p = zoneParts(ms, tz)
  return Date.UTC(p.y, p.m - 1, p.d, p.h, p.mi, p.s) - Math.floor(ms / 1000) * 1000
}

/** The instant local midnight starts the civil day y-m-d in `tz` (m, d may overflow: Date.UTC normalises). */
export function localMidnight(y: number, m: number, d: number, tz: string): number {
  const g = Date.UTC(y, m - 1, d)
  let t = g - zoneOffset(g, tz)
  t = g - zoneOffset(t, tz)
  return t
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0')

function offsetLabel(ms: number, tz: string): string {
  const o = zoneOffset(ms, tz) / 60_000
  const a = Math.abs(o)
  return `${o < 0 ? '-' : '+'}${pad(Math.floor(a / 60))}:${pad(a % 60)}`
}

// ---- periods ----

interface Period {
  start: number
  end: number
  label: string
  rx: number
  tx: number
  samples: number
}

/** The period of `kind` holding `ms`. */
function periodAt(kind: ReportKind, ms: number, tz: string): {start: number; end: number; label: string} {
  if (kind === '5min' || kind === 'hourly') {
    const size = kind === '5min' ? 300_000 : 3_600_000
    const start = Math.floor(ms / size) * size
    const p = zoneParts(start, tz)
    return {start, end: start + size, label: `${p.y}-${pad(p.m)}-${pad(p.d)} ${pad(p.h)}:${pad(p.mi)}${offsetLabel(start, tz)}`}
  }
  const p = zoneParts(ms, tz)
  if (kind === 'monthly') return {start: localMidnight(p.y, p.m, 1, tz), end: localMidnight(p.y, p.m + 1, 1, tz), label: `${p.y}-${pad(p.m)}`}
  if (kind === 'yearly') return {start: localMidnight(p.y, 1, 1, tz), end: localMidnight(p.y + 1, 1, 1, tz), label: String(p.y)}
  // daily and top: local days
  return {start: localMidnight(p.y, p.m, p.d, tz), end: localMidnight(p.y, p.m, p.d + 1, tz), label: `${p.y}-${pad(p.m)}-${pad(p.d)}`}
}

export interface ReportPeriod {
  /** Local label in the report's zone: YYYY-MM-DD, YYYY-MM, YYYY, or "YYYY-MM-DD HH:MM+hh:mm" (5min/hourly). */
  label: string
  start: string
  start_ms: number
  end: string
  end_ms: number
  /** end − start: 23/24/25 h for days across DST. */
  length_ms: number
  rx_bytes: number
  tx_bytes: number
  total_bytes: number
  /** bytes × 8 / seconds of the period (the current period: seconds elapsed so far). */
  avg_bps: number | null
  samples: number
  /** This period holds `now` (still running). */
  current: boolean
  /** daily/monthly/yearly current period only (else null): round(bytes × length_ms / elapsed_ms). */
  estimate: {rx_bytes: number; tx_bytes: number; total_bytes: number; elapsed_ms: number} | null
  /** --top only: 1-based rank by total_bytes. */
  rank?: number
}

export interface ReportDevice {
  mac: string | null
  ip: string | null
  hostname: string | null
  /** The promoted name, null when none. */
  name: string | null
}

export interface ReportSeries {
  /** null: network-wide (every device summed). */
  device: ReportDevice | null
  periods: ReportPeriod[]
  /** Sums over the listed periods. */
  totals: {rx_bytes: number; tx_bytes: number; total_bytes: number}
}

export interface ReportResult {
  kind: ReportKind
  time_zone: string
  now: string
  now_ms: number
  /** The rollup table the periods were summed from. */
  source: 'bw_rollup_5m' | 'bw_rollup_1h'
  /** Rows of that table before this instant were deleted by retention (null: nothing missing). */
  pruned_before: string | null
  pruned_before_ms: number | null
  series: ReportSeries[]
}

export interface ReportOptions {
  kind: ReportKind
  tz: string
  now: number
  /** Number of periods (top: number of days). */
  limit?: number
  /** The oldest period is the one holding this instant (instead of --limit). */
  since?: number
  /** A device (MAC or IP); or all: one series per device; neither: network-wide. */
  mac?: string
  all?: boolean
}

interface Row {
  device_id: number
  bucket: number
  sent: number
  received: number
  samples: number
}

/** The periods to list, oldest first, ending with the one holding `now`. */
function periodList(kind: ReportKind, tz: string, now: number, limit: number, since: number | undefined): Period[] {
  const out: Period[] = []
  let p = periodAt(kind, now, tz)
  for (;;) {
    out.push({...p, rx: 0, tx: 0, samples: 0})
    if (since === undefined ? out.length >= limit : p.start <= since) break
    if (out.length >= MAX_PERIODS) throw invalidInput(`more than ${MAX_PERIODS} periods: use a later --since or a smaller --limit`)
    p = periodAt(kind, p.start - 1, tz)
  }
  return out.reverse()
}

function shape(p: Period, kind: ReportKind, now: number): ReportPeriod {
  const current = p.start <= now && now < p.end
  const dur = current ? now - p.start : p.end - p.start
  const total = p.rx + p.tx
  let estimate: ReportPeriod['estimate'] = null
  if (current && (kind === 'daily' || kind === 'monthly' || kind === 'yearly') && dur > 0) {
    const len = p.end - p.start
    const rx = Math.round((p.rx * len) / dur)
    const tx = Math.round((p.tx * len) / dur)
    estimate = {rx_bytes: rx, tx_bytes: tx, total_bytes: rx + tx, elapsed_ms: dur}
  }
  return {
    label: p.label,
    start: isoOf(p.start),
    start_ms: p.start,
    end: isoOf(p.end),
    end_ms: p.end,
    length_ms: p.end - p.start,
    rx_bytes: p.rx,
    tx_bytes: p.tx,
    total_bytes: total,
    avg_bps: dur > 0 ? Math.round((total * 8000) / dur) : null,
    samples: p.samples,
    current,
    estimate,
  }
}

export async function bandwidthReport(store: Store, opts: ReportOptions): Promise<ReportResult> {
  const {kind, tz, now} = opts
  const limit = opts.limit ?? DEFAULT_LIMIT[kind]
  if (!Number.isInteger(limit) || limit < 1) throw invalidInput('--limit must be a positive integer')
  const level = kind === '5min' ? '5m' : '1h'
  const table = kind === '5min' ? 'bw_rollup_5m' : 'bw_rollup_1h'
  let deviceId: number | null = null
  let single: ReportDevice | null = null
  if (opts.mac !== undefined) {
    const d = await findDevice(store, opts.mac)
    if (!d) throw notFound(`no device ${opts.mac} in the store`, 'list devices with `netmon devices list`')
    deviceId = Number(d.id)
    single = {mac: d.mac ?? null, ip: d.ip ?? null, hostname: d.hostname ?? null, name: d.name ?? null}
  }
  const {watermarks} = await getRetention(store)
  const wm = watermarks[level]
  // top: every retained day; otherwise the listed periods. Buckets that start after `now` are
  // not counted (only matters for an injected --now: real data is never in the future).
  const template = kind === 'top' ? null : periodList(kind, tz, now, limit, opts.since)
  const from = template ? template[0]!.start : wm
  const where = [`bucket >= ?`, `bucket <= ?`]
  const args: number[] = [from, now]
  if (deviceId !== null) {
    where.push('device_id = ?')
    args.push(deviceId)
  }
  const perDevice = opts.all === true
  const rows = await store.query<Row>(
    perDevice
      ? `SELECT device_id, bucket, sent, received, samples FROM ${table} WHERE ${where.join(' AND ')} ORDER BY bucket`
      : `SELECT 0 AS device_id, bucket, sum(sent) AS sent, sum(received) AS received, sum(samples) AS samples FROM ${table} WHERE ${where.join(' AND ')} GROUP BY bucket ORDER BY bucket`,
    args,
  )
  const groups = new Map<number, Row[]>()
  for (const r of rows) {
    const id = Number(r.device_id)
    let g = groups.get(id)
    if (!g) groups.set(id, (g = []))
    g.push(r)
  }
  const devices = new Map<number, ReportDevice>()
  if (perDevice) {
    const ds = await store.query<{id: number; mac: string | null; ip: string | null; hostname: string | null; name: string | null}>(
      'SELECT d.id, d.mac, d.ip, d.hostname, d.name FROM devices d JOIN bw_totals t ON t.device_id = d.id ORDER BY d.mac',
    )
    for (const d of ds) devices.set(Number(d.id), {mac: d.mac, ip: d.ip, hostname: d.hostname, name: d.name ?? null})
    for (const id of groups.keys()) if (!devices.has(id)) devices.set(id, {mac: null, ip: null, hostname: null, name: null})
  }
  // A bucket's period, cached by bucket start (many devices share buckets).
  const periodCache = new Map<number, {start: number; end: number; label: string}>()
  const periodOf = (bucket: number) => {
    let p = periodCache.get(bucket)
    if (!p) periodCache.set(bucket, (p = periodAt(kind, bucket, tz)))
    return p
  }
  const build = (g: Row[]): ReportPeriod[] => {
    const byStart = new Map<number, Period>()
    const list: Period[] = template ? template.map(p => ({...p})) : []
    for (const p of list) byStart.set(p.start, p)
    for (const r of g) {
      const at = periodOf(Number(r.bucket))
      let p = byStart.get(at.start)
      if (!p) {
        if (template) continue
        byStart.set(at.start, (p = {...at, rx: 0, tx: 0, samples: 0}))
        list.push(p)
      }
      p.rx += Number(r.received)
      p.tx += Number(r.sent)
      p.samples += Number(r.samples)
    }
    if (!template) {
      const ranked = list
        .map(p => shape(p, kind, now))
        .sort((a, b) => b.total_bytes - a.total_bytes || a.start_ms - b.start_ms)
        .slice(0, limit)
      ranked.forEach((p, i) => (p.rank = i + 1))
      return ranked
    }
    // Leading periods before the first data are left out (the current period always stays).
    let first = list.findIndex(p => p.samples > 0)
    if (first < 0) first = list.length - 1
    return list.slice(first).map(p => shape(p, kind, now))
  }
  const series: ReportSeries[] = []
  const keys = perDevice ? [...devices.keys()] : [0]
  for (const id of keys) {
    const periods = build(groups.get(id) ?? [])
    const totals = periods.reduce(
      (a, p) => ({rx_bytes: a.rx_bytes + p.rx_bytes, tx_bytes: a.tx_bytes + p.tx_bytes, total_bytes: a.total_bytes + p.total_bytes}),
      {
        rx_bytes: 0,
        tx_bytes: 0,
        total_bytes: 0,
      },
    )
    series.push({device: perDevice ? devices.get(id)! : single, periods, totals})
  }
  const pruned = wm > from ? wm : null
  return {
    kind,
    time_zone: tz,
    now: isoOf(now),
    now_ms: now,
    source: table,
    pruned_before: pruned === null ? null : isoOf(pruned),
    pruned_before_ms: pruned,
    series,
  }
}

// ---- --oneline ----

/** The --oneline field order (docs/BANDWIDTH.md); every byte count is bytes, every rate bit/s. */
export const ONELINE_FIELDS = [
  'version',
  'name',
  'today',
  'today_rx',
  'today_tx',
  'today_total',
  'today_avg_bps',
  'month',
  'month_rx',
  'month_tx',
  'month_total',
  'month_avg_bps',
  'all_rx',
  'all_tx',
  'all_total',
] as const

export interface OnelineRecord {
  device: ReportDevice | null
  fields: Record<(typeof ONELINE_FIELDS)[number], string | number>
  line: string
}

/** Today's and this month's figures plus the all-time totals (bw_totals: since the accounting start/reset). */
export async function onelineReport(store: Store, opts: Omit<ReportOptions, 'kind' | 'limit' | 'since'>): Promise<OnelineRecord[]> {
  const day = await bandwidthReport(store, {...opts, kind: 'daily', limit: 1})
  const month = await bandwidthReport(store, {...opts, kind: 'monthly', limit: 1})
  let deviceId: number | null = null
  if (opts.mac !== undefined) deviceId = Number((await findDevice(store, opts.mac))!.id)
  const allRows = await store.query<{mac: string | null; sent: number; received: number}>(
    opts.all
      ? 'SELECT d.mac, t.bytes_sent AS sent, t.bytes_received AS received FROM bw_totals t JOIN devices d ON d.id = t.device_id'
      : `SELECT NULL AS mac, coalesce(sum(bytes_sent), 0) AS sent, coalesce(sum(bytes_received), 0) AS received FROM bw_totals${deviceId === null ? '' : ' WHERE device_id = ?'}`,
    deviceId === null ? [] : [deviceId],
  )
  const all = new Map(allRows.map(r => [opts.all ? r.mac : null, r]))
  return day.series.map((s, i) => {
    const d = s.periods.at(-1)!
    const m = month.series[i]!.periods.at(-1)!
    const dev = s.device
    const a = all.get(opts.all ? (dev?.mac ?? null) : null)
    const allRx = Number(a?.received ?? 0)
    const allTx = Number(a?.sent ?? 0)
    const fields = {
      version: 1,
      name: dev === null ? 'network' : (dev.mac ?? dev.ip ?? ''),
      today: d.label,
      today_rx: d.rx_bytes,
      today_tx: d.tx_bytes,
      today_total: d.total_bytes,
      today_avg_bps: d.avg_bps ?? 0,
      month: m.label,
      month_rx: m.rx_bytes,
      month_tx: m.tx_bytes,
      month_total: m.total_bytes,
      month_avg_bps: m.avg_bps ?? 0,
      all_rx: allRx,
      all_tx: allTx,
      all_total: allRx + allTx,
    }
    return {device: dev, fields, line: ONELINE_FIELDS.map(k => String(fields[k]).replaceAll(';', ',')).join(';')}
  })
}

/**
 * Reads: `bandwidth stats`, `top` and `history` (issue 4). stats/top read the running totals
 * (one row per device, never raw samples); `top --since` and `history` read rollups for whole
 * buckets and raw samples only at the edges (windows.ts). Every query drives from bw_totals and
 * seeks each device's key range (CROSS JOIN pins that order), so it does not depend on ANALYZE.
 *
 * Shapes follow the seed (docs/BANDWIDTH.md), with `_bps` integers and ISO + epoch-ms timestamps.
 */
import {type BehindPort, devicesBehindPorts, portsOfMacs, type SeenOnPort} from '../collect/fdb.js'
import {invalidInput} from '../errors.js'
import {requireDevice} from '../devices/repo.js'
import {bpsToMbps, bytesToMb} from '../format/units.js'
import {isoOf} from '../format/time.js'
import type {Store} from '../store/index.js'
import {currentRate, peakShape, rateBps, rateTriple, type CurrentRate, type PeakShape, type RateTriple} from './rates.js'
import {issueRows, issueTotals, type IssueTotals} from './ifaceissues.js'
import {devicePorts, type PortTraffic} from './flows.js'
import {getRetention, LEVEL_MS, type Level} from './retention.js'
import {TOTALS_COLUMNS as TOTALS_ROW_COLUMNS, type TotalsRow} from './state.js'
import {planWindow, type Segment} from './windows.js'

/** A bw_totals row (state.ts owns its columns) with the device's identity. */
interface TotalsJoin extends TotalsRow {
  mac: string | null
  ip: string | null
  hostname: string | null
  /** The promoted name (`devices promote --name`), null when none. */
  name: string | null
}

const TOTALS_SELECT = `SELECT d.id AS device_id, d.mac, d.ip, d.hostname, t.since_ts, t.reset_ts, t.first_ts, t.last_ts,
  t.bytes_sent, t.bytes_received, t.sample_count, t.cur_ts, t.cur_sent, t.cur_received, t.cur_interval_ms,
  t.peak_bps, t.peak_ts, t.peak_up_bps, t.peak_up_ts, t.peak_down_bps, t.peak_down_ts, d.name`

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v))
const opt = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))

/** The device's current rate by the one staleness rule (rates.ts currentRate). */
function current(t: TotalsJoin, now: number | null): CurrentRate {
  return currentRate({curTs: opt(t.cur_ts), curSent: num(t.cur_sent), curReceived: num(t.cur_received), curIntervalMs: opt(t.cur_interval_ms)}, now)
}

const asOf = (c: CurrentRate) => ({current_as_of: c.asOf === null ? null : isoOf(c.asOf), current_as_of_ms: c.asOf})

export interface DeviceStats {
  ip: string | null
  mac: string | null
  hostname: string | null
  /** The promoted name (`devices promote --name`), null when none. */
  name: string | null
  /** 0 with stale: true when the latest sample is older than stale_after_ms (rates.ts currentRate). */
  current: RateTriple & {sample_ts: string | null; sample_ts_ms: number | null; stale: boolean; stale_after_ms: number}
  /** When the current rate was measured (the latest sample), null without samples. */
  current_as_of: string | null
  current_as_of_ms: number | null
  total: {bytes_sent: number; bytes_received: number; total_bytes: number; total_mb: number}
  average: RateTriple
  peak: PeakShape & {upload: PeakShape; download: PeakShape}
  uptime_seconds: number
  sample_count: number
  first_seen: string | null
  first_seen_ms: number | null
  last_update: string | null
  last_update_ms: number | null
  reset_at: string | null
  reset_at_ms: number | null
  /** Interface devices only (absent otherwise): kernel errors/drops each way since the accounting start. */
  interface_issues?: IssueTotals
  /** `stats --mac` only: the device's top 10 (protocol, port) over the retained hourly buckets (flows.ts; [] without flow data). */
  by_port?: PortTraffic[]
  /** `stats --mac` of an SNMP switch port with forwarding data only: the MACs behind it now (collect/fdb.ts). */
  behind?: BehindPort[]
  /** `stats --mac` of a device a switch has in its forwarding table now: on which port(s). */
  seen_on?: SeenOnPort[]
}

/** `now` null: the latest interval's rate without the staleness rule (the export dataset's raw snapshot). */
export function deviceStatsShape(t: TotalsJoin, now: number | null): DeviceStats {
  const cur = current(t, now)
  const sent = num(t.bytes_sent)
  const received = num(t.bytes_received)
  // Uptime: first seen (the accounting start or the first sample, whichever is earlier) → last update.
  const starts = [opt(t.since_ts), opt(t.first_ts)].filter((x): x is number => x !== null)
  const first = starts.length ? Math.min(...starts) : null
  const last = opt(t.last_ts)
  const uptimeMs = first !== null && last !== null && last > first ? last - first : 0
  return {
    ip: t.ip,
    mac: t.mac,
    hostname: t.hostname,
    name: t.name ?? null,
    current: {
      ...rateTriple(cur.up, cur.down),
      sample_ts: t.cur_ts === null ? null : isoOf(Number(t.cur_ts)),
      sample_ts_ms: opt(t.cur_ts),
      stale: cur.stale,
      stale_after_ms: cur.staleAfterMs,
    },
    ...asOf(cur),
    total: {bytes_sent: sent, bytes_received: received, total_bytes: sent + received, total_mb: bytesToMb(sent + received)},
    average: rateTriple(rateBps(sent, uptimeMs), rateBps(received, uptimeMs)),
    peak: {
      ...peakShape(opt(t.peak_bps), opt(t.peak_ts)),
      upload: peakShape(opt(t.peak_up_bps), opt(t.peak_up_ts)),
      download: peakShape(opt(t.peak_down_bps), opt(t.peak_down_ts)),
    },
    uptime_seconds: uptimeMs / 1000,
    sample_count: num(t.sample_count),
    first_seen: first === null ? null : isoOf(first),
    first_seen_ms: first,
    last_update: last === null ? null : isoOf(last),
    last_update_ms: last,
    reset_at: t.reset_ts === null ? null : isoOf(Number(t.reset_ts)),
    reset_at_ms: opt(t.reset_ts),
  }
}

async function requireBandwidthDevice(store: Store, macOrIp: string): Promise<TotalsJoin> {
  const d = await requireDevice(store, macOrIp, 'list devices with `netmon devices list`, or register one with `netmon bandwidth register --ip IP --mac MAC`')
  const row = await store.get<TotalsJoin>(`${TOTALS_SELECT} FROM devices d LEFT JOIN bw_totals t ON t.device_id = d.id WHERE d.id = ?`, [d.id])
  return row!
}

export async function deviceStats(store: Store, macOrIp: string, opts: {now?: number} = {}): Promise<{device: DeviceStats}> {
  const t = await requireBandwidthDevice(store, macOrIp)
  const device = deviceStatsShape(t, opts.now ?? Date.now())
  const issues = (await issueTotals(store, [Number(t.device_id)])).get(Number(t.device_id))
  if (issues) device.interface_issues = issues
  // Traffic by protocol/port (flow sources only; empty for counter-only devices).
  device.by_port = await devicePorts(store, Number(t.device_id), 10)
  if (t.mac) {
    const behind = (await devicesBehindPorts(store, [t.mac])).get(t.mac)
    if (behind) device.behind = behind
    const seen = (await portsOfMacs(store, [t.mac])).get(t.mac)
    if (seen) device.seen_on = seen
  }
  return {device}
}

export interface NetworkDevice {
  ip: string | null
  mac: string | null
  hostname: string | null
  /** The promoted name, null when none. */
  name: string | null
  current_mbps: number
  current_bps: number
  /** The latest sample is too old for "now": current is 0. */
  stale: boolean
  current_as_of: string | null
  current_as_of_ms: number | null
  total_mb: number
  bytes_sent: number
  bytes_received: number
  total_bytes: number
  last_update: string | null
  last_update_ms: number | null
  /** Interface devices only (absent otherwise): errors/drops each way since the accounting start. */
  interface_issues?: IssueTotals
}

export interface NetworkStats {
  /** Current rates sum the devices whose current is not stale; stale_devices counts the others. */
  network: RateTriple & {
    bytes_sent: number
    bytes_received: number
    total_bytes: number
    total_mb: number
    stale_devices: number
    current_as_of: string | null
    current_as_of_ms: number | null
    /** Summed over the devices that have them; absent when none does. */
    interface_issues?: IssueTotals
  }
  devices_count: number
  devices: NetworkDevice[]
}

/** bw_totals' columns (state.ts owns them) with the device's identity after the id. */
const TOTALS_COLUMNS = ['device_id', 'mac', 'ip', 'hostname', ...TOTALS_ROW_COLUMNS.slice(1), 'name'] as const

/**
 * Many rows as ONE JSON value: the client builds a row object per result row with a property per
 * column, which for 1,000 totals rows × 21 columns cost ~50 ms against ~1 ms for SQLite to produce
 * them (bench/bandwidth-query); one text cell and JSON.parse cost ~2 ms. `cols` are the
 * subquery's column names, in order; `row` turns one array into a row object of a fixed shape (a
 * loop assigning computed keys made dictionary-mode objects: ~3 ms per 1,000 rows).
 */
async function jsonRows<T>(store: Store, sql: string, args: (number | string)[], cols: readonly string[], row: (a: unknown[]) => T): Promise<T[]> {
  const r = await store.get<{j: string}>(`SELECT json_group_array(json_array(${cols.join(', ')})) AS j FROM (${sql})`, args)
  return (JSON.parse(r?.j ?? '[]') as unknown[][]).map(row)
}

const totalsRow = (a: unknown[]): TotalsJoin =>
  ({
    device_id: a[0],
    mac: a[1],
    ip: a[2],
    hostname: a[3],
    since_ts: a[4],
    reset_ts: a[5],
    first_ts: a[6],
    last_ts: a[7],
    bytes_sent: a[8],
    bytes_received: a[9],
    sample_count: a[10],
    cur_ts: a[11],
    cur_sent: a[12],
    cur_received: a[13],
    cur_interval_ms: a[14],
    peak_bps: a[15],
    peak_ts: a[16],
    peak_up_bps: a[17],
    peak_up_ts: a[18],
    peak_down_bps: a[19],
    peak_down_ts: a[20],
    name: a[21],
  }) as TotalsJoin

/** SQLite's ORDER BY mac (NULLs first, then bytewise: MACs are ASCII), then id. */
const byMac = (a: TotalsJoin, b: TotalsJoin): number =>
  a.mac === b.mac ? a.device_id - b.device_id : a.mac === null ? -1 : b.mac === null ? 1 : a.mac < b.mac ? -1 : 1

async function allTotals(store: Store): Promise<TotalsJoin[]> {
  const rows = await jsonRows<TotalsJoin>(store, `${TOTALS_SELECT} FROM bw_totals t JOIN devices d ON d.id = t.device_id`, [], TOTALS_COLUMNS, totalsRow)
  return rows.sort(byMac)
}

/** All devices: network current rates are the sum of each device's current rate (stale ones are 0). */
export async function networkStats(store: Store, opts: {now?: number} = {}): Promise<NetworkStats> {
  const now = opts.now ?? Date.now()
  const rows = await allTotals(store)
  const issues = await issueTotals(store)
  const netIssues: IssueTotals | undefined = issues.size ? {tx_errors: 0, rx_errors: 0, tx_drops: 0, rx_drops: 0} : undefined
  let stale = 0
  let newest: number | null = null
  let up = 0
  let down = 0
  let sent = 0
  let received = 0
  const devices: NetworkDevice[] = rows.map(t => {
    const c = current(t, now)
    if (c.stale) stale++
    else if (c.asOf !== null && (newest === null || c.asOf > newest)) newest = c.asOf
    up += c.up ?? 0
    down += c.down ?? 0
    const s = num(t.bytes_sent)
    const r = num(t.bytes_received)
    sent += s
    received += r
    const bps = (c.up ?? 0) + (c.down ?? 0)
    const iss = issues.get(Number(t.device_id))
    if (iss && netIssues) for (const k of ISSUE_KEYS) netIssues[k] += iss[k]
    return {
      ...(iss ? {interface_issues: iss} : {}),
      ip: t.ip,
      mac: t.mac,
      hostname: t.hostname,
      name: t.name ?? null,
      current_mbps: bpsToMbps(bps),
      current_bps: Math.round(bps),
      stale: c.stale,
      ...asOf(c),
      total_mb: bytesToMb(s + r),
      bytes_sent: s,
      bytes_received: r,
      total_bytes: s + r,
      last_update: t.last_ts === null ? null : isoOf(Number(t.last_ts)),
      last_update_ms: opt(t.last_ts),
    }
  })
  return {
    network: {
      ...rateTriple(up, down),
      bytes_sent: sent,
      bytes_received: received,
      total_bytes: sent + received,
      total_mb: bytesToMb(sent + received),
      stale_devices: stale,
      current_as_of: newest === null ? null : isoOf(newest),
      current_as_of_ms: newest,
      ...(netIssues ? {interface_issues: netIssues} : {}),
    },
    devices_count: devices.length,
    devices,
  }
}

const ISSUE_KEYS = ['tx_errors', 'rx_errors', 'tx_drops', 'rx_drops'] as const

export type TopSort = 'total' | 'upload' | 'download' | 'current'

export interface TopTalker {
  rank: number
  ip: string | null
  mac: string | null
  hostname: string | null
  /** The promoted name, null when none. */
  name: string | null
  current_mbps: number
  current_bps: number
  stale: boolean
  current_as_of: string | null
  current_as_of_ms: number | null
  total_mb: number
  total_bytes_sent: number
  total_bytes_received: number
  total_bytes: number
  peak_mbps: number
  peak_bps: number
}

export interface TopResult {
  sort_by: TopSort
  count: number
  /** Present with --since: the window the totals cover (widened to bucket edges where raw data was pruned). */
  window?: {since: string; since_ms: number; until: string; until_ms: number; requested_since_ms: number; requested_until_ms: number; widened: boolean}
  top_talkers: TopTalker[]
}

interface WindowRow {
  device_id: number
  sent: number
  received: number
  peak: number | null
}

/**
 * One window segment's [sent, received, peak] for the device `t.device_id`: a correlated
 * aggregate over its key range (rollups for whole buckets, raw samples for the edges).
 */
function segmentSql(seg: Segment): string {
  if (seg.level === 'raw') {
    return `(SELECT json_array(sum(s.sent), sum(s.received),
               max(CASE WHEN s.interval_ms > 0 THEN CAST(round((s.sent + s.received) * 8000.0 / s.interval_ms) AS INTEGER) END))
             FROM bw_samples s WHERE s.device_id = t.device_id AND s.ts >= ? AND s.ts < ?)`
  }
  return `(SELECT json_array(sum(r.sent), sum(r.received), max(r.peak_bps))
           FROM bw_rollup_${seg.level} r WHERE r.device_id = t.device_id AND r.bucket >= ? AND r.bucket < ?)`
}

/**
 * Per-device bytes and peak rate inside a planned window. Driven from bw_totals, each segment is
 * one seek per device and the sums are added here: measured on 1,000 devices × a day, this is
 * ~2× faster than one UNION ALL of the segments with GROUP BY, whose ~40k rows go through a
 * temporary B-tree; the whole answer comes back as one JSON value (see jsonRows).
 */
async function windowTraffic(store: Store, segments: Segment[]): Promise<Map<number, WindowRow>> {
  const out = new Map<number, WindowRow>()
  if (segments.length === 0) return out
  const r = await store.get<{j: string}>(
    `SELECT json_group_array(json_array(t.device_id, ${segments.map(segmentSql).join(', ')})) AS j FROM bw_totals t`,
    segments.flatMap(s => [s.from, s.to]),
  )
  type Part = [number | null, number | null, number | null] | string | null
  for (const row of JSON.parse(r?.j ?? '[]') as unknown[][]) {
    const id = row[0] as number
    let sent = 0
    let received = 0
    let peak: number | null = null
    let any = false
    for (const x of row.slice(1) as Part[]) {
      // json_array() nests the subquery's JSON as an array where SQLite keeps its JSON subtype
      // across the subquery; where it does not, the part arrives as text.
      const p = typeof x === 'string' ? (JSON.parse(x) as Exclude<Part, string>) : x
      if (!p || p[0] === null) continue
      any = true
      sent += p[0]
      received += p[1] ?? 0
      if (p[2] !== null && (peak === null || p[2] > peak)) peak = p[2]
    }
    if (any) out.set(id, {device_id: id, sent, received, peak})
  }
  return out
}

export interface TopOptions {
  limit: number
  sort: TopSort
  since?: number
  until?: number
  now?: number
}

export async function topTalkers(store: Store, opts: TopOptions): Promise<TopResult> {
  const now = opts.now ?? Date.now()
  const rows = await allTotals(store)
  let window: TopResult['window']
  let traffic: Map<number, WindowRow> | null = null
  if (opts.since !== undefined) {
    const until = opts.until ?? now
    const {watermarks} = await getRetention(store)
    const plan = planWindow(opts.since, until, watermarks)
    traffic = await windowTraffic(store, plan.segments)
    window = {
      since: isoOf(plan.since),
      since_ms: plan.since,
      until: isoOf(plan.until),
      until_ms: plan.until,
      requested_since_ms: opts.since,
      requested_until_ms: until,
      widened: plan.widened,
    }
  }
  const items = rows.map(t => {
    const c = current(t, now)
    const w = traffic?.get(Number(t.device_id))
    const sent = traffic ? (w?.sent ?? 0) : num(t.bytes_sent)
    const received = traffic ? (w?.received ?? 0) : num(t.bytes_received)
    const peak = traffic ? (w?.peak ?? 0) : num(t.peak_bps)
    const curBps = (c.up ?? 0) + (c.down ?? 0)
    return {t, sent, received, peak, curBps, c}
  })
  const key = (x: (typeof items)[number]): number =>
    opts.sort === 'upload' ? x.sent : opts.sort === 'download' ? x.received : opts.sort === 'current' ? x.curBps : x.sent + x.received
  // Within a window, devices with no traffic in it are not talkers.
  const ranked = items
    .filter(x => !traffic || x.sent + x.received > 0)
    .sort((a, b) => key(b) - key(a) || String(a.t.mac).localeCompare(String(b.t.mac)))
    .slice(0, opts.limit)
  const top_talkers: TopTalker[] = ranked.map((x, i) => ({
    rank: i + 1,
    ip: x.t.ip,
    mac: x.t.mac,
    hostname: x.t.hostname,
    name: x.t.name ?? null,
    current_mbps: bpsToMbps(x.curBps),
    current_bps: Math.round(x.curBps),
    stale: x.c.stale,
    ...asOf(x.c),
    total_mb: bytesToMb(x.sent + x.received),
    total_bytes_sent: x.sent,
    total_bytes_received: x.received,
    total_bytes: x.sent + x.received,
    peak_mbps: bpsToMbps(x.peak),
    peak_bps: x.peak,
  }))
  return {sort_by: opts.sort, count: top_talkers.length, ...(window ? {window} : {}), top_talkers}
}

export type HistoryResolution = Level | 'auto'

export interface HistoryPoint {
  ts: string
  ts_ms: number
  bytes_sent: number
  bytes_received: number
  total_bytes: number
  /** raw: the sample's rate; rollups: the bucket's average rate (bytes × 8 / bucket length). */
  upload_bps: number | null
  download_bps: number | null
  total_bps: number | null
  total_mbps: number | null
  samples: number
  /** Highest per-sample total rate in the point (raw: the sample's own rate). */
  peak_bps: number | null
  interval_ms: number | null
  /** Interface devices only: kernel errors/drops counted in the point (raw: that reading's interval). */
  tx_errors?: number
  rx_errors?: number
  tx_drops?: number
  rx_drops?: number
}

export interface HistoryResult {
  /** null: the network total (every device summed per point). */
  device: {ip: string | null; mac: string | null; hostname: string | null; name: string | null} | null
  resolution: Level
  since: string
  since_ms: number
  until: string
  until_ms: number
  widened: boolean
  /** This resolution's rows before this time were deleted by retention (null: the window is complete). */
  pruned_before: string | null
  pruned_before_ms: number | null
  points: HistoryPoint[]
  totals: {bytes_sent: number; bytes_received: number; total_bytes: number; total_mb: number; samples: number} & Partial<IssueTotals>
}

export interface HistoryOptions {
  since: number
  until: number
  resolution: HistoryResolution
}

/** auto: the finest level giving at most ~600 points over the window. */
export function autoResolution(spanMs: number): Level {
  if (spanMs <= 6 * 3_600_000) return 'raw'
  if (spanMs <= 2 * 86_400_000) return '5m'
  if (spanMs <= 25 * 86_400_000) return '1h'
  return '1d'
}

/**
 * One device's history, or with `macOrIp` undefined the network total: every device's rollup rows
 * summed per bucket (raw samples are not summed: devices sample at different instants, so the
 * network total is per 5m/1h/1d bucket, and auto picks 5m where a device would get raw).
 */
export async function history(store: Store, macOrIp: string | undefined, opts: HistoryOptions): Promise<HistoryResult> {
  const d = macOrIp === undefined ? null : await requireBandwidthDevice(store, macOrIp)
  if (d === null && opts.resolution === 'raw') {
    throw invalidInput('the network total has no raw resolution', "use 5m, 1h, 1d or auto, or give --device for one device's raw samples")
  }
  const {watermarks} = await getRetention(store)
  let level: Level = opts.resolution === 'auto' ? autoResolution(opts.until - opts.since) : opts.resolution
  if (d === null && level === 'raw') level = '5m'
  // Raw rows are gone before the raw watermark: auto falls back to the finest complete level.
  if (opts.resolution === 'auto') {
    const order: Level[] = ['raw', '5m', '1h', '1d']
    while (level !== '1d' && opts.since < watermarks[level]) level = order[order.indexOf(level) + 1]!
  }
  // An explicit resolution over a window that retention has already thinned: say so, rather than
  // let missing rows read as "no traffic" (auto never gets here: it moved to a kept level).
  const prunedBefore = watermarks[level] > opts.since ? watermarks[level] : null
  const size = LEVEL_MS[level]
  const since = level === 'raw' ? opts.since : Math.floor(opts.since / size) * size
  const until = level === 'raw' ? opts.until : Math.ceil(opts.until / size) * size
  let points: HistoryPoint[]
  if (level === 'raw') {
    const rows = await store.query<{ts: number; sent: number; received: number; interval_ms: number | null}>(
      `SELECT ts, sent, received, interval_ms FROM bw_samples WHERE device_id = ? AND ts >= ? AND ts < ? ORDER BY ts`,
      [d!.device_id, since, until],
    )
    points = rows.map(r => {
      const iv = opt(r.interval_ms)
      const s = num(r.sent)
      const rc = num(r.received)
      const up = rateBps(s, iv)
      const down = rateBps(rc, iv)
      const total = up === null || down === null ? null : up + down
      return {
        ts: isoOf(Number(r.ts)),
        ts_ms: Number(r.ts),
        bytes_sent: s,
        bytes_received: rc,
        total_bytes: s + rc,
        upload_bps: up === null ? null : Math.round(up),
        download_bps: down === null ? null : Math.round(down),
        total_bps: total === null ? null : Math.round(total),
        total_mbps: total === null ? null : bpsToMbps(total),
        samples: 1,
        peak_bps: total === null ? null : Math.round(total),
        interval_ms: iv,
      }
    })
  } else {
    const rows = await store.query<{bucket: number; sent: number; received: number; samples: number; peak_bps: number | null}>(
      d === null
        ? // Driven from bw_totals, one seek per device's key range (see the header), summed per bucket.
          // No network peak: the devices' fastest samples were not at the same instant.
          `SELECT r.bucket, sum(r.sent) AS sent, sum(r.received) AS received, sum(r.samples) AS samples, NULL AS peak_bps
             FROM bw_totals t CROSS JOIN bw_rollup_${level} r ON r.device_id = t.device_id AND r.bucket >= ? AND r.bucket < ?
            GROUP BY r.bucket ORDER BY r.bucket`
        : `SELECT bucket, sent, received, samples, peak_bps FROM bw_rollup_${level} WHERE device_id = ? AND bucket >= ? AND bucket < ? ORDER BY bucket`,
      d === null ? [since, until] : [d.device_id, since, until],
    )
    points = rows.map(r => {
      const s = num(r.sent)
      const rc = num(r.received)
      const up = (s * 8000) / size
      const down = (rc * 8000) / size
      return {
        ts: isoOf(Number(r.bucket)),
        ts_ms: Number(r.bucket),
        bytes_sent: s,
        bytes_received: rc,
        total_bytes: s + rc,
        upload_bps: Math.round(up),
        download_bps: Math.round(down),
        total_bps: Math.round(up + down),
        total_mbps: bpsToMbps(up + down),
        samples: num(r.samples),
        peak_bps: opt(r.peak_bps),
        interval_ms: size,
      }
    })
  }
  // Errors/drops (interface devices): each interval's counts into the point that holds its reading.
  const hasIssues = d !== null && (await issueTotals(store, [Number(d.device_id)])).size > 0
  let issueSum: IssueTotals | undefined
  if (hasIssues) {
    issueSum = {tx_errors: 0, rx_errors: 0, tx_drops: 0, rx_drops: 0}
    const at = new Map<number, HistoryPoint>()
    for (const p of points) {
      for (const k of ISSUE_KEYS) p[k] = 0
      at.set(p.ts_ms, p)
    }
    for (const r of await issueRows(store, Number(d!.device_id), since, until)) {
      const p = at.get(level === 'raw' ? r.ts : Math.floor(r.ts / size) * size)
      if (!p) continue
      for (const k of ISSUE_KEYS) {
        p[k]! += r[k]
        issueSum[k] += r[k]
      }
    }
  }
  const totals = points.reduce(
    (a, p) => ({bytes_sent: a.bytes_sent + p.bytes_sent, bytes_received: a.bytes_received + p.bytes_received, samples: a.samples + p.samples}),
    {bytes_sent: 0, bytes_received: 0, samples: 0},
  )
  return {
    device: d === null ? null : {ip: d.ip, mac: d.mac, hostname: d.hostname, name: d.name ?? null},
    resolution: level,
    since: isoOf(since),
    since_ms: since,
    until: isoOf(until),
    until_ms: until,
    widened: since !== opts.since || until !== opts.until,
    pruned_before: prunedBefore === null ? null : isoOf(prunedBefore),
    pruned_before_ms: prunedBefore,
    points,
    totals: {
      ...totals,
      total_bytes: totals.bytes_sent + totals.bytes_received,
      total_mb: bytesToMb(totals.bytes_sent + totals.bytes_received),
      ...issueSum,
    },
  }
}

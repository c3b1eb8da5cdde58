/**
 * `netmon latency history HOST`: the stored probes of an address (by IP), a device (by MAC, via
 * the run's device link) or a name as typed at measurement time, as raw probes or time buckets.
 *
 * Buckets are summarised with the same summarize() as a live run. Jitter inside a bucket uses the
 * differences between consecutive replies OF THE SAME RUN (two runs that overlap in time are two
 * series; their interleaving is not jitter); a difference belongs to the bucket of its later reply.
 * Buckets are aligned to UTC multiples of their size; ranges include since and exclude until.
 */
import {findDevice, findDeviceByMac, type DeviceRow} from '../devices/repo.js'
import {ipVersion, normalizeIp} from '../devices/ip.js'
import {tryNormalizeMac} from '../devices/mac.js'
import {invalidInput, notFound} from '../errors.js'
import {stamp, type Stamp} from '../format/time.js'
import type {Store} from '../store/index.js'
import type {Method, ProbeStatus} from './probe.js'
import {summarize, type Grade, type LatencyStats} from './stats.js'
import {isHostName} from './targets.js'

export const RESOLUTIONS = ['auto', 'raw', '1m', '5m', '1h'] as const
export type Resolution = (typeof RESOLUTIONS)[number]
const BUCKET_MS: Record<Exclude<Resolution, 'auto' | 'raw'>, number> = {'1m': 60_000, '5m': 300_000, '1h': 3_600_000}
/** auto: raw up to this many probes, else the finest bucket giving at most this many points. */
export const AUTO_MAX_POINTS = 1500

export interface HistoryOptions {
  target: string
  since: number
  until: number
  resolution: Resolution
  /** Only runs of this method (default: all). */
  method?: Method
}

export interface RawPoint {
  ts: string
  ts_ms: number
  rtt_ms: number | null
  status: ProbeStatus
  run_id: number
  seq: number
}

export interface BucketPoint extends LatencyStats {
  /** Bucket start. */
  ts: string
  ts_ms: number
}

export interface RunSummary {
  id: number
  host: string
  ip: string
  method: Method
  port: number | null
  started: Stamp
  ended: Stamp
  sent: number
  received: number
  loss_pct: number
  avg_ms: number | null
  median_ms: number | null
  jitter_ms: number | null
  grade: Grade | null
}

export interface LatencyHistory {
  query: string
  /** How HOST was matched: an address, a device (MAC; `device`: its promoted name or inventory hostname) or the name used when measuring. */
  matched_by: 'ip' | 'mac' | 'device' | 'host'
  ip: string | null
  device: {id: number; mac: string | null; ip: string | null; name: string | null; hostname: string | null} | null
  since: Stamp
  until: Stamp
  method: Method | null
  resolution: Exclude<Resolution, 'auto'>
  bucket_ms: number | null
  /** Over every probe in the range. */
  summary: LatencyStats
  runs: RunSummary[]
  points: RawPoint[] | BucketPoint[]
}

interface ProbeRow {
  run_id: number
  seq: number
  ts: number
  rtt_ms: number | null
  status: ProbeStatus
}

/**
 * The device a name (promoted name or hostname: devices/resolve.ts) finds: its linked runs, unless
 * it has none and runs were measured under that very name (then those: undefined here). No device:
 * undefined, and the name is matched against the names typed when measuring. Ambiguous names
 * throw (exit 2).
 */
async function namedDevice(store: Store, query: string): Promise<DeviceRow | undefined> {
  const d = await findDevice(store, query)
  if (!d) return undefined
  if (await store.get('SELECT 1 FROM latency_runs WHERE device_id = ? LIMIT 1', [d.id])) return d
  return (await store.get('SELECT 1 FROM latency_runs WHERE host = ? COLLATE NOCASE LIMIT 1', [query])) ? undefined : d
}

export async function latencyHistory(store: Store, opts: HistoryOptions): Promise<LatencyHistory> {
  const query = opts.target.trim()
  if (!(opts.until > opts.since)) throw invalidInput('--until must be later than --since', 'e.g. --since 24h --until now')
  let where: string
  let arg: string | number
  let matched: LatencyHistory['matched_by']
  let device: DeviceRow | undefined
  let ip: string | null = null
  const mac = tryNormalizeMac(query)
  if (ipVersion(query)) {
    matched = 'ip'
    ip = normalizeIp(query)
    where = 'r.ip = ?'
    arg = ip
    device = await store.get<DeviceRow>('SELECT * FROM devices WHERE ip = ? ORDER BY last_seen DESC LIMIT 1', [ip])
  } else if (mac) {
    matched = 'mac'
    device = await findDeviceByMac(store, mac)
    if (!device) throw notFound(`no device with MAC ${mac} in the store`, 'query by IP instead, or check the inventory with `netmon devices list`')
    where = 'r.device_id = ?'
    arg = device.id
    ip = device.ip
  } else if ((device = await namedDevice(store, query))) {
    // A promoted name or an inventory hostname (devices/resolve.ts).
    matched = 'device'
    where = 'r.device_id = ?'
    arg = device.id
    ip = device.ip
  } else if (isHostName(query)) {
    matched = 'host'
    const any = await store.get<{ip: string}>('SELECT ip FROM latency_runs WHERE host = ? COLLATE NOCASE ORDER BY ended_at DESC LIMIT 1', [query])
    if (!any) throw notFound(`no latency runs for host "${query}"`, 'query by the IP address or MAC, or measure it with `netmon latency ' + query + '`')
    where = 'r.host = ? COLLATE NOCASE'
    arg = query
    ip = any.ip
  } else {
    throw invalidInput(`invalid host "${opts.target}"`, 'give an IP address, a MAC address, or the host name used when measuring')
  }

  if (opts.method) {
    where += ' AND r.method = ?'
  }
  const filterArgs: (string | number)[] = opts.method ? [arg, opts.method] : [arg]
  const range = [opts.since, opts.until]
  const [runRows, probeRows] = await store.readBatch([
    {
      sql: `SELECT id, host, ip, method, port, started_at, ended_at, sent, received, loss_pct, avg_ms, median_ms, jitter_ms, grade
            FROM latency_runs r WHERE ${where} AND r.ended_at >= ? AND r.started_at < ? ORDER BY r.started_at, r.id`,
      args: [...filterArgs, ...range],
    },
    {
      sql: `SELECT p.run_id, p.seq, p.ts, p.rtt_ms, p.status
            FROM latency_runs r JOIN latency_probes p ON p.run_id = r.id
            WHERE ${where} AND r.ended_at >= ? AND r.started_at < ? AND p.ts >= ? AND p.ts < ?
            ORDER BY p.run_id, p.seq`,
      args: [...filterArgs, ...range, ...range],
    },
  ])
  const probes = probeRows as unknown as ProbeRow[]
  const runs: RunSummary[] = (runRows as Record<string, unknown>[]).map(r => ({
    id: Number(r.id),
    host: String(r.host),
    ip: String(r.ip),
    method: r.method as Method,
    port: r.port === null ? null : Number(r.port),
    started: stamp(Number(r.started_at)),
    ended: stamp(Number(r.ended_at)),
    sent: Number(r.sent),
    received: Number(r.received),
    loss_pct: Number(r.loss_pct),
    avg_ms: r.avg_ms === null ? null : Number(r.avg_ms),
    median_ms: r.median_ms === null ? null : Number(r.median_ms),
    jitter_ms: r.jitter_ms === null ? null : Number(r.jitter_ms),
    grade: (r.grade ?? null) as Grade | null,
  }))

  // Jitter differences within each run (rows are in run, seq order), tagged with the later probe.
  const diffs: {ts: number; d: number}[] = []
  let prevRun = -1
  let prevRtt: number | null = null
  for (const p of probes) {
    if (p.run_id !== prevRun) {
      prevRun = p.run_id
      prevRtt = null
    }
    if (p.rtt_ms === null) continue
    if (prevRtt !== null) diffs.push({ts: p.ts, d: Math.abs(p.rtt_ms - prevRtt)})
    prevRtt = p.rtt_ms
  }
  const byTime = [...probes].sort((a, b) => a.ts - b.ts || a.run_id - b.run_id || a.seq - b.seq)
  const summary = summarize(
    byTime.map(p => p.rtt_ms),
    diffs.map(x => x.d),
  )

  let resolution: Exclude<Resolution, 'auto'> = opts.resolution === 'auto' ? 'raw' : opts.resolution
  if (opts.resolution === 'auto' && probes.length > AUTO_MAX_POINTS) {
    const span = opts.until - opts.since
    resolution = (['1m', '5m', '1h'] as const).find(r => span / BUCKET_MS[r] <= AUTO_MAX_POINTS) ?? '1h'
  }

  let points: RawPoint[] | BucketPoint[]
  let bucketMs: number | null = null
  if (resolution === 'raw') {
    points = byTime.map(p => ({ts: stamp(p.ts).iso, ts_ms: p.ts, rtt_ms: p.rtt_ms, status: p.status, run_id: p.run_id, seq: p.seq}))
  } else {
    const size = (bucketMs = BUCKET_MS[resolution])
    const buckets = new Map<number, {rtts: (number | null)[]; diffs: number[]}>()
    const at = (ts: number) => {
      const k = Math.floor(ts / size) * size
      let b = buckets.get(k)
      if (!b) buckets.set(k, (b = {rtts: [], diffs: []}))
      return b
    }
    for (const p of byTime) at(p.ts).rtts.push(p.rtt_ms)
    for (const x of diffs) at(x.ts).diffs.push(x.d)
    points = [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([k, b]) => ({ts: stamp(k).iso, ts_ms: k, ...summarize(b.rtts, b.diffs)}))
  }

  return {
    query,
    matched_by: matched,
    ip,
    device: device ? {id: device.id, mac: device.mac, ip: device.ip, name: device.name, hostname: device.hostname} : null,
    since: stamp(opts.since),
    until: stamp(opts.until),
    method: opts.method ?? null,
    resolution,
    bucket_ms: bucketMs,
    summary,
    runs,
    points,
  }
}

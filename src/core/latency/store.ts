/**
 * Persistence of latency runs (tables in migrations/004-latency.ts). Every write is one
 * BEGIN IMMEDIATE transaction: a run row (with its summary) plus all its probes in ONE
 * `INSERT … SELECT … FROM json_each(?)` (shared/FACTS.md: few, big statements).
 */
import type {Store} from '../store/index.js'
import type {Method, Probe} from './probe.js'
import type {LatencyStats} from './stats.js'
import type {Target} from './targets.js'

export interface DeviceRef {
  id: number
  mac: string | null
  name: string | null
  hostname: string | null
}

export interface RunRecord {
  target: Target
  method: Method
  port: number | null
  intervalMs: number
  timeoutMs: number
  startedAt: number
  endedAt: number
  stats: LatencyStats
  duplicates: number
  error: string | null
  /** In seq order. */
  probes: readonly Probe[]
}

export interface SavedRun {
  run_id: number
  device_id: number | null
}

/** The device currently at each address (most recently seen), for display before a run. */
export async function devicesByIp(store: Store, ips: readonly string[]): Promise<Map<string, DeviceRef>> {
  const out = new Map<string, DeviceRef>()
  if (ips.length === 0) return out
  const rows = await store.query<DeviceRef & {ip: string}>(
    `SELECT d.id, d.mac, d.name, d.hostname, d.ip FROM devices d
     JOIN json_each(?) j ON j.value = d.ip
     ORDER BY d.last_seen ASC`,
    [JSON.stringify([...new Set(ips)])],
  )
  // Ascending last_seen: the most recently seen device with an address wins.
  for (const r of rows) out.set(r.ip, {id: r.id, mac: r.mac, name: r.name, hostname: r.hostname})
  return out
}

/** Stores runs atomically; the device link is decided inside the transaction. */
export async function saveRuns(store: Store, runs: readonly RunRecord[]): Promise<SavedRun[]> {
  if (runs.length === 0) return []
  return store.writeTx(async tx => {
    const saved: SavedRun[] = []
    for (const r of runs) {
      const s = r.stats
      const row = await tx.get<{id: number; device_id: number | null}>(
        `INSERT INTO latency_runs (host, ip, device_id, method, port, interval_ms, timeout_ms, started_at, ended_at,
           sent, received, duplicates, loss_pct, min_ms, avg_ms, max_ms, median_ms, stddev_ms, jitter_ms, grade, error)
         VALUES (?, ?, (SELECT id FROM devices WHERE ip = ? ORDER BY last_seen DESC LIMIT 1), ?, ?, ?, ?, ?, ?,
           ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         RETURNING id, device_id`,
        [
          r.target.host,
          r.target.ip,
          r.target.ip,
          r.method,
          r.method === 'tcp' ? r.port : null,
          Math.round(r.intervalMs),
          Math.round(r.timeoutMs),
          Math.round(r.startedAt),
          Math.round(r.endedAt),
          s.sent,
          s.received,
          r.duplicates,
          s.loss_pct,
          s.min_ms,
          s.avg_ms,
          s.max_ms,
          s.median_ms,
          s.stddev_ms,
          s.jitter_ms,
          s.grade,
          r.error,
        ],
      )
      const id = Number(row!.id)
      if (r.probes.length > 0) {
        await tx.execute(
          `INSERT INTO latency_probes (run_id, seq, ts, rtt_ms, status)
           SELECT ?, value->>0, value->>1, value->>2, value->>3 FROM json_each(?)`,
          [id, JSON.stringify(r.probes.map(p => [p.seq, p.ts, p.rtt_ms, p.status]))],
        )
      }
      saved.push({run_id: id, device_id: row!.device_id === null ? null : Number(row!.device_id)})
    }
    return saved
  })
}

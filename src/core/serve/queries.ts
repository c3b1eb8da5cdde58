/**
 * Reads that only the server needs (no command prints them): the list of measured latency
 * targets with their latest run (dashboard latency panel, /metrics latency summaries).
 * Everything a command also shows is read through that command's core function instead.
 */
import {isoOf} from '../format/time.js'
import type {Store} from '../store/index.js'

export interface LatencyTarget {
  ip: string
  host: string
  method: 'icmp' | 'tcp'
  port: number | null
  device: {id: number; mac: string | null; name: string | null; hostname: string | null} | null
  /** Runs of this address (any method) in the window. */
  runs: number
  last: {
    run_id: number
    ended_at: string
    ended_at_ms: number
    sent: number
    received: number
    lost: number
    loss_pct: number
    min_ms: number | null
    avg_ms: number | null
    max_ms: number | null
    median_ms: number | null
    stddev_ms: number | null
    jitter_ms: number | null
    grade: string | null
  }
}

const n = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))

/**
 * The latest run per address that ended in [since, now], newest first. Walks the distinct
 * addresses through the (ip, ended_at) index (a skip-scan: one seek per address) and takes each
 * address's newest run by the same index, so a scrape costs O(addresses), not O(runs): `latency
 * --watch` stores a run every round, and /metrics is read every 15 s.
 */
export async function latencyTargets(store: Store, opts: {sinceMs: number; limit?: number}): Promise<LatencyTarget[]> {
  const rows = await store.query(
    `WITH RECURSIVE ips(ip) AS (
       SELECT (SELECT min(ip) FROM latency_runs)
       UNION ALL
       SELECT (SELECT min(ip) FROM latency_runs WHERE ip > ips.ip) FROM ips WHERE ips.ip IS NOT NULL
     )
     SELECT r.*, (SELECT count(*) FROM latency_runs x WHERE x.ip = r.ip AND x.ended_at >= ?1) AS runs_in_window,
            d.mac AS d_mac, d.name AS d_name, d.hostname AS d_hostname
       FROM ips
       JOIN latency_runs r ON r.id = (SELECT id FROM latency_runs l WHERE l.ip = ips.ip ORDER BY l.ended_at DESC, l.id DESC LIMIT 1)
       LEFT JOIN devices d ON d.id = r.device_id
      WHERE ips.ip IS NOT NULL AND r.ended_at >= ?1
      ORDER BY r.ended_at DESC, r.ip
      LIMIT ?2`,
    [opts.sinceMs, opts.limit ?? 500],
  )
  return rows.map(r => ({
    ip: String(r.ip),
    host: String(r.host),
    method: String(r.method) as 'icmp' | 'tcp',
    port: n(r.port),
    device:
      r.device_id === null || r.device_id === undefined
        ? null
        : {id: Number(r.device_id), mac: (r.d_mac as string) ?? null, name: (r.d_name as string) ?? null, hostname: (r.d_hostname as string) ?? null},
    runs: Number(r.runs_in_window),
    last: {
      run_id: Number(r.id),
      ended_at: isoOf(Number(r.ended_at)),
      ended_at_ms: Number(r.ended_at),
      sent: Number(r.sent),
      received: Number(r.received),
      lost: Number(r.sent) - Number(r.received),
      loss_pct: Number(r.loss_pct),
      min_ms: n(r.min_ms),
      avg_ms: n(r.avg_ms),
      max_ms: n(r.max_ms),
      median_ms: n(r.median_ms),
      stddev_ms: n(r.stddev_ms),
      jitter_ms: n(r.jitter_ms),
      grade: (r.grade as string | null) ?? null,
    },
  }))
}

/**
 * The seed bridge's clients address meters by number (`/meters/1/network_stats`): its meters
 * table numbered them 1, 2, … in the order they were added. A decimal `ref` is a meter's own id
 * or name when one has it (a config may use `id: "1"`); otherwise the N-th meter registered
 * (first `bridge run` with it: created_at, then config order), retired ones included, so a
 * number keeps naming the same meter. Anything else, or a number past the end, is left to the
 * command's lookup (and its 404).
 */
export async function resolveSeedMeter(store: Store, ref: string): Promise<{ref: string; number: number | null}> {
  if (!/^[1-9]\d{0,8}$/.test(ref)) return {ref, number: null}
  const own = await store.get('SELECT 1 FROM meters WHERE id = ? OR name = ?', [ref, ref])
  if (own) return {ref, number: Number(ref)}
  const nth = await store.get<{id: string}>('SELECT id FROM meters ORDER BY created_at, rowid LIMIT 1 OFFSET ?', [Number(ref) - 1])
  return nth ? {ref: String(nth.id), number: Number(ref)} : {ref, number: null}
}

/**
 * Retention for latency measurements. Per-probe rows are the bulk (`latency --watch` stores one
 * per host per interval: 86,400 a day per host at 1 s); run summaries are small and keep min/avg/
 * max/jitter/loss/grade, so history stays answerable from them after the probes are gone.
 * Default: probes 30 days, summaries forever (`netmon db prune --keep-latency-probes`).
 */
import type {Store} from '../store/index.js'

export const DEFAULT_PROBE_RETENTION_MS = 30 * 86_400_000

export interface LatencyPruneResult {
  keep_ms: number
  /** Probes of runs that ended before this are removed (null: kept forever). */
  before: string | null
  before_ms: number | null
  probes: number
}

export async function pruneLatencyProbes(store: Store, opts: {keepMs?: number; dryRun?: boolean; now?: number} = {}): Promise<LatencyPruneResult> {
  const keepMs = opts.keepMs ?? DEFAULT_PROBE_RETENTION_MS
  if (keepMs === 0) return {keep_ms: 0, before: null, before_ms: null, probes: 0}
  const cutoff = (opts.now ?? Date.now()) - keepMs
  const runs = 'SELECT id FROM latency_runs WHERE ended_at < ?'
  let probes: number
  if (opts.dryRun) {
    probes = Number((await store.get<{n: number}>(`SELECT count(*) AS n FROM latency_probes WHERE run_id IN (${runs})`, [cutoff]))?.n ?? 0)
  } else {
    const [r] = await store.batch([{sql: `DELETE FROM latency_probes WHERE run_id IN (${runs})`, args: [cutoff]}])
    probes = r!.rowsAffected
  }
  return {keep_ms: keepMs, before: new Date(cutoff).toISOString(), before_ms: cutoff, probes}
}

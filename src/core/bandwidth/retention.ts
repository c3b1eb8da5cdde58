/**
 * Retention (issue 4): raw samples 7 days, 5-minute rollups 30 days, hourly 1 year, daily forever
 * by default; configurable and stored in bw_settings. `netmon db prune` enforces it, and every
 * `bandwidth sample` does so automatically at most once an hour (cheap: one settings read).
 *
 * Cut-offs are aligned to the next coarser bucket (raw → 5 min, 5m → 1 h, 1h → 1 day) and
 * recorded as watermarks: "this level is complete from here on". Window queries (top --since,
 * history) use a level only where it is complete, so after pruning they answer from coarser
 * rollups with the same result (and report the effective window when it had to be widened).
 * Totals live in bw_totals and are never pruned.
 */
import {invalidInput} from '../errors.js'
import type {Store, Tx} from '../store/index.js'

export const DAY = 86_400_000
export const LEVEL_MS = {raw: 0, '5m': 300_000, '1h': 3_600_000, '1d': DAY} as const
export type Level = keyof typeof LEVEL_MS

export interface Retention {
  /** How long each level is kept, ms; 0 = forever. */
  raw: number
  '5m': number
  '1h': number
  '1d': number
}

export const DEFAULT_RETENTION: Retention = {raw: 7 * DAY, '5m': 30 * DAY, '1h': 365 * DAY, '1d': 0}

export type Watermarks = Record<Level, number>

const TABLE: Record<Level, {table: string; col: string}> = {
  raw: {table: 'bw_samples', col: 'ts'},
  '5m': {table: 'bw_rollup_5m', col: 'bucket'},
  '1h': {table: 'bw_rollup_1h', col: 'bucket'},
  '1d': {table: 'bw_rollup_1d', col: 'bucket'},
}
/** Each level's cut-off is aligned to the bucket of the level that answers for it afterwards. */
const ALIGN: Record<Level, number> = {raw: LEVEL_MS['5m'], '5m': LEVEL_MS['1h'], '1h': DAY, '1d': DAY}
const LEVELS: Level[] = ['raw', '5m', '1h', '1d']
const AUTO_PRUNE_EVERY_MS = 3_600_000

type Reader = Pick<Store, 'query'> | Pick<Tx, 'query'>

async function readSettings(db: Reader): Promise<Map<string, string>> {
  const rows = await db.query<{key: string; value: string}>(`SELECT key, value FROM bw_settings`)
  return new Map(rows.map(r => [String(r.key), String(r.value)]))
}

function retentionFrom(s: Map<string, string>): Retention {
  const r = {...DEFAULT_RETENTION}
  for (const l of LEVELS) {
    const v = s.get(`retention.${l}`)
    if (v !== undefined && Number.isFinite(Number(v))) r[l] = Number(v)
  }
  return r
}

function watermarksFrom(s: Map<string, string>): Watermarks {
  const w = {raw: 0, '5m': 0, '1h': 0, '1d': 0}
  for (const l of LEVELS) {
    const v = s.get(`watermark.${l}`)
    if (v !== undefined && Number.isFinite(Number(v))) w[l] = Number(v)
  }
  return w
}

export async function getRetention(db: Reader): Promise<{retention: Retention; watermarks: Watermarks}> {
  const s = await readSettings(db)
  return {retention: retentionFrom(s), watermarks: watermarksFrom(s)}
}

/** Raw ≤ 5m ≤ 1h ≤ 1d, each at least one bucket of the level that takes over from it. */
export function checkRetention(r: Retention): void {
  const eff = (v: number) => (v === 0 ? Infinity : v)
  const min: Record<Level, number> = {raw: LEVEL_MS['5m'], '5m': LEVEL_MS['1h'], '1h': DAY, '1d': DAY}
  for (const l of LEVELS) {
    if (!Number.isFinite(r[l]) || r[l] < 0) throw invalidInput(`retention for ${l} must be a duration or "forever"`)
    if (r[l] !== 0 && r[l] < min[l]) {
      throw invalidInput(`retention for ${l} must be at least ${min[l] / 60_000} minutes`, 'a level is kept at least one bucket of the next coarser level')
    }
  }
  for (let i = 1; i < LEVELS.length; i++) {
    const a = LEVELS[i - 1]!
    const b = LEVELS[i]!
    if (eff(r[a]) > eff(r[b])) {
      throw invalidInput(`retention for ${a} is longer than for ${b}`, 'coarser levels must be kept at least as long as finer ones (raw ≤ 5m ≤ 1h ≤ 1d)')
    }
  }
}

export interface PruneOptions {
  now?: number
  /** Overrides for this run (and saved with `save`). */
  retention?: Partial<Retention>
  save?: boolean
  dryRun?: boolean
}

export interface PruneResult {
  success: true
  dry_run: boolean
  saved: boolean
  retention: Record<Level, {keep_ms: number; keep: string}>
  /** Per level: rows older than `before` removed (or that would be, with --dry-run). */
  pruned: Record<Level, {before: string | null; before_ms: number | null; rows: number}>
}

const human = (ms: number) => (ms === 0 ? 'forever' : ms % DAY === 0 ? `${ms / DAY}d` : ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : `${ms / 60_000}m`)

async function pruneInTx(tx: Tx, opts: PruneOptions): Promise<PruneResult> {
  const now = opts.now ?? Date.now()
  const settings = await readSettings(tx)
  const retention = {...retentionFrom(settings), ...opts.retention}
  checkRetention(retention)
  const wm = watermarksFrom(settings)
  const pruned = {} as PruneResult['pruned']
  for (const l of LEVELS) {
    const keep = retention[l]
    if (keep === 0) {
      pruned[l] = {before: null, before_ms: null, rows: 0}
      continue
    }
    const align = ALIGN[l]
    const cutoff = Math.max(Math.floor((now - keep) / align) * align, wm[l])
    const {table, col} = TABLE[l]
    // Seek per device (the key is (device_id, …)) instead of scanning the whole table.
    const where = `device_id IN (SELECT device_id FROM bw_totals) AND ${col} < ?`
    let rows: number
    if (opts.dryRun) {
      const r = await tx.get<{n: number}>(`SELECT count(*) AS n FROM ${table} WHERE ${where}`, [cutoff])
      rows = Number(r?.n ?? 0)
    } else {
      rows = (await tx.execute(`DELETE FROM ${table} WHERE ${where}`, [cutoff])).rowsAffected
      // Interface errors/drops (sparse: only intervals that counted some) answer history at every
      // level, so they are kept as long as the 1h rollups, the finest level history reads for long windows.
      if (l === '1h') await tx.execute(`DELETE FROM bw_iface_errors WHERE device_id IN (SELECT device_id FROM bw_totals) AND ts < ?`, [cutoff])
      // Traffic by protocol/port (hourly buckets, bandwidth/flows.ts): as long as the 1h rollups.
      if (l === '1h') await tx.execute(`DELETE FROM bw_ports WHERE device_id IN (SELECT device_id FROM bw_totals) AND bucket_ts < ?`, [cutoff])
      wm[l] = cutoff
    }
    pruned[l] = {before: new Date(cutoff).toISOString(), before_ms: cutoff, rows}
  }
  if (!opts.dryRun) {
    const kv: [string, string][] = LEVELS.map(l => [`watermark.${l}`, String(wm[l])])
    kv.push(['auto_prune.last', String(now)])
    if (opts.save) for (const l of LEVELS) kv.push([`retention.${l}`, String(retention[l])])
    await tx.execute(
      `INSERT INTO bw_settings(key, value) SELECT value->>0, value->>1 FROM json_each(?) WHERE true ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
      [JSON.stringify(kv)],
    )
  }
  return {
    success: true,
    dry_run: Boolean(opts.dryRun),
    saved: Boolean(opts.save && !opts.dryRun),
    retention: Object.fromEntries(LEVELS.map(l => [l, {keep_ms: retention[l], keep: human(retention[l])}])) as PruneResult['retention'],
    pruned,
  }
}

/** Enforces retention now (netmon db prune). */
export async function prune(store: Store, opts: PruneOptions = {}): Promise<PruneResult> {
  return store.writeTx(tx => pruneInTx(tx, opts))
}

/**
 * Called after a sample write: prunes with the stored settings when the last prune is over an
 * hour old. The check and the prune share one transaction, so concurrent samplers prune once.
 */
export async function autoPrune(store: Store, now = Date.now()): Promise<PruneResult | null> {
  const s = await readSettings(store)
  const last = Number(s.get('auto_prune.last') ?? 0)
  if (s.get('auto_prune.enabled') === '0' || now - last < AUTO_PRUNE_EVERY_MS) return null
  return store.writeTx(async tx => {
    const again = await readSettings(tx)
    if (now - Number(again.get('auto_prune.last') ?? 0) < AUTO_PRUNE_EVERY_MS) return null
    return pruneInTx(tx, {now})
  })
}

export async function setAutoPrune(store: Store, enabled: boolean): Promise<void> {
  await store.batch([
    {
      sql: `INSERT INTO bw_settings(key, value) VALUES ('auto_prune.enabled', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
      args: [enabled ? '1' : '0'],
    },
  ])
}

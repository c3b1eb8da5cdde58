/**
 * The bridge's SQL: meters, heartbeat/status rows and network_metrics rows (readings and outbox
 * writes live in outbox.ts). Writes are few and grouped: one transaction per heartbeat.
 */
import type {Stmt, Store} from '../store/index.js'
import type {MeterConfig} from './config.js'
import type {ProfileJobStatus} from './profile.js'

export interface MetricsRow {
  meter_id: string
  timestamp: number
  dlms_requests_sent: number
  dlms_responses_recv: number
  dlms_bytes_sent: number
  dlms_bytes_recv: number
  dlms_avg_payload_size: number
  mqtt_messages_sent: number
  mqtt_bytes_sent: number
  bandwidth_tx_bps: number
  bandwidth_rx_bps: number
  packets_tx_ps: number
  packets_rx_ps: number
  interval_ms: number
  mqtt_messages_acked: number
  /** Interface errors/drops each way counted over the interval (migration 007). */
  tx_errors: number
  rx_errors: number
  tx_drops: number
  rx_drops: number
}

export const METRIC_COLUMNS = [
  'meter_id',
  'timestamp',
  'dlms_requests_sent',
  'dlms_responses_recv',
  'dlms_bytes_sent',
  'dlms_bytes_recv',
  'dlms_avg_payload_size',
  'mqtt_messages_sent',
  'mqtt_bytes_sent',
  'bandwidth_tx_bps',
  'bandwidth_rx_bps',
  'packets_tx_ps',
  'packets_rx_ps',
  'interval_ms',
  'mqtt_messages_acked',
  'tx_errors',
  'rx_errors',
  'tx_drops',
  'rx_drops',
] as const

export function insertMetricsStmt(rows: MetricsRow[]): Stmt {
  const cols = METRIC_COLUMNS
  return {
    sql: `INSERT OR REPLACE INTO network_metrics(${cols.join(', ')})
          SELECT ${cols.map(c => `value->>'${c}'`).join(', ')} FROM json_each(?)`,
    args: [JSON.stringify(rows)],
  }
}

export interface MeterStatusRow {
  meter_id: string
  state: string
  last_success_at: number | null
  last_error_at: number | null
  last_error: string | null
  consecutive_failures: number
  polls: number
  failures: number
  overruns: number
  published: number
  dropped: number
  broker_connected: number
  updated_at: number
}

const STATUS_COLS = [
  'meter_id',
  'state',
  'last_success_at',
  'last_error_at',
  'last_error',
  'consecutive_failures',
  'polls',
  'failures',
  'overruns',
  'published',
  'dropped',
  'broker_connected',
  'updated_at',
] as const

export function upsertMeterStatusStmt(rows: MeterStatusRow[]): Stmt {
  const cols = STATUS_COLS
  return {
    sql: `INSERT INTO meter_status(${cols.join(', ')})
          SELECT ${cols.map(c => `value->>'${c}'`).join(', ')} FROM json_each(?) WHERE true
          ON CONFLICT(meter_id) DO UPDATE SET ${cols
            .filter(c => c !== 'meter_id')
            .map(c => `${c} = excluded.${c}`)
            .join(', ')}`,
    args: [JSON.stringify(rows)],
  }
}

export interface BridgeStatusRow {
  pid: number
  hostname: string
  started_at: number
  heartbeat_at: number
  heartbeat_interval_ms: number
  stopped_at: number | null
  config_path: string | null
  broker_url: string
  broker_connected: number
  format: string
  detail: string
}

export function upsertBridgeStatusStmt(r: BridgeStatusRow): Stmt {
  const cols = Object.keys(r) as (keyof BridgeStatusRow)[]
  return {
    sql: `INSERT INTO bridge_status(id, ${cols.join(', ')}) VALUES (1, ${cols.map(() => '?').join(', ')})
          ON CONFLICT(id) DO UPDATE SET ${cols.map(c => `${c} = excluded.${c}`).join(', ')}`,
    args: cols.map(c => r[c]),
  }
}

/** Registers the configured meters (and marks the others inactive) in one transaction. */
export async function syncMeters(store: Store, meters: MeterConfig[], now = Date.now()): Promise<void> {
  const rows = meters.map(m => ({
    id: m.id,
    name: m.name,
    host: m.host,
    port: m.port,
    framing: m.framing,
    poll_interval_ms: m.pollIntervalMs,
    obis: JSON.stringify(m.obis.map(o => ({obis: o.obis, key: o.key, class: o.classId, ...(o.unit ? {unit: o.unit} : {})}))),
  }))
  const cols = ['id', 'name', 'host', 'port', 'framing', 'poll_interval_ms', 'obis'] as const
  await store.batch([
    {
      sql: "UPDATE meters SET active = 0, updated_at = ? WHERE active = 1 AND id NOT IN (SELECT value->>'id' FROM json_each(?))",
      args: [now, JSON.stringify(rows)],
    },
    {
      sql: `INSERT INTO meters(${cols.join(', ')}, active, created_at, updated_at)
            SELECT ${cols.map(c => `value->>'${c}'`).join(', ')}, 1, ?, ? FROM json_each(?) WHERE true
            ON CONFLICT(id) DO UPDATE SET ${cols
              .filter(c => c !== 'id')
              .map(c => `${c} = excluded.${c}`)
              .join(', ')}, active = 1, updated_at = excluded.updated_at`,
      args: [now, now, JSON.stringify(rows)],
    },
  ])
}

export async function meterNames(store: Store): Promise<Map<string, string>> {
  const rows = await store.query<{id: string; name: string}>('SELECT id, name FROM meters')
  return new Map(rows.map(r => [String(r.id), String(r.name)]))
}

/** Deletes readings, metrics and load-profile rows older than `beforeMs`, in chunks so no write lock is held long. */
export async function pruneOld(store: Store, beforeMs: number, chunk = 20_000): Promise<number> {
  let total = 0
  // Per meter, so each chunk is a range scan of the (meter_id, ts) primary key.
  const ids = (await store.query<{id: string}>('SELECT id FROM meters')).map(r => String(r.id))
  for (const table of ['readings', 'network_metrics', 'profile_rows'] as const) {
    const tsCol = table === 'readings' ? 'ts' : table === 'profile_rows' ? 'capture_ts' : 'timestamp'
    for (const id of ids) {
      for (;;) {
        const [res] = await store.batch([
          {
            sql: `DELETE FROM ${table} WHERE meter_id = ?1 AND ${tsCol} IN (SELECT ${tsCol} FROM ${table} WHERE meter_id = ?1 AND ${tsCol} < ?2 LIMIT ?3)`,
            args: [id, beforeMs, chunk],
          },
        ])
        total += res!.rowsAffected
        if (res!.rowsAffected < chunk) break
      }
    }
  }
  return total
}

// ---------- load profiles (migration 19) ----------

/** The newest stored capture time of a meter's profile (null: none yet). */
export async function lastProfileCapture(store: Store, meterId: string, profile: string): Promise<number | null> {
  const row = await store.get<{t: number | null}>('SELECT max(capture_ts) AS t FROM profile_rows WHERE meter_id = ? AND profile = ?', [meterId, profile])
  return row?.t === null || row?.t === undefined ? null : Number(row.t)
}

/** The heartbeat's `profiles` detail: per meter, one entry per profile job (read by queries.ts). */
export function profileStatusDetail(byMeter: [string, ProfileJobStatus[]][]): Record<string, Record<string, unknown>[]> {
  const out: Record<string, Record<string, unknown>[]> = {}
  for (const [id, jobs] of byMeter) {
    if (jobs.length === 0) continue
    out[id] = jobs.map(j => ({
      obis: j.obis,
      mode: j.mode,
      fallback: j.fallback,
      last_capture_ms: j.lastCaptureTs,
      rows_caught_up: j.rowsCaughtUp,
      cycles: j.cycles,
      catching_up: j.catchingUp,
      last_cycle_ms: j.lastCycleAt,
      last_error: j.lastError,
    }))
  }
  return out
}

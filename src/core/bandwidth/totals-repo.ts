/**
 * The totals repository (issue 14's split of ingest.ts): what the write path reads of a device
 * (bw_totals, bw_counters: one joined row per MAC, with a fingerprint for the one-request write's
 * guard) and writes back at the end of a batch. Owned by bandwidth; devices/events writes go
 * through src/core/devices/.
 */
import type {Tx} from '../store/index.js'
import {jsonChunks, writeJsonRows, type Sink} from './bulk.js'
import {TOTALS_COLUMNS, totalsRow, type DevState, type TotalsRow} from './state.js'

/**
 * One device's stored state as one text value, computed by SQL from the same joins in the read and
 * in the one-request write's guard: equal strings = nothing changed in between.
 */
export const FINGERPRINT = `(${['device_id', ...TOTALS_COLUMNS.slice(1)].map(c => `quote(t.${c})`).join(" || ',' || ")}
  || '|' || quote(c.ts) || ',' || quote(c.sent) || ',' || quote(c.received) || ',' || quote(c.source))`

/** A device with its totals and counter state, looked up by MAC. */
export interface Loaded extends Omit<TotalsRow, 'device_id'> {
  id: number
  mac: string
  t_id: number | null
  c_ts: number | null
  c_sent: string | null
  c_received: string | null
  c_source: string | null
  fp: string
}

export const LOOKUP_SQL = `SELECT d.id, d.mac, t.device_id AS t_id, ${TOTALS_COLUMNS.slice(1)
  .map(c => `t.${c}`)
  .join(', ')},
    c.ts AS c_ts, c.sent AS c_sent, c.received AS c_received, c.source AS c_source, ${FINGERPRINT} AS fp
  FROM json_each(?) j JOIN devices d ON d.mac = j.value LEFT JOIN bw_totals t ON t.device_id = d.id LEFT JOIN bw_counters c ON c.device_id = d.id`

export async function lookup(tx: Pick<Tx, 'query'>, macs: readonly string[], maxBytes: number): Promise<Map<string, Loaded>> {
  const out = new Map<string, Loaded>()
  for (const chunk of jsonChunks(
    macs.map(m => JSON.stringify(m)),
    LOOKUP_SQL,
    maxBytes,
  )) {
    for (const r of await tx.query<Loaded>(LOOKUP_SQL, [chunk])) out.set(String(r.mac), r)
  }
  return out
}

/** Writes final totals for the touched devices (the values were computed in this batch). */
export async function writeTotals(sink: Sink, states: DevState[]): Promise<void> {
  const rows = states.filter(s => s.touched).map(s => JSON.stringify(totalsRow(s)))
  if (rows.length === 0) return
  const cols = TOTALS_COLUMNS.join(', ')
  const sel = TOTALS_COLUMNS.map((_, i) => `value->>${i}`).join(', ')
  const set = TOTALS_COLUMNS.slice(1)
    .map(c => `${c} = excluded.${c}`)
    .join(', ')
  await writeJsonRows(sink, `INSERT INTO bw_totals(${cols}) SELECT ${sel} FROM json_each(?) WHERE true ON CONFLICT(device_id) DO UPDATE SET ${set}`, rows)
}

/** Counter state of the devices whose counters this batch stepped (bw_counters). */
export async function writeCounters(sink: Sink, states: DevState[]): Promise<void> {
  const rows = states
    .filter(s => s.counterTouched && s.counter)
    .map(s => JSON.stringify([s.id, s.counter!.ts, s.counter!.sent.toString(), s.counter!.received.toString(), s.counterSource]))
  await writeJsonRows(
    sink,
    `INSERT INTO bw_counters(device_id, ts, sent, received, source)
       SELECT value->>0, value->>1, value->>2, value->>3, value->>4 FROM json_each(?) WHERE true
       ON CONFLICT(device_id) DO UPDATE SET ts = excluded.ts, sent = excluded.sent, received = excluded.received, source = excluded.source`,
    rows,
  )
}

/**
 * The time after which a device's rollup buckets are known to hold no row, so a closed bucket there
 * is a plain INSERT (cheaper than the upsert; ~200k 5-minute rows in the 1M-line bench): a device
 * registered by this batch has no rows at all; a known device none after its latest sample
 * (bw_totals.cur_ts: every raw sample and rollup row comes from a sample at or before it, late
 * ones included). Anything else (no totals row, cur_ts cleared, a merged device) takes the upsert.
 */
export function newBucketsAfter(row: Loaded | undefined, id: number): number {
  if (!row) return Number.NEGATIVE_INFINITY
  if (Number(row.id) === id && row.t_id !== null && row.cur_ts !== null) return Number(row.cur_ts)
  return Number.POSITIVE_INFINITY
}

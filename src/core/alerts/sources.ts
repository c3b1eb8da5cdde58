/**
 * What alert rules read, all read-only and one statement per rule (no per-device loops). The
 * devices/events tables belong to src/core/devices/; events are read through its cursor (readEvents).
 */
import {readEvents as readDeviceEvents} from '../devices/events.js'
import type {Row, Store} from '../store/index.js'
import type {Scope} from './rules.js'

export interface EventRow {
  id: number
  ts: number
  device_id: number | null
  type: string
  detail: string | null
}

/** Events with id > after, oldest first (ids only grow: the cursor of src/core/devices/events.ts). */
export async function readEvents(store: Store, o: {after: number; limit: number; types: readonly string[]}): Promise<EventRow[]> {
  const page = await readDeviceEvents(store, {after: o.after, limit: o.limit, types: o.types})
  return page.events.map(e => ({id: e.id, ts: e.ts_ms, device_id: e.device_id, type: e.type, detail: e.detail === null ? null : JSON.stringify(e.detail)}))
}

/** The newest event id (a rule's cursor starts here: it alerts on what happens after it is added). */
export async function lastEventId(store: Store): Promise<number> {
  // With AUTOINCREMENT (migration 6), ids never go back: the sequence, not max(id), is the newest.
  const seq = await store.get<{m: number}>("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), (SELECT max(id) FROM events), 0) AS m")
  return Number(seq?.m ?? 0)
}

export interface DeviceRef {
  id: number
  mac: string | null
  ip: string | null
  hostname: string | null
  name: string | null
  vendor: string | null
  known: number
  first_seen: number
  last_seen: number
}
const DEVICE_COLS = 'd.id, d.mac, d.ip, d.hostname, d.name, d.vendor, d.known, d.first_seen, d.last_seen'

/** A device scope as a WHERE fragment on alias `d`. */
export function scopeWhere(scope: Scope): {sql: string; args: (string | number)[]} {
  if (scope === 'all') return {sql: '1', args: []}
  if (scope.mac !== undefined) return {sql: 'd.mac = ?', args: [scope.mac]}
  if (scope.name !== undefined) return {sql: '(d.name = ? COLLATE NOCASE OR d.hostname = ? COLLATE NOCASE)', args: [scope.name, scope.name]}
  if (scope.vendor !== undefined) return {sql: `d.vendor LIKE ? ESCAPE '\\'`, args: [`%${scope.vendor.replace(/[\\%_]/g, c => '\\' + c)}%`]}
  if (scope.known !== undefined) return {sql: 'd.known = ?', args: [scope.known ? 1 : 0]}
  return {sql: '1', args: []}
}

/** Devices in scope with ids > after from the given event rows' devices, in one statement. */
export async function devicesIn(store: Store, scope: Scope, ids: number[]): Promise<Map<number, DeviceRef>> {
  if (ids.length === 0) return new Map()
  const w = scopeWhere(scope)
  const rows = await store.query<DeviceRef>(`SELECT ${DEVICE_COLS} FROM devices d WHERE d.id IN (SELECT value FROM json_each(?)) AND ${w.sql}`, [
    JSON.stringify([...new Set(ids)]),
    ...w.args,
  ])
  return new Map(rows.map(r => [Number(r.id), r]))
}

/** Every device in scope (one statement): device_offline filters by last_seen, bandwidth_usage joins by MAC. */
export async function devicesInScope(store: Store, scope: Scope): Promise<DeviceRef[]> {
  const w = scopeWhere(scope)
  return store.query<DeviceRef>(`SELECT ${DEVICE_COLS} FROM devices d WHERE ${w.sql}`, w.args)
}

export interface CurrentRow extends DeviceRef {
  cur_ts: number | null
  cur_sent: number | null
  cur_received: number | null
  cur_interval_ms: number | null
}

/** Each accounted device in scope with its latest sample (bw_totals' "current" columns). */
export async function currentSamples(store: Store, scope: Scope): Promise<CurrentRow[]> {
  const w = scopeWhere(scope)
  return store.query<CurrentRow>(
    `SELECT ${DEVICE_COLS}, t.cur_ts, t.cur_sent, t.cur_received, t.cur_interval_ms FROM bw_totals t JOIN devices d ON d.id = t.device_id WHERE ${w.sql}`,
    w.args,
  )
}

export interface LatencyRunRow extends Row {
  id: number
  host: string
  ip: string
  device_id: number | null
  ended_at: number
  loss_pct: number
  avg_ms: number | null
  jitter_ms: number | null
  grade: string | null
  error: string | null
  d_name: string | null
  d_mac: string | null
}

/** The latest run per target address (one statement), optionally limited to a target/device. */
export async function latestLatencyRuns(store: Store, scope: Scope): Promise<LatencyRunRow[]> {
  let where = '1'
  const args: string[] = []
  if (scope !== 'all' && scope.target !== undefined) {
    where = '(r.host = ? COLLATE NOCASE OR r.ip = ?)'
    args.push(scope.target, scope.target)
  } else if (scope !== 'all' && scope.mac !== undefined) {
    where = 'd.mac = ?'
    args.push(scope.mac)
  } else if (scope !== 'all' && scope.name !== undefined) {
    where = '(d.name = ? COLLATE NOCASE OR d.hostname = ? COLLATE NOCASE)'
    args.push(scope.name, scope.name)
  }
  return store.query<LatencyRunRow>(
    `SELECT r.id, r.host, r.ip, r.device_id, r.ended_at, r.loss_pct, r.avg_ms, r.jitter_ms, r.grade, r.error, d.name AS d_name, d.mac AS d_mac
       FROM latency_runs r LEFT JOIN devices d ON d.id = r.device_id
      WHERE r.id IN (SELECT max(id) FROM latency_runs GROUP BY ip) AND ${where}`,
    args,
  )
}

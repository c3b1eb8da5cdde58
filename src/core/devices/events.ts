/**
 * The events table (issue 14: devices and events have one owner). Every event any capability
 * records goes through this module; its type is one of EVENT_TYPES. Events have a monotonic id
 * (AUTOINCREMENT since migration 006: never reused, not even after the newest rows are deleted),
 * so a consumer follows them with a cursor: readEvents({after}) → {events, next}.
 */
import type {Stmt, Store, Tx} from '../store/index.js'

/** What a scan (inventory) records, plus promote and merge. */
export const INVENTORY_EVENT_TYPES = [
  'new',
  'online',
  'offline',
  'ip_changed',
  'ip_conflict',
  'hostname_changed',
  'ports_changed',
  'promoted',
  'merged',
] as const

/** What bandwidth accounting records: its reset, and what the counter/rate guards found. */
export const BANDWIDTH_EVENT_TYPES = ['bandwidth_reset', 'counter_wrap', 'counter_reset', 'counter_spike', 'clock_backwards', 'rate_implausible'] as const

/** Named by issue 14 for the agent's jobs, not written yet: `registered` (accounting opened). */
export const RESERVED_EVENT_TYPES = ['registered'] as const

export const EVENT_TYPES = [...INVENTORY_EVENT_TYPES, ...BANDWIDTH_EVENT_TYPES, ...RESERVED_EVENT_TYPES] as const

export type InventoryEventType = (typeof INVENTORY_EVENT_TYPES)[number]
export type BandwidthEventType = (typeof BANDWIDTH_EVENT_TYPES)[number]
export type EventType = (typeof EVENT_TYPES)[number]

/** Who created a device (the `by` of its `new` event's detail). */
export type CreatedBy = 'scan' | 'register' | 'bandwidth'

export interface NewEvent {
  ts: number
  deviceId: number | null
  type: EventType
  detail?: Record<string, unknown> | null
}

const detailText = (d: Record<string, unknown> | null | undefined): string | null => (d ? JSON.stringify(d) : null)

/** Records one event inside the caller's transaction. */
export async function recordEvent(tx: Pick<Tx, 'execute'>, ev: NewEvent): Promise<void> {
  await tx.execute('INSERT INTO events(ts, device_id, type, detail) VALUES (?, ?, ?, ?)', [ev.ts, ev.deviceId, ev.type, detailText(ev.detail)])
}

/** One statement recording many events (json_each: a constant number of statements per batch). */
export function recordEventsStmt(events: readonly NewEvent[]): Stmt {
  return {
    sql: `INSERT INTO events(ts, device_id, type, detail) SELECT value->>0, value->>1, value->>2, value->>3 FROM json_each(?)`,
    args: [JSON.stringify(events.map(e => [e.ts, e.deviceId, e.type, detailText(e.detail)]))],
  }
}

/**
 * Bulk writes on the hot paths (bandwidth ingest): the SQL lives here, the transport (chunking
 * under a request-size budget, queuing for one remote request) stays the caller's. Each SQL takes
 * one json_each(?) parameter; `rows` are JSON arrays, one per row.
 */
export interface BulkRows {
  /** Runs `sql` over `rows` in as many statements as the transport needs (possibly queued). */
  write(sql: string, rows: readonly string[]): Promise<void>
  /** Same for a statement with RETURNING: runs now and returns every row. */
  query<T>(sql: string, rows: readonly string[]): Promise<T[]>
}

const INSERT_EVENTS_BULK = `INSERT INTO events(ts, device_id, type, detail) SELECT value->>0, value->>1, value->>2, value->>3 FROM json_each(?)`

/** Records many events through a bulk writer (detail already JSON text, or null). */
export async function writeEvents(
  bulk: Pick<BulkRows, 'write'>,
  events: readonly {ts: number; deviceId: number; type: EventType; detail: string | null}[],
): Promise<void> {
  if (events.length === 0) return
  await bulk.write(
    INSERT_EVENTS_BULK,
    events.map(e => JSON.stringify([e.ts, e.deviceId, e.type, e.detail])),
  )
}

export interface EventRecord {
  id: number
  ts: string
  ts_ms: number
  type: string
  device_id: number | null
  /** The device's MAC now (null for IP-only devices and device-less events). */
  mac: string | null
  detail: Record<string, unknown> | null
}

export interface EventPage {
  events: EventRecord[]
  /** The cursor for the next call: the last event's id, or `after` when there was none. */
  next: number
  /** True when more events past `next` matched (the page was full). */
  more: boolean
}

export const READ_EVENTS_MAX = 100_000

type Reader = Pick<Store, 'query'> | Pick<Tx, 'query'>

/**
 * Events with id > `after` (default 0: from the start), in id order (the order they were
 * recorded), at most `limit` (default 1000), optionally only some types.
 */
export async function readEvents(db: Reader, o: {after?: number; limit?: number; types?: readonly EventType[] | readonly string[]} = {}): Promise<EventPage> {
  const after = o.after ?? 0
  const limit = o.limit ?? 1000
  if (!Number.isSafeInteger(after) || after < 0) throw new RangeError('after must be a non-negative integer')
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > READ_EVENTS_MAX) throw new RangeError(`limit must be 1–${READ_EVENTS_MAX}`)
  const args: (string | number)[] = [after]
  let where = 'e.id > ?'
  if (o.types?.length) {
    where += ' AND e.type IN (SELECT value FROM json_each(?))'
    args.push(JSON.stringify(o.types))
  }
  const rows = await db.query<{id: number; ts: number; type: string; device_id: number | null; mac: string | null; detail: string | null}>(
    `SELECT e.id, e.ts, e.type, e.device_id, d.mac, e.detail FROM events e LEFT JOIN devices d ON d.id = e.device_id
      WHERE ${where} ORDER BY e.id LIMIT ?`,
    [...args, limit + 1],
  )
  const more = rows.length > limit
  const events = rows.slice(0, limit).map(r => ({
    id: Number(r.id),
    ts: new Date(Number(r.ts)).toISOString(),
    ts_ms: Number(r.ts),
    type: String(r.type),
    device_id: r.device_id === null ? null : Number(r.device_id),
    mac: r.mac === null ? null : String(r.mac),
    detail: r.detail === null ? null : (JSON.parse(String(r.detail)) as Record<string, unknown>),
  }))
  return {events, next: events.length ? events[events.length - 1]!.id : after, more}
}

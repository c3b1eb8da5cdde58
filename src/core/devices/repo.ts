/**
 * The devices table (shared by bandwidth accounting, the inventory, latency and export).
 * Devices are keyed by MAC when known, else by IP (devices.mac NULL).
 *
 * Issue 14: this module (with events.ts) is the only one that inserts, updates or deletes rows of
 * `devices` and `events` (test/unit/devices/ownership.test.ts checks src/core for it). Every path
 * that creates a device records its `new` event here.
 */
import type {Stmt, Store, Tx} from '../store/index.js'
import {recordEvent, type BulkRows, type CreatedBy, type EventType} from './events.js'
import {normalizeIp} from './ip.js'
import {normalizeMac} from './mac.js'
import {lookupDevice, resolveDevice} from './resolve.js'

export interface DeviceRow {
  id: number
  mac: string | null
  ip: string | null
  hostname: string | null
  name: string | null
  vendor: string | null
  known: number
  online: number | null
  first_seen: number
  last_seen: number
}

type Reader = Pick<Store, 'get' | 'query'> | Pick<Tx, 'get' | 'query'>

export async function findDeviceByMac(db: Reader, mac: string): Promise<DeviceRow | undefined> {
  return db.get<DeviceRow>('SELECT * FROM devices WHERE mac = ?', [mac])
}

/**
 * Finds the device the user named: a MAC (any accepted form), an IP (now, else a former one), a
 * hostname or the promoted name, by the one rule in resolve.ts. Ambiguous text throws (exit 2).
 */
export async function findDevice(db: Reader, text: string): Promise<DeviceRow | undefined> {
  return (await lookupDevice(db, text))?.device
}

/** findDevice, with not found as an error (exit 1) whose hint is `hint` (default: `devices list`). */
export async function requireDevice(db: Reader, text: string, hint?: string): Promise<DeviceRow> {
  return (await resolveDevice(db, text, hint)).device
}

export interface RegisterInput {
  mac: string
  ip: string
  hostname?: string | null
  now?: number
}

/**
 * Upserts a device by MAC (the seed's register): updates ip/hostname, keeps everything else
 * (totals live in other tables keyed by device id). Returns the row and whether it was new.
 */
export async function registerDevice(tx: Tx, raw: RegisterInput): Promise<{device: DeviceRow; created: boolean}> {
  // Callers normalise already; doing it here too keeps the devices table canonical whatever the caller.
  const input = {...raw, mac: normalizeMac(raw.mac), ip: normalizeIp(raw.ip)}
  const now = input.now ?? Date.now()
  const existing = await findDeviceByMac(tx, input.mac)
  // An IP-only device (found by a scan before its MAC was known) at this address is this host.
  const ipOnly = await tx.get<DeviceRow>('SELECT * FROM devices WHERE mac IS NULL AND ip = ?', [input.ip])
  if (existing) {
    if (ipOnly) await mergeDevice(tx, ipOnly.id, existing.id, now, input.ip)
    // Re-registered at another address: the move is an `ip_changed` like a scan's.
    if (existing.ip !== null && existing.ip !== input.ip) {
      await recordEvent(tx, {ts: now, deviceId: existing.id, type: 'ip_changed', detail: {from: existing.ip, to: input.ip, mac: input.mac, by: 'register'}})
    }
    await tx.execute('UPDATE devices SET ip = ?, hostname = coalesce(?, hostname), last_seen = max(last_seen, ?) WHERE id = ?', [
      input.ip,
      input.hostname ?? null,
      now,
      existing.id,
    ])
    return {device: (await findDeviceByMac(tx, input.mac))!, created: false}
  }
  // No device with this MAC yet: the IP-only one becomes it.
  if (ipOnly) {
    await tx.execute('UPDATE devices SET mac = ?, hostname = coalesce(?, hostname), last_seen = max(last_seen, ?) WHERE id = ?', [
      input.mac,
      input.hostname ?? null,
      now,
      ipOnly.id,
    ])
  } else {
    const r = await tx.execute('INSERT INTO devices(mac, ip, hostname, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)', [
      input.mac,
      input.ip,
      input.hostname ?? null,
      now,
      now,
    ])
    await recordEvent(tx, {
      ts: now,
      deviceId: Number(r.lastInsertRowid),
      type: 'new',
      detail: newDetail({mac: input.mac, ip: input.ip, hostname: input.hostname ?? null}, 'register'),
    })
  }
  return {device: (await findDeviceByMac(tx, input.mac))!, created: true}
}

/** The detail of a `new` event raised outside a scan (a scan's plan adds vendor and found_by). */
const newDetail = (d: {mac: string | null; ip: string | null; hostname: string | null}, by: CreatedBy) => ({ip: d.ip, mac: d.mac, hostname: d.hostname, by})

/** Records one event for a device (promote, bandwidth reset …) inside the caller's transaction. */
export async function addEvent(
  tx: Pick<Tx, 'execute'>,
  ev: {ts: number; deviceId: number | null; type: EventType; detail?: Record<string, unknown>},
): Promise<void> {
  await recordEvent(tx, ev)
}

// ---- Bulk writes for bandwidth ingest (one statement per chunk, whatever the number of devices).

const INSERT_DEVICES_BY_MAC = `INSERT INTO devices(mac, ip, hostname, first_seen, last_seen)
  SELECT value->>0, value->>1, value->>2, value->>3, value->>3 FROM json_each(?) RETURNING id, mac, ip, hostname`
const UPDATE_ADDRESS = `UPDATE devices SET ip = j.value->>1, hostname = coalesce(j.value->>2, hostname), last_seen = max(last_seen, j.value->>3)
  FROM json_each(?) j WHERE devices.id = j.value->>0`
const UPDATE_HOSTNAME = `UPDATE devices SET hostname = j.value->>1 FROM json_each(?) j WHERE devices.id = j.value->>0`
const TOUCH_LAST_SEEN = `UPDATE devices SET last_seen = max(last_seen, j.value->>1) FROM json_each(?) j WHERE devices.id = j.value->>0`

/**
 * Creates devices by MAC in bulk (`rows`: JSON `[mac, ip, hostname, now]`, MACs not in the table)
 * and records one `new` event each. Returns MAC → id.
 */
export async function ensureDevicesByMac(bulk: BulkRows, rows: readonly string[], now: number, by: CreatedBy = 'bandwidth'): Promise<Map<string, number>> {
  const created = new Map<string, number>()
  if (rows.length === 0) return created
  const events: string[] = []
  for (const r of await bulk.query<{id: number; mac: string; ip: string | null; hostname: string | null}>(INSERT_DEVICES_BY_MAC, rows)) {
    const id = Number(r.id)
    created.set(String(r.mac), id)
    events.push(JSON.stringify([now, id, 'new', JSON.stringify(newDetail({mac: String(r.mac), ip: r.ip, hostname: r.hostname}, by))]))
  }
  await bulk.write(`INSERT INTO events(ts, device_id, type, detail) SELECT value->>0, value->>1, value->>2, value->>3 FROM json_each(?)`, events)
  return created
}

/** An `ip_changed` event for each row whose address differs from the device's (before UPDATE_ADDRESS runs). */
const INSERT_MOVES = `INSERT INTO events(ts, device_id, type, detail)
  SELECT j.value->>3, d.id, 'ip_changed', json_object('from', d.ip, 'to', j.value->>1, 'mac', d.mac, 'by', 'bandwidth')
    FROM json_each(?) j JOIN devices d ON d.id = j.value->>0
   WHERE d.ip IS NOT NULL AND j.value->>1 IS NOT NULL AND d.ip <> j.value->>1`

/**
 * Refreshes address (and hostname when given) of known devices: JSON `[id, ip, hostname|null, ts]`.
 * A device that moved to another address raises `ip_changed` {from, to} as a scan's move does.
 */
export async function refreshAddresses(bulk: Pick<BulkRows, 'write'>, rows: readonly string[]): Promise<void> {
  if (rows.length === 0) return
  await bulk.write(INSERT_MOVES, rows)
  await bulk.write(UPDATE_ADDRESS, rows)
}

/** Sets hostnames of known devices: JSON `[id, hostname]`. */
export async function refreshHostnames(bulk: Pick<BulkRows, 'write'>, rows: readonly string[]): Promise<void> {
  await bulk.write(UPDATE_HOSTNAME, rows)
}

/** Moves last_seen forward (never back): JSON `[id, ts]`. Traffic is evidence the device is there. */
export async function touchLastSeen(bulk: Pick<BulkRows, 'write'>, rows: readonly string[]): Promise<void> {
  await bulk.write(TOUCH_LAST_SEEN, rows)
}

// ---- Writes of a scan's plan (inventory/apply.ts), inside its one write transaction.

/** Creates a device a scan found (online). Its `new` event is in the scan's plan (plan.ts). */
export async function insertScannedDevice(
  tx: Pick<Tx, 'execute'>,
  d: {mac: string | null; ip: string; hostname: string | null; vendor: string | null; now: number},
): Promise<number> {
  const r = await tx.execute(`INSERT INTO devices(mac, ip, hostname, vendor, online, first_seen, last_seen) VALUES (?, ?, ?, ?, 1, ?, ?)`, [
    d.mac,
    d.ip,
    d.hostname,
    d.vendor,
    d.now,
    d.now,
  ])
  return Number(r.lastInsertRowid)
}

/** A device a scan saw again: its current identity, online. */
export function scannedDeviceStmt(u: {
  id: number
  mac: string | null
  ip: string
  hostname: string | null
  vendor: string | null
  last_seen: number
  ports_scanned_at: number | null
}): Stmt {
  return {
    sql: `UPDATE devices SET mac = ?, ip = ?, hostname = ?, vendor = ?, online = 1, last_seen = ?, ports_scanned_at = ? WHERE id = ?`,
    args: [u.mac, u.ip, u.hostname, u.vendor, u.last_seen, u.ports_scanned_at, u.id],
  }
}

/** Marks devices offline. */
export function setOfflineStmt(ids: readonly number[]): Stmt {
  return {sql: `UPDATE devices SET online = 0 WHERE id IN (SELECT value FROM json_each(?))`, args: [JSON.stringify(ids)]}
}

/** Records that these devices' ports were scanned now. */
export function portsScannedStmt(ids: readonly number[], now: number): Stmt {
  return {sql: `UPDATE devices SET ports_scanned_at = ? WHERE id IN (SELECT value FROM json_each(?))`, args: [now, JSON.stringify(ids)]}
}

/** Marks a device known under `name` (promote); the caller records the `promoted` event. */
export async function setKnown(tx: Pick<Tx, 'execute'>, id: number, name: string | null): Promise<void> {
  await tx.execute(`UPDATE devices SET known = 1, name = ? WHERE id = ?`, [name, id])
}

/**
 * Folds an IP-only device into the MAC device now seen at its address, so one host is one device:
 * its timeline, IP history, ports, scan and latency history move over, its known flag, name and
 * first sighting are kept when the MAC device lacks them, and a `merged` event says what happened.
 * IP-only devices have no bandwidth accounting (that needs a MAC), so there is none to move.
 */
export async function mergeDevice(tx: Pick<Tx, 'execute' | 'batch'>, fromId: number, intoId: number, now: number, ip: string): Promise<void> {
  await tx.batch([
    {sql: 'UPDATE events SET device_id = ?2 WHERE device_id = ?1', args: [fromId, intoId]},
    {
      sql: `INSERT INTO device_ips(device_id, ip, first_seen, last_seen)
            SELECT ?2, ip, first_seen, last_seen FROM device_ips WHERE device_id = ?1 AND true
            ON CONFLICT(device_id, ip) DO UPDATE SET first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)`,
      args: [fromId, intoId],
    },
    {
      // The MAC device's own port list wins where both have one; otherwise the IP-only device's.
      sql: `INSERT INTO device_ports(device_id, proto, port, service, banner, first_seen, last_seen)
            SELECT ?2, proto, port, service, banner, first_seen, last_seen FROM device_ports
             WHERE device_id = ?1 AND (SELECT ports_scanned_at FROM devices WHERE id = ?2) IS NULL
            ON CONFLICT(device_id, proto, port) DO NOTHING`,
      args: [fromId, intoId],
    },
    {sql: 'UPDATE scan_hosts SET device_id = ?2 WHERE device_id = ?1', args: [fromId, intoId]},
    {sql: 'UPDATE latency_runs SET device_id = ?2 WHERE device_id = ?1', args: [fromId, intoId]},
    {
      sql: `UPDATE devices SET
              first_seen = min(first_seen, (SELECT first_seen FROM devices WHERE id = ?1)),
              known = max(known, (SELECT known FROM devices WHERE id = ?1)),
              name = coalesce(name, (SELECT name FROM devices WHERE id = ?1)),
              hostname = coalesce(hostname, (SELECT hostname FROM devices WHERE id = ?1)),
              ports_scanned_at = coalesce(ports_scanned_at, (SELECT ports_scanned_at FROM devices WHERE id = ?1))
            WHERE id = ?2`,
      args: [fromId, intoId],
    },
    {sql: 'DELETE FROM devices WHERE id = ?', args: [fromId]},
    {sql: 'INSERT INTO events(ts, device_id, type, detail) VALUES (?, ?, ?, ?)', args: [now, intoId, 'merged', JSON.stringify({from_device_id: fromId, ip})]},
  ])
}

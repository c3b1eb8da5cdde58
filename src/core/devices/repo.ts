/**
 * The devices table (shared by bandwidth accounting, the inventory, latency and export).
 * Devices are keyed by MAC when known, else by IP (devices.mac NULL).
 */
import {notFound} from '../errors.js'
import type {Store, Tx} from '../store/index.js'
import {ipVersion, normalizeIp} from './ip.js'
import {normalizeMac, tryNormalizeMac} from './mac.js'

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

/** Finds by MAC (any accepted form) or IP (the most recently seen device with that address). */
export async function findDevice(db: Reader, macOrIp: string): Promise<DeviceRow | undefined> {
  const mac = tryNormalizeMac(macOrIp)
  if (mac) return findDeviceByMac(db, mac)
  if (ipVersion(macOrIp)) {
    return db.get<DeviceRow>('SELECT * FROM devices WHERE ip = ? ORDER BY last_seen DESC LIMIT 1', [normalizeIp(macOrIp)])
  }
  // Neither: let normalizeMac produce the clear error.
  normalizeMac(macOrIp)
  return undefined
}

export async function requireDevice(db: Reader, macOrIp: string): Promise<DeviceRow> {
  const d = await findDevice(db, macOrIp)
  if (!d) throw notFound(`no device ${macOrIp} in the store`, 'list devices with `netmon devices list` or register one with `netmon bandwidth register`')
  return d
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
    await tx.execute('INSERT INTO devices(mac, ip, hostname, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)', [
      input.mac,
      input.ip,
      input.hostname ?? null,
      now,
      now,
    ])
  }
  return {device: (await findDeviceByMac(tx, input.mac))!, created: true}
}

export async function addEvent(
  tx: Pick<Tx, 'execute'>,
  ev: {ts: number; deviceId: number | null; type: string; detail?: Record<string, unknown>},
): Promise<void> {
  await tx.execute('INSERT INTO events(ts, device_id, type, detail) VALUES (?, ?, ?, ?)', [
    ev.ts,
    ev.deviceId,
    ev.type,
    ev.detail ? JSON.stringify(ev.detail) : null,
  ])
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

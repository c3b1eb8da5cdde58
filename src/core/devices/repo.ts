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
  if (existing) {
    await tx.execute('UPDATE devices SET ip = ?, hostname = coalesce(?, hostname), last_seen = max(last_seen, ?) WHERE id = ?', [
      input.ip,
      input.hostname ?? null,
      now,
      existing.id,
    ])
    return {device: (await findDeviceByMac(tx, input.mac))!, created: false}
  }
  // An IP-only device (found by a scan before its MAC was known) becomes this device.
  const ipOnly = await tx.get<DeviceRow>('SELECT * FROM devices WHERE mac IS NULL AND ip = ?', [input.ip])
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

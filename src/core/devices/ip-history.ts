/**
 * Which address a device held when: the IP at the time of an event (`devices timeline`,
 * `devices history`) and the devices that ever held an address (`devices history IP`).
 *
 * Sources, all in the store: the IP history (`device_ips`: first/last seen per address), the
 * `ip_changed` events (`{from, to}` at the moment of the move; they also order a return to an
 * earlier address, which `device_ips` folds into one first/last row) and the device's current
 * address (`devices.ip`, the only one known for a device registered with `bandwidth register`
 * and never scanned).
 */
import type {Store, Tx} from '../store/index.js'
import {normalizeIp} from './ip.js'

type Reader = Pick<Store, 'query'> | Pick<Tx, 'query'>

/** The device took up `ip` at `ts` (an IP-history row's first sighting, or an ip_changed move). */
interface Arrival {
  ts: number
  ip: string
  /** 1 for an ip_changed move: at the same instant it wins over an IP-history row. */
  rank: number
}

export interface AddressTimeline {
  /** Oldest first. */
  arrivals: Arrival[]
  /** ip_changed moves, oldest first (for events before the first arrival: the `from` of the next move). */
  moves: {ts: number; from: string | null}[]
  current: string | null
}

/** Loads the address timeline of each given device (ids absent from the store are left out). */
export async function addressTimelines(db: Reader, deviceIds: readonly number[]): Promise<Map<number, AddressTimeline>> {
  const out = new Map<number, AddressTimeline>()
  const ids = [...new Set(deviceIds)]
  if (!ids.length) return out
  const arg = JSON.stringify(ids)
  const devices = await db.query<{id: number; ip: string | null}>(`SELECT id, ip FROM devices WHERE id IN (SELECT value FROM json_each(?))`, [arg])
  for (const d of devices) out.set(Number(d.id), {arrivals: [], moves: [], current: d.ip})
  const rows = await db.query<{device_id: number; ip: string; first_seen: number}>(
    `SELECT device_id, ip, first_seen FROM device_ips WHERE device_id IN (SELECT value FROM json_each(?))`,
    [arg],
  )
  for (const r of rows) out.get(Number(r.device_id))?.arrivals.push({ts: Number(r.first_seen), ip: r.ip, rank: 0})
  const moves = await db.query<{device_id: number; ts: number; id: number; from_ip: unknown; to_ip: unknown}>(
    `SELECT device_id, ts, id, json_extract(detail, '$.from') AS from_ip, json_extract(detail, '$.to') AS to_ip
       FROM events WHERE type = 'ip_changed' AND device_id IN (SELECT value FROM json_each(?)) AND json_valid(detail)
      ORDER BY ts, id`,
    [arg],
  )
  for (const m of moves) {
    const t = out.get(Number(m.device_id))
    if (!t) continue
    if (typeof m.to_ip === 'string') t.arrivals.push({ts: Number(m.ts), ip: m.to_ip, rank: 1})
    t.moves.push({ts: Number(m.ts), from: typeof m.from_ip === 'string' ? m.from_ip : null})
  }
  for (const t of out.values()) t.arrivals.sort((a, b) => a.ts - b.ts || a.rank - b.rank || (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0))
  return out
}

/**
 * The address the device held at `ts`: the last one it took up at or before `ts`; before its
 * first known address, the `from` of its first later move, else its first known address; with
 * no history at all, its current address.
 */
export function ipAt(t: AddressTimeline | undefined, ts: number): string | null {
  if (!t) return null
  let held: string | null = null
  for (const a of t.arrivals) {
    if (a.ts > ts) break
    held = a.ip
  }
  if (held !== null) return held
  const next = t.moves.find(m => m.ts > ts && m.from !== null)
  if (next) return next.from
  return t.arrivals[0]?.ip ?? t.current
}

export interface IpHolder {
  device_id: number
  /** First and last time the device was seen at the address. */
  first_seen: number
  last_seen: number
  /** The device's current address is this one. */
  current: boolean
}

/**
 * Every device that has held `ip`: from the IP history, the devices at that address now, and
 * ip_changed moves away from it. Without an IP-history row for the address (a device registered
 * with `bandwidth register` and not scanned there) the period is the device's own first/last
 * sighting when it is there now, else its first sighting up to the move away.
 * Oldest first (by first sighting at the address, then device id).
 */
export async function ipHolders(db: Reader, rawIp: string): Promise<IpHolder[]> {
  const ip = normalizeIp(rawIp)
  const rows = await db.query<{device_id: number; first_seen: number; last_seen: number; current: number}>(
    `SELECT h.device_id, min(h.first_seen) AS first_seen, max(h.last_seen) AS last_seen, (d.ip IS ?1) AS current
       FROM (
         SELECT device_id, first_seen, last_seen FROM device_ips WHERE ip = ?1
         UNION ALL
         SELECT id, first_seen, last_seen FROM devices d1
          WHERE ip = ?1 AND NOT EXISTS (SELECT 1 FROM device_ips x WHERE x.device_id = d1.id AND x.ip = ?1)
         UNION ALL
         SELECT e.device_id, d2.first_seen, e.ts FROM events e JOIN devices d2 ON d2.id = e.device_id
          WHERE e.type = 'ip_changed' AND json_valid(e.detail) AND json_extract(e.detail, '$.from') = ?1
            AND NOT EXISTS (SELECT 1 FROM device_ips x WHERE x.device_id = e.device_id AND x.ip = ?1)
       ) h JOIN devices d ON d.id = h.device_id
      GROUP BY h.device_id
      ORDER BY first_seen, h.device_id`,
    [ip],
  )
  return rows.map(r => ({device_id: Number(r.device_id), first_seen: Number(r.first_seen), last_seen: Number(r.last_seen), current: Number(r.current) === 1}))
}

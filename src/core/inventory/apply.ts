/**
 * Writes a scan's outcome into the store in ONE write transaction (docs/CONVENTIONS.md): the
 * inventory changes planned by plan.ts, the events, IP history, ports, the scan's host rows and
 * the scan row's final state, plus `--register` (bandwidth registration through the shared
 * registerDevice). Reads happen inside the same BEGIN IMMEDIATE transaction, so two scans
 * finishing at once cannot both create the same device.
 */
import {recordEventsStmt} from '../devices/events.js'
import {insertScannedDevice, mergeDevice, portsScannedStmt, registerDevice, scannedDeviceStmt, setOfflineStmt} from '../devices/repo.js'
import {openAccounting} from '../bandwidth/admin.js'
import type {Stmt, Store, Tx} from '../store/index.js'
import type {HostResult} from '../scan/types.js'
import {planInventory, type ExistingDevice, type ExistingPort, type Plan, type Ref} from './plan.js'

export interface ApplyInput {
  scanId: number
  hosts: HostResult[]
  covered: readonly string[]
  scannedPorts: readonly number[] | null
  now: number
  /** Covered addresses not found whose neighbor entry was REACHABLE at the end (plan.ts: not offline on one miss). */
  reachable?: readonly {ip: string; mac: string}[]
  /** Found addresses that several MACs answered: an `ip_conflict` event each. */
  conflicts?: readonly {ip: string; macs: readonly string[]}[]
  register: boolean
  status: 'done' | 'interrupted'
  warnings: string[]
  /** Final progress figures for the scan row. */
  progress: {hosts_done: number; found: number; ports_total: number; ports_done: number}
}

export interface ApplyResult {
  counts: Plan['counts'] & {registered: number}
  /** ip → device id, for the report. */
  devices: Map<string, number>
  /** Device ids created by this scan. */
  created: Set<number>
}

async function loadExisting(tx: Tx, hosts: HostResult[], covered: readonly string[]): Promise<{devices: ExistingDevice[]; ports: ExistingPort[]}> {
  const macs = hosts.map(h => h.mac).filter((m): m is string => !!m)
  const ips = [...new Set([...covered, ...hosts.map(h => h.ip)])]
  const devices = await tx.query<ExistingDevice>(
    `SELECT * FROM devices
      WHERE mac IN (SELECT value FROM json_each(?1))
         OR ip IN (SELECT value FROM json_each(?2))`,
    [JSON.stringify(macs), JSON.stringify(ips)],
  )
  const ids = devices.map(d => d.id)
  const ports = ids.length
    ? await tx.query<ExistingPort>(`SELECT device_id, proto, port, service, banner FROM device_ports WHERE device_id IN (SELECT value FROM json_each(?))`, [
        JSON.stringify(ids),
      ])
    : []
  return {devices, ports}
}

export async function applyScan(store: Store, input: ApplyInput): Promise<ApplyResult> {
  return store.writeTx(async tx => {
    const {devices, ports} = await loadExisting(tx, input.hosts, input.covered)
    const plan = planInventory({
      devices,
      ports,
      hosts: input.hosts,
      covered: input.covered,
      scannedPorts: input.scannedPorts,
      now: input.now,
      scanId: input.scanId,
      reachable: input.reachable,
      conflicts: input.conflicts,
    })
    const now = input.now
    for (const m of plan.merges) await mergeDevice(tx, m.from, m.into, now, m.ip)
    const ids = new Map<Ref, number>()
    for (const d of devices) ids.set(d.id, d.id)
    const created = new Set<number>()
    for (const c of plan.creates) {
      const id = await insertScannedDevice(tx, {mac: c.mac, ip: c.ip, hostname: c.hostname, vendor: c.vendor, now})
      ids.set(c.ref, id)
      created.add(id)
    }
    const id = (ref: Ref) => ids.get(ref)!

    const stmts: Stmt[] = []
    for (const u of plan.updates) stmts.push(scannedDeviceStmt({...u, id: id(u.ref)}))
    if (plan.offline.length) stmts.push(setOfflineStmt(plan.offline))
    if (plan.ips.length) {
      stmts.push({
        sql: `INSERT INTO device_ips(device_id, ip, first_seen, last_seen)
              SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), ?2, ?2 FROM json_each(?1) WHERE true
              ON CONFLICT(device_id, ip) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)`,
        args: [JSON.stringify(plan.ips.map(x => [id(x.ref), x.ip])), now],
      })
    }
    const portRows: unknown[] = []
    const portDeletes: unknown[] = []
    const scannedIds: number[] = []
    for (const p of plan.ports) {
      scannedIds.push(id(p.ref))
      for (const o of p.open) portRows.push([id(p.ref), o.port, o.service, o.banner])
      for (const c of p.closed) portDeletes.push([id(p.ref), c])
    }
    if (portDeletes.length) {
      stmts.push({
        sql: `DELETE FROM device_ports WHERE proto = 'tcp' AND (device_id, port) IN
                (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))`,
        args: [JSON.stringify(portDeletes)],
      })
    }
    if (portRows.length) {
      stmts.push({
        sql: `INSERT INTO device_ports(device_id, proto, port, service, banner, first_seen, last_seen)
              SELECT json_extract(value, '$[0]'), 'tcp', json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'), ?2, ?2
                FROM json_each(?1) WHERE true
              ON CONFLICT(device_id, proto, port) DO UPDATE SET
                service = excluded.service, banner = coalesce(excluded.banner, banner), last_seen = excluded.last_seen`,
        args: [JSON.stringify(portRows), now],
      })
    }
    if (scannedIds.length) {
      stmts.push(portsScannedStmt(scannedIds, now))
    }
    if (input.hosts.length) {
      const rows = input.hosts.map(h => [
        h.ip,
        plan.links.has(h.ip) ? id(plan.links.get(h.ip)!) : null,
        h.mac,
        JSON.stringify(h.found_by),
        h.rtt_ms,
        h.hostname,
        h.ports ? JSON.stringify(h.ports) : null,
      ])
      stmts.push({
        sql: `INSERT OR REPLACE INTO scan_hosts(scan_id, ip, device_id, mac, found_by, rtt_ms, hostname, ports)
              SELECT ?2, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'),
                     json_extract(value, '$[4]'), json_extract(value, '$[5]'), json_extract(value, '$[6]')
                FROM json_each(?1)`,
        args: [JSON.stringify(rows), input.scanId],
      })
    }
    if (plan.events.length) stmts.push(recordEventsStmt(plan.events.map(e => ({ts: now, deviceId: id(e.ref), type: e.type, detail: e.detail}))))
    await tx.batch(stmts)

    let registered = 0
    if (input.register) {
      // Same as `bandwidth register`: the shared upsert, then the device's accounting row, opened
      // now if it has none. Done here, inside this transaction, so a scan registers all or nothing.
      const ids: number[] = []
      for (const h of input.hosts) {
        if (!h.mac) continue
        const {device} = await registerDevice(tx, {mac: h.mac, ip: h.ip, hostname: h.hostname, now})
        ids.push(device.id)
        registered++
      }
      await openAccounting(tx, ids, now)
    }
    const counts = {...plan.counts, registered}
    await tx.execute(
      `UPDATE scans SET status = ?, finished_at = ?, updated_at = ?, summary = ?, error = ?,
              hosts_done = ?, found = ?, ports_total = ?, ports_done = ? WHERE id = ?`,
      [
        input.status,
        now,
        now,
        JSON.stringify(counts),
        input.warnings.length ? input.warnings.join('; ') : null,
        input.progress.hosts_done,
        input.progress.found,
        input.progress.ports_total,
        input.progress.ports_done,
        input.scanId,
      ],
    )
    const devicesByIp = new Map<string, number>()
    for (const [ip, ref] of plan.links) devicesByIp.set(ip, id(ref))
    return {counts, devices: devicesByIp, created}
  })
}

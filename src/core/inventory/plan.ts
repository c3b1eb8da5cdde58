/**
 * What a scan changes in the inventory (issue 5), as a pure function of the devices already
 * known and the scan's results, so every rule is unit-tested without a network:
 * - a device is keyed by MAC when known, else by IP; a MAC seen at an address held by an
 *   IP-only device takes that device over (its history stays), or, when that MAC already has a
 *   device, the IP-only one is merged into it (`merged` event);
 * - found → last_seen now, online; was offline → `online` event; never seen → `new` event;
 * - a MAC at another address → `ip_changed` (from, to) and a new IP-history row;
 * - a different reverse-DNS name than before → `hostname_changed`;
 * - open ports differing from the previous port scan of the same ports → `ports_changed`
 *   (only when both scans looked at those ports: "not scanned" is not "closed");
 * - a device whose current address the scan covered but did not find → offline (`offline`
 *   event when it was online), except when the kernel's neighbor entry for that address is
 *   REACHABLE with the device's MAC at the end of the scan: the host answered ARP/NDP moments
 *   ago (too late for the window, or to a method other than neighbor), so one miss is not
 *   enough (`kept_online` counts them; their last_seen is not moved);
 * - an address that two or more MACs answered (scan/conflict.ts, arp-scan's DUP) →
 *   `ip_conflict` (ip, macs) on the device the scan linked to that address.
 */
import {INVENTORY_EVENT_TYPES, type InventoryEventType} from '../devices/events.js'
import type {DeviceRow} from '../devices/repo.js'
import type {HostResult, Method} from '../scan/types.js'

export interface ExistingDevice extends DeviceRow {
  ports_scanned_at: number | null
}

export interface ExistingPort {
  device_id: number
  proto: string
  port: number
  service: string | null
  banner: string | null
}

/** The events a scan raises: devices/events.ts owns the one union of event types. */
export type EventType = InventoryEventType
export const EVENT_TYPES: readonly EventType[] = INVENTORY_EVENT_TYPES

/** Devices are referred to by id, or by a negative placeholder for rows the plan creates. */
export type Ref = number

export interface PlannedEvent {
  ref: Ref
  type: EventType
  detail: Record<string, unknown>
}

export interface DeviceChange {
  ref: Ref
  mac: string | null
  ip: string
  hostname: string | null
  vendor: string | null
  online: 1 | 0
  last_seen: number
  ports_scanned_at: number | null
}

export interface Plan {
  creates: {ref: Ref; mac: string | null; ip: string; hostname: string | null; vendor: string | null}[]
  /** Full new state of every touched existing device (found ones). */
  updates: DeviceChange[]
  /** Existing devices that go offline. */
  offline: Ref[]
  events: PlannedEvent[]
  /** (device, ip) seen now: upsert into the IP history. */
  ips: {ref: Ref; ip: string}[]
  /** Open ports to upsert, and previously open ports this scan found closed (to delete). */
  ports: {ref: Ref; open: {port: number; service: string | null; banner: string | null}[]; closed: number[]}[]
  /** scan result ip → device ref */
  links: Map<string, Ref>
  /** IP-only devices to fold into the MAC device now seen at their address (devices/repo mergeDevice). */
  merges: {from: number; into: number; ip: string}[]
  counts: {
    seen: number
    new: number
    online: number
    offline: number
    kept_online: number
    ip_changed: number
    ip_conflict: number
    hostname_changed: number
    ports_changed: number
    merged: number
  }
}

export interface PlanInput {
  devices: ExistingDevice[]
  ports: ExistingPort[]
  hosts: HostResult[]
  covered: readonly string[]
  /** Ports the scan looked at on every live host; null = no port scan. */
  scannedPorts: readonly number[] | null
  now: number
  scanId: number
  /** Covered addresses not found whose neighbor entry was REACHABLE at the end, with its MAC. */
  reachable?: readonly {ip: string; mac: string}[]
  /** Found addresses that several MACs answered (scan/conflict.ts). */
  conflicts?: readonly {ip: string; macs: readonly string[]}[]
}

export function planInventory(input: PlanInput): Plan {
  const {now, scanId} = input
  const byMac = new Map<string, ExistingDevice>()
  const ipOnly = new Map<string, ExistingDevice>()
  const byIp = new Map<string, ExistingDevice[]>()
  for (const d of input.devices) {
    if (d.mac) byMac.set(d.mac, d)
    else if (d.ip) ipOnly.set(d.ip, d)
    if (d.ip) {
      const list = byIp.get(d.ip) ?? []
      list.push(d)
      byIp.set(d.ip, list)
    }
  }
  const portsOf = new Map<number, ExistingPort[]>()
  for (const p of input.ports) {
    const list = portsOf.get(p.device_id) ?? []
    list.push(p)
    portsOf.set(p.device_id, list)
  }

  const plan: Plan = {
    creates: [],
    updates: [],
    offline: [],
    events: [],
    ips: [],
    ports: [],
    links: new Map(),
    merges: [],
    counts: {seen: 0, new: 0, online: 0, offline: 0, kept_online: 0, ip_changed: 0, ip_conflict: 0, hostname_changed: 0, ports_changed: 0, merged: 0},
  }
  const mergedAway = new Set<number>()
  const matched = new Map<Ref, DeviceChange>()
  const created = new Map<string, Ref>() // key (mac or ip) → placeholder, for duplicates within one scan
  let nextTemp = -1
  const scanned = input.scannedPorts ? new Set(input.scannedPorts) : null

  const event = (ref: Ref, type: EventType, detail: Record<string, unknown>) => {
    plan.events.push({ref, type, detail: {...detail, scan_id: scanId}})
  }

  for (const h of input.hosts) {
    plan.counts.seen++
    let d: ExistingDevice | undefined
    if (h.mac) {
      d = byMac.get(h.mac)
      const stray = ipOnly.get(h.ip)
      if (d && stray) {
        // A known MAC at an address an IP-only device holds (seen earlier without its MAC): one host.
        plan.merges.push({from: stray.id, into: d.id, ip: h.ip})
        plan.counts.merged++
        mergedAway.add(stray.id)
        ipOnly.delete(h.ip)
        // Plan against the device as it is after mergeDevice (which runs first): what the MAC
        // device lacked comes from the IP-only one — its name, and its ports when the MAC device
        // never had a port scan — so this scan's update and port diff do not undo the merge.
        if (d.ports_scanned_at === null && stray.ports_scanned_at !== null)
          portsOf.set(
            d.id,
            (portsOf.get(stray.id) ?? []).map(p => ({...p, device_id: d!.id})),
          )
        d = {...d, hostname: d.hostname ?? stray.hostname, vendor: d.vendor ?? stray.vendor, ports_scanned_at: d.ports_scanned_at ?? stray.ports_scanned_at}
      }
      d ??= stray
    } else {
      d = ipOnly.get(h.ip)
      if (!d) {
        // No MAC this time (off-link, or the neighbor method was off): the MAC device that holds
        // this address now, the most recently seen first, unless another result already claimed it.
        const candidates = (byIp.get(h.ip) ?? []).filter(x => !matched.has(x.id) && !mergedAway.has(x.id)).sort((a, b) => b.last_seen - a.last_seen)
        d = candidates[0]
      }
    }

    if (!d) {
      const key = h.mac ?? `ip:${h.ip}`
      let ref = created.get(key)
      if (ref === undefined) {
        ref = nextTemp--
        created.set(key, ref)
        plan.creates.push({ref, mac: h.mac, ip: h.ip, hostname: h.hostname, vendor: h.vendor})
        plan.counts.new++
        event(ref, 'new', {ip: h.ip, mac: h.mac, vendor: h.vendor, hostname: h.hostname, found_by: h.found_by as Method[]})
        if (h.ports && scanned) plan.ports.push({ref, open: portRows(h), closed: []})
      }
      plan.links.set(h.ip, ref)
      plan.ips.push({ref, ip: h.ip})
      continue
    }

    const ref = d.id
    plan.links.set(h.ip, ref)
    plan.ips.push({ref, ip: h.ip})
    const already = matched.get(ref)
    if (already) continue // a second address of the same MAC in this scan: history only
    const change: DeviceChange = {
      ref,
      mac: d.mac ?? h.mac,
      ip: d.ip ?? h.ip,
      hostname: h.hostname ?? d.hostname,
      vendor: h.vendor ?? d.vendor,
      online: 1,
      last_seen: Math.max(now, d.last_seen),
      ports_scanned_at: d.ports_scanned_at,
    }
    if (d.ip && d.ip !== h.ip) {
      event(ref, 'ip_changed', {from: d.ip, to: h.ip, mac: change.mac})
      plan.counts.ip_changed++
    }
    change.ip = h.ip
    if (d.online === 0) {
      event(ref, 'online', {ip: h.ip})
      plan.counts.online++
    }
    if (h.hostname && d.hostname && h.hostname !== d.hostname) {
      event(ref, 'hostname_changed', {from: d.hostname, to: h.hostname})
      plan.counts.hostname_changed++
    }
    if (h.ports && scanned) {
      const before = (portsOf.get(ref) ?? []).filter(p => p.proto === 'tcp' && scanned.has(p.port)).map(p => p.port)
      const after = h.ports.map(p => p.port)
      const opened = after.filter(p => !before.includes(p))
      const closed = before.filter(p => !after.includes(p))
      if (d.ports_scanned_at !== null && (opened.length || closed.length)) {
        event(ref, 'ports_changed', {opened, closed, open: after})
        plan.counts.ports_changed++
      }
      plan.ports.push({ref, open: portRows(h), closed})
      change.ports_scanned_at = now
    }
    matched.set(ref, change)
    plan.updates.push(change)
  }

  for (const c of input.conflicts ?? []) {
    const ref = plan.links.get(c.ip)
    if (ref === undefined) continue // only found addresses are checked
    event(ref, 'ip_conflict', {ip: c.ip, macs: [...c.macs]})
    plan.counts.ip_conflict++
  }

  const covered = new Set(input.covered)
  const reachable = new Map((input.reachable ?? []).map(r => [r.ip, r.mac]))
  for (const d of input.devices) {
    if (matched.has(d.id) || mergedAway.has(d.id) || !d.ip || !covered.has(d.ip)) continue
    if (d.online === 0) continue
    const heard = reachable.get(d.ip)
    if (heard !== undefined && (d.mac === null || d.mac === heard)) {
      plan.counts.kept_online++
      continue
    }
    plan.offline.push(d.id)
    if (d.online === 1) {
      event(d.id, 'offline', {ip: d.ip, last_seen: d.last_seen})
      plan.counts.offline++
    }
  }
  return plan
}

function portRows(h: HostResult): {port: number; service: string | null; banner: string | null}[] {
  return (h.ports ?? []).map(p => ({port: p.port, service: p.service, banner: p.banner ?? null}))
}

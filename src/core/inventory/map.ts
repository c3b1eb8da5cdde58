/**
 * `netmon devices map` and GET /api/network/map (issue 17): gathers what topology.ts needs,
 * read-only, through each table owner's exported functions (inventory queries, bandwidth
 * totals, SNMP forwarding tables), plus this machine's view of the network: its IPv4
 * interfaces, its routing table (/proc/net/route: the default gateway) and its neighbor table
 * (/proc/net/arp: the gateway's MAC). Nothing is probed and nothing is written.
 */
import {readFileSync, readdirSync} from 'node:fs'
import {networkInterfaces} from 'node:os'
import {join} from 'node:path'
import {networkStats} from '../bandwidth/query.js'
import {devicesBehindPorts, portsOfMacs, snmpPortMac} from '../collect/fdb.js'
import {isComplete, readProcArp} from '../scan/neighbor.js'
import type {Store} from '../store/index.js'
import {listDevices} from './queries.js'
import {buildDeviceMap, parseDhcpLeases, parseProcNetRoute, type DeviceMap, type MapFdbIn, type MapInput, type MapTrafficIn} from './topology.js'

export type {DeviceMap, MapEdge, MapNode, MapSubnet, MapGateway, DeviceType} from './topology.js'

/** This machine's side of the map (tests pass their own). */
export interface LocalView {
  interfaces: MapInput['interfaces']
  routes: MapInput['routes']
  neighbors: Map<string, string>
  dhcpRouters?: MapInput['dhcpRouters']
}

/** The interfaces, routes and neighbor entries of the machine (network namespace) this runs in. */
export function localView(): LocalView {
  const interfaces: MapInput['interfaces'] = []
  for (const [name, list] of Object.entries(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family !== 'IPv4' || a.internal || !a.cidr) continue
      interfaces.push({name, address: a.address, prefix: Number(a.cidr.split('/')[1]), mac: a.mac ? a.mac.toUpperCase() : null})
    }
  }
  let routes: MapInput['routes'] = []
  try {
    routes = parseProcNetRoute(readFileSync('/proc/net/route', 'utf8'))
  } catch {
    routes = [] // not Linux: no default gateway from routes (the ports rule still finds routers)
  }
  const neighbors = new Map<string, string>()
  for (const e of readProcArp()) if (e.mac && isComplete(e)) neighbors.set(e.ip, e.mac)
  return {interfaces, routes, neighbors, dhcpRouters: readDhcpLeases()}
}

/**
 * DHCP lease files of the usual clients (ISC dhclient, NetworkManager, systemd-networkd); read
 * only, any that is missing or unreadable is skipped. buildDeviceMap keeps a lease's router only
 * while it is on-link for the interface's current address.
 */
function readDhcpLeases(): {iface: string; router: string}[] {
  const out: {iface: string; router: string}[] = []
  const read = (path: string, iface: string | null) => {
    try {
      out.push(...parseDhcpLeases(readFileSync(path, 'utf8'), iface))
    } catch {
      // no such file, or not readable
    }
  }
  for (const dir of ['/var/lib/dhcp', '/var/lib/dhclient', '/var/lib/NetworkManager']) {
    for (const f of list(dir)) {
      if (/^dhclient.*\.leases?$/.test(f)) read(join(dir, f), /-([^-]+)\.leases?$/.exec(f)?.[1] ?? null)
      else if (/^internal-.*-([^-]+)\.lease$/.test(f)) read(join(dir, f), /-([^-]+)\.lease$/.exec(f)![1]!)
    }
  }
  // systemd-networkd names each lease file after the interface's index.
  const byIndex = new Map<string, string>()
  for (const name of list('/sys/class/net')) {
    try {
      byIndex.set(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim(), name)
    } catch {
      // gone meanwhile
    }
  }
  for (const f of list('/run/systemd/netif/leases')) {
    const name = byIndex.get(f)
    if (name) read(join('/run/systemd/netif/leases', f), name)
  }
  return out
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

export interface DeviceMapOptions {
  now?: number
  /** This machine's interfaces/routes/neighbors; default: read them (localView). */
  local?: LocalView
}

/** How many recent scans' CIDR targets count as known subnets. */
const SCAN_SUBNETS_FROM = 200

export async function deviceMap(store: Store, opts: DeviceMapOptions = {}): Promise<DeviceMap> {
  const now = opts.now ?? Date.now()
  const devices = await listDevices(store)
  const stats = await networkStats(store, {now})
  const byMac = new Map<string, MapTrafficIn>()
  const byIp = new Map<string, MapTrafficIn>()
  for (const d of stats.devices) {
    const t = {total_bytes: d.total_bytes, current_bps: d.current_bps, stale: d.stale}
    if (d.mac) byMac.set(d.mac, t)
    if (d.ip && !byIp.has(d.ip)) byIp.set(d.ip, t)
  }
  const scanRows = await store.query<{targets: string}>(`SELECT targets FROM scans ORDER BY id DESC LIMIT ?`, [SCAN_SUBNETS_FROM])
  const scanSubnets = new Set<string>()
  for (const r of scanRows) {
    try {
      for (const t of JSON.parse(r.targets) as unknown[]) if (typeof t === 'string' && t.includes('/')) scanSubnets.add(t)
    } catch {
      // a malformed row names no subnet
    }
  }

  // Forwarding tables: where each inventory MAC sits, and how crowded each of those ports is.
  const macs = devices.map(d => d.mac).filter((m): m is string => m !== null)
  const seen = await portsOfMacs(store, macs)
  const portKeys = new Map<string, {agent: string; if_index: number}>()
  for (const list of seen.values()) for (const s of list) portKeys.set(snmpPortMac(s.agent, s.if_index), {agent: s.agent, if_index: s.if_index})
  const behind = await devicesBehindPorts(store, [...portKeys.keys()])
  const fdb: MapFdbIn[] = []
  for (const [mac, list] of seen) {
    for (const s of list) {
      const count = behind.get(snmpPortMac(s.agent, s.if_index))?.length ?? 1
      fdb.push({agent: s.agent, if_index: s.if_index, port: s.port, mac, vlan: s.vlan, port_macs: count})
    }
  }

  const local = opts.local ?? localView()
  return buildDeviceMap({
    devices,
    traffic: {byMac, byIp},
    interfaces: local.interfaces,
    routes: local.routes,
    neighbors: local.neighbors,
    dhcpRouters: local.dhcpRouters,
    scanSubnets: [...scanSubnets],
    fdb,
    now,
  })
}

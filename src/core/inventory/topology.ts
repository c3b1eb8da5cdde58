/**
 * The network map (issue 17, "Network map"): what the store knows about the LAN's shape, as a
 * graph of nodes and edges that cytoscape or D3 take as they are. Pure: map.ts gathers the
 * inputs (the inventory, bandwidth totals, SNMP forwarding tables, this machine's routes and
 * neighbor table) and this module decides
 * - the gateway of each subnet (this machine's default route and the neighbor entry of its
 *   gateway; else a device answering DNS and HTTP(S) at the subnet's .1/.254, or anywhere in it),
 * - which subnet each device is in (the most specific known one),
 * - each device's type from its open ports and vendor, and its role,
 * - the links: a switch port → the MACs its agent learned there (SNMP FDB; a MAC seen on several
 *   ports hangs off the one with the fewest MACs, i.e. the edge port, not the uplinks), and
 *   otherwise device → its subnet's gateway (same segment, no switch known: `inferred`).
 * The JSON shape is documented in docs/SCAN.md ("Network map").
 */
import {bigToIp, parseIpLiteral} from '../scan/targets.js'
import {vendorLabel, type MacKind} from '../scan/vendor.js'
import type {DeviceView} from './queries.js'

export const DEVICE_TYPES = ['router', 'switch', 'printer', 'nas', 'camera', 'phone', 'media', 'iot', 'server', 'computer', 'unknown'] as const
export type DeviceType = (typeof DEVICE_TYPES)[number]
export type DeviceRole = 'gateway' | 'switch' | 'self' | 'host'

// ---------------------------------------------------------------- inputs

/** A device as the inventory lists it (queries.ts DeviceView), minus the ISO time fields. */
export type MapDeviceIn = Pick<
  DeviceView,
  'id' | 'mac' | 'mac_kind' | 'ip' | 'name' | 'hostname' | 'vendor' | 'known' | 'status' | 'last_seen_ms' | 'open_ports'
>

export interface MapTrafficIn {
  total_bytes: number
  current_bps: number
  stale: boolean
}

export interface MapRouteIn {
  iface: string
  /** Destination network (CIDR) of a link route, or 0.0.0.0/0 for the default route. */
  cidr: string
  /** Next hop; null for on-link routes. */
  gateway: string | null
  metric: number
}

export interface MapFdbIn {
  /** SNMP agent name as configured (`HOST:PORT` or a name). */
  agent: string
  if_index: number
  /** The port's label from its counters (`<agent>:<ifName>`), when known. */
  port: string | null
  mac: string
  vlan: number
  /** How many MACs the agent's current table has behind this port (edge ports have few). */
  port_macs: number
}

export interface MapInput {
  devices: MapDeviceIn[]
  /** Bandwidth totals by MAC and by IP (either may find a device). */
  traffic: {byMac: Map<string, MapTrafficIn>; byIp: Map<string, MapTrafficIn>}
  /** This machine's IPv4 interfaces: address, prefix length, MAC. */
  interfaces: {name: string; address: string; prefix: number; mac: string | null}[]
  routes: MapRouteIn[]
  /** This machine's neighbor table (IP → MAC), for the gateway's MAC. */
  neighbors: Map<string, string>
  /** Routers named by this machine's DHCP leases (parseDhcpLeases). */
  dhcpRouters?: {iface: string; router: string}[]
  /** CIDR targets of past scans (subnets the user swept). */
  scanSubnets: string[]
  fdb: MapFdbIn[]
  now: number
}

// ---------------------------------------------------------------- output

export interface MapNode {
  /** `d<device id>` for inventory devices; `gw:<ip>` / `sw:<agent>` for a gateway or switch the inventory does not hold. */
  id: string
  device_id: number | null
  label: string
  type: DeviceType
  /** Why this type (the ports or vendor that decided it); null for unknown. */
  type_reason: string | null
  role: DeviceRole
  status: 'online' | 'offline' | 'unknown'
  ip: string | null
  mac: string | null
  mac_kind: MacKind | null
  name: string | null
  hostname: string | null
  vendor: string | null
  /** The vendor group this node is listed under (`vendors[]`): the vendor, or why there is none. */
  vendor_group: string
  known: boolean
  subnet: string | null
  open_ports: number[]
  /** Bytes counted and the latest rate (0 when stale); null without bandwidth accounting. */
  total_bytes: number | null
  current_bps: number | null
  last_seen_ms: number | null
  /** False for a gateway or switch known only from routes or SNMP, not from the inventory. */
  in_inventory: boolean
}

export interface MapEdge {
  id: string
  source: string
  target: string
  /** fdb: learned behind a switch port; gateway: same subnet as the gateway, no switch known. */
  kind: 'fdb' | 'gateway'
  /** The switch port (`<agent>:<ifName>`, else `ifIndex N`) for fdb edges. */
  port: string | null
  if_index: number | null
  vlan: number | null
  /** True when the link is assumed (no switch reported it). */
  inferred: boolean
}

export interface MapSubnet {
  cidr: string
  /** interface: one of this machine's; scan: a swept CIDR; assumed: a /24 around addresses outside both. */
  source: 'interface' | 'scan' | 'assumed'
  /** This machine's interface on it, when it has one. */
  iface: string | null
  gateway: string | null
  gateway_node: string | null
  /** route: this machine's default route; dhcp: its DHCP lease's router; ports: DNS + HTTP(S) on a device of the subnet. */
  gateway_source: 'route' | 'dhcp' | 'ports' | null
  devices: number
  online: number
}

export interface MapGateway {
  ip: string
  mac: string | null
  iface: string | null
  node: string | null
  /** route: a default route of this machine; dhcp: the router its DHCP lease names (no such route); ports: DNS + HTTP(S). */
  source: 'route' | 'dhcp' | 'ports'
  /** This machine's DHCP lease names it as the router. */
  dhcp: boolean
  subnet: string | null
}

export interface DeviceMap {
  generated: string
  generated_ms: number
  gateways: MapGateway[]
  subnets: MapSubnet[]
  vendors: {vendor: string; count: number; nodes: string[]}[]
  counts: {nodes: number; edges: number; online: number; offline: number; by_type: Partial<Record<DeviceType, number>>; left_out: number}
  nodes: MapNode[]
  edges: MapEdge[]
}

// ---------------------------------------------------------------- type inference

const PRINTER_PORTS = [631, 9100, 515]
const NAS_PORTS = [2049, 548]
const CAMERA_PORTS = [554]
const PHONE_PORTS = [62078]
const MEDIA_PORTS = [8008, 8009]
const IOT_PORTS = [1883, 8883, 5683]
const SERVER_PORTS = [22, 80, 443, 3306, 5432, 8080, 8443, 25, 21]

const NAS_VENDORS = /synology|qnap|western digital|buffalo|asustor|drobo/i
const CAMERA_VENDORS = /hikvision|dahua|axis communications|reolink|amcrest|foscam|hanwha|uniview/i
const PHONE_VENDORS = /oneplus|xiaomi|huawei device|oppo|vivo mobile|motorola mobility|hmd global|honor device|realme|fairphone/i
const MEDIA_VENDORS = /roku|sonos|chromecast|amazon technologies|nvidia shield/i
const IOT_VENDORS = /espressif|tuya|shelly|itead|signify|philips lighting/i
const PRINTER_VENDORS = /brother industries|seiko epson|canon inc|kyocera|lexmark|ricoh|xerox/i
const NETWORK_VENDORS = /ubiquiti|mikrotik|routerboard|juniper|cisco|aruba|netgear|tp-link|zyxel|avm gmbh|d-link/i

const portList = (ports: number[], set: number[]) => ports.filter(p => set.includes(p))

/**
 * A device's type from what the inventory knows: open ports first (what it serves), then its
 * vendor. `gateway`/`switch` come from the topology (routes, SNMP), not from ports.
 */
export function inferType(
  d: {open_ports: number[]; vendor: string | null},
  ctx: {gateway?: boolean; switch?: boolean; self?: boolean} = {},
): {type: DeviceType; reason: string | null} {
  const ports = d.open_ports
  const vendor = d.vendor ?? ''
  const has = (p: number) => ports.includes(p)
  const listed = (set: number[]) => portList(ports, set).join(',')
  if (ctx.gateway) return {type: 'router', reason: 'gateway'}
  if (ctx.switch) return {type: 'switch', reason: 'SNMP forwarding table'}
  if (portList(ports, PRINTER_PORTS).length) return {type: 'printer', reason: `port ${listed(PRINTER_PORTS)}`}
  if (portList(ports, CAMERA_PORTS).length) return {type: 'camera', reason: `port ${listed(CAMERA_PORTS)} (RTSP)`}
  if (portList(ports, NAS_PORTS).length) return {type: 'nas', reason: `port ${listed(NAS_PORTS)}`}
  if (NAS_VENDORS.test(vendor)) return {type: 'nas', reason: 'vendor'}
  if (CAMERA_VENDORS.test(vendor)) return {type: 'camera', reason: 'vendor'}
  if (portList(ports, PHONE_PORTS).length) return {type: 'phone', reason: 'port 62078 (iOS sync)'}
  if (PHONE_VENDORS.test(vendor)) return {type: 'phone', reason: 'vendor'}
  if (portList(ports, MEDIA_PORTS).length) return {type: 'media', reason: `port ${listed(MEDIA_PORTS)} (cast)`}
  if (MEDIA_VENDORS.test(vendor)) return {type: 'media', reason: 'vendor'}
  if (PRINTER_VENDORS.test(vendor)) return {type: 'printer', reason: 'vendor'}
  // A second router or access point: DNS plus a web UI.
  if (has(53) && (has(80) || has(443))) return {type: 'router', reason: 'ports 53 + HTTP(S)'}
  if (IOT_VENDORS.test(vendor)) return {type: 'iot', reason: 'vendor'}
  if (portList(ports, IOT_PORTS).length && !has(22)) return {type: 'iot', reason: `port ${listed(IOT_PORTS)}`}
  if (has(3389) || (has(445) && has(139))) return {type: 'computer', reason: has(3389) ? 'port 3389 (RDP)' : 'ports 139 + 445 (SMB)'}
  if (portList(ports, SERVER_PORTS).length) return {type: 'server', reason: `port ${listed(SERVER_PORTS)}`}
  if (NETWORK_VENDORS.test(vendor)) return {type: 'router', reason: 'vendor'}
  if (has(445)) return {type: 'computer', reason: 'port 445 (SMB)'}
  if (/raspberry pi/i.test(vendor)) return {type: 'computer', reason: 'vendor'}
  if (ctx.self) return {type: 'computer', reason: 'this machine'}
  return {type: 'unknown', reason: null}
}

// ---------------------------------------------------------------- helpers

interface Net {
  cidr: string
  version: 4 | 6
  first: bigint
  last: bigint
  len: number
}

/** A CIDR as its whole block (network to broadcast address), or null when it is not one. */
function net(cidr: string): Net | null {
  const [addr, lenText, ...rest] = cidr.split('/')
  const ip = parseIpLiteral(addr ?? '')
  if (!ip || rest.length || !/^\d{1,3}$/.test(lenText ?? '')) return null
  const bits = ip.version === 4 ? 32 : 128
  const len = Number(lenText)
  if (len > bits) return null
  const size = 1n << BigInt(bits - len)
  const first = (ip.value / size) * size
  return {cidr: `${bigToIp(first, ip.version)}/${len}`, version: ip.version, first, last: first + size - 1n, len}
}

// Parsed addresses, reused across one map (each address is looked up several times; parsing is
// most of the cost for thousands of devices). Bounded: cleared when it grows past 50,000.
const parsed = new Map<string, {version: 4 | 6; value: bigint} | null>()
function ipValue(ip: string): {version: 4 | 6; value: bigint} | null {
  let v = parsed.get(ip)
  if (v === undefined) {
    const p = parseIpLiteral(ip)
    v = p ? {version: p.version, value: p.value} : null
    if (parsed.size > 50_000) parsed.clear()
    parsed.set(ip, v)
  }
  return v
}

const contains = (n: Net, ip: {version: 4 | 6; value: bigint}) => n.version === ip.version && ip.value >= n.first && ip.value <= n.last

/** The agent name's host part: `10.0.0.2:161` → 10.0.0.2, `[fd00::2]:161` → fd00::2, `sw1` → sw1. */
export function agentHost(agent: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(agent)
  if (v6) return v6[1]!
  const m = /^([^:]+):\d+$/.exec(agent)
  return m ? m[1]! : agent
}

// ---------------------------------------------------------------- the map

export function buildDeviceMap(input: MapInput): DeviceMap {
  // Subnets: this machine's interfaces, then swept CIDRs; the most specific one holds a device.
  const subnets = new Map<string, {net: Net; source: MapSubnet['source']; iface: string | null}>()
  for (const i of input.interfaces) {
    const n = net(`${i.address}/${i.prefix}`)
    if (n && !subnets.has(n.cidr) && n.len < (n.version === 4 ? 32 : 128)) subnets.set(n.cidr, {net: n, source: 'interface', iface: i.name})
  }
  for (const c of input.scanSubnets) {
    const n = net(c)
    if (n && !subnets.has(n.cidr) && n.len < (n.version === 4 ? 32 : 128)) subnets.set(n.cidr, {net: n, source: 'scan', iface: null})
  }
  const subnetOf = (ip: string | null): string | null => {
    if (!ip) return null
    const v = ipValue(ip)
    if (!v) return null
    let best: Net | null = null
    for (const s of subnets.values()) if (contains(s.net, v) && (!best || s.net.len > best.len)) best = s.net
    return best?.cidr ?? null
  }

  const selfIps = new Set(input.interfaces.map(i => i.address))
  const selfMacs = new Set(input.interfaces.map(i => i.mac?.toUpperCase()).filter((m): m is string => !!m && m !== '00:00:00:00:00:00'))
  const fdbAgents = new Set(input.fdb.map(f => f.agent))
  const fdbMacs = new Set(input.fdb.map(f => f.mac))

  // Which devices are on the map: those a scan saw, those inside a known subnet, those a switch reported.
  let leftOut = 0
  const devices: MapDeviceIn[] = []
  for (const d of input.devices) {
    const inSubnet = subnetOf(d.ip) !== null
    if (d.status !== 'unknown' || inSubnet || (d.mac !== null && fdbMacs.has(d.mac))) devices.push(d)
    else leftOut++
  }
  // Addresses outside every known subnet: a /24 (IPv4) or /64 (IPv6) around them, marked assumed.
  for (const d of devices) {
    if (!d.ip || subnetOf(d.ip)) continue
    const v = ipValue(d.ip)
    if (!v) continue
    const n = net(`${d.ip}/${v.version === 4 ? 24 : 64}`)
    if (n && !subnets.has(n.cidr)) subnets.set(n.cidr, {net: n, source: 'assumed', iface: null})
  }

  const nodes: MapNode[] = []
  const byIp = new Map<string, MapNode>()
  const byMac = new Map<string, MapNode>()
  const trafficOf = (d: {mac: string | null; ip: string | null}) =>
    (d.mac ? input.traffic.byMac.get(d.mac) : undefined) ?? (d.ip ? input.traffic.byIp.get(d.ip) : undefined)
  for (const d of devices) {
    const t = trafficOf(d)
    const self = (d.ip !== null && selfIps.has(d.ip)) || (d.mac !== null && selfMacs.has(d.mac))
    const n: MapNode = {
      id: `d${d.id}`,
      device_id: d.id,
      label: d.name || d.hostname || d.ip || d.mac || `device ${d.id}`,
      type: 'unknown',
      type_reason: null,
      role: self ? 'self' : 'host',
      status: d.status,
      ip: d.ip,
      mac: d.mac,
      mac_kind: d.mac_kind,
      name: d.name,
      hostname: d.hostname,
      vendor: d.vendor,
      vendor_group: d.mac ? vendorLabel(d, d.mac) : '(no MAC)',
      known: d.known,
      subnet: subnetOf(d.ip),
      open_ports: [...d.open_ports],
      total_bytes: t ? t.total_bytes : null,
      current_bps: t ? (t.stale ? 0 : t.current_bps) : null,
      last_seen_ms: d.last_seen_ms,
      in_inventory: true,
    }
    nodes.push(n)
    if (d.ip) byIp.set(d.ip, n)
    if (d.mac) byMac.set(d.mac, n)
  }

  // Gateways: the default route(s) of this machine, the routers its DHCP leases name, then DNS +
  // HTTP(S) devices per subnet.
  const gateways: MapGateway[] = []
  const gwOfSubnet = new Map<string, MapGateway>()
  const defaults: {iface: string; ip: string; source: 'route' | 'dhcp'}[] = [
    ...input.routes
      .filter(r => r.gateway && r.cidr.endsWith('/0'))
      .sort((a, b) => a.metric - b.metric)
      .map(r => ({iface: r.iface, ip: r.gateway!, source: 'route' as const})),
    // A lease counts only while its router is on-link for an address the interface has now (an
    // old lease file of another network, or of another namespace's interface with the same name, does not).
    ...(input.dhcpRouters ?? [])
      .filter(d => {
        const v = ipValue(d.router)
        return (
          !!v &&
          input.interfaces.some(
            i =>
              i.name === d.iface &&
              (() => {
                const n = net(`${i.address}/${i.prefix}`)
                return n !== null && contains(n, v)
              })(),
          )
        )
      })
      .map(d => ({iface: d.iface, ip: d.router, source: 'dhcp' as const})),
  ]
  for (const r of defaults) {
    const ip = r.ip
    const known = gateways.find(g => g.ip === ip)
    if (known) {
      if (r.source === 'dhcp') known.dhcp = true
      continue
    }
    const mac = input.neighbors.get(ip) ?? null
    let node = (mac ? byMac.get(mac) : undefined) ?? byIp.get(ip)
    const subnet = subnetOf(ip)
    if (!node) {
      // The default gateway is topology even when no scan has recorded it.
      node = {
        id: `gw:${ip}`,
        device_id: null,
        label: ip,
        type: 'router',
        type_reason: 'gateway',
        role: 'gateway',
        status: 'unknown',
        ip,
        mac,
        mac_kind: null,
        name: null,
        hostname: null,
        vendor: null,
        vendor_group: mac ? '(not in the inventory)' : '(no MAC)',
        known: false,
        subnet,
        open_ports: [],
        total_bytes: null,
        current_bps: null,
        last_seen_ms: null,
        in_inventory: false,
      }
      nodes.push(node)
      byIp.set(ip, node)
    }
    node.role = 'gateway'
    const g: MapGateway = {ip, mac: mac ?? node.mac, iface: r.iface, node: node.id, source: r.source, dhcp: r.source === 'dhcp', subnet}
    gateways.push(g)
    if (subnet && !gwOfSubnet.has(subnet)) gwOfSubnet.set(subnet, g)
  }
  for (const [cidr, s] of subnets) {
    if (gwOfSubnet.has(cidr)) continue
    const cands = nodes.filter(
      n => n.subnet === cidr && n.role === 'host' && n.open_ports.includes(53) && (n.open_ports.includes(80) || n.open_ports.includes(443)),
    )
    if (cands.length === 0) continue
    // Routers usually sit at the first or the last address.
    const edge = (n: MapNode) => {
      const v = ipValue(n.ip!)!.value
      return v === s.net.first + 1n || v === s.net.last - 1n ? 0 : 1
    }
    cands.sort((a, b) => edge(a) - edge(b) || (a.device_id ?? 0) - (b.device_id ?? 0))
    const node = cands[0]!
    node.role = 'gateway'
    const g: MapGateway = {ip: node.ip!, mac: node.mac, iface: null, node: node.id, source: 'ports', dhcp: false, subnet: cidr}
    gateways.push(g)
    gwOfSubnet.set(cidr, g)
  }

  // Switches: the SNMP agents that reported forwarding tables.
  const switchNode = new Map<string, MapNode>()
  for (const agent of fdbAgents) {
    const host = agentHost(agent)
    let node = byIp.get(host) ?? nodes.find(n => n.hostname === host || n.name === host)
    if (!node) {
      node = {
        id: `sw:${agent}`,
        device_id: null,
        label: host,
        type: 'switch',
        type_reason: 'SNMP forwarding table',
        role: 'switch',
        status: 'unknown',
        ip: ipValue(host) ? host : null,
        mac: null,
        mac_kind: null,
        name: null,
        hostname: ipValue(host) ? null : host,
        vendor: null,
        vendor_group: '(not in the inventory)',
        known: false,
        subnet: subnetOf(ipValue(host) ? host : null),
        open_ports: [],
        total_bytes: null,
        current_bps: null,
        last_seen_ms: null,
        in_inventory: false,
      }
      nodes.push(node)
    } else if (node.role !== 'gateway') node.role = 'switch'
    switchNode.set(agent, node)
  }
  // A switch known only by name sits on the subnet most of its MACs are on.
  for (const [agent, node] of switchNode) {
    if (node.subnet) continue
    const votes = new Map<string, number>()
    for (const f of input.fdb) {
      const s = f.agent === agent ? byMac.get(f.mac)?.subnet : null
      if (s) votes.set(s, (votes.get(s) ?? 0) + 1)
    }
    node.subnet = [...votes].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null
  }

  for (const n of nodes) {
    if (!n.in_inventory) continue
    const t = inferType(n, {gateway: n.role === 'gateway', switch: n.role === 'switch' && !n.open_ports.length, self: n.role === 'self'})
    // A switch with a web UI is still a switch.
    const r = n.role === 'switch' ? {type: 'switch' as const, reason: 'SNMP forwarding table'} : t
    n.type = r.type
    n.type_reason = r.reason
  }

  // Links. FDB first: each MAC hangs off the port with the fewest MACs behind it (the edge port).
  const edges: MapEdge[] = []
  const parent = new Map<string, string>()
  const byMacFdb = new Map<string, MapFdbIn[]>()
  for (const f of input.fdb) {
    const list = byMacFdb.get(f.mac)
    if (list) list.push(f)
    else byMacFdb.set(f.mac, [f])
  }
  for (const [mac, seen] of byMacFdb) {
    const target = byMac.get(mac)
    if (!target) continue
    const best = [...seen].sort((a, b) => a.port_macs - b.port_macs || a.agent.localeCompare(b.agent) || a.if_index - b.if_index)[0]!
    const sw = switchNode.get(best.agent)!
    if (sw === target) continue
    edges.push({
      id: `e${edges.length + 1}`,
      source: sw.id,
      target: target.id,
      kind: 'fdb',
      port: best.port ?? `ifIndex ${best.if_index}`,
      if_index: best.if_index,
      vlan: best.vlan,
      inferred: false,
    })
    parent.set(target.id, sw.id)
  }
  // The rest: on their subnet's segment, below its gateway. A switch that is not itself behind a
  // port of another switch hangs off the gateway too (its uplink, unreported).
  for (const n of nodes) {
    if (parent.has(n.id) || !n.subnet) continue
    const g = gwOfSubnet.get(n.subnet)
    if (!g || g.node === n.id) continue
    // When a switch reported the gateway behind one of its ports, the gateway is its parent already;
    // do not close a loop by hanging that switch below the gateway.
    if (parent.get(g.node!) === n.id) continue
    edges.push({id: `e${edges.length + 1}`, source: g.node!, target: n.id, kind: 'gateway', port: null, if_index: null, vlan: null, inferred: true})
    parent.set(n.id, g.node!)
  }

  const outSubnets: MapSubnet[] = [...subnets.values()]
    .map(s => {
      const members = nodes.filter(n => n.subnet === s.net.cidr)
      const g = gwOfSubnet.get(s.net.cidr)
      return {
        cidr: s.net.cidr,
        source: s.source,
        iface: s.iface,
        gateway: g?.ip ?? null,
        gateway_node: g?.node ?? null,
        gateway_source: g?.source ?? null,
        devices: members.length,
        online: members.filter(n => n.status === 'online').length,
      }
    })
    // Only subnets that hold a node: this machine's other interfaces (container bridges, VPNs) say
    // nothing about the LAN, and come and go.
    .filter(s => s.devices > 0)
    .sort((a, b) => compareCidr(a.cidr, b.cidr))

  const vendors = new Map<string, string[]>()
  for (const n of nodes) {
    if (!n.in_inventory) continue
    const list = vendors.get(n.vendor_group)
    if (list) list.push(n.id)
    else vendors.set(n.vendor_group, [n.id])
  }
  const byType: Partial<Record<DeviceType, number>> = {}
  for (const n of nodes) byType[n.type] = (byType[n.type] ?? 0) + 1

  return {
    generated: new Date(input.now).toISOString(),
    generated_ms: input.now,
    gateways,
    subnets: outSubnets,
    // Registered vendors first (most devices first), then the groups without one ("(locally administered)"…).
    vendors: [...vendors]
      .map(([vendor, ids]) => ({vendor, count: ids.length, nodes: ids}))
      .sort((a, b) => Number(a.vendor.startsWith('(')) - Number(b.vendor.startsWith('(')) || b.count - a.count || a.vendor.localeCompare(b.vendor)),
    counts: {
      nodes: nodes.length,
      edges: edges.length,
      online: nodes.filter(n => n.status === 'online').length,
      offline: nodes.filter(n => n.status === 'offline').length,
      by_type: byType,
      left_out: leftOut,
    },
    nodes,
    edges,
  }
}

function compareCidr(a: string, b: string): number {
  const x = ipValue(a.split('/')[0]!)
  const y = ipValue(b.split('/')[0]!)
  if (!x || !y) return a.localeCompare(b)
  if (x.version !== y.version) return x.version - y.version
  return x.value < y.value ? -1 : x.value > y.value ? 1 : Number(a.split('/')[1]) - Number(b.split('/')[1])
}

// ---------------------------------------------------------------- /proc/net/route

/**
 * Linux's IPv4 routing table (`/proc/net/route`): Iface, Destination, Gateway, Flags, RefCnt,
 * Use, Metric, Mask, …; addresses are 32-bit hex in host (little-endian) byte order. Only routes
 * that are up (RTF_UP 0x1) are returned.
 */
export function parseProcNetRoute(text: string): MapRouteIn[] {
  const out: MapRouteIn[] = []
  const lines = text.split('\n')
  const hexIp = (h: string) => {
    const v = parseInt(h, 16) >>> 0
    return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24].join('.')
  }
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i]!.trim().split(/\s+/)
    if (f.length < 8 || !/^[0-9A-Fa-f]{8}$/.test(f[1]!) || !/^[0-9A-Fa-f]{8}$/.test(f[7]!)) continue
    const flags = parseInt(f[3]!, 16)
    if (!(flags & 0x1)) continue
    const mask = hexIp(f[7]!)
    const prefix = mask.split('.').reduce((n, o) => n + (Number(o).toString(2).match(/1/g)?.length ?? 0), 0)
    const gw = hexIp(f[2]!)
    out.push({iface: f[0]!, cidr: `${hexIp(f[1]!)}/${prefix}`, gateway: flags & 0x2 && gw !== '0.0.0.0' ? gw : null, metric: Number(f[6]) || 0})
  }
  return out
}

// ---------------------------------------------------------------- DHCP leases

/**
 * The router (DHCP option 3) of this machine's leases, from the lease files of the common
 * clients: ISC dhclient (`lease { interface "eth0"; option routers 192.168.1.1, …; }`, the last
 * lease of each interface wins) and systemd-networkd / NetworkManager's internal client
 * (`ROUTER=192.168.1.1` lines; `iface` is the caller's: the file names the interface). Pure.
 */
export function parseDhcpLeases(text: string, iface: string | null = null): {iface: string; router: string}[] {
  const out = new Map<string, string>()
  if (/^\s*lease\s*\{/m.test(text)) {
    for (const block of text.split(/^\s*lease\s*\{/m).slice(1)) {
      const body = block.slice(0, block.indexOf('}') >= 0 ? block.indexOf('}') : block.length)
      const itf = /interface\s+"([^"]+)"/.exec(body)?.[1] ?? iface
      const routers = /option\s+routers\s+([^;]+);/.exec(body)?.[1]
      const first = routers?.split(',')[0]?.trim()
      if (itf && first && parseIpLiteral(first)) out.set(itf, first)
    }
  } else if (iface) {
    const m = /^ROUTER=([^\s]+)/m.exec(text)
    const first = m?.[1]?.split(/[ ,]/)[0]
    if (first && parseIpLiteral(first)) out.set(iface, first)
  }
  return [...out].map(([i, router]) => ({iface: i, router}))
}

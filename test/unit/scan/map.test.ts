/**
 * The network map (issue 17): the pure rules of topology.ts (types from ports and vendors, the
 * gateway from routes or from DNS + HTTP, subnets, FDB edges choosing the edge port, no loops),
 * /proc/net/route parsing, the text tree, and deviceMap on a real libSQL store whose inventory
 * was written by applyScan and whose forwarding table by recordFdb.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {recordFdb, snmpPortMac} from '../../../src/core/collect/fdb.js'
import {applyScan} from '../../../src/core/inventory/apply.js'
import {deviceMap, type LocalView} from '../../../src/core/inventory/map.js'
import {renderMapText} from '../../../src/core/inventory/map-text.js'
import {
  buildDeviceMap,
  inferType,
  parseDhcpLeases,
  parseProcNetRoute,
  agentHost,
  type MapDeviceIn,
  type MapInput,
} from '../../../src/core/inventory/topology.js'
import type {HostResult} from '../../../src/core/scan/types.js'
import {openStore, type Store} from '../../../src/core/store/index.js'
import {tempStore} from '../../support/cli.js'

const NOW = Date.now()

function dev(id: number, ip: string | null, mac: string | null, extra: Partial<MapDeviceIn> = {}): MapDeviceIn {
  return {
    id,
    mac,
    mac_kind: mac ? 'universal' : null,
    ip,
    name: null,
    hostname: null,
    vendor: null,
    known: false,
    status: 'online',
    last_seen_ms: NOW,
    open_ports: [],
    ...extra,
  }
}

function input(devices: MapDeviceIn[], extra: Partial<MapInput> = {}): MapInput {
  return {
    devices,
    traffic: {byMac: new Map(), byIp: new Map()},
    interfaces: [{name: 'eth0', address: '10.0.0.50', prefix: 24, mac: 'AA:00:00:00:00:50'}],
    routes: [
      {iface: 'eth0', cidr: '0.0.0.0/0', gateway: '10.0.0.1', metric: 0},
      {iface: 'eth0', cidr: '10.0.0.0/24', gateway: null, metric: 0},
    ],
    neighbors: new Map([['10.0.0.1', 'AA:00:00:00:00:01']]),
    scanSubnets: [],
    fdb: [],
    now: NOW,
    ...extra,
  }
}

describe('inferType', () => {
  const cases: [number[], string | null, string, string | null][] = [
    [[631, 9100], null, 'printer', 'port 631,9100'],
    [[9100], null, 'printer', 'port 9100'],
    [[554, 80], null, 'camera', 'port 554 (RTSP)'],
    [[445, 2049], null, 'nas', 'port 2049'],
    [[548], null, 'nas', 'port 548'],
    [[445, 139], 'Synology Incorporated', 'nas', 'vendor'],
    [[80], 'Hangzhou Hikvision Digital Technology Co.,Ltd.', 'camera', 'vendor'],
    [[62078], 'Apple, Inc.', 'phone', 'port 62078 (iOS sync)'],
    [[], 'Xiaomi Communications Co Ltd', 'phone', 'vendor'],
    [[8008, 8009], 'Google, Inc.', 'media', 'port 8008,8009 (cast)'],
    [[53, 80], null, 'router', 'ports 53 + HTTP(S)'],
    [[53, 443], null, 'router', 'ports 53 + HTTP(S)'],
    [[1883], null, 'iot', 'port 1883'],
    [[], 'Espressif Inc.', 'iot', 'vendor'],
    [[3389], null, 'computer', 'port 3389 (RDP)'],
    [[139, 445], null, 'computer', 'ports 139 + 445 (SMB)'],
    [[22, 80], null, 'server', 'port 22,80'],
    [[53], null, 'unknown', null],
    [[], 'Raspberry Pi Trading Ltd', 'computer', 'vendor'],
    [[], 'TP-LINK TECHNOLOGIES CO.,LTD.', 'router', 'vendor'],
    [[], null, 'unknown', null],
  ]
  it.each(cases)('ports %j vendor %s → %s', (ports, vendor, type, reason) => {
    expect(inferType({open_ports: ports, vendor})).toEqual({type, reason})
  })
  it('gateway and switch come from the topology, before ports', () => {
    expect(inferType({open_ports: [631], vendor: null}, {gateway: true})).toEqual({type: 'router', reason: 'gateway'})
    expect(inferType({open_ports: [], vendor: null}, {switch: true}).type).toBe('switch')
    expect(inferType({open_ports: [], vendor: null}, {self: true})).toEqual({type: 'computer', reason: 'this machine'})
  })
})

describe('parseProcNetRoute', () => {
  it('reads the default route and link routes (little-endian hex), skipping routes that are down', () => {
    const text = [
      'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
      'eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0',
      'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
      'wlan0\t00000000\t0101A8C0\t0002\t0\t0\t600\t00000000\t0\t0\t0',
      'br0\t0000100A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
      'garbage line',
    ].join('\n')
    expect(parseProcNetRoute(text)).toEqual([
      {iface: 'eth0', cidr: '0.0.0.0/0', gateway: '192.0.2.1', metric: 100},
      {iface: 'eth0', cidr: '192.0.2.0/24', gateway: null, metric: 0},
      {iface: 'br0', cidr: '10.16.0.0/16', gateway: null, metric: 0},
    ])
  })
  it('DHCP leases: dhclient blocks (the last per interface wins) and networkd/NetworkManager ROUTER= files', () => {
    const dhclient = `lease {
  interface "eth0";
  fixed-address 192.168.1.23;
  option routers 192.168.1.254;
}
lease {
  interface "eth0";
  fixed-address 192.168.1.23;
  option subnet-mask 255.255.255.0;
  option routers 192.168.1.1, 192.168.1.2;
  renew 4 2026/12/03 10:00:00;
}
lease {
  interface "wlan0";
  option domain-name-servers 192.168.9.1;
}
`
    expect(parseDhcpLeases(dhclient)).toEqual([{iface: 'eth0', router: '192.168.1.1'}])
    expect(parseDhcpLeases('# This is private data.\nADDRESS=10.1.2.3\nNETMASK=255.255.255.0\nROUTER=10.1.2.1\nSERVER_ADDRESS=10.1.2.1\n', 'enp1s0')).toEqual([
      {iface: 'enp1s0', router: '10.1.2.1'},
    ])
    expect(parseDhcpLeases('ADDRESS=10.1.2.3\n', 'enp1s0')).toEqual([])
    expect(parseDhcpLeases('ROUTER=not-an-ip\n', 'enp1s0')).toEqual([])
    expect(parseDhcpLeases('ROUTER=10.1.2.1\n')).toEqual([])
  })

  it('agentHost strips the port', () => {
    expect(agentHost('10.0.0.2:161')).toBe('10.0.0.2')
    expect(agentHost('[fd00::2]:161')).toBe('fd00::2')
    expect(agentHost('sw1')).toBe('sw1')
  })
})

describe('buildDeviceMap', () => {
  it('gateway from the default route + neighbor MAC; types; edges to the gateway; vendors; left out', () => {
    const m = buildDeviceMap(
      input(
        [
          dev(1, '10.0.0.1', 'AA:00:00:00:00:01', {vendor: 'TP-LINK TECHNOLOGIES CO.,LTD.', open_ports: [53, 80]}),
          dev(2, '10.0.0.10', 'AA:00:00:00:00:10', {vendor: 'Hewlett Packard', open_ports: [631, 9100]}),
          dev(3, '10.0.0.11', 'AA:00:00:00:00:11', {vendor: 'Hewlett Packard', open_ports: [22], status: 'offline'}),
          dev(4, '10.0.0.50', 'AA:00:00:00:00:50'),
          dev(5, '10.0.0.60', '02:00:00:00:00:60', {mac_kind: 'local'}),
          // A flow peer on the internet, never scanned: not part of the LAN map.
          dev(6, '203.0.113.9', '02:11:22:33:44:55', {mac_kind: 'local', status: 'unknown'}),
          // Scanned, outside every known subnet: an assumed /24.
          dev(7, '192.168.7.3', 'AA:00:00:00:07:03'),
        ],
        {
          traffic: {
            byMac: new Map([['AA:00:00:00:00:10', {total_bytes: 5000, current_bps: 800, stale: false}]]),
            byIp: new Map([['10.0.0.11', {total_bytes: 10, current_bps: 99, stale: true}]]),
          },
          // A container bridge with nothing known on it is not a subnet of the map.
          interfaces: [
            {name: 'eth0', address: '10.0.0.50', prefix: 24, mac: 'AA:00:00:00:00:50'},
            {name: 'docker0', address: '172.17.0.1', prefix: 16, mac: '02:42:00:00:00:01'},
          ],
        },
      ),
    )
    expect(m.gateways).toEqual([{ip: '10.0.0.1', mac: 'AA:00:00:00:00:01', iface: 'eth0', node: 'd1', source: 'route', dhcp: false, subnet: '10.0.0.0/24'}])
    const n = Object.fromEntries(m.nodes.map(x => [x.id, x]))
    expect(n.d1).toMatchObject({type: 'router', role: 'gateway', subnet: '10.0.0.0/24'})
    expect(n.d2).toMatchObject({type: 'printer', type_reason: 'port 631,9100', total_bytes: 5000, current_bps: 800})
    expect(n.d3).toMatchObject({type: 'server', status: 'offline', total_bytes: 10, current_bps: 0})
    expect(n.d4).toMatchObject({role: 'self', type: 'computer'})
    expect(n.d5).toMatchObject({vendor_group: '(locally administered)', type: 'unknown'})
    expect(n.d6).toBeUndefined()
    expect(n.d7).toMatchObject({subnet: '192.168.7.0/24'})
    expect(m.counts).toMatchObject({nodes: 6, left_out: 1, online: 5, offline: 1})
    // Every node of the gateway's subnet hangs off it; nothing links the gateway to itself.
    expect(m.edges.map(e => `${e.source}>${e.target}:${e.kind}`).sort()).toEqual(['d1>d2:gateway', 'd1>d3:gateway', 'd1>d4:gateway', 'd1>d5:gateway'])
    expect(m.edges.every(e => e.inferred)).toBe(true)
    expect(m.subnets).toEqual([
      {cidr: '10.0.0.0/24', source: 'interface', iface: 'eth0', gateway: '10.0.0.1', gateway_node: 'd1', gateway_source: 'route', devices: 5, online: 4},
      {cidr: '192.168.7.0/24', source: 'assumed', iface: null, gateway: null, gateway_node: null, gateway_source: null, devices: 1, online: 1},
    ])
    expect(m.vendors[0]).toEqual({vendor: 'Hewlett Packard', count: 2, nodes: ['d2', 'd3']})
    const text = renderMapText(m)
    expect(text).toContain('Gateway 10.0.0.1 (AA:00:00:00:00:01): default route via eth0')
    expect(text).toContain('10.0.0.0/24 (on eth0) · 5 devices, 4 online')
    expect(text).toMatch(/\n {2}10\.0\.0\.1 {2}router {2}TP-LINK.*\[gateway\]/)
    expect(text).toMatch(/├── 10\.0\.0\.10 {2}printer {2}Hewlett Packard {2}ports 631,9100 {2}online/)
    expect(text).toMatch(/└── 10\.0\.0\.60 {2}unknown/)
    expect(text).toContain('Hewlett Packard (2): 10.0.0.10, 10.0.0.11')
    expect(text).toContain('1 device outside every known subnet left out')
  })

  it("DHCP: the lease's router marks the route's gateway, or is the gateway without a default route; an off-link lease is ignored", () => {
    const devices = [dev(1, '10.0.0.1', 'AA:00:00:00:00:01'), dev(2, '10.0.0.10', 'AA:00:00:00:00:10')]
    let m = buildDeviceMap(input(devices, {dhcpRouters: [{iface: 'eth0', router: '10.0.0.1'}]}))
    expect(m.gateways).toMatchObject([{ip: '10.0.0.1', source: 'route', dhcp: true}])
    expect(renderMapText(m)).toContain('default route via eth0 (and DHCP lease)')
    // A VPN holds the default route: the LAN's router is still known from the lease.
    m = buildDeviceMap(
      input(devices, {
        routes: [{iface: 'tun0', cidr: '0.0.0.0/0', gateway: '172.16.9.1', metric: 0}],
        dhcpRouters: [
          {iface: 'eth0', router: '10.0.0.1'},
          // another network's old lease, or an interface of the same name elsewhere: not on-link here
          {iface: 'eth0', router: '192.0.2.1'},
          {iface: 'wlan0', router: '10.0.0.1'},
        ],
      }),
    )
    expect(m.gateways.map(g => [g.ip, g.source, g.dhcp, g.node])).toEqual([
      ['172.16.9.1', 'route', false, 'gw:172.16.9.1'],
      ['10.0.0.1', 'dhcp', true, 'd1'],
    ])
    expect(m.subnets[0]).toMatchObject({cidr: '10.0.0.0/24', gateway: '10.0.0.1', gateway_source: 'dhcp'})
    expect(m.edges).toMatchObject([{source: 'd1', target: 'd2'}])
    expect(renderMapText(m)).toContain('Gateway 10.0.0.1 (AA:00:00:00:00:01): DHCP lease on eth0')
  })

  it('IPv6: a swept prefix holds its devices; addresses outside every prefix get an assumed /64', () => {
    const m = buildDeviceMap(
      input(
        [dev(1, 'fd00::5', 'AA:00:00:00:06:05', {open_ports: [53, 80]}), dev(2, 'fd00::9', 'AA:00:00:00:06:09'), dev(3, 'fd00:1::7', 'AA:00:00:00:06:07')],
        {
          interfaces: [],
          routes: [],
          scanSubnets: ['fd00::/120'],
        },
      ),
    )
    expect(m.subnets.map(s => [s.cidr, s.source, s.devices, s.gateway])).toEqual([
      ['fd00::/120', 'scan', 2, 'fd00::5'],
      ['fd00:1::/64', 'assumed', 1, null],
    ])
    expect(m.edges).toMatchObject([{source: 'd1', target: 'd2'}])
  })

  it('a default gateway the inventory does not hold is a node of its own', () => {
    const m = buildDeviceMap(input([dev(2, '10.0.0.10', 'AA:00:00:00:00:10')], {neighbors: new Map()}))
    expect(m.gateways[0]).toMatchObject({ip: '10.0.0.1', mac: null, node: 'gw:10.0.0.1'})
    expect(m.nodes.find(x => x.id === 'gw:10.0.0.1')).toMatchObject({type: 'router', role: 'gateway', in_inventory: false, status: 'unknown'})
    expect(m.edges).toMatchObject([{source: 'gw:10.0.0.1', target: 'd2', kind: 'gateway'}])
  })

  it('without a route into the subnet: the DNS + HTTP device at .1/.254 is the gateway (ports)', () => {
    const m = buildDeviceMap(
      input(
        [
          dev(1, '10.5.0.7', 'AA:00:00:00:05:07', {open_ports: [53, 80]}),
          dev(2, '10.5.0.254', 'AA:00:00:00:05:FE', {open_ports: [53, 443]}),
          dev(3, '10.5.0.20', 'AA:00:00:00:05:14'),
        ],
        {interfaces: [], routes: [], neighbors: new Map(), scanSubnets: ['10.5.0.0/24', '10.5.0.0/24', '10.5.0.1-20']},
      ),
    )
    expect(m.gateways).toEqual([{ip: '10.5.0.254', mac: 'AA:00:00:00:05:FE', iface: null, node: 'd2', source: 'ports', dhcp: false, subnet: '10.5.0.0/24'}])
    expect(m.subnets).toMatchObject([{cidr: '10.5.0.0/24', source: 'scan', gateway_source: 'ports', devices: 3}])
    // The other DNS+HTTP box is a second router (an access point), below the gateway.
    expect(m.nodes.find(x => x.id === 'd1')).toMatchObject({type: 'router', role: 'host'})
    expect(m.edges.map(e => e.target).sort()).toEqual(['d1', 'd3'])
  })

  it('FDB: a MAC hangs off its edge port, not the uplink; the switch is not put below a gateway it reports', () => {
    const fdb = (agent: string, ifIndex: number, mac: string, portMacs: number) => ({
      agent,
      if_index: ifIndex,
      port: `${agent}:ge${ifIndex}`,
      mac,
      vlan: 1,
      port_macs: portMacs,
    })
    const m = buildDeviceMap(
      input(
        [
          dev(1, '10.0.0.1', 'AA:00:00:00:00:01'),
          dev(2, '10.0.0.2', 'AA:00:00:00:00:02', {open_ports: [80]}),
          dev(3, '10.0.0.10', 'AA:00:00:00:00:10'),
          dev(4, '10.0.0.11', 'AA:00:00:00:00:11'),
          dev(5, '10.0.0.12', 'AA:00:00:00:00:12'),
        ],
        {
          fdb: [
            fdb('10.0.0.2:161', 1, 'AA:00:00:00:00:01', 1),
            fdb('10.0.0.2:161', 3, 'AA:00:00:00:00:10', 1),
            // A second switch behind port 4 of the first: its MACs show on the uplink too.
            fdb('10.0.0.2:161', 4, 'AA:00:00:00:00:11', 2),
            fdb('10.0.0.2:161', 4, 'AA:00:00:00:00:12', 2),
            fdb('sw2', 7, 'AA:00:00:00:00:11', 1),
          ],
        },
      ),
    )
    const n = Object.fromEntries(m.nodes.map(x => [x.id, x]))
    expect(n.d2).toMatchObject({type: 'switch', role: 'switch'})
    expect(n['sw:sw2']).toMatchObject({type: 'switch', role: 'switch', in_inventory: false, hostname: 'sw2'})
    const edges = m.edges.map(e => `${e.source}>${e.target}:${e.kind}:${e.port ?? ''}`).sort()
    expect(edges).toEqual(
      [
        'd1>sw:sw2:gateway:',
        'd2>d1:fdb:10.0.0.2:161:ge1',
        'd2>d10:fdb:10.0.0.2:161:ge3'.replace('d10', 'd3'),
        'd2>d5:fdb:10.0.0.2:161:ge4',
        'sw:sw2>d4:fdb:sw2:ge7',
      ].sort(),
    )
    expect(m.edges.filter(e => e.kind === 'fdb').every(e => !e.inferred)).toBe(true)
    // No node has two parents, and following parents never loops.
    const parents = new Map<string, string>()
    for (const e of m.edges) {
      expect(parents.has(e.target), e.target).toBe(false)
      parents.set(e.target, e.source)
    }
    for (const id of parents.keys()) {
      const seen = new Set<string>()
      for (let x: string | undefined = id; x; x = parents.get(x)) {
        expect(seen.has(x), `loop at ${x}`).toBe(false)
        seen.add(x)
      }
    }
    expect(renderMapText(m)).toMatch(/port 10\.0\.0\.2:161:ge3: 10\.0\.0\.10/)
  })
})

describe('deviceMap on a real store (applyScan + recordFdb)', () => {
  const t = tempStore('netmon-map-')
  let store: Store
  beforeAll(async () => {
    store = await openStore({db: t.db})
  })
  afterAll(async () => {
    await store.close()
    t.cleanup()
  })

  it("reads the inventory, the scans' subnets and the forwarding table; writes nothing", async () => {
    const at = NOW - 60_000
    const r = await store.batch([
      {
        sql: `INSERT INTO scans(started_at, updated_at, status, targets, methods, hosts_total, pid, hostname) VALUES (?, ?, 'running', '["10.9.0.0/24"]', '["tcp"]', 254, ?, 'x')`,
        args: [at, at, process.pid],
      },
    ])
    const scanId = Number(r[0]!.lastInsertRowid)
    const host = (ip: string, mac: string, ports: number[]): HostResult => ({
      ip,
      mac,
      mac_kind: 'universal',
      vendor: null,
      hostname: null,
      found_by: ['neighbor'],
      rtt_ms: 0.3,
      interface: 'br0',
      self: false,
      seen_ms: at,
      ports: ports.map(port => ({port, proto: 'tcp' as const, service: null})),
    })
    await applyScan(store, {
      scanId,
      hosts: [host('10.9.0.1', 'AA:09:00:00:00:01', [53, 80]), host('10.9.0.2', 'AA:09:00:00:00:02', [22]), host('10.9.0.3', 'AA:09:00:00:00:03', [9100])],
      covered: Array.from({length: 254}, (_, i) => `10.9.0.${i + 1}`),
      scannedPorts: [22, 53, 80, 9100],
      now: at,
      register: false,
      status: 'done',
      warnings: [],
      progress: {hosts_done: 254, found: 3, ports_total: 12, ports_done: 12},
    })
    await recordFdb(store, '10.9.0.2:161', at, [
      {ifIndex: 1, mac: 'AA:09:00:00:00:01', vlan: 0},
      {ifIndex: 2, mac: 'AA:09:00:00:00:03', vlan: 0},
      {ifIndex: 2, mac: 'AA:09:00:00:00:99', vlan: 0},
    ])
    const before = await store.get<{n: number}>(`SELECT (SELECT count(*) FROM devices) + (SELECT count(*) FROM events) + (SELECT count(*) FROM snmp_fdb) AS n`)
    const local: LocalView = {interfaces: [], routes: [], neighbors: new Map()}
    const m = await deviceMap(store, {local, now: NOW})
    expect(m.subnets).toMatchObject([{cidr: '10.9.0.0/24', source: 'scan', gateway: '10.9.0.1', gateway_source: 'ports', devices: 3, online: 3}])
    const byIp = Object.fromEntries(m.nodes.map(x => [x.ip, x]))
    expect(byIp['10.9.0.1']).toMatchObject({type: 'router', role: 'gateway', open_ports: [53, 80]})
    expect(byIp['10.9.0.2']).toMatchObject({type: 'switch', role: 'switch'})
    expect(byIp['10.9.0.3']).toMatchObject({type: 'printer'})
    const sw = byIp['10.9.0.2']!.id
    expect(m.edges.filter(e => e.kind === 'fdb').map(e => [e.source, m.nodes.find(x => x.id === e.target)!.ip, e.if_index])).toEqual([
      [sw, '10.9.0.1', 1],
      [sw, '10.9.0.3', 2],
    ])
    const after = await store.get<{n: number}>(`SELECT (SELECT count(*) FROM devices) + (SELECT count(*) FROM events) + (SELECT count(*) FROM snmp_fdb) AS n`)
    expect(after).toEqual(before)
    expect(snmpPortMac('10.9.0.2:161', 2)).toMatch(/^[0-9A-F:]{17}$/)
  })
})

/**
 * NetFlow into bandwidth accounting (issue 15, acceptance 2): the listener's per-host and
 * per-(protocol, port) aggregation fed real IPFIX bytes (the builder of vectors.ts), its caps under
 * a flood, and writeFlowBuckets into a real libSQL file: bytes per host, bw_ports in the same
 * batch, a late flow summed into its bucket, the by-port reads and retention with the 1h rollups.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {devicePorts, topPorts, writeFlowBuckets} from '../../../src/core/bandwidth/flows.js'
import {deviceStats} from '../../../src/core/bandwidth/query.js'
import {prune} from '../../../src/core/bandwidth/retention.js'
import {keyedMac} from '../../../src/core/collect/runner.js'
import {NetflowListener, portOf} from '../../../src/core/netflow/index.js'
import {openStore, type Store} from '../../../src/core/store/index.js'
import {DAY, HOUR} from '../../support/clock.js'
import {tempStore} from '../../support/cli.js'
import {FLOW4, flow4Record, ipfix, set, v9Template} from './vectors.js'

const ip4 = (s: string) => s.split('.').map(Number)
/** One IPFIX message: the FLOW4 template (id 256) and the records, exported at `atMs` (records carry no times: they take the export time). */
function message(atMs: number, records: number[][]): Uint8Array {
  return ipfix([set(2, v9Template(256, FLOW4)), set(256, records.flat())], {exportSecs: Math.floor(atMs / 1000)})
}
const rec = (src: string, dst: string, sp: number, dp: number, proto: number, octets: number) => flow4Record(ip4(src), ip4(dst), sp, dp, proto, octets, 1)

describe('portOf: the port a flow is filed under for a LAN host', () => {
  it.each([
    ['client to a well-known port', 6, 51000, 443, 443],
    ['server on a well-known port (remote is ephemeral)', 6, 22, 50000, 22],
    ['client to a high port: the lower one', 6, 51000, 5001, 5001],
    ['server on a high port: the lower one', 6, 5001, 51000, 5001],
    ['both well-known: the remote one', 6, 80, 443, 443],
    ['udp dns', 17, 53124, 53, 53],
    ['icmp has no ports (v5 puts type/code there)', 1, 0, 771, 0],
  ])('%s', (_n, proto, local, remote, want) => expect(portOf(proto, local, remote)).toBe(want))
})

describe('listener aggregation', () => {
  it('per host and per (protocol, port), both directions, both LAN sides', () => {
    const l = new NetflowListener({localSubnets: ['10.1.0.0/16'], intervalMs: 10_000})
    const t = Date.now()
    l.ingest(
      message(t, [
        rec('10.1.0.5', '10.1.0.6', 51000, 5001, 6, 1000), // both local
        rec('10.1.0.6', '10.1.0.5', 5001, 51000, 6, 9000),
        rec('10.1.0.5', '93.184.216.34', 40000, 443, 6, 300),
        rec('8.8.8.8', '10.1.0.5', 53, 53124, 17, 120),
        rec('8.8.8.8', '1.1.1.1', 53, 53, 17, 999), // unattributed
      ]),
      '127.0.0.1',
    )
    expect(l.counters).toMatchObject({received: 1, decoded: 1, flows: 5, unattributedFlows: 1, overflowFlows: 0})
    const [b] = l.drain()
    const a = b!.hosts.get('10.1.0.5')!
    expect([a.bytesUp, a.bytesDown]).toEqual([1300, 9120])
    expect(Object.fromEntries([...a.ports].map(([k, p]) => [k, [p.bytesUp, p.bytesDown, p.flows]]))).toEqual({
      '6/5001': [1000, 9000, 2],
      '6/443': [300, 0, 1],
      '17/53': [0, 120, 1],
    })
    const s = b!.hosts.get('10.1.0.6')!
    expect([s.bytesUp, s.bytesDown, s.ports.get('6/5001')?.flows]).toEqual([9000, 1000, 2])
  })

  it('a flood stays within the caps: hosts per bucket, held hosts, ports per host (the rest in port 0, bytes kept)', () => {
    const l = new NetflowListener({localSubnets: ['10.0.0.0/8'], intervalMs: 1000, maxHostsPerBucket: 50, maxHeldHosts: 120, maxPortsPerHost: 4})
    const t = Date.now()
    // 200 hosts in each of 5 seconds (buckets), 20 datagrams of 10 records each per second.
    for (let s = 0; s < 5; s++)
      for (let d = 0; d < 20; d++)
        l.ingest(
          message(
            t + s * 1000,
            Array.from({length: 10}, (_, i) => rec(`10.0.${d}.${i + 1}`, '203.0.113.1', 40000, 2000 + i, 6, 100)),
          ),
          'x',
        )
    expect(l.heldHosts).toBeLessThanOrEqual(120)
    const buckets = l.drain()
    for (const b of buckets) expect(b.hosts.size).toBeLessThanOrEqual(50)
    const held = buckets.reduce((n, b) => n + b.hosts.size, 0)
    expect(held).toBe(120)
    expect(l.counters.flows).toBe(1000)
    expect(l.counters.overflowFlows).toBe(1000 - held)
    expect(l.heldHosts).toBe(0)
    // one host, 10 ports: 4 kept, the other 6 summed into port 0
    const p = new NetflowListener({localSubnets: ['10.0.0.0/8'], intervalMs: 60_000, maxPortsPerHost: 4})
    p.ingest(
      message(
        t,
        Array.from({length: 10}, (_, i) => rec('10.9.9.9', '203.0.113.1', 40000, 2000 + i, 6, 100 + i)),
      ),
      'x',
    )
    const h = p.drain()[0]!.hosts.get('10.9.9.9')!
    expect(h.ports.size).toBe(5)
    expect(h.ports.get('6/0')).toMatchObject({flows: 6, bytesUp: 6 * 100 + (4 + 5 + 6 + 7 + 8 + 9)})
    expect([...h.ports.values()].reduce((n, x) => n + x.bytesUp, 0)).toBe(h.bytesUp)
    expect(p.counters.portOverflowFlows).toBe(6)
  })
})

describe('writeFlowBuckets → bandwidth (real store)', () => {
  const tmp = tempStore('netmon-nfwrite-')
  let store: Store
  beforeAll(async () => {
    store = await openStore({db: tmp.db})
  })
  afterAll(async () => {
    await store.close()
    tmp.cleanup()
  })

  it('one batch per drain: bytes per host (device keyed by IP), bw_ports with them, a late flow summed into its bucket', async () => {
    const every = 10_000
    const l = new NetflowListener({localSubnets: ['10.2.0.0/16'], intervalMs: every})
    const t0 = Math.floor((Date.now() - 2 * HOUR) / every) * every + 1000
    l.ingest(message(t0, [rec('10.2.0.7', '198.51.100.9', 41000, 443, 6, 5000), rec('198.51.100.9', '10.2.0.7', 443, 41000, 6, 70_000)]), 'e')
    l.ingest(message(t0 + every, [rec('10.2.0.7', '198.51.100.9', 41000, 443, 6, 1000)]), 'e')
    const r = await writeFlowBuckets(store, l.drain(), {intervalMs: every})
    expect(r).toMatchObject({buckets: 2, samples: 2, hosts: 1, bytes_sent: 6000, bytes_received: 70_000, registered: 1, port_rows: 1})
    // a late flow for the first bucket, after it was written
    l.ingest(message(t0, [rec('198.51.100.9', '10.2.0.7', 443, 41000, 6, 30_000)]), 'e')
    await writeFlowBuckets(store, l.drain(), {intervalMs: every})

    const mac = keyedMac('ip', '10.2.0.7')
    const {device} = await deviceStats(store, '10.2.0.7')
    expect(device.mac).toBe(mac)
    expect(device.total).toMatchObject({bytes_sent: 6000, bytes_received: 100_000})
    expect(device.sample_count).toBe(3) // three samples, the late one summed into its bucket's row (below)
    expect(device.by_port).toEqual([
      expect.objectContaining({protocol: 6, protocol_name: 'tcp', port: 443, bytes_sent: 6000, bytes_received: 100_000, flows: 4}),
    ])
    const id = Number((await store.get<{id: number}>('SELECT id FROM devices WHERE mac = ?', [mac]))!.id)
    const raw = await store.query<{ts: number; sent: number; received: number}>('SELECT ts, sent, received FROM bw_samples WHERE device_id = ? ORDER BY ts', [
      id,
    ])
    const b0 = Math.floor(t0 / every) * every
    expect(raw.map(x => [Number(x.ts), Number(x.sent), Number(x.received)])).toEqual([
      [b0 + every, 5000, 100_000],
      [b0 + 2 * every, 1000, 0],
    ])
    const top = await topPorts(store, {by: 'protocol', limit: 5})
    expect(top.top).toEqual([expect.objectContaining({protocol: 6, total_bytes: 106_000, devices: 1})])
    expect(top.top[0]!.port).toBeUndefined()
  })

  it('a bucket stamped in the future (exporter clock) is skipped and counted, the rest written', async () => {
    const l = new NetflowListener({localSubnets: ['10.3.0.0/16'], intervalMs: 10_000})
    l.ingest(message(Date.now() + DAY, [rec('10.3.0.1', '198.51.100.1', 1, 2, 17, 10)]), 'e')
    l.ingest(message(Date.now() - HOUR, [rec('10.3.0.1', '198.51.100.1', 40000, 53, 17, 10)]), 'e')
    const r = await writeFlowBuckets(store, l.drain(), {intervalMs: 10_000})
    expect(r).toMatchObject({buckets: 1, skipped_buckets: 1, skipped_flows: 1, samples: 1})
  })

  it('bw_ports is pruned with the 1h rollups, and goes with its device', async () => {
    const l = new NetflowListener({localSubnets: ['10.4.0.0/16'], intervalMs: 60_000})
    l.ingest(message(Date.now() - 400 * DAY, [rec('10.4.0.1', '198.51.100.1', 40000, 80, 6, 10)]), 'e')
    l.ingest(message(Date.now() - HOUR, [rec('10.4.0.1', '198.51.100.1', 40000, 22, 6, 10)]), 'e')
    await writeFlowBuckets(store, l.drain(), {intervalMs: 60_000, now: Date.now()})
    const id = Number((await store.get<{id: number}>('SELECT id FROM devices WHERE mac = ?', [keyedMac('ip', '10.4.0.1')]))!.id)
    expect((await devicePorts(store, id)).map(p => p.port).sort()).toEqual([22, 80])
    await prune(store, {retention: {'1h': 365 * DAY}})
    expect((await devicePorts(store, id)).map(p => p.port)).toEqual([22])
    await store.batch([{sql: 'DELETE FROM devices WHERE id = ?', args: [id]}])
    expect(Number((await store.get<{n: number}>('SELECT count(*) AS n FROM bw_ports WHERE device_id = ?', [id]))!.n)).toBe(0)
  })
})

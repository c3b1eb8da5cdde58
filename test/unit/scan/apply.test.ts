/**
 * applyScan on a real libSQL file: one transaction writes devices, events, IP history, ports,
 * scan_hosts and the scan row; a second scan turns into ip_changed/offline/ports_changed.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {applyScan} from '../../../src/core/inventory/apply.js'
import {deviceHistory, inventoryStats, listDevices, promoteDevice, scanStatus, showDevice, timeline} from '../../../src/core/inventory/queries.js'
import type {HostResult} from '../../../src/core/scan/types.js'
import {openStore, type Store} from '../../../src/core/store/index.js'
import {tempStore} from '../../support/cli.js'

const t = tempStore('netmon-apply-')
let store: Store
const T1 = Date.now() - 60_000
const T2 = T1 + 30_000

function host(ip: string, mac: string | null, extra: Partial<HostResult> = {}): HostResult {
  return {
    ip,
    mac,
    mac_kind: mac ? 'universal' : null,
    vendor: null,
    hostname: null,
    found_by: ['neighbor', 'tcp'],
    rtt_ms: 0.5,
    interface: 'br0',
    self: false,
    seen_ms: T1,
    ...extra,
  }
}

async function newScan(at: number, total: number): Promise<number> {
  const r = await store.batch([
    {
      sql: `INSERT INTO scans(started_at, updated_at, status, targets, methods, hosts_total, pid, hostname) VALUES (?, ?, 'running', '["10.9.0.0/29"]', '["tcp"]', ?, ?, 'x')`,
      args: [at, at, total, process.pid],
    },
  ])
  return Number(r[0]!.lastInsertRowid)
}

beforeAll(async () => {
  store = await openStore({db: t.db})
})
afterAll(async () => {
  await store.close()
  t.cleanup()
})

describe('applyScan + inventory queries (real store)', () => {
  it('first scan: devices, new events, IP history, ports, scan row finished', async () => {
    const id = await newScan(T1, 6)
    const covered = ['10.9.0.1', '10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.6']
    const r = await applyScan(store, {
      scanId: id,
      hosts: [
        host('10.9.0.1', 'AA:00:00:00:00:01', {vendor: 'Acme', hostname: 'a.lan', ports: [{port: 22, proto: 'tcp', service: 'ssh', banner: 'SSH-2.0-x'}]}),
        host('10.9.0.2', 'AA:00:00:00:00:02', {ports: []}),
        host('10.9.0.3', null, {ports: [{port: 80, proto: 'tcp', service: 'http'}]}),
      ],
      covered,
      scannedPorts: [22, 80],
      now: T1,
      register: false,
      status: 'done',
      warnings: [],
      progress: {hosts_done: 6, found: 3, ports_total: 6, ports_done: 6},
    })
    expect(r.counts).toMatchObject({seen: 3, new: 3, offline: 0, registered: 0})
    const list = await listDevices(store)
    expect(list.map(d => [d.ip, d.mac, d.status, d.open_ports])).toEqual([
      ['10.9.0.1', 'AA:00:00:00:00:01', 'online', [22]],
      ['10.9.0.2', 'AA:00:00:00:00:02', 'online', []],
      ['10.9.0.3', null, 'online', [80]],
    ])
    const st = await scanStatus(store, {hosts: true})
    expect(st.scan).toMatchObject({id, status: 'done', hosts_done: 6, found: 3, percent: 100, summary: expect.objectContaining({new: 3})})
    expect(st.hosts!.map(h => [h.ip, h.found_by])).toEqual([
      ['10.9.0.1', ['neighbor', 'tcp']],
      ['10.9.0.2', ['neighbor', 'tcp']],
      ['10.9.0.3', ['neighbor', 'tcp']],
    ])
    const show = await showDevice(store, 'aa:00:00:00:00:01')
    expect(show.ports).toEqual([expect.objectContaining({port: 22, service: 'ssh', banner: 'SSH-2.0-x'})])
    expect(show.last_scan).toMatchObject({scan_id: id, found_by: ['neighbor', 'tcp']})
    expect(show.latency).toBeNull()
    expect(show.bandwidth).toBeNull()
  })

  it('second scan: ip_changed, offline, ports_changed; history keeps the old IP; --register opens accounting', async () => {
    const id = await newScan(T2, 6)
    const r = await applyScan(store, {
      scanId: id,
      hosts: [
        host('10.9.0.5', 'AA:00:00:00:00:01', {seen_ms: T2, hostname: 'a.lan', ports: [{port: 80, proto: 'tcp', service: 'http'}]}),
        host('10.9.0.3', null, {seen_ms: T2, ports: [{port: 80, proto: 'tcp', service: 'http'}]}),
      ],
      covered: ['10.9.0.1', '10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.6'],
      scannedPorts: [22, 80],
      now: T2,
      register: true,
      status: 'done',
      warnings: [],
      progress: {hosts_done: 6, found: 2, ports_total: 4, ports_done: 4},
    })
    expect(r.counts).toMatchObject({new: 0, ip_changed: 1, offline: 1, ports_changed: 1, registered: 1})
    const h = await deviceHistory(store, 'AA-00-00-00-00-01')
    expect(h.ips.map(i => [i.ip, i.current])).toEqual([
      ['10.9.0.1', false],
      ['10.9.0.5', true],
    ])
    expect(h.events.map(e => e.type)).toEqual(['new', 'ip_changed', 'ports_changed'])
    expect(h.events[2]!.detail).toMatchObject({opened: [80], closed: [22]})
    const offline = await listDevices(store, {offline: true})
    expect(offline.map(d => d.mac)).toEqual(['AA:00:00:00:00:02'])
    const tl = await timeline(store, {since: T1, types: ['offline', 'ip_changed'], limit: 100})
    expect(tl.events.map(e => [e.type, e.mac])).toEqual([
      ['ip_changed', 'AA:00:00:00:00:01'],
      ['offline', 'AA:00:00:00:00:02'],
    ])
    expect((await store.query(`SELECT device_id FROM bw_totals`)).length).toBe(1)
    const show = await showDevice(store, '10.9.0.5')
    expect(show.bandwidth).toMatchObject({mac: 'AA:00:00:00:00:01', total: {total_bytes: 0}})
  })

  it("devices show includes the last latency run of the device (latency capability's table)", async () => {
    const d = await showDevice(store, 'AA:00:00:00:00:01')
    const t = Date.now()
    await store.batch([
      {
        sql: `INSERT INTO latency_runs(host, ip, device_id, method, interval_ms, timeout_ms, started_at, ended_at, sent, received, loss_pct, min_ms, avg_ms, max_ms, median_ms, jitter_ms, grade)
              VALUES ('10.9.0.5', '10.9.0.5', ?, 'icmp', 1000, 1000, ?, ?, 10, 9, 10, 0.2, 0.3, 0.5, 0.3, 0.05, 'good')`,
        args: [d.device.id, t - 10_000, t - 1000],
      },
    ])
    const again = await showDevice(store, 'AA:00:00:00:00:01')
    expect(again.latency).toMatchObject({method: 'icmp', avg_ms: 0.3, loss_pct: 10, grade: 'good', at_ms: t - 1000})
  })

  it('promote + stats', async () => {
    const p = await promoteDevice(store, 'AA:00:00:00:00:02', 'printer')
    expect(p).toMatchObject({changed: true, device: {known: true, name: 'printer'}})
    await expect(promoteDevice(store, 'AA:00:00:00:00:99')).rejects.toThrow(/no device AA:00:00:00:00:99/)
    // Not a MAC or IP: a hostname or promoted name (devices/resolve.ts), which no device has (exit 1);
    // a mistyped address is still exit 2.
    await expect(promoteDevice(store, 'not-a-mac')).rejects.toMatchObject({exitCode: 1})
    await expect(promoteDevice(store, 'zz:zz')).rejects.toMatchObject({exitCode: 2})
    const s = await inventoryStats(store)
    expect(s.devices).toEqual({total: 3, online: 2, offline: 1, unknown_status: 0, known: 1, unknown: 2, new_24h: 3})
    // The list filters agree with the scans so far: AA:..:01 moved to .5 and 10.9.0.3 (IP only) were
    // found by the second scan; AA:..:02 (now promoted) was not.
    const row = (d: {ip: string | null; mac: string | null}) => [d.ip, d.mac]
    expect((await listDevices(store, {online: true})).map(row)).toEqual([
      ['10.9.0.3', null],
      ['10.9.0.5', 'AA:00:00:00:00:01'],
    ])
    expect((await listDevices(store, {unknown: true})).map(row)).toEqual([
      ['10.9.0.3', null],
      ['10.9.0.5', 'AA:00:00:00:00:01'],
    ])
    expect((await listDevices(store, {known: true})).map(row)).toEqual([['10.9.0.2', 'AA:00:00:00:00:02']])
    expect((await listDevices(store, {online: true, known: true})).map(row)).toEqual([])
    expect(s.events_24h).toMatchObject({new: 3, ip_changed: 1, offline: 1, ports_changed: 1, promoted: 1})
    expect(s.last_scan).toMatchObject({status: 'done', found: 2})
  })

  it('timeline limits to the newest N and says so; bad ranges are input errors', async () => {
    const tl = await timeline(store, {limit: 2})
    expect(tl.count).toBe(2)
    expect(tl.truncated).toBe(true)
    expect(tl.events.at(-1)!.type).toBe('promoted')
    await expect(timeline(store, {since: 10, until: 5, limit: 5})).rejects.toMatchObject({exitCode: 2})
  })

  it('an IP-only device later seen with a known MAC is merged into it: one device, the whole history', async () => {
    // 10.9.0.3 has been IP-only since the first scan (new event, ports, scan rows); give it a name
    // and a latency run too, then find AA:..:02 (known, promoted as "printer") at that address.
    const ipOnly = (await showDevice(store, '10.9.0.3')).device
    expect(ipOnly.mac).toBeNull()
    await store.batch([
      {
        sql: `INSERT INTO latency_runs(host, ip, device_id, method, interval_ms, timeout_ms, started_at, ended_at, sent, received, loss_pct, min_ms, avg_ms, max_ms, median_ms, jitter_ms, grade)
              VALUES ('10.9.0.3', '10.9.0.3', ?, 'tcp', 1000, 1000, ?, ?, 4, 4, 0, 0.2, 0.3, 0.5, 0.3, 0.05, 'excellent')`,
        args: [ipOnly.id, T2, T2 + 1000],
      },
    ])
    const before = (await store.query<{n: number}>('SELECT count(*) AS n FROM events WHERE device_id = ?', [ipOnly.id]))[0]!.n
    expect(before).toBeGreaterThan(0)
    const T3 = T2 + 10_000
    const id = await newScan(T3, 1)
    const r = await applyScan(store, {
      scanId: id,
      hosts: [host('10.9.0.3', 'AA:00:00:00:00:02', {seen_ms: T3, ports: [{port: 80, proto: 'tcp', service: 'http'}]})],
      covered: ['10.9.0.3'],
      scannedPorts: [80],
      now: T3,
      register: false,
      status: 'done',
      warnings: [],
      progress: {hosts_done: 1, found: 1, ports_total: 1, ports_done: 1},
    })
    expect(r.counts).toMatchObject({new: 0, merged: 1, ip_changed: 1, offline: 0})
    expect(await store.get('SELECT id FROM devices WHERE id = ?', [ipOnly.id])).toBeUndefined()
    expect((await listDevices(store)).filter(d => d.ip === '10.9.0.3').map(d => d.mac)).toEqual(['AA:00:00:00:00:02'])
    const h = await deviceHistory(store, '10.9.0.3')
    expect(h.device.mac).toBe('AA:00:00:00:00:02')
    expect(h.device.known).toBe(true)
    expect(h.events.map(e => e.type)).toEqual(expect.arrayContaining(['new', 'offline', 'promoted', 'merged', 'ip_changed']))
    expect(h.events.filter(e => e.type === 'new')).toHaveLength(2) // both devices' first sightings
    expect(h.events.find(e => e.type === 'merged')!.detail).toMatchObject({from_device_id: ipOnly.id, ip: '10.9.0.3'})
    const show = await showDevice(store, 'AA:00:00:00:00:02')
    expect(show.latency).toMatchObject({method: 'tcp', grade: 'excellent'})
    expect((await store.query('SELECT 1 FROM scan_hosts WHERE device_id = ?', [ipOnly.id])).length).toBe(0)
    expect((await store.query('SELECT ip FROM device_ips WHERE device_id = ?', [show.device.id])).map((x: any) => x.ip)).toContain('10.9.0.3')
  })

  it("a merge by a scan keeps what the IP-only device knew (name, ports) and this scan's port diff applies to it", async () => {
    // MAC device (never port-scanned, no name) and an IP-only device with a name and port 22 open.
    const T4 = T2 + 30_000
    const seed = await newScan(T4 - 1000, 1)
    await applyScan(store, {
      scanId: seed,
      hosts: [host('10.9.0.40', null, {seen_ms: T4 - 1000, hostname: 'printer.lan', ports: [{port: 22, proto: 'tcp', service: 'ssh'}]})],
      covered: ['10.9.0.40'],
      scannedPorts: [22, 80],
      now: T4 - 1000,
      register: false,
      status: 'done',
      warnings: [],
      progress: {hosts_done: 1, found: 1, ports_total: 2, ports_done: 2},
    })
    await store.batch([
      {sql: `INSERT INTO devices(mac, ip, first_seen, last_seen, online) VALUES ('AA:00:00:00:00:41', '10.9.0.41', ?, ?, 1)`, args: [T4 - 500, T4 - 500]},
    ])
    const id = await newScan(T4, 1)
    const r = await applyScan(store, {
      scanId: id,
      hosts: [host('10.9.0.40', 'AA:00:00:00:00:41', {seen_ms: T4, ports: [{port: 80, proto: 'tcp', service: 'http'}]})],
      covered: ['10.9.0.40'],
      scannedPorts: [22, 80],
      now: T4,
      register: false,
      status: 'done',
      warnings: [],
      progress: {hosts_done: 1, found: 1, ports_total: 2, ports_done: 2},
    })
    expect(r.counts).toMatchObject({merged: 1, ports_changed: 1})
    const show = await showDevice(store, 'AA:00:00:00:00:41')
    expect(show.device.hostname).toBe('printer.lan')
    expect(show.ports.map(p => p.port)).toEqual([80]) // 22 was found closed by this scan
    const h = await deviceHistory(store, 'AA:00:00:00:00:41')
    expect(h.events.find(e => e.type === 'ports_changed')!.detail).toMatchObject({opened: [80], closed: [22]})
  })

  it("bandwidth register of a MAC that has a device, at an IP-only device's address, merges the two too", async () => {
    await store.batch([{sql: `INSERT INTO devices(mac, ip, first_seen, last_seen) VALUES (NULL, '10.9.0.6', ?, ?)`, args: [T1 - 5000, T1 - 5000]}])
    const stray = (await showDevice(store, '10.9.0.6')).device
    const {registerDevice} = await import('../../../src/core/devices/repo.js')
    const d = await store.writeTx(tx => registerDevice(tx, {mac: 'aa-00-00-00-00-01', ip: '10.9.0.6', now: T2 + 20_000}))
    expect(d.created).toBe(false)
    expect(d.device.first_seen).toBe(T1 - 5000) // the earlier sighting of the IP-only device
    expect(await store.get('SELECT id FROM devices WHERE id = ?', [stray.id])).toBeUndefined()
    const tl = await timeline(store, {types: ['merged'], limit: 10})
    expect(tl.events.map(e => [e.mac, (e.detail as any).ip])).toContainEqual(['AA:00:00:00:00:01', '10.9.0.6'])
  })

  it('scan status reports a running scan whose process is gone as interrupted', async () => {
    await store.batch([
      {
        sql: `INSERT INTO scans(started_at, updated_at, status, targets, methods, hosts_total, hosts_done, pid, hostname) VALUES (?, ?, 'running', '["10.9.0.0/24"]', '["tcp"]', 254, 10, 2147483646, ?)`,
        args: [Date.now() - 5000, Date.now() - 4000, (await import('node:os')).hostname()],
      },
    ])
    const st = await scanStatus(store)
    expect(st.running).toEqual([])
    expect(st.scan).toMatchObject({status: 'interrupted', stale: true, hosts_done: 10, hosts_total: 254})
  })
})

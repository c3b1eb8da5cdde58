/**
 * Inventory rules (issue 5) as a pure function: devices keyed by MAC else IP, events for new /
 * online / offline / ip_changed / hostname_changed / ports_changed.
 */
import {describe, expect, it} from 'vitest'
import {planInventory, type ExistingDevice, type PlanInput} from '../../../src/core/inventory/plan.js'
import type {HostResult} from '../../../src/core/scan/types.js'

const T0 = 1_700_000_000_000
const NOW = T0 + 3_600_000

function dev(id: number, mac: string | null, ip: string | null, extra: Partial<ExistingDevice> = {}): ExistingDevice {
  return {id, mac, ip, hostname: null, name: null, vendor: null, known: 0, online: 1, first_seen: T0, last_seen: T0, ports_scanned_at: null, ...extra}
}

function host(ip: string, mac: string | null, extra: Partial<HostResult> = {}): HostResult {
  return {
    ip,
    mac,
    mac_kind: mac ? 'universal' : null,
    vendor: null,
    hostname: null,
    found_by: ['tcp'],
    rtt_ms: 1,
    interface: null,
    self: false,
    seen_ms: NOW,
    ...extra,
  }
}

function plan(p: Partial<PlanInput>) {
  return planInventory({devices: [], ports: [], hosts: [], covered: [], scannedPorts: null, now: NOW, scanId: 7, ...p})
}

const types = (p: ReturnType<typeof plan>) => p.events.map(e => [e.ref, e.type])

describe('planInventory', () => {
  it('new devices: keyed by MAC when known, else by IP; one `new` event each, tagged with the scan', () => {
    const p = plan({hosts: [host('10.0.0.2', 'AA:00:00:00:00:02'), host('10.0.0.3', null)], covered: ['10.0.0.2', '10.0.0.3']})
    expect(p.creates.map(c => [c.mac, c.ip])).toEqual([
      ['AA:00:00:00:00:02', '10.0.0.2'],
      [null, '10.0.0.3'],
    ])
    expect(p.events.map(e => e.type)).toEqual(['new', 'new'])
    expect(p.events[0]!.detail).toMatchObject({ip: '10.0.0.2', mac: 'AA:00:00:00:00:02', scan_id: 7})
    expect(p.counts).toMatchObject({seen: 2, new: 2, offline: 0})
  })

  it('an address two MACs answered → one ip_conflict (ip, macs) on the device linked to it; an address not found gets none', () => {
    const macs = ['AA:00:00:00:00:01', 'AA:00:00:00:00:02']
    const p = plan({
      devices: [dev(1, 'AA:00:00:00:00:01', '10.0.0.1')],
      hosts: [host('10.0.0.1', 'AA:00:00:00:00:01')],
      covered: ['10.0.0.1', '10.0.0.2'],
      conflicts: [
        {ip: '10.0.0.1', macs},
        {ip: '10.0.0.2', macs},
      ],
    })
    expect(types(p)).toEqual([[1, 'ip_conflict']])
    expect(p.events[0]!.detail).toEqual({ip: '10.0.0.1', macs, scan_id: 7})
    expect(p.counts.ip_conflict).toBe(1)
    expect(plan({hosts: [host('10.0.0.1', 'AA:00:00:00:00:01')], covered: ['10.0.0.1']}).counts.ip_conflict).toBe(0)
  })

  it('seen again at the same address: no event, last seen now', () => {
    const p = plan({devices: [dev(1, 'AA:00:00:00:00:01', '10.0.0.1')], hosts: [host('10.0.0.1', 'AA:00:00:00:00:01')], covered: ['10.0.0.1']})
    expect(p.events).toEqual([])
    expect(p.updates).toEqual([expect.objectContaining({ref: 1, ip: '10.0.0.1', online: 1, last_seen: NOW})])
  })

  it('MAC at another address → ip_changed (from, to), the new address in the IP history; the old address is not "offline"', () => {
    const p = plan({devices: [dev(1, 'AA:00:00:00:00:01', '10.0.0.1')], hosts: [host('10.0.0.9', 'AA:00:00:00:00:01')], covered: ['10.0.0.1', '10.0.0.9']})
    expect(types(p)).toEqual([[1, 'ip_changed']])
    expect(p.events[0]!.detail).toMatchObject({from: '10.0.0.1', to: '10.0.0.9'})
    expect(p.ips).toEqual([{ref: 1, ip: '10.0.0.9'}])
    expect(p.offline).toEqual([])
  })

  it('not found at a covered address → offline (+ event only when it was online); uncovered addresses are left alone', () => {
    const p = plan({
      devices: [
        dev(1, 'AA:00:00:00:00:01', '10.0.0.1'),
        dev(2, null, '10.0.0.2', {online: null}),
        dev(3, 'AA:00:00:00:00:03', '10.0.0.3'),
        dev(4, 'AA:00:00:00:00:04', '10.0.0.4', {online: 0}),
      ],
      covered: ['10.0.0.1', '10.0.0.2', '10.0.0.4'],
    })
    expect(p.offline.sort()).toEqual([1, 2])
    expect(types(p)).toEqual([[1, 'offline']])
    expect(p.counts.offline).toBe(1)
  })

  it('offline device found again → online event', () => {
    const p = plan({devices: [dev(1, 'AA:00:00:00:00:01', '10.0.0.1', {online: 0})], hosts: [host('10.0.0.1', 'AA:00:00:00:00:01')], covered: ['10.0.0.1']})
    expect(types(p)).toEqual([[1, 'online']])
  })

  it("a MAC seen at an IP-only device's address takes that device over (no new device)", () => {
    const p = plan({devices: [dev(5, null, '10.0.0.5')], hosts: [host('10.0.0.5', 'AA:00:00:00:00:05')], covered: ['10.0.0.5']})
    expect(p.creates).toEqual([])
    expect(p.updates).toEqual([expect.objectContaining({ref: 5, mac: 'AA:00:00:00:00:05'})])
  })

  it("a known MAC at an IP-only device's address: the IP-only device is merged into the MAC device, not left offline", () => {
    const p = plan({
      devices: [dev(1, 'AA:00:00:00:00:01', '10.0.0.1'), dev(5, null, '10.0.0.5')],
      hosts: [host('10.0.0.5', 'AA:00:00:00:00:01')],
      covered: ['10.0.0.1', '10.0.0.5'],
    })
    expect(p.merges).toEqual([{from: 5, into: 1, ip: '10.0.0.5'}])
    expect(p.counts.merged).toBe(1)
    expect(p.creates).toEqual([])
    expect(p.updates.map(u => [u.ref, u.ip])).toEqual([[1, '10.0.0.5']])
    expect(p.offline).toEqual([])
    expect(types(p)).toEqual([[1, 'ip_changed']])
    expect(p.links.get('10.0.0.5')).toBe(1)
  })

  it('no MAC in the result (off-link, or neighbor off): matches the device currently at that address', () => {
    const p = plan({
      devices: [dev(1, 'AA:00:00:00:00:01', '10.0.0.1', {last_seen: T0}), dev(2, 'AA:00:00:00:00:02', '10.0.0.1', {last_seen: T0 + 5})],
      hosts: [host('10.0.0.1', null)],
      covered: ['10.0.0.1'],
    })
    expect(p.creates).toEqual([])
    expect(p.updates.map(u => u.ref)).toEqual([2])
    // The other device at that address was not seen: offline.
    expect(p.offline).toEqual([1])
  })

  it('hostname_changed only between two known names', () => {
    const p = plan({
      devices: [dev(1, 'AA:00:00:00:00:01', '10.0.0.1', {hostname: 'old.lan'}), dev(2, 'AA:00:00:00:00:02', '10.0.0.2')],
      hosts: [host('10.0.0.1', 'AA:00:00:00:00:01', {hostname: 'new.lan'}), host('10.0.0.2', 'AA:00:00:00:00:02', {hostname: 'first.lan'})],
    })
    expect(types(p)).toEqual([[1, 'hostname_changed']])
    expect(p.events[0]!.detail).toMatchObject({from: 'old.lan', to: 'new.lan'})
    expect(p.updates.find(u => u.ref === 2)!.hostname).toBe('first.lan')
    // a lookup that failed this time keeps the old name
    const q = plan({devices: [dev(1, 'AA:00:00:00:00:01', '10.0.0.1', {hostname: 'old.lan'})], hosts: [host('10.0.0.1', 'AA:00:00:00:00:01')]})
    expect(q.updates[0]!.hostname).toBe('old.lan')
    expect(q.events).toEqual([])
  })

  it('ports_changed compares only ports both scans looked at, and never against "never scanned"', () => {
    const d = dev(1, 'AA:00:00:00:00:01', '10.0.0.1', {ports_scanned_at: T0})
    const ports = [
      {device_id: 1, proto: 'tcp', port: 22, service: 'ssh', banner: null},
      {device_id: 1, proto: 'tcp', port: 8443, service: null, banner: null}, // outside this scan's list
    ]
    const h = host('10.0.0.1', 'AA:00:00:00:00:01', {ports: [{port: 80, proto: 'tcp', service: 'http'}]})
    const p = plan({devices: [d], ports, hosts: [h], scannedPorts: [22, 80, 443]})
    expect(types(p)).toEqual([[1, 'ports_changed']])
    expect(p.events[0]!.detail).toMatchObject({opened: [80], closed: [22], open: [80]})
    expect(p.ports).toEqual([{ref: 1, open: [{port: 80, service: 'http', banner: null}], closed: [22]}])
    expect(p.updates[0]!.ports_scanned_at).toBe(NOW)

    // first port scan of a known device: ports recorded, no event
    const first = plan({devices: [dev(1, 'AA:00:00:00:00:01', '10.0.0.1')], hosts: [h], scannedPorts: [80]})
    expect(first.events).toEqual([])
    expect(first.ports).toHaveLength(1)

    // no port scan this time: ports untouched
    const none = plan({devices: [d], ports, hosts: [host('10.0.0.1', 'AA:00:00:00:00:01')], scannedPorts: null})
    expect(none.ports).toEqual([])
    expect(none.updates[0]!.ports_scanned_at).toBe(T0)
  })

  it('the same MAC answering at two addresses in one scan: one device, both addresses in its history', () => {
    const p = plan({hosts: [host('10.0.0.1', 'AA:00:00:00:00:01'), host('10.0.0.2', 'AA:00:00:00:00:01')]})
    expect(p.creates).toHaveLength(1)
    expect(p.ips.map(x => x.ip)).toEqual(['10.0.0.1', '10.0.0.2'])
    expect(p.events.map(e => e.type)).toEqual(['new'])
  })
})

/**
 * Addresses over time (docs/SCAN.md "Addresses over time"): a device moves 10.77.0.12 → .13;
 * its timeline shows the address it had at each event (the `new` at .12, the ip_changed from →
 * to, later events at .13), and `devices history 10.77.0.12` finds it by the former address,
 * then lists both holders once another device takes .12. The store is built by applyScan, the
 * write path `netmon scan` uses, on a real libSQL file (no network); the built CLI reads it.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {applyScan} from '../../../src/core/inventory/apply.js'
import {deviceHistory, promoteDevice, timeline} from '../../../src/core/inventory/queries.js'
import type {HostResult} from '../../../src/core/scan/types.js'
import {openStore, type Store} from '../../../src/core/store/index.js'
import {runCli, tempStore} from '../../support/cli.js'
import {HOUR, MINUTE} from '../../support/clock.js'

const t = tempStore('netmon-iphist-')
let store: Store
const NOW = Date.now()
const at = (minutesAgo: number) => NOW - minutesAgo * MINUTE
const A = 'AA:77:00:00:00:12'
const B = 'AA:77:00:00:00:99'
const D = 'AA:77:00:00:00:30'

function host(ip: string, mac: string, ts: number, extra: Partial<HostResult> = {}): HostResult {
  return {
    ip,
    mac,
    mac_kind: 'universal',
    vendor: null,
    hostname: null,
    found_by: ['neighbor'],
    rtt_ms: 0.4,
    interface: 'br0',
    self: false,
    seen_ms: ts,
    ...extra,
  }
}

/** One finished scan at `now` covering `covered`, finding `hosts` (the same write `netmon scan` does). */
async function scan(now: number, covered: string[], hosts: HostResult[]): Promise<number> {
  const r = await store.batch([
    {
      sql: `INSERT INTO scans(started_at, updated_at, status, targets, methods, hosts_total, pid, hostname) VALUES (?, ?, 'running', '["10.77.0.0/24"]', '["neighbor"]', ?, ?, 'x')`,
      args: [now, now, covered.length, process.pid],
    },
  ])
  const scanId = Number(r[0]!.lastInsertRowid)
  await applyScan(store, {
    scanId,
    hosts,
    covered,
    scannedPorts: null,
    now,
    register: false,
    status: 'done',
    warnings: [],
    progress: {hosts_done: covered.length, found: hosts.length, ports_total: 0, ports_done: 0},
  })
  return scanId
}

const LAN = ['10.77.0.12', '10.77.0.13', '10.77.0.30', '10.77.0.31']

beforeAll(async () => {
  store = await openStore({db: t.db})
  // 3 h ago: A new at .12 (name a.lan), D new at .30.
  await scan(at(180), LAN, [host('10.77.0.12', A, at(180), {hostname: 'a.lan'}), host('10.77.0.30', D, at(180))])
  // 2 h ago: A at .13 under another name (ip_changed, hostname_changed); D moved to .31.
  await scan(at(120), LAN, [host('10.77.0.13', A, at(120), {hostname: 'a2.lan'}), host('10.77.0.31', D, at(120))])
  // 110 min ago: A promoted (an event with no address of its own).
  await promoteDevice(store, A, 'Printer', at(110))
  // 90 min ago: A not found (offline at .13); D back at .30.
  await scan(at(90), LAN, [host('10.77.0.30', D, at(90))])
  // 60 min ago: A back (online at .13); D promoted while at .30 again.
  await scan(at(60), LAN, [host('10.77.0.13', A, at(60)), host('10.77.0.30', D, at(60))])
  await promoteDevice(store, D, 'Camera', at(50))
})
afterAll(async () => {
  await store.close()
  t.cleanup()
})

const since = () => String(NOW - 4 * HOUR)

describe('the IP at the time of each event', () => {
  it('devices timeline --json: new at .12, ip_changed .12 → .13, later events at .13 (built CLI)', async () => {
    const r = await runCli(['devices', 'timeline', '--since', since(), '--device', A, '--json'], {db: t.db})
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.json.events.map((e: any) => [e.type, e.ip, e.ip_from, e.current_ip])).toEqual([
      ['new', '10.77.0.12', null, '10.77.0.13'],
      ['ip_changed', '10.77.0.13', '10.77.0.12', '10.77.0.13'],
      ['hostname_changed', '10.77.0.13', null, '10.77.0.13'],
      ['promoted', '10.77.0.13', null, '10.77.0.13'],
      ['offline', '10.77.0.13', null, '10.77.0.13'],
      ['online', '10.77.0.13', null, '10.77.0.13'],
    ])
  })

  it('devices timeline (text): the IP column shows the address then, ip_changed as from → to', async () => {
    const r = await runCli(['devices', 'timeline', '--since', since(), '--device', A, '--type', 'new,ip_changed'], {db: t.db})
    expect(r.code).toBe(0)
    const lines = r.stdout.split('\n')
    expect(lines.find(l => /\bnew\b/.test(l))).toMatch(/\b10\.77\.0\.12\b/)
    expect(lines.find(l => /\bnew\b/.test(l))).not.toMatch(/10\.77\.0\.13/)
    expect(lines.find(l => /ip_changed/.test(l))).toContain('10.77.0.12 → 10.77.0.13')
  })

  it('a return to an earlier address is ordered by the ip_changed moves (D: .30 → .31 → .30)', async () => {
    const tl = await timeline(store, {since: NOW - 4 * HOUR, device: D, limit: 100})
    expect(tl.events.map(e => [e.type, e.ip_from, e.ip])).toEqual([
      ['new', null, '10.77.0.30'],
      ['ip_changed', '10.77.0.30', '10.77.0.31'],
      ['ip_changed', '10.77.0.31', '10.77.0.30'],
      ['promoted', null, '10.77.0.30'],
    ])
    // The same addresses in the device's own history.
    const h = await deviceHistory(store, D)
    expect(h.events.map(e => e.ip)).toEqual(['10.77.0.30', '10.77.0.31', '10.77.0.30', '10.77.0.30'])
    expect(h.ip_holders).toBeNull()
  })
})

describe('devices history by a former IP', () => {
  it('finds the device that held 10.77.0.12 before (built CLI, JSON and text)', async () => {
    const r = await runCli(['devices', 'history', '10.77.0.12', '--json'], {db: t.db})
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.json.device).toMatchObject({mac: A, ip: '10.77.0.13', name: 'Printer'})
    expect(r.json.ips.map((i: any) => [i.ip, i.current])).toEqual([
      ['10.77.0.12', false],
      ['10.77.0.13', true],
    ])
    expect(r.json.ip_holders.map((h: any) => [h.mac, h.current, h.first_seen_ms, h.last_seen_ms])).toEqual([[A, false, at(180), at(180)]])
    const text = await runCli(['devices', 'history', '10.77.0.12'], {db: t.db})
    expect(text.code).toBe(0)
    expect(text.stdout).toContain(A)
    expect(text.stdout).toContain('10.77.0.12 → 10.77.0.13')
    // An address nobody ever held is still not found.
    expect((await runCli(['devices', 'history', '10.77.0.200'], {db: t.db})).code).toBe(1)
  })

  it('once another device takes .12: both holders with their period there, oldest first; the history is the one there now', async () => {
    await scan(at(30), ['10.77.0.12'], [host('10.77.0.12', B, at(30))])
    const r = await runCli(['devices', 'history', '10.77.0.12', '--json'], {db: t.db})
    expect(r.code).toBe(0)
    expect(r.json.ip_holders.map((h: any) => [h.mac, h.ip, h.current, h.first_seen_ms, h.last_seen_ms])).toEqual([
      [A, '10.77.0.13', false, at(180), at(180)],
      [B, '10.77.0.12', true, at(30), at(30)],
    ])
    expect(r.json.device.mac).toBe(B)
    expect(r.json.events.map((e: any) => [e.type, e.ip])).toEqual([['new', '10.77.0.12']])
    const text = await runCli(['devices', 'history', '10.77.0.12'], {db: t.db})
    expect(text.code).toBe(0)
    expect(text.stdout).toContain('2 devices held 10.77.0.12')
    expect(text.stdout).toContain(A)
    expect(text.stdout).toContain(B)
    // By MAC, the other holder's own history, with no holder list.
    const a = await runCli(['devices', 'history', A, '--json'], {db: t.db})
    expect(a.json.device.mac).toBe(A)
    expect(a.json.ip_holders).toBeNull()
  })
})

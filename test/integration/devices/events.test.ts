/**
 * Issue 14 "devices and events have one owner", on real libSQL files: every device creation path
 * (bandwidth auto-register, bandwidth register, the collector runner keyed by MAC and by IP, a
 * scan's apply) raises exactly one `new` event; events are read back by cursor in id order, and
 * ids are never reused after the newest rows are deleted (migration 006: AUTOINCREMENT).
 */
import {afterAll, describe, expect, it} from 'vitest'
import {CollectorRunner, keyedMac} from '../../../src/core/collect/runner.js'
import type {CounterReadingIn, CounterSource} from '../../../src/core/collect/source.js'
import {readEvents} from '../../../src/core/devices/events.js'
import {addEvent} from '../../../src/core/devices/repo.js'
import {applyScan} from '../../../src/core/inventory/apply.js'
import type {HostResult} from '../../../src/core/scan/types.js'
import {openStore, type Store} from '../../../src/core/store/index.js'
import {migrate} from '../../../src/core/store/migrate.js'
import {MIGRATIONS} from '../../../src/core/store/migrations/index.js'
import {runCli, tempStore} from '../../support/cli.js'

const temps: ReturnType<typeof tempStore>[] = []
const fresh = () => {
  const t = tempStore('netmon-dev-events-')
  temps.push(t)
  return t
}
afterAll(() => {
  for (const t of temps) t.cleanup()
})

async function withStore<T>(db: string, f: (s: Store) => Promise<T>): Promise<T> {
  const s = await openStore({db})
  try {
    return await f(s)
  } finally {
    await s.close()
  }
}

/** `new` events per device MAC (devices joined now, so a merge would show under the survivor). */
async function newEvents(db: string): Promise<Record<string, number>> {
  return withStore(db, async s => {
    const rows = await s.query<{mac: string | null; ip: string | null; n: number}>(
      `SELECT d.mac, d.ip, count(*) AS n FROM events e JOIN devices d ON d.id = e.device_id WHERE e.type = 'new' GROUP BY d.id`,
    )
    const devices = await s.query<{n: number}>('SELECT count(*) AS n FROM devices')
    const out: Record<string, number> = {}
    for (const r of rows) out[String(r.mac ?? r.ip)] = Number(r.n)
    expect(Object.keys(out)).toHaveLength(Number(devices[0]!.n))
    return out
  })
}

const T0 = Date.now() - 10 * 60_000

describe('every device creation path raises exactly one `new` event', () => {
  it('bandwidth sample --auto-register (NDJSON), twice', async () => {
    const t = fresh()
    const line = (mac: string, i: number) => JSON.stringify({mac, ip: `10.77.10.${i + 10}`, sent: 100, received: 200, ts: T0 + i * 1000})
    const input = ['02:77:10:00:00:01', '02:77:10:00:00:02', '02:77:10:00:00:03'].map(line).join('\n') + '\n'
    const a = await runCli(['bandwidth', 'sample', '--from', '-', '--auto-register', '--json'], {db: t.db, input})
    expect(a.code, a.stderr).toBe(0)
    expect(a.json.registered).toHaveLength(3)
    const later = ['02:77:10:00:00:01', '02:77:10:00:00:04'].map((m, i) => JSON.stringify({mac: m, sent: 1, received: 2, ts: T0 + 60_000 + i}))
    const b = await runCli(['bandwidth', 'sample', '--from', '-', '--auto-register', '--json'], {db: t.db, input: later.join('\n') + '\n'})
    expect(b.code, b.stderr).toBe(0)
    expect(await newEvents(t.db)).toEqual({'02:77:10:00:00:01': 1, '02:77:10:00:00:02': 1, '02:77:10:00:00:03': 1, '02:77:10:00:00:04': 1})
    const page = await withStore(t.db, s => readEvents(s, {types: ['new']}))
    expect(page.events.find(e => e.mac === '02:77:10:00:00:02')!.detail).toEqual({ip: '10.77.10.11', mac: '02:77:10:00:00:02', hostname: null, by: 'bandwidth'})
  })

  it('bandwidth register (and re-register: no second `new`)', async () => {
    const t = fresh()
    for (const ip of ['10.77.10.20', '10.77.10.21']) {
      const r = await runCli(['bandwidth', 'register', '--mac', '02:77:10:00:01:01', '--ip', ip, '--json'], {db: t.db})
      expect(r.code, r.stderr).toBe(0)
    }
    expect(await newEvents(t.db)).toEqual({'02:77:10:00:01:01': 1})
    const page = await withStore(t.db, s => readEvents(s, {types: ['new']}))
    expect(page.events[0]!.detail).toMatchObject({ip: '10.77.10.20', by: 'register'})
  })

  it('the collector runner, readings keyed by {mac} and by {ip}, over three ticks', async () => {
    const t = fresh()
    let n = 0
    const source: CounterSource = {
      name: 'fake',
      kind: 'fake',
      bits: 64,
      read: async (): Promise<CounterReadingIn[]> => {
        n++
        const ts = T0 + n * 10_000
        const c = (k: number) => ({bytesSent: BigInt(k * n * 1000), bytesReceived: BigInt(k * n * 2000)})
        return [
          {key: {mac: '02:77:10:00:02:01'}, ts, counters: c(1), counterId: 'fake:a', ip: '10.77.10.30'},
          {key: {ip: '10.77.10.31'}, ts, counters: c(2), counterId: 'fake:10.77.10.31'},
        ]
      },
    }
    const store = await openStore({db: t.db})
    try {
      const runner = new CollectorRunner({sources: [source], store, maxRateBps: 10_000_000_000})
      for (let i = 0; i < 3; i++) {
        const tick = await runner.tick()
        expect(tick.sources[0]!.error).toBeNull()
      }
    } finally {
      await store.close()
    }
    expect(await newEvents(t.db)).toEqual({'02:77:10:00:02:01': 1, [keyedMac('ip', '10.77.10.31')]: 1})
  })

  it('a scan plan applied by the inventory (and applied again: online, no second `new`)', async () => {
    const t = fresh()
    const host = (ip: string, mac: string | null): HostResult => ({
      ip,
      mac,
      mac_kind: mac ? 'universal' : null,
      vendor: null,
      hostname: null,
      found_by: ['tcp'],
      rtt_ms: 0.4,
      interface: 'lo',
      self: false,
      seen_ms: T0,
    })
    await withStore(t.db, async s => {
      for (const at of [T0, T0 + 60_000]) {
        const r = await s.batch([
          {
            sql: `INSERT INTO scans(started_at, updated_at, status, targets, methods, hosts_total, pid, hostname) VALUES (?, ?, 'running', '["10.77.10.0/30"]', '["tcp"]', 2, ?, 'x')`,
            args: [at, at, process.pid],
          },
        ])
        await applyScan(s, {
          scanId: Number(r[0]!.lastInsertRowid),
          hosts: [host('10.77.10.1', '02:77:10:00:03:01'), host('10.77.10.2', null)],
          covered: ['10.77.10.1', '10.77.10.2'],
          scannedPorts: null,
          now: at,
          register: false,
          status: 'done',
          warnings: [],
          progress: {hosts_done: 2, found: 2, ports_total: 0, ports_done: 0},
        })
      }
    })
    expect(await newEvents(t.db)).toEqual({'02:77:10:00:03:01': 1, '10.77.10.2': 1})
  })
})

describe('events by cursor', () => {
  it('reads back in id order across pages; ids are not reused after the newest rows are deleted', async () => {
    const t = fresh()
    await withStore(t.db, async s => {
      const put = (k: number) => s.writeTx(tx => addEvent(tx, {ts: T0 + k, deviceId: null, type: 'bandwidth_reset', detail: {k}}))
      for (let k = 1; k <= 5; k++) await put(k)
      const p1 = await readEvents(s, {limit: 2})
      expect(p1.events.map(e => e.detail!.k)).toEqual([1, 2])
      expect(p1.more).toBe(true)
      const p2 = await readEvents(s, {after: p1.next, limit: 10})
      expect(p2.events.map(e => e.detail!.k)).toEqual([3, 4, 5])
      expect(p2.more).toBe(false)
      const top = p2.next
      // A consumer has seen up to `top`; the newest two are deleted (pruned) and new ones arrive.
      await s.batch([{sql: 'DELETE FROM events WHERE id > ?', args: [top - 2]}])
      for (let k = 6; k <= 7; k++) await put(k)
      const p3 = await readEvents(s, {after: top})
      expect(p3.events.map(e => e.detail!.k)).toEqual([6, 7])
      expect(p3.events[0]!.id).toBe(top + 1)
      // Nothing after the last cursor: the same cursor back, no more.
      expect(await readEvents(s, {after: p3.next})).toEqual({events: [], next: p3.next, more: false})
      expect((await readEvents(s, {types: ['new']})).events).toEqual([])
    })
  })

  it('migration 006 keeps existing events (ids, rows) and indexes, and stops id reuse', async () => {
    const t = fresh()
    const s = await openStore({db: t.db, migrate: false})
    try {
      await migrate(
        s,
        MIGRATIONS.filter(m => m.version <= 5),
      )
      await s.batch([
        {
          sql: `INSERT INTO events(ts, device_id, type, detail) VALUES (?, NULL, 'bandwidth_reset', '{"k":1}'), (?, NULL, 'new', NULL), (?, NULL, 'offline', NULL)`,
          args: [T0, T0 + 1, T0 + 2],
        },
        {sql: 'DELETE FROM events WHERE id = 3', args: []},
      ])
      // Before 006 the deleted newest id is handed out again (what the cursor must never see).
      await s.batch([{sql: `INSERT INTO events(ts, device_id, type) VALUES (?, NULL, 'online')`, args: [T0 + 3]}])
      expect((await s.query<{id: number}>('SELECT id FROM events ORDER BY id')).map(r => Number(r.id))).toEqual([1, 2, 3])
      const before = await s.query('SELECT id, ts, device_id, type, detail FROM events ORDER BY id')
      await migrate(s)
      expect(await s.query('SELECT id, ts, device_id, type, detail FROM events ORDER BY id')).toEqual(before)
      const idx = await s.query<{name: string}>(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' ORDER BY name`)
      expect(idx.map(r => r.name)).toEqual(['events_device_ts', 'events_ts', 'events_type_ts'])
      await s.batch([{sql: 'DELETE FROM events WHERE id = 3', args: []}])
      await s.batch([{sql: `INSERT INTO events(ts, device_id, type) VALUES (?, NULL, 'online')`, args: [T0 + 4]}])
      expect((await s.query<{id: number}>('SELECT id FROM events ORDER BY id')).map(r => Number(r.id))).toEqual([1, 2, 4])
    } finally {
      await s.close()
    }
  })

  it('netmon devices events --after N --json follows the cursor', async () => {
    const t = fresh()
    for (const m of ['02:77:10:00:04:01', '02:77:10:00:04:02', '02:77:10:00:04:03']) {
      const r = await runCli(['bandwidth', 'register', '--mac', m, '--ip', '10.77.10.40', '--json'], {db: t.db})
      expect(r.code, r.stderr).toBe(0)
    }
    const a = await runCli(['devices', 'events', '--limit', '2', '--type', 'new', '--json'], {db: t.db})
    expect(a.code, a.stderr).toBe(0)
    expect(a.json.events.map((e: {mac: string}) => e.mac)).toEqual(['02:77:10:00:04:01', '02:77:10:00:04:02'])
    expect(a.json.more).toBe(true)
    const b = await runCli(['devices', 'events', '--after', String(a.json.next), '--json'], {db: t.db})
    expect(b.code, b.stderr).toBe(0)
    expect(b.json.events.map((e: {mac: string; type: string}) => `${e.type} ${e.mac}`)).toEqual(['new 02:77:10:00:04:03'])
    expect(b.json.more).toBe(false)
    const bad = await runCli(['devices', 'events', '--type', 'nope', '--json'], {db: t.db})
    expect(bad.code).toBe(2)
    const neg = await runCli(['devices', 'events', '--after', '-1'], {db: t.db})
    expect(neg.code).toBe(2)
    expect(neg.stderr.trim().split('\n')).toHaveLength(1)
  })
})

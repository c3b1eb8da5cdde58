/**
 * Issue 4 acceptance 3: counter mode through the CLI — every wrap/reset edge with the deltas that
 * end up stored and the events written (the pure rules are table-tested in
 * test/unit/bandwidth/counters.test.ts).
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {hourAgo, sql} from './helpers.js'

const T = hourAgo(2)
const line = (mac: string, sec: number, sent: string | number, received: string | number) =>
  JSON.stringify({mac, ts: T + sec * 1000, sent: String(sent), received: String(received)})

const W32 = 'C0:00:00:00:00:32'
const W64 = 'C0:00:00:00:00:64'
const RST = 'C0:00:00:00:00:0E'
const FIRST = 'C0:00:00:00:00:01'
const DUP = 'C0:00:00:00:00:0D'
const BACK = 'C0:00:00:00:00:0B'
const LATE = 'C0:00:00:00:00:1A'

describe('counter mode edges (NDJSON, then cron-style single readings)', () => {
  const t = tempStore('netmon-bw-counter-')
  afterAll(() => t.cleanup())
  let first: any

  beforeAll(async () => {
    const input = [
      line(W32, 0, 2 ** 32 - 100, 1000),
      line(W32, 60, 50, 2000), // exact 2^32 wrap: 150 bytes sent
      line(W64, 0, 5, '18446744073709551516'),
      line(W64, 60, 5, 50), // 2^64 wrap: 150 bytes received
      line(RST, 0, 5_000_000_000, 6_000_000_000),
      line(RST, 60, 1234, 99), // reboot: zero for this interval + counter_reset
      line(RST, 120, 2234, 199), // then counting from the new baseline
      line(FIRST, 0, 777, 888), // first reading: baseline only
      line(DUP, 0, 100, 100),
      line(DUP, 0, 100, 100), // duplicate timestamp: nothing
      line(DUP, 60, 600, 300),
      line(BACK, 60, 1000, 1000),
      line(BACK, 0, 5000, 5000), // clock went backwards: nothing + event
      line(BACK, 120, 5500, 5100),
      line(LATE, 0, 1000, 100),
      line(LATE, 120, 3000, 300),
      line(LATE, 60, 2000, 200), // taken before the previous line, arrived after it: already counted
      line(LATE, 180, 4000, 400),
    ].join('\n')
    first = await runCli(['bandwidth', 'sample', '--from', '-', '--mode', 'counter', '--auto-register', '--json'], {db: t.db, input})
    expect(first.code, first.stderr).toBe(0)
  })

  const raw = async (mac: string) =>
    sql(t.db, `SELECT s.ts - ? AS t, s.sent, s.received FROM bw_samples s JOIN devices d ON d.id = s.device_id WHERE d.mac = ? ORDER BY s.ts`, [T, mac])
  // The counter events (each auto-registered device also has its `new`: test/integration/devices/events.test.ts).
  const events = async (mac: string) =>
    sql(t.db, `SELECT e.type, e.ts - ? AS t, e.detail FROM events e JOIN devices d ON d.id = e.device_id WHERE d.mac = ? AND e.type <> 'new' ORDER BY e.id`, [
      T,
      mac,
    ])

  it('reports every outcome', () => {
    expect(first.json.counter_outcomes).toEqual({baseline: 7, wrap: 2, reset: 1, delta: 5, duplicate: 1, clock_backwards: 1, late: 1})
    expect(first.json.samples_in).toBe(18)
  })

  it('exact 2^32 wrap stores 150 bytes, with a counter_wrap event', async () => {
    expect(await raw(W32)).toEqual([
      {t: 0, sent: 0, received: 0},
      {t: 60_000, sent: 150, received: 1000},
    ])
    const ev = await events(W32)
    expect(ev.map(e => e.type)).toEqual(['counter_wrap'])
    expect(JSON.parse(ev[0]!.detail)).toMatchObject({sent: 'wrap32', received: 'delta', bytes_sent: '150'})
  })

  it('2^64 wrap stores 150 bytes (counters beyond 2^53 kept exactly as text)', async () => {
    expect(await raw(W64)).toEqual([
      {t: 0, sent: 0, received: 0},
      {t: 60_000, sent: 0, received: 150},
    ])
    expect((await events(W64)).map(e => e.type)).toEqual(['counter_wrap'])
  })

  it('reset to a small value records zero for that interval and a counter_reset event, never a 4 GiB spike', async () => {
    expect(await raw(RST)).toEqual([
      {t: 0, sent: 0, received: 0},
      {t: 60_000, sent: 0, received: 0},
      {t: 120_000, sent: 1000, received: 100},
    ])
    const ev = await events(RST)
    expect(ev.map(e => [e.type, e.t])).toEqual([['counter_reset', 60_000]])
    expect(JSON.parse(ev[0]!.detail)).toMatchObject({previous: {sent: '5000000000'}, reading: {sent: '1234'}})
  })

  it('first reading is a baseline only: zero bytes (the start of the first interval), counter stored', async () => {
    expect(await raw(FIRST)).toEqual([{t: 0, sent: 0, received: 0}])
    expect(await sql(t.db, `SELECT c.sent, c.received FROM bw_counters c JOIN devices d ON d.id = c.device_id WHERE d.mac = ?`, [FIRST])).toEqual([
      {sent: '777', received: '888'},
    ])
  })

  it('a duplicate timestamp records nothing', async () => {
    expect(await raw(DUP)).toEqual([
      {t: 0, sent: 0, received: 0},
      {t: 60_000, sent: 500, received: 200},
    ])
    expect(await events(DUP)).toEqual([])
  })

  it('a clock going backwards records nothing for that interval, says so in an event, and carries on', async () => {
    expect(await raw(BACK)).toEqual([
      {t: 60_000, sent: 0, received: 0},
      {t: 120_000, sent: 500, received: 100},
    ])
    const ev = await events(BACK)
    expect(ev.map(e => e.type)).toEqual(['clock_backwards'])
    expect(JSON.parse(ev[0]!.detail)).toMatchObject({unrecorded_bytes_sent: '4000', unrecorded_bytes_received: '4000'})
  })

  it('a late reading (earlier time, counters not above the previous one) records nothing and leaves the reference: no byte counted twice', async () => {
    expect(await raw(LATE)).toEqual([
      {t: 0, sent: 0, received: 0},
      {t: 120_000, sent: 2000, received: 200},
      {t: 180_000, sent: 1000, received: 100},
    ])
    expect(await events(LATE)).toEqual([])
  })

  it('separate invocations that land out of order (overlapping cron runs) count the counter movement exactly once', async () => {
    const mac = 'C0:00:00:00:00:1B'
    // Readings k = 1…6 minutes with counters 1000·k / 10·k, arriving in the order 1, 3, 2, 5, 4, 6.
    for (const k of [1, 3, 2, 5, 4, 6]) {
      const r = await runCli(
        [
          'bandwidth',
          'sample',
          '--mac',
          mac,
          '--mode',
          'counter',
          '--auto-register',
          '--sent',
          String(1000 * k),
          '--received',
          String(10 * k),
          '--at',
          String(T + k * 60_000),
          '--json',
        ],
        {db: t.db},
      )
      expect(r.code, r.stderr).toBe(0)
      expect(r.json.counters[0].outcome).toBe(k === 1 ? 'baseline' : k === 2 || k === 4 ? 'late' : 'delta')
    }
    const rows = await raw(mac)
    expect(rows.reduce((a, x) => a + x.sent, 0)).toBe(5000) // 6000 − 1000, not more
    expect(rows.reduce((a, x) => a + x.received, 0)).toBe(50)
    const tot = await sql(t.db, `SELECT b.bytes_sent, b.bytes_received FROM bw_totals b JOIN devices d ON d.id = b.device_id WHERE d.mac = ?`, [mac])
    expect(tot).toEqual([{bytes_sent: 5000, bytes_received: 50}])
    // Six CLI processes one after the other: on a loaded 2-core machine each start can take seconds.
  }, 180_000)

  it('separate invocations continue from the stored counter (cron)', async () => {
    const r = await runCli(
      ['bandwidth', 'sample', '--mac', W32, '--mode', 'counter', '--sent', '1050', '--received', '2500', '--at', String(T + 120_000), '--json'],
      {db: t.db},
    )
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.counters[0]).toMatchObject({outcome: 'delta', bytes_sent: 1000, bytes_received: 500})
    // Counter samples get their interval from the previous reading: 1000 B over 60 s.
    expect(r.json.samples[0]).toMatchObject({interval_ms: 60_000, upload_bps: Math.round((1000 * 8) / 60)})
    expect(await raw(W32)).toEqual([
      {t: 0, sent: 0, received: 0},
      {t: 60_000, sent: 150, received: 1000},
      {t: 120_000, sent: 1000, received: 500},
    ])
  })

  it('--max-rate decides between wrap and reset', async () => {
    const mac = 'C0:00:00:00:00:99'
    const base = ['--mac', mac, '--mode', 'counter', '--auto-register', '--json']
    const a = await runCli(['bandwidth', 'sample', ...base, '--sent', '3000000000', '--received', '0', '--at', String(T)], {db: t.db})
    expect(a.code, a.stderr).toBe(0)
    // 3e9 → 1000 in 60 s: as a 32-bit wrap that is 172.7 Mbit/s — a wrap at the default 10G, a reset at 100M.
    const r = await runCli(['bandwidth', 'sample', ...base, '--sent', '1000', '--received', '0', '--at', String(T + 60_000), '--max-rate', '100M'], {db: t.db})
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.counters[0]).toMatchObject({outcome: 'reset', bytes_sent: 0})
    expect(r.json.events).toEqual([expect.objectContaining({type: 'counter_reset', mac})])
  })
})

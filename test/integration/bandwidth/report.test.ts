/**
 * Issue 17 acceptance 1: `bandwidth report` periods, estimates, --oneline and JSON against
 * hand-computed data across a month boundary and a DST change in Europe/Vienna.
 *
 * No fixed dates: the fixture is the most recent Vienna DST change whose following month start is
 * already past (found at test time, at most ~7 months back: inside the 1h rollups' 365 days).
 * Expected sums are computed here from the fixture's own instants (plain comparisons), not with
 * the code under test.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {HOUR, MINUTE} from '../../support/clock.js'

const TZ = 'Europe/Vienna'
const A = 'CC:00:00:00:17:01'
const B = 'CC:00:00:00:17:02'

const local = new Intl.DateTimeFormat('en-GB', {timeZone: TZ, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit'})
function lp(ms: number): {y: number; m: number; d: number; h: number} {
  const p = Object.fromEntries(local.formatToParts(new Date(ms)).map(x => [x.type, x.value]))
  return {y: Number(p.year), m: Number(p.month), d: Number(p.day), h: Number(p.hour) % 24}
}
const dateLabel = (ms: number) => {
  const p = lp(ms)
  return `${p.y}-${String(p.m).padStart(2, '0')}-${String(p.d).padStart(2, '0')}`
}
/** Vienna's offset in hours at ms (whole hours in this zone). */
const offsetH = (ms: number) => {
  const p = lp(ms)
  return Math.round((Date.UTC(p.y, p.m - 1, p.d, p.h) - Math.floor(ms / HOUR) * HOUR) / HOUR)
}

// ---- the fixture instants ----
const now = Date.now()
let T = Math.floor(now / HOUR) * HOUR // the transition: first hour with the new offset
let S = 0 // local midnight starting the DST day
let E = 0 // the next local midnight
let M = 0 // the next local month start after the DST day
let MS = 0 // the local month start holding the DST day
for (;;) {
  while (offsetH(T - HOUR) === offsetH(T)) T -= HOUR
  S = T
  while (lp(S).h !== 0) S -= HOUR
  E = T
  while (lp(E).h !== 0) E += HOUR
  M = E
  while (!(lp(M).d === 1 && lp(M).h === 0)) M += HOUR
  MS = S
  while (!(lp(MS).d === 1 && lp(MS).h === 0)) MS -= HOUR
  if (M + 2 * HOUR < now - 10 * MINUTE) break
  T -= HOUR // too recent: the previous change
}
const dayHours = (E - S) / HOUR // 23 or 25

interface Sample {
  mac: string
  ts: number
  sent: number
  received: number
}
const samples: Sample[] = []
// Every hour of the DST day, device A; device B every third hour.
for (let i = 0; i < dayHours; i++) {
  samples.push({mac: A, ts: S + i * HOUR + 10 * MINUTE, sent: 100 * (i + 1), received: 1000 * (i + 1)})
  if (i % 3 === 0) samples.push({mac: B, ts: S + i * HOUR + 20 * MINUTE, sent: 7, received: 70})
}
// The edges of the DST day.
samples.push({mac: A, ts: S - MINUTE, sent: 11, received: 22})
samples.push({mac: A, ts: E + MINUTE, sent: 33, received: 44})
// The month boundary: 30 min before and after local midnight (the latter is still the old month in UTC).
samples.push({mac: A, ts: M - 30 * MINUTE, sent: 5_000, received: 50_000})
samples.push({mac: A, ts: M + 30 * MINUTE, sent: 6_000, received: 60_000})

const sum = (pred: (s: Sample) => boolean) => samples.filter(pred).reduce((a, s) => ({rx: a.rx + s.received, tx: a.tx + s.sent}), {rx: 0, tx: 0})
const iso = (ms: number) => new Date(ms).toISOString()

describe('bandwidth report (Europe/Vienna, DST day + month boundary)', () => {
  const t = tempStore('netmon-bw-report-')
  afterAll(() => t.cleanup())
  const q = async (args: string[]) => {
    const r = await runCli(['bandwidth', 'report', ...args, '--json'], {db: t.db})
    expect(r.code, r.stderr).toBe(0)
    return r.json
  }

  beforeAll(async () => {
    await runCli(['bandwidth', 'register', '--mac', B, '--ip', '10.17.0.2'], {db: t.db})
    const ndjson = [...samples]
      .sort((a, b) => a.ts - b.ts)
      .map(s => JSON.stringify(s))
      .join('\n')
    const r = await runCli(['bandwidth', 'sample', '--from', '-', '--auto-register'], {db: t.db, input: ndjson})
    expect(r.code, r.stderr).toBe(0)
  }, 60_000)

  it('the fixture is a DST day', () => {
    expect([23, 25]).toContain(dayHours)
  })

  it('daily: local days, the 23/25-hour day exact, its neighbours holding the edge samples', async () => {
    const j = await q(['--daily', '--tz', TZ, '--since', iso(S - HOUR), '--now', iso(E + 2 * HOUR)])
    expect(j.time_zone).toBe(TZ)
    expect(j.source).toBe('bw_rollup_1h')
    const periods = j.series[0].periods
    expect(j.series[0].device).toBeNull()
    const [before, day, after] = periods
    expect(periods).toHaveLength(3)
    expect(day).toMatchObject({label: dateLabel(S), start: iso(S), start_ms: S, end_ms: E, length_ms: dayHours * HOUR, current: false, estimate: null})
    const inDay = sum(s => s.ts >= S && s.ts < E)
    expect([day.rx_bytes, day.tx_bytes, day.total_bytes]).toEqual([inDay.rx, inDay.tx, inDay.rx + inDay.tx])
    expect(day.avg_bps).toBe(Math.round(((inDay.rx + inDay.tx) * 8) / (dayHours * 3600)))
    expect(before).toMatchObject({label: dateLabel(S - HOUR), end_ms: S, rx_bytes: 22, tx_bytes: 11})
    expect(after).toMatchObject({label: dateLabel(E), start_ms: E, rx_bytes: 44, tx_bytes: 33, current: true})
  })

  it('hourly: one period per real hour of the DST day, labels with their offsets, no duplicates', async () => {
    const j = await q(['--hourly', '--tz', TZ, '--since', iso(S), '--now', iso(E - HOUR)])
    const periods = j.series[0].periods
    expect(periods).toHaveLength(dayHours)
    expect(new Set(periods.map((p: any) => p.label)).size).toBe(dayHours)
    expect(periods[0].label).toMatch(/ 00:00\+0[12]:00$/)
    const byStart = new Map(periods.map((p: any) => [p.start_ms, p]))
    for (let i = 0; i < dayHours; i++) {
      const p: any = byStart.get(S + i * HOUR)
      const b = i % 3 === 0
      expect([p.rx_bytes, p.tx_bytes]).toEqual([1000 * (i + 1) + (b ? 70 : 0), 100 * (i + 1) + (b ? 7 : 0)])
    }
  })

  it('monthly: calendar months in the zone; the sample after local midnight belongs to the new month (UTC puts it in the old one)', async () => {
    const j = await q(['--monthly', '--tz', TZ, '--since', iso(MS), '--now', iso(M + 2 * HOUR)])
    const [old, next] = j.series[0].periods
    expect(j.series[0].periods).toHaveLength(2)
    const o = sum(s => s.ts >= MS && s.ts < M)
    const n = sum(s => s.ts >= M && s.ts <= M + 2 * HOUR)
    expect(old).toMatchObject({start_ms: MS, end_ms: M, length_ms: M - MS, rx_bytes: o.rx, tx_bytes: o.tx, current: false})
    expect(next).toMatchObject({start_ms: M, rx_bytes: n.rx, tx_bytes: n.tx, current: true})
    expect(n.rx).toBe(60_000)
    // The same data in UTC: M + 30 min is before UTC midnight, so it lands in the old month.
    const u = await q(['--monthly', '--tz', 'UTC', '--since', iso(MS), '--now', iso(M + 2 * HOUR)])
    const uOld = u.series[0].periods.find((p: any) => p.label === old.label)
    expect(uOld.rx_bytes).toBe(o.rx + 60_000)
  })

  it('estimates for the current day and month follow bytes so far × length / elapsed', async () => {
    const at = S + 6 * HOUR + 30 * MINUTE
    const d = await q(['--daily', '--tz', TZ, '--limit', '1', '--now', iso(at)])
    const day = d.series[0].periods[0]
    const soFar = sum(s => s.ts >= S && s.ts < S + 7 * HOUR) // buckets that start by `at`
    expect(day).toMatchObject({current: true, start_ms: S, rx_bytes: soFar.rx, tx_bytes: soFar.tx})
    const elapsed = at - S
    const erx = Math.round((soFar.rx * (E - S)) / elapsed)
    const etx = Math.round((soFar.tx * (E - S)) / elapsed)
    expect(day.estimate).toEqual({rx_bytes: erx, tx_bytes: etx, total_bytes: erx + etx, elapsed_ms: elapsed})
    expect(day.avg_bps).toBe(Math.round(((soFar.rx + soFar.tx) * 8000) / elapsed))

    const m = await q(['--monthly', '--tz', TZ, '--limit', '1', '--now', iso(at)])
    const month = m.series[0].periods[0]
    const mSoFar = sum(s => s.ts >= MS && s.ts < S + 7 * HOUR)
    const mElapsed = at - MS
    const mrx = Math.round((mSoFar.rx * (M - MS)) / mElapsed)
    const mtx = Math.round((mSoFar.tx * (M - MS)) / mElapsed)
    expect(month).toMatchObject({start_ms: MS, end_ms: M, rx_bytes: mSoFar.rx, tx_bytes: mSoFar.tx})
    expect(month.estimate).toEqual({rx_bytes: mrx, tx_bytes: mtx, total_bytes: mrx + mtx, elapsed_ms: mElapsed})
  })

  it('--oneline: the documented field order', async () => {
    const at = S + 6 * HOUR + 30 * MINUTE
    const r = await runCli(['bandwidth', 'report', '--oneline', '--tz', TZ, '--now', iso(at)], {db: t.db})
    expect(r.code, r.stderr).toBe(0)
    const f = r.stdout.trim().split(';')
    expect(f).toHaveLength(15)
    const day = sum(s => s.ts >= S && s.ts < S + 7 * HOUR)
    const month = sum(s => s.ts >= MS && s.ts < S + 7 * HOUR)
    const all = sum(() => true)
    const m = lp(S)
    expect(f).toEqual([
      '1',
      'network',
      dateLabel(S),
      String(day.rx),
      String(day.tx),
      String(day.rx + day.tx),
      String(Math.round(((day.rx + day.tx) * 8000) / (at - S))),
      `${m.y}-${String(m.m).padStart(2, '0')}`,
      String(month.rx),
      String(month.tx),
      String(month.rx + month.tx),
      String(Math.round(((month.rx + month.tx) * 8000) / (at - MS))),
      String(all.rx),
      String(all.tx),
      String(all.rx + all.tx),
    ])
    // Per device by IP: only B's bytes.
    const b = await runCli(['bandwidth', 'report', '--oneline', '--tz', TZ, '--mac', '10.17.0.2', '--now', iso(at)], {db: t.db})
    const bf = b.stdout.trim().split(';')
    const bAll = sum(s => s.mac === B)
    expect([bf[1], bf[12], bf[13]]).toEqual([B, String(bAll.rx), String(bAll.tx)])
  })

  it('--top: days ranked by total; --all: one series per device', async () => {
    const j = await q(['--top', '3', '--tz', TZ])
    const top = j.series[0].periods
    expect(top.map((p: any) => p.rank)).toEqual([1, 2, 3])
    // The DST day carries the most traffic, then the new month's first day (60 000 + 6 000), then the month's last day.
    const dayTotal = sum(s => s.ts >= S && s.ts < E)
    expect(top[0]).toMatchObject({label: dateLabel(S), total_bytes: dayTotal.rx + dayTotal.tx})
    expect(top[1]).toMatchObject({label: dateLabel(M), total_bytes: 66_000})
    const all = await q(['--daily', '--all', '--tz', TZ, '--since', iso(S), '--now', iso(E - HOUR)])
    const macs = all.series.map((s: any) => s.device.mac)
    expect(macs).toEqual([A, B])
    const bDay = sum(s => s.mac === B && s.ts >= S && s.ts < E)
    expect(all.series[1].totals).toEqual({rx_bytes: bDay.rx, tx_bytes: bDay.tx, total_bytes: bDay.rx + bDay.tx})
  })

  it('text output: a table with the zone, an estimated row and bars', async () => {
    const r = await runCli(['bandwidth', 'report', '--tz', TZ, '--limit', '2', '--now', iso(S + 6 * HOUR + 30 * MINUTE)], {db: t.db})
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`daily (${TZ})`)
    expect(r.stdout).toContain('estimated')
    expect(r.stdout).toContain(`${dateLabel(S)} *`)
    expect(r.stdout).toMatch(/▓/)
  })

  it('bad flags exit 2', async () => {
    for (const args of [
      ['--daily', '--monthly'],
      ['--tz', 'Not/AZone'],
      ['--top', '0'],
      ['--mac', A, '--all'],
      ['--oneline', '--hourly'],
      ['--limit', '3', '--since', '2d'],
      ['--bogus'],
    ]) {
      const r = await runCli(['bandwidth', 'report', ...args], {db: t.db})
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
    }
  })
})

describe('bandwidth report --5min (recent data: the 5m rollups are kept 30 days)', () => {
  const t = tempStore('netmon-bw-report5-')
  afterAll(() => t.cleanup())

  it('one period per 5-minute bucket from the 5m rollups, network-wide = the sum of the devices', async () => {
    const base = Math.floor(Date.now() / 300_000) * 300_000 - 12 * 300_000 // an hour ago, on a 5-minute edge
    const lines: Sample[] = []
    for (let i = 0; i < 6; i++) {
      lines.push({mac: A, ts: base + i * 300_000 + 60_000, sent: 10 * (i + 1), received: 100 * (i + 1)})
      lines.push({mac: B, ts: base + i * 300_000 + 120_000, sent: 1, received: 2})
    }
    const w = await runCli(['bandwidth', 'sample', '--from', '-', '--auto-register'], {db: t.db, input: lines.map(s => JSON.stringify(s)).join('\n')})
    expect(w.code, w.stderr).toBe(0)
    const now = base + 6 * 300_000 - 1
    const r = await runCli(['bandwidth', 'report', '--5min', '--tz', TZ, '--limit', '6', '--now', iso(now), '--json'], {db: t.db})
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.source).toBe('bw_rollup_5m')
    const periods = r.json.series[0].periods
    expect(periods.map((p: any) => p.start_ms)).toEqual([0, 1, 2, 3, 4, 5].map(i => base + i * 300_000))
    expect(periods.map((p: any) => [p.rx_bytes, p.tx_bytes])).toEqual([0, 1, 2, 3, 4, 5].map(i => [100 * (i + 1) + 2, 10 * (i + 1) + 1]))
    // A finished 5-minute period's rate: bytes × 8 / 300 s.
    expect(periods[0].avg_bps).toBe(Math.round((111 * 8) / 300))
    expect(periods.every((p: any) => p.estimate === null)).toBe(true)
  })
})

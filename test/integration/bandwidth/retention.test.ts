/**
 * Issue 4 acceptance 7: after pruning raw rows, stats/top/history answered from rollups equal the
 * answers from before the prune; totals stay correct, and new samples keep working.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {hourAgo, sql} from './helpers.js'

const H = 3_600_000
const DAY = 24 * H
// Three days of 5-minute samples for 4 devices, ending an hour ago (all inside the default 7 days).
const END = hourAgo(1)
const START = END - 3 * DAY
const MACS = ['BB:00:00:00:00:01', 'BB:00:00:00:00:02', 'BB:00:00:00:00:03', 'BB:00:00:00:00:04']

function ndjson(): string {
  const out: string[] = []
  let k = 1
  for (let ts = START; ts < END; ts += 300_000) {
    for (const [i, mac] of MACS.entries()) {
      k = (k * 48271) % 2147483647
      out.push(JSON.stringify({mac, ts, sent: (k % 5_000_000) * (i + 1), received: (k % 7_000_000) + i}))
    }
  }
  return out.join('\n')
}

describe('retention: db prune', () => {
  const t = tempStore('netmon-bw-retention-')
  afterAll(() => t.cleanup())
  const q = (args: string[]) =>
    runCli([...args, '--json'], {db: t.db}).then(r => {
      expect(r.code, r.stderr).toBe(0)
      return r.json
    })
  // Windows that start before the raw cut-off (1 day ago) but on 5-minute / hour edges.
  const since5m = new Date(END - 2 * DAY - 35 * 60_000).toISOString()
  const sinceH = new Date(END - 2 * DAY - 5 * H).toISOString()
  const until = new Date(END - 10 * 60_000).toISOString()
  const queries: string[][] = [
    ['bandwidth', 'stats'],
    ['bandwidth', 'stats', '--mac', MACS[1]!],
    ['bandwidth', 'top'],
    ['bandwidth', 'top', '--sort', 'download', '--limit', '3'],
    ['bandwidth', 'top', '--since', since5m, '--until', until],
    ['bandwidth', 'top', '--since', sinceH, '--until', until, '--sort', 'upload'],
    ['bandwidth', 'history', '--mac', MACS[2]!, '--since', since5m, '--until', until, '--resolution', '5m'],
    ['bandwidth', 'history', '--mac', MACS[2]!, '--since', sinceH, '--until', until, '--resolution', '1h'],
    ['bandwidth', 'history', '--mac', MACS[0]!, '--since', new Date(START).toISOString(), '--until', until, '--resolution', '1d'],
  ]
  let pre: unknown[]
  let rawBefore: number

  beforeAll(async () => {
    const r = await runCli(['bandwidth', 'sample', '--from', '-', '--auto-register', '--json'], {db: t.db, input: ndjson(), timeoutMs: 120_000})
    expect(r.code, r.stderr).toBe(0)
    pre = []
    for (const args of queries) pre.push(await q(args))
    rawBefore = (await sql(t.db, 'SELECT count(*) AS n FROM bw_samples'))[0]!.n
  }, 180_000)

  it('top --since equals a brute-force sum over the raw samples in the window', async () => {
    const top = pre[4] as any
    const want = await sql(
      t.db,
      `SELECT d.mac, sum(s.sent) AS sent, sum(s.received) AS received FROM bw_samples s JOIN devices d ON d.id = s.device_id
       WHERE s.ts >= ? AND s.ts < ? GROUP BY d.mac ORDER BY sum(s.sent + s.received) DESC`,
      [Date.parse(since5m), Date.parse(until)],
    )
    expect(top.window).toMatchObject({since: since5m, until, widened: false})
    expect(top.top_talkers.map((x: any) => ({mac: x.mac, sent: x.total_bytes_sent, received: x.total_bytes_received}))).toEqual(want)
  })

  it('the default retention is 7 days raw, 30 days 5-minute, a year hourly, daily forever (issue 4)', async () => {
    const fresh = `${t.dir}/defaults.db`
    const r = await runCli(['db', 'prune', '--dry-run', '--json'], {db: fresh})
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.retention).toEqual({
      raw: {keep_ms: 7 * DAY, keep: '7d'},
      '5m': {keep_ms: 30 * DAY, keep: '30d'},
      '1h': {keep_ms: 365 * DAY, keep: '365d'},
      '1d': {keep_ms: 0, keep: 'forever'},
    })
    expect(r.json.pruned['1d'].before).toBeNull()
  })

  it('--dry-run counts without deleting', async () => {
    const d = await q(['db', 'prune', '--keep-raw', '1d', '--dry-run'])
    expect(d.dry_run).toBe(true)
    expect(d.pruned.raw.rows).toBeGreaterThan(0)
    expect((await sql(t.db, 'SELECT count(*) AS n FROM bw_samples'))[0]!.n).toBe(rawBefore)
  })

  it('pruning raw samples older than a day leaves every answer unchanged', async () => {
    const p = await q(['db', 'prune', '--keep-raw', '1d'])
    const cutoff = p.pruned.raw.before_ms
    expect(cutoff % 300_000).toBe(0)
    const rawAfter = (await sql(t.db, 'SELECT count(*) AS n FROM bw_samples'))[0]!.n
    expect(rawBefore - rawAfter).toBe(p.pruned.raw.rows)
    expect(rawAfter).toBeLessThan(rawBefore / 2)
    expect((await sql(t.db, 'SELECT min(ts) AS m FROM bw_samples'))[0]!.m).toBeGreaterThanOrEqual(cutoff)
    for (const [i, args] of queries.entries()) expect(await q(args), args.join(' ')).toEqual(pre[i])
  })

  it('a window starting inside the pruned range is widened to the enclosing 5-minute bucket, and says so', async () => {
    const odd = new Date(END - 2 * DAY - 35 * 60_000 + 61_000).toISOString()
    const r = await q(['bandwidth', 'top', '--since', odd, '--until', until])
    expect(r.window).toMatchObject({widened: true, since: since5m})
    expect(r).toEqual({...(pre[4] as object), window: {...(pre[4] as any).window, requested_since_ms: Date.parse(odd), widened: true}})
  })

  it('history --resolution auto falls back from raw to 5-minute buckets where raw samples were pruned', async () => {
    const args = [
      'bandwidth',
      'history',
      '--mac',
      MACS[3]!,
      '--since',
      new Date(END - 2 * DAY - 2 * H).toISOString(),
      '--until',
      new Date(END - 2 * DAY - H).toISOString(),
    ]
    const h = await q(args)
    expect(h.resolution).toBe('5m')
    expect(h.points).toHaveLength(12)
    const fresh = await q([
      'bandwidth',
      'history',
      '--mac',
      MACS[3]!,
      '--since',
      new Date(END - 2 * H).toISOString(),
      '--until',
      new Date(END - H).toISOString(),
    ])
    expect(fresh.resolution).toBe('raw')
  })

  it('an explicit raw resolution over pruned days says the rows were deleted, in history and in export, instead of showing "no traffic"', async () => {
    const since = new Date(END - 2 * DAY - 2 * H).toISOString()
    const cutoff = (await sql(t.db, `SELECT value FROM bw_settings WHERE key = 'watermark.raw'`))[0]?.value
    const h = await runCli(['bandwidth', 'history', '--mac', MACS[3]!, '--since', since, '--resolution', 'raw', '--json'], {db: t.db})
    expect(h.code, h.stderr).toBe(0)
    expect(h.json.pruned_before_ms).toBe(Number(cutoff))
    expect(h.json.points[0].ts_ms).toBeGreaterThanOrEqual(Number(cutoff))
    const human = await runCli(['bandwidth', 'history', '--mac', MACS[3]!, '--since', since, '--resolution', 'raw'], {db: t.db})
    expect(human.stderr).toMatch(/raw data before .* was deleted by retention/)
    // A window after the cut-off is complete: no flag.
    const recent = await q(['bandwidth', 'history', '--mac', MACS[3]!, '--since', new Date(END - 2 * H).toISOString(), '--resolution', 'raw'])
    expect(recent.pruned_before).toBeNull()
    const out = `${t.dir}/old-raw.csv`
    const e = await runCli(['metrics', 'export', '--what', 'bandwidth', '--since', since, '--out', out, '--json'], {db: t.db})
    expect(e.code, e.stderr).toBe(0)
    expect(e.json.pruned_before.ms).toBe(Number(cutoff))
    expect(e.stderr).toMatch(/raw bandwidth rows before .* were deleted by retention/)
    const hourly = await runCli(['metrics', 'export', '--what', 'bandwidth', '--resolution', '1h', '--since', since, '--out', out, '--json'], {db: t.db})
    expect(hourly.json.pruned_before).toBeNull()
  })

  it('pruning 5-minute rollups too: hourly and daily answers unchanged, totals unchanged', async () => {
    await q(['db', 'prune', '--keep-raw', '1d', '--keep-5m', '2d'])
    for (const i of [0, 1, 2, 3, 5, 7, 8]) expect(await q(queries[i]!), queries[i]!.join(' ')).toEqual(pre[i])
  })

  it('sampling after a prune keeps the totals running', async () => {
    const before = await q(['bandwidth', 'stats', '--mac', MACS[0]!])
    const r = await runCli(['bandwidth', 'sample', '--mac', MACS[0]!, '--sent', '1000', '--received', '2000', '--json'], {db: t.db})
    expect(r.code, r.stderr).toBe(0)
    const after = await q(['bandwidth', 'stats', '--mac', MACS[0]!])
    expect(after.device.total.total_bytes).toBe(before.device.total.total_bytes + 3000)
    expect(after.device.sample_count).toBe(before.device.sample_count + 1)
  })
})

/**
 * Issue 13 item 3: delta mode's plausibility guard. An interval whose rate is faster than
 * --max-rate (default 10 Gbit/s, per direction, as in counter mode) is flagged with a
 * `rate_implausible` event; the bytes count, but the rate becomes neither current nor a peak.
 * Through the built CLI, times relative to now.
 */
import {afterAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {sql} from './helpers.js'

const MAC = 'AA:BB:CC:00:13:03'

describe('delta-mode rate plausibility', () => {
  const t = tempStore('netmon-bw-plaus-')
  afterAll(() => t.cleanup())
  // Whole seconds, ten minutes back: exact intervals between the samples.
  const base = Math.floor(Date.now() / 1000) * 1000 - 10 * 60_000
  const at = (minutes: number) => String(base + minutes * 60_000)
  const sample = (sent: number, received: number, when: string, extra: string[] = []) =>
    runCli(['bandwidth', 'sample', '--mac', MAC, '--sent', String(sent), '--received', String(received), '--at', when, '--json', ...extra], {db: t.db})

  it('flags an impossible rate, counts its bytes, keeps it out of current and peak', async () => {
    expect((await runCli(['bandwidth', 'register', '--ip', '192.0.2.33', '--mac', MAC], {db: t.db})).code).toBe(0)
    const first = await sample(1000, 0, at(0))
    expect(first.code, first.stderr).toBe(0)
    expect(first.json.samples[0]).toMatchObject({interval_ms: null, total_bps: null})
    // 750 kB in 60 s = 100 kbit/s: plausible, the peak.
    const ok = await sample(750_000, 0, at(1))
    expect(ok.json.samples[0]).toMatchObject({interval_ms: 60_000, upload_bps: 100_000})
    expect(ok.json.events).toEqual([])
    // 1 TB in 60 s = 133 Gbit/s upload: impossible on a 10 Gbit/s bound.
    const bad = await sample(1_000_000_000_000, 5, at(2))
    expect(bad.code, bad.stderr).toBe(0)
    expect(bad.json.bytes_sent).toBe(1_000_000_000_000)
    expect(bad.json.samples[0]).toMatchObject({interval_ms: null, upload_bps: null, total_bps: null})
    expect(bad.json.events).toEqual([expect.objectContaining({type: 'rate_implausible', mac: MAC, ts_ms: bad.json.samples[0].ts_ms})])
    const st = await runCli(['bandwidth', 'stats', '--mac', MAC, '--json'], {db: t.db})
    expect(st.json.device.total.bytes_sent).toBe(1000 + 750_000 + 1_000_000_000_000)
    expect(st.json.device.peak.bps).toBe(100_000)
    expect(st.json.device.current.total_bps ?? 0).toBe(0)
    const [ev] = await sql(t.db, `SELECT detail FROM events WHERE type = 'rate_implausible'`)
    expect(JSON.parse(ev!.detail)).toMatchObject({interval_ms: 60_000, bytes_sent: 1_000_000_000_000, max_rate_bps: 10_000_000_000})
    const [raw] = await sql(t.db, `SELECT interval_ms FROM bw_samples WHERE ts = ?`, [bad.json.samples[0].ts_ms])
    expect(raw).toEqual({interval_ms: null})
    const [r5] = await sql(t.db, `SELECT max(peak_bps) AS p FROM bw_rollup_1d`)
    expect(r5!.p).toBe(100_000)
  })

  it('--max-rate sets the bound, and the next sample has a rate again', async () => {
    // 1.5 MB in 60 s = 200 kbit/s: over a 150k bound, under the default.
    const bad = await sample(1_500_000, 0, at(3), ['--max-rate', '150k'])
    expect(bad.json.events.map((e: any) => e.type)).toEqual(['rate_implausible'])
    const ok = await sample(600_000, 0, at(4), ['--max-rate', '150k'])
    expect(ok.json.samples[0]).toMatchObject({interval_ms: 60_000, upload_bps: 80_000})
    expect(ok.json.events).toEqual([])
  })

  it('a late sample that makes its neighbour impossible is flagged too', async () => {
    // 5 s before the last sample: its interval becomes 5 s → 960 kbit/s, over 500k.
    const late = await sample(10, 0, String(base + 4 * 60_000 - 5000), ['--max-rate', '500k'])
    expect(late.json.samples_late).toBe(1)
    expect(late.json.events.map((e: any) => e.type)).toEqual(['rate_implausible'])
    const rows = await sql(t.db, `SELECT interval_ms FROM bw_samples ORDER BY ts DESC LIMIT 1`)
    expect(rows).toEqual([{interval_ms: null}])
  })
})

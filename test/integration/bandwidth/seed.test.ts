/**
 * Issue 4 acceptance 1 (the seed's example) and 2 (rate math on hand-computed cases), through the
 * built CLI on a real store.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {hourAgo} from './helpers.js'

describe('the seed example: laptop, desktop, phone', () => {
  const t = tempStore('netmon-bw-seed-')
  afterAll(() => t.cleanup())

  beforeAll(async () => {
    // Three MAC spellings on purpose: all normalise to AA:BB:CC:DD:EE:0x.
    for (const [ip, mac, host] of [
      ['192.168.1.100', 'AA:BB:CC:DD:EE:01', 'laptop'],
      ['192.168.1.101', 'aa-bb-cc-dd-ee-02', 'desktop'],
      ['192.168.1.102', 'aabb.ccdd.ee03', 'phone'],
    ]) {
      const r = await runCli(['bandwidth', 'register', '--ip', ip!, '--mac', mac!, '--hostname', host!, '--json'], {db: t.db})
      expect(r.code, r.stderr).toBe(0)
      expect(r.json).toMatchObject({success: true, message: 'Device registered', device: {ip, hostname: host}})
    }
    // laptop 10 MiB up + 50 MiB down = 60 MB; desktop 20 + 100 = 120 MB; phone 5 + 5 = 10 MB.
    for (const [mac, sent, received] of [
      ['AA:BB:CC:DD:EE:01', 10485760, 52428800],
      ['AA:BB:CC:DD:EE:02', 20971520, 104857600],
      ['AA:BB:CC:DD:EE:03', 5242880, 5242880],
    ]) {
      const r = await runCli(['bandwidth', 'sample', '--mac', String(mac), '--sent', String(sent), '--received', String(received), '--json'], {db: t.db})
      expect(r.code, r.stderr).toBe(0)
      expect(r.json).toMatchObject({success: true, samples_recorded: 1, bytes_sent: sent, bytes_received: received})
    }
  })

  it('top talkers as JSON: desktop, laptop, phone with 120/60/10 MB', async () => {
    const r = await runCli(['bandwidth', 'top', '--json'], {db: t.db})
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.sort_by).toBe('total')
    expect(r.json.count).toBe(3)
    expect(r.json.top_talkers.map((x: any) => [x.rank, x.hostname, x.mac, x.total_mb, x.total_bytes_sent, x.total_bytes_received])).toEqual([
      [1, 'desktop', 'AA:BB:CC:DD:EE:02', 120, 20971520, 104857600],
      [2, 'laptop', 'AA:BB:CC:DD:EE:01', 60, 10485760, 52428800],
      [3, 'phone', 'AA:BB:CC:DD:EE:03', 10, 5242880, 5242880],
    ])
    for (const x of r.json.top_talkers)
      expect(Object.keys(x)).toEqual(
        expect.arrayContaining(['rank', 'ip', 'mac', 'hostname', 'current_mbps', 'total_mb', 'total_bytes_sent', 'total_bytes_received', 'peak_mbps']),
      )
  })

  it("top talkers as a table, same order, 120.0 / 60.00 / 10.00 MiB (the seed's MB are 2^20 B)", async () => {
    const r = await runCli(['bandwidth', 'top'], {db: t.db})
    expect(r.code, r.stderr).toBe(0)
    const rows = r.stdout.split('\n').filter(l => /AA:BB:CC:DD:EE:0\d/.test(l))
    expect(rows.map(l => l.match(/(desktop|laptop|phone)/)![1])).toEqual(['desktop', 'laptop', 'phone'])
    expect(rows.map(l => l.match(/(\d+\.\d+) MiB/)![1])).toEqual(['120.0', '60.00', '10.00'])
  })

  it('stats per device (the seed device shape) and for the network', async () => {
    const one = await runCli(['bandwidth', 'stats', '--mac', 'aa:bb:cc:dd:ee:01', '--json'], {db: t.db})
    expect(one.code, one.stderr).toBe(0)
    const d = one.json.device
    expect(d).toMatchObject({ip: '192.168.1.100', mac: 'AA:BB:CC:DD:EE:01', hostname: 'laptop', sample_count: 1})
    expect(d.total).toEqual({bytes_sent: 10485760, bytes_received: 52428800, total_bytes: 62914560, total_mb: 60})
    for (const k of ['current', 'average'])
      expect(Object.keys(d[k])).toEqual(expect.arrayContaining(['upload_mbps', 'download_mbps', 'total_mbps', 'upload_bps', 'download_bps', 'total_bps']))
    expect(Object.keys(d.peak)).toEqual(expect.arrayContaining(['mbps', 'timestamp', 'bps', 'timestamp_ms']))
    expect(typeof d.uptime_seconds).toBe('number')

    const all = await runCli(['bandwidth', 'stats', '--json'], {db: t.db})
    expect(all.code, all.stderr).toBe(0)
    expect(all.json.devices_count).toBe(3)
    expect(all.json.devices.map((x: any) => [x.hostname, x.total_mb])).toEqual([
      ['laptop', 60],
      ['desktop', 120],
      ['phone', 10],
    ])
    expect(Object.keys(all.json.network)).toEqual(
      expect.arrayContaining(['upload_bps', 'download_bps', 'total_bps', 'upload_mbps', 'download_mbps', 'total_mbps']),
    )
    const table = await runCli(['bandwidth', 'stats'], {db: t.db})
    expect(table.stdout).toMatch(/desktop.*192\.168\.1\.101.*AA:BB:CC:DD:EE:02.*120\.0 MiB/)
  })

  it('the first delta sample after registration counts its bytes but has no rate (registration is no measurement)', async () => {
    const reg = await runCli(['bandwidth', 'register', '--ip', '192.168.1.110', '--mac', 'AA:BB:CC:DD:EE:10', '--json'], {db: t.db})
    expect(reg.code, reg.stderr).toBe(0)
    // Issue 13: milliseconds after register, the old rule gave a rate over those milliseconds.
    const s = await runCli(['bandwidth', 'sample', '--mac', 'AA:BB:CC:DD:EE:10', '--sent', '1000000', '--received', '0', '--json'], {db: t.db})
    expect(s.code, s.stderr).toBe(0)
    expect(s.json.samples[0]).toMatchObject({bytes_sent: 1_000_000, interval_ms: null, upload_bps: null, total_bps: null})
    const st = await runCli(['bandwidth', 'stats', '--mac', 'AA:BB:CC:DD:EE:10', '--json'], {db: t.db})
    expect(st.json.device.total.bytes_sent).toBe(1_000_000)
    expect(st.json.device.peak).toMatchObject({bps: 0, timestamp: null})
  })

  it('re-registering updates ip/hostname and keeps the totals', async () => {
    const r = await runCli(['bandwidth', 'register', '--ip', '10.0.0.5', '--mac', 'aa:bb:cc:dd:ee:02', '--hostname', 'workstation', '--json'], {db: t.db})
    expect(r.json).toMatchObject({created: false, device: {ip: '10.0.0.5', hostname: 'workstation'}})
    const s = await runCli(['bandwidth', 'stats', '--mac', '10.0.0.5', '--json'], {db: t.db})
    expect(s.json.device.total.total_mb).toBe(120)
  })
})

describe('rate math, hand-computed', () => {
  const t = tempStore('netmon-bw-rates-')
  afterAll(() => t.cleanup())
  const T = hourAgo(3)
  const at = (sec: number) => new Date(T + sec * 1000).toISOString()
  const A = 'AA:00:00:00:00:0A'
  const B = 'AA:00:00:00:00:0B'
  const sample = (mac: string, sec: number, sent: number, received: number) =>
    runCli(['bandwidth', 'sample', '--mac', mac, '--sent', String(sent), '--received', String(received), '--at', at(sec), '--auto-register', '--json'], {
      db: t.db,
    })

  beforeAll(async () => {
    // A: t=0 (no previous sample: no rate), t=60 s, t=90 s. B: t=0, t=120 s.
    for (const [mac, sec, s, r] of [
      [A, 0, 1_000_000, 3_000_000],
      [A, 60, 7_500_000, 15_000_000],
      [A, 90, 1_500_000, 0],
      [B, 0, 0, 0],
      [B, 120, 15_000_000, 0],
    ] as const) {
      const res = await sample(mac, sec, s, r)
      expect(res.code, res.stderr).toBe(0)
    }
  })

  it('current, average, peak (with timestamp) and totals of one device', async () => {
    const r = await runCli(['bandwidth', 'stats', '--mac', A, '--json'], {db: t.db})
    const d = r.json.device
    // The latest interval (t=60 → 90 s: 1.5 MB up over 30 s = 400 kbit/s) ended hours ago, longer than
    // max(2 × 30 s, 60 s): no current rate (issue 13; fresh samples: test/integration/bandwidth/current.test.ts).
    expect(d.current).toMatchObject({upload_bps: 0, download_bps: 0, total_bps: 0, stale: true, stale_after_ms: 60_000, sample_ts: at(90)})
    expect(d.current_as_of).toBe(at(90))
    expect(d.total).toEqual({bytes_sent: 10_000_000, bytes_received: 18_000_000, total_bytes: 28_000_000, total_mb: 26.703})
    // average = bytes × 8 / 90 s (first seen t=0 → last update t=90).
    expect(d.uptime_seconds).toBe(90)
    expect(d.average).toMatchObject({upload_bps: 888_889, download_bps: 1_600_000, total_bps: 2_488_889, total_mbps: 2.488889})
    // peak = the t=60 sample: 22.5 MB over 60 s = 3 Mbit/s; up 1 Mbit/s, down 2 Mbit/s, all at t=60.
    expect(d.peak).toMatchObject({bps: 3_000_000, mbps: 3, timestamp: at(60), timestamp_ms: T + 60_000})
    expect(d.peak.upload).toMatchObject({bps: 1_000_000, timestamp: at(60)})
    expect(d.peak.download).toMatchObject({bps: 2_000_000, timestamp: at(60)})
    expect(d.sample_count).toBe(3)
  })

  it('network totals are the sum of the devices; hours-old samples add no current rate', async () => {
    const r = await runCli(['bandwidth', 'stats', '--json'], {db: t.db})
    // The sum of current rates over fresh samples: test/integration/bandwidth/current.test.ts.
    expect(r.json.network).toMatchObject({upload_bps: 0, download_bps: 0, total_bps: 0, stale_devices: 2, bytes_sent: 25_000_000})
    expect(r.json.devices_count).toBe(2)
  })

  it('a late sample is placed by time: it and the sample after it get the right intervals', async () => {
    // t=75: 0.6 MB. Now t=75 covers 15 s (320 kbit/s) and t=90 covers 15 s (800 kbit/s).
    const res = await sample(A, 75, 600_000, 0)
    expect(res.code, res.stderr).toBe(0)
    expect(res.json.samples_late).toBe(1)
    const h = await runCli(['bandwidth', 'history', '--mac', A, '--since', at(0), '--until', at(100), '--resolution', 'raw', '--json'], {db: t.db})
    expect(h.json.points.map((p: any) => [p.ts, p.interval_ms, p.upload_bps])).toEqual([
      [at(0), null, null],
      [at(60), 60_000, 1_000_000],
      [at(75), 15_000, 320_000],
      [at(90), 15_000, 800_000],
    ])
    const s = await runCli(['bandwidth', 'stats', '--mac', A, '--json'], {db: t.db})
    // The latest interval is now 15 s long (its rate, 800 kbit/s, is in the raw points above).
    expect(s.json.device.current).toMatchObject({upload_bps: 0, stale: true, sample_ts: at(90)})
    expect(s.json.device.peak.bps).toBe(3_000_000)
    expect(s.json.device.total.bytes_sent).toBe(10_600_000)
  })

  it('history at 5m: bucket bytes and average rate over the bucket', async () => {
    const h = await runCli(['bandwidth', 'history', '--mac', B, '--since', at(0), '--until', at(600), '--resolution', '5m', '--json'], {db: t.db})
    expect(h.code, h.stderr).toBe(0)
    expect(h.json.resolution).toBe('5m')
    // B's samples at t=0 and t=120 fall in the first 5-minute bucket: 15 MB over 300 s = 400 kbit/s.
    expect(h.json.points).toHaveLength(1)
    expect(h.json.points[0]).toMatchObject({ts: at(0), bytes_sent: 15_000_000, samples: 2, upload_bps: 400_000, peak_bps: 1_000_000})
  })

  it('history without --json draws a chart', async () => {
    const h = await runCli(['bandwidth', 'history', '--mac', A, '--since', at(0), '--until', at(100), '--resolution', 'raw'], {db: t.db})
    expect(h.code, h.stderr).toBe(0)
    expect(h.stdout).toMatch(/kbit\/s|Mbit\/s/)
    expect(h.stdout).toMatch(/[╭╮╯╰│┤┼]/)
  })
})

describe('top --sort: each order computed by hand from data where all four differ', () => {
  const t = tempStore('netmon-bw-sort-')
  afterAll(() => t.cleanup())
  const X = 'CC:00:00:00:00:01'
  const Y = 'CC:00:00:00:00:02'
  const Z = 'CC:00:00:00:00:03'

  beforeAll(async () => {
    // Two samples each, ten minutes apart, the second ten minutes ago: current for another ten
    // minutes at least (max(2 × 10 min, 60 s) after it). Totals: X 9300↑ 1300↓, Y 1030↑ 12030↓, Z 9000↑ 9000↓.
    // Current (the second sample over 600 s): X 600 B → 8 bit/s, Y 60 B → 0.8 bit/s, Z 6000 B → 80 bit/s.
    const t0 = Date.now() - 20 * 60_000
    const lines = [
      [X, 9000, 1000, t0],
      [Y, 1000, 12000, t0],
      [Z, 6000, 6000, t0],
      [X, 300, 300, t0 + 600_000],
      [Y, 30, 30, t0 + 600_000],
      [Z, 3000, 3000, t0 + 600_000],
    ].map(([mac, sent, received, ts]) => JSON.stringify({mac, sent, received, ts}))
    const r = await runCli(['bandwidth', 'sample', '--from', '-', '--auto-register', '--json'], {db: t.db, input: lines.join('\n')})
    expect(r.code, r.stderr).toBe(0)
  })

  it.each([
    ['total', [Z, Y, X]],
    ['upload', [X, Z, Y]],
    ['download', [Y, Z, X]],
    ['current', [Z, X, Y]],
  ])('--sort %s', async (sort, order) => {
    const r = await runCli(['bandwidth', 'top', '--sort', sort as string, '--json'], {db: t.db})
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.sort_by).toBe(sort)
    expect(r.json.top_talkers.map((x: any) => x.mac)).toEqual(order)
    expect(r.json.top_talkers.map((x: any) => x.rank)).toEqual([1, 2, 3])
  })

  it('--limit cuts the ranked list', async () => {
    const r = await runCli(['bandwidth', 'top', '--sort', 'download', '--limit', '2', '--json'], {db: t.db})
    expect(r.json.top_talkers.map((x: any) => x.mac)).toEqual([Y, Z])
  })
})

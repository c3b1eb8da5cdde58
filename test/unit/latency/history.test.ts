/**
 * Storage and history on a real libSQL file: device linking at write time, lookup by IP and by
 * MAC, bucket statistics (hand-computed), range bounds, auto resolution, and the chart.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {registerDevice} from '../../../src/core/devices/repo.js'
import {renderLatencyChart} from '../../../src/core/latency/chart.js'
import {latencyHistory, type BucketPoint, type RawPoint} from '../../../src/core/latency/history.js'
import type {Probe} from '../../../src/core/latency/probe.js'
import {summarize} from '../../../src/core/latency/stats.js'
import {saveRuns, type RunRecord} from '../../../src/core/latency/store.js'
import {openStore, type Store} from '../../../src/core/store/index.js'
import {checkStore} from '../../../src/core/store/info.js'
import {tempStore} from '../../support/cli.js'
import {HOUR, utcDayStart} from '../../support/clock.js'

const T0 = utcDayStart(3) + 10 * HOUR
const S = 1000
const MAC = '02:4E:4D:00:00:01'

function run(host: string, ip: string, probes: [number, number | null][], seqStart = 1): RunRecord {
  const ps: Probe[] = probes.map(([ts, rtt], i) => ({seq: seqStart + i, ts, rtt_ms: rtt, status: rtt === null ? 'timeout' : 'reply'}))
  return {
    target: {host, ip, family: 4},
    method: 'icmp',
    port: null,
    intervalMs: 20_000,
    timeoutMs: 1000,
    startedAt: ps[0]!.ts,
    endedAt: ps.at(-1)!.ts + 1000,
    stats: summarize(ps.map(p => p.rtt_ms)),
    duplicates: 0,
    error: null,
    probes: ps,
  }
}

let store: Store
let tmp: ReturnType<typeof tempStore>
let deviceId: number
const ids: Record<string, number> = {}

beforeAll(async () => {
  tmp = tempStore('netmon-latency-hist-')
  store = await openStore({db: tmp.db})
  deviceId = (await store.writeTx(tx => registerDevice(tx, {mac: MAC, ip: '10.9.0.1', now: T0}))).device.id
  // Run A while the device holds 10.9.0.1 → linked.
  ;[ids.A] = (
    await saveRuns(store, [
      run('router', '10.9.0.1', [
        [T0, 1],
        [T0 + 20 * S, 3],
        [T0 + 40 * S, null],
        [T0 + 60 * S, 2],
        [T0 + 80 * S, 6],
      ]),
    ])
  ).map(r => r.run_id)
  // The device moves to 10.9.0.7; run B (same old address, overlapping A in time) is not its
  // device any more; run C to the new address is.
  await store.writeTx(tx => registerDevice(tx, {mac: MAC, ip: '10.9.0.7', now: T0 + 90 * S}))
  const saved = await saveRuns(store, [
    run('10.9.0.1', '10.9.0.1', [
      [T0 + 30 * S, 10],
      [T0 + 50 * S, 14],
    ]),
    run('10.9.0.7', '10.9.0.7', [
      [T0 + 600 * S, 0.5],
      [T0 + 601 * S, 0.7],
    ]),
  ])
  ids.B = saved[0]!.run_id
  ids.C = saved[1]!.run_id
  expect(saved.map(s => s.device_id)).toEqual([null, deviceId])
})

afterAll(async () => {
  await store.close()
  tmp.cleanup()
})

describe('stored runs', () => {
  it('are linked to the device that held the address when they ran', async () => {
    const rows = await store.query<{id: number; device_id: number | null; sent: number; received: number}>(
      'SELECT id, device_id, sent, received FROM latency_runs ORDER BY id',
    )
    expect(rows).toEqual([
      {id: ids.A, device_id: deviceId, sent: 5, received: 4},
      {id: ids.B, device_id: null, sent: 2, received: 2},
      {id: ids.C, device_id: deviceId, sent: 2, received: 2},
    ])
    const probes = await store.get<{n: number; lost: number}>('SELECT count(*) AS n, sum(rtt_ms IS NULL) AS lost FROM latency_probes')
    expect(probes).toEqual({n: 9, lost: 1})
    expect((await checkStore(store)).ok).toBe(true)
  })
})

describe('latencyHistory', () => {
  const range = {since: T0, until: T0 + 3600 * S}

  it('by IP: every run to that address, 1-minute buckets computed by hand', async () => {
    const h = await latencyHistory(store, {target: '10.9.0.1', ...range, resolution: '1m'})
    expect(h.matched_by).toBe('ip')
    expect(h.runs.map(r => r.id)).toEqual([ids.A, ids.B])
    const [b0, b1] = h.points as BucketPoint[]
    // Bucket 10:00: A 1, 3, lost; B 10, 14 → 5 sent, 4 received, avg 28/4 = 7, median (3+10)/2 = 6.5,
    // stddev √(((−6)²+(−4)²+3²+7²)/4) = √27.5 = 5.244; jitter within runs only: A |3−1| = 2,
    // B |14−10| = 4 → 3 (the A/B interleaving 3→10 is not jitter).
    expect(b0).toMatchObject({
      ts: new Date(T0).toISOString(),
      ts_ms: T0,
      sent: 5,
      received: 4,
      loss_pct: 20,
      avg_ms: 7,
      median_ms: 6.5,
      min_ms: 1,
      max_ms: 14,
      stddev_ms: 5.244,
      jitter_ms: 3,
    })
    // Bucket 10:01: A 2, 6 → avg 4; A's differences landing here: |2−3| = 1 (across the loss), |6−2| = 4 → 2.5.
    expect(b1).toMatchObject({ts_ms: T0 + 60 * S, sent: 2, received: 2, avg_ms: 4, median_ms: 4, jitter_ms: 2.5})
    // Whole range: 7 sent, 6 received (loss 14.29 %), avg 36/6 = 6, jitter (2+1+4+4)/4 = 2.75.
    expect(h.summary).toMatchObject({sent: 7, received: 6, loss_pct: 14.29, avg_ms: 6, jitter_ms: 2.75})
    expect(h.device).toBeNull() // nobody holds 10.9.0.1 now
  })

  it('by MAC: the device’s runs, whatever its address was', async () => {
    for (const form of [MAC, '02-4e-4d-00-00-01', '024e.4d00.0001']) {
      const h = await latencyHistory(store, {target: form, ...range, resolution: 'raw'})
      expect(h.matched_by).toBe('mac')
      expect(h.device).toMatchObject({id: deviceId, mac: MAC, ip: '10.9.0.7'})
      expect(h.runs.map(r => r.id)).toEqual([ids.A, ids.C])
      expect((h.points as RawPoint[]).map(p => p.rtt_ms)).toEqual([1, 3, null, 2, 6, 0.5, 0.7])
    }
  })

  it('by the host name used when measuring', async () => {
    const h = await latencyHistory(store, {target: 'ROUTER', ...range, resolution: 'raw'})
    expect(h.matched_by).toBe('host')
    expect(h.runs.map(r => r.id)).toEqual([ids.A])
  })

  it('range includes since and excludes until', async () => {
    const h = await latencyHistory(store, {target: '10.9.0.1', since: T0 + 20 * S, until: T0 + 60 * S, resolution: 'raw'})
    expect((h.points as RawPoint[]).map(p => [p.ts_ms - T0, p.rtt_ms])).toEqual([
      [20 * S, 3],
      [30 * S, 10],
      [40 * S, null],
      [50 * S, 14],
    ])
    expect(h.points[0]).toMatchObject({ts: new Date(T0 + 20_000).toISOString(), status: 'reply', run_id: ids.A, seq: 2})
  })

  it('method filter', async () => {
    const h = await latencyHistory(store, {target: '10.9.0.1', ...range, resolution: 'raw', method: 'tcp'})
    expect(h.points).toEqual([])
    expect(h.summary.sent).toBe(0)
  })

  it('unknown MAC → not found (exit 1); malformed HOST → invalid input (exit 2); unmeasured name → not found', async () => {
    await expect(latencyHistory(store, {target: '02:00:00:00:00:99', ...range, resolution: 'raw'})).rejects.toMatchObject({kind: 'not_found', exitCode: 1})
    await expect(latencyHistory(store, {target: 'no such!', ...range, resolution: 'raw'})).rejects.toMatchObject({kind: 'input', exitCode: 2})
    await expect(latencyHistory(store, {target: 'never-measured', ...range, resolution: 'raw'})).rejects.toMatchObject({kind: 'not_found'})
    await expect(latencyHistory(store, {target: '10.9.0.1', since: T0, until: T0, resolution: 'raw'})).rejects.toMatchObject({kind: 'input'})
  })

  it('auto: raw for a few probes, buckets when there are more than 1500', async () => {
    expect((await latencyHistory(store, {target: '10.9.0.1', ...range, resolution: 'auto'})).resolution).toBe('raw')
    const many: [number, number | null][] = Array.from({length: 1600}, (_, i) => [T0 + 7200 * S + i * S, 1 + (i % 7)])
    await saveRuns(store, [run('bulk', '10.9.0.50', many)])
    const h = await latencyHistory(store, {target: '10.9.0.50', since: T0 + 7200 * S, until: T0 + 10800 * S, resolution: 'auto'})
    expect(h.resolution).toBe('1m')
    expect(h.bucket_ms).toBe(60_000)
    // 1600 s of 1 s probes → buckets 10:00…10:26 (27 of them, the last holding 40 probes).
    expect(h.points).toHaveLength(27)
    expect((h.points as BucketPoint[]).reduce((a, p) => a + p.sent, 0)).toBe(1600)
    expect((h.points as BucketPoint[]).at(-1)!.sent).toBe(40)
  })
})

describe('chart', () => {
  it('plots the RTT line and marks the lost probe in the loss strip', async () => {
    const h = await latencyHistory(store, {target: '10.9.0.1', since: T0, until: T0 + 3600 * S, resolution: 'raw'})
    const text = renderLatencyChart(h, {width: 80, height: 6})
    const lines = text.split('\n')
    const loss = lines.find(l => l.trimStart().startsWith('loss'))!
    // points by time: 1, 3, 10, lost, 14, 2, 6 → the 4th column is fully lost.
    const strip = loss.slice(loss.indexOf('loss') + 5)
    expect(strip.slice(0, 7)).toBe('   █   ')
    expect(text).toContain('14.00 ms') // the top label is the maximum
    expect(text).toContain(new Date(T0).toISOString())
    expect(text).toContain('RTT per probe')
  })

  it('merges points into the available columns', async () => {
    const h = await latencyHistory(store, {target: '10.9.0.50', since: T0 + 7200 * S, until: T0 + 10800 * S, resolution: 'raw'})
    expect(h.points).toHaveLength(1600)
    const text = renderLatencyChart(h, {width: 72, height: 5})
    expect(text).toContain('1600 points in 58 columns')
    for (const l of text.split('\n')) expect(l.length).toBeLessThanOrEqual(72 + 60) // the axis line carries two timestamps
  })

  it('says so when every probe was lost', () => {
    const h = {resolution: 'raw', points: [{ts: 'a', ts_ms: 0, rtt_ms: null, status: 'timeout', run_id: 1, seq: 1}]} as never
    expect(renderLatencyChart(h)).toContain('every probe in this range was lost')
  })
})

describe('schema', () => {
  it('deleting a device keeps its runs (device_id → NULL); deleting a run removes its probes', async () => {
    const t = tempStore('netmon-latency-fk-')
    const s = await openStore({db: t.db})
    try {
      const d = (await s.writeTx(tx => registerDevice(tx, {mac: '02:4E:4D:00:00:09', ip: '10.9.9.9'}))).device
      const [r] = await saveRuns(s, [run('x', '10.9.9.9', [[T0, 1]])])
      expect(r!.device_id).toBe(d.id)
      await s.batch([{sql: 'DELETE FROM devices WHERE id = ?', args: [d.id]}])
      expect(await s.get('SELECT device_id FROM latency_runs WHERE id = ?', [r!.run_id])).toEqual({device_id: null})
      await s.batch([{sql: 'DELETE FROM latency_runs WHERE id = ?', args: [r!.run_id]}])
      expect(await s.get('SELECT count(*) AS n FROM latency_probes')).toEqual({n: 0})
    } finally {
      await s.close()
      t.cleanup()
    }
  })
})

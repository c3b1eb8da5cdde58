/**
 * Issue 9 acceptance 3 for the datasets over other capabilities' tables (seeded with plain SQL
 * matching their migrations), run in-process through planExport + runExport into real files:
 * time windows exact at both ends inside each partition, device and meter filters, rollups
 * selected by bucket start, latency runs by overlap, and an unknown meter (exit 1).
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {InValue} from '@libsql/client'
import {isNetmonError} from '../../../src/core/errors.js'
import {planExport, runExport, type ExportRequest} from '../../../src/core/export/engine.js'
import {seedDevices, testStore, type TestStore} from '../../unit/export/fixtures.js'
import {utcDayStart} from '../../support/clock.js'

const S = utcDayStart(40) // since
const U = S + 3_600_000 // until (one hour later)
const EDGES = [S - 1, S, S + 1, U - 1, U, U + 1]

let t: TestStore
let n = 0
beforeAll(async () => {
  t = await testStore()
  await seedDevices(t.store, [
    {mac: 'AA:BB:CC:DD:EE:01', ip: '192.0.2.1', first_seen: 0, last_seen: 1},
    {mac: 'AA:BB:CC:DD:EE:02', ip: '192.0.2.2', first_seen: 0, last_seen: 1},
    {mac: 'AA:BB:CC:DD:EE:03', ip: '192.0.2.3', first_seen: 0, last_seen: 1},
  ])
  const stmts: {sql: string; args: InValue[]}[] = []
  for (const d of [1, 2, 3]) {
    for (const ts of EDGES) stmts.push({sql: 'INSERT INTO bw_samples VALUES (?, ?, ?, ?, ?)', args: [d, ts, d, 2 * d, 60_000]})
    // Hourly buckets starting before, at, and after the window.
    for (const b of [S - 3_600_000, S, U]) stmts.push({sql: 'INSERT INTO bw_rollup_1h VALUES (?, ?, 1, 1, 1, NULL)', args: [d, b]})
  }
  stmts.push({
    sql: `INSERT INTO meters VALUES ('m1', 'one', '127.0.0.1', 1, 'hdlc', 1000, '[]', 1, 0, 0), ('m2', 'two', '127.0.0.1', 2, 'hdlc', 1000, '[]', 1, 0, 0)`,
    args: [],
  })
  for (const m of ['m1', 'm2']) {
    for (const ts of EDGES) {
      stmts.push({sql: `INSERT INTO readings VALUES (?, ?, '{"v":1}', 5)`, args: [m, ts]})
      stmts.push({
        sql: 'INSERT INTO network_metrics(meter_id, timestamp, dlms_requests_sent, dlms_responses_recv, dlms_bytes_sent, dlms_bytes_recv, dlms_avg_payload_size, mqtt_messages_sent, mqtt_bytes_sent, bandwidth_tx_bps, bandwidth_rx_bps, packets_tx_ps, packets_rx_ps, interval_ms) VALUES (?, ?, 1, 1, 1, 1, 1.5, 1, 1, 1, 1, 0.5, 0.5, 60000)',
        args: [m, ts],
      })
    }
  }
  // Latency runs [started_at, ended_at]: overlapping the window or not, by one ms.
  const runs = [
    [1, S - 10, S - 1], // ends just before since: out
    [2, S - 10, S], // ends at since: in
    [3, U - 1, U + 10], // starts just before until: in
    [4, U, U + 10], // starts at until: out
  ]
  for (const [id, a, b] of runs) {
    stmts.push({
      sql: `INSERT INTO latency_runs(id, host, ip, device_id, method, interval_ms, timeout_ms, started_at, ended_at, sent, received, loss_pct) VALUES (?, 'h', '192.0.2.1', ?, 'icmp', 1, 1, ?, ?, 1, 1, 0)`,
      args: [id, id % 2 ? 1 : 2, a, b],
    })
    stmts.push({sql: `INSERT INTO latency_probes VALUES (?, 1, ?, 1.5, 'reply'), (?, 2, ?, NULL, 'timeout')`, args: [id, a, id, b]})
  }
  stmts.push({
    sql: `INSERT INTO scans(id, started_at, updated_at, status, targets, methods, hosts_total) VALUES (1, ?, 0, 'done', '[]', '[]', 0), (2, ?, 0, 'done', '[]', '[]', 0), (3, ?, 0, 'done', '[]', '[]', 0)`,
    args: [S - 1, S, U],
  })
  await t.store.batch(stmts)
})
afterAll(() => t.cleanup())

async function rows(req: ExportRequest): Promise<Record<string, any>[]> {
  const out = join(t.dir, `f${n++}.ndjson`)
  const summary = await runExport(t.store, planExport({pageSize: 2, ...req, out}))
  const lines = readFileSync(out, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map(l => JSON.parse(l))
  expect(summary.rows).toBe(lines.length)
  return lines
}

const window = {since: String(S), until: new Date(U).toISOString()}

describe('time windows per dataset: since inclusive, until exclusive', () => {
  it('bandwidth raw: inside every device, exactly [S, S+1, U-1]', async () => {
    const r = await rows({what: 'bandwidth', ...window})
    expect(r.map(x => [x.device_id, x.ts_ms])).toEqual([1, 2, 3].flatMap(d => [S, S + 1, U - 1].map(ts => [d, ts])))
  })

  it('bandwidth rollups: buckets selected by their start', async () => {
    const r = await rows({what: 'bandwidth', resolution: '1h', ...window})
    expect(r.map(x => [x.device_id, x.ts_ms, x.interval_ms])).toEqual([1, 2, 3].map(d => [d, S, 3_600_000]))
  })

  it('readings and network-metrics: inside every meter', async () => {
    const r = await rows({what: 'readings', ...window})
    expect(r.map(x => [x.meter_id, x.ts_ms])).toEqual(['m1', 'm2'].flatMap(m => [S, S + 1, U - 1].map(ts => [m, ts])))
    const nm = await rows({what: 'network-metrics', ...window})
    expect(nm.map(x => [x.meter_id, x.timestamp_ms])).toEqual(['m1', 'm2'].flatMap(m => [S, S + 1, U - 1].map(ts => [m, ts])))
  })

  it('latency: runs overlapping the window (ended_at >= since, started_at < until); probes by send time', async () => {
    expect((await rows({what: 'latency', ...window})).map(x => x.id)).toEqual([2, 3])
    const probes = await rows({what: 'latency-probes', ...window})
    expect(probes.map(x => [x.run_id, x.seq, x.ts_ms])).toEqual([
      [2, 2, S],
      [3, 1, U - 1],
    ])
  })

  it('scans: by start time', async () => {
    expect((await rows({what: 'scans', ...window})).map(x => x.id)).toEqual([2])
  })
})

describe('device and meter filters', () => {
  it('bandwidth --device (raw and rollups) with a window', async () => {
    const r = await rows({what: 'bandwidth', device: '192.0.2.2', ...window})
    expect(r.map(x => [x.device_id, x.mac, x.ts_ms])).toEqual([S, S + 1, U - 1].map(ts => [2, 'AA:BB:CC:DD:EE:02', ts]))
    const h = await rows({what: 'bandwidth', resolution: '1h', device: 'aa:bb:cc:dd:ee:03'})
    expect(h.map(x => [x.device_id, x.ts_ms])).toEqual([S - 3_600_000, S, U].map(ts => [3, ts]))
  })

  it('latency --device', async () => {
    expect((await rows({what: 'latency', device: 'AA:BB:CC:DD:EE:01'})).map(x => x.id)).toEqual([1, 3])
    expect((await rows({what: 'latency-probes', device: 'AA:BB:CC:DD:EE:02'})).map(x => x.run_id)).toEqual([2, 2, 4, 4])
  })

  it('readings --meter with a window; an unknown meter is exit 1, and no file is written', async () => {
    const r = await rows({what: 'readings', meter: 'm2', since: String(S + 1)})
    expect(r.map(x => [x.meter_id, x.ts_ms])).toEqual([S + 1, U - 1, U, U + 1].map(ts => ['m2', ts]))
    const out = join(t.dir, 'unknown-meter.csv')
    const err = await runExport(t.store, planExport({what: 'readings', meter: 'nope', out})).catch(e => e)
    expect(isNetmonError(err) && err.exitCode).toBe(1)
    expect(err.message).toMatch(/no meter "nope"/)
    expect(() => readFileSync(out)).toThrow()
  })

  it('filters a dataset does not map are refused (exit 2)', () => {
    for (const req of [
      {what: 'bandwidth-totals', since: '1d'},
      {what: 'readings', device: '192.0.2.1'},
      {what: 'scans', device: '192.0.2.1'},
      {what: 'latency', meter: 'm1'},
    ]) {
      let err: unknown
      try {
        planExport(req)
      } catch (e) {
        err = e
      }
      expect(isNetmonError(err) && err.exitCode, JSON.stringify(req)).toBe(2)
    }
  })
})

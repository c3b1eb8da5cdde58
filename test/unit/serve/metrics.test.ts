/**
 * /metrics pieces on a real store file: label escaping, an empty store (valid exposition, no
 * scrape errors), and the running sums of the bridge's counters (new rows add, pruned rows stay
 * counted: counter semantics).
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {insertMetricsStmt, type MetricsRow} from '../../../src/core/bridge/repo.js'
import {escapeLabel, MeterTotals, renderMetrics} from '../../../src/core/serve/metrics.js'
import {openStore, type Store} from '../../../src/core/store/index.js'

let dir: string
let store: Store
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'netmon-serve-metrics-'))
  store = await openStore({db: join(dir, 'netmon.db')})
})
afterAll(async () => {
  await store.close()
  rmSync(dir, {recursive: true, force: true})
})

const row = (meter: string, ts: number, requests: number, bytes: number): MetricsRow => ({
  meter_id: meter,
  timestamp: ts,
  dlms_requests_sent: requests,
  dlms_responses_recv: requests,
  dlms_bytes_sent: bytes,
  dlms_bytes_recv: bytes * 2,
  dlms_avg_payload_size: 10,
  mqtt_messages_sent: requests,
  mqtt_bytes_sent: bytes * 3,
  bandwidth_tx_bps: 0,
  bandwidth_rx_bps: 0,
  packets_tx_ps: 0,
  packets_rx_ps: 0,
  interval_ms: 60_000,
  mqtt_messages_acked: requests,
  tx_errors: 0,
  rx_errors: 0,
  tx_drops: 0,
  rx_drops: 0,
})

describe('metrics', () => {
  it('escapes label values per the exposition format', () => {
    expect(escapeLabel('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd')
  })

  it('an empty store gives a valid exposition with no scrape errors', async () => {
    const text = await renderMetrics(store, {stats: {byRoute: new Map(), inflight: 1, total: 1}, startedAt: Date.now(), meterTotals: new MeterTotals()})
    const fams = parsePrometheusTextFormat(text) as {name: string; metrics: {value: string}[]}[]
    expect(fams.find(f => f.name === 'netmon_scrape_error')).toBeUndefined()
    expect(Number(fams.find(f => f.name === 'netmon_bandwidth_devices')!.metrics[0]!.value)).toBe(0)
    expect(fams.find(f => f.name === 'netmon_device_sent_bytes_total')).toBeUndefined()
    expect(Number(fams.find(f => f.name === 'netmon_http_requests_in_flight')!.metrics[0]!.value)).toBe(1)
  })

  it('bridge counters are running sums: new rows add, pruned rows stay counted', async () => {
    const totals = new MeterTotals()
    await store.batch([insertMetricsStmt([row('m1', 1000, 5, 100), row('m1', 2000, 7, 100), row('m2', 1000, 1, 1)])])
    let t = await totals.read(store, ['m1', 'm2', 'm3'])
    expect(t.get('m1')).toMatchObject({rq: 12, rs: 12, bs: 200, br: 400, mm: 12, mb: 600, after: 2000})
    expect(t.get('m2')).toMatchObject({rq: 1})
    expect(t.has('m3')).toBe(false) // no rows yet: no series
    // The bridge prunes the old rows and writes a new one.
    await store.batch([{sql: 'DELETE FROM network_metrics WHERE timestamp <= 1000', args: []}, insertMetricsStmt([row('m1', 3000, 3, 50)])])
    t = await totals.read(store, ['m1', 'm2'])
    expect(t.get('m1')).toMatchObject({rq: 15, bs: 250, after: 3000})
    expect(t.get('m2')).toMatchObject({rq: 1})
    // Nothing new: unchanged.
    expect((await totals.read(store, ['m1'])).get('m1')!.rq).toBe(15)
  })
})

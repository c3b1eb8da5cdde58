/** meters stats (the seed's network_stats shape), readings and status queries on a real store. */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {bridgeStatus, meterNetworkStats, meterReadings} from '../../../src/core/bridge/queries.js'
import {insertMetricsStmt, syncMeters, upsertBridgeStatusStmt, type MetricsRow} from '../../../src/core/bridge/repo.js'
import {openStore, type Store} from '../../../src/core/store/index.js'
import {tempStore} from '../../support/cli.js'
import {HOUR, utcDayStart} from '../../support/clock.js'

const tmp = tempStore('netmon-bridge-q-')
let store: Store
const T = utcDayStart(3) + 10 * HOUR
const row = (i: number, o: Partial<MetricsRow> = {}): MetricsRow => ({
  meter_id: 'm1',
  timestamp: T + i * 60_000,
  dlms_requests_sent: 20,
  dlms_responses_recv: 20,
  dlms_bytes_sent: 1000,
  dlms_bytes_recv: 3000,
  dlms_avg_payload_size: 40,
  mqtt_messages_sent: 20,
  mqtt_bytes_sent: 2600,
  bandwidth_tx_bps: 1_000_000 * (i + 1),
  bandwidth_rx_bps: 500_000,
  packets_tx_ps: 10 + i,
  packets_rx_ps: 5,
  interval_ms: 60_000,
  mqtt_messages_acked: 20,
  tx_errors: 0,
  rx_errors: 0,
  tx_drops: 0,
  rx_drops: 0,
  ...o,
})

beforeAll(async () => {
  store = await openStore({db: tmp.db})
  await syncMeters(store, [
    {
      id: 'm1',
      name: 'Meter One',
      host: 'h',
      port: 1,
      framing: 'wrapper',
      clientAddress: 16,
      serverAddress: 1,
      auth: {mechanism: 'none'},
      pollIntervalMs: 3000,
      timeoutMs: 1000,
      obis: [{obis: '1.0.1.8.0.255', key: 'e', classId: 3}],
      reconnect: {minMs: 1, maxMs: 2},
      authFailureLimit: 3,
    },
  ])
  // 120 rows: the default window is the newest 100.
  const rows = Array.from({length: 120}, (_, i) => row(i))
  rows[119] = row(119, {dlms_requests_sent: 10, dlms_responses_recv: 10, dlms_avg_payload_size: 100})
  await store.batch([insertMetricsStmt(rows)])
})
afterAll(async () => {
  await store.close()
  tmp.cleanup()
})

describe('meters stats', () => {
  it('has the seed network_stats shape over the newest 100 rows', async () => {
    const s = await meterNetworkStats(store, 'Meter One')
    expect(s.meter_id).toBe('m1')
    expect(s.meter_name).toBe('Meter One')
    expect(s.rows).toBe(100)
    expect(s.timestamp).toBe(new Date(T + 119 * 60_000).toISOString())
    expect(s.timestamp_ms).toBe(T + 119 * 60_000)
    // current = newest row; Kbps = 10^3 bit/s
    expect(s.current).toEqual({bandwidth_tx_kbps: 120_000, bandwidth_rx_kbps: 500, bandwidth_total_kbps: 120_500, packets_tx_ps: 129, packets_rx_ps: 5})
    // application = totals over the window; payload average weighted by APDUs: (99·40·40 + 100·20) / (99·40 + 20)
    expect(s.application).toEqual({
      dlms_requests_sent: 99 * 20 + 10,
      dlms_responses_recv: 99 * 20 + 10,
      dlms_avg_payload_size: Math.round(((99 * 40 * 40 + 100 * 20) / (99 * 40 + 20)) * 100) / 100,
      dlms_total_bytes_sent: 100_000,
      dlms_total_bytes_recv: 300_000,
      mqtt_messages_sent: 2000,
      mqtt_total_bytes_sent: 260_000,
    })
    // rows 20..119 → tx 21..120 Mbps
    expect(s.averages).toEqual({bandwidth_tx_mbps: 70.5, bandwidth_rx_mbps: 0.5})
    expect(s.peaks).toEqual({bandwidth_tx_mbps: 120, bandwidth_rx_mbps: 0.5, packets_tx_ps: 129, packets_rx_ps: 5})
    expect(s.history.timestamp).toHaveLength(100)
    expect(s.history.bandwidth_tx_mbps[0]).toBe(21)
    expect(s.history.bandwidth_tx_mbps[99]).toBe(120)
    expect(s.history.timestamp_ms[0]).toBe(T + 20 * 60_000)
  })

  it('--since and --limit narrow the window', async () => {
    const s = await meterNetworkStats(store, 'm1', {sinceMs: T + 110 * 60_000})
    expect(s.rows).toBe(10)
    const l = await meterNetworkStats(store, 'm1', {limit: 3})
    expect(l.history.bandwidth_tx_mbps).toEqual([118, 119, 120])
  })

  it('an unknown meter is not found (exit 1)', async () => {
    await expect(meterNetworkStats(store, 'nope')).rejects.toMatchObject({kind: 'not_found'})
  })

  it('readings come back oldest first with their keys', async () => {
    await store.batch([
      {sql: `INSERT INTO readings(meter_id, ts, "values", poll_ms) VALUES ('m1', 1, '{"e":1}', 5), ('m1', 2, '{"e":2,"x":null}', 6), ('m1', 3, '{"e":3}', 7)`},
    ])
    const r = await meterReadings(store, 'm1', {limit: 2})
    expect(r.readings.map(x => x.ts_ms)).toEqual([2, 3])
    expect(r.keys).toEqual(['e', 'x'])
  })

  it('bridge status: stale when the heartbeat is old, never-started on an empty store', async () => {
    const empty = await bridgeStatus(store)
    expect(empty.state).toBe('never-started')
    const now = Date.now()
    await store.batch([
      upsertBridgeStatusStmt({
        pid: 1,
        hostname: 'h',
        started_at: now - 60_000,
        heartbeat_at: now - 1000,
        heartbeat_interval_ms: 1000,
        stopped_at: null,
        config_path: null,
        broker_url: 'mqtt://x',
        broker_connected: 1,
        format: 'plain',
        detail: '{"published":5}',
      }),
    ])
    expect((await bridgeStatus(store, now)).state).toBe('running')
    expect((await bridgeStatus(store, now)).uptime_seconds).toBe(60)
    const later = await bridgeStatus(store, now + 10_000)
    expect(later.state).toBe('stale')
    expect(later.running).toBe(false)
    expect(later.broker.connected).toBe(false)
  })
})

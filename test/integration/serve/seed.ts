/**
 * A store with data from every capability, written through the capabilities' own core functions
 * (the same code their commands run): the seed's laptop/desktop/phone with samples over two days,
 * latency runs to loopback addresses, and a bridge with two meters, metrics rows and readings.
 */
import {registerBandwidthDevice} from '../../../src/core/bandwidth/admin.js'
import {runSample} from '../../../src/core/bandwidth/sample.js'
import type {MeterConfig} from '../../../src/core/bridge/config.js'
import {insertMetricsStmt, syncMeters, upsertBridgeStatusStmt, upsertMeterStatusStmt, type MetricsRow} from '../../../src/core/bridge/repo.js'
import {summarize} from '../../../src/core/latency/stats.js'
import {saveRuns, type RunRecord} from '../../../src/core/latency/store.js'
import {promoteDevice} from '../../../src/core/inventory/queries.js'
import {scan} from '../../../src/core/scan/index.js'
import {buildScanRequest} from '../../../src/core/scan/options.js'
import {SCAN_DEFAULTS} from '../../../src/core/serve/routes/inventory.js'
import {openStore} from '../../../src/core/store/index.js'

export const DEVICES = [
  {mac: 'AA:BB:CC:DD:EE:01', ip: '192.168.1.10', hostname: 'laptop'},
  {mac: 'AA:BB:CC:DD:EE:02', ip: '192.168.1.11', hostname: 'desktop'},
  {mac: 'AA:BB:CC:DD:EE:03', ip: '192.168.1.12', hostname: 'phone'},
]

async function* chunk(text: string): AsyncIterable<string> {
  yield text
}

export interface SeedOptions {
  now?: number
  /** Samples every 10 min over this many hours (history charts). */
  hours?: number
}

export async function seedStore(db: string, opts: SeedOptions = {}): Promise<{now: number}> {
  const now = opts.now ?? Date.now()
  const store = await openStore({db})
  try {
    const start = now - (opts.hours ?? 48) * 3_600_000
    for (const d of DEVICES) await registerBandwidthDevice(store, {...d, now: start - 60_000})
    // Bandwidth: per device a steady pattern, the seed's sizes (10/50 MiB…) scaled down over time.
    const lines: string[] = []
    const perDevice = [
      [10485760, 52428800],
      [20971520, 104857600],
      [5242880, 5242880],
    ]
    const steps = Math.floor((now - start) / 600_000)
    for (let i = 1; i <= steps; i++) {
      const ts = start + i * 600_000
      DEVICES.forEach((d, k) => {
        const [s, r] = perDevice[k]!
        const wave = 1 + ((i + k * 7) % 12) / 12
        lines.push(JSON.stringify({mac: d.mac, sent: Math.round((s! / 50) * wave), received: Math.round((r! / 50) * wave), ts}))
      })
    }
    await runSample(store, {source: {kind: 'ndjson', input: chunk(lines.join('\n'))}, mode: 'delta', autoRegister: false, maxRateBps: 10e9})

    // Inventory: a real (TCP-only, loopback) scan, and the found device promoted.
    await scan(buildScanRequest(['127.0.0.1'], {...SCAN_DEFAULTS, method: 'tcp', rdns: false}), {openStore: async () => store})
    await promoteDevice(store, '127.0.0.1', 'this machine')

    // Latency: three runs to 127.0.0.1 and one to 127.0.0.2 in the last day.
    const runs: RunRecord[] = []
    const mk = (ip: string, at: number, rtts: (number | null)[]): RunRecord => ({
      target: {host: ip, ip, family: 4},
      method: 'tcp',
      port: 22,
      intervalMs: 100,
      timeoutMs: 1000,
      startedAt: at,
      endedAt: at + rtts.length * 100,
      stats: summarize(rtts),
      duplicates: 0,
      error: null,
      probes: rtts.map((rtt, seq) => ({seq: seq + 1, ts: at + seq * 100, rtt_ms: rtt, status: rtt === null ? 'timeout' : 'refused'})) as RunRecord['probes'],
    })
    runs.push(mk('127.0.0.1', now - 3 * 3_600_000, [0.21, 0.25, 0.19, 0.3, 0.22]))
    runs.push(mk('127.0.0.1', now - 2 * 3_600_000, [0.31, 0.28, 0.27, 0.33, 0.29]))
    runs.push(mk('127.0.0.1', now - 3_600_000, [0.2, 0.24, null, 0.26, 0.21]))
    runs.push(mk('127.0.0.2', now - 1_800_000, [12.5, 14.1, 13.2, 40.3, 12.9]))
    await saveRuns(store, runs)

    // Bridge: two meters, 30 metrics rows each, readings, fresh heartbeat.
    const meters = [
      {id: 'm1', name: 'Meter 1'},
      {id: 'm2', name: 'Meter 2'},
    ].map(
      (m, i) =>
        ({
          ...m,
          host: '127.0.0.1',
          port: 4061 + i,
          framing: 'wrapper',
          clientAddress: 16,
          serverAddress: 1,
          auth: {mechanism: 'none'},
          pollIntervalMs: 1000,
          timeoutMs: 3000,
          obis: [
            {obis: '1.0.1.8.0.255', key: 'energy_import_kwh', classId: 3, unit: 'kWh'},
            {obis: '1.0.32.7.0.255', key: 'voltage_l1', classId: 3, unit: 'V'},
          ],
          reconnect: {minMs: 1000, maxMs: 30000},
        }) as MeterConfig,
    )
    await syncMeters(store, meters, now - 3_600_000)
    const rows: MetricsRow[] = []
    for (const [k, m] of meters.entries()) {
      for (let i = 0; i < 30; i++) {
        rows.push({
          meter_id: m.id,
          timestamp: now - (30 - i) * 60_000,
          dlms_requests_sent: 60 + k,
          dlms_responses_recv: 60 + k,
          dlms_bytes_sent: 1200 + i,
          dlms_bytes_recv: 4800 + 10 * i,
          dlms_avg_payload_size: 42.5,
          mqtt_messages_sent: 60,
          mqtt_bytes_sent: 9000 + i,
          bandwidth_tx_bps: 20_000 + 1000 * (i % 7),
          bandwidth_rx_bps: 50_000 + 2000 * (i % 5),
          packets_tx_ps: 10 + (i % 3),
          packets_rx_ps: 12 + (i % 4),
          interval_ms: 60_000,
          mqtt_messages_acked: 60,
          // Interface errors/drops (section E): m1 has some (3 errors, 42 drops), m2 none.
          tx_errors: 0,
          rx_errors: k === 0 && i % 10 === 0 ? 1 : 0,
          tx_drops: k === 0 && i % 5 === 0 ? 2 : 0,
          rx_drops: k === 0 ? 1 : 0,
        })
      }
    }
    const readings = meters.flatMap(m =>
      Array.from({length: 40}, (_, i) => [
        m.id,
        now - (40 - i) * 30_000,
        JSON.stringify({energy_import_kwh: 1234.5 + i * 0.01, voltage_l1: 229 + (i % 5) * 0.4}),
        12,
      ]),
    )
    await store.batch([
      insertMetricsStmt(rows),
      {
        sql: `INSERT INTO readings(meter_id, ts, "values", poll_ms) SELECT value->>0, value->>1, value->>2, value->>3 FROM json_each(?)`,
        args: [JSON.stringify(readings)],
      },
      {sql: `INSERT INTO outbox(meter_id, ts, "values", created_at) VALUES ('m2', ?, '{}', ?)`, args: [now - 5000, now - 5000]},
      upsertMeterStatusStmt(
        meters.map((m, k) => ({
          meter_id: m.id,
          state: 'polling',
          last_success_at: now - 1000,
          last_error_at: k === 1 ? now - 60_000 : null,
          last_error: k === 1 ? 'timeout after 3000 ms' : null,
          consecutive_failures: 0,
          polls: 3600 + k,
          failures: k * 3,
          overruns: 0,
          published: 3590 + k,
          dropped: 0,
          broker_connected: 1,
          updated_at: now,
        })),
      ),
      upsertBridgeStatusStmt({
        pid: process.pid,
        hostname: 'test',
        started_at: now - 3_600_000,
        heartbeat_at: now,
        heartbeat_interval_ms: 3_600_000,
        stopped_at: null,
        config_path: '/etc/netmon/bridge.yaml',
        broker_url: 'mqtt://127.0.0.1:1883',
        broker_connected: 1,
        format: 'thingsboard-gateway',
        detail: JSON.stringify({published: 7181, dropped: 0, network: {tx_bps: 21000, rx_bps: 52000, packets_tx_ps: 11, packets_rx_ps: 13}}),
      }),
    ])
  } finally {
    await store.close()
  }
  return {now}
}

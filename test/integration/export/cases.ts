/**
 * Per dataset: how to seed it (plain SQL matching its migration), how to read the store's rows
 * independently of the exporter, and what each row must look like once exported (mapped by
 * hand here, so a writer bug cannot hide behind shared code).
 */
import type {Store} from '../../../src/core/store/index.js'
import type {InValue} from '@libsql/client'
import {HOSTILE, iso, seedDevices, seedEvents} from '../../unit/export/fixtures.js'
import {HOUR, utcDayStart} from '../../support/clock.js'

type Obj = Record<string, unknown>
type Row = Record<string, any>

export interface DatasetCase {
  args: string[]
  /** The store's rows, in export order. */
  storeSql: string
  expected(rows: Row[]): Obj[]
  /** The JSON/NDJSON form of an expected row (JSON-text columns embedded as values). */
  asJson(o: Obj): Obj
}

export const T0 = utcDayStart(3) + 10 * HOUR
const bool = (v: unknown) => (v === null || v === undefined ? null : Number(v) !== 0)
const same = (o: Obj) => o
const embed =
  (...cols: string[]) =>
  (o: Obj) => {
    const out = {...o}
    for (const c of cols) if (typeof out[c] === 'string') out[c] = JSON.parse(out[c] as string)
    return out
  }

export async function seedAll(store: Store): Promise<void> {
  await seedDevices(store, [
    {
      mac: 'AA:BB:CC:DD:EE:01',
      ip: '192.0.2.1',
      hostname: 'router',
      name: 'Wohnzimmer, "TV"',
      vendor: 'Ünïcødé 東京',
      known: 1,
      online: 1,
      first_seen: T0,
      last_seen: T0 + 60_000,
    },
    {mac: null, ip: '192.0.2.2', hostname: null, name: null, vendor: null, known: 0, online: null, first_seen: T0 + 1, last_seen: T0 + 2},
    ...HOSTILE.map((h, i) => ({
      mac: `02:00:00:00:01:${(i + 16).toString(16).toUpperCase()}`,
      ip: `192.0.2.${10 + i}`,
      hostname: h,
      name: HOSTILE[(i + 3) % HOSTILE.length],
      vendor: i % 2 ? 'Acme' : null,
      known: i % 2,
      online: i % 3 === 0 ? null : i % 3 === 1 ? 1 : 0,
      first_seen: T0 - i * 1000,
      last_seen: T0 + i * 1000,
    })),
  ])
  await seedEvents(store, [
    {ts: T0, device_id: 1, type: 'new_device', detail: JSON.stringify({mac: 'AA:BB:CC:DD:EE:01', note: 'a,"b"\nc'})},
    {ts: T0, device_id: null, type: 'scan_done', detail: null},
    {ts: T0, device_id: 3, type: "=cmd|' /C calc'!A0", detail: JSON.stringify({hostname: "=cmd|' /C calc'!A0"})},
    {ts: T0 + 1, device_id: 2, type: 'ip_changed', detail: JSON.stringify({from: '192.0.2.9', to: '192.0.2.2', ünï: '東京'})},
    {ts: T0 + 1, device_id: 1, type: 'offline', detail: '-1'},
    {ts: T0 - 5, device_id: 4, type: 'online', detail: '[1,2,3]'},
    {ts: T0 + 60_000, device_id: null, type: 'comma, type', detail: JSON.stringify('just a string')},
  ])
  await store.batch([...bandwidthSeed(), ...latencySeed(), ...inventorySeed(), ...bridgeSeed()])
}

type Stmt = {sql: string; args: InValue[]}
const ins = (table: string, cols: string[], rows: unknown[][]): Stmt[] =>
  rows.map(r => ({sql: `INSERT INTO ${table}(${cols.map(c => `"${c}"`).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`, args: r as InValue[]}))

/** Bandwidth tables (migration 002): samples and rollups for several devices, odd intervals included. */
function bandwidthSeed(): Stmt[] {
  const samples: unknown[][] = []
  for (const d of [1, 3, 4, 18]) {
    for (let i = 0; i < 5; i++) {
      // The first sample of a device has no interval; one has a zero interval (no rate).
      const interval = i === 0 ? null : i === 3 ? 0 : 60_000 + d
      samples.push([d, T0 + i * 60_000 + d, 1000 * d + i * 7919, 500 * d + i * 104_729, interval])
    }
  }
  samples.push([2, T0 - 1, 2 ** 40, 2 ** 41 + 3, 1]) // big byte counts, a 1 ms interval
  const rollups = (ms: number, n: number): unknown[][] =>
    [1, 3, 18].flatMap(d =>
      Array.from({length: n}, (_, i) => [d, Math.floor(T0 / ms) * ms + i * ms, 10_000 * d + i, 20_000 * d + i, 5 + i, i === 1 ? null : 8000 * d + i]),
    )
  const totals: unknown[][] = [
    // device, since, reset, first, last, sent, received, count, cur_ts, cur_sent, cur_received, cur_interval, peaks…
    [
      1,
      T0 - 3_600_000,
      null,
      T0,
      T0 + 240_001,
      123_456_789,
      987_654_321,
      42,
      T0 + 240_001,
      1500,
      3000,
      60_001,
      8_000_000,
      T0 + 60_001,
      3_000_000,
      T0 + 1,
      5_000_000,
      T0 + 2,
    ],
    [3, null, T0 - 5, T0 + 3, T0 + 3, 10, 20, 1, T0 + 3, 10, 20, null, null, null, null, null, null, null],
    [18, null, null, null, null, 0, 0, 0, null, null, null, null, null, null, null, null, null, null],
  ]
  return [
    ...ins('bw_samples', ['device_id', 'ts', 'sent', 'received', 'interval_ms'], samples),
    ...ins('bw_rollup_5m', ['device_id', 'bucket', 'sent', 'received', 'samples', 'peak_bps'], rollups(300_000, 4)),
    ...ins('bw_rollup_1h', ['device_id', 'bucket', 'sent', 'received', 'samples', 'peak_bps'], rollups(3_600_000, 3)),
    ...ins('bw_rollup_1d', ['device_id', 'bucket', 'sent', 'received', 'samples', 'peak_bps'], rollups(86_400_000, 2)),
    ...ins(
      'bw_totals',
      [
        'device_id',
        'since_ts',
        'reset_ts',
        'first_ts',
        'last_ts',
        'bytes_sent',
        'bytes_received',
        'sample_count',
        'cur_ts',
        'cur_sent',
        'cur_received',
        'cur_interval_ms',
        'peak_bps',
        'peak_ts',
        'peak_up_bps',
        'peak_up_ts',
        'peak_down_bps',
        'peak_down_ts',
      ],
      totals,
    ),
  ]
}

/** Latency tables (migration 004): runs with REALs that need all 17 digits, probes lost and received. */
function latencySeed(): Stmt[] {
  const runs: unknown[][] = [
    [
      1,
      "=cmd|' /C calc'!A0",
      '192.0.2.1',
      1,
      'icmp',
      null,
      1000,
      2000,
      T0,
      T0 + 3000,
      4,
      3,
      0,
      25,
      0.1 + 0.2,
      1 / 3,
      2.5,
      0.4,
      0.1234567890123456,
      0.7,
      'excellent',
      null,
    ],
    [
      2,
      'gateway, "main"',
      '192.0.2.2',
      null,
      'tcp',
      443,
      500,
      1000,
      T0 + 10,
      T0 + 2000,
      3,
      0,
      0,
      100,
      null,
      null,
      null,
      null,
      null,
      null,
      'bad',
      'no route to host\nretry',
    ],
    [3, 'router', '192.0.2.1', 1, 'icmp', null, 1000, 2000, T0 + 5000, T0 + 8000, 2, 2, 1, 0, 1e-7, 12345.678, 99999.99999999999, 3, 0, 0, 'good', null],
  ]
  const probes: unknown[][] = []
  for (const [run, n] of [
    [1, 4],
    [2, 3],
    [3, 2],
  ] as const) {
    for (let seq = 1; seq <= n; seq++)
      probes.push([run, seq, T0 + run * 10 + seq * 1000, seq === 2 ? null : seq * 0.1 + run / 3, seq === 2 ? 'timeout' : run === 2 ? 'refused' : 'reply'])
  }
  return [
    ...ins(
      'latency_runs',
      [
        'id',
        'host',
        'ip',
        'device_id',
        'method',
        'port',
        'interval_ms',
        'timeout_ms',
        'started_at',
        'ended_at',
        'sent',
        'received',
        'duplicates',
        'loss_pct',
        'min_ms',
        'avg_ms',
        'max_ms',
        'median_ms',
        'stddev_ms',
        'jitter_ms',
        'grade',
        'error',
      ],
      runs,
    ),
    ...ins('latency_probes', ['run_id', 'seq', 'ts', 'rtt_ms', 'status'], probes),
  ]
}

/** Inventory tables (migration 003): scans and the hosts they found. */
function inventorySeed(): Stmt[] {
  const scans: unknown[][] = [
    [1, T0, T0 + 900, T0 + 1000, 'done', '["192.0.2.0/24"]', '["arp","tcp"]', '22,80', 254, 254, 3, 6, 6, 101, 'probe-host', null, '{"new":2,"online":3}'],
    [
      2,
      T0 - 50_000,
      T0 - 40_000,
      null,
      'interrupted',
      '["10.0.0.0/30","=1+2"]',
      '["icmp"]',
      null,
      2,
      1,
      0,
      0,
      0,
      102,
      'probe, "host"',
      'interrupted by SIGINT',
      null,
    ],
    [3, T0, T0 + 10, T0 + 20, 'failed', '[]', '[]', null, 0, 0, 0, 0, 0, null, null, 'bad target: 東京', null],
  ]
  const hosts: unknown[][] = [
    [1, '192.0.2.1', 1, 'AA:BB:CC:DD:EE:01', '["arp"]', 0.25, 'router', '[22,80]'],
    [1, '192.0.2.10', 3, null, '["tcp","arp"]', null, "=cmd|' /C calc'!A0", null],
    [1, '192.0.2.9', null, '02:00:00:00:00:09', '["arp"]', 1 / 3, null, '[]'],
    [2, '10.0.0.1', null, null, '["icmp"]', 12.5, 'a,b', null],
  ]
  return [
    ...ins(
      'scans',
      [
        'id',
        'started_at',
        'updated_at',
        'finished_at',
        'status',
        'targets',
        'methods',
        'ports',
        'hosts_total',
        'hosts_done',
        'found',
        'ports_total',
        'ports_done',
        'pid',
        'hostname',
        'error',
        'summary',
      ],
      scans,
    ),
    ...ins('scan_hosts', ['scan_id', 'ip', 'device_id', 'mac', 'found_by', 'rtt_ms', 'hostname', 'ports'], hosts),
  ]
}

/** Bridge tables (migrations 005, 019): meters, readings, load-profile rows, per-meter network metrics. */
function bridgeSeed(): Stmt[] {
  const meters: unknown[][] = [
    ['main-house', "=cmd|' /C calc'!A0", '127.0.0.1', 4059, 'wrapper', 1000, '[]', 1, T0, T0],
    ['garage', 'Garage, "Süd"', '127.0.0.1', 4060, 'hdlc', 5000, '[]', 0, T0, T0],
    ['idle', 'no data yet', '127.0.0.1', 4061, 'hdlc', 5000, '[]', 1, T0, T0],
  ]
  const readings: unknown[][] = []
  const metrics: unknown[][] = []
  // Load-profile rows (migration 19): two profiles on one meter, capture times interleaved.
  const profiles: unknown[][] = []
  for (let i = 0; i < 4; i++) {
    profiles.push([
      'garage',
      '1.0.99.1.0.255',
      T0 + i * 900_000,
      JSON.stringify({energy_import_wh: 1000 + i, status: i === 2 ? '=x,"y"' : 'ok'}),
      T0 + 5_000_000,
    ])
    if (i % 2 === 0) profiles.push(['garage', '1.0.99.2.0.255', T0 + i * 900_000, JSON.stringify({power_w: -1.5 * i}), T0 + 5_000_001])
  }
  profiles.push(['main-house', '1.0.99.1.0.255', T0, JSON.stringify({energy_import_wh: 7, note: null}), T0 + 1])
  for (const [m, n] of [
    ['main-house', 5],
    ['garage', 3],
  ] as const) {
    for (let i = 0; i < n; i++) {
      readings.push([m, T0 + i * 1000, JSON.stringify({energy_import_wh: 12_345_678 + i, power_w: -42.5 + i, serial: '=x,"y"', missing: null}), 30 + i])
      metrics.push([
        m,
        T0 + i * 60_000,
        60 + i,
        59,
        1200 + i,
        3400,
        57.6 + i / 3,
        60,
        58 + i,
        9000,
        20_000 + i,
        25_000,
        0.5 + i,
        1 / 3,
        60_000,
        i % 3,
        0,
        2 * i,
        1,
      ])
    }
  }
  return [
    ...ins('meters', ['id', 'name', 'host', 'port', 'framing', 'poll_interval_ms', 'obis', 'active', 'created_at', 'updated_at'], meters),
    ...ins('readings', ['meter_id', 'ts', 'values', 'poll_ms'], readings),
    ...ins('profile_rows', ['meter_id', 'profile', 'capture_ts', 'values', 'read_at'], profiles),
    ...ins(
      'network_metrics',
      [
        'meter_id',
        'timestamp',
        'dlms_requests_sent',
        'dlms_responses_recv',
        'dlms_bytes_sent',
        'dlms_bytes_recv',
        'dlms_avg_payload_size',
        'mqtt_messages_sent',
        'mqtt_messages_acked',
        'mqtt_bytes_sent',
        'bandwidth_tx_bps',
        'bandwidth_rx_bps',
        'packets_tx_ps',
        'packets_rx_ps',
        'interval_ms',
        'tx_errors',
        'rx_errors',
        'tx_drops',
        'rx_drops',
      ],
      metrics,
    ),
  ]
}

const RES_MS = {'5m': 300_000, '1h': 3_600_000, '1d': 86_400_000} as const

export const DATASET_CASES: DatasetCase[] = [
  {
    args: ['--what', 'devices'],
    storeSql: 'SELECT * FROM devices ORDER BY id',
    expected: rows =>
      rows.map(r => ({
        id: r.id,
        mac: r.mac,
        ip: r.ip,
        hostname: r.hostname,
        name: r.name,
        vendor: r.vendor,
        known: bool(r.known),
        online: bool(r.online),
        first_seen: iso(r.first_seen),
        first_seen_ms: r.first_seen,
        last_seen: iso(r.last_seen),
        last_seen_ms: r.last_seen,
      })),
    asJson: same,
  },
  {
    args: ['--what', 'events'],
    storeSql: 'SELECT e.*, d.mac FROM events e LEFT JOIN devices d ON d.id = e.device_id ORDER BY e.ts, e.id',
    expected: rows => rows.map(r => ({ts: iso(r.ts), ts_ms: r.ts, id: r.id, type: r.type, device_id: r.device_id, mac: r.mac, detail: r.detail})),
    asJson: embed('detail'),
  },
  ...(['raw', '5m', '1h', '1d'] as const).map(
    (res): DatasetCase => ({
      args: res === 'raw' ? ['--what', 'bandwidth'] : ['--what', 'bandwidth', '--resolution', res],
      storeSql:
        res === 'raw'
          ? 'SELECT s.device_id, s.ts, s.sent, s.received, 1 AS samples, s.interval_ms, NULL AS peak_bps, d.mac, d.name FROM bw_samples s JOIN devices d ON d.id = s.device_id ORDER BY s.device_id, s.ts'
          : `SELECT r.device_id, r.bucket AS ts, r.sent, r.received, r.samples, ${RES_MS[res]} AS interval_ms, r.peak_bps, d.mac, d.name FROM bw_rollup_${res} r JOIN devices d ON d.id = r.device_id ORDER BY r.device_id, r.bucket`,
      expected: rows =>
        rows.map(r => ({
          ts: iso(r.ts),
          ts_ms: r.ts,
          device_id: r.device_id,
          mac: r.mac,
          name: r.name,
          bytes_sent: r.sent,
          bytes_received: r.received,
          samples: r.samples,
          interval_ms: r.interval_ms,
          // Raw: the sample's own rate (bytes × 8 / interval); rollups: the stored peak.
          peak_bps: res === 'raw' ? (r.interval_ms > 0 ? Math.round(((r.sent + r.received) * 8000) / r.interval_ms) : null) : r.peak_bps,
        })),
      asJson: same,
    }),
  ),
  {
    args: ['--what', 'bandwidth-totals'],
    storeSql: 'SELECT t.*, d.mac, d.ip, d.hostname, d.name FROM bw_totals t JOIN devices d ON d.id = t.device_id ORDER BY t.device_id',
    expected: rows => rows.map(statsRow),
    asJson: same,
  },
  {
    args: ['--what', 'latency'],
    storeSql: 'SELECT l.*, d.mac FROM latency_runs l LEFT JOIN devices d ON d.id = l.device_id ORDER BY l.id',
    expected: rows =>
      rows.map(r => ({
        id: r.id,
        started_at: iso(r.started_at),
        started_at_ms: r.started_at,
        ended_at: iso(r.ended_at),
        ended_at_ms: r.ended_at,
        host: r.host,
        ip: r.ip,
        device_id: r.device_id,
        mac: r.mac,
        method: r.method,
        port: r.port,
        interval_ms: r.interval_ms,
        timeout_ms: r.timeout_ms,
        sent: r.sent,
        received: r.received,
        duplicates: r.duplicates,
        loss_pct: r.loss_pct,
        min_ms: r.min_ms,
        avg_ms: r.avg_ms,
        max_ms: r.max_ms,
        median_ms: r.median_ms,
        stddev_ms: r.stddev_ms,
        jitter_ms: r.jitter_ms,
        grade: r.grade,
        error: r.error,
      })),
    asJson: same,
  },
  {
    args: ['--what', 'latency-probes'],
    storeSql: 'SELECT p.*, l.host, l.ip, l.device_id, l.method FROM latency_probes p JOIN latency_runs l ON l.id = p.run_id ORDER BY p.run_id, p.seq',
    expected: rows =>
      rows.map(r => ({
        run_id: r.run_id,
        seq: r.seq,
        ts: iso(r.ts),
        ts_ms: r.ts,
        host: r.host,
        ip: r.ip,
        device_id: r.device_id,
        method: r.method,
        rtt_ms: r.rtt_ms,
        status: r.status,
      })),
    asJson: same,
  },
  {
    args: ['--what', 'scans'],
    storeSql: 'SELECT * FROM scans ORDER BY started_at, id',
    expected: rows =>
      rows.map(r => ({
        id: r.id,
        started_at: iso(r.started_at),
        started_at_ms: r.started_at,
        finished_at: iso(r.finished_at),
        finished_at_ms: r.finished_at,
        status: r.status,
        targets: r.targets,
        methods: r.methods,
        ports: r.ports,
        hosts_total: r.hosts_total,
        hosts_done: r.hosts_done,
        found: r.found,
        ports_total: r.ports_total,
        ports_done: r.ports_done,
        hostname: r.hostname,
        error: r.error,
        summary: r.summary,
      })),
    asJson: embed('targets', 'methods', 'summary'),
  },
  {
    args: ['--what', 'scan-hosts'],
    storeSql: 'SELECT h.*, s.started_at FROM scan_hosts h JOIN scans s ON s.id = h.scan_id ORDER BY s.started_at, s.id, h.ip',
    expected: rows =>
      rows.map(r => ({
        scan_started_at: iso(r.started_at),
        scan_started_at_ms: r.started_at,
        scan_id: r.scan_id,
        ip: r.ip,
        device_id: r.device_id,
        mac: r.mac,
        found_by: r.found_by,
        rtt_ms: r.rtt_ms,
        hostname: r.hostname,
        ports: r.ports,
      })),
    asJson: embed('found_by', 'ports'),
  },
  {
    args: ['--what', 'readings'],
    storeSql: 'SELECT r.*, m.name FROM readings r JOIN meters m ON m.id = r.meter_id ORDER BY r.meter_id, r.ts',
    expected: rows => rows.map(r => ({meter_id: r.meter_id, meter_name: r.name, ts: iso(r.ts), ts_ms: r.ts, values: r.values, poll_ms: r.poll_ms})),
    asJson: embed('values'),
  },
  {
    args: ['--what', 'profile-rows'],
    storeSql: 'SELECT p.*, m.name FROM profile_rows p JOIN meters m ON m.id = p.meter_id ORDER BY m.id, m.rowid, p.capture_ts, p.profile',
    expected: rows =>
      rows.map(r => ({
        meter_id: r.meter_id,
        meter_name: r.name,
        profile: r.profile,
        capture_ts: iso(r.capture_ts),
        capture_ts_ms: r.capture_ts,
        values: r.values,
        read_at: iso(r.read_at),
        read_at_ms: r.read_at,
      })),
    asJson: embed('values'),
  },
  {
    args: ['--what', 'network-metrics'],
    storeSql: 'SELECT * FROM network_metrics ORDER BY meter_id, timestamp',
    expected: rows =>
      rows.map(r => ({
        meter_id: r.meter_id,
        timestamp: iso(r.timestamp),
        timestamp_ms: r.timestamp,
        interval_ms: r.interval_ms,
        dlms_requests_sent: r.dlms_requests_sent,
        dlms_responses_recv: r.dlms_responses_recv,
        dlms_bytes_sent: r.dlms_bytes_sent,
        dlms_bytes_recv: r.dlms_bytes_recv,
        dlms_avg_payload_size: r.dlms_avg_payload_size,
        mqtt_messages_sent: r.mqtt_messages_sent,
        mqtt_messages_acked: r.mqtt_messages_acked,
        mqtt_bytes_sent: r.mqtt_bytes_sent,
        bandwidth_tx_bps: r.bandwidth_tx_bps,
        bandwidth_rx_bps: r.bandwidth_rx_bps,
        packets_tx_ps: r.packets_tx_ps,
        packets_rx_ps: r.packets_rx_ps,
        tx_errors: r.tx_errors,
        rx_errors: r.rx_errors,
        tx_drops: r.tx_drops,
        rx_drops: r.rx_drops,
      })),
    asJson: same,
  },
]

/**
 * The `bandwidth stats` shape (docs/BANDWIDTH.md), flattened, computed here from the stored
 * totals by its documented rules — not by bandwidth's code, which the exporter itself uses.
 */
function statsRow(r: Row): Obj {
  const n = (v: unknown) => (v === null || v === undefined ? 0 : Number(v))
  const rate = (bytes: number, ms: number | null) => (ms === null || ms <= 0 ? null : (bytes * 8000) / ms)
  const mbps = (bps: number) => Math.round((bps / 1e6) * 1e6) / 1e6
  const triple = (up: number | null, down: number | null) => {
    const u = up ?? 0
    const d = down ?? 0
    return [Math.round(u), Math.round(d), Math.round(u + d), mbps(u), mbps(d), mbps(u + d)]
  }
  const sent = n(r.bytes_sent)
  const received = n(r.bytes_received)
  const starts = [r.since_ts, r.first_ts].filter(x => x !== null)
  const first = starts.length ? Math.min(...starts) : null
  const last = r.last_ts
  const uptime = first !== null && last !== null && last > first ? last - first : 0
  const cur = triple(rate(n(r.cur_sent), r.cur_interval_ms), rate(n(r.cur_received), r.cur_interval_ms))
  const avg = triple(rate(sent, uptime), rate(received, uptime))
  const t = (ms: number | null) => [iso(ms), ms]
  const peak = (bps: number | null, ts: number | null) => [bps ?? 0, mbps(bps ?? 0), ...t(ts)]
  const names = [
    'device_id',
    'mac',
    'ip',
    'hostname',
    'name',
    'bytes_sent',
    'bytes_received',
    'total_bytes',
    'total_mb',
    'sample_count',
    'first_seen',
    'first_seen_ms',
    'last_update',
    'last_update_ms',
    'uptime_seconds',
    'reset_at',
    'reset_at_ms',
    'current_upload_bps',
    'current_download_bps',
    'current_total_bps',
    'current_upload_mbps',
    'current_download_mbps',
    'current_total_mbps',
    'current_sample_ts',
    'current_sample_ts_ms',
    'average_upload_bps',
    'average_download_bps',
    'average_total_bps',
    'average_upload_mbps',
    'average_download_mbps',
    'average_total_mbps',
    'peak_bps',
    'peak_mbps',
    'peak_timestamp',
    'peak_timestamp_ms',
    'peak_upload_bps',
    'peak_upload_mbps',
    'peak_upload_timestamp',
    'peak_upload_timestamp_ms',
    'peak_download_bps',
    'peak_download_mbps',
    'peak_download_timestamp',
    'peak_download_timestamp_ms',
  ]
  const values = [
    r.device_id,
    r.mac,
    r.ip,
    r.hostname,
    r.name,
    sent,
    received,
    sent + received,
    Math.round(((sent + received) / 2 ** 20) * 1000) / 1000,
    n(r.sample_count),
    ...t(first),
    ...t(last),
    uptime / 1000,
    ...t(r.reset_ts),
    ...cur,
    ...t(r.cur_ts),
    ...avg,
    ...peak(r.peak_bps, r.peak_ts),
    ...peak(r.peak_up_bps, r.peak_up_ts),
    ...peak(r.peak_down_bps, r.peak_down_ts),
  ]
  return Object.fromEntries(names.map((k, i) => [k, values[i]]))
}

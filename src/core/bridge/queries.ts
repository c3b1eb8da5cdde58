/**
 * What the short CLI commands read while the daemon runs (another process, same store):
 * `bridge status`, `meters list`, `meters readings`, `meters stats` (the seed's network_stats shape).
 * Reads only; one consistent snapshot each (readBatch).
 */
import {notFound} from '../errors.js'
import {isoOf} from '../format/time.js'
import type {Store} from '../store/index.js'
import type {PushStats} from './push.js'

// ---------- meters ----------

export interface MeterRow {
  id: string
  name: string
  host: string
  port: number
  framing: string
  poll_interval_ms: number
  obis: {obis: string; key: string; class: number; unit?: string}[]
  active: boolean
}

function toMeter(r: Record<string, unknown>): MeterRow {
  return {
    id: String(r.id),
    name: String(r.name),
    host: String(r.host),
    port: Number(r.port),
    framing: String(r.framing),
    poll_interval_ms: Number(r.poll_interval_ms),
    obis: JSON.parse(String(r.obis)),
    active: Number(r.active) === 1,
  }
}

/** Finds a meter by id, else by name. */
export async function requireMeter(store: Store, ref: string): Promise<MeterRow> {
  const rows = await store.query('SELECT * FROM meters WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1', [ref, ref, ref])
  if (rows.length === 0)
    throw notFound(`no meter "${ref}" in this store`, 'see `netmon meters list`; meters are registered when `netmon bridge run` starts with them')
  return toMeter(rows[0]!)
}

export interface MeterListItem extends MeterRow {
  state: string | null
  last_success_at: string | null
  last_success_at_ms: number | null
  last_error: string | null
  consecutive_failures: number
  readings: number
  last_reading_at: string | null
  last_reading_at_ms: number | null
  pending: number
}

export async function listMeters(store: Store, opts: {all?: boolean} = {}): Promise<MeterListItem[]> {
  const [meters, status, pending] = await store.readBatch([
    `SELECT m.*, (SELECT count(*) FROM readings r WHERE r.meter_id = m.id) AS readings, (SELECT max(ts) FROM readings r WHERE r.meter_id = m.id) AS last_ts
       FROM meters m ${opts.all ? '' : 'WHERE active = 1'} ORDER BY id`,
    'SELECT * FROM meter_status',
    'SELECT meter_id, count(*) AS n FROM outbox GROUP BY meter_id',
  ])
  const st = new Map(status!.map(s => [String(s.meter_id), s]))
  const pend = new Map(pending!.map(p => [String(p.meter_id), Number(p.n)]))
  return meters!.map(r => {
    const m = toMeter(r)
    const s = st.get(m.id)
    const lastTs = r.last_ts === null || r.last_ts === undefined ? null : Number(r.last_ts)
    const ok = s?.last_success_at === null || s?.last_success_at === undefined ? null : Number(s.last_success_at)
    return {
      ...m,
      state: s ? String(s.state) : null,
      last_success_at: ok === null ? null : isoOf(ok),
      last_success_at_ms: ok,
      last_error: s?.last_error ? String(s.last_error) : null,
      consecutive_failures: Number(s?.consecutive_failures ?? 0),
      readings: Number(r.readings),
      last_reading_at: lastTs === null ? null : isoOf(lastTs),
      last_reading_at_ms: lastTs,
      pending: pend.get(m.id) ?? 0,
    }
  })
}

// ---------- readings ----------

export interface ReadingsResult {
  meter_id: string
  meter_name: string
  keys: string[]
  readings: {ts: string; ts_ms: number; values: Record<string, unknown>; poll_ms: number}[]
}

export async function meterReadings(store: Store, ref: string, opts: {sinceMs?: number; untilMs?: number; limit?: number} = {}): Promise<ReadingsResult> {
  const m = await requireMeter(store, ref)
  const limit = opts.limit ?? 100
  // Newest `limit` rows in the range, returned oldest first.
  const rows = await store.query<{ts: number; values: string; poll_ms: number}>(
    `SELECT * FROM (SELECT ts, "values", poll_ms FROM readings WHERE meter_id = ? AND ts >= ? AND ts < ? ORDER BY ts DESC LIMIT ?) ORDER BY ts`,
    [m.id, opts.sinceMs ?? 0, opts.untilMs ?? Number.MAX_SAFE_INTEGER, limit],
  )
  const keys = new Set(m.obis.map(o => o.key))
  const readings = rows.map(r => {
    const values = JSON.parse(String(r.values)) as Record<string, unknown>
    for (const k of Object.keys(values)) keys.add(k)
    return {ts: isoOf(Number(r.ts)), ts_ms: Number(r.ts), values, poll_ms: Number(r.poll_ms)}
  })
  return {meter_id: m.id, meter_name: m.name, keys: [...keys], readings}
}

// ---------- network stats (the seed's network_stats shape) ----------

export interface NetworkStats {
  meter_id: string
  meter_name: string
  timestamp: string | null
  timestamp_ms: number | null
  current: {bandwidth_tx_kbps: number; bandwidth_rx_kbps: number; bandwidth_total_kbps: number; packets_tx_ps: number; packets_rx_ps: number}
  application: {
    dlms_requests_sent: number
    dlms_responses_recv: number
    dlms_avg_payload_size: number
    dlms_total_bytes_sent: number
    dlms_total_bytes_recv: number
    mqtt_messages_sent: number
    mqtt_total_bytes_sent: number
  }
  averages: {bandwidth_tx_mbps: number; bandwidth_rx_mbps: number}
  peaks: {bandwidth_tx_mbps: number; bandwidth_rx_mbps: number; packets_tx_ps: number; packets_rx_ps: number}
  /**
   * The seed dashboard's section E: interface errors and drops (each way summed) over the rows, and
   * the same per direction. Host-wide like the bandwidth (the bridge's sampled interfaces).
   */
  issues: {network_errors: number; packet_drops: number; tx_errors: number; rx_errors: number; tx_drops: number; rx_drops: number}
  history: {
    timestamp: string[]
    timestamp_ms: number[]
    bandwidth_tx_mbps: number[]
    bandwidth_rx_mbps: number[]
    packets_tx_ps: number[]
    packets_rx_ps: number[]
  }
  rows: number
}

const r3 = (n: number): number => Math.round(n * 1000) / 1000
const r2 = (n: number): number => Math.round(n * 100) / 100
/** Conventions: Kbps = 10^3 bit/s, Mbps = 10^6 bit/s (SI). */
const kbps = (bps: number): number => r3(bps / 1e3)
const mbps = (bps: number): number => Math.round((bps / 1e6) * 1e6) / 1e6

/**
 * The last `limit` (default 100) network_metrics rows of a meter since `sinceMs`: `current` is the
 * newest row, `application` the totals over the rows (average payload weighted by APDU count),
 * `averages`/`peaks` over the rows, `history` oldest first.
 */
export async function meterNetworkStats(store: Store, ref: string, opts: {sinceMs?: number; limit?: number} = {}): Promise<NetworkStats> {
  const m = await requireMeter(store, ref)
  const limit = opts.limit ?? 100
  const rows = await store.query<Record<string, number>>(
    `SELECT * FROM (SELECT * FROM network_metrics WHERE meter_id = ? AND timestamp >= ? ORDER BY timestamp DESC LIMIT ?) ORDER BY timestamp`,
    [m.id, opts.sinceMs ?? 0, limit],
  )
  const n = (r: Record<string, number>, k: string): number => Number(r[k] ?? 0)
  const last = rows[rows.length - 1]
  const sum = (k: string): number => rows.reduce((a, r) => a + n(r, k), 0)
  const apdus = sum('dlms_requests_sent') + sum('dlms_responses_recv')
  const payload = rows.reduce((a, r) => a + n(r, 'dlms_avg_payload_size') * (n(r, 'dlms_requests_sent') + n(r, 'dlms_responses_recv')), 0)
  const avg = (k: string): number => (rows.length ? sum(k) / rows.length : 0)
  const peak = (k: string): number => rows.reduce((a, r) => Math.max(a, n(r, k)), 0)
  return {
    meter_id: m.id,
    meter_name: m.name,
    timestamp: last ? isoOf(n(last, 'timestamp')) : null,
    timestamp_ms: last ? n(last, 'timestamp') : null,
    current: {
      bandwidth_tx_kbps: last ? kbps(n(last, 'bandwidth_tx_bps')) : 0,
      bandwidth_rx_kbps: last ? kbps(n(last, 'bandwidth_rx_bps')) : 0,
      bandwidth_total_kbps: last ? kbps(n(last, 'bandwidth_tx_bps') + n(last, 'bandwidth_rx_bps')) : 0,
      packets_tx_ps: last ? r2(n(last, 'packets_tx_ps')) : 0,
      packets_rx_ps: last ? r2(n(last, 'packets_rx_ps')) : 0,
    },
    application: {
      dlms_requests_sent: sum('dlms_requests_sent'),
      dlms_responses_recv: sum('dlms_responses_recv'),
      dlms_avg_payload_size: apdus ? r2(payload / apdus) : 0,
      dlms_total_bytes_sent: sum('dlms_bytes_sent'),
      dlms_total_bytes_recv: sum('dlms_bytes_recv'),
      mqtt_messages_sent: sum('mqtt_messages_sent'),
      mqtt_total_bytes_sent: sum('mqtt_bytes_sent'),
    },
    averages: {bandwidth_tx_mbps: mbps(avg('bandwidth_tx_bps')), bandwidth_rx_mbps: mbps(avg('bandwidth_rx_bps'))},
    peaks: {
      bandwidth_tx_mbps: mbps(peak('bandwidth_tx_bps')),
      bandwidth_rx_mbps: mbps(peak('bandwidth_rx_bps')),
      packets_tx_ps: r2(peak('packets_tx_ps')),
      packets_rx_ps: r2(peak('packets_rx_ps')),
    },
    issues: {
      network_errors: sum('tx_errors') + sum('rx_errors'),
      packet_drops: sum('tx_drops') + sum('rx_drops'),
      tx_errors: sum('tx_errors'),
      rx_errors: sum('rx_errors'),
      tx_drops: sum('tx_drops'),
      rx_drops: sum('rx_drops'),
    },
    history: {
      timestamp: rows.map(r => isoOf(n(r, 'timestamp'))),
      timestamp_ms: rows.map(r => n(r, 'timestamp')),
      bandwidth_tx_mbps: rows.map(r => mbps(n(r, 'bandwidth_tx_bps'))),
      bandwidth_rx_mbps: rows.map(r => mbps(n(r, 'bandwidth_rx_bps'))),
      packets_tx_ps: rows.map(r => r2(n(r, 'packets_tx_ps'))),
      packets_rx_ps: rows.map(r => r2(n(r, 'packets_rx_ps'))),
    },
    rows: rows.length,
  }
}

// ---------- bridge status ----------

export interface BridgeStatus {
  running: boolean
  state: 'running' | 'stopped' | 'stale' | 'never-started'
  pid: number | null
  hostname: string | null
  started_at: string | null
  started_at_ms: number | null
  uptime_seconds: number | null
  heartbeat_at: string | null
  heartbeat_at_ms: number | null
  heartbeat_age_ms: number | null
  stopped_at: string | null
  config_path: string | null
  /**
   * `refused`: the broker's last answer was a refusal retrying alone will not fix (not-authorized,
   * bad-credentials, untrusted-certificate), with its error text; null while connected or on a plain network failure.
   */
  broker: {url: string | null; connected: boolean; format: string | null; refused: string | null; error: string | null}
  outbox: {depth: number; dropped: number}
  published: number
  pending: number
  delivery_latency_ms: {count: number; p50_ms: number | null; p99_ms: number | null; max_ms: number | null} | null
  network: {tx_bps: number; rx_bps: number; packets_tx_ps: number; packets_rx_ps: number} | null
  /** The daemon process: memory (bytes) and CPU seconds used since it started. */
  process: {rss_bytes: number; heap_used_bytes: number; heap_total_bytes: number; external_bytes: number; cpu_seconds: number} | null
  meters: {
    id: string
    name: string
    endpoint: string
    state: string | null
    last_success_at: string | null
    last_success_at_ms: number | null
    last_error: string | null
    last_error_at: string | null
    last_error_at_ms: number | null
    consecutive_failures: number
    polls: number
    failures: number
    overruns: number
    published: number
    pending: number
    dropped: number
    /** Control PUBLISHes for this meter since the daemon started (gateway connect/disconnect), apart from readings. */
    mqtt_control_sent: number
    /** Objects the last poll could not read, by OBIS → why (a data-access-result or an undecodable value). */
    object_errors: Record<string, string>
    /** DataNotifications from this meter since the daemon started (null: none received). */
    push: {received: number; last_at: string | null; last_at_ms: number | null; last_error: string | null} | null
    /** Load-profile jobs (docs/BRIDGE.md "Load profiles"), as of the last heartbeat. */
    profiles: ProfileStatus[]
  }[]
  /** The push listener (null when push.listen is not configured): counts since the daemon started. */
  push: ({listen: string | null} & PushStats) | null
  /** ThingsBoard downlink since the daemon started (null: off, or a daemon from before it). */
  downlink: {rpc_requests: number; rpc_errors: number; attribute_updates: number} | null
}

export interface ProfileStatus {
  obis: string
  /** Selection in use: range (by date), entry (by entry index) or full (whole buffer, filtered by the bridge); null before the first read. */
  mode: 'range' | 'entry' | 'full' | null
  /** Why the mode is not range (the meter's refusal), else null. */
  fallback: string | null
  last_capture: string | null
  last_capture_ms: number | null
  /** Rows stored and queued for publishing since the daemon started. */
  rows_caught_up: number
  catching_up: boolean
  cycles: number
  last_cycle_at: string | null
  last_cycle_at_ms: number | null
  last_error: string | null
}

function profileStatus(p: Record<string, any>): ProfileStatus {
  const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))
  const last = num(p.last_capture_ms)
  const cyc = num(p.last_cycle_ms)
  return {
    obis: String(p.obis),
    mode: p.mode ?? null,
    fallback: p.fallback ?? null,
    last_capture: last === null ? null : isoOf(last),
    last_capture_ms: last,
    rows_caught_up: Number(p.rows_caught_up ?? 0),
    catching_up: Boolean(p.catching_up),
    cycles: Number(p.cycles ?? 0),
    last_cycle_at: cyc === null ? null : isoOf(cyc),
    last_cycle_at_ms: cyc,
    last_error: p.last_error ?? null,
  }
}

/** The first MQTT connection with a refusal (or else an error) in the heartbeat detail. */
function brokerTrouble(detail: Record<string, any> | undefined): {refused: string | null; error: string | null} {
  const conns: Record<string, any>[] = Array.isArray(detail?.mqtt) ? detail.mqtt : []
  const c = conns.find(x => x.refused) ?? conns.find(x => !x.connected && x.error)
  return {refused: c?.refused ?? null, error: c?.error ?? null}
}

export async function bridgeStatus(store: Store, now = Date.now()): Promise<BridgeStatus> {
  const [head, meters, status, pending] = await store.readBatch([
    'SELECT * FROM bridge_status WHERE id = 1',
    'SELECT id, name, host, port FROM meters WHERE active = 1 ORDER BY id',
    'SELECT * FROM meter_status',
    'SELECT meter_id, count(*) AS n FROM outbox GROUP BY meter_id',
  ])
  const h = head![0]
  const st = new Map(status!.map(s => [String(s.meter_id), s]))
  const pend = new Map(pending!.map(p => [String(p.meter_id), Number(p.n)]))
  const depth = [...pend.values()].reduce((a, b) => a + b, 0)
  const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))
  const hbAt = num(h?.heartbeat_at)
  const interval = Number(h?.heartbeat_interval_ms ?? 5000)
  const stoppedAt = num(h?.stopped_at)
  const fresh = heartbeatFresh(hbAt, interval, now)
  const state: BridgeStatus['state'] = !h ? 'never-started' : stoppedAt !== null ? 'stopped' : fresh ? 'running' : 'stale'
  const running = state === 'running'
  const detail = h ? (JSON.parse(String(h.detail)) as Record<string, any>) : undefined
  const startedAt = num(h?.started_at)
  const metersOut = meters!.map(m => {
    const s = st.get(String(m.id))
    const ok = num(s?.last_success_at)
    const errAt = num(s?.last_error_at)
    return {
      id: String(m.id),
      name: String(m.name),
      endpoint: m.host ? `${m.host}:${m.port}` : 'push only',
      state: s ? (running ? String(s.state) : 'stopped') : null,
      last_success_at: ok === null ? null : isoOf(ok),
      last_success_at_ms: ok,
      last_error: s?.last_error ? String(s.last_error) : null,
      last_error_at: errAt === null ? null : isoOf(errAt),
      last_error_at_ms: errAt,
      consecutive_failures: Number(s?.consecutive_failures ?? 0),
      polls: Number(s?.polls ?? 0),
      failures: Number(s?.failures ?? 0),
      overruns: Number(s?.overruns ?? 0),
      published: Number(s?.published ?? 0),
      pending: pend.get(String(m.id)) ?? 0,
      dropped: Number(s?.dropped ?? 0),
      mqtt_control_sent: Number(detail?.mqtt_control?.[String(m.id)]?.messages_sent ?? 0),
      object_errors: (running ? detail?.object_errors?.[String(m.id)] : undefined) ?? {},
      push: pushOf(detail?.push?.by_meter?.[String(m.id)]),
      profiles: ((detail?.profiles?.[String(m.id)] ?? []) as Record<string, any>[]).map(profileStatus),
    }
  })
  const p = detail?.push
  const net = detail?.network
  return {
    running,
    state,
    pid: num(h?.pid),
    hostname: h ? String(h.hostname) : null,
    started_at: startedAt === null ? null : isoOf(startedAt),
    started_at_ms: startedAt,
    uptime_seconds: running && startedAt !== null ? Math.round((now - startedAt) / 1000) : null,
    heartbeat_at: hbAt === null ? null : isoOf(hbAt),
    heartbeat_at_ms: hbAt,
    heartbeat_age_ms: hbAt === null ? null : now - hbAt,
    stopped_at: stoppedAt === null ? null : isoOf(stoppedAt),
    config_path: h?.config_path ? String(h.config_path) : null,
    broker: {
      url: h ? String(h.broker_url) : null,
      connected: running && Number(h?.broker_connected) === 1,
      format: h ? String(h.format) : null,
      ...brokerTrouble(running ? detail : undefined),
    },
    outbox: {depth, dropped: Number(detail?.dropped ?? 0)},
    published: Number(detail?.published ?? 0),
    pending: depth,
    delivery_latency_ms: detail?.latency_ms ?? null,
    network: net
      ? {tx_bps: Number(net.tx_bps), rx_bps: Number(net.rx_bps), packets_tx_ps: Number(net.packets_tx_ps), packets_rx_ps: Number(net.packets_rx_ps)}
      : null,
    process: detail?.process ?? null,
    meters: metersOut,
    push: p
      ? {
          listen: p.listen ?? null,
          received: Number(p.received ?? 0),
          decoded: Number(p.decoded ?? 0),
          malformed: Number(p.malformed ?? 0),
          unknown: Number(p.unknown ?? 0),
          refused: Number(p.refused ?? 0),
          stored: Number(p.stored ?? 0),
          connections: Number(p.connections ?? 0),
        }
      : null,
    downlink: detail?.downlink
      ? {
          rpc_requests: Number(detail.downlink.rpc_requests ?? 0),
          rpc_errors: Number(detail.downlink.rpc_errors ?? 0),
          attribute_updates: Number(detail.downlink.attribute_updates ?? 0),
        }
      : null,
  }
}

// ---------- health, for alert rules (alerts/evaluate.ts: meter_down, bridge_backlog, broker_disconnected, interface_errors) ----------

/** Alive: a heartbeat within three intervals (at least 5 s, so a busy machine does not flap). */
export const heartbeatFresh = (heartbeatAt: number | null, intervalMs: number, now: number): boolean =>
  heartbeatAt !== null && now - heartbeatAt <= Math.max(3 * intervalMs, 5000)

export interface MeterHealth {
  id: string
  name: string
  endpoint: string
  /** The worker's state as the last heartbeat wrote it (null: never polled). */
  state: string | null
  consecutive_failures: number
  last_error: string | null
  last_error_at_ms: number | null
  /** The newest stored reading, else the last successful poll (readings may be pruned), else null. */
  last_reading_at_ms: number | null
  /** When the meter was first configured (the clock for a meter never read). */
  created_at_ms: number
  /** Whether the daemon heartbeats (its meter_status rows are current). */
  bridge_running: boolean
}

/**
 * Every active meter (or the one named by id or name) with its last status and newest reading, in
 * one statement (the newest reading per meter is a primary-key lookup, not a scan).
 */
export async function meterHealth(store: Store, o: {meter?: string; now?: number} = {}): Promise<MeterHealth[]> {
  const now = o.now ?? Date.now()
  const rows = await store.query(
    `SELECT m.id, m.name, m.host, m.port, m.created_at, s.state, s.consecutive_failures, s.last_error, s.last_error_at, s.last_success_at,
            (SELECT max(r.ts) FROM readings r WHERE r.meter_id = m.id) AS last_reading_at,
            b.heartbeat_at, b.heartbeat_interval_ms, b.stopped_at
       FROM meters m LEFT JOIN meter_status s ON s.meter_id = m.id LEFT JOIN bridge_status b ON b.id = 1
      WHERE m.active = 1 ${o.meter === undefined ? '' : 'AND (m.id = ? OR m.name = ?)'} ORDER BY m.id`,
    o.meter === undefined ? [] : [o.meter, o.meter],
  )
  const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))
  return rows.map(r => {
    const running = num(r.stopped_at) === null && heartbeatFresh(num(r.heartbeat_at), Number(r.heartbeat_interval_ms ?? 5000), now)
    const lastReading = num(r.last_reading_at)
    const lastOk = num(r.last_success_at)
    return {
      id: String(r.id),
      name: String(r.name),
      endpoint: `${r.host}:${r.port}`,
      state: r.state === null || r.state === undefined ? null : String(r.state),
      consecutive_failures: Number(r.consecutive_failures ?? 0),
      last_error: r.last_error ? String(r.last_error) : null,
      last_error_at_ms: num(r.last_error_at),
      last_reading_at_ms: lastReading === null ? lastOk : lastOk === null ? lastReading : Math.max(lastReading, lastOk),
      created_at_ms: Number(r.created_at),
      bridge_running: running,
    }
  })
}

export interface BacklogRow {
  meter_id: string
  depth: number
  /** created_at of the oldest unacknowledged reading. */
  oldest_at_ms: number
}

/** Outbox depth and oldest row per meter (optionally one meter by id or name), one statement. */
export async function outboxBacklog(store: Store, o: {meter?: string} = {}): Promise<BacklogRow[]> {
  const rows = await store.query(
    `SELECT o.meter_id, count(*) AS n, min(o.created_at) AS oldest FROM outbox o
      ${o.meter === undefined ? '' : 'WHERE o.meter_id IN (SELECT id FROM meters WHERE id = ? OR name = ?)'} GROUP BY o.meter_id ORDER BY o.meter_id`,
    o.meter === undefined ? [] : [o.meter, o.meter],
  )
  return rows.map(r => ({meter_id: String(r.meter_id), depth: Number(r.n), oldest_at_ms: Number(r.oldest)}))
}

export interface BrokerLink {
  /** 'bridge' (the daemon's connection(s) as a whole) or a meter id (its own connection, per-meter tokens). */
  subject: string
  meter_id: string | null
  broker_url: string
  connected: boolean
  /** The daemon heartbeats and has not stopped: only then does `connected` say anything. */
  bridge_running: boolean
  /** The heartbeat detail's first refusal or error (null when none). */
  refused: string | null
  error: string | null
}

/**
 * The bridge's broker connection as its status rows hold it, in one statement: the daemon's overall
 * flag (every connection up), or with `meter` that meter's own connection flag.
 */
export async function brokerLinks(store: Store, o: {meter?: string; now?: number} = {}): Promise<BrokerLink[]> {
  const now = o.now ?? Date.now()
  const rows =
    o.meter === undefined
      ? await store.query(
          'SELECT NULL AS meter_id, broker_url, broker_connected, heartbeat_at, heartbeat_interval_ms, stopped_at, detail FROM bridge_status WHERE id = 1',
        )
      : await store.query(
          `SELECT s.meter_id, b.broker_url, s.broker_connected, b.heartbeat_at, b.heartbeat_interval_ms, b.stopped_at, b.detail
             FROM meter_status s JOIN meters m ON m.id = s.meter_id AND m.active = 1 JOIN bridge_status b ON b.id = 1
            WHERE m.id = ? OR m.name = ?`,
          [o.meter, o.meter],
        )
  return rows.map(r => {
    const running = r.stopped_at === null && heartbeatFresh(Number(r.heartbeat_at), Number(r.heartbeat_interval_ms), now)
    let detail: Record<string, any> | undefined
    try {
      detail = JSON.parse(String(r.detail))
    } catch {
      detail = undefined
    }
    const t = brokerTrouble(running ? detail : undefined)
    return {
      subject: r.meter_id === null ? 'bridge' : String(r.meter_id),
      meter_id: r.meter_id === null ? null : String(r.meter_id),
      broker_url: String(r.broker_url),
      connected: Number(r.broker_connected) === 1,
      bridge_running: running,
      ...t,
    }
  })
}

export interface HostIssueSums {
  tx_errors: number
  rx_errors: number
  tx_drops: number
  rx_drops: number
  /** Metrics intervals in the window. */
  intervals: number
  last_ts: number | null
}

/**
 * Errors/drops on the bridge's sampled interfaces in (since, until], one statement. The counts are
 * host-wide and repeated on every meter's row of an interval, so each interval counts once.
 */
export async function hostIssueSums(store: Store, since: number, until: number): Promise<HostIssueSums> {
  const r = await store.get(
    `SELECT coalesce(sum(tx_e), 0) AS tx_errors, coalesce(sum(rx_e), 0) AS rx_errors, coalesce(sum(tx_d), 0) AS tx_drops, coalesce(sum(rx_d), 0) AS rx_drops,
            count(*) AS intervals, max(timestamp) AS last_ts
       FROM (SELECT timestamp, max(tx_errors) AS tx_e, max(rx_errors) AS rx_e, max(tx_drops) AS tx_d, max(rx_drops) AS rx_d
               FROM network_metrics
              -- By meter: a range of the (meter_id, timestamp) key each, not a scan of the table.
              WHERE meter_id IN (SELECT id FROM meters) AND timestamp > ? AND timestamp <= ? GROUP BY timestamp)`,
    [since, until],
  )
  return {
    tx_errors: Number(r?.tx_errors ?? 0),
    rx_errors: Number(r?.rx_errors ?? 0),
    tx_drops: Number(r?.tx_drops ?? 0),
    rx_drops: Number(r?.rx_drops ?? 0),
    intervals: Number(r?.intervals ?? 0),
    last_ts: r?.last_ts === null || r?.last_ts === undefined ? null : Number(r.last_ts),
  }
}

function pushOf(b: Record<string, any> | undefined): BridgeStatus['meters'][number]['push'] {
  if (!b) return null
  const at = b.last_at === null || b.last_at === undefined ? null : Number(b.last_at)
  return {received: Number(b.received ?? 0), last_at: at === null ? null : isoOf(at), last_at_ms: at, last_error: b.last_error ?? null}
}

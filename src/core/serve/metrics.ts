/**
 * GET /metrics: Prometheus text exposition format 0.0.4 (issue 10): per-device byte totals as
 * counters and current rates as gauges (from the same networkStats() as `bandwidth stats`, so the
 * numbers are equal), latency summaries of each address's latest run, the bridge's counters and
 * outbox depth (bridgeStatus(), as `bridge status`), inventory counts, firing alerts per rule and
 * severity (as `alerts list --state firing`), and the server's own
 * request counters. Units follow Prometheus conventions: bytes, seconds, and bits per second
 * for the rate gauges (netmon's rates are bps everywhere).
 *
 * A capability whose read fails (say, its tables are missing in an old store) does not take the
 * whole scrape down: its section is skipped and `netmon_scrape_error{section}` says so.
 */
import {networkStats} from '../bandwidth/query.js'
import {bridgeStatus} from '../bridge/queries.js'
import {inventoryStats} from '../inventory/queries.js'
import type {Store} from '../store/index.js'
import type {RequestStats} from './app.js'
import {latencyTargets} from './queries.js'

/** Milliseconds (µs resolution, as stored) → seconds without binary-float noise (0.0403, not 0.040299999999999996). */
const seconds = (ms: number): number => Math.round(ms * 1000) / 1e6

type Labels = Record<string, string | number | null | undefined>

/** Label values escape backslash, double quote and newline (exposition format spec). */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function fmtValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  return String(v)
}

class Exposition {
  private readonly lines: string[] = []
  private readonly declared = new Set<string>()

  family(name: string, type: 'counter' | 'gauge' | 'summary' | 'untyped', help: string): void {
    if (this.declared.has(name)) return
    this.declared.add(name)
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`)
  }

  sample(name: string, labels: Labels, value: number): void {
    const parts = Object.entries(labels)
      .filter(([, v]) => v !== null && v !== undefined && v !== '')
      .map(([k, v]) => `${k}="${escapeLabel(String(v))}"`)
    this.lines.push(`${name}${parts.length ? `{${parts.join(',')}}` : ''} ${fmtValue(value)}`)
  }

  /** A family with its samples; nothing at all when there are no samples. */
  add(name: string, type: 'counter' | 'gauge', help: string, samples: [Labels, number][]): void {
    if (samples.length === 0) return
    this.family(name, type, help)
    for (const [l, v] of samples) this.sample(name, l, v)
  }

  text(): string {
    return this.lines.join('\n') + '\n'
  }
}

export interface MetricsContext {
  stats: RequestStats
  startedAt: number
  meterTotals: MeterTotals
}

interface MeterSums {
  rq: number
  rs: number
  bs: number
  br: number
  mm: number
  mb: number
  /** Interface errors/drops each way (migration 007). */
  te: number
  re: number
  td: number
  rd: number
  /** The newest network_metrics timestamp already counted. */
  after: number
}

/**
 * The bridge's DLMS/MQTT counters are the sums of its network_metrics rows (one per meter per
 * minute, kept 90 days: tens of millions of rows with 200 meters). Summing them on every scrape
 * would block the server for seconds (the SQLite client is synchronous), so this server keeps
 * running sums: the first scrape reads each meter's rows once, later scrapes only the rows newer
 * than the last one counted, one index range per meter. Rows pruned by the bridge stay counted,
 * as a counter should; a restart of the server sums what is left (Prometheus sees a reset).
 */
export class MeterTotals {
  private readonly sums = new Map<string, MeterSums>()

  async read(store: Store, meterIds: readonly string[]): Promise<Map<string, MeterSums>> {
    for (const id of meterIds) {
      const cur = this.sums.get(id) ?? {rq: 0, rs: 0, bs: 0, br: 0, mm: 0, mb: 0, te: 0, re: 0, td: 0, rd: 0, after: -1}
      const r = await store.get<Record<string, number | null>>(
        `SELECT count(*) AS n, sum(dlms_requests_sent) AS rq, sum(dlms_responses_recv) AS rs, sum(dlms_bytes_sent) AS bs, sum(dlms_bytes_recv) AS br,
                sum(mqtt_messages_sent) AS mm, sum(mqtt_bytes_sent) AS mb,
                sum(tx_errors) AS te, sum(rx_errors) AS re, sum(tx_drops) AS td, sum(rx_drops) AS rd, max(timestamp) AS last
           FROM network_metrics WHERE meter_id = ? AND timestamp > ?`,
        [id, cur.after],
      )
      if (r && Number(r.n) > 0) {
        cur.rq += Number(r.rq ?? 0)
        cur.rs += Number(r.rs ?? 0)
        cur.bs += Number(r.bs ?? 0)
        cur.br += Number(r.br ?? 0)
        cur.mm += Number(r.mm ?? 0)
        cur.mb += Number(r.mb ?? 0)
        cur.te += Number(r.te ?? 0)
        cur.re += Number(r.re ?? 0)
        cur.td += Number(r.td ?? 0)
        cur.rd += Number(r.rd ?? 0)
        cur.after = Number(r.last)
      }
      if (cur.after >= 0) this.sums.set(id, cur)
    }
    return this.sums
  }
}

interface NetflowDetail {
  datagrams?: {received: number; decoded: number; dropped: number; malformed: number}
  flows?: {decoded: number; overflow: number}
  templates?: {evictions: number}
  hosts?: number
}

export async function renderMetrics(store: Store, ctx: MetricsContext): Promise<string> {
  const x = new Exposition()
  const errors: string[] = []
  const section = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn()
    } catch {
      errors.push(name)
    }
  }

  await section('bandwidth', async () => {
    const s = await networkStats(store)
    // name: the promoted name (devices promote --name), left out when none.
    const dev = (d: (typeof s.devices)[number]): Labels => ({mac: d.mac, ip: d.ip, hostname: d.hostname, name: d.name})
    x.add('netmon_bandwidth_devices', 'gauge', 'Devices with bandwidth accounting (bandwidth stats devices_count)', [[{}, s.devices_count]])
    x.add('netmon_network_sent_bytes_total', 'counter', 'Bytes sent by all devices since their accounting started', [[{}, s.network.bytes_sent]])
    x.add('netmon_network_received_bytes_total', 'counter', 'Bytes received by all devices since their accounting started', [[{}, s.network.bytes_received]])
    // "Current" follows the one staleness rule (rates.ts currentRate): a device whose latest sample is old counts 0.
    x.add('netmon_network_upload_bits_per_second', 'gauge', "Sum of every device's current upload rate (devices with no recent sample count 0)", [
      [{}, s.network.upload_bps],
    ])
    x.add('netmon_network_download_bits_per_second', 'gauge', "Sum of every device's current download rate (devices with no recent sample count 0)", [
      [{}, s.network.download_bps],
    ])
    x.add('netmon_network_total_bits_per_second', 'gauge', "Sum of every device's current rate (devices with no recent sample count 0)", [
      [{}, s.network.total_bps],
    ])
    x.add('netmon_bandwidth_stale_devices', 'gauge', 'Devices whose latest sample is too old to give a current rate', [[{}, s.network.stale_devices]])
    x.add(
      'netmon_device_sent_bytes_total',
      'counter',
      'Bytes sent by the device since its accounting started (reset by bandwidth reset)',
      s.devices.map(d => [dev(d), d.bytes_sent]),
    )
    x.add(
      'netmon_device_received_bytes_total',
      'counter',
      'Bytes received by the device since its accounting started (reset by bandwidth reset)',
      s.devices.map(d => [dev(d), d.bytes_received]),
    )
    x.add(
      'netmon_device_current_bits_per_second',
      'gauge',
      "The device's current rate: its latest sample's bytes × 8 / interval; 0 once that sample is older than max(2 × interval, 60 s)",
      s.devices.map(d => [dev(d), d.current_bps]),
    )
    x.add(
      'netmon_device_current_stale',
      'gauge',
      "1 when the device's latest sample is too old to be its current rate (the rate gauge is then 0)",
      s.devices.map(d => [dev(d), d.stale ? 1 : 0]),
    )
    // Interface devices (bandwidth sample --from iface, the agent's collector): kernel errors/drops.
    const ifs = s.devices.filter(d => d.interface_issues)
    const issue = (tx: 'tx_errors' | 'tx_drops', rx: 'rx_errors' | 'rx_drops'): [Labels, number][] =>
      ifs.flatMap(d => [
        [{...dev(d), direction: 'tx'}, d.interface_issues![tx]] as [Labels, number],
        [{...dev(d), direction: 'rx'}, d.interface_issues![rx]] as [Labels, number],
      ])
    x.add(
      'netmon_interface_errors_total',
      'counter',
      "The interface's errors (/proc/net/dev errs) since its accounting started (reset by bandwidth reset)",
      issue('tx_errors', 'rx_errors'),
    )
    x.add(
      'netmon_interface_drops_total',
      'counter',
      'Packets the interface dropped (/proc/net/dev drop) since its accounting started (reset by bandwidth reset)',
      issue('tx_drops', 'rx_drops'),
    )
    x.add(
      'netmon_device_last_update_timestamp_seconds',
      'gauge',
      "Time of the device's latest counted sample",
      s.devices.filter(d => d.last_update_ms !== null).map(d => [dev(d), d.last_update_ms! / 1000]),
    )
  })

  await section('inventory', async () => {
    const s = await inventoryStats(store)
    x.add('netmon_devices', 'gauge', 'Devices in the inventory by state at their last scan (netmon stats; unknown = never scanned)', [
      [{state: 'online'}, s.devices.online],
      [{state: 'offline'}, s.devices.offline],
      [{state: 'unknown'}, s.devices.unknown_status],
    ])
    x.add('netmon_devices_known', 'gauge', 'Devices promoted to known', [[{}, s.devices.known]])
    x.add('netmon_devices_new_24h', 'gauge', 'Devices first seen in the last 24 hours', [[{}, s.devices.new_24h]])
    if (s.last_scan) {
      x.add('netmon_scan_last_timestamp_seconds', 'gauge', 'Start of the last scan', [[{status: s.last_scan.status}, s.last_scan.started_ms / 1000]])
      x.add('netmon_scan_last_found', 'gauge', 'Hosts found by the last scan', [[{}, s.last_scan.found]])
    }
  })

  await section('latency', async () => {
    const targets = await latencyTargets(store, {sinceMs: Date.now() - 86_400_000})
    if (targets.length === 0) return
    x.family('netmon_latency_rtt_seconds', 'summary', 'RTT of the latest latency run per address (quantile 0 = min, 0.5 = median, 1 = max)')
    for (const t of targets) {
      const l: Labels = {ip: t.ip, host: t.host === t.ip ? null : t.host, method: t.method, name: t.device?.name}
      const r = t.last
      for (const [q, v] of [
        ['0', r.min_ms],
        ['0.5', r.median_ms],
        ['1', r.max_ms],
      ] as const)
        x.sample('netmon_latency_rtt_seconds', {...l, quantile: q}, v === null ? NaN : seconds(v))
      x.sample('netmon_latency_rtt_seconds_sum', l, r.avg_ms === null ? 0 : seconds(r.avg_ms * r.received))
      x.sample('netmon_latency_rtt_seconds_count', l, r.received)
    }
    const lab = (t: (typeof targets)[number]): Labels => ({ip: t.ip, host: t.host === t.ip ? null : t.host, method: t.method, name: t.device?.name})
    x.add(
      'netmon_latency_loss_ratio',
      'gauge',
      'Loss of the latest run (0-1)',
      targets.map(t => [lab(t), t.last.loss_pct / 100]),
    )
    x.add(
      'netmon_latency_jitter_seconds',
      'gauge',
      'Jitter of the latest run: mean |RTT(i) − RTT(i−1)|',
      targets.filter(t => t.last.jitter_ms !== null).map(t => [lab(t), seconds(t.last.jitter_ms!)]),
    )
    x.add(
      'netmon_latency_grade',
      'gauge',
      'Quality grade of the latest run (1 for the grade it got)',
      targets.filter(t => t.last.grade !== null).map(t => [{...lab(t), grade: t.last.grade}, 1]),
    )
    x.add(
      'netmon_latency_last_run_timestamp_seconds',
      'gauge',
      'When the latest run ended',
      targets.map(t => [lab(t), t.last.ended_at_ms / 1000]),
    )
  })

  await section('bridge', async () => {
    const s = await bridgeStatus(store)
    if (s.state === 'never-started' && s.meters.length === 0) return
    x.add('netmon_bridge_up', 'gauge', 'The bridge daemon is running (fresh heartbeat)', [[{}, s.running ? 1 : 0]])
    x.add('netmon_bridge_broker_connected', 'gauge', 'The bridge is connected to its MQTT broker', [[{}, s.broker.connected ? 1 : 0]])
    x.add('netmon_bridge_outbox_depth', 'gauge', 'Readings stored but not yet acknowledged by the broker', [[{}, s.outbox.depth]])
    x.add('netmon_bridge_outbox_dropped_total', 'counter', 'Readings dropped from the outbox by its size/age bound', [[{}, s.outbox.dropped]])
    x.add('netmon_bridge_published_total', 'counter', 'Readings published and acknowledged (this daemon run)', [[{}, s.published]])
    if (s.network) {
      x.add('netmon_bridge_network_transmit_bits_per_second', 'gauge', "The bridge host's interface transmit rate", [[{}, s.network.tx_bps]])
      x.add('netmon_bridge_network_receive_bits_per_second', 'gauge', "The bridge host's interface receive rate", [[{}, s.network.rx_bps]])
    }
    const m = (f: (mm: (typeof s.meters)[number]) => number): [Labels, number][] => s.meters.map(mm => [{meter: mm.id, name: mm.name}, f(mm)])
    x.add(
      'netmon_meter_polls_total',
      'counter',
      'Polls of the meter',
      m(mm => mm.polls),
    )
    x.add(
      'netmon_meter_poll_failures_total',
      'counter',
      'Failed polls of the meter',
      m(mm => mm.failures),
    )
    x.add(
      'netmon_meter_poll_overruns_total',
      'counter',
      'Polls skipped because the previous one was still running',
      m(mm => mm.overruns),
    )
    x.add(
      'netmon_meter_published_total',
      'counter',
      'Readings of the meter acknowledged by the broker',
      m(mm => mm.published),
    )
    x.add(
      'netmon_meter_outbox_pending',
      'gauge',
      'Readings of the meter waiting in the outbox',
      m(mm => mm.pending),
    )
    x.add(
      'netmon_meter_consecutive_failures',
      'gauge',
      'Failed polls in a row',
      m(mm => mm.consecutive_failures),
    )
    const totals = await ctx.meterTotals.read(
      store,
      s.meters.map(mm => mm.id),
    )
    const t = (k: keyof MeterSums): [Labels, number][] =>
      s.meters.filter(mm => totals.has(mm.id)).map(mm => [{meter: mm.id, name: mm.name}, totals.get(mm.id)![k]])
    x.add('netmon_meter_dlms_requests_total', 'counter', 'DLMS requests sent to the meter (sum of network_metrics rows)', t('rq'))
    x.add('netmon_meter_dlms_responses_total', 'counter', 'DLMS responses received from the meter', t('rs'))
    x.add('netmon_meter_dlms_sent_bytes_total', 'counter', 'DLMS bytes sent to the meter', t('bs'))
    x.add('netmon_meter_dlms_received_bytes_total', 'counter', 'DLMS bytes received from the meter', t('br'))
    x.add('netmon_meter_mqtt_messages_total', 'counter', 'MQTT messages published for the meter', t('mm'))
    x.add('netmon_meter_mqtt_sent_bytes_total', 'counter', 'MQTT bytes published for the meter (serialized packets)', t('mb'))
    // The bridge host's sampled interfaces (the same for every meter of one bridge, like its bandwidth).
    const dir = (tx: keyof MeterSums, rx: keyof MeterSums): [Labels, number][] =>
      s.meters
        .filter(mm => totals.has(mm.id))
        .flatMap(mm => [
          [{meter: mm.id, name: mm.name, direction: 'tx'}, totals.get(mm.id)![tx]] as [Labels, number],
          [{meter: mm.id, name: mm.name, direction: 'rx'}, totals.get(mm.id)![rx]] as [Labels, number],
        ])
    x.add(
      'netmon_meter_interface_errors_total',
      'counter',
      "Interface errors on the bridge host's sampled interfaces (sum of network_metrics rows)",
      dir('te', 're'),
    )
    x.add(
      'netmon_meter_interface_drops_total',
      'counter',
      "Packets dropped on the bridge host's sampled interfaces (sum of network_metrics rows)",
      dir('td', 'rd'),
    )
  })

  // The agent's netflow jobs: their counters as the agent last wrote them (agent_jobs.detail).
  await section('netflow', async () => {
    const rows = await store.query<{name: string; detail: string | null}>(
      `SELECT name, detail FROM agent_jobs WHERE kind = 'netflow' AND active = 1 ORDER BY name`,
    )
    const jobs = rows.flatMap(r => {
      try {
        const d = r.detail ? (JSON.parse(r.detail) as NetflowDetail) : null
        return d?.datagrams ? [{job: r.name, d}] : []
      } catch {
        return []
      }
    })
    const each = (f: (d: NetflowDetail) => number): [Labels, number][] => jobs.map(j => [{job: j.job}, f(j.d)])
    x.add('netmon_netflow_datagrams_total', 'counter', 'NetFlow/IPFIX datagrams the job read, by outcome (received = decoded + dropped + malformed)', [
      ...jobs.flatMap(j =>
        (['received', 'decoded', 'dropped', 'malformed'] as const).map(o => [{job: j.job, outcome: o}, j.d.datagrams![o]] as [Labels, number]),
      ),
    ])
    x.add(
      'netmon_netflow_flows_total',
      'counter',
      'Flow records the job decoded',
      each(d => d.flows?.decoded ?? 0),
    )
    x.add(
      'netmon_netflow_overflow_flows_total',
      'counter',
      'Flow records not held because a memory cap was hit',
      each(d => d.flows?.overflow ?? 0),
    )
    x.add(
      'netmon_netflow_template_evictions_total',
      'counter',
      'Templates, domains and exporters evicted from the template cache at its caps',
      each(d => d.templates?.evictions ?? 0),
    )
    x.add(
      'netmon_netflow_hosts',
      'gauge',
      'LAN hosts in the last flush',
      each(d => d.hosts ?? 0),
    )
  })

  // Alerts (issue 16): firing instances per rule and severity, as the last evaluation stored them
  // (silenced ones included); 0 for a rule whose alerts all resolved or are pending.
  await section('alerts', async () => {
    const rows = await store.query<{rule: string; severity: string; n: number}>(
      `SELECT rule, severity, SUM(state = 'firing') AS n FROM alerts GROUP BY rule, severity ORDER BY rule, severity`,
    )
    x.add(
      'netmon_alerts_firing',
      'gauge',
      'Alerts firing, by rule and severity (alerts list --state firing)',
      rows.map(r => [{rule: r.rule, severity: r.severity}, Number(r.n)]),
    )
  })

  // The server itself.
  const routes = [...ctx.stats.byRoute.values()].sort((a, b) => (a.route + a.method + a.status).localeCompare(b.route + b.method + b.status))
  x.add(
    'netmon_http_requests_total',
    'counter',
    'HTTP requests answered by netmon serve',
    routes.map(r => [{method: r.method, route: r.route, status: r.status}, r.count]),
  )
  x.add(
    'netmon_http_request_duration_seconds_total',
    'counter',
    'Time spent answering HTTP requests',
    routes.map(r => [{method: r.method, route: r.route, status: r.status}, Math.round(r.seconds * 1e6) / 1e6]),
  )
  x.add('netmon_http_requests_in_flight', 'gauge', 'HTTP requests being answered (this scrape included)', [[{}, ctx.stats.inflight]])
  x.add('process_start_time_seconds', 'gauge', 'Start time of the server process', [[{}, Math.round(ctx.startedAt / 1000)]])
  x.add('process_resident_memory_bytes', 'gauge', 'Resident memory of the server process', [[{}, process.memoryUsage.rss()]])
  x.add(
    'netmon_scrape_error',
    'gauge',
    'A section of this scrape failed (1) and was left out',
    errors.map(s => [{section: s}, 1]),
  )
  return x.text()
}

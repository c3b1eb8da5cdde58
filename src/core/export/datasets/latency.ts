/** Datasets over latency measurements (migration 004, docs/LATENCY.md). */
import type {Dataset} from '../types.js'

export const latency: Dataset = {
  name: 'latency',
  description: 'Latency runs: one row per host per measurement (RTT min/avg/max/median, jitter, loss, grade)',
  tables: ['latency_runs', 'devices'],
  source: {
    from: 'latency_runs l LEFT JOIN devices d ON d.id = l.device_id',
    key: ['id'],
    columns: [
      {name: 'id', type: 'integer', sql: 'l.id', description: 'run id'},
      {name: 'started_at', type: 'time', sql: 'l.started_at', description: 'first probe sent'},
      {name: 'ended_at', type: 'time', sql: 'l.ended_at', description: 'last probe settled'},
      {name: 'host', type: 'text', sql: 'l.host', description: 'host as given'},
      {name: 'ip', type: 'text', sql: 'l.ip', description: 'address probed'},
      {name: 'device_id', type: 'integer', sql: 'l.device_id', description: 'device with that address at the time (empty: none)'},
      {name: 'mac', type: 'text', sql: 'd.mac', description: "the device's MAC address"},
      {name: 'method', type: 'text', sql: 'l.method', description: 'icmp or tcp'},
      {name: 'port', type: 'integer', sql: 'l.port', description: 'TCP port (tcp only)'},
      {name: 'interval_ms', type: 'integer', sql: 'l.interval_ms', description: 'time between probes'},
      {name: 'timeout_ms', type: 'integer', sql: 'l.timeout_ms', description: 'probe timeout'},
      {name: 'sent', type: 'integer', sql: 'l.sent', description: 'probes sent'},
      {name: 'received', type: 'integer', sql: 'l.received', description: 'replies received'},
      {name: 'duplicates', type: 'integer', sql: 'l.duplicates', description: 'duplicate replies'},
      {name: 'loss_pct', type: 'real', sql: 'l.loss_pct', description: 'packet loss, %'},
      {name: 'min_ms', type: 'real', sql: 'l.min_ms', description: 'minimum RTT, ms'},
      {name: 'avg_ms', type: 'real', sql: 'l.avg_ms', description: 'mean RTT, ms'},
      {name: 'max_ms', type: 'real', sql: 'l.max_ms', description: 'maximum RTT, ms'},
      {name: 'median_ms', type: 'real', sql: 'l.median_ms', description: 'median RTT, ms'},
      {name: 'stddev_ms', type: 'real', sql: 'l.stddev_ms', description: 'population standard deviation of RTT, ms'},
      {name: 'jitter_ms', type: 'real', sql: 'l.jitter_ms', description: 'mean |RTT(i) − RTT(i−1)|, ms'},
      {name: 'grade', type: 'text', sql: 'l.grade', description: 'excellent, good, fair, poor or bad'},
      {name: 'error', type: 'text', sql: 'l.error', description: 'host-level failure, if any'},
    ],
    filters: {
      // As `latency history`: a run belongs to [since, until) when it overlaps it.
      time: {since: 'l.ended_at >= :since', until: 'l.started_at < :until'},
      // Unary + keeps the planner on the primary key (the key order) instead of the
      // (device_id, ended_at) index, which would need a sort per page.
      device: '+l.device_id = :device',
      notes: 'runs that overlap the window: ended_at >= since and started_at < until',
    },
  },
}

export const latencyProbes: Dataset = {
  name: 'latency-probes',
  description: 'Every latency probe: send time, RTT (empty when lost) and status, per run',
  tables: ['latency_probes', 'latency_runs'],
  source: {
    from: 'latency_runs l CROSS JOIN latency_probes p ON p.run_id = l.id',
    keyset: 'partitioned',
    key: ['run_id', 'seq'],
    columns: [
      {name: 'run_id', type: 'integer', sql: 'l.id', description: 'run id (see the latency dataset)'},
      {name: 'seq', type: 'integer', sql: 'p.seq', description: 'probe number within the run'},
      {name: 'ts', type: 'time', sql: 'p.ts', description: 'probe sent'},
      {name: 'host', type: 'text', sql: 'l.host', description: 'host as given'},
      {name: 'ip', type: 'text', sql: 'l.ip', description: 'address probed'},
      {name: 'device_id', type: 'integer', sql: 'l.device_id', description: 'device id (empty: none)'},
      {name: 'method', type: 'text', sql: 'l.method', description: 'icmp or tcp'},
      {name: 'rtt_ms', type: 'real', sql: 'p.rtt_ms', description: 'round-trip time, ms (empty: lost)'},
      {name: 'status', type: 'text', sql: 'p.status', description: 'reply, refused, timeout, unreachable or error'},
    ],
    filters: {
      // A probe is sent between its run's start and end, so runs outside the window are skipped
      // whole (their probes are not visited) without losing a probe inside it.
      time: {since: 'p.ts >= :since AND l.ended_at >= :since', until: 'p.ts < :until AND l.started_at < :until'},
      device: '+l.device_id = :device',
    },
  },
}

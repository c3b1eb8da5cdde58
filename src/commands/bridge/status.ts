import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {renderPairs, renderTable} from '../../cli/table.js'
import {bridgeStatus, type BridgeStatus} from '../../core/bridge/queries.js'
import {humanDuration} from '../../core/bridge/text.js'
import {humanBytes, humanRate} from '../../core/format/units.js'

export default class BridgeStatusCommand extends NetmonCommand {
  static override summary = 'Show whether the bridge daemon is running and how each meter and the broker are doing'
  static override description =
    `Reads the daemon's heartbeat and status rows from the store (works from any shell while \`netmon bridge run\` is running, or after it stopped). The daemon counts as running when its heartbeat is recent (within three heartbeat intervals, at least 5 s).
Per meter: state, last successful poll, last error, consecutive failures, readings published since the daemon started, readings pending in the outbox, pushes received. Overall: uptime, broker connection, outbox depth, dropped readings, poll-to-PUBACK latency, the push listener's counters (received, decoded, malformed, unknown sender, refused), the ThingsBoard downlink's (RPCs, errors, shared attribute updates).
Exit status is 0 whether or not the daemon runs: scripts read "running" from --json.`
  static override examples = ['<%= config.bin %> bridge status', '<%= config.bin %> bridge status --db /var/lib/netmon/netmon.db --json']
  static override flags = {db: dbFlag}

  async run(): Promise<BridgeStatus> {
    const {flags} = await this.parse(BridgeStatusCommand)
    const store = await this.openStore(flags.db)
    const s = await bridgeStatus(store)
    if (s.state === 'never-started') {
      this.out('The bridge has never run on this store (start it with `netmon bridge run --config FILE`).')
      return s
    }
    const lat = s.delivery_latency_ms
    this.out(
      renderPairs([
        [
          'daemon',
          s.state === 'running'
            ? `running (pid ${s.pid} on ${s.hostname})`
            : s.state === 'stopped'
              ? `stopped at ${s.stopped_at}`
              : `not running (last heartbeat ${s.heartbeat_at}, ${humanDuration(s.heartbeat_age_ms ?? 0)} ago)`,
        ],
        ['uptime', s.uptime_seconds === null ? '-' : humanDuration(s.uptime_seconds * 1000)],
        [
          'broker',
          `${s.broker.url} (${s.broker.format}) ${s.broker.connected ? 'connected' : 'NOT connected'}${s.broker.refused ? ` — REFUSED (${s.broker.refused}): ${s.broker.error ?? ''}` : ''}`,
        ],
        ['published', s.published],
        ['outbox', `${s.outbox.depth} pending${s.outbox.dropped ? `, ${s.outbox.dropped} dropped (over the bound)` : ''}`],
        ['poll → PUBACK', lat?.count ? `p50 ${lat.p50_ms} ms, p99 ${lat.p99_ms} ms, max ${lat.max_ms} ms (last ${lat.count})` : '-'],
        ['network', s.network ? `TX ${humanRate(s.network.tx_bps)}, RX ${humanRate(s.network.rx_bps)}` : '-'],
        ['process', s.process ? `RSS ${humanBytes(s.process.rss_bytes)} (heap ${humanBytes(s.process.heap_used_bytes)}), CPU ${s.process.cpu_seconds} s` : '-'],
        ...(s.push
          ? ([
              [
                'push',
                `${s.push.listen ?? '-'}: ${s.push.received} received, ${s.push.decoded} decoded, ${s.push.malformed} malformed, ${s.push.unknown} unknown sender, ${s.push.refused} refused`,
              ],
            ] as [string, string][])
          : []),
        ...(s.downlink
          ? ([
              [
                'downlink',
                `${s.downlink.rpc_requests} RPC(s), ${s.downlink.rpc_errors} answered with an error, ${s.downlink.attribute_updates} shared attribute update(s)`,
              ],
            ] as [string, string][])
          : []),
      ]),
    )
    this.out(
      renderTable(
        ['meter', 'endpoint', 'state', 'last success', 'fails', 'last error', 'polls', 'overruns', 'published', 'pending'],
        s.meters.map(m => [
          m.id,
          m.endpoint,
          m.state ?? '-',
          m.last_success_at_ms === null ? 'never' : `${humanDuration(Date.now() - m.last_success_at_ms)} ago`,
          m.consecutive_failures,
          m.last_error ? (m.last_error.length > 60 ? m.last_error.slice(0, 57) + '...' : m.last_error) : '',
          m.polls,
          m.overruns,
          m.published,
          m.pending,
        ]),
      ),
    )
    for (const m of s.meters)
      if (m.push)
        this.out(
          `${m.id}: ${m.push.received} push(es), last ${m.push.last_at_ms === null ? 'never' : `${humanDuration(Date.now() - m.push.last_at_ms)} ago`}${m.push.last_error ? `, last refused: ${m.push.last_error}` : ''}`,
        )
    for (const m of s.meters)
      for (const [obis, why] of Object.entries(m.object_errors)) this.out(`${m.id}: ${obis} not read: ${why.length > 100 ? `${why.slice(0, 97)}...` : why}`)
    const profiles = s.meters.flatMap(m => m.profiles.map(p => ({m, p})))
    if (profiles.length > 0)
      this.out(
        renderTable(
          ['meter', 'profile', 'mode', 'last capture', 'rows caught up', 'state', 'note'],
          profiles.map(({m, p}) => [
            m.id,
            p.obis,
            p.mode ?? '-',
            p.last_capture ?? 'none',
            p.rows_caught_up,
            p.catching_up ? 'catching up' : p.cycles > 0 ? 'caught up' : 'waiting',
            p.last_error ?? (p.fallback ? `fallback: ${p.fallback}` : ''),
          ]),
        ),
      )
    return s
  }
}

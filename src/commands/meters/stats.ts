import {Args, Flags} from '@oclif/core'
import {z} from 'zod'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {renderPairs} from '../../cli/table.js'
import {renderBandwidthChart} from '../../core/bridge/chart.js'
import {meterNetworkStats, type NetworkStats} from '../../core/bridge/queries.js'
import {humanBytes, humanRate} from '../../core/format/units.js'
import {parseTime} from '../../core/format/time.js'

export default class MetersStats extends NetmonCommand {
  static override summary = "Show a meter's network self-metrics: bandwidth, DLMS and MQTT traffic (the bridge's network_stats)"
  static override description =
    `Reads the network_metrics rows the bridge writes every metrics interval (default 60 s) for METER (id or name): the last --limit rows (default 100) since --since.
JSON shape (docs/BRIDGE.md): {meter_id, meter_name, timestamp, current:{bandwidth_tx_kbps, bandwidth_rx_kbps, bandwidth_total_kbps, packets_tx_ps, packets_rx_ps}, application:{dlms_requests_sent, dlms_responses_recv, dlms_avg_payload_size, dlms_total_bytes_sent, dlms_total_bytes_recv, mqtt_messages_sent, mqtt_total_bytes_sent}, averages:{bandwidth_tx_mbps, bandwidth_rx_mbps}, peaks:{…}, issues:{network_errors, packet_drops, tx_errors, rx_errors, tx_drops, rx_drops}, history:{timestamp:[], bandwidth_tx_mbps:[], bandwidth_rx_mbps:[], packets_tx_ps:[], packets_rx_ps:[]}}.
current is the newest row; application and issues sum the rows (issues: the sampled interfaces' errors and drops, the seed dashboard's section E; network_errors = tx + rx errors, packet_drops = tx + rx drops; the text output lists them only when non-zero); Kbps/Mbps are SI (10^3/10^6 bit/s). Bandwidth is the host's interface rate (the same for every meter of one bridge), the DLMS/MQTT counts are the meter's own.`
  static override examples = [
    '<%= config.bin %> meters stats m1',
    '<%= config.bin %> meters stats "Meter 1" --since 1h',
    '<%= config.bin %> meters stats m1 --limit 500 --json',
  ]
  static override args = {meter: Args.string({description: 'Meter id or name', required: true})}
  static override flags = {
    since: Flags.string({description: 'Only rows from this time: ISO-8601, epoch ms, or a duration back from now (24h)'}),
    limit: Flags.integer({description: 'At most this many (newest) rows', default: 100}),
    db: dbFlag,
  }

  async run(): Promise<NetworkStats> {
    const {args, flags} = await this.parse(MetersStats)
    const limit = this.check(z.number().int().min(1, {message: 'expected 1-100000'}).max(100_000, {message: 'expected 1-100000'}), flags.limit, '--limit')
    const sinceMs = flags.since === undefined ? undefined : parseTime(flags.since, Date.now(), '--since')
    const store = await this.openStore(flags.db)
    const s = await meterNetworkStats(store, args.meter, {sinceMs, limit})
    if (s.rows === 0) {
      this.out(`No network metrics for meter ${s.meter_id} yet (the bridge writes a row per metrics interval).`)
      return s
    }
    const a = s.application
    this.out(`Meter ${s.meter_id} (${s.meter_name}), ${s.rows} row(s), latest ${s.timestamp}`)
    this.out(
      renderPairs([
        [
          'current TX / RX',
          `${humanRate(s.current.bandwidth_tx_kbps * 1e3)} / ${humanRate(s.current.bandwidth_rx_kbps * 1e3)} (total ${humanRate(s.current.bandwidth_total_kbps * 1e3)})`,
        ],
        ['current packets TX / RX', `${s.current.packets_tx_ps} / ${s.current.packets_rx_ps} per s`],
        ['average TX / RX', `${humanRate(s.averages.bandwidth_tx_mbps * 1e6)} / ${humanRate(s.averages.bandwidth_rx_mbps * 1e6)}`],
        [
          'peak TX / RX',
          `${humanRate(s.peaks.bandwidth_tx_mbps * 1e6)} / ${humanRate(s.peaks.bandwidth_rx_mbps * 1e6)}; ${s.peaks.packets_tx_ps} / ${s.peaks.packets_rx_ps} packets/s`,
        ],
        ['DLMS requests / responses', `${a.dlms_requests_sent} / ${a.dlms_responses_recv} (avg APDU ${a.dlms_avg_payload_size} B)`],
        ['DLMS bytes sent / received', `${humanBytes(a.dlms_total_bytes_sent)} / ${humanBytes(a.dlms_total_bytes_recv)}`],
        ['MQTT messages / bytes sent', `${a.mqtt_messages_sent} / ${humanBytes(a.mqtt_total_bytes_sent)}`],
        // Section E: only when the interfaces counted any.
        ...(s.issues.network_errors + s.issues.packet_drops > 0
          ? ([
              ['network errors (TX / RX)', `${s.issues.network_errors} (${s.issues.tx_errors} / ${s.issues.rx_errors})`],
              ['packet drops (TX / RX)', `${s.issues.packet_drops} (${s.issues.tx_drops} / ${s.issues.rx_drops})`],
            ] as [string, string][])
          : []),
      ]),
    )
    const chart = renderBandwidthChart(s, {width: process.stdout.columns || 100})
    if (chart) this.out(chart)
    return s
  }
}

import {Args, Flags} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {renderTable} from '../../cli/table.js'
import {parseTime} from '../../core/format/time.js'
import {renderLatencyChart} from '../../core/latency/chart.js'
import type {Method} from '../../core/latency/probe.js'
import {RESOLUTIONS, latencyHistory, type LatencyHistory, type Resolution} from '../../core/latency/history.js'

const ms = (v: number | null): string => (v === null ? '-' : v < 10 ? v.toFixed(3) : v < 100 ? v.toFixed(2) : v.toFixed(1))

export default class LatencyHistoryCommand extends NetmonCommand {
  static override summary = 'Show the stored latency of a host or device over time, with a terminal chart'
  static override description =
    `HOST is an IP address (every run to that address), a MAC address (every run linked to that inventory device, whatever its address was then), a device's promoted name or inventory hostname (the same, when runs are linked to it: the rule of docs/SCAN.md "Naming a device"; an ambiguous name exits 2), or the host name used when measuring.

--resolution raw lists every probe; 1m, 5m and 1h summarise UTC-aligned buckets (sent, loss, min/avg/max/median/stddev, jitter within each run, grade). auto (the default) shows raw probes up to 1500 of them, else the finest bucket that gives at most 1500 points.

The chart plots the RTT per probe (raw) or the median per bucket; a strip below it shows loss. --json returns the series, the summary over the range and the runs in it.`

  static override examples = [
    '<%= config.bin %> latency history 192.0.2.10',
    '<%= config.bin %> latency history aa:bb:cc:dd:ee:01 --since 7d --resolution 1h',
    '<%= config.bin %> latency history router.lan --method tcp --resolution raw',
    '<%= config.bin %> latency history 192.0.2.10 --since 2026-11-23T00:00:00Z --until 2026-11-24T00:00:00Z --json',
  ]

  static override args = {host: Args.string({description: 'IP address, MAC address, device name, or the host name used when measuring', required: true})}

  static override flags = {
    since: Flags.string({description: 'Start (inclusive): ISO-8601, epoch ms, or a duration back from now', default: '24h'}),
    until: Flags.string({description: 'End (exclusive)', default: 'now'}),
    resolution: Flags.string({char: 'r', description: 'raw probes, or 1m/5m/1h buckets', options: [...RESOLUTIONS], default: 'auto'}),
    method: Flags.string({char: 'm', description: 'Only runs measured with this method (ICMP and TCP connect times differ)', options: ['icmp', 'tcp']}),
    db: dbFlag,
  }

  async run(): Promise<LatencyHistory> {
    const {args, flags} = await this.parse(LatencyHistoryCommand)
    const now = Date.now()
    const since = parseTime(flags.since, now, '--since')
    const until = parseTime(flags.until, now, '--until')
    const store = await this.openStore(flags.db)
    const h = await latencyHistory(store, {
      target: args.host,
      since,
      until,
      resolution: flags.resolution as Resolution,
      method: flags.method as Method | undefined,
    })

    const who = [h.ip, h.device?.mac, h.device?.name ?? h.device?.hostname].filter(Boolean).join(', ')
    this.out(`Latency of ${h.query}${who && who !== h.query ? ` (${who})` : ''}, ${h.since.iso} → ${h.until.iso}`)
    if (h.summary.sent === 0) {
      this.out('No latency probes stored in this range.')
      return h
    }
    const width = Math.min(process.stdout.columns || 100, 160)
    this.out(renderLatencyChart(h, {width}))
    const s = h.summary
    this.out(
      renderTable(
        ['runs', 'sent', 'recv', 'loss', 'min ms', 'avg ms', 'max ms', 'median ms', 'stddev ms', 'jitter ms', 'grade'],
        [
          [
            h.runs.length,
            s.sent,
            s.received,
            `${s.loss_pct}%`,
            ms(s.min_ms),
            ms(s.avg_ms),
            ms(s.max_ms),
            ms(s.median_ms),
            ms(s.stddev_ms),
            ms(s.jitter_ms),
            s.grade ?? '-',
          ],
        ],
      ),
    )
    return h
  }
}

import {Flags} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {deviceFlags, pickDevice} from '../../cli/device-flag.js'
import {renderHistoryChart} from '../../core/bandwidth/chart.js'
import {history, type HistoryResolution, type HistoryResult} from '../../core/bandwidth/query.js'
import {parseTime} from '../../core/format/time.js'
import {invalidInput} from '../../core/errors.js'

export default class BandwidthHistory extends NetmonCommand {
  static override summary = "A device's traffic over time, or the network total: bytes and rates per sample or per 5m/1h/1d bucket, charted"
  static override description =
    `raw = the stored samples (rate = bytes × 8 / seconds since the previous sample); 5m/1h/1d = rollups (rate = the bucket's average; peak_bps = its fastest sample). auto (default) picks the finest level that is still kept for the window and gives a readable number of points. Buckets are whole: since/until are widened to bucket edges.
Without --device (or --mac): the network total, every device's rollups summed per 5m/1h/1d bucket (no raw resolution: devices sample at different instants; auto picks 5m where a device would get raw; peak_bps is null, as the devices' peaks were not at the same instant).
JSON: {device:{ip, mac, hostname, name}|null (the network total), resolution, since, since_ms, until, until_ms, widened, pruned_before, pruned_before_ms (set when this resolution's rows before it were deleted by retention), points:[{ts, ts_ms, bytes_sent, bytes_received, total_bytes, upload_bps, download_bps, total_bps, total_mbps, samples, peak_bps, interval_ms}], totals:{…}}. Interface devices (bandwidth sample --from iface) add tx_errors, rx_errors, tx_drops, rx_drops to every point and to totals (the kernel's counts in that point); the text output then lists them under the chart. Without --json: a terminal chart of the total rate, its time axis labelled at the start, middle and end in local time with the UTC offset (--utc: in UTC).`
  static override examples = [
    '<%= config.bin %> bandwidth history',
    '<%= config.bin %> bandwidth history --device laptop --utc',
    '<%= config.bin %> bandwidth history --mac AA:BB:CC:DD:EE:01',
    '<%= config.bin %> bandwidth history --mac AA:BB:CC:DD:EE:01 --since 7d --resolution 1h',
    '<%= config.bin %> bandwidth history --mac 192.168.1.100 --since 2026-11-01T00:00:00Z --until 2026-11-02T00:00:00Z --json',
  ]
  static override flags = {
    ...deviceFlags('One device (default: the network total)'),
    since: Flags.string({description: 'Start: ISO-8601, epoch ms, or a duration back from now', default: '24h'}),
    until: Flags.string({description: 'End (exclusive; default now)'}),
    resolution: Flags.string({description: 'raw, 5m, 1h, 1d, or auto', options: ['raw', '5m', '1h', '1d', 'auto'], default: 'auto'}),
    db: dbFlag,
  }

  async run(): Promise<HistoryResult> {
    const {flags} = await this.parse(BandwidthHistory)
    const now = Date.now()
    const since = parseTime(flags.since, now, '--since')
    const until = flags.until === undefined ? now : parseTime(flags.until, now, '--until')
    if (since >= until) throw invalidInput('--since must be before --until')
    const store = await this.openStore(flags.db)
    const r = await history(store, pickDevice(flags), {since, until, resolution: flags.resolution as HistoryResolution})
    if (r.pruned_before) {
      this.note(
        `netmon: ${r.resolution} data before ${r.pruned_before} was deleted by retention (db prune); a coarser --resolution, or auto, covers the whole window`,
      )
    }
    if (!this.jsonEnabled()) this.out(await renderHistoryChart(r, process.stdout.columns ?? 100, {utc: flags.utc}))
    return r
  }
}

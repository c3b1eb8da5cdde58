import {Flags} from '@oclif/core'
import {z} from 'zod'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {renderTable} from '../../cli/table.js'
import {topTalkers, type TopResult, type TopSort} from '../../core/bandwidth/query.js'
import {humanBytes, humanRate} from '../../core/format/units.js'
import {parseTime} from '../../core/format/time.js'
import {invalidInput} from '../../core/errors.js'

export default class BandwidthTop extends NetmonCommand {
  static override summary = 'Rank devices by traffic: all-time totals, or inside a time window'
  static override description =
    `Without --since, ranks by the running totals (since registration or the last reset). With --since, ranks by the traffic inside [since, until): whole days/hours/5-minute buckets come from the rollups and only the edges from raw samples. Where raw samples were already pruned, the window is widened to the enclosing bucket and "window" says so.
JSON: {sort_by, count, window?:{since, since_ms, until, until_ms, widened, …}, top_talkers:[{rank, ip, mac, hostname, current_mbps, total_mb, total_bytes_sent, total_bytes_received, peak_mbps, …_bps}]}. With --since, total_* and peak_* are for the window. current is 0 with stale: true once the latest sample is older than max(2 × its interval, 60 s) (the rule of bandwidth stats).`
  static override examples = [
    '<%= config.bin %> bandwidth top',
    '<%= config.bin %> bandwidth top --limit 5 --sort download',
    '<%= config.bin %> bandwidth top --since 24h --json',
  ]
  static override flags = {
    limit: Flags.integer({description: 'How many devices (1-50)', default: 10}),
    sort: Flags.string({description: 'Rank by', options: ['total', 'upload', 'download', 'current'], default: 'total'}),
    since: Flags.string({description: 'Window start: ISO-8601, epoch ms, or a duration back from now (24h)'}),
    until: Flags.string({description: 'Window end (exclusive; default now), with --since'}),
    db: dbFlag,
  }

  async run(): Promise<TopResult> {
    const {flags} = await this.parse(BandwidthTop)
    const limit = this.check(
      z.number().int().min(1, {message: 'must be between 1 and 50'}).max(50, {message: 'must be between 1 and 50'}),
      flags.limit,
      '--limit',
    )
    const now = Date.now()
    const since = flags.since === undefined ? undefined : parseTime(flags.since, now, '--since')
    if (flags.until !== undefined && since === undefined) throw invalidInput('--until needs --since')
    const until = flags.until === undefined ? undefined : parseTime(flags.until, now, '--until')
    if (since !== undefined && since >= (until ?? now)) throw invalidInput('--since must be before --until (and before now)')
    const store = await this.openStore(flags.db)
    const r = await topTalkers(store, {limit, sort: flags.sort as TopSort, since, until, now})
    if (this.jsonEnabled()) return r
    if (r.window)
      this.out(`Traffic ${r.window.since} → ${r.window.until}${r.window.widened ? ' (widened to whole buckets: raw samples there were pruned)' : ''}`)
    this.out(
      renderTable(
        ['#', 'hostname', 'ip', 'mac', 'current', 'total', 'sent', 'received', 'peak'],
        r.top_talkers.map(t => [
          t.rank,
          t.hostname,
          t.ip,
          t.mac,
          t.stale ? 'stale' : humanRate(t.current_bps),
          `${t.total_mb.toFixed(1)} MB`,
          humanBytes(t.total_bytes_sent),
          humanBytes(t.total_bytes_received),
          humanRate(t.peak_bps),
        ]),
      ),
    )
    return r
  }
}

import {Flags} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {renderTable} from '../../cli/table.js'
import {prune, setAutoPrune, type PruneResult, type Retention} from '../../core/bandwidth/retention.js'
import {parseDuration} from '../../core/format/time.js'
import {pruneLatencyProbes, type LatencyPruneResult} from '../../core/latency/retention.js'

const keep = (v: string | undefined, flag: string): number | undefined =>
  v === undefined ? undefined : /^(forever|never|0)$/i.test(v.trim()) ? 0 : parseDuration(v, flag)

export default class DbPrune extends NetmonCommand {
  static override summary = 'Enforce retention: delete raw bandwidth samples, rollups and latency probes older than their keep time'
  static override description =
    `Defaults: raw samples 7d, 5-minute rollups 30d, hourly 1 year, daily forever. Flags override for this run; --save stores them (bandwidth sample then prunes automatically with them, at most once an hour). Totals and top talkers stay correct: they live in the running totals, and window queries fall back to rollups where raw samples are gone. Cut-offs are aligned to whole buckets of the next coarser level.
Latency: per-probe rows of runs that ended more than --keep-latency-probes ago (default 30d) are deleted; run summaries (min/avg/max/jitter/loss/grade) are kept, so latency history still answers.
JSON: {success, dry_run, saved, retention:{raw|5m|1h|1d:{keep_ms, keep}}, pruned:{raw|5m|1h|1d:{before, before_ms, rows}}, latency:{keep_ms, before, before_ms, probes}}.`
  static override examples = [
    '<%= config.bin %> db prune',
    '<%= config.bin %> db prune --keep-raw 14d --save',
    '<%= config.bin %> db prune --keep-5m 7d --dry-run --json',
  ]
  static override flags = {
    'keep-raw': Flags.string({description: 'Keep raw samples this long (e.g. 7d)'}),
    'keep-5m': Flags.string({description: 'Keep 5-minute rollups this long (e.g. 30d)'}),
    'keep-1h': Flags.string({description: 'Keep hourly rollups this long (e.g. 365d)'}),
    'keep-1d': Flags.string({description: 'Keep daily rollups this long, or "forever"'}),
    'keep-latency-probes': Flags.string({description: 'Keep per-probe latency rows this long, or "forever" (run summaries are always kept)', default: '30d'}),
    save: Flags.boolean({description: 'Store these retention settings for automatic pruning'}),
    'dry-run': Flags.boolean({description: 'Count what would be deleted; delete nothing'}),
    'auto-prune': Flags.string({description: 'Turn the automatic hourly prune on sample writes on or off', options: ['on', 'off']}),
    db: dbFlag,
  }

  async run(): Promise<PruneResult & {latency: LatencyPruneResult}> {
    const {flags} = await this.parse(DbPrune)
    const retention: Partial<Retention> = {}
    const r = keep(flags['keep-raw'], '--keep-raw')
    const f = keep(flags['keep-5m'], '--keep-5m')
    const h = keep(flags['keep-1h'], '--keep-1h')
    const d = keep(flags['keep-1d'], '--keep-1d')
    if (r !== undefined) retention.raw = r
    if (f !== undefined) retention['5m'] = f
    if (h !== undefined) retention['1h'] = h
    if (d !== undefined) retention['1d'] = d
    const keepProbes = keep(flags['keep-latency-probes'], '--keep-latency-probes')
    const store = await this.openStore(flags.db)
    const bw = await prune(store, {retention, save: flags.save, dryRun: flags['dry-run']})
    const result = {...bw, latency: await pruneLatencyProbes(store, {keepMs: keepProbes, dryRun: flags['dry-run']})}
    if (flags['auto-prune'] !== undefined && !flags['dry-run']) await setAutoPrune(store, flags['auto-prune'] === 'on')
    if (this.jsonEnabled()) return result
    this.out(
      renderTable(
        ['level', 'keep', flags['dry-run'] ? 'would delete' : 'deleted', 'older than'],
        [
          ...(['raw', '5m', '1h', '1d'] as const).map(l => [l, result.retention[l].keep, result.pruned[l].rows, result.pruned[l].before ?? '—']),
          ['latency probes', flags['keep-latency-probes'], result.latency.probes, result.latency.before ?? '—'],
        ],
      ),
    )
    return result
  }
}

import {Flags} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {deviceFlags, pickDevice} from '../../cli/device-flag.js'
import {renderTable} from '../../cli/table.js'
import {
  bandwidthReport,
  checkZone,
  onelineReport,
  processZone,
  type OnelineRecord,
  type ReportKind,
  type ReportResult,
  type ReportSeries,
} from '../../core/bandwidth/report.js'
import {usageError} from '../../core/errors.js'
import {parseTime} from '../../core/format/time.js'
import {humanBytes, humanRate} from '../../core/format/units.js'

const KINDS = ['5min', 'hourly', 'daily', 'monthly', 'yearly'] as const
const KIND_FLAGS = [...KINDS, 'top']

const TITLE: Record<ReportKind, string> = {
  '5min': '5-minute',
  hourly: 'hourly',
  daily: 'daily',
  monthly: 'monthly',
  yearly: 'yearly',
  top: 'top days',
}

/** vnStat -hg style bars: rx ▓ then tx ░, scaled to the largest total listed. */
function bar(rx: number, tx: number, max: number, width: number): string {
  if (max <= 0 || width <= 0) return ''
  const r = Math.round((rx / max) * width)
  const t = Math.min(width - r, Math.round(((rx + tx) / max) * width) - r)
  return '▓'.repeat(r) + '░'.repeat(Math.max(0, t))
}

function seriesText(r: ReportResult, s: ReportSeries, columns: number): string {
  const who = s.device === null ? 'network (all devices)' : [s.device.name, s.device.mac, s.device.ip, s.device.hostname].filter(Boolean).join(' ')
  const head =
    r.kind === 'top'
      ? ['#', 'day', 'rx', 'tx', 'total', 'avg. rate']
      : [({'5min': 'time', hourly: 'hour', daily: 'day', monthly: 'month', yearly: 'year', top: 'day'} as const)[r.kind], 'rx', 'tx', 'total', 'avg. rate']
  const max = Math.max(0, ...s.periods.map(p => p.total_bytes))
  // The table is ~70 columns wide; the bar gets what is left of the terminal (none when narrow).
  const barWidth = Math.min(40, columns - 85)
  const rows: (string | number)[][] = []
  for (const p of s.periods) {
    const cells: (string | number)[] = [
      ...(r.kind === 'top' ? [p.rank!] : []),
      p.label + (p.current ? ' *' : ''),
      humanBytes(p.rx_bytes),
      humanBytes(p.tx_bytes),
      humanBytes(p.total_bytes),
      p.avg_bps === null ? '' : humanRate(p.avg_bps),
    ]
    if (barWidth >= 10) cells.push(bar(p.rx_bytes, p.tx_bytes, max, barWidth))
    rows.push(cells)
    if (p.estimate) {
      const e = p.estimate
      const est: (string | number)[] = ['  estimated', humanBytes(e.rx_bytes), humanBytes(e.tx_bytes), humanBytes(e.total_bytes), '']
      if (barWidth >= 10) est.push('')
      rows.push(est)
    }
  }
  if (barWidth >= 10) head.push('▓ rx ░ tx')
  return `${who} — ${TITLE[r.kind]} (${r.time_zone})\n${renderTable(head, rows)}`
}

export default class BandwidthReport extends NetmonCommand {
  static override summary = 'Traffic per 5 minutes, hour, day, month or year, the top days, or one line for scripts (like vnStat)'
  static override description =
    `Network-wide (every device summed) by default; --device one device (a MAC, IP, hostname or promoted name; --mac is an alias); --all one table per device. rx = bytes the device received (download), tx = bytes it sent.
Days, months and years are calendar periods in --tz (an IANA zone; default the process's time zone, $TZ), summed from the hourly rollups, exact across DST (23- and 25-hour days); 5-minute periods come from the 5m rollups (kept 30 days), the rest from the 1h rollups (kept 365 days). The current period (marked *) has an "estimated" row for days, months and years: bytes so far × period length / time elapsed. avg. rate = bytes × 8 / seconds (the current period: seconds so far).
--oneline: one line per series, fields separated by ";": version(1);name;today;today rx;today tx;today total;today avg bit/s;month;month rx;month tx;month total;month avg bit/s;all-time rx;all-time tx;all-time total (bytes, bit/s; all-time = since the accounting start or reset).
JSON: {kind, time_zone, now, now_ms, source, pruned_before, pruned_before_ms, series:[{device: null (network) | {mac, ip, hostname, name}, periods:[{label, start, start_ms, end, end_ms, length_ms, rx_bytes, tx_bytes, total_bytes, avg_bps, samples, current, estimate: null | {rx_bytes, tx_bytes, total_bytes, elapsed_ms}, rank (--top)}], totals:{rx_bytes, tx_bytes, total_bytes}}]}; with --oneline --json: {fields:[…], lines:[{device, fields:{…}, line}]}. See docs/BANDWIDTH.md.`
  static override examples = [
    '<%= config.bin %> bandwidth report',
    '<%= config.bin %> bandwidth report --monthly --tz Europe/Vienna',
    '<%= config.bin %> bandwidth report --hourly --mac AA:BB:CC:DD:EE:01',
    '<%= config.bin %> bandwidth report --monthly --device "office printer"',
    '<%= config.bin %> bandwidth report --top 10 --all',
    '<%= config.bin %> bandwidth report --oneline',
  ]
  static override flags = {
    '5min': Flags.boolean({description: '5-minute periods (5m rollups)', exclusive: KIND_FLAGS.filter(k => k !== '5min')}),
    hourly: Flags.boolean({description: 'Hours', exclusive: KIND_FLAGS.filter(k => k !== 'hourly')}),
    daily: Flags.boolean({description: 'Days (the default)', exclusive: KIND_FLAGS.filter(k => k !== 'daily')}),
    monthly: Flags.boolean({description: 'Calendar months', exclusive: KIND_FLAGS.filter(k => k !== 'monthly')}),
    yearly: Flags.boolean({description: 'Calendar years', exclusive: KIND_FLAGS.filter(k => k !== 'yearly')}),
    top: Flags.integer({description: 'The N days with the most traffic', min: 1, exclusive: [...KINDS]}),
    ...deviceFlags('One device', {exclusive: ['all']}),
    all: Flags.boolean({description: 'One table per device', exclusive: ['mac', 'device']}),
    limit: Flags.integer({description: 'Number of periods (default 24 five-minute/hourly, 30 days, 12 months, 10 years)', min: 1, exclusive: ['since']}),
    since: Flags.string({description: 'List periods from the one holding this time (ISO-8601, epoch ms, or a duration back from now)', exclusive: ['limit']}),
    tz: Flags.string({description: 'IANA time zone for days/months/years and labels (default: UTC with --utc, else the process time zone)'}),
    oneline: Flags.boolean({description: 'One ";"-separated line (today, this month, all time) per series', exclusive: [...KIND_FLAGS, 'limit', 'since']}),
    now: Flags.string({description: 'Test only: the time taken as now (ISO-8601 or epoch ms)', hidden: true}),
    db: dbFlag,
  }

  async run(): Promise<ReportResult | {fields: readonly string[]; lines: OnelineRecord[]}> {
    const {flags} = await this.parse(BandwidthReport)
    const now = flags.now === undefined ? Date.now() : parseTime(flags.now, Date.now(), '--now')
    const tz = checkZone(flags.tz ?? (flags.utc ? 'UTC' : processZone()))
    const kind: ReportKind = flags.top !== undefined ? 'top' : (KINDS.find(k => flags[k]) ?? 'daily')
    if (flags.oneline && flags.top !== undefined) throw usageError('--oneline cannot be used with --top')
    const store = await this.openStore(flags.db)
    if (flags.oneline) {
      const lines = await onelineReport(store, {tz, now, mac: pickDevice(flags), all: flags.all})
      this.out(lines.map(l => l.line).join('\n'))
      const {ONELINE_FIELDS} = await import('../../core/bandwidth/report.js')
      return {fields: ONELINE_FIELDS, lines}
    }
    const since = flags.since === undefined ? undefined : parseTime(flags.since, now, '--since')
    const r = await bandwidthReport(store, {
      kind,
      tz,
      now,
      limit: kind === 'top' ? flags.top : flags.limit,
      since,
      mac: pickDevice(flags),
      all: flags.all,
    })
    if (r.pruned_before) this.note(`netmon: ${r.source} rows before ${r.pruned_before} were deleted by retention; earlier periods are incomplete`)
    this.out(() => {
      const cols = process.stdout.columns ?? 120
      const parts = r.series.map(s => seriesText(r, s, cols))
      if (r.series.length === 0) parts.push('no devices')
      return parts.join('\n\n')
    })
    return r
  }
}

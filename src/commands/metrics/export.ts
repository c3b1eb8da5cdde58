import {Flags} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {usageError} from '../../core/errors.js'
import {describeDatasets, planExport, runExport, type DatasetInfo, type ExportSummary} from '../../core/export/index.js'
import {humanBytes} from '../../core/format/units.js'

export default class MetricsExport extends NetmonCommand {
  static override summary = 'Export stored data (devices, events, bandwidth, latency, meters…) as CSV, JSON or NDJSON'
  static override description = `Streams one dataset out of the store page by page, so memory stays flat whatever its size.

CSV follows RFC 4180 (header row, CRLF, quotes where needed); an empty quoted field "" is an empty string, an empty unquoted field is NULL. JSON is one array; NDJSON is one object per line. Times are two columns: <name> in ISO-8601 UTC and <name>_ms in epoch milliseconds. Byte counts are integers. Column order is fixed (see --list and docs/EXPORT.md).

--since is inclusive and --until exclusive: since ≤ t < until. Both take ISO-8601, epoch ms, "now", or a duration back from now (24h, 7d).

--excel-safe (on by default for CSV) puts an apostrophe ' in front of any text field that starts with = + - @ TAB CR (or their full-width forms) or with ' itself, so a spreadsheet cannot run it as a formula; drop one leading ' to get the stored text back. Numbers are never altered. --no-excel-safe writes text exactly as stored.

--out FILE writes a temporary file next to FILE and renames it at the end: an export that fails or is interrupted leaves nothing under FILE (an existing FILE stays as it was). Without --out (or with --out -) the data goes to stdout. The format defaults to the extension of --out (.json, .ndjson/.jsonl), else csv.

With --json the command prints a summary of what it wrote (needs --out FILE, since the data itself would be on stdout).`

  static override examples = [
    '<%= config.bin %> metrics export --list',
    '<%= config.bin %> metrics export --what devices --out devices.csv',
    '<%= config.bin %> metrics export --what events --since 7d --format ndjson | jq .type',
    '<%= config.bin %> metrics export --what bandwidth --resolution 1h --since 2026-11-01 --until 2026-12-01 --out nov.csv',
    '<%= config.bin %> metrics export --what bandwidth --device AA:BB:CC:DD:EE:01 --since 24h --format json',
    '<%= config.bin %> metrics export --what readings --meter main-house --out readings.ndjson --json',
  ]

  static override flags = {
    what: Flags.string({char: 'w', summary: 'Dataset to export (see --list)', helpValue: 'DATASET'}),
    format: Flags.string({char: 'f', summary: 'Output format: csv, json or ndjson (default: from --out, else csv)', helpValue: 'csv|json|ndjson'}),
    since: Flags.string({summary: 'Only rows at or after this time (inclusive)', helpValue: 'TIME|DURATION'}),
    until: Flags.string({summary: 'Only rows before this time (exclusive)', helpValue: 'TIME'}),
    device: Flags.string({summary: 'Only rows of this device', helpValue: 'MAC|IP'}),
    meter: Flags.string({summary: 'Only rows of this meter', helpValue: 'ID'}),
    resolution: Flags.string({summary: 'Raw samples or rollups, for datasets that have them (default raw)', helpValue: 'raw|5m|1h|1d'}),
    out: Flags.string({char: 'o', summary: 'File to write (atomically), or - for stdout', helpValue: 'FILE|-', default: '-'}),
    'excel-safe': Flags.boolean({allowNo: true, summary: 'Protect text fields against formula injection (default: on for CSV, off otherwise)'}),
    bom: Flags.boolean({summary: 'Start a CSV with a UTF-8 byte order mark (helps Excel read non-ASCII text)'}),
    list: Flags.boolean({summary: 'List the datasets with their columns and filters, and exit'}),
    'page-size': Flags.integer({summary: 'Rows read from the store per page (default 500)', helpValue: 'N'}),
    db: dbFlag,
  }

  async run(): Promise<ExportSummary | {datasets: DatasetInfo[]}> {
    const {flags} = await this.parse(MetricsExport)
    if (flags.list) {
      const datasets = describeDatasets()
      this.out(await renderList(datasets))
      return {datasets}
    }
    if (!flags.what) throw usageError('missing --what DATASET', 'name the dataset to export; `netmon metrics export --list` shows them')
    const plan = planExport({
      what: flags.what,
      format: flags.format,
      since: flags.since,
      until: flags.until,
      device: flags.device,
      meter: flags.meter,
      resolution: flags.resolution,
      out: flags.out,
      excelSafe: flags['excel-safe'],
      bom: flags.bom,
      pageSize: flags['page-size'],
    })
    if (this.jsonEnabled() && plan.out === null) {
      throw usageError('--json prints a summary on stdout, where this export would write its data', 'add --out FILE, or use --format json for the data itself')
    }
    const summary = await runExport(await this.openStore(flags.db), plan)
    if (summary.pruned_before) {
      this.note(
        `netmon: ${summary.resolution} ${plan.dataset.name} rows before ${summary.pruned_before.iso} were deleted by retention (db prune); a coarser --resolution covers more`,
      )
    }
    if (plan.out !== null) {
      this.out(`Exported ${summary.rows} ${plan.dataset.name} rows as ${plan.format.toUpperCase()} to ${summary.out} (${humanBytes(summary.bytes)})`)
    }
    return summary
  }
}

async function renderList(datasets: DatasetInfo[]): Promise<string> {
  // One block per dataset: its name and whole description on the first line, then its filters and
  // columns, each wrapped at the terminal's width (a table cell cut descriptions into 20-column
  // slivers). --json gives the same as data.
  const width = Math.max(60, process.stdout.columns ?? 100)
  const wrap = (prefix: string, text: string): string => {
    const out: string[] = []
    let line = prefix
    for (const word of text.split(' ')) {
      if (line.length + word.length > width && line.length > prefix.length) {
        out.push(line.trimEnd())
        line = ' '.repeat(prefix.length)
      }
      line += `${word} `
    }
    out.push(line.trimEnd())
    return out.join('\n')
  }
  return datasets
    .map(d => {
      const filters = d.filters.map(f => `--${f}`).join(' ') + (d.resolutions.length ? ` (resolutions: ${d.resolutions.join(', ')})` : '')
      return [wrap(`${d.name}: `, d.description), wrap('  filters: ', filters || '(none)'), wrap('  columns: ', d.columns.map(c => c.name).join(', '))].join(
        '\n',
      )
    })
    .join('\n\n')
}

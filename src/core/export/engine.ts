/**
 * The export engine (issue 9): validates a request, then streams a dataset page by page.
 *
 * Paging is keyset pagination on the dataset's key, which follows an index:
 *   WHERE <filters> AND (k1, k2) > (:k0, :k1) ORDER BY k1, k2 LIMIT :limit
 * Each page is an index range scan that starts where the last one ended, so the cost per page is
 * constant however deep into the table it is (OFFSET would rescan everything before it).
 *
 * Each page comes back as ONE value: `json_group_array(json_array(…))` over the page query.
 * @libsql/client turns every row into an object with a property per column and every integer
 * into a BigInt first (~4 µs per row, measured: 6.3 s to read 1.44M rows); one JSON text per
 * page parsed by JSON.parse reads the same rows in ~0.8 s, locally and over Hrana alike. REAL
 * columns travel as `printf('%!.17g')` text because SQLite's JSON keeps only 15 significant
 * digits (0.1+0.2 would come back as 0.3). SQLite does not promise that an aggregate sees the
 * rows in the subquery's order (it does in practice), so the engine checks the key order of
 * every page and re-reads a page as plain rows if it ever is not.
 */
import {resolve} from 'node:path'
import {requireDevice} from '../devices/repo.js'
import {classifyDeviceKey} from '../devices/resolve.js'
import {NetmonError, invalidInput, notFound} from '../errors.js'
import {parseTime, stamp, type Stamp} from '../format/time.js'
import {startProgress} from '../progress.js'
import type {Store} from '../store/index.js'
import {findDataset, datasetNames} from './registry.js'
import {fileSink, stdoutSink, type Sink} from './sink.js'
import {FORMATS, RESOLUTIONS, type ColumnDef, type Dataset, type ExportFormat, type FilterValues, type Resolution, type SqlSource} from './types.js'
import {createWriter, outputColumns} from './writers.js'

/**
 * Rows per page. Measured on 1.44M bandwidth samples (CLI, peak RSS at 100k → 1.44M rows):
 * 250: 77 → 87 MB, 500: 78 → 89 MB, 1000: 79 → 101 MB, 5000: 86 → 107 MB; 500 is ~15 %
 * slower than 1000. What grows is V8's young generation: it expands with the bytes that
 * survive scavenges over the whole run, and what survives is mostly the page being parsed.
 */
export const DEFAULT_PAGE_SIZE = 500
const FAR_PAST = -8.64e15
const FAR_FUTURE = 8.64e15

/** What the command line asked for (strings as typed). */
export interface ExportRequest {
  what: string
  format?: string
  since?: string
  until?: string
  device?: string
  meter?: string
  resolution?: string
  /** File path, or `-`/undefined for stdout. */
  out?: string
  /** Default: on for CSV, off for JSON/NDJSON. */
  excelSafe?: boolean
  bom?: boolean
  pageSize?: number
  now?: number
}

/** A validated request; building one touches neither the store nor the file system. */
export interface ExportPlan {
  dataset: Dataset
  source: SqlSource
  format: ExportFormat
  resolution: Resolution | null
  since?: number
  until?: number
  /** MAC (normalised) or IP, resolved to a device id when the export runs. */
  device?: string
  meter?: string
  out: string | null
  excelSafe: boolean
  bom: boolean
  pageSize: number
}

export interface ExportSummary {
  dataset: string
  format: ExportFormat
  resolution: Resolution | null
  rows: number
  bytes: number
  /** Absolute path written, or "-" for stdout. */
  out: string
  columns: string[]
  excel_safe: boolean
  filters: {
    since: Stamp | null
    until: Stamp | null
    device: {id: number; mac: string | null; ip: string | null} | null
    meter: string | null
  }
  /** Rows of this resolution before this time were deleted by retention, inside the exported span. */
  pruned_before: Stamp | null
  elapsed_ms: number
}

function inferFormat(out: string | null): ExportFormat {
  if (out && /\.(ndjson|jsonl)$/i.test(out)) return 'ndjson'
  if (out && /\.json$/i.test(out)) return 'json'
  return 'csv'
}

/**
 * A filter or option given as an empty string (`--format ''`, often `--format "$FMT"` with FMT
 * unset) is a mistake, not a request for the default: refused rather than ignored.
 */
const has = (v: string | undefined, flag: string): v is string => {
  if (v === undefined) return false
  if (v.trim() === '') throw invalidInput(`--${flag} is empty`, `give a value, or leave --${flag} out for the default`)
  return true
}

/** Validates everything that can be checked without the store (bad input → exit 2). */
export function planExport(req: ExportRequest): ExportPlan {
  const dataset = findDataset(req.what)
  if (!dataset) {
    throw invalidInput(`unknown dataset "${req.what}"`, `choose one of: ${datasetNames().join(', ')} (see --list)`)
  }
  const out = !has(req.out, 'out') || req.out === '-' ? null : req.out
  let format: ExportFormat
  if (has(req.format, 'format')) {
    const f = req.format.toLowerCase()
    if (!(FORMATS as readonly string[]).includes(f)) throw invalidInput(`unknown format "${req.format}"`, `use one of: ${FORMATS.join(', ')}`)
    format = f as ExportFormat
  } else format = inferFormat(out)

  let resolution: Resolution | null = null
  let source = dataset.source
  if (has(req.resolution, 'resolution')) {
    const r = req.resolution.toLowerCase()
    if (!(RESOLUTIONS as readonly string[]).includes(r)) {
      throw invalidInput(`unknown resolution "${req.resolution}"`, `use one of: ${RESOLUTIONS.join(', ')}`)
    }
    if (!dataset.resolutions) {
      throw invalidInput(`--resolution does not apply to dataset "${dataset.name}"`, 'only datasets with rollups take it (see --list)')
    }
    resolution = r as Resolution
    if (resolution !== 'raw') {
      const s = dataset.resolutions[resolution]
      if (!s) throw invalidInput(`dataset "${dataset.name}" has no ${resolution} resolution`, `available: ${availableResolutions(dataset).join(', ')}`)
      source = s
    }
  } else if (dataset.resolutions) resolution = 'raw'

  const now = req.now ?? Date.now()
  const since = has(req.since, 'since') ? parseTime(req.since, now, '--since time') : undefined
  const until = has(req.until, 'until') ? parseTime(req.until, now, '--until time') : undefined
  if (since !== undefined && until !== undefined && since >= until) {
    throw invalidInput(`--since (${new Date(since).toISOString()}) must be before --until (${new Date(until).toISOString()})`, 'the range is since ≤ t < until')
  }
  const refuse = (flag: string) => {
    throw invalidInput(`${flag} does not apply to dataset "${dataset.name}"`, `its filters: ${filterFlags(source).join(', ') || 'none'}`)
  }
  if ((since !== undefined || until !== undefined) && !source.filters.time) refuse(since !== undefined ? '--since' : '--until')
  let device: string | undefined
  if (has(req.device, 'device')) {
    if (!source.filters.device) refuse('--device')
    // A MAC, IP, hostname or promoted name (devices/resolve.ts); the store resolves it in runExport.
    const key = classifyDeviceKey(req.device)
    device = key.kind === 'mac' ? key.mac : key.kind === 'ip' ? key.ip : key.name
  }
  if (has(req.meter, 'meter') && !source.filters.meter) refuse('--meter')
  // NDJSON/JSON parsers treat a leading U+FEFF as data (JSON.parse refuses it): a BOM there breaks the file.
  if (req.bom && format !== 'csv') throw invalidInput(`--bom applies to CSV only (this export is ${format})`, 'drop --bom, or use --format csv')
  const pageSize = req.pageSize ?? DEFAULT_PAGE_SIZE
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100_000) throw invalidInput(`--page-size must be an integer from 1 to 100000`)
  return {
    dataset,
    source,
    format,
    resolution,
    since,
    until,
    device,
    meter: has(req.meter, 'meter') ? req.meter : undefined,
    out,
    excelSafe: req.excelSafe ?? format === 'csv',
    bom: req.bom ?? false,
    pageSize,
  }
}

export function availableResolutions(ds: Dataset): Resolution[] {
  return ds.resolutions ? RESOLUTIONS.filter(r => r === 'raw' || ds.resolutions![r as Exclude<Resolution, 'raw'>]) : []
}

export function filterFlags(src: SqlSource): string[] {
  const out: string[] = []
  if (src.filters.time) out.push('--since', '--until')
  if (src.filters.device) out.push('--device')
  if (src.filters.meter) out.push('--meter')
  return out
}

// ---------------------------------------------------------------------------------------------
// SQL

export interface BuiltQuery {
  sql: string
  args: Record<string, string | number | null>
}

/** Column expression as selected: REAL at full precision as text (see the header comment). */
function selectExpr(sql: string, type: string): string {
  return type === 'real' ? `CASE WHEN (${sql}) IS NULL THEN NULL ELSE printf('%!.17g', ${sql}) END` : sql
}

function conditions(src: SqlSource, f: FilterValues, args: BuiltQuery['args']): string[] {
  const conds: string[] = []
  if (src.where) conds.push(`(${src.where})`)
  const t = src.filters.time
  if (t && typeof t === 'object' && 'inFrom' in t) {
    args.since = f.since ?? FAR_PAST
    args.until = f.until ?? FAR_FUTURE
  } else if (t) {
    const sinceSql = typeof t === 'string' ? `${t} >= :since` : t.since
    const untilSql = typeof t === 'string' ? `${t} < :until` : t.until
    if (f.since !== undefined) {
      conds.push(`(${sinceSql})`)
      args.since = f.since
    }
    if (f.until !== undefined) {
      conds.push(`(${untilSql})`)
      args.until = f.until
    }
  }
  if (f.deviceId !== undefined && src.filters.device) {
    conds.push(`(${src.filters.device})`)
    args.device = f.deviceId
  }
  if (f.meter !== undefined && src.filters.meter) {
    conds.push(`(${src.filters.meter.sql})`)
    args.meter = f.meter
  }
  return conds
}

/** The columns SQL selects: the output columns, or what a derived source reads. */
export function selectedColumns(src: SqlSource): ColumnDef[] {
  return src.derive ? src.derive.read : src.keyOnly ? [...src.columns, ...src.keyOnly] : src.columns
}

function keyExprs(src: SqlSource): string[] {
  const cols = selectedColumns(src)
  return src.key.map(k => cols.find(c => c.name === k)!.sql)
}

/**
 * The page query. `after` is the key of the last row of the previous page (null: first page).
 * mode `json`: one row, one column `page` with the page as a JSON array of arrays.
 * mode `rows`: plain rows c0…cN (the fallback, and what EXPLAIN QUERY PLAN checks).
 */
export function pageQuery(src: SqlSource, f: FilterValues, after: readonly unknown[] | null, limit: number, mode: 'json' | 'rows' = 'json'): BuiltQuery {
  const args: BuiltQuery['args'] = {}
  const conds = conditions(src, f, args)
  const keys = keyExprs(src)
  if (after) {
    const params = keys.map((_, i) => `:k${i}`)
    if (src.keyset === 'partitioned') {
      const n = keys.length - 1
      const part = n === 1 ? keys[0]! : `(${keys.slice(0, n).join(', ')})`
      const at = n === 1 ? params[0]! : `(${params.slice(0, n).join(', ')})`
      conds.push(`${part} >= ${at}`, `${keys[n]} > CASE WHEN ${part} = ${at} THEN ${params[n]} ELSE ${FAR_PAST} END`)
    } else conds.push(keys.length === 1 ? `${keys[0]} > ${params[0]}` : `(${keys.join(', ')}) > (${params.join(', ')})`)
    after.forEach((v, i) => (args[`k${i}`] = v as string | number))
  }
  args.limit = limit
  const cols = selectedColumns(src)
  const select = cols.map((c, i) => `${selectExpr(c.sql, c.type)} AS c${i}`).join(', ')
  const inner =
    `SELECT ${select} FROM ${src.from}` +
    (conds.length ? ` WHERE ${conds.join(' AND ')}` : '') +
    (src.groupBy ? ` GROUP BY ${src.groupBy}` : '') +
    ` ORDER BY ${keys.join(', ')} LIMIT :limit`
  if (mode === 'rows') return {sql: inner, args}
  const arr = cols.map((_, i) => `c${i}`).join(', ')
  return {sql: `SELECT json_group_array(json_array(${arr})) AS page FROM (${inner})`, args}
}

/** Row count for the progress bar (only computed when a bar is shown). */
export function countQuery(src: SqlSource, f: FilterValues): BuiltQuery {
  const args: BuiltQuery['args'] = {}
  const conds = conditions(src, f, args)
  const inner = `SELECT 1 FROM ${src.from}` + (conds.length ? ` WHERE ${conds.join(' AND ')}` : '') + (src.groupBy ? ` GROUP BY ${src.groupBy}` : '')
  return {sql: `SELECT count(*) AS n FROM (${inner})`, args}
}

function compareKey(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b
  const x = String(a)
  const y = String(b)
  return x < y ? -1 : x > y ? 1 : 0
}

/** True when every row's key is strictly greater than the previous one's (and than `after`). */
export function keysAscending(rows: readonly unknown[][], keyIdx: readonly number[], after: readonly unknown[] | null): boolean {
  // No allocation per row: this runs over every exported row.
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!
    const prev = r > 0 ? rows[r - 1]! : null
    if (!prev && !after) continue
    let cmp = 0
    for (let i = 0; i < keyIdx.length && cmp === 0; i++) cmp = compareKey(row[keyIdx[i]!], prev ? prev[keyIdx[i]!] : after![i])
    if (cmp <= 0) return false
  }
  return true
}

export interface PageReader {
  next(): Promise<unknown[][] | null>
  /** Pages re-read as plain rows because the JSON page was out of key order (expected: 0). */
  readonly fallbacks: number
}

/** Reads a source page by page; each page is an array of raw rows in column order. */
export function readPages(store: Store, src: SqlSource, f: FilterValues, pageSize: number, opts: {forceRows?: boolean} = {}): PageReader {
  const cols = selectedColumns(src)
  const keyIdx = src.key.map(k => cols.findIndex(c => c.name === k))
  let after: unknown[] | null = null
  let done = false
  let fallbacks = 0
  const asRows = async (): Promise<unknown[][]> => {
    const q = pageQuery(src, f, after, pageSize, 'rows')
    const rows = await store.query<Record<string, unknown>>(q.sql, q.args)
    return rows.map(r => cols.map((_, i) => r[`c${i}`]))
  }
  const derive = src.derive
  const names = cols.map(c => c.name)
  const width = src.columns.length
  const derived = (rows: unknown[][]): unknown[][] =>
    derive
      ? rows.map(r => {
          const o: Record<string, unknown> = {}
          for (let i = 0; i < names.length; i++) o[names[i]!] = r[i]
          return derive.compute(o)
        })
      : src.keyOnly
        ? rows.map(r => r.slice(0, width))
        : rows
  return {
    get fallbacks() {
      return fallbacks
    },
    async next() {
      if (done) return null
      let rows: unknown[][]
      if (opts.forceRows) rows = await asRows()
      else {
        const q = pageQuery(src, f, after, pageSize, 'json')
        const r = await store.get<{page: string}>(q.sql, q.args)
        rows = JSON.parse(r?.page ?? '[]') as unknown[][]
        if (!keysAscending(rows, keyIdx, after)) {
          fallbacks++
          rows = await asRows()
        }
      }
      // A key that is not unique, or SQL that ignores it, would loop forever: refuse instead.
      if (rows.length > 0 && after && !keysAscending(rows.slice(0, 1), keyIdx, after)) {
        throw new NetmonError('internal', `export of ${src.from}: the page key did not advance past ${JSON.stringify(after)}`, {
          hint: 'the dataset definition needs a unique key',
        })
      }
      if (rows.length < pageSize) done = true
      if (rows.length === 0) return null
      const last = rows[rows.length - 1]!
      after = keyIdx.map(k => last[k])
      return derived(rows)
    },
  }
}

// ---------------------------------------------------------------------------------------------
// Running an export

export interface RunOptions {
  /** Where `--out -` goes (tests). */
  stdout?: NodeJS.WriteStream
  /** Called once the output is open (tests watch the temp file). */
  onSink?: (sink: Sink) => void
}

function progressWanted(plan: ExportPlan, stdout: NodeJS.WriteStream): boolean {
  // A bar on a terminal that is also receiving the data would be torn apart by it.
  return Boolean(process.stderr.isTTY) && !process.env.NETMON_NO_PROGRESS && !(plan.out === null && stdout.isTTY)
}

export async function runExport(store: Store, plan: ExportPlan, opts: RunOptions = {}): Promise<ExportSummary> {
  const started = Date.now()
  const stdout = opts.stdout ?? process.stdout
  const f: FilterValues = {since: plan.since, until: plan.until, meter: plan.meter}
  let device: ExportSummary['filters']['device'] = null
  if (plan.device !== undefined) {
    const d = await requireDevice(store, plan.device, 'list devices with `netmon devices list` or `netmon metrics export --what devices`')
    f.deviceId = d.id
    device = {id: d.id, mac: d.mac, ip: d.ip}
  }
  if (plan.meter !== undefined && plan.source.filters.meter?.exists) {
    const found = await store.get(plan.source.filters.meter.exists, {meter: plan.meter})
    if (!found) throw notFound(`no meter "${plan.meter}" in the store`, 'list meters with `netmon metrics export --what readings` or `netmon meters list`')
  }

  let prunedBefore: number | null = null
  if (plan.dataset.prunedBefore && plan.resolution) {
    const cut = await plan.dataset.prunedBefore(store, plan.resolution)
    if (cut !== null && (plan.since === undefined || plan.since < cut)) prunedBefore = cut
  }
  const columns = plan.source.columns
  const writer = createWriter(plan.format, columns, {excelSafe: plan.excelSafe, bom: plan.bom})
  const wantBar = progressWanted(plan, stdout)
  let total = 0
  if (wantBar) {
    const q = countQuery(plan.source, f)
    total = Number((await store.get<{n: number}>(q.sql, q.args))?.n ?? 0)
  }

  // A typo must not replace the store itself (or its WAL) with an export.
  if (plan.out !== null && store.location.path) {
    const target = resolve(plan.out)
    if ([store.location.path, `${store.location.path}-wal`, `${store.location.path}-shm`].includes(target)) {
      throw invalidInput(`--out ${plan.out} is the store itself`, 'choose another file name')
    }
  }
  // Open the output only now: bad input and a missing device leave no file behind.
  const sink = plan.out === null ? stdoutSink(stdout) : await fileSink(plan.out)
  opts.onSink?.(sink)
  const bar = wantBar ? await startProgress(`export ${plan.dataset.name}`, total) : null
  let rows = 0
  try {
    await sink.write(writer.start())
    const pages = readPages(store, plan.source, f, plan.pageSize)
    for (let page = await pages.next(); page && !sink.readerGone; page = await pages.next()) {
      await sink.write(writer.rows(page))
      rows += page.length
      bar?.update(rows)
    }
    if (!sink.readerGone) await sink.write(writer.end())
    await sink.commit()
  } catch (e) {
    await sink.abort()
    throw e
  } finally {
    bar?.stop()
  }
  return {
    dataset: plan.dataset.name,
    format: plan.format,
    resolution: plan.resolution,
    rows,
    bytes: sink.bytes,
    out: sink.path ?? '-',
    columns: outputColumns(columns).map(c => c.name),
    excel_safe: plan.excelSafe,
    filters: {
      since: plan.since === undefined ? null : stamp(plan.since),
      until: plan.until === undefined ? null : stamp(plan.until),
      device,
      meter: plan.meter ?? null,
    },
    pruned_before: prunedBefore === null ? null : stamp(prunedBefore),
    elapsed_ms: Date.now() - started,
  }
}

/**
 * The shape of an export dataset (issue 9). A dataset is data, not code: a name, a description,
 * fixed ordered columns with types, the keyset it pages on, and how the common filters map to
 * SQL. The engine (engine.ts) turns that into paged SQL and the writers (writers.ts) into
 * CSV/JSON/NDJSON, so adding a dataset is a few lines in datasets/.
 */
import type {Store} from '../store/index.js'

/**
 * Column types decide how a stored value is written:
 * - `integer`: an exact integer (byte counts, ids, counters).
 * - `real`: a floating-point number, read at full precision (17 significant digits).
 * - `text`: a string.
 * - `time`: epoch ms in the store; written as TWO columns: `<name>` (ISO-8601 UTC) and `<name>_ms`.
 * - `boolean`: 0/1 in the store; written as true/false.
 * - `json`: JSON text in the store; embedded as a value in JSON/NDJSON, kept as text in CSV.
 */
export type ColumnType = 'integer' | 'real' | 'text' | 'time' | 'boolean' | 'json'

export interface ColumnDef {
  /** Output name (for `time`: the ISO column; `<name>_ms` follows it). */
  name: string
  type: ColumnType
  /** SQL expression over the source's FROM clause (unused when the source has `derive`). */
  sql: string
  description: string
}

/**
 * A source whose output is computed in code from what SQL reads, to reuse a capability's own
 * shaping (e.g. bandwidth's deviceStatsShape for `bandwidth-totals`) instead of copying its math.
 * The key then names `read` columns.
 */
export interface Derive {
  read: ColumnDef[]
  /** One read row (by `read` names) → the values of `columns`, in order (`time` as epoch ms). */
  compute(row: Record<string, unknown>): unknown[]
}

/** A filter given on the command line, resolved to values (device → its id). */
export interface FilterValues {
  since?: number
  until?: number
  deviceId?: number
  meter?: string
}

export type FilterName = 'time' | 'device' | 'meter'

/**
 * How the common filters map to SQL. Fragments use named parameters: `:since`, `:until`
 * (epoch ms), `:device` (a devices.id), `:meter` (a meter id).
 * - `time` as a string: one epoch-ms expression, tested as `expr >= :since AND expr < :until`
 *   (since inclusive, until exclusive: docs/CONVENTIONS.md).
 * - `time` as `{since, until}`: two fragments (e.g. devices "active in the window").
 * - `time` as `{inFrom: true}`: the FROM clause itself uses `:since`/`:until` (a LEFT JOIN's ON,
 *   so an aggregate keeps rows with nothing in the window); unbounded ends are bound to ±8.64e15.
 * A filter a dataset does not map is refused for it (exit 2), never silently ignored.
 */
export interface FilterMap {
  time?: string | {since: string; until: string} | {inFrom: true}
  device?: string
  meter?: {sql: string /** Returns a row when the meter exists (uses `:meter`); unknown → exit 1. */; exists?: string}
  /** One line for `--list`/docs when the meaning is not obvious from the SQL. */
  notes?: string
}

export interface SqlSource {
  /** FROM clause, joins included. */
  from: string
  /** A fixed condition. */
  where?: string
  /** GROUP BY expressions for aggregated datasets (the key must be among them). */
  groupBy?: string
  columns: ColumnDef[]
  /** Columns read only to complete the key (not written), e.g. a parent's rowid. */
  keyOnly?: ColumnDef[]
  derive?: Derive
  /**
   * The keyset: names of `columns` that are NOT NULL, unique together, and the order of an
   * index, so each page is an index range scan (never OFFSET, never a sort of the table).
   * Key columns must be integer, time or text (compared by value in SQL).
   */
  key: string[]
  /**
   * How a page continues after the previous page's last key:
   * - `row` (default): `(k1, k2) > (:k0, :k1)`, for a key that is one index.
   * - `partitioned`: key = [...partition, series] over `parent CROSS JOIN child` (e.g. devices ×
   *   bw_samples keyed (device_id, ts)): `(part) >= (:k0) AND series > CASE WHEN (part) = (:k0)
   *   THEN :k1 ELSE <−∞> END`. The loop runs over partitions and SEEKS into each one's series,
   *   time filter included, instead of walking every row of every partition past the window.
   *   The partition columns must be unique and NOT NULL in the parent's index order.
   */
  keyset?: 'row' | 'partitioned'
  filters: FilterMap
}

export type Resolution = 'raw' | '5m' | '1h' | '1d'
export const RESOLUTIONS: readonly Resolution[] = ['raw', '5m', '1h', '1d']

export interface Dataset {
  name: string
  description: string
  /** Tables read (docs, and to tell which migration a dataset waits for). */
  tables: string[]
  /** The source for `--resolution raw` (or the only source). */
  source: SqlSource
  /** Other resolutions (bandwidth rollups); they must have the same columns as `source`. */
  resolutions?: Partial<Record<Exclude<Resolution, 'raw'>, SqlSource>>
  /**
   * For data thinned by retention: before what time this resolution's rows were deleted (null:
   * nothing deleted), so an export over that span is flagged instead of looking like no data.
   */
  prunedBefore?: (store: Pick<Store, 'get' | 'query'>, resolution: Resolution) => Promise<number | null>
}

export type ExportFormat = 'csv' | 'json' | 'ndjson'
export const FORMATS: readonly ExportFormat[] = ['csv', 'json', 'ndjson']

/** One output column, after `time` columns are split into ISO + ms. */
export interface OutputColumn {
  name: string
  type: 'integer' | 'real' | 'text' | 'time_iso' | 'time_ms' | 'boolean' | 'json'
  description: string
}

/**
 * How the bandwidth write path gets its rows to the store: the fixed-width blob encoding of bulk
 * rows, JSON-array statements cut to size, and the sinks that send statements — at once on a local
 * file, packed into bounded requests on a remote store (issue 13).
 *
 * Remote stores (Hrana over HTTP) refuse request bodies above 1 MiB (libSQL's default; HTTP 413),
 * so every statement and every request is kept under REMOTE_REQUEST_BYTES as the client encodes it
 * (blobs as base64, text JSON-escaped), and statements whose results are not needed travel several
 * to a request: a 66k-row ingest is a handful of round trips, not one per statement.
 */
import type {Stmt, Tx} from '../store/index.js'

/** Budget for one remote request (SQL + arguments as encoded), well below libSQL's 1 MiB limit. */
export const REMOTE_REQUEST_BYTES = 768 * 1024
/** Per-statement framing the client adds around SQL and arguments (step, condition, value types). */
const STMT_OVERHEAD = 256

type Arg = string | number | bigint | null | Uint8Array | boolean

/** Characters a text value takes inside the JSON request body (quotes and escapes included). */
export const jsonTextBytes = (s: string): number => Buffer.byteLength(JSON.stringify(s))

/** Size of one statement as the Hrana client sends it. */
export function statementBytes(sql: string, args: readonly Arg[]): number {
  let n = sql.length + STMT_OVERHEAD
  for (const a of args) {
    if (typeof a === 'string') n += jsonTextBytes(a) + 32
    else if (a instanceof Uint8Array) n += Math.ceil(a.length / 3) * 4 + 32
    else n += 48
  }
  return n
}

/** Where write statements go. `maxBytes` bounds one statement (Infinity: a local file, no limit). */
export interface Sink {
  readonly maxBytes: number
  /** Local files: the statement runs now. Remote: it is queued and sent with others. */
  write(sql: string, args: Arg[]): Promise<void>
  /** Sends anything queued; call before reading what was written. */
  flush(): Promise<void>
}

/** Local file: every statement is executed at once (no round trips to save). */
export class DirectSink implements Sink {
  readonly maxBytes = Number.POSITIVE_INFINITY
  constructor(private readonly tx: Tx) {}
  async write(sql: string, args: Arg[]): Promise<void> {
    await this.tx.execute(sql, args)
  }
  async flush(): Promise<void> {}
}

/**
 * Remote store, inside an interactive transaction: statements are packed into `tx.batch` requests
 * of at most REMOTE_REQUEST_BYTES each. All of them belong to the one open transaction, so the
 * batch stays atomic however many requests it takes.
 */
export class BatchingSink implements Sink {
  readonly maxBytes = REMOTE_REQUEST_BYTES
  private queue: Stmt[] = []
  private bytes = 0
  /** Requests sent (for tests and the benchmark). */
  requests = 0
  constructor(private readonly tx: Tx) {}
  async write(sql: string, args: Arg[]): Promise<void> {
    const size = statementBytes(sql, args)
    if (this.queue.length > 0 && this.bytes + size > this.maxBytes) await this.flush()
    this.queue.push({sql, args})
    this.bytes += size
  }
  async flush(): Promise<void> {
    if (this.queue.length === 0) return
    const q = this.queue
    this.queue = []
    this.bytes = 0
    this.requests++
    await this.tx.batch(q)
  }
}

/** Collects statements for one write batch (the remote one-request path); sends nothing. */
export class CollectingSink implements Sink {
  readonly maxBytes = REMOTE_REQUEST_BYTES
  readonly statements: Stmt[] = []
  bytes = 0
  async write(sql: string, args: Arg[]): Promise<void> {
    this.statements.push({sql, args})
    this.bytes += statementBytes(sql, args)
  }
  async flush(): Promise<void> {}
}

/**
 * Cuts JSON array elements (already serialised) into arrays whose statement stays within
 * `maxBytes` (SQL included). One element never exceeds it in practice (a row of numbers).
 */
export function jsonChunks(items: readonly string[], sql: string, maxBytes: number): string[] {
  if (items.length === 0) return []
  if (maxBytes === Number.POSITIVE_INFINITY) return ['[' + items.join(',') + ']']
  const budget = maxBytes - sql.length - STMT_OVERHEAD - 64
  const out: string[] = []
  let start = 0
  let size = 2
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!
    // Numbers-only rows escape to themselves; anything with quotes pays for the escaping.
    const cost = (item.includes('"') || item.includes('\\') ? jsonTextBytes(item) - 2 : Buffer.byteLength(item)) + 1
    if (i > start && size + cost > budget) {
      out.push('[' + items.slice(start, i).join(',') + ']')
      start = i
      size = 2
    }
    size += cost
  }
  out.push('[' + items.slice(start).join(',') + ']')
  return out
}

/** Runs `sql` (one `?` = a JSON array) over `items`, in as many statements as the sink's bound needs. */
export async function writeJsonRows(sink: Sink, sql: string, items: readonly string[]): Promise<void> {
  for (const chunk of jsonChunks(items, sql, sink.maxBytes)) await sink.write(sql, [chunk])
}

/** "00" … "99" as ASCII pairs. */
const DIGITS2 = Uint8Array.from({length: 200}, (_, i) => 48 + (i & 1 ? (i >> 1) % 10 : Math.floor((i >> 1) / 10)))

/**
 * Bulk rows for one INSERT … SELECT. Measured on this client (shared/FACTS.md §2 and
 * bench/bandwidth-ingest): extracting values with `json_each(?)` + `->>` costs more than the
 * B-tree insert itself, so rows travel as one blob of fixed-width decimal fields (width = the
 * widest value of each column in this flush), cut apart with substr() over a row counter:
 * ~1.8× faster than JSON, and still plain SQL for remote stores (where one flush becomes as many
 * statements as the request bound needs).
 */
export class FixedWidthRows {
  private n = 0
  private readonly slot: Int32Array
  private readonly cols: Float64Array
  private readonly start: Int32Array
  private readonly order: Int32Array

  /**
   * @param head `INSERT INTO t(a, b, …)`; @param tail e.g. `ON CONFLICT … DO UPDATE …`.
   * `nullable[c]`: column c is NULL when its value is negative.
   * `step[c]` (optional): column c travels as (value − the flush's smallest) / step, added back in
   * SQL — a 13-digit epoch-ms time becomes a few digits, fewer to encode, send and parse.
   */
  constructor(
    private readonly sink: Sink,
    private readonly head: string,
    private readonly tail: string,
    private readonly nullable: boolean[],
    private readonly slotCount: number,
    private readonly capacity: number,
    private readonly step: (number | null)[] = [],
  ) {
    this.slot = new Int32Array(capacity)
    this.cols = new Float64Array(capacity * nullable.length)
    this.start = new Int32Array(slotCount + 1)
    this.order = new Int32Array(capacity)
  }

  get length(): number {
    return this.n
  }

  get values(): Float64Array {
    return this.cols
  }

  /** Reserves a row for device `slot`; returns the offset of its first column in `values`. */
  add(slot: number): number {
    if (this.n === this.capacity) throw new Error('row buffer overflow')
    const i = this.n++
    this.slot[i] = slot
    return i * this.nullable.length
  }

  async flush(): Promise<void> {
    const n = this.n
    if (n === 0) return
    const width = this.nullable.length
    const cols = this.cols
    // Group rows by device (stable counting sort): the target tables are clustered by
    // (device_id, …) and a stream interleaves devices; within a device, arrival order is kept.
    const start = this.start
    start.fill(0)
    for (let i = 0; i < n; i++) start[this.slot[i]! + 1]!++
    for (let d = 0; d < this.slotCount; d++) start[d + 1]! += start[d]!
    for (let i = 0; i < n; i++) this.order[start[this.slot[i]!]!++] = i
    // Relative columns: subtract the smallest value, divide by the step.
    const base: number[] = new Array(width).fill(0)
    for (let c = 0; c < width; c++) {
      const st = this.step[c]
      if (!st) continue
      let min = Number.POSITIVE_INFINITY
      for (let i = c; i < n * width; i += width) if (cols[i]! < min) min = cols[i]!
      base[c] = min
      for (let i = c; i < n * width; i += width) cols[i] = (cols[i]! - min) / st
    }
    // Column widths: the longest decimal in this flush (max value per column, then its digits).
    const max: number[] = new Array(width).fill(0)
    for (let i = 0; i < n; i++) {
      const o = i * width
      for (let c = 0; c < width; c++) if (cols[o + c]! > max[c]!) max[c] = cols[o + c]!
    }
    // Values are integers below 2^53, so String() gives their exact digits (never an exponent).
    const w: number[] = max.map((v, c) => Math.max(this.nullable[c] ? 2 : 1, String(v).length))
    const rowWidth = w.reduce((a, x) => a + x, 0)
    // A fresh buffer each flush, on purpose: see releaseNativeMemory().
    const buf = Buffer.allocUnsafe(rowWidth * n)
    let pos = 0
    for (let j = 0; j < n; j++) {
      const o = this.order[j]! * width
      for (let c = 0; c < width; c++) {
        let v = cols[o + c]!
        const end = pos + w[c]!
        let p = end
        if (v < 0) {
          buf[--p] = 49 // "1"
          buf[--p] = 45 // "-"
        } else if (v === 0) {
          buf[--p] = 48
        } else {
          // Float division only above 2^31; below it, 32-bit integer arithmetic (much cheaper).
          while (v >= 2147483648) {
            const q = Math.floor(v / 10)
            buf[--p] = 48 + (v - q * 10)
            v = q
          }
          // Two digits per division, from a table.
          let x = v | 0
          while (x >= 100) {
            const q = (x / 100) | 0
            const r = (x - q * 100) << 1
            buf[--p] = DIGITS2[r + 1]!
            buf[--p] = DIGITS2[r]!
            x = q
          }
          if (x >= 10) {
            buf[--p] = DIGITS2[(x << 1) + 1]!
            buf[--p] = DIGITS2[x << 1]!
          } else if (x > 0) buf[--p] = 48 + x
        }
        while (p > pos) buf[--p] = 32 // left-pad with spaces (CAST ignores them)
        pos = end
      }
    }
    let off = 1
    const fields = w.map((wc, c) => {
      let f = `CAST(substr(?1, n * ${rowWidth} + ${off}, ${wc}) AS INTEGER)`
      off += wc
      const st = this.step[c]
      if (st) f = `${base[c]} + ${st === 1 ? f : `${st} * ${f}`}`
      return this.nullable[c] ? `NULLIF(${f}, -1)` : f
    })
    this.n = 0
    // The row counter: libSQL's built-in generate_series on a local file (a recursive CTE queues
    // every row through a temp table: measured ~25 % of a 1M-row raw insert); remote servers get
    // the CTE, which any SQLite runs.
    const local = this.sink.maxBytes === Number.POSITIVE_INFINITY
    const sql = local
      ? `${this.head} SELECT ${fields.join(', ')} FROM (SELECT value AS n FROM generate_series(0, ?2 - 1)) WHERE true ${this.tail}`
      : `WITH RECURSIVE r(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM r WHERE n + 1 < ?2)
       ${this.head} SELECT ${fields.join(', ')} FROM r WHERE true ${this.tail}`
    // Base64 makes a blob 4/3 larger on the wire.
    const perStatement =
      this.sink.maxBytes === Number.POSITIVE_INFINITY ? n : Math.max(1, Math.floor(((this.sink.maxBytes - sql.length - 512) * 3) / 4 / rowWidth))
    for (let a = 0; a < n; a += perStatement) {
      const b = Math.min(n, a + perStatement)
      await this.sink.write(sql, [buf.subarray(a * rowWidth, b * rowWidth), b - a])
      await releaseNativeMemory()
    }
  }
}

/**
 * Keeps RSS flat during a long write (issue 4: "RSS must stay flat"). Measured with libsql 0.5.29
 * (the driver under @libsql/client): every execute prepares a new native statement, which keeps a
 * copy of its bound arguments until a napi finalizer frees it — and those finalizers only run after
 * a V8 garbage collection *and* a turn of the event loop. A transaction that runs statement after
 * statement never yields, so a 1M-row import grew RSS by the size of everything it sent (~100 MB
 * per million rows). Two things fix it: each flush's blob is a fresh Buffer (V8 counts it as
 * external memory, which triggers collections), and we yield here so the finalizers run.
 */
export function releaseNativeMemory(): Promise<void> {
  return new Promise(resolve => setImmediate(resolve))
}

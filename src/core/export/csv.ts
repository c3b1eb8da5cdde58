/**
 * RFC 4180 CSV through csv-stringify (issue 9): comma-separated, CRLF record delimiter, a field
 * is quoted when it contains a comma, a double quote (doubled inside) or a line break.
 * One netmon convention on top: an empty STRING is written as `""` and NULL as an empty field,
 * so NULL and '' survive a round trip (PostgreSQL's COPY CSV does the same).
 *
 * Speed and memory (bench/export.bench.js): csv-stringify costs ~1–2 µs per record, which
 * alone would hold an export of 1.44M rows well under the goal, and its per-field strings were
 * most of the garbage. Most rows have nothing to quote, so a row whose every field is a number,
 * NULL, or a string without `"` `,` CR LF is encoded directly into a byte buffer (exactly what
 * csv-stringify would emit for it; test/unit/export/csv.test.ts checks this on hostile, numeric
 * and random rows), and every other row goes through csv-stringify itself.
 */
import {stringify, type Options} from 'csv-stringify/sync'

export type Cell = string | number | null

export const CSV_OPTIONS: Options = {
  record_delimiter: 'windows',
  // With an explicit record_delimiter, csv-stringify 6.9 quotes only fields containing that
  // delimiter (CRLF) unless told otherwise: a lone LF or CR would break the record for readers.
  quote_record_delimiter: true,
  eof: true,
  // Quote exactly the empty string (not NULL): csv-stringify tests quoted_match on '' fields.
  quoted_match: /^$/,
}

const NEEDS_QUOTING = /[",\r\n]/

/** Reference encoder: csv-stringify for every row. */
export function stringifyRows(rows: Cell[][]): string {
  return rows.length === 0 ? '' : stringify(rows, CSV_OPTIONS)
}

/** The header line (column names are plain identifiers, but go through the library anyway). */
export function csvHeader(names: string[]): string {
  return stringify([names], CSV_OPTIONS)
}

/**
 * Builds CSV records row by row into one reused byte buffer. Plain rows are encoded here
 * (integers digit by digit, text with Buffer#write), so a row costs no intermediate strings —
 * at 1.44M rows the per-cell strings were most of the garbage, and garbage is what made the
 * peak RSS creep up with the row count. Runs of rows that need quoting are handed to
 * csv-stringify in one call each, keeping the output order. `add` copies a row only when it
 * must keep it, so a caller can reuse one array for every row.
 */
export class CsvBuilder {
  private buf = Buffer.allocUnsafe(64 * 1024)
  private pos = 0
  private pending: Cell[][] | null = null

  add(row: readonly Cell[]): void {
    const start = this.pos
    for (let c = 0; c < row.length; c++) {
      if (c > 0) this.byte(0x2c)
      const v = row[c]
      if (v === null || v === undefined) continue
      if (typeof v === 'number') {
        if (Number.isSafeInteger(v) && !Object.is(v, -0)) this.int(v)
        else this.text('' + v)
      } else if (v === '') {
        this.byte(0x22)
        this.byte(0x22)
      } else if (NEEDS_QUOTING.test(v)) {
        // Undo this row's bytes; csv-stringify encodes it (after the rows already pending).
        this.pos = start
        if (this.pending) this.pending.push(row.slice())
        else this.pending = [row.slice()]
        return
      } else this.text(v)
    }
    this.byte(0x0d)
    this.byte(0x0a)
    if (this.pending) {
      // Plain row after pending ones: the pending rows go first.
      const line = Buffer.from(this.buf.subarray(start, this.pos))
      this.pos = start
      this.flushPending()
      this.ensure(line.length)
      this.pos += line.copy(this.buf, this.pos)
    }
  }

  /**
   * The records added since the last take, as a view of the internal buffer: valid until the
   * next `add` (the engine writes it, and waits, before encoding the next page).
   */
  take(): Buffer {
    if (this.pending) this.flushPending()
    const out = this.buf.subarray(0, this.pos)
    this.pos = 0
    return out
  }

  private flushPending(): void {
    this.text(stringify(this.pending!, CSV_OPTIONS))
    this.pending = null
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n))
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
  }

  private byte(b: number): void {
    if (this.pos >= this.buf.length) this.ensure(1)
    this.buf[this.pos++] = b
  }

  private text(s: string): void {
    // UTF-8 needs at most 3 bytes per UTF-16 code unit.
    this.ensure(s.length * 3)
    this.pos += this.buf.write(s, this.pos, 'utf8')
  }

  /** A safe integer in decimal, exactly as String(n) writes it. */
  private int(n: number): void {
    this.ensure(17)
    if (n < 0) {
      this.buf[this.pos++] = 0x2d
      n = -n
    }
    if (n < 10) {
      this.buf[this.pos++] = 0x30 + n
      return
    }
    let digits = 0
    for (let x = n; x >= 1; x = Math.floor(x / 10)) digits++
    let p = this.pos + digits
    this.pos = p
    while (n >= 1) {
      const q = Math.floor(n / 10)
      this.buf[--p] = 0x30 + (n - q * 10)
      n = q
    }
  }
}

/** Encodes rows as CSV records (CsvBuilder over an array). */
export function csvRecords(rows: readonly Cell[][]): string {
  const b = new CsvBuilder()
  for (const r of rows) b.add(r)
  return b.take().toString('utf8')
}

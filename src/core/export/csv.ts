/**
 * RFC 4180 CSV through csv-stringify (issue 9): comma-separated, CRLF record delimiter, a field
 * is quoted when it contains a comma, a double quote (doubled inside) or a line break.
 * One netmon convention on top: an empty STRING is written as `""` and NULL as an empty field,
 * so NULL and '' survive a round trip (PostgreSQL's COPY CSV does the same).
 *
 * Speed (bench/export.bench.js): csv-stringify costs ~1–2 µs per record, which alone would
 * hold an export of 1.44M rows well under the goal. Most rows have nothing to quote, so a row
 * whose every field is a number, NULL, or a string without `"` `,` CR LF is joined directly
 * (exactly what csv-stringify would emit for it; test/unit/export/csv.test.ts checks this on
 * hostile and random rows), and every other row goes through csv-stringify itself.
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
 * Builds CSV records row by row. Plain rows are joined here; runs of rows that need quoting are
 * handed to csv-stringify in one call each, keeping the output order. `add` copies a row only
 * when it must keep it, so a caller can reuse one array for every row (less garbage per page).
 */
export class CsvBuilder {
  private out = ''
  private pending: Cell[][] | null = null

  add(row: readonly Cell[]): void {
    let line = ''
    for (let c = 0; c < row.length; c++) {
      const v = row[c]
      let s: string
      if (v === null || v === undefined) s = ''
      else if (typeof v === 'number') s = '' + v
      else if (v === '') s = '""'
      else if (NEEDS_QUOTING.test(v)) {
        if (this.pending) this.pending.push(row.slice())
        else this.pending = [row.slice()]
        return
      } else s = v
      line += c === 0 ? s : ',' + s
    }
    if (this.pending) this.flushPending()
    this.out += line + '\r\n'
  }

  /** The records added since the last take. */
  take(): string {
    if (this.pending) this.flushPending()
    const s = this.out
    this.out = ''
    return s
  }

  private flushPending(): void {
    this.out += stringify(this.pending!, CSV_OPTIONS)
    this.pending = null
  }
}

/** Encodes rows as CSV records (CsvBuilder over an array). */
export function csvRecords(rows: readonly Cell[][]): string {
  const b = new CsvBuilder()
  for (const r of rows) b.add(r)
  return b.take()
}

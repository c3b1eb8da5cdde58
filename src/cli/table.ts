import {createRequire} from 'node:module'
import type Table from 'cli-table3'
import {NetmonError} from '../core/errors.js'
import {humanizeTimes} from '../core/format/time.js'

// cli-table3 (with string-width and its regexes) is only needed for human output, so it is loaded
// on first use: commands that print no table do not pay for it at start-up (issue 3;
// docs/PERFORMANCE-NOTES.md).
let TableClass: typeof Table | undefined
const tableClass = (): typeof Table => (TableClass ??= createRequire(import.meta.url)('cli-table3') as typeof Table)

/**
 * What the global table flags ask for (set once per command by the base command's parse):
 * `--columns a,b` keeps only those columns, in that order (headings matched case-insensitively,
 * ignoring spaces and punctuation); `--no-header` drops the heading row.
 */
export interface TableOptions {
  columns?: string[]
  header: boolean
  /** --utc: cells' ISO-8601 UTC times shown in UTC instead of the local zone. */
  utc?: boolean
}
let options: TableOptions = {header: true}
export function setTableOptions(o: TableOptions): void {
  options = o
}

/** A cell's text: times in human output's one format (before the layout measures widths). */
const cell = (c: string | number | null | undefined): string => (c === null || c === undefined ? '' : humanizeTimes(String(c), {utc: options.utc}))

const key = (s: string): string => s.toLowerCase().replace(/[^a-z0-9%]+/g, '')

/** Which columns of `head` to show, in order; an unknown name is exit 2 listing the headings. */
function pick(head: string[]): number[] {
  if (!options.columns?.length) return head.map((_h, i) => i)
  const keys = head.map(key)
  return options.columns.map(c => {
    const i = keys.indexOf(key(c))
    if (i < 0)
      throw new NetmonError('usage', `--columns: no column "${c}" in this table`, {
        hint: `its columns: ${head.map(h => h.toLowerCase()).join(', ')}`,
      })
    return i
  })
}

/**
 * Renders rows as a compact cli-table3 table (one rule under the heading, none between rows;
 * human output only), honouring --columns; with --no-header, tab-separated rows.
 */
export function renderTable(head: string[], rows: (string | number | null | undefined)[][]): string {
  const cols = pick(head)
  // For scripts: no heading, no borders, one row per line, columns separated by a tab (a tab or
  // newline inside a value becomes a space), so `cut -f2` and `awk -F'\t'` read it.
  if (!options.header)
    return rows.map(r => cols.map(i => (r[i] === null || r[i] === undefined ? '' : String(r[i]).replace(/[\t\r\n]+/g, ' '))).join('\t')).join('\n')
  const t = new (tableClass())({head: options.header ? cols.map(i => head[i]!) : [], style: {head: [], border: [], compact: true}})
  for (const r of rows) t.push(cols.map(i => cell(r[i])))
  return t.toString()
}

/** Two-column key/value table (compact; the table flags do not apply to it). */
export function renderPairs(pairs: [string, string | number | null | undefined][]): string {
  const t = new (tableClass())({style: {head: [], border: [], compact: true}})
  for (const [k, v] of pairs) t.push({[k]: cell(v)})
  return t.toString()
}

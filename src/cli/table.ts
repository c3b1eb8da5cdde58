import {createRequire} from 'node:module'
import type Table from 'cli-table3'

// cli-table3 (with string-width and its regexes) is only needed for human output, so it is loaded
// on first use: commands that print no table do not pay for it at start-up (issue 3;
// docs/PERFORMANCE-NOTES.md).
let TableClass: typeof Table | undefined
const tableClass = (): typeof Table => (TableClass ??= createRequire(import.meta.url)('cli-table3') as typeof Table)

/** Renders rows as a cli-table3 table (human output only). */
export function renderTable(head: string[], rows: (string | number | null | undefined)[][]): string {
  const t = new (tableClass())({head, style: {head: [], border: []}})
  for (const r of rows) t.push(r.map(c => (c === null || c === undefined ? '' : String(c))))
  return t.toString()
}

/** Two-column key/value table. */
export function renderPairs(pairs: [string, string | number | null | undefined][]): string {
  const t = new (tableClass())({style: {head: [], border: []}})
  for (const [k, v] of pairs) t.push({[k]: v === null || v === undefined ? '' : String(v)})
  return t.toString()
}

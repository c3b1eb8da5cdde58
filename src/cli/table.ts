import Table from 'cli-table3'

/** Renders rows as a cli-table3 table (human output only). */
export function renderTable(head: string[], rows: (string | number | null | undefined)[][]): string {
  const t = new Table({head, style: {head: [], border: []}})
  for (const r of rows) t.push(r.map((c) => (c === null || c === undefined ? '' : String(c))))
  return t.toString()
}

/** Two-column key/value table. */
export function renderPairs(pairs: [string, string | number | null | undefined][]): string {
  const t = new Table({style: {head: [], border: []}})
  for (const [k, v] of pairs) t.push({[k]: v === null || v === undefined ? '' : String(v)})
  return t.toString()
}

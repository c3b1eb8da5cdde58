/**
 * Shared by the export tests: a real store in a temp dir, hostile values, and seeds written with
 * plain SQL (matching each table's migration) so no test depends on another capability's code.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parse} from 'csv-parse/sync'
import {openStore, type Store} from '../../../src/core/store/index.js'

export interface TestStore {
  store: Store
  dir: string
  db: string
  cleanup(): Promise<void>
}

export async function testStore(prefix = 'netmon-export-'): Promise<TestStore> {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const db = join(dir, 'netmon.db')
  const store = await openStore({db})
  return {
    store,
    dir,
    db,
    async cleanup() {
      await store.close()
      rmSync(dir, {recursive: true, force: true})
    },
  }
}

/** Values a CSV writer must escape, and a spreadsheet must not run. */
export const HOSTILE = [
  "=cmd|' /C calc'!A0",
  '+1+cmd|/C calc',
  '-2+3',
  '@SUM(A1:A2)',
  '\t=tab',
  '\r=cr',
  '＝fullwidth',
  "'already quoted",
  'comma, inside',
  'quote " inside',
  '"leading quote',
  'line\nbreak',
  'crlf\r\nbreak',
  'Ünïcødé 東京 🚀',
  ' padded ',
  '',
]

/** Parses netmon CSV: empty unquoted field → null, `""` → ''. */
export function parseCsv(text: string): {header: string[]; rows: (string | null)[][]} {
  const records = parse(text, {
    bom: true,
    relax_column_count: false,
    cast: (value, ctx) => (value === '' && !ctx.quoting ? null : value),
  }) as (string | null)[][]
  return {header: records[0] as string[], rows: records.slice(1)}
}

export const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString())

export interface SeedDevice {
  mac: string | null
  ip: string | null
  hostname?: string | null
  name?: string | null
  vendor?: string | null
  known?: number
  online?: number | null
  first_seen: number
  last_seen: number
}

export async function seedDevices(store: Store, rows: SeedDevice[]): Promise<void> {
  await store.batch(
    rows.map(r => ({
      sql: 'INSERT INTO devices(mac, ip, hostname, name, vendor, known, online, first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?)',
      args: [r.mac, r.ip, r.hostname ?? null, r.name ?? null, r.vendor ?? null, r.known ?? 0, r.online ?? null, r.first_seen, r.last_seen],
    })),
  )
}

export async function seedEvents(store: Store, rows: {ts: number; device_id: number | null; type: string; detail: string | null}[]): Promise<void> {
  await store.batch(rows.map(r => ({sql: 'INSERT INTO events(ts, device_id, type, detail) VALUES (?,?,?,?)', args: [r.ts, r.device_id, r.type, r.detail]})))
}

/** Inserts `n` events with a recursive CTE (fast, one statement): several per timestamp. */
export async function seedManyEvents(store: Store, n: number, t0 = 1_700_000_000_000): Promise<void> {
  await store.batch([
    {
      sql: `WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i + 1 < ?)
            INSERT INTO events(ts, device_id, type, detail) SELECT ? + (i / 3) * 1000, NULL, 'bulk', json_object('i', i, 'note', 'x,"y"') FROM c`,
      args: [n, t0],
    },
  ])
}

/**
 * Issue 9 acceptance 1 and 2, through the built CLI: every dataset in every format parses back
 * to exactly the store's rows (read here with plain SQL and mapped by hand, not by the writer),
 * and hostile values (commas, quotes, line breaks, `=cmd|' /C calc'!A0`, non-ASCII) come out
 * correctly escaped. Small pages (--page-size 2) put page boundaries all through the data.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runCli} from '../../support/cli.js'
import {HOSTILE, iso, parseCsv, testStore, type TestStore} from '../../unit/export/fixtures.js'
import {DATASETS} from '../../../src/core/export/registry.js'
import {DATASET_CASES, seedAll, type DatasetCase} from './cases.js'

let t: TestStore
beforeAll(async () => {
  t = await testStore()
  await seedAll(t.store)
  await t.store.close()
})
afterAll(() => t.cleanup())

type Obj = Record<string, unknown>

/** Expected CSV text of a value: netmon writes NULL as an empty field, booleans as true/false. */
function csvText(v: unknown): string | null {
  if (v === null || v === undefined) return null
  if (typeof v === 'boolean') return v ? 'true' : 'false'
  return String(v)
}

async function expectedRows(c: DatasetCase): Promise<Obj[]> {
  const {openStore} = await import('../../../src/core/store/index.js')
  const store = await openStore({db: t.db})
  try {
    return c.expected(await store.query(c.storeSql))
  } finally {
    await store.close()
  }
}

describe('every dataset × every format round-trips', () => {
  it('the cases cover every registered dataset', () => {
    expect(DATASET_CASES.map(c => c.args.join(' '))).toEqual(expect.arrayContaining(DATASETS.map(d => `--what ${d.name}`)))
  })

  for (const c of DATASET_CASES) {
    // The four exports of a case run at once (each is its own process): the suite stays fast.
    it(`${c.args.join(' ')}: NDJSON, JSON, CSV file (excel-safe), CSV --no-excel-safe`, async () => {
      const expected = await expectedRows(c)
      // A round trip over nothing proves nothing: every case has rows, page boundaries inside.
      expect(expected.length).toBeGreaterThanOrEqual(3)
      const out = join(t.dir, `${c.args.join('_').replace(/\W+/g, '_')}.csv`)
      const base = ['metrics', 'export', ...c.args, '--page-size', '2']
      const [nd, js, file, raw] = await Promise.all([
        runCli([...base, '--format', 'ndjson'], {db: t.db}),
        runCli([...base, '--format', 'json'], {db: t.db}),
        runCli([...base, '--out', out, '--json'], {db: t.db}),
        runCli([...base, '--no-excel-safe'], {db: t.db}),
      ])
      for (const r of [nd, js, file, raw]) {
        expect(r.stderr).toBe('')
        expect(r.code).toBe(0)
      }

      // NDJSON: one object per line, exactly the store's rows.
      const lines = nd.stdout.split('\n')
      expect(lines.pop()).toBe('')
      expect(
        lines.map(l => JSON.parse(l)),
        'NDJSON',
      ).toEqual(expected.map(o => c.asJson(o)))

      // JSON: one array.
      expect(js.json, 'JSON').toEqual(expected.map(o => c.asJson(o)))

      // CSV file: header = documented columns; every text cell a spreadsheet would evaluate carries
      // exactly one protecting apostrophe, and no other cell does (numbers stay numbers).
      expect(file.json.rows).toBe(expected.length)
      const csv = parseCsv(readFileSync(out, 'utf8'))
      expect(csv.header).toEqual(Object.keys(expected[0]!))
      expect(csv.header).toEqual(file.json.columns)
      const safeText = (v: unknown) => (typeof v === 'string' && /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20']/.test(v) ? `'${v}` : csvText(v))
      expect(csv.rows, 'CSV').toEqual(expected.map(o => Object.values(o).map(safeText)))

      // CSV with --no-excel-safe: the stored text byte for byte.
      expect(parseCsv(raw.stdout).rows, 'CSV --no-excel-safe').toEqual(expected.map(o => Object.values(o).map(csvText)))
    })
  }
})

describe('hostile values', () => {
  it('CSV: the formula hostname is neutralised, commas/quotes/line breaks quoted, non-ASCII intact', async () => {
    const r = await runCli(['metrics', 'export', '--what', 'devices', '--bom'], {db: t.db})
    expect(r.code).toBe(0)
    expect(r.stdout.startsWith('\uFEFFid,mac,ip,hostname,')).toBe(true)
    // The raw text, not just what a parser makes of it.
    expect(r.stdout).toContain(`,'=cmd|' /C calc'!A0,`)
    expect(r.stdout).toContain(`,"comma, inside",`)
    expect(r.stdout).toContain(`,"quote "" inside",`)
    expect(r.stdout).toContain(`,"line\nbreak",`)
    expect(r.stdout).toContain(`,"'\r=cr",`)
    expect(r.stdout).toContain(`,Ünïcødé 東京 🚀,`)
    expect(r.stdout).toContain(`,"",`) // empty string, not NULL
    const {rows} = parseCsv(r.stdout)
    const hostnames = rows.map(row => row[3])
    for (const h of HOSTILE) {
      const cell = hostnames.find(x => x === h || x === `'${h}`)
      expect(cell, JSON.stringify(h)).toBeDefined()
      // Every cell a spreadsheet would evaluate is protected.
      if (/^[=+\-@\t\r＝＋－＠']/.test(h)) expect(cell).toBe(`'${h}`)
      else expect(cell).toBe(h)
    }
    // Every record ends in CRLF; line breaks inside fields stay as stored.
    expect(r.stdout.endsWith('\r\n')).toBe(true)
  })

  it('JSON: hostile strings survive exactly (JSON escaping), times are ISO + ms', async () => {
    const r = await runCli(['metrics', 'export', '--what', 'devices', '--format', 'json'], {db: t.db})
    const hostnames = r.json.map((d: Obj) => d.hostname)
    for (const h of HOSTILE) expect(hostnames).toContain(h)
    for (const d of r.json) {
      expect(d.first_seen).toBe(iso(d.first_seen_ms as number))
      expect(d.first_seen).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    }
  })
})

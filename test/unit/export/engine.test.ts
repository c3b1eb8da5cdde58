/**
 * The export engine on a real libSQL file: request validation (exit 2 before anything is
 * touched), keyset paging across page boundaries with duplicate timestamps, the JSON page read
 * against plain rows, full REAL precision, and the partitioned keyset.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {isNetmonError} from '../../../src/core/errors.js'
import {keysAscending, pageQuery, planExport, readPages, type ExportRequest} from '../../../src/core/export/engine.js'
import type {SqlSource} from '../../../src/core/export/types.js'
import {seedDevices, seedEvents, testStore, type TestStore} from './fixtures.js'

function errorOf(fn: () => unknown): {kind: string; exitCode: number; message: string} {
  try {
    fn()
  } catch (e) {
    if (isNetmonError(e)) return {kind: e.kind, exitCode: e.exitCode, message: e.message}
    throw e
  }
  throw new Error('expected an error')
}

describe('planExport (validation, no store)', () => {
  it.each<[string, ExportRequest, RegExp]>([
    ['unknown dataset', {what: 'nope'}, /unknown dataset "nope"/],
    ['unknown format', {what: 'devices', format: 'xml'}, /unknown format "xml"/],
    ['bad --since', {what: 'events', since: 'yesterday'}, /invalid --since time "yesterday"/],
    ['bad --until', {what: 'events', until: '2026-13-45'}, /invalid --until time/],
    ['since not before until', {what: 'events', since: '2026-01-02T00:00:00Z', until: '2026-01-01T00:00:00Z'}, /must be before --until/],
    ['since equal to until', {what: 'events', since: '1700000000000', until: '1700000000000'}, /must be before --until/],
    // Any other text is a hostname or promoted name (devices/resolve.ts), looked up at run time.
    ['--device on a dataset without a device filter', {what: 'scans', device: 'printer'}, /--device does not apply to dataset "scans"/],
    ['--meter on devices', {what: 'devices', meter: 'm1'}, /--meter does not apply to dataset "devices"/],
    ['--resolution on events', {what: 'events', resolution: '1h'}, /--resolution does not apply to dataset "events"/],
    ['unknown resolution', {what: 'events', resolution: '2h'}, /unknown resolution "2h"/],
    ['page size 0', {what: 'events', pageSize: 0}, /--page-size/],
  ])('%s → input error (exit 2)', (_name, req, msg) => {
    const e = errorOf(() => planExport(req))
    expect(e.exitCode).toBe(2)
    expect(e.message).toMatch(msg)
  })

  it('infers the format from --out, else CSV; --format wins', () => {
    expect(planExport({what: 'events'}).format).toBe('csv')
    expect(planExport({what: 'events', out: 'x.ndjson'}).format).toBe('ndjson')
    expect(planExport({what: 'events', out: 'x.JSONL'}).format).toBe('ndjson')
    expect(planExport({what: 'events', out: 'x.json'}).format).toBe('json')
    expect(planExport({what: 'events', out: 'x.json', format: 'csv'}).format).toBe('csv')
    expect(planExport({what: 'events', out: '-'}).out).toBeNull()
  })

  it('excel-safe defaults to on for CSV and off for JSON/NDJSON; explicit choice wins', () => {
    expect(planExport({what: 'devices'}).excelSafe).toBe(true)
    expect(planExport({what: 'devices', format: 'json'}).excelSafe).toBe(false)
    expect(planExport({what: 'devices', format: 'ndjson'}).excelSafe).toBe(false)
    expect(planExport({what: 'devices', excelSafe: false}).excelSafe).toBe(false)
    expect(planExport({what: 'devices', format: 'json', excelSafe: true}).excelSafe).toBe(true)
  })

  it('time flags accept ISO, epoch ms and durations back from now', () => {
    const now = Date.parse('2026-11-23T12:00:00Z') // fixed clock (injected into planExport)
    const p = planExport({what: 'events', since: '24h', until: '2026-11-23T11:00:00Z', now})
    expect(p.since).toBe(now - 86_400_000)
    expect(p.until).toBe(now - 3_600_000)
    expect(planExport({what: 'events', since: '1700000000123'}).since).toBe(1_700_000_000_123)
  })

  it('normalises --device: any MAC form, or an IP', () => {
    expect(planExport({what: 'events', device: 'aa-bb-cc-dd-ee-01'}).device).toBe('AA:BB:CC:DD:EE:01')
    expect(planExport({what: 'events', device: '10.0.0.7'}).device).toBe('10.0.0.7')
  })
})

describe('keysAscending', () => {
  it('accepts strictly increasing keys and rejects ties or disorder', () => {
    expect(
      keysAscending(
        [
          [1, 'a'],
          [1, 'b'],
          [2, 'a'],
        ],
        [0, 1],
        null,
      ),
    ).toBe(true)
    expect(
      keysAscending(
        [
          [1, 'a'],
          [1, 'a'],
        ],
        [0, 1],
        null,
      ),
    ).toBe(false)
    expect(
      keysAscending(
        [
          [2, 'a'],
          [1, 'z'],
        ],
        [0, 1],
        null,
      ),
    ).toBe(false)
    expect(keysAscending([[1, 'a']], [0, 1], [1, 'a'])).toBe(false)
    expect(keysAscending([[1, 'b']], [0, 1], [1, 'a'])).toBe(true)
  })
})

describe('paging on a real store', () => {
  let t: TestStore
  beforeAll(async () => {
    t = await testStore()
    await seedDevices(t.store, [{mac: 'AA:BB:CC:DD:EE:01', ip: '10.0.0.1', first_seen: 1, last_seen: 2}])
    // 3 instants × 17 events: every page boundary falls among equal timestamps.
    const ev = []
    for (let i = 0; i < 51; i++) ev.push({ts: 1000 * (1 + (i % 3)), device_id: i % 2 ? 1 : null, type: `t${i}`, detail: null})
    await seedEvents(t.store, ev)
    await t.store.script(`
      CREATE TABLE x_parts (id INTEGER PRIMARY KEY, label TEXT);
      CREATE TABLE x_series (part INTEGER NOT NULL, ts INTEGER NOT NULL, r REAL, b INTEGER, j TEXT, PRIMARY KEY (part, ts)) WITHOUT ROWID;
    `)
  })
  afterAll(() => t.cleanup())

  const eventsSrc = () => planExport({what: 'events'}).source

  async function readAll(src: SqlSource, pageSize: number, f = {}, forceRows = false): Promise<unknown[][]> {
    const pages = readPages(t.store, src, f, pageSize, {forceRows})
    const out: unknown[][] = []
    for (let p = await pages.next(); p; p = await pages.next()) {
      expect(p.length).toBeLessThanOrEqual(pageSize)
      out.push(...p)
    }
    expect(pages.fallbacks).toBe(0)
    return out
  }

  it.each([1, 2, 7, 16, 17, 18, 50, 51, 52, 5000])('page size %i: every event exactly once, in (ts, id) order', async size => {
    const expected = await t.store.query<{id: number}>('SELECT id FROM events ORDER BY ts, id')
    const rows = await readAll(eventsSrc(), size)
    const ids = rows.map(r => r[1])
    expect(ids).toEqual(expected.map(r => r.id))
  })

  it('the JSON page read returns the same rows as plain rows', async () => {
    const src = eventsSrc()
    expect(await readAll(src, 7)).toEqual(await readAll(src, 7, {}, true))
    const filtered = {since: 2000, deviceId: 1}
    expect(await readAll(src, 4, filtered)).toEqual(await readAll(src, 4, filtered, true))
  })

  it('a partitioned keyset pages through parent × child exactly, with REAL at full precision', async () => {
    const reals = [0.1 + 0.2, 1 / 3, 1e-300, 123456789.12345679, -2.5e-7, 5e-324, 1.7976931348623157e308, 0, -0]
    const stmts = [
      {sql: 'INSERT INTO x_parts(id, label) VALUES (1, ?), (2, ?), (3, ?), (4, ?)', args: ['a', 'b', 'c', 'empty']},
      ...[1, 2, 3].flatMap(p =>
        reals.map((r, i) => ({sql: 'INSERT INTO x_series VALUES (?, ?, ?, ?, ?)', args: [p, 100 * i, r, i % 2, i % 3 ? JSON.stringify({i}) : null]})),
      ),
    ]
    await t.store.batch(stmts)
    const src: SqlSource = {
      from: 'x_parts p CROSS JOIN x_series s ON s.part = p.id',
      keyset: 'partitioned',
      key: ['part', 'ts'],
      columns: [
        {name: 'part', type: 'integer', sql: 'p.id', description: ''},
        {name: 'ts', type: 'time', sql: 's.ts', description: ''},
        {name: 'r', type: 'real', sql: 's.r', description: ''},
        {name: 'b', type: 'boolean', sql: 's.b', description: ''},
        {name: 'j', type: 'json', sql: 's.j', description: ''},
      ],
      filters: {time: 's.ts'},
    }
    for (const size of [1, 4, 9, 10, 100]) {
      const rows = await readAll(src, size)
      expect(rows).toHaveLength(27)
      expect(rows.map(r => [r[0], r[1]])).toEqual([1, 2, 3].flatMap(p => reals.map((_, i) => [p, 100 * i])))
      // REAL comes back bit-exact (SQLite's own JSON would round to 15 digits: 0.3).
      expect(rows.slice(0, 9).map(r => Number(r[2]))).toEqual(reals.map(x => (Object.is(x, -0) ? 0 : x)))
    }
    // The time filter applies inside each partition: since inclusive, until exclusive.
    const win = await readAll(src, 2, {since: 200, until: 500})
    expect(win.map(r => [r[0], r[1]])).toEqual([1, 2, 3].flatMap(p => [200, 300, 400].map(ts => [p, ts])))
  })

  it('the partitioned page query seeks into each partition (no full scan of the child, no sort)', async () => {
    const src: SqlSource = {
      from: 'x_parts p CROSS JOIN x_series s ON s.part = p.id',
      keyset: 'partitioned',
      key: ['part', 'ts'],
      columns: [
        {name: 'part', type: 'integer', sql: 'p.id', description: ''},
        {name: 'ts', type: 'time', sql: 's.ts', description: ''},
      ],
      filters: {time: 's.ts'},
    }
    const q = pageQuery(src, {since: 1, until: 9}, [2, 100], 10, 'rows')
    const plan = (await t.store.query<{detail: string}>(`EXPLAIN QUERY PLAN ${q.sql}`, q.args)).map(r => r.detail).join('\n')
    expect(plan).toMatch(/SEARCH s USING PRIMARY KEY \(part=\? AND ts>\?/)
    expect(plan).not.toMatch(/TEMP B-TREE/)
  })
})

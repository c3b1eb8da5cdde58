/**
 * bulk.ts: statements cut to a byte bound (the remote request limit, issue 13) still carry every
 * row exactly, on a real libSQL file.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {FixedWidthRows, jsonChunks, jsonTextBytes, statementBytes, writeJsonRows, type Sink} from '../../../src/core/bandwidth/bulk.js'
import {openStore, type Store, type Tx} from '../../../src/core/store/index.js'
import {tempStore} from '../../support/cli.js'

/** A sink with a small bound that records each statement's size and runs it. */
function boundedSink(tx: Tx, maxBytes: number): Sink & {sizes: number[]} {
  const sizes: number[] = []
  return {
    maxBytes,
    sizes,
    async write(sql, args) {
      sizes.push(statementBytes(sql, args))
      await tx.execute(sql, args)
    },
    async flush() {},
  }
}

describe('bulk statements under a byte bound', () => {
  const t = tempStore('netmon-bw-bulk-')
  let store: Store
  beforeAll(async () => {
    store = await openStore({db: t.db, migrate: false})
    await store.script(
      'CREATE TABLE r(a INTEGER NOT NULL, ts INTEGER NOT NULL, v INTEGER, PRIMARY KEY (a, ts)) WITHOUT ROWID; CREATE TABLE j(k TEXT, n INTEGER)',
    )
  })
  afterAll(async () => {
    await store.close()
    t.cleanup()
  })

  it('jsonChunks: every chunk within the bound as sent (escaping included), all items in order', () => {
    const items = Array.from({length: 3000}, (_, i) => JSON.stringify([`name "${i}" \\ ${'x'.repeat(i % 50)}`, i]))
    const sql = 'INSERT INTO j SELECT value->>0, value->>1 FROM json_each(?)'
    const chunks = jsonChunks(items, sql, 8192)
    expect(chunks.length).toBeGreaterThan(10)
    for (const c of chunks) expect(statementBytes(sql, [c])).toBeLessThanOrEqual(8192)
    expect(chunks.flatMap(c => JSON.parse(c))).toEqual(items.map(i => JSON.parse(i)))
    expect(jsonTextBytes('a"b')).toBe(6)
    expect(jsonChunks(items, sql, Number.POSITIVE_INFINITY)).toHaveLength(1)
  })

  it('writeJsonRows and FixedWidthRows split by bytes and write every row exactly', async () => {
    const base = Date.now() - 86_400_000
    const rows = Array.from({length: 5000}, (_, i) => ({a: i % 7, ts: base + i * 1000, v: i % 3 === 0 ? null : i * 1_000_003}))
    const sizes = await store.writeTx(async tx => {
      const sink = boundedSink(tx, 4096)
      const fw = new FixedWidthRows(sink, 'INSERT INTO r(a, ts, v)', '', [false, false, true], 7, rows.length, [null, 1])
      for (const r of rows) {
        const o = fw.add(r.a)
        fw.values[o] = r.a
        fw.values[o + 1] = r.ts
        fw.values[o + 2] = r.v ?? -1
      }
      await fw.flush()
      await writeJsonRows(
        sink,
        'INSERT INTO j SELECT value->>0, value->>1 FROM json_each(?)',
        rows.map(r => JSON.stringify([`k${r.a}`, r.ts])),
      )
      return sink.sizes
    })
    expect(sizes.length).toBeGreaterThan(20)
    for (const s of sizes) expect(s).toBeLessThanOrEqual(4096)
    const got = await store.query<{a: number; ts: number; v: number | null}>('SELECT a, ts, v FROM r ORDER BY ts')
    expect(got).toEqual(rows)
    expect((await store.query<{n: number}>('SELECT count(*) AS n FROM j'))[0]!.n).toBe(rows.length)
  })
})

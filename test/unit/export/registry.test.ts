/**
 * Every registered dataset is well formed, and each of its page queries — first page and
 * continuation, with every filter it accepts — is an index range read, never a sort of the
 * table (a "TEMP B-TREE" per page would make an export quadratic). Checked on the real schema
 * (all migrations applied) with and without ANALYZE statistics.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {countQuery, pageQuery} from '../../../src/core/export/engine.js'
import {checkDataset, DATASETS, describeDatasets} from '../../../src/core/export/registry.js'
import type {Dataset, FilterValues, SqlSource} from '../../../src/core/export/types.js'
import {testStore, type TestStore} from './fixtures.js'

let t: TestStore
beforeAll(async () => {
  t = await testStore()
})
afterAll(() => t.cleanup())

function sources(d: Dataset): [string, SqlSource][] {
  return [['raw', d.source], ...Object.entries(d.resolutions ?? {}).map(([r, s]) => [r, s!] as [string, SqlSource])]
}

function filterCombos(s: SqlSource): FilterValues[] {
  const out: FilterValues[] = [{}]
  if (s.filters.time) out.push({since: 1000}, {until: 5000}, {since: 1000, until: 5000})
  if (s.filters.device) out.push({deviceId: 3}, ...(s.filters.time ? [{deviceId: 3, since: 1000, until: 5000}] : []))
  if (s.filters.meter) out.push({meter: 'm1'}, ...(s.filters.time ? [{meter: 'm1', since: 1000}] : []))
  return out
}

const sampleKey = (s: SqlSource) =>
  s.key.map(k => {
    const c = [...s.columns, ...(s.keyOnly ?? []), ...(s.derive?.read ?? [])].find(x => x.name === k)!
    return c.type === 'text' ? 'k' : 5
  })

async function plan(sql: string, args: Record<string, unknown>): Promise<string> {
  const rows = await t.store.query<{detail: string}>(`EXPLAIN QUERY PLAN ${sql}`, args as Record<string, string | number>)
  return rows.map(r => r.detail).join('\n')
}

describe('dataset registry', () => {
  it('names are unique and every definition passes checkDataset', () => {
    const names = DATASETS.map(d => d.name)
    expect(new Set(names).size).toBe(names.length)
    for (const d of DATASETS) expect(() => checkDataset(d), d.name).not.toThrow()
  })

  it('checkDataset catches broken definitions', () => {
    const base = DATASETS[0]!
    const broken = (patch: Partial<SqlSource>): Dataset => ({...base, source: {...base.source, ...patch}})
    expect(() => checkDataset(broken({key: ['nope']}))).toThrow(/not a column/)
    expect(() => checkDataset(broken({key: []}))).toThrow(/no key/)
    expect(() => checkDataset(broken({filters: {device: 'd.id = ?'}}))).toThrow(/:device/)
    expect(() => checkDataset(broken({keyset: 'partitioned'}))).toThrow(/partition column/)
    expect(() => checkDataset({...base, resolutions: {'1h': {...base.source, columns: base.source.columns.slice(0, -1)}}})).toThrow(/same columns/)
  })

  it('--list describes every dataset with its output columns (time columns split into ISO + ms)', () => {
    const list = describeDatasets()
    expect(list.map(d => d.name)).toEqual(DATASETS.map(d => d.name))
    const ev = list.find(d => d.name === 'events')!
    expect(ev.columns.map(c => c.name)).toEqual(['ts', 'ts_ms', 'id', 'type', 'device_id', 'mac', 'detail'])
    expect(ev.filters).toEqual(['since', 'until', 'device'])
  })

  for (const analyzed of [false, true]) {
    it(`every page query of every dataset reads an index range, never sorts (${analyzed ? 'after ANALYZE' : 'no statistics'})`, async () => {
      if (analyzed) await t.store.script('ANALYZE')
      for (const d of DATASETS) {
        for (const [res, s] of sources(d)) {
          for (const f of filterCombos(s)) {
            for (const after of [null, sampleKey(s)]) {
              const q = pageQuery(s, f, after, 100, 'rows')
              const p = await plan(q.sql, q.args)
              const where = `${d.name}/${res} ${JSON.stringify(f)} after=${JSON.stringify(after)}\n${p}`
              expect(p, where).not.toMatch(/TEMP B-TREE/)
              // A partitioned source seeks each partition's series by the time window.
              const series = s.columns.find(c => c.name === s.key[s.key.length - 1])
              if (s.keyset === 'partitioned' && s.filters.time === series?.sql && f.since !== undefined && f.until !== undefined) {
                expect(p, where).toMatch(/SEARCH \w+ USING (PRIMARY KEY|INDEX \w+) \([^)]*=\? AND \w+>\? AND \w+<\?\)/)
              }
              // It runs, too (on an empty store), in both read modes and for the count.
              await t.store.query(q.sql, q.args)
              const j = pageQuery(s, f, after, 100, 'json')
              expect(await t.store.get(j.sql, j.args), where).toEqual({page: '[]'})
            }
            const c = countQuery(s, f)
            expect(await t.store.get(c.sql, c.args)).toEqual({n: 0})
          }
        }
      }
    })
  }
})

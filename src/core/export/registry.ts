/**
 * Every exportable dataset, in `--list` order. Adding one = a Dataset in datasets/ and a line
 * here; test/unit/export/registry.test.ts checks each definition (keys, filters, index use).
 */
import {bandwidth, bandwidthTotals} from './datasets/bandwidth.js'
import {networkMetrics, profileRows, readings} from './datasets/bridge.js'
import {devices, events} from './datasets/core.js'
import {scanHosts, scans} from './datasets/inventory.js'
import {latency, latencyProbes} from './datasets/latency.js'
import type {Dataset, OutputColumn, Resolution} from './types.js'
import {RESOLUTIONS} from './types.js'
import {outputColumns} from './writers.js'

export const DATASETS: readonly Dataset[] = [
  devices,
  events,
  bandwidth,
  bandwidthTotals,
  latency,
  latencyProbes,
  scans,
  scanHosts,
  readings,
  profileRows,
  networkMetrics,
]

export function findDataset(name: string): Dataset | undefined {
  const n = name.trim().toLowerCase()
  return DATASETS.find(d => d.name === n)
}

export function datasetNames(): string[] {
  return DATASETS.map(d => d.name)
}

export interface DatasetInfo {
  name: string
  description: string
  tables: string[]
  filters: string[]
  filter_notes: string | null
  resolutions: Resolution[]
  key: string[]
  columns: OutputColumn[]
}

export function describeDataset(d: Dataset): DatasetInfo {
  const f = d.source.filters
  const filters: string[] = []
  if (f.time) filters.push('since', 'until')
  if (f.device) filters.push('device')
  if (f.meter) filters.push('meter')
  if (d.resolutions) filters.push('resolution')
  return {
    name: d.name,
    description: d.description,
    tables: d.tables,
    filters,
    filter_notes: f.notes ?? null,
    resolutions: d.resolutions ? RESOLUTIONS.filter(r => r === 'raw' || d.resolutions![r as Exclude<Resolution, 'raw'>]) : [],
    // The row order; key-only helper columns (not written) are left out.
    key: d.source.key.filter(k => d.source.columns.some(c => c.name === k)),
    columns: outputColumns(d.source.columns),
  }
}

export function describeDatasets(): DatasetInfo[] {
  return DATASETS.map(describeDataset)
}

/**
 * Checks a definition for the mistakes the engine cannot survive (a missing or unsortable key,
 * resolutions with different columns, a filter fragment without its parameter). Throws.
 */
export function checkDataset(d: Dataset): void {
  const sources = [d.source, ...Object.values(d.resolutions ?? {})]
  const shape = JSON.stringify(outputColumns(d.source.columns).map(c => [c.name, c.type]))
  for (const s of sources) {
    if (!s) continue
    const names = new Set<string>()
    for (const c of s.columns) {
      if (names.has(c.name)) throw new Error(`${d.name}: duplicate column ${c.name}`)
      names.add(c.name)
    }
    for (const o of outputColumns(s.columns)) {
      if (o.type !== 'time_ms' && names.has(o.name) && s.columns.find(c => c.name === o.name)?.type === 'time') continue
      if (o.type === 'time_ms' && names.has(o.name)) throw new Error(`${d.name}: column ${o.name} collides with a time column's _ms`)
    }
    if (s.key.length === 0) throw new Error(`${d.name}: no key`)
    const selected = s.derive ? s.derive.read : [...s.columns, ...(s.keyOnly ?? [])]
    for (const c of selected) if (!c.sql) throw new Error(`${d.name}: column ${c.name} has no SQL`)
    for (const k of s.key) {
      const c = selected.find(x => x.name === k)
      if (!c) throw new Error(`${d.name}: key ${k} is not a column`)
      if (!['integer', 'time', 'text'].includes(c.type)) throw new Error(`${d.name}: key ${k} must be integer, time or text`)
    }
    if (s.keyset === 'partitioned') {
      if (s.key.length < 2) throw new Error(`${d.name}: a partitioned keyset has partition column(s) and a series column`)
      if (!/\bCROSS JOIN\b/i.test(s.from)) throw new Error(`${d.name}: a partitioned keyset needs parent CROSS JOIN child`)
      const series = selected.find(x => x.name === s.key[s.key.length - 1])!
      if (series.type === 'text') throw new Error(`${d.name}: the series key of a partitioned keyset must be numeric`)
    }
    if (JSON.stringify(outputColumns(s.columns).map(c => [c.name, c.type])) !== shape) {
      throw new Error(`${d.name}: every resolution must have the same columns`)
    }
    const t = s.filters.time
    if (t && typeof t === 'object' && 'since' in t && (!t.since.includes(':since') || !t.until.includes(':until'))) {
      throw new Error(`${d.name}: time filter fragments must use :since and :until`)
    }
    if (t && typeof t === 'object' && 'inFrom' in t && (!s.from.includes(':since') || !s.from.includes(':until'))) {
      throw new Error(`${d.name}: an inFrom time filter needs :since and :until in FROM`)
    }
    if (s.filters.device && !s.filters.device.includes(':device')) throw new Error(`${d.name}: device filter must use :device`)
    if (s.filters.meter && !s.filters.meter.sql.includes(':meter')) throw new Error(`${d.name}: meter filter must use :meter`)
  }
}

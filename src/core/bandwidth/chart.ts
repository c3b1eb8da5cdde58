/**
 * Terminal chart for `bandwidth history` (human output only): total rate over time with
 * asciichart, loaded lazily so nothing else pays for it.
 */
import {humanBytes, humanRate} from '../format/units.js'
import {LEVEL_MS} from './retention.js'
import type {HistoryResult} from './query.js'

type AsciiChart = {plot(series: number[], cfg: Record<string, unknown>): string}

/** Rollup points made dense (empty buckets are 0) and squeezed to `width` columns (max per column). */
export function chartSeries(h: HistoryResult, width: number): number[] {
  let values: number[]
  if (h.resolution === 'raw') {
    values = h.points.map(p => p.total_bps ?? 0)
  } else {
    const size = LEVEL_MS[h.resolution]
    const byTs = new Map(h.points.map(p => [p.ts_ms, p.total_bps ?? 0]))
    values = []
    for (let t = h.since_ms; t < h.until_ms && values.length < 100_000; t += size) values.push(byTs.get(t) ?? 0)
  }
  if (values.length <= width) return values
  const out: number[] = []
  const per = values.length / width
  for (let i = 0; i < width; i++) {
    let m = 0
    for (let j = Math.floor(i * per); j < Math.floor((i + 1) * per); j++) m = Math.max(m, values[j]!)
    out.push(m)
  }
  return out
}

export async function renderHistoryChart(h: HistoryResult, columns = process.stdout.columns ?? 100): Promise<string> {
  const head =
    `${h.device.hostname ?? h.device.mac} (${h.device.mac}) · ${h.resolution} · ${h.since} → ${h.until}\n` +
    `total ${humanBytes(h.totals.total_bytes)} (sent ${humanBytes(h.totals.bytes_sent)}, received ${humanBytes(h.totals.bytes_received)}), ${h.totals.samples} samples`
  const series = chartSeries(h, Math.max(20, Math.min(200, columns - 20)))
  const tail = issuesText(h)
  if (series.length < 2) return `${head}\n(not enough points for a chart)${tail}`
  const max = Math.max(...series)
  const [div, unit] = max >= 1e9 ? [1e9, 'Gbit/s'] : max >= 1e6 ? [1e6, 'Mbit/s'] : max >= 1e3 ? [1e3, 'kbit/s'] : [1, 'bit/s']
  const spec = 'asciichart'
  const mod = (await import(spec)) as {default?: AsciiChart} & AsciiChart
  const chart = (mod.default ?? mod).plot(
    series.map(v => v / div),
    {height: 12, format: (x: number) => `${x.toFixed(2).padStart(9)} ${unit} `},
  )
  return `${head}\npeak ${humanRate(max)}\n${chart}${tail}`
}

/** Interface devices: the errors/drops totals and the (last 20) points that counted some; '' otherwise. */
export function issuesText(h: HistoryResult): string {
  const t = h.totals
  if (t.tx_errors === undefined) return ''
  const rows = h.points.filter(p => p.tx_errors || p.rx_errors || p.tx_drops || p.rx_drops).slice(-20)
  const lines = rows.map(p => `  ${p.ts}  errors ${p.tx_errors} / ${p.rx_errors}  drops ${p.tx_drops} / ${p.rx_drops}`)
  return `\ninterface errors tx / rx ${t.tx_errors} / ${t.rx_errors}, drops tx / rx ${t.tx_drops} / ${t.rx_drops}${lines.length ? `\n${lines.join('\n')}` : ''}`
}

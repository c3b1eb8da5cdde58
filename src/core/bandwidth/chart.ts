/**
 * Terminal chart for `bandwidth history` (human output only): total rate over time with
 * asciichart, loaded lazily so nothing else pays for it.
 */
import {humanTime} from '../format/time.js'
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

/** Who a history is about: the promoted name, else the hostname, with the MAC; or the network. */
export function historySubject(h: HistoryResult): string {
  if (h.device === null) return 'network total (all devices)'
  const who = h.device.name ?? h.device.hostname
  return who ? `${who} (${h.device.mac ?? h.device.ip})` : String(h.device.mac ?? h.device.ip)
}

export interface ChartTimeOptions {
  /** Labels in UTC instead of the local zone. */
  utc?: boolean
  tz?: string
}

/** The times at the chart's first, middle and last column (raw: those points'; rollups: the window's). */
export function axisTimes(h: HistoryResult): [number, number, number] {
  if (h.resolution === 'raw' && h.points.length) {
    const p = h.points
    // The squeezed chart's middle column holds the points around the middle one.
    return [p[0]!.ts_ms, p[Math.floor((p.length - 1) / 2)]!.ts_ms, p.at(-1)!.ts_ms]
  }
  return [h.since_ms, Math.round((h.since_ms + h.until_ms) / 2), h.until_ms]
}

/**
 * The time axis under the chart: a tick and a label at the start, middle and end of the plotted
 * columns (`offset`: where the first column is; `width`: how many there are). The middle label is
 * left out where it would touch the others.
 */
export function timeAxis(times: [number, number, number], offset: number, width: number, t: ChartTimeOptions = {}): string {
  const labels = times.map(ms => humanTime(ms, t))
  const last = offset + Math.max(0, width - 1)
  const mid = offset + Math.floor((width - 1) / 2)
  const ticks = Array.from({length: last + 1}, (_, i) => (i === offset || i === last || i === mid ? '╵' : ' ')).join('')
  const line: string[] = Array.from({length: Math.max(last + 1, offset + labels[0]!.length)}, () => ' ')
  const put = (at: number, text: string): void => {
    for (let i = 0; i < text.length; i++) line[at + i] = text[i]!
  }
  const endAt = Math.max(offset, last + 1 - labels[2]!.length)
  const midAt = mid - Math.floor(labels[1]!.length / 2)
  put(offset, labels[0]!)
  // Only when the labels keep two spaces between them.
  if (midAt >= offset + labels[0]!.length + 2 && midAt + labels[1]!.length + 2 <= endAt) put(midAt, labels[1]!)
  if (endAt >= offset + labels[0]!.length + 2) put(endAt, labels[2]!)
  return `${ticks}\n${line.join('').trimEnd()}`
}

/** Room for three time labels (`2026-12-04 21:40 +05:30`, 23 columns) with two spaces between. */
const AXIS_COLUMNS = 76

export async function renderHistoryChart(h: HistoryResult, columns = process.stdout.columns ?? 100, t: ChartTimeOptions = {}): Promise<string> {
  const head =
    `${historySubject(h)} · ${h.resolution} · ${humanTime(h.since_ms, t)} → ${humanTime(h.until_ms, t)}\n` +
    `total ${humanBytes(h.totals.total_bytes)} (sent ${humanBytes(h.totals.bytes_sent)}, received ${humanBytes(h.totals.bytes_received)}), ${h.totals.samples} samples`
  const width = Math.max(20, Math.min(200, columns - 20))
  let series = chartSeries(h, width)
  const tail = issuesText(h)
  if (series.length < 2) return `${head}\n(not enough points for a chart)${tail}`
  // A few buckets (3 h of 5m) would make a chart too narrow for its three time labels: it is
  // stretched to AXIS_COLUMNS columns (each bucket over one or more of them) where there is room.
  const stretched = Math.min(width, AXIS_COLUMNS)
  if (series.length < stretched) {
    const src = series
    series = Array.from({length: stretched}, (_, c) => src[Math.floor((c * src.length) / stretched)]!)
  }
  const max = Math.max(...series)
  const [div, unit] = max >= 1e9 ? [1e9, 'Gbit/s'] : max >= 1e6 ? [1e6, 'Mbit/s'] : max >= 1e3 ? [1e3, 'kbit/s'] : [1, 'bit/s']
  const spec = 'asciichart'
  const mod = (await import(spec)) as {default?: AsciiChart} & AsciiChart
  const chart = (mod.default ?? mod).plot(
    series.map(v => v / div),
    {height: 12, format: (x: number) => `${x.toFixed(2).padStart(9)} ${unit} `},
  )
  // The plotted columns start after the y axis (┤ or ┼) on every row.
  const row = chart.split('\n').at(-1) ?? ''
  const offset = Math.max(row.indexOf('┤'), row.indexOf('┼')) + 1
  return `${head}\npeak ${humanRate(max)}\n${chart}\n${timeAxis(axisTimes(h), offset, series.length, t)}${tail}`
}

/** Interface devices: the errors/drops totals and the (last 20) points that counted some; '' otherwise. */
export function issuesText(h: HistoryResult): string {
  const t = h.totals
  if (t.tx_errors === undefined) return ''
  const rows = h.points.filter(p => p.tx_errors || p.rx_errors || p.tx_drops || p.rx_drops).slice(-20)
  const lines = rows.map(p => `  ${p.ts}  errors ${p.tx_errors} / ${p.rx_errors}  drops ${p.tx_drops} / ${p.rx_drops}`)
  return `\ninterface errors tx / rx ${t.tx_errors} / ${t.rx_errors}, drops tx / rx ${t.tx_drops} / ${t.rx_drops}${lines.length ? `\n${lines.join('\n')}` : ''}`
}

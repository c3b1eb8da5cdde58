/**
 * Terminal chart of a latency history (asciichart for the RTT line, our own strip for loss,
 * SmokePing-style). Pure: points in, text out; the command decides the width.
 *
 * The x axis is the sequence of points (probes, or buckets that have data), not linear time:
 * a history with gaps stays readable. When there are more points than columns, consecutive
 * points are merged: a column shows the median of their RTTs (raw) or of their bucket medians,
 * and the loss of all their probes. Columns where everything was lost repeat the previous RTT on
 * the line and show a full loss block below it.
 */
import {createRequire} from 'node:module'
import type {BucketPoint, LatencyHistory, RawPoint} from './history.js'
import {median} from './stats.js'

type Plot = (series: number[], cfg: {height?: number; format?: (x: number) => string}) => string

interface Column {
  rtt: number | null
  sent: number
  lost: number
}

const isRaw = (h: LatencyHistory): boolean => h.resolution === 'raw'

function columns(h: LatencyHistory, width: number): Column[] {
  const per: Column[] = isRaw(h)
    ? (h.points as RawPoint[]).map(p => ({rtt: p.rtt_ms, sent: 1, lost: p.rtt_ms === null ? 1 : 0}))
    : (h.points as BucketPoint[]).map(p => ({rtt: p.median_ms, sent: p.sent, lost: p.lost}))
  if (per.length <= width) return per
  const out: Column[] = []
  for (let c = 0; c < width; c++) {
    const from = Math.floor((c * per.length) / width)
    const to = Math.floor(((c + 1) * per.length) / width)
    const slice = per.slice(from, to)
    const values = slice
      .map(x => x.rtt)
      .filter((x): x is number => x !== null)
      .sort((a, b) => a - b)
    out.push({rtt: median(values), sent: slice.reduce((a, x) => a + x.sent, 0), lost: slice.reduce((a, x) => a + x.lost, 0)})
  }
  return out
}

/** ' ' no loss, ▁ ≤ 10 %, ▄ ≤ 50 %, █ more (all lost included). */
export function lossMark(lost: number, sent: number): string {
  if (sent === 0 || lost === 0) return ' '
  const pct = (lost / sent) * 100
  return pct <= 10 ? '▁' : pct <= 50 ? '▄' : '█'
}

const LABEL_WIDTH = 12

export function renderLatencyChart(h: LatencyHistory, opts: {width?: number; height?: number} = {}): string {
  const width = Math.max(10, (opts.width ?? 100) - LABEL_WIDTH - 2)
  const cols = columns(h, width)
  if (cols.length === 0) return '(no probes in this range)'
  const firstValue = cols.find(c => c.rtt !== null)?.rtt
  if (firstValue === undefined || firstValue === null) {
    return `(every probe in this range was lost)\n${'loss'.padStart(LABEL_WIDTH - 1)} ${cols.map(c => lossMark(c.lost, c.sent)).join('')}`
  }
  let carry = firstValue
  const series = cols.map(c => (c.rtt === null ? carry : (carry = c.rtt)))
  const plot = (createRequire(import.meta.url)('asciichart') as {plot: Plot}).plot
  const chart = plot(series, {
    height: opts.height ?? 10,
    format: (x: number) => `${x.toFixed(x < 10 ? 3 : x < 100 ? 2 : 1)} ms`.padStart(LABEL_WIDTH - 1),
  })
  const lossLine = `${'loss'.padStart(LABEL_WIDTH - 1)} ${cols.map(c => lossMark(c.lost, c.sent)).join('')}`
  const first = h.points[0]!.ts
  const last = h.points[h.points.length - 1]!.ts
  const axis = ' '.repeat(LABEL_WIDTH) + first + (cols.length > first.length + last.length + 2 ? last.padStart(cols.length - first.length) : `  →  ${last}`)
  const what = isRaw(h) ? 'RTT per probe' : `median RTT per ${h.resolution} bucket`
  const merged = h.points.length > cols.length ? `, ${h.points.length} points in ${cols.length} columns (median of each)` : ''
  return `${chart}\n${lossLine}\n${axis}\n${' '.repeat(LABEL_WIDTH)}(${what}${merged}; loss: ▁ ≤10 %  ▄ ≤50 %  █ >50 %)`
}

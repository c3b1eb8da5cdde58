/** Terminal chart of a meter's bandwidth history for `meters stats` (human output only). */
import {createRequire} from 'node:module'
import type {NetworkStats} from './queries.js'

type Plot = (series: number[] | number[][], cfg?: {height?: number; colors?: string[]; format?: (x: number) => string}) => string

/** Resamples a series to at most `width` points (mean of each bucket) so the chart fits the terminal. */
export function fit(xs: number[], width: number): number[] {
  if (xs.length <= width) return xs
  const out: number[] = []
  for (let i = 0; i < width; i++) {
    const a = Math.floor((i * xs.length) / width)
    const b = Math.max(a + 1, Math.floor(((i + 1) * xs.length) / width))
    const slice = xs.slice(a, b)
    out.push(slice.reduce((s, x) => s + x, 0) / slice.length)
  }
  return out
}

export function renderBandwidthChart(s: NetworkStats, opts: {width?: number; height?: number; color?: boolean} = {}): string {
  if (s.history.timestamp.length < 2) return ''
  const plot = (createRequire(import.meta.url)('asciichart') as {plot: Plot; blue: string; green: string}).plot
  const width = Math.max(10, (opts.width ?? 80) - 14)
  const tx = fit(s.history.bandwidth_tx_mbps, width)
  const rx = fit(s.history.bandwidth_rx_mbps, width)
  const max = Math.max(...tx, ...rx)
  // Small rates read better in kbit/s.
  const kb = max < 1
  const scale = (xs: number[]): number[] => xs.map(x => (kb ? x * 1000 : x))
  const chart = plot([scale(tx), scale(rx)], {
    height: opts.height ?? 10,
    format: (x: number) => x.toFixed(kb ? 1 : 3).padStart(10),
  })
  return `Bandwidth (${kb ? 'kbit/s' : 'Mbit/s'}): first line TX, second RX; ${s.history.timestamp[0]} → ${s.history.timestamp.at(-1)}\n${chart}`
}

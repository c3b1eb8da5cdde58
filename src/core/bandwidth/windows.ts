/**
 * Planning a time window [since, until) over raw samples and rollups (pure).
 *
 * The window is cut into the coarsest whole buckets that fit (days, then hours, then 5-minute
 * buckets at the edges) and raw samples only for the sub-5-minute edges, so `top --since 24h`
 * reads ~24 hourly rows per device instead of 1440 raw ones (issue 4: "rollups for full buckets
 * + raw edges").
 *
 * Where a level has been pruned (before its watermark), the window edge is widened to the next
 * coarser bucket boundary instead; the caller reports the effective window. Because cut-offs are
 * aligned (retention.ts), the answer after pruning equals the answer before for the same
 * effective window.
 */
import {LEVEL_MS, type Level, type Watermarks} from './retention.js'

export interface Segment {
  level: Level
  from: number
  to: number
}

export interface WindowPlan {
  since: number
  until: number
  segments: Segment[]
  widened: boolean
}

const floorTo = (t: number, size: number) => Math.floor(t / size) * size
const ceilTo = (t: number, size: number) => Math.ceil(t / size) * size

/** Moves `since` down (and `until` up) to a bucket boundary of the finest level complete there. */
export function effectiveWindow(since: number, until: number, wm: Watermarks): {since: number; until: number} {
  const snap = (t: number, round: (t: number, s: number) => number): number => {
    if (t >= wm.raw) return t
    let x = round(t, LEVEL_MS['5m'])
    if (x >= wm['5m']) return x
    x = round(t, LEVEL_MS['1h'])
    if (x >= wm['1h']) return x
    return round(t, LEVEL_MS['1d'])
  }
  return {since: snap(since, floorTo), until: snap(until, ceilTo)}
}

const COARSE: Level[] = ['1d', '1h', '5m']

function decompose(from: number, to: number, depth: number, out: Segment[]): void {
  if (from >= to) return
  if (depth >= COARSE.length) {
    out.push({level: 'raw', from, to})
    return
  }
  const level = COARSE[depth]!
  const size = LEVEL_MS[level]
  const a = ceilTo(from, size)
  const b = floorTo(to, size)
  if (a >= b) {
    decompose(from, to, depth + 1, out)
    return
  }
  decompose(from, a, depth + 1, out)
  out.push({level, from: a, to: b})
  decompose(b, to, depth + 1, out)
}

export function planWindow(since: number, until: number, wm: Watermarks): WindowPlan {
  const eff = effectiveWindow(since, until, wm)
  const segments: Segment[] = []
  decompose(eff.since, eff.until, 0, segments)
  return {since: eff.since, until: eff.until, segments, widened: eff.since !== since || eff.until !== until}
}

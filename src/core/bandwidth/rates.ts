/**
 * Rate math (issue 4 "Rates", docs/BANDWIDTH.md). Pure.
 *  - a sample's rate   = its bytes × 8 / seconds since the device's previous sample;
 *  - current           = the latest sample's rate while that sample is recent (currentRate());
 *  - average           = total bytes × 8 / uptime (first seen → last update);
 *  - peak              = the highest total rate of any sample (+ when), upload/download separately.
 * Rates are bits/s; `_bps` fields are rounded integers, `_mbps` = bps / 10^6 (SI, unlike the
 * seed's examples which divided by 2^20); `total_mb` = bytes / 2^20.
 */
import {bpsToMbps, bytesToMb} from '../format/units.js'
import {isoOf} from '../format/time.js'

/** bytes over `intervalMs` → bits/s (exact, not rounded); null without a usable interval. */
export function rateBps(bytes: number, intervalMs: number | null | undefined): number | null {
  if (intervalMs === null || intervalMs === undefined || intervalMs <= 0) return null
  return (bytes * 8000) / intervalMs
}

/** A latest sample younger than this is always "current", whatever the device's interval. */
export const CURRENT_FLOOR_MS = 60_000

export interface CurrentRate {
  up: number | null
  down: number | null
  /** The latest sample is too old to be "now": the rates above are 0. */
  stale: boolean
  /** End of the interval the rate is over (the latest sample), epoch ms; null without samples. */
  asOf: number | null
  /** How old the latest sample may be before the rate is stale. */
  staleAfterMs: number
}

/**
 * The one rule for "current" (issue 13), used by stats, top, /metrics and (through the API) the
 * dashboard: the rate over the device's latest interval, while that interval ended at most
 * max(2 × its length, 60 s) ago; older, the device is not sending "now": 0 and stale.
 * Twice the interval tolerates one late or missed sample; the floor covers collectors that post
 * every few seconds in batches, and clocks a little apart.
 */
export function currentRate(
  t: {curTs: number | null; curSent: number; curReceived: number; curIntervalMs: number | null},
  /** null: no staleness check (the export's raw snapshot of the totals row). */
  now: number | null,
): CurrentRate {
  const staleAfterMs = Math.max(2 * (t.curIntervalMs !== null && t.curIntervalMs > 0 ? t.curIntervalMs : 0), CURRENT_FLOOR_MS)
  if (t.curTs === null) return {up: null, down: null, stale: false, asOf: null, staleAfterMs}
  if (now !== null && now - t.curTs > staleAfterMs) return {up: 0, down: 0, stale: true, asOf: t.curTs, staleAfterMs}
  return {up: rateBps(t.curSent, t.curIntervalMs), down: rateBps(t.curReceived, t.curIntervalMs), stale: false, asOf: t.curTs, staleAfterMs}
}

/** Rounded integer bits/s for storage and `_bps` fields. */
export const intBps = (bps: number | null): number | null => (bps === null ? null : Math.round(bps))

export interface RateTriple {
  upload_mbps: number
  download_mbps: number
  total_mbps: number
  upload_bps: number
  download_bps: number
  total_bps: number
}

/** Upload/download/total as both Mbps (SI) and integer bps; missing rates count as 0. */
export function rateTriple(upBps: number | null, downBps: number | null): RateTriple {
  const up = upBps ?? 0
  const down = downBps ?? 0
  return {
    upload_mbps: bpsToMbps(up),
    download_mbps: bpsToMbps(down),
    total_mbps: bpsToMbps(up + down),
    upload_bps: Math.round(up),
    download_bps: Math.round(down),
    total_bps: Math.round(up + down),
  }
}

export interface PeakShape {
  mbps: number
  bps: number
  timestamp: string | null
  timestamp_ms: number | null
}

export function peakShape(bps: number | null, ts: number | null): PeakShape {
  return {mbps: bpsToMbps(bps ?? 0), bps: bps ?? 0, timestamp: ts === null ? null : isoOf(ts), timestamp_ms: ts}
}

export {bytesToMb}

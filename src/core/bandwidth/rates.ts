/**
 * Rate math (issue 4 "Rates", docs/BANDWIDTH.md). Pure.
 *  - a sample's rate   = its bytes × 8 / seconds since the device's previous sample;
 *  - current           = the latest sample's rate;
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

/**
 * Per-device accounting state of the write path: what a batch reads from bw_totals (and
 * bw_counters), keeps in memory while it runs, and writes back. Pure: no store access.
 */
import type {BandwidthEventType} from '../devices/events.js'
import {DEFAULT_MAX_RATE_BPS, type CounterReading} from './counters.js'

export const RESOLUTIONS = [
  {name: '5m', table: 'bw_rollup_5m', ms: 300_000},
  {name: '1h', table: 'bw_rollup_1h', ms: 3_600_000},
  {name: '1d', table: 'bw_rollup_1d', ms: 86_400_000},
] as const
export type Resolution = (typeof RESOLUTIONS)[number]['name']

/** An open rollup bucket of one device. */
export interface Acc {
  bucket: number
  sent: number
  received: number
  n: number
  peak: number | null
}

export interface DevState {
  id: number
  /** Dense index of the device within this batch. */
  slot: number
  mac: string
  sinceTs: number | null
  resetTs: number | null
  firstTs: number | null
  lastTs: number | null
  bytesSent: number
  bytesReceived: number
  sampleCount: number
  curTs: number | null
  curSent: number
  curReceived: number
  curInterval: number | null
  peakBps: number | null
  peakTs: number | null
  peakUpBps: number | null
  peakUpTs: number | null
  peakDownBps: number | null
  peakDownTs: number | null
  acc: (Acc | null)[]
  counter: CounterReading | null
  counterSource: string | null
  counterTouched: boolean
  touched: boolean
}

export interface TotalsRow {
  device_id: number
  since_ts: number | null
  reset_ts: number | null
  first_ts: number | null
  last_ts: number | null
  bytes_sent: number
  bytes_received: number
  sample_count: number
  cur_ts: number | null
  cur_sent: number | null
  cur_received: number | null
  cur_interval_ms: number | null
  peak_bps: number | null
  peak_ts: number | null
  peak_up_bps: number | null
  peak_up_ts: number | null
  peak_down_bps: number | null
  peak_down_ts: number | null
}

export const TOTALS_COLUMNS = [
  'device_id',
  'since_ts',
  'reset_ts',
  'first_ts',
  'last_ts',
  'bytes_sent',
  'bytes_received',
  'sample_count',
  'cur_ts',
  'cur_sent',
  'cur_received',
  'cur_interval_ms',
  'peak_bps',
  'peak_ts',
  'peak_up_bps',
  'peak_up_ts',
  'peak_down_bps',
  'peak_down_ts',
] as const

export const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))

export function stateFrom(id: number, slot: number, mac: string, t: TotalsRow | undefined): DevState {
  return {
    id,
    slot,
    mac,
    sinceTs: num(t?.since_ts),
    resetTs: num(t?.reset_ts),
    firstTs: num(t?.first_ts),
    lastTs: num(t?.last_ts),
    bytesSent: Number(t?.bytes_sent ?? 0),
    bytesReceived: Number(t?.bytes_received ?? 0),
    sampleCount: Number(t?.sample_count ?? 0),
    curTs: num(t?.cur_ts),
    curSent: Number(t?.cur_sent ?? 0),
    curReceived: Number(t?.cur_received ?? 0),
    curInterval: num(t?.cur_interval_ms),
    peakBps: num(t?.peak_bps),
    peakTs: num(t?.peak_ts),
    peakUpBps: num(t?.peak_up_bps),
    peakUpTs: num(t?.peak_up_ts),
    peakDownBps: num(t?.peak_down_bps),
    peakDownTs: num(t?.peak_down_ts),
    acc: [null, null, null],
    counter: null,
    counterSource: null,
    counterTouched: false,
    touched: false,
  }
}

export function totalsRow(s: DevState): (number | null)[] {
  return [
    s.id,
    s.sinceTs,
    s.resetTs,
    s.firstTs,
    s.lastTs,
    s.bytesSent,
    s.bytesReceived,
    s.sampleCount,
    s.curTs,
    s.curTs === null ? null : s.curSent,
    s.curTs === null ? null : s.curReceived,
    s.curInterval,
    s.peakBps,
    s.peakTs,
    s.peakUpBps,
    s.peakUpTs,
    s.peakDownBps,
    s.peakDownTs,
  ]
}

export function updatePeaks(st: DevState, ts: number, sent: number, received: number, interval: number | null): void {
  if (interval === null || interval <= 0) return
  const up = Math.round((sent * 8000) / interval)
  const down = Math.round((received * 8000) / interval)
  const total = Math.round(((sent + received) * 8000) / interval)
  if (st.peakBps === null || total > st.peakBps) {
    st.peakBps = total
    st.peakTs = ts
  }
  if (st.peakUpBps === null || up > st.peakUpBps) {
    st.peakUpBps = up
    st.peakUpTs = ts
  }
  if (st.peakDownBps === null || down > st.peakDownBps) {
    st.peakDownBps = down
    st.peakDownTs = ts
  }
}

/** The `rate_implausible` event: a delta whose rate over its interval is faster than the link can be. */
export interface RateEvent {
  type: Extract<BandwidthEventType, 'rate_implausible'>
  detail: {interval_ms: number; bytes_sent: number; bytes_received: number; upload_bps: number; download_bps: number; max_rate_bps: number}
}

/**
 * Delta-mode plausibility (issue 13): the same bound counter mode applies (`--max-rate`, per
 * direction). Returns the event when either direction is faster, else null.
 */
export function implausibleRate(sent: number, received: number, intervalMs: number, maxRateBps = DEFAULT_MAX_RATE_BPS): RateEvent | null {
  if (intervalMs <= 0) return null
  const up = (sent * 8000) / intervalMs
  const down = (received * 8000) / intervalMs
  if (up <= maxRateBps && down <= maxRateBps) return null
  return {
    type: 'rate_implausible',
    detail: {
      interval_ms: intervalMs,
      bytes_sent: sent,
      bytes_received: received,
      upload_bps: Math.round(up),
      download_bps: Math.round(down),
      max_rate_bps: maxRateBps,
    },
  }
}

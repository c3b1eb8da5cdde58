/**
 * Counter mode (issue 4): turning cumulative interface/device counters into per-interval bytes.
 * A pure function with a table of edge cases (test/unit/bandwidth/counters.test.ts), because
 * this is where vnStat and node_exporter shipped wrap/reset bugs for years.
 *
 * Rules (docs/BANDWIDTH.md has the same table):
 *  - no previous reading            → baseline: a zero-byte sample (the start of the first interval,
 *                                     so the next reading's rate has a denominator); the reading is stored.
 *  - same timestamp, same counters  → duplicate: nothing recorded (a retried cron run).
 *  - same timestamp, counter up     → the increase is recorded at that time (no rate check:
 *                                     there is no elapsed time to judge it by).
 *  - same timestamp, counter down   → reset (a wrap needs time).
 *  - earlier timestamp, counters not above the previous reading (or below it by a plausible wrap)
 *                                   → late: a reading taken before the previous one that arrived after
 *                                     it (overlapping cron runs, a buffering collector). Its bytes are
 *                                     already inside the recorded interval: nothing recorded, and the
 *                                     previous reading stays the reference (else the next interval
 *                                     would count the same bytes again).
 *  - earlier timestamp, a counter above the previous reading
 *                                   → the clock went backwards: nothing recorded for that interval
 *                                     (its bytes cannot be placed in time), event with the bytes;
 *                                     the reading becomes the reference.
 *  - counter up                     → delta; if it implies more than --max-rate → spike: treated
 *                                     like a reset (a replaced interface / counter), zero + event.
 *  - the source rebooted since the previous reading (its boot time is after that reading)
 *                                   → reset, whatever the counters did (they restarted from zero).
 *  - counter down                   → an N-bit wrap (32 when the previous value fits 32 bits, else 64)
 *                                     only if the wrap is the shorter way round the counter: the
 *                                     implied movement 2^N − prev + cur is at most half the range
 *                                     (2^(N−1)), and it fits the source's maximum rate (the link
 *                                     speed when known, else --max-rate); else a reset (reboot,
 *                                     interface re-created). A reboot from 1 GB to 0 would be a
 *                                     3.3 GB "wrap" of a 32-bit counter: longer than the 1 GB way
 *                                     back, so it is a reset; a counter 1 B below its previous value
 *                                     would be a 4 GiB wrap: a reset too. A counter read so rarely
 *                                     that it moves more than half its range between readings
 *                                     cannot be told from a reset (and a whole range is invisible).
 *  - a reset or spike in either direction zeroes the whole interval (both directions): a reboot
 *    resets both counters, and a direction that merely grew past its old value is unreliable.
 *  - a reset/spike records a zero-byte sample, so the next interval starts at this reading.
 */
import type {BandwidthEventType} from '../devices/events.js'
export const TWO_32 = 1n << 32n
export const TWO_64 = 1n << 64n
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

export type CounterBits = 32 | 64 | 'auto'

export interface CounterReading {
  /** epoch ms */
  ts: number
  sent: bigint
  received: bigint
}

export interface CounterOptions {
  /** Highest plausible rate, bits/s (default 10 Gbit/s). */
  maxRateBps: number
  /** Counter width: 32, 64, or decide per wrap (auto). */
  bits: CounterBits
  /** The interface's link speed, bits/s, where the source knows it (sysfs speed, SNMP ifHighSpeed). */
  linkSpeedBps?: number
  /** When the source last booted (epoch ms), where it knows it (/proc/stat btime, now − sysUpTime). */
  bootTimeMs?: number
}

/** What a source knows about one device beyond its counters (per reading batch); `bits` overrides the batch's width. */
export type CounterContext = Pick<CounterOptions, 'linkSpeedBps' | 'bootTimeMs'> & {bits?: 32 | 64}

export const DEFAULT_MAX_RATE_BPS = 10_000_000_000

/**
 * A wrap may run this much faster than the link speed: a driver that refreshes its counters
 * every second or two can show more than one interval's bytes in a short one.
 */
export const LINK_SPEED_HEADROOM = 1.5

/**
 * A boot time this close after the previous reading is not taken as a reboot: btime is whole
 * seconds and moves with clock adjustments, and a real reboot (shutdown, firmware, kernel) takes longer.
 */
export const BOOT_SLACK_MS = 5000

/** The highest rate a wrap may imply: the link speed (with headroom) when known, never above --max-rate. */
export function wrapRateBps(opts: CounterOptions): number {
  const link = opts.linkSpeedBps
  return link !== undefined && link > 0 ? Math.min(opts.maxRateBps, link * LINK_SPEED_HEADROOM) : opts.maxRateBps
}

/** Did the source boot after the previous reading was taken? */
export const rebootedSince = (prev: CounterReading, opts: CounterOptions): boolean => opts.bootTimeMs !== undefined && opts.bootTimeMs > prev.ts + BOOT_SLACK_MS

export type DirectionKind = 'delta' | 'wrap32' | 'wrap64' | 'reset' | 'spike'

export interface DirectionResult {
  kind: DirectionKind
  /** Bytes this direction contributes (0 for reset/spike). */
  bytes: bigint
}

export type Outcome = 'baseline' | 'duplicate' | 'late' | 'delta' | 'wrap' | 'reset' | 'spike' | 'clock_backwards'

export interface CounterEvent {
  type: Extract<BandwidthEventType, 'counter_wrap' | 'counter_reset' | 'counter_spike' | 'clock_backwards'>
  detail: Record<string, unknown>
}

export interface CounterStep {
  outcome: Outcome
  /** The sample to record at `next.ts`, or null (nothing recorded). */
  record: {sent: number; received: number} | null
  event: CounterEvent | null
  /** The reading to remember for the next step. */
  next: CounterReading
  sent?: DirectionResult
  received?: DirectionResult
}

/** Is `bytes` over `ms` milliseconds at most `maxRateBps`? (integer math, no rounding) */
function plausible(bytes: bigint, ms: number, maxRateBps: number): boolean {
  // bytes·8 / (ms/1000) ≤ max  ⇔  bytes·8000 ≤ max·ms
  return bytes * 8000n <= BigInt(Math.floor(maxRateBps)) * BigInt(Math.round(ms)) && bytes <= MAX_SAFE
}

function direction(prev: bigint, cur: bigint, ms: number, opts: CounterOptions): DirectionResult {
  if (cur >= prev) {
    const d = cur - prev
    return plausible(d, ms, opts.maxRateBps) ? {kind: 'delta', bytes: d} : {kind: 'spike', bytes: 0n}
  }
  // A counter that went down wrapped only if the wrap is the shorter way round (at most half the
  // range) and fits the source's rate; going the long way round is what a reboot looks like.
  const rate = wrapRateBps(opts)
  const wrap = (range: bigint): bigint | null => {
    const d = range - prev + cur
    return d <= range >> 1n && plausible(d, ms, rate) ? d : null
  }
  if (opts.bits !== 64 && prev < TWO_32) {
    const d = wrap(TWO_32)
    if (d !== null) return {kind: 'wrap32', bytes: d}
  }
  if (opts.bits !== 32) {
    const d = wrap(TWO_64)
    if (d !== null) return {kind: 'wrap64', bytes: d}
  }
  return {kind: 'reset', bytes: 0n}
}

const str = (r: CounterReading) => ({ts: r.ts, sent: r.sent.toString(), received: r.received.toString()})

export function stepCounter(prev: CounterReading | null, cur: CounterReading, opts: CounterOptions): CounterStep {
  if (prev === null) return {outcome: 'baseline', record: {sent: 0, received: 0}, event: null, next: cur}

  if (cur.ts < prev.ts) {
    // Late: read before `prev`, so going from it to `prev` must be forward movement — the counter
    // not above prev's, or above it but with a plausible wrap in between that is a smaller movement
    // than the counter's rise (a late reading from just before a busy 32-bit counter wrapped;
    // a clock that went back shows the opposite: a small rise, an implausibly long wrap).
    const before = (c: bigint, p: bigint) => {
      if (c <= p) return true
      const w = direction(c, p, prev.ts - cur.ts, opts)
      return (w.kind === 'wrap32' || w.kind === 'wrap64') && w.bytes < c - p
    }
    if (before(cur.sent, prev.sent) && before(cur.received, prev.received)) return {outcome: 'late', record: null, event: null, next: prev}
  }
  if (cur.ts < prev.ts) {
    const skipped = (p: bigint, c: bigint) => (c >= p ? (c - p).toString() : null)
    return {
      outcome: 'clock_backwards',
      record: null,
      next: cur,
      event: {
        type: 'clock_backwards',
        detail: {
          previous: str(prev),
          reading: str(cur),
          // What the counters moved by in that interval; not recorded because it has no place in time.
          unrecorded_bytes_sent: skipped(prev.sent, cur.sent),
          unrecorded_bytes_received: skipped(prev.received, cur.received),
        },
      },
    }
  }

  if (cur.ts === prev.ts) {
    if (cur.sent === prev.sent && cur.received === prev.received) {
      return {outcome: 'duplicate', record: null, event: null, next: prev}
    }
    if (cur.sent < prev.sent || cur.received < prev.received) {
      return {
        outcome: 'reset',
        record: null,
        next: cur,
        event: {type: 'counter_reset', detail: {previous: str(prev), reading: str(cur), reason: 'counter went down with no time elapsed'}},
      }
    }
    const ds = cur.sent - prev.sent
    const dr = cur.received - prev.received
    if (ds > MAX_SAFE || dr > MAX_SAFE) {
      return {
        outcome: 'spike',
        record: null,
        next: cur,
        event: {type: 'counter_spike', detail: {previous: str(prev), reading: str(cur), reason: 'increase too large to be real'}},
      }
    }
    return {
      outcome: 'delta',
      record: {sent: Number(ds), received: Number(dr)},
      event: null,
      next: cur,
      sent: {kind: 'delta', bytes: ds},
      received: {kind: 'delta', bytes: dr},
    }
  }

  const ms = cur.ts - prev.ts
  if (rebootedSince(prev, opts)) {
    // The counters restarted from zero in between, whichever way they moved: what was counted
    // before the reboot since `prev` is unknown, so the interval is zero, like any reset.
    return {
      outcome: 'reset',
      record: {sent: 0, received: 0},
      next: cur,
      sent: {kind: 'reset', bytes: 0n},
      received: {kind: 'reset', bytes: 0n},
      event: {
        type: 'counter_reset',
        detail: {previous: str(prev), reading: str(cur), interval_ms: ms, reason: 'the source rebooted', boot_time_ms: opts.bootTimeMs},
      },
    }
  }
  const sent = direction(prev.sent, cur.sent, ms, opts)
  const received = direction(prev.received, cur.received, ms, opts)
  const kinds = [sent.kind, received.kind]
  const detail = {
    previous: str(prev),
    reading: str(cur),
    interval_ms: ms,
    sent: sent.kind,
    received: received.kind,
    max_rate_bps: opts.maxRateBps,
    ...(opts.linkSpeedBps === undefined ? {} : {link_speed_bps: opts.linkSpeedBps}),
  }
  if (kinds.includes('reset') || kinds.includes('spike')) {
    const outcome = kinds.includes('reset') ? 'reset' : 'spike'
    return {
      outcome,
      record: {sent: 0, received: 0},
      next: cur,
      sent,
      received,
      event: {type: outcome === 'reset' ? 'counter_reset' : 'counter_spike', detail},
    }
  }
  const wrapped = kinds.some(k => k === 'wrap32' || k === 'wrap64')
  return {
    outcome: wrapped ? 'wrap' : 'delta',
    record: {sent: Number(sent.bytes), received: Number(received.bytes)},
    next: cur,
    sent,
    received,
    event: wrapped ? {type: 'counter_wrap', detail: {...detail, bytes_sent: sent.bytes.toString(), bytes_received: received.bytes.toString()}} : null,
  }
}

/** Parses a counter value: a non-negative decimal integer below 2^64 (or 2^32 for 32-bit counters). */
export function parseCounter(value: unknown, bits: CounterBits): bigint | string {
  let v: bigint
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) return 'must be a non-negative integer'
    if (!Number.isSafeInteger(value)) return 'is above 2^53 as a JSON number and lost precision; send it as a string'
    v = BigInt(value)
  } else if (typeof value === 'string' && /^\d{1,20}$/.test(value.trim())) {
    v = BigInt(value.trim())
  } else {
    return 'must be a non-negative integer'
  }
  if (v >= TWO_64) return 'is not below 2^64'
  if (bits === 32 && v >= TWO_32) return 'is not below 2^32 (--counter-bits 32)'
  return v
}

/** Parses `10G`, `10Gbit`, `100M`, `1e9`, `500000000` (bits per second; SI prefixes). */
export function parseRate(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kmgt])?\s*(?:bit\/s|bps|bit|b)?\s*$/i.exec(text)
  if (!m) return null
  const mult = {'': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12}[(m[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g' | 't']
  const v = Number(m[1]) * mult
  return Number.isFinite(v) && v > 0 ? Math.round(v) : null
}

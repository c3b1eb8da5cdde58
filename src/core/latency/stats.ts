/**
 * Latency statistics and the quality grade (issue 6): pure functions over an RTT series, so the
 * numbers are tested on hand-computed fixtures and the same code summarises a live run, a watch
 * round and a history bucket.
 *
 * Definitions (docs/LATENCY.md states them for users):
 * - The series is in send order; `null` is a lost probe (no reply within the timeout).
 * - loss % = (sent − received) / sent × 100.
 * - stddev is the POPULATION standard deviation (divide by n), the same as iputils' `mdev`, so a
 *   user comparing with `ping` sees the same number.
 * - median: the middle value, or the mean of the two middle values for an even count.
 * - jitter: mean of |RTT(i) − RTT(i−1)| over consecutive RECEIVED replies (lost probes are
 *   skipped, not treated as zero). This is the interarrival difference of RFC 3550 §6.4.1 without
 *   its 1/16 exponential smoothing: the plain mean is reproducible from the stored probes.
 *   Undefined (null) with fewer than two replies.
 */

export type Grade = 'excellent' | 'good' | 'fair' | 'poor' | 'bad'

export interface LatencyStats {
  sent: number
  received: number
  lost: number
  /** 0–100, two decimals. */
  loss_pct: number
  /** Milliseconds, three decimals (µs, ping's resolution); null when nothing was received. */
  min_ms: number | null
  avg_ms: number | null
  max_ms: number | null
  median_ms: number | null
  stddev_ms: number | null
  /** null with fewer than two replies. */
  jitter_ms: number | null
  /** null when nothing was sent. */
  grade: Grade | null
}

/**
 * The grade table: a run gets the first grade whose three limits it meets (all inclusive);
 * otherwise `bad`. A host with no reply at all is `bad`; a missing jitter (one reply) is not held
 * against it. Printed verbatim in `netmon latency --help` and docs/LATENCY.md.
 */
export const GRADE_TABLE: readonly {grade: Exclude<Grade, 'bad'>; avg_ms: number; jitter_ms: number; loss_pct: number}[] = [
  {grade: 'excellent', avg_ms: 20, jitter_ms: 5, loss_pct: 0},
  {grade: 'good', avg_ms: 50, jitter_ms: 10, loss_pct: 1},
  {grade: 'fair', avg_ms: 100, jitter_ms: 20, loss_pct: 3},
  {grade: 'poor', avg_ms: 200, jitter_ms: 50, loss_pct: 10},
]

/** The grade table as plain text (for --help and the docs). */
export function gradeTableText(): string {
  const rows = GRADE_TABLE.map(
    r =>
      `  ${r.grade.padEnd(10)} avg ≤ ${String(r.avg_ms).padStart(3)} ms   jitter ≤ ${String(r.jitter_ms).padStart(2)} ms   loss ≤ ${String(r.loss_pct).padStart(2)} %`,
  )
  return ['Quality grade: the first row whose three limits are all met (otherwise bad; no reply at all is bad):', ...rows, '  bad        anything worse'].join(
    '\n',
  )
}

export function gradeOf(avgMs: number | null, jitterMs: number | null, lossPct: number, sent: number): Grade | null {
  if (sent === 0) return null
  if (avgMs === null) return 'bad'
  for (const row of GRADE_TABLE) {
    if (avgMs <= row.avg_ms && (jitterMs === null || jitterMs <= row.jitter_ms) && lossPct <= row.loss_pct) return row.grade
  }
  return 'bad'
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000
const r2 = (x: number): number => Math.round(x * 100) / 100

export function median(sorted: readonly number[]): number | null {
  const n = sorted.length
  if (n === 0) return null
  const mid = n >> 1
  return n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Mean absolute difference between consecutive values (already filtered to received replies). */
export function meanAbsDiff(values: readonly number[]): number | null {
  if (values.length < 2) return null
  let sum = 0
  for (let i = 1; i < values.length; i++) sum += Math.abs(values[i]! - values[i - 1]!)
  return sum / (values.length - 1)
}

/**
 * Summarises one series. `jitterSeries` lets a caller that merges several runs (history buckets)
 * supply the consecutive differences itself; by default they come from `rtts` in order.
 */
export function summarize(rtts: readonly (number | null)[], jitterDiffs?: readonly number[]): LatencyStats {
  const got: number[] = []
  for (const v of rtts) if (v !== null && v !== undefined) got.push(v)
  const sent = rtts.length
  const received = got.length
  const lossPct = sent === 0 ? 0 : ((sent - received) / sent) * 100
  let avg: number | null = null
  let stddev: number | null = null
  let min: number | null = null
  let max: number | null = null
  let med: number | null = null
  if (received > 0) {
    let sum = 0
    for (const v of got) sum += v
    avg = sum / received
    let sq = 0
    for (const v of got) sq += (v - avg) ** 2
    stddev = Math.sqrt(sq / received)
    const sorted = [...got].sort((a, b) => a - b)
    min = sorted[0]!
    max = sorted[sorted.length - 1]!
    med = median(sorted)
  }
  let jitter: number | null
  if (jitterDiffs) jitter = jitterDiffs.length ? jitterDiffs.reduce((a, b) => a + b, 0) / jitterDiffs.length : null
  else jitter = meanAbsDiff(got)
  return {
    sent,
    received,
    lost: sent - received,
    loss_pct: r2(lossPct),
    min_ms: min === null ? null : r3(min),
    avg_ms: avg === null ? null : r3(avg),
    max_ms: max === null ? null : r3(max),
    median_ms: med === null ? null : r3(med),
    stddev_ms: stddev === null ? null : r3(stddev),
    jitter_ms: jitter === null ? null : r3(jitter),
    // Graded on the unrounded values so a boundary case is decided by the data, not the display.
    grade: gradeOf(avg, jitter, lossPct, sent),
  }
}

/** A binary heap (min-heap under `less`), for the running median. */
class Heap {
  private a: number[] = []
  constructor(private readonly less: (x: number, y: number) => boolean) {}
  get size(): number {
    return this.a.length
  }
  peek(): number {
    return this.a[0]!
  }
  push(v: number): void {
    const a = this.a
    a.push(v)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(a[i]!, a[p]!)) break
      ;[a[i], a[p]] = [a[p]!, a[i]!]
      i = p
    }
  }
  pop(): number {
    const a = this.a
    const top = a[0]!
    const last = a.pop()!
    if (a.length > 0) {
      a[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < a.length && this.less(a[l]!, a[m]!)) m = l
        if (r < a.length && this.less(a[r]!, a[m]!)) m = r
        if (m === i) break
        ;[a[i], a[m]] = [a[m]!, a[i]!]
        i = m
      }
    }
    return top
  }
}

/**
 * The same statistics as summarize(), kept incrementally for a long `--watch` (redrawn several
 * times a second over hours of probes): Welford's mean/variance, a two-heap running median and a
 * running jitter sum. O(log n) per probe, O(1) per snapshot.
 */
export class RunningStats {
  private sent = 0
  private n = 0
  private mean = 0
  private m2 = 0
  private min = Infinity
  private max = -Infinity
  private prev: number | null = null
  private jitterSum = 0
  private jitterN = 0
  private readonly low = new Heap((x, y) => x > y) // max-heap: lower half
  private readonly high = new Heap((x, y) => x < y) // min-heap: upper half
  last: number | null = null

  add(rtt: number | null): void {
    this.sent++
    this.last = rtt
    if (rtt === null) return
    this.n++
    const d = rtt - this.mean
    this.mean += d / this.n
    this.m2 += d * (rtt - this.mean)
    if (rtt < this.min) this.min = rtt
    if (rtt > this.max) this.max = rtt
    if (this.prev !== null) {
      this.jitterSum += Math.abs(rtt - this.prev)
      this.jitterN++
    }
    this.prev = rtt
    if (this.low.size === 0 || rtt <= this.low.peek()) this.low.push(rtt)
    else this.high.push(rtt)
    if (this.low.size > this.high.size + 1) this.high.push(this.low.pop())
    else if (this.high.size > this.low.size) this.low.push(this.high.pop())
  }

  snapshot(): LatencyStats {
    const sent = this.sent
    const received = this.n
    const lossPct = sent === 0 ? 0 : ((sent - received) / sent) * 100
    const has = received > 0
    const med = !has ? null : this.low.size > this.high.size ? this.low.peek() : (this.low.peek() + this.high.peek()) / 2
    const jitter = this.jitterN > 0 ? this.jitterSum / this.jitterN : null
    const avg = has ? this.mean : null
    return {
      sent,
      received,
      lost: sent - received,
      loss_pct: r2(lossPct),
      min_ms: has ? r3(this.min) : null,
      avg_ms: avg === null ? null : r3(avg),
      max_ms: has ? r3(this.max) : null,
      median_ms: med === null ? null : r3(med),
      stddev_ms: has ? r3(Math.sqrt(Math.max(0, this.m2 / received))) : null,
      jitter_ms: jitter === null ? null : r3(jitter),
      grade: gradeOf(avg, jitter, lossPct, sent),
    }
  }
}

/** A fixed-size ring of rate samples (default 300 = 5 minutes at 1 s), oldest overwritten first. */

export interface RateSample {
  /** End of the sampled interval, epoch ms. */
  ts: number
  intervalMs: number
  txBps: number
  rxBps: number
  txPps: number
  rxPps: number
  /** Errors and drops each way counted in the interval (packets, not a rate). */
  txErrors?: number
  rxErrors?: number
  txDrops?: number
  rxDrops?: number
}

export interface IssueCounts {
  txErrors: number
  rxErrors: number
  txDrops: number
  rxDrops: number
}

export class RateRing {
  private readonly buf: (RateSample | undefined)[]
  private next = 0
  private count = 0

  constructor(readonly capacity = 300) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer')
    this.buf = new Array(capacity)
  }

  push(s: RateSample): void {
    this.buf[this.next] = s
    this.next = (this.next + 1) % this.capacity
    if (this.count < this.capacity) this.count++
  }

  get size(): number {
    return this.count
  }

  latest(): RateSample | undefined {
    if (this.count === 0) return undefined
    return this.buf[(this.next - 1 + this.capacity) % this.capacity]
  }

  /** Oldest first. */
  toArray(): RateSample[] {
    const out: RateSample[] = []
    for (let i = 0; i < this.count; i++) out.push(this.buf[(this.next - this.count + i + this.capacity) % this.capacity]!)
    return out
  }

  /** Samples whose interval ended after `sinceMs` (exclusive) up to `untilMs` (inclusive). */
  between(sinceMs: number, untilMs = Infinity): RateSample[] {
    return this.toArray().filter(s => s.ts > sinceMs && s.ts <= untilMs)
  }

  /** Errors and drops counted by the samples in (sinceMs, untilMs]: sums, not rates. */
  issues(sinceMs: number, untilMs = Infinity): IssueCounts {
    const acc: IssueCounts = {txErrors: 0, rxErrors: 0, txDrops: 0, rxDrops: 0}
    for (const s of this.between(sinceMs, untilMs)) {
      acc.txErrors += s.txErrors ?? 0
      acc.rxErrors += s.rxErrors ?? 0
      acc.txDrops += s.txDrops ?? 0
      acc.rxDrops += s.rxDrops ?? 0
    }
    return acc
  }

  /**
   * Time-weighted average of the samples in (sinceMs, untilMs]: rates weighted by their interval,
   * so a late tick does not count more than its share. Zeros when there is no sample.
   */
  average(sinceMs: number, untilMs = Infinity): {txBps: number; rxBps: number; txPps: number; rxPps: number; samples: number} {
    const xs = this.between(sinceMs, untilMs)
    let w = 0
    const acc = {txBps: 0, rxBps: 0, txPps: 0, rxPps: 0}
    for (const s of xs) {
      w += s.intervalMs
      acc.txBps += s.txBps * s.intervalMs
      acc.rxBps += s.rxBps * s.intervalMs
      acc.txPps += s.txPps * s.intervalMs
      acc.rxPps += s.rxPps * s.intervalMs
    }
    if (w === 0) return {txBps: 0, rxBps: 0, txPps: 0, rxPps: 0, samples: 0}
    return {txBps: acc.txBps / w, rxBps: acc.rxBps / w, txPps: acc.txPps / w, rxPps: acc.rxPps / w, samples: xs.length}
  }
}

/**
 * The pure accounting (account.ts) without SQLite: what rows, late samples, events and outcomes
 * a sequence of samples and counter readings produces. The store-level behaviour of the same
 * rules is covered by ingest.test.ts's reference model; this pins the accountant's own output.
 */
import {describe, expect, it} from 'vitest'
import {Accountant, type RowOut} from '../../../src/core/bandwidth/account.js'
import {stateFrom, type DevState} from '../../../src/core/bandwidth/state.js'
import {DAY, MINUTE} from '../../support/clock.js'

interface RawRow {
  ts: number
  sent: number
  received: number
  interval: number | null
  fresh: boolean
}
interface RollupRow {
  level: number
  bucket: number
  sent: number
  received: number
  n: number
  peak: number | null
  fresh: boolean
}

function collector(): {out: RowOut; raw: RawRow[]; rollups: RollupRow[]} {
  const raw: RawRow[] = []
  const rollups: RollupRow[] = []
  return {
    raw,
    rollups,
    out: {
      raw: (_st, ts, sent, received, interval, fresh) => raw.push({ts, sent, received, interval, fresh}),
      // Copy: the accountant reuses the bucket object after closing it.
      rollup: (level, _st, a, fresh) => rollups.push({level, bucket: a.bucket, sent: a.sent, received: a.received, n: a.n, peak: a.peak, fresh}),
    },
  }
}

// A day boundary before now: buckets of every level start there (no calendar date, nothing stored).
const T0 = Math.floor(Date.now() / DAY) * DAY - DAY

const closeAll = (acc: Accountant, st: DevState) => {
  for (let i = 0; i < 3; i++) acc.close(i, st)
}

describe('Accountant (pure accounting)', () => {
  it('places samples: intervals, same-time sums, late ones aside, buckets closed with sums and peaks', () => {
    const c = collector()
    const st = stateFrom(7, 0, '02:00:00:00:00:07', undefined)
    const acc = new Accountant(c.out, {maxRateBps: 1e10, newAfter: [Number.NEGATIVE_INFINITY], wantDetail: true})
    acc.sample(st, T0 + MINUTE, 1000, 2000) // first: no interval
    acc.sample(st, T0 + 2 * MINUTE, 600, 0) // 60 s after: 80 bit/s up
    acc.sample(st, T0 + 2 * MINUTE, 150, 300) // same time: summed, same interval, the upsert
    acc.sample(st, T0 + 7 * MINUTE, 3000, 3000) // next 5m bucket: closes the first
    acc.sample(st, T0 + 30_000, 5, 5) // before the latest: late
    expect(c.raw).toEqual([
      {ts: T0 + MINUTE, sent: 1000, received: 2000, interval: null, fresh: true},
      {ts: T0 + 2 * MINUTE, sent: 600, received: 0, interval: MINUTE, fresh: true},
      {ts: T0 + 2 * MINUTE, sent: 150, received: 300, interval: MINUTE, fresh: false},
      {ts: T0 + 7 * MINUTE, sent: 3000, received: 3000, interval: 5 * MINUTE, fresh: true},
    ])
    expect(acc.late).toEqual([`[7,${T0 + 30_000},5,5]`])
    expect(acc.lateCount).toBe(1)
    // Only the first 5m bucket closed so far; its peak is the summed 60 s sample: (750+300)·8/60 bit/s.
    expect(c.rollups).toEqual([{level: 0, bucket: T0, sent: 1750, received: 2300, n: 3, peak: 140, fresh: true}])
    closeAll(acc, st)
    expect(c.rollups.slice(1)).toEqual([
      {level: 0, bucket: T0 + 5 * MINUTE, sent: 3000, received: 3000, n: 1, peak: 160, fresh: true},
      {level: 1, bucket: T0, sent: 4750, received: 5300, n: 4, peak: 160, fresh: true},
      {level: 2, bucket: T0, sent: 4750, received: 5300, n: 4, peak: 160, fresh: true},
    ])
    // Totals count every byte (late ones too); the latest sample is the summed one's successor.
    expect([acc.recorded, acc.sumSent, acc.sumReceived]).toEqual([5, 4755, 5305])
    expect([st.bytesSent, st.bytesReceived, st.sampleCount, st.curTs, st.firstTs]).toEqual([4755, 5305, 5, T0 + 7 * MINUTE, T0 + 30_000])
    expect(acc.details.map(d => [d.interval_ms, d.late, d.total_bps])).toEqual([
      [null, false, null],
      [MINUTE, false, 80],
      [MINUTE, false, 140],
      [5 * MINUTE, false, 160],
      [null, true, null],
    ])
  })

  it('an impossible rate keeps the bytes, drops the interval and raises rate_implausible', () => {
    const c = collector()
    const st = stateFrom(1, 0, '02:00:00:00:00:01', undefined)
    const acc = new Accountant(c.out, {maxRateBps: 1e6, newAfter: [Number.NEGATIVE_INFINITY], wantDetail: false})
    acc.sample(st, T0, 1, 1)
    acc.sample(st, T0 + 1000, 1_000_000, 0) // 8 Mbit/s > 1 Mbit/s
    expect(c.raw[1]).toEqual({ts: T0 + 1000, sent: 1_000_000, received: 0, interval: null, fresh: true})
    expect(acc.events.map(e => [e.deviceId, e.event.type])).toEqual([[1, 'rate_implausible']])
    expect(st.bytesSent).toBe(1_000_001)
    expect(acc.details).toEqual([])
  })

  it('buckets at or before the stored latest sample take the upsert (not fresh)', () => {
    const c = collector()
    const st = stateFrom(3, 0, '02:00:00:00:00:03', undefined)
    // The store's latest sample is at T0 + 4 min: T0's buckets may already hold rows.
    const acc = new Accountant(c.out, {maxRateBps: 1e10, newAfter: [T0 + 4 * MINUTE], wantDetail: false})
    acc.sample(st, T0 + 4.5 * MINUTE, 10, 10)
    acc.sample(st, T0 + 6 * MINUTE, 10, 10)
    closeAll(acc, st)
    expect(c.rollups.map(r => [r.level, r.bucket - T0, r.fresh])).toEqual([
      [0, 0, false],
      [0, 5 * MINUTE, true],
      [1, 0, false],
      [2, 0, false],
    ])
  })

  it('counter readings go through the counter rule: baseline, delta, 32-bit wrap, reset', () => {
    const c = collector()
    const st = stateFrom(9, 0, '02:00:00:00:00:09', undefined)
    const opts = {maxRateBps: 1e10, bits: 32 as const}
    const acc = new Accountant(c.out, {maxRateBps: 1e10, counter: opts, newAfter: [Number.NEGATIVE_INFINITY], wantDetail: true})
    const r = (ts: number, sent: bigint, received: bigint) => acc.reading(st, {ts, sent, received}, opts, 'test:0')
    r(T0, 4_294_967_000n, 100n) // baseline
    r(T0 + MINUTE, 4_294_967_200n, 400n) // +200 / +300
    r(T0 + 2 * MINUTE, 104n, 500n) // sent wrapped at 2^32: +200; received +100
    r(T0 + 3 * MINUTE, 50n, 20n) // received went back with no plausible wrap: a reset
    expect(acc.outcomes).toEqual({baseline: 1, delta: 1, wrap: 1, reset: 1})
    // The baseline is a zero sample (it starts the device's interval chain), the reset one too.
    expect(c.raw.map(x => [x.sent, x.received])).toEqual([
      [0, 0],
      [200, 300],
      [200, 100],
      [0, 0],
    ])
    expect(acc.events.map(e => e.event.type)).toEqual(['counter_wrap', 'counter_reset'])
    expect(st.counter).toEqual({ts: T0 + 3 * MINUTE, sent: 50n, received: 20n})
    expect(st.counterSource).toBe('test:0')
    expect(acc.counterDetails.map(d => d.outcome)).toEqual(['baseline', 'delta', 'wrap', 'reset'])
  })
})

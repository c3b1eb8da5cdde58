/**
 * Counter mode edge cases (issue 4 acceptance 3, the pure part): every wrap/reset rule with the
 * bytes it must record. The CLI test (test/integration/bandwidth/counter.test.ts) checks that the
 * same outcomes land in the store with their events.
 */
import {describe, expect, it} from 'vitest'
import {
  parseCounter,
  parseRate,
  stepCounter,
  TWO_32,
  TWO_64,
  type CounterBits,
  type CounterReading,
  type Outcome,
} from '../../../src/core/bandwidth/counters.js'

const T = 1_790_000_000_000
const r = (dtSec: number, sent: bigint, received: bigint): CounterReading => ({ts: T + dtSec * 1000, sent, received})

interface Case {
  name: string
  prev: CounterReading | null
  cur: CounterReading
  bits?: CounterBits
  maxRate?: number
  /** Link speed, bits/s. */
  link?: number
  /** The source's boot time, seconds after T. */
  boot?: number
  outcome: Outcome
  record: {sent: number; received: number} | null
  event: string | null
}

const cases: Case[] = [
  {name: 'first sample is a baseline only (zero bytes)', prev: null, cur: r(0, 1000n, 2000n), outcome: 'baseline', record: {sent: 0, received: 0}, event: null},
  {name: 'plain increase', prev: r(0, 1000n, 2000n), cur: r(60, 1500n, 2600n), outcome: 'delta', record: {sent: 500, received: 600}, event: null},
  {name: 'no traffic', prev: r(0, 1000n, 2000n), cur: r(60, 1000n, 2000n), outcome: 'delta', record: {sent: 0, received: 0}, event: null},
  {
    name: 'exact 2^32 wrap (2^32−100 → 50 is 150 bytes)',
    prev: r(0, TWO_32 - 100n, 5000n),
    cur: r(60, 50n, 6000n),
    outcome: 'wrap',
    record: {sent: 150, received: 1000},
    event: 'counter_wrap',
  },
  {name: 'wrap to exactly 0', prev: r(0, TWO_32 - 1n, 0n), cur: r(1, 0n, 0n), outcome: 'wrap', record: {sent: 1, received: 0}, event: 'counter_wrap'},
  {
    name: '2^64 wrap (2^64−100 → 50 is 150 bytes)',
    prev: r(0, 5n, TWO_64 - 100n),
    cur: r(60, 5n, 50n),
    outcome: 'wrap',
    record: {sent: 0, received: 150},
    event: 'counter_wrap',
  },
  {
    name: 'reset to a small value (previous above 2^32: only a 64-bit wrap, implausible)',
    prev: r(0, 5_000_000_000n, 7_000_000_000n),
    cur: r(60, 1234n, 5678n),
    outcome: 'reset',
    record: {sent: 0, received: 0},
    event: 'counter_reset',
  },
  {
    name: 'a 32-bit wrap that would exceed the max rate is a reset (3e9 → 1000 in 1 s = 10.4 Gbit/s)',
    prev: r(0, 3_000_000_000n, 0n),
    cur: r(1, 1000n, 0n),
    outcome: 'reset',
    record: {sent: 0, received: 0},
    event: 'counter_reset',
  },
  {
    name: 'the same drop over 60 s is a plausible 32-bit wrap (172 Mbit/s)',
    prev: r(0, 3_000_000_000n, 0n),
    cur: r(60, 1000n, 0n),
    outcome: 'wrap',
    record: {sent: Number(TWO_32 - 3_000_000_000n + 1000n), received: 0},
    event: 'counter_wrap',
  },
  {
    name: '--max-rate 100M turns that wrap into a reset',
    prev: r(0, 3_000_000_000n, 0n),
    cur: r(60, 1000n, 0n),
    maxRate: 100e6,
    outcome: 'reset',
    record: {sent: 0, received: 0},
    event: 'counter_reset',
  },
  {
    name: '64-bit counters never wrap at 2^32',
    prev: r(0, TWO_32 - 100n, 0n),
    cur: r(60, 50n, 0n),
    bits: 64,
    outcome: 'reset',
    record: {sent: 0, received: 0},
    event: 'counter_reset',
  },
  {
    name: '32-bit counters wrap at 2^32',
    prev: r(0, TWO_32 - 10n, 0n),
    cur: r(5, 5n, 0n),
    bits: 32,
    outcome: 'wrap',
    record: {sent: 15, received: 0},
    event: 'counter_wrap',
  },
  {
    name: 'a reset in one direction zeroes both',
    prev: r(0, 5_000_000_000n, 100n),
    cur: r(60, 10n, 900n),
    outcome: 'reset',
    record: {sent: 0, received: 0},
    event: 'counter_reset',
  },
  {
    name: 'an increase above the max rate is a spike, recorded as zero',
    prev: r(0, 0n, 0n),
    cur: r(1, 2_000_000_000n, 0n),
    outcome: 'spike',
    record: {sent: 0, received: 0},
    event: 'counter_spike',
  },
  {name: 'duplicate timestamp, same counters: nothing', prev: r(10, 500n, 600n), cur: r(10, 500n, 600n), outcome: 'duplicate', record: null, event: null},
  {
    name: 'duplicate timestamp, counters up: the increase is kept',
    prev: r(10, 500n, 600n),
    cur: r(10, 700n, 600n),
    outcome: 'delta',
    record: {sent: 200, received: 0},
    event: null,
  },
  {
    name: 'duplicate timestamp, counter down: a reset (a wrap needs time)',
    prev: r(10, 500n, 600n),
    cur: r(10, 100n, 600n),
    outcome: 'reset',
    record: null,
    event: 'counter_reset',
  },
  {
    name: 'clock went backwards: nothing recorded, event',
    prev: r(60, 1000n, 1000n),
    cur: r(30, 1500n, 1200n),
    outcome: 'clock_backwards',
    record: null,
    event: 'clock_backwards',
  },
  {
    name: 'clock went backwards with one counter up: still the clock',
    prev: r(60, 1000n, 1000n),
    cur: r(30, 900n, 1200n),
    outcome: 'clock_backwards',
    record: null,
    event: 'clock_backwards',
  },
  {
    name: 'a late reading (earlier, counters not above): nothing, the reference stays',
    prev: r(60, 1000n, 1000n),
    cur: r(30, 900n, 1000n),
    outcome: 'late',
    record: null,
    event: null,
  },
  {name: 'a late reading with equal counters: late too', prev: r(60, 1000n, 1000n), cur: r(30, 1000n, 1000n), outcome: 'late', record: null, event: null},
  // Issue 13: a reboot is not a wrap. Each of these used to be booked as a 32-bit wrap (GB each way).
  {
    name: 'reboot 1 GB → 0 (a 3.3 GB wrap is the long way round): reset, zero',
    prev: r(0, 1_000_000_000n, 1_000_000_000n),
    cur: r(30, 0n, 0n),
    outcome: 'reset',
    record: {sent: 0, received: 0},
    event: 'counter_reset',
  },
  {
    name: 'reboot 1 GB → 5000: reset, zero',
    prev: r(0, 1_000_000_000n, 1_000_000_000n),
    cur: r(300, 5000n, 5000n),
    outcome: 'reset',
    record: {sent: 0, received: 0},
    event: 'counter_reset',
  },
  {
    name: 'counter 1 B below the previous one (1 GB → 1 GB − 1): reset, not 4,294,967,295 B',
    prev: r(0, 1_000_000_000n, 0n),
    cur: r(3600, 999_999_999n, 0n),
    outcome: 'reset',
    record: {sent: 0, received: 0},
    event: 'counter_reset',
  },
  {
    name: 'near the top, 1 B below the previous one (3.5 GB → 3.5 GB − 1): reset, not a 4 GiB wrap',
    prev: r(0, 3_500_000_000n, 0n),
    cur: r(3600, 3_499_999_999n, 0n),
    outcome: 'reset',
    record: {sent: 0, received: 0},
    event: 'counter_reset',
  },
  {
    name: 'genuine 32-bit wrap near the top keeps counting exactly (2^32 − 5,000,000 → 1,000,000)',
    prev: r(0, TWO_32 - 5_000_000n, TWO_32 - 1n),
    cur: r(30, 1_000_000n, 999n),
    outcome: 'wrap',
    record: {sent: 6_000_000, received: 1000},
    event: 'counter_wrap',
  },
  {
    name: 'genuine 32-bit wrap of half the range exactly (2^31 → 0) still counts',
    prev: r(0, 1n << 31n, 0n),
    cur: r(60, 0n, 0n),
    outcome: 'wrap',
    record: {sent: 2 ** 31, received: 0},
    event: 'counter_wrap',
  },
  {
    name: 'genuine 64-bit wrap near the top keeps counting exactly (2^64 − 2^40 → 2^30)',
    prev: r(0, TWO_64 - (1n << 40n), 7n),
    cur: r(3600, 1n << 30n, 7n),
    bits: 64,
    outcome: 'wrap',
    record: {sent: 2 ** 40 + 2 ** 30, received: 0},
    event: 'counter_wrap',
  },
  {
    name: '64-bit counter going back by a little: reset, not a 2^64 wrap',
    prev: r(0, 1n << 62n, 0n),
    cur: r(60, (1n << 62n) - 10n, 0n),
    bits: 64,
    outcome: 'reset',
    record: {sent: 0, received: 0},
    event: 'counter_reset',
  },
  {
    name: 'a near-top wrap above the link speed is a reset (3e9 → 1000 in 60 s = 172 Mbit/s on a 100 Mbit/s link)',
    prev: r(0, 3_000_000_000n, 0n),
    cur: r(60, 1000n, 0n),
    link: 100e6,
    outcome: 'reset',
    record: {sent: 0, received: 0},
    event: 'counter_reset',
  },
  {
    name: 'the same wrap on a 1 Gbit/s link is a wrap',
    prev: r(0, 3_000_000_000n, 0n),
    cur: r(60, 1000n, 0n),
    link: 1e9,
    outcome: 'wrap',
    record: {sent: Number(TWO_32 - 3_000_000_000n + 1000n), received: 0},
    event: 'counter_wrap',
  },
  {
    name: 'boot time after the previous reading: a near-top "wrap" is a reboot (reset)',
    prev: r(0, TWO_32 - 100n, 5000n),
    cur: r(60, 50n, 10n),
    boot: 40,
    outcome: 'reset',
    record: {sent: 0, received: 0},
    event: 'counter_reset',
  },
  {
    name: 'boot time after the previous reading: counters that grew past their old values are a reboot too',
    prev: r(0, 1000n, 1000n),
    cur: r(600, 50_000n, 90_000n),
    boot: 100,
    outcome: 'reset',
    record: {sent: 0, received: 0},
    event: 'counter_reset',
  },
  {
    name: 'boot time before the previous reading: the wrap counts',
    prev: r(0, TWO_32 - 100n, 5000n),
    cur: r(60, 50n, 6000n),
    boot: -86_400,
    outcome: 'wrap',
    record: {sent: 150, received: 1000},
    event: 'counter_wrap',
  },
  {
    name: 'boot time within a few seconds of the previous reading (btime rounding, clock slew): not a reboot',
    prev: r(0, 1000n, 1000n),
    cur: r(60, 2000n, 3000n),
    boot: 2,
    outcome: 'delta',
    record: {sent: 1000, received: 2000},
    event: null,
  },
  {
    name: 'a late reading from before a 32-bit wrap (counter above, wrap plausible): late',
    prev: r(200, 100n, 100n),
    cur: r(100, 4_294_900_000n, 50n),
    outcome: 'late',
    record: null,
    event: null,
  },
]

describe('stepCounter', () => {
  for (const c of cases) {
    it(c.name, () => {
      const s = stepCounter(c.prev, c.cur, {
        maxRateBps: c.maxRate ?? 10e9,
        bits: c.bits ?? 'auto',
        ...(c.link === undefined ? {} : {linkSpeedBps: c.link}),
        ...(c.boot === undefined ? {} : {bootTimeMs: T + c.boot * 1000}),
      })
      expect(s.outcome).toBe(c.outcome)
      expect(s.record).toEqual(c.record)
      expect(s.event?.type ?? null).toBe(c.event)
      // The next interval starts from this reading, except for an exact duplicate or a late reading.
      expect(s.next).toEqual(c.outcome === 'duplicate' || c.outcome === 'late' ? c.prev : c.cur)
    })
  }

  it('readings around a 32-bit wrap arriving out of order count the movement once', () => {
    const o = {maxRateBps: 10e9, bits: 'auto' as const}
    let prev: CounterReading | null = null
    let total = 0n
    // 4294000000 @0 s → 100 @200 s (wrapped) → 4294900000 @100 s (late) → 200 @300 s
    for (const x of [r(0, 4_294_000_000n, 0n), r(200, 100n, 0n), r(100, 4_294_900_000n, 0n), r(300, 200n, 0n)]) {
      const s = stepCounter(prev, x, o)
      total += BigInt(s.record?.sent ?? 0)
      prev = s.next
    }
    expect(total).toBe(2n ** 32n - 4_294_000_000n + 200n) // 967,496: the real movement, once
  })

  it('never records a negative amount or more than the max rate allows, over many random readings', () => {
    let seed = 42
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    let prev: CounterReading | null = null
    for (let i = 0; i < 5000; i++) {
      const big = (x: number) => BigInt(Math.floor(x))
      const cur: CounterReading = {
        ts: T + Math.floor(rnd() * 1e7),
        sent: rnd() < 0.5 ? big(rnd() * 2 ** 32) : big(rnd() * 2 ** 52) * 4096n,
        received: big(rnd() * 2 ** 40),
      }
      const s = stepCounter(prev, cur, {maxRateBps: 1e9, bits: 'auto'})
      if (s.record && prev && cur.ts > prev.ts) {
        expect(s.record.sent).toBeGreaterThanOrEqual(0)
        expect(s.record.received).toBeGreaterThanOrEqual(0)
        expect(((s.record.sent + s.record.received) * 8000) / (cur.ts - prev.ts)).toBeLessThanOrEqual(2e9 + 1)
      }
      prev = s.next
    }
  })

  it('event details carry the counters as exact decimal strings', () => {
    const s = stepCounter(r(0, 0n, TWO_64 - 1n), r(1, 0n, 0n), {maxRateBps: 10e9, bits: 'auto'})
    expect(s.event?.detail).toMatchObject({previous: {received: '18446744073709551615'}, received: 'wrap64', bytes_received: '1'})
  })
})

describe('parseCounter / parseRate', () => {
  it('accepts decimal strings up to 2^64 − 1 and safe JSON numbers', () => {
    expect(parseCounter('18446744073709551615', 'auto')).toBe(TWO_64 - 1n)
    expect(parseCounter(123, 'auto')).toBe(123n)
    expect(parseCounter('18446744073709551616', 'auto')).toMatch(/2\^64/)
    expect(parseCounter(2 ** 60, 'auto')).toMatch(/precision/)
    expect(parseCounter(-1, 'auto')).toMatch(/non-negative/)
    expect(parseCounter('12a', 'auto')).toMatch(/non-negative/)
    expect(parseCounter('4294967296', 32)).toMatch(/2\^32/)
  })
  it('parses SI rates', () => {
    expect(parseRate('10G')).toBe(10e9)
    expect(parseRate('2.5Gbit/s')).toBe(2.5e9)
    expect(parseRate('100M')).toBe(100e6)
    expect(parseRate('1000000')).toBe(1e6)
    expect(parseRate('fast')).toBeNull()
    expect(parseRate('0')).toBeNull()
  })
})

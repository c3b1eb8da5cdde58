import {describe, expect, it} from 'vitest'
import {counterDelta, procNetDevCounters, RateRing, NetSampler, type IfCounters} from '../../../src/core/netstats/index.js'

const PROC = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0: 123456789 1000    0    0    0     0          0         0 987654321    2000    0    0    0     0       0          0
garbage line
`

describe('netstats counters', () => {
  it('parses /proc/net/dev', () => {
    const m = procNetDevCounters(PROC)
    expect([...m.keys()]).toEqual(['lo', 'eth0'])
    expect(m.get('eth0')).toEqual({rxBytes: 123456789, rxPackets: 1000, txBytes: 987654321, txPackets: 2000, rxErrors: 0, rxDrops: 0, txErrors: 0, txDrops: 0})
  })

  it.each([
    ['normal increase', 100, 250, undefined, 150],
    ['no change', 5, 5, undefined, 0],
    ['32-bit wrap', 2 ** 32 - 100, 50, undefined, 150],
    ['reset of a 64-bit counter', 2 ** 40, 500, undefined, 500],
    ['implausible wrap is a reset', 2 ** 32 - 100, 10_000, 1000, 1000],
    ['reset capped', 2 ** 40, 10 ** 12, 10 ** 9, 10 ** 9],
    ['increase capped', 0, 10 ** 12, 10 ** 9, 10 ** 9],
    ['NaN', Number.NaN, 5, undefined, 0],
    ['negative', 5, -1, undefined, 0],
  ])('counterDelta: %s', (_name, prev, cur, max, want) => {
    expect(counterDelta(prev as number, cur as number, max as number | undefined)).toBe(want)
  })

  it('the ring keeps the newest 300 samples, oldest first, with a time-weighted average', () => {
    const r = new RateRing(300)
    for (let i = 1; i <= 310; i++) r.push({ts: i * 1000, intervalMs: 1000, txBps: i, rxBps: 2 * i, txPps: 1, rxPps: 1})
    expect(r.size).toBe(300)
    expect(r.toArray()[0]!.ts).toBe(11_000)
    expect(r.latest()!.ts).toBe(310_000)
    expect(r.average(308_000, 310_000)).toMatchObject({txBps: 309.5, rxBps: 619, samples: 2})
    const w = new RateRing(3)
    w.push({ts: 1000, intervalMs: 1000, txBps: 100, rxBps: 0, txPps: 0, rxPps: 0})
    w.push({ts: 4000, intervalMs: 3000, txBps: 500, rxBps: 0, txPps: 0, rxPps: 0})
    expect(w.average(0).txBps).toBe(400) // (100·1 + 500·3) / 4
    expect(new RateRing(2).average(0)).toEqual({txBps: 0, rxBps: 0, txPps: 0, rxPps: 0, samples: 0})
  })

  it('the sampler turns counters into bps/pps, skips loopback by default, and selects interfaces', async () => {
    let t = 0
    let n = 0
    const snap = (): Map<string, IfCounters> => {
      n++
      return new Map([
        ['lo', {rxBytes: n * 1e6, rxPackets: n * 1000, txBytes: n * 1e6, txPackets: n * 1000}],
        ['eth0', {rxBytes: n * 1000, rxPackets: n * 10, txBytes: n * 2000, txPackets: n * 20}],
      ])
    }
    const s = new NetSampler({source: async () => snap(), now: () => (t += 500)})
    expect(await s.tick()).toBeUndefined() // first read is the baseline
    expect(await s.tick()).toEqual({
      ts: 1000,
      intervalMs: 500,
      txBps: 32_000,
      rxBps: 16_000,
      txPps: 40,
      rxPps: 20,
      txErrors: 0,
      rxErrors: 0,
      txDrops: 0,
      rxDrops: 0,
    })
    s.interfaces = ['lo']
    expect((await s.tick())!.txBps).toBe(16_000_000)
    s.interfaces = ['*']
    expect((await s.tick())!.rxBps).toBe(16_016_000)
    expect(s.ring.size).toBe(3)
  })

  it('counts errors and drops per interval each way (not rates), summed by the ring over a window', async () => {
    let t = 0
    let n = 0
    const c = (k: number): IfCounters => ({
      rxBytes: 0,
      rxPackets: 0,
      txBytes: 0,
      txPackets: 0,
      txErrors: k * n,
      rxErrors: 2 * k * n,
      txDrops: 3 * k * n,
      rxDrops: 4 * k * n,
    })
    const s = new NetSampler({
      source: async () => {
        n++
        return new Map([
          ['lo', c(1000)],
          ['eth0', c(1)],
          ['eth1', c(10)],
        ])
      },
      now: () => (t += 1000),
    })
    await s.tick()
    expect(await s.tick()).toMatchObject({txErrors: 11, rxErrors: 22, txDrops: 33, rxDrops: 44})
    await s.tick()
    await s.tick()
    // Samples end at 2000, 3000, 4000: (1000, 3000] holds two of them.
    expect(s.ring.issues(1000, 3000)).toEqual({txErrors: 22, rxErrors: 44, txDrops: 66, rxDrops: 88})
    expect(s.ring.issues(0)).toEqual({txErrors: 33, rxErrors: 66, txDrops: 99, rxDrops: 132})
    // A counter that went down (interface re-created: back to 1 × k) counts its new value since, never a negative.
    n = 0
    expect(await s.tick()).toMatchObject({txErrors: 11, rxErrors: 22, txDrops: 33, rxDrops: 44})
  })

  it('reads the real /proc/net/dev on Linux', async () => {
    if (process.platform !== 'linux') return
    const s = new NetSampler({interfaces: ['lo'], intervalMs: 50})
    await s.tick()
    await new Promise(r => setTimeout(r, 60))
    const x = await s.tick()
    expect(x).toBeDefined()
    expect(x!.txBps).toBeGreaterThanOrEqual(0)
  })
})

/**
 * The collector runner on a real libSQL file: sources read concurrently, each written as its own
 * counter batch; a failing or hanging source never stops the others; overruns are counted; the
 * grid does not drift; per-source status says what happened.
 */
import {afterEach, describe, expect, it} from 'vitest'
import {CollectorRunner, keyedMac, readingsBatch} from '../../../src/core/collect/runner.js'
import type {CounterReadingIn, CounterSource} from '../../../src/core/collect/source.js'
import {openStore, type Store} from '../../../src/core/store/index.js'
import {tempStore} from '../../support/cli.js'

const MAC_A = '02:AA:00:00:00:01'
const MAC_B = '02:AA:00:00:00:02'

/** A source whose counters grow by `step` bytes each read. */
function growing(name: string, mac: string, step: bigint, opts: {failEvery?: number; hangMs?: number} = {}): CounterSource & {n: number} {
  const src = {
    name,
    kind: 'test',
    n: 0,
    async read(signal: AbortSignal): Promise<CounterReadingIn[]> {
      src.n++
      if (opts.failEvery && src.n % opts.failEvery === 0) throw new Error(`${name} broke on read ${src.n}`)
      if (opts.hangMs) await new Promise(r => setTimeout(r, opts.hangMs))
      signal.throwIfAborted()
      const v = step * BigInt(src.n)
      return [{key: {mac}, ts: Date.now(), counters: {bytesSent: v, bytesReceived: 2n * v}, counterId: `${name}:0`, label: name}]
    },
  }
  return src
}

const totals = async (store: Store, mac: string) =>
  store.get<{sent: number; received: number}>(
    'SELECT t.bytes_sent AS sent, t.bytes_received AS received FROM bw_totals t JOIN devices d ON d.id = t.device_id WHERE d.mac = ?',
    [mac],
  )

let cleanup: (() => void) | undefined
afterEach(() => cleanup?.())

describe('CollectorRunner', () => {
  it('writes each source as counter readings; a failing source is counted and the other keeps its totals exact', async () => {
    const t = tempStore()
    cleanup = t.cleanup
    const store = await openStore({db: t.db})
    try {
      const a = growing('a', MAC_A, 1000n)
      const b = growing('b', MAC_B, 10n, {failEvery: 2})
      const runner = new CollectorRunner({sources: [a, b], store, maxRateBps: 1e12})
      for (let i = 0; i < 4; i++) await runner.tick()
      // a: baseline at 1000, then 2000, 3000, 4000 → 3000 bytes counted (counter mode).
      expect(await totals(store, MAC_A)).toEqual({sent: 3000, received: 6000})
      // b: reads 1 and 3 succeed (10, 30): one delta of 20.
      expect(await totals(store, MAC_B)).toEqual({sent: 20, received: 40})
      const [sa, sb] = runner.status()
      expect(sa).toMatchObject({name: 'a', state: 'ok', reads: 4, failures: 0, lastReadings: 1, lastError: null})
      expect(sb).toMatchObject({name: 'b', state: 'error', reads: 4, failures: 2, consecutiveFailures: 1, lastError: 'b broke on read 4'})
    } finally {
      await store.close()
    }
  })

  it('a read past its deadline fails that source only, and the tick reports it', async () => {
    const t = tempStore()
    cleanup = t.cleanup
    const store = await openStore({db: t.db})
    try {
      const slow = growing('slow', MAC_B, 1n, {hangMs: 5000})
      const fast = growing('fast', MAC_A, 1n)
      const runner = new CollectorRunner({sources: [slow, fast], store, maxRateBps: 1e12, readTimeoutMs: 200})
      const tick = await runner.tick()
      expect(tick.sources.map(s => [s.source, s.error === null])).toEqual([
        ['slow', false],
        ['fast', true],
      ])
      expect(tick.sources[0]!.error).toMatch(/no answer within 200 ms/)
      expect(tick.durationMs).toBeLessThan(5000)
    } finally {
      await store.close()
    }
  })

  it('run() keeps a fixed grid, skips and counts slots a slow tick overran, and stops on abort', async () => {
    const t = tempStore()
    cleanup = t.cleanup
    const store = await openStore({db: t.db})
    try {
      // Each read takes 3.5 intervals: every tick overruns 3 slots.
      const src = growing('x', MAC_A, 1n, {hangMs: 350})
      const runner = new CollectorRunner({sources: [src], store, maxRateBps: 1e12, readTimeoutMs: 10_000})
      const starts: number[] = []
      await runner.run({intervalMs: 100, count: 3, onTick: tk => starts.push(tk.startedAt)})
      expect(runner.ticks).toBe(3)
      // 3 ticks: after each of the first two, at least 3 slots were missed (a busy machine: more).
      expect(runner.overruns).toBeGreaterThanOrEqual(6)
      // Ticks start on the grid: never sooner than one read after the previous start.
      for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(350)
      const ac = new AbortController()
      const quick = new CollectorRunner({sources: [growing('y', MAC_B, 1n)], store, maxRateBps: 1e12})
      const done = quick.run({intervalMs: 60_000, signal: ac.signal})
      setTimeout(() => ac.abort(), 50)
      await done
      expect(quick.ticks).toBe(1)
      expect(quick.overruns).toBe(0)
    } finally {
      await store.close()
    }
  })

  it('keys readings by MAC, by address and by source key; two sources may not share a name', () => {
    const r = (key: CounterReadingIn['key'], id: string): CounterReadingIn => ({key, ts: 1, counters: {bytesSent: 1n, bytesReceived: 2n}, counterId: id})
    const batch = readingsBatch([r({mac: MAC_A}, 'a'), r({ip: '10.77.0.5'}, 'b'), r({source: 'snmp:sw1', key: '3'}, 'c')])
    expect(batch.macs).toEqual([MAC_A, keyedMac('ip', '10.77.0.5'), keyedMac('snmp:sw1', '3')])
    expect(batch.hints[1]).toEqual({ip: '10.77.0.5'})
    expect(batch.sources).toEqual(['a', 'b', 'c'])
    expect(keyedMac('ip', '10.77.0.5')).toMatch(/^[0-9A-F][26AE](:[0-9A-F]{2}){5}$/)
    expect(keyedMac('ip', '10.77.0.5')).not.toBe(keyedMac('ip', '10.77.0.6'))
    const a = growing('same', MAC_A, 1n)
    expect(() => new CollectorRunner({sources: [a, a], store: async () => undefined as never, maxRateBps: 1})).toThrow(/two counter sources are named "same"/)
  })
})

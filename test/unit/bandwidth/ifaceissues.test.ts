/**
 * Interface errors/drops through the one collector runner into bw_iface_errors (real store file):
 * deltas, a 32-bit wrap, a reset (counter down: nothing invented), a new counter id (baseline),
 * a late reading, and readings without errors/drops (nothing stored, no fields shown).
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {history, deviceStats, networkStats} from '../../../src/core/bandwidth/query.js'
import {CollectorRunner} from '../../../src/core/collect/runner.js'
import type {CounterReadingIn, CounterSource} from '../../../src/core/collect/source.js'
import {openStore, type Store} from '../../../src/core/store/index.js'
import {tempStore} from '../../support/cli.js'

const MAC = '02:77:14:00:00:0A'
const PLAIN = '02:77:14:00:00:0B'
const tmp = tempStore('netmon-ifissues-')
let store: Store
beforeAll(async () => {
  store = await openStore({db: tmp.db})
})
afterAll(async () => {
  await store.close()
  tmp.cleanup()
})

type Step = {ts: number; bytes: bigint; te: bigint; re: bigint; td: bigint; rd: bigint; id?: string}

function source(steps: Step[]): CounterSource {
  let i = 0
  return {
    name: 'fake',
    kind: 'iface',
    bits: 'auto',
    async read(): Promise<CounterReadingIn[]> {
      const s = steps[i++]!
      return [
        {
          key: {mac: MAC},
          ts: s.ts,
          counterId: s.id ?? 'iface:eth9',
          counters: {bytesSent: s.bytes, bytesReceived: s.bytes, errorsSent: s.te, errorsReceived: s.re, dropsSent: s.td, dropsReceived: s.rd},
        },
        // A device whose source has no errors/drops (e.g. nft): nothing stored for it.
        {key: {mac: PLAIN}, ts: s.ts, counterId: 'nft:x', counters: {bytesSent: s.bytes, bytesReceived: s.bytes}},
      ]
    },
  }
}

describe('interface errors/drops (bw_iface_errors)', () => {
  it('turns cumulative counters into per-interval counts with the byte counters rules', async () => {
    const t0 = Date.now() - 3_600_000
    const W = 2n ** 32n
    const steps: Step[] = [
      {ts: t0, bytes: 1000n, te: 5n, re: 10n, td: 100n, rd: 7n}, // baseline
      {ts: t0 + 10_000, bytes: 2000n, te: 6n, re: 13n, td: 150n, rd: 7n}, // +1 +3 +50 +0
      {ts: t0 + 20_000, bytes: 3000n, te: 6n, re: 13n, td: 20n, rd: W - 5n}, // tx drops down: reset (both drop directions 0)
      {ts: t0 + 30_000, bytes: 4000n, te: 6n, re: 13n, td: 25n, rd: 4n}, // rx drops 32-bit wrap: +9; tx +5
      {ts: t0 + 25_000, bytes: 3500n, te: 6n, re: 13n, td: 22n, rd: 1n}, // late: nothing
      {ts: t0 + 40_000, bytes: 5000n, te: 900n, re: 900n, td: 900n, rd: 900n, id: 'iface:eth10'}, // a new counter: baseline
      {ts: t0 + 50_000, bytes: 6000n, te: 901n, re: 900n, td: 902n, rd: 900n, id: 'iface:eth10'}, // +1 0 +2 0
    ]
    const runner = new CollectorRunner({sources: [source(steps)], store, maxRateBps: 10e9})
    const outcomes: unknown[] = []
    for (let i = 0; i < steps.length; i++) {
      const t = await runner.tick()
      expect(t.sources[0]!.error).toBeNull()
      outcomes.push(t.sources[0]!.result!.interface_issues)
    }
    expect(outcomes.map(o => (o as {outcome: string}[])[0]!.outcome)).toEqual(['baseline', 'delta', 'reset', 'wrap', 'late', 'baseline', 'delta'])
    expect((outcomes[1] as object[])[0]).toMatchObject({tx_errors: 1, rx_errors: 3, tx_drops: 50, rx_drops: 0})
    expect((outcomes[3] as object[])[0]).toMatchObject({tx_drops: 5, rx_drops: 9})
    expect((outcomes[4] as object[])[0]).toMatchObject({tx_drops: null, rx_drops: null})
    // Only intervals that counted something are rows; the device without such counters has none.
    const rows = await store.query('SELECT ts, tx_errors, rx_errors, tx_drops, rx_drops FROM bw_iface_errors ORDER BY ts')
    expect(rows.map(r => ({...r}))).toEqual([
      {ts: t0 + 10_000, tx_errors: 1, rx_errors: 3, tx_drops: 50, rx_drops: 0},
      {ts: t0 + 30_000, tx_errors: 0, rx_errors: 0, tx_drops: 5, rx_drops: 9},
      {ts: t0 + 50_000, tx_errors: 1, rx_errors: 0, tx_drops: 2, rx_drops: 0},
    ])
    const want = {tx_errors: 2, rx_errors: 3, tx_drops: 57, rx_drops: 9}
    expect((await deviceStats(store, MAC)).device.interface_issues).toEqual(want)
    expect((await deviceStats(store, PLAIN)).device.interface_issues).toBeUndefined()
    const net = await networkStats(store)
    expect(net.network.interface_issues).toEqual(want)
    expect(net.devices.find(d => d.mac === PLAIN)!.interface_issues).toBeUndefined()

    const raw = await history(store, MAC, {since: t0 - 1, until: t0 + 60_000, resolution: 'raw'})
    expect(raw.totals).toMatchObject(want)
    expect(raw.points.find(p => p.ts_ms === t0 + 30_000)).toMatchObject({tx_drops: 5, rx_drops: 9})
    expect(raw.points.find(p => p.ts_ms === t0 + 20_000)).toMatchObject({tx_drops: 0, rx_drops: 0})
    const h1 = await history(store, MAC, {since: t0 - 3_600_000, until: t0 + 3_600_000, resolution: '1h'})
    expect(h1.totals).toMatchObject(want)
    expect(h1.points.reduce((a, p) => a + p.tx_drops!, 0)).toBe(57)
    const plain = await history(store, PLAIN, {since: t0 - 1, until: t0 + 60_000, resolution: 'raw'})
    expect(plain.totals.tx_drops).toBeUndefined()
    expect(plain.points[0]).not.toHaveProperty('tx_drops')
  })
})

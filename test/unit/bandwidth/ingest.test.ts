/**
 * The write path against a reference model: random samples for a few devices, in random order
 * (late and duplicate timestamps included), in several batches, on a real libSQL file. After
 * every batch the store must equal what a from-scratch computation over all samples says:
 * raw rows (bytes summed per (device, ts), interval = gap to the previous sample), rollups,
 * totals, current and peaks. Issue 4: "Samples out of order are placed correctly".
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {BatchBuilder} from '../../../src/core/bandwidth/input.js'
import {writeBatch} from '../../../src/core/bandwidth/sample.js'
import {openStore, type Store} from '../../../src/core/store/index.js'
import {tempStore} from '../../support/cli.js'

interface S {
  mac: string
  ts: number
  sent: number
  received: number
}

const MACS = ['02:00:00:00:00:01', '02:00:00:00:00:02', '02:00:00:00:00:03']
// Relative to the clock, never a calendar date: auto-prune keeps 7 days of raw samples, so a fixed
// date ages out of the window and the rows vanish. Two days ago, 2 minutes before an hour starts,
// so batches cross 5-minute, hour and (often) day buckets.
const BASE = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 86_400_000 - 120_000

function model(all: S[]) {
  const out = new Map<string, {rows: {ts: number; sent: number; received: number; iv: number | null}[]; n: number}>()
  for (const mac of MACS) {
    const mine = all.filter(s => s.mac === mac)
    const byTs = new Map<number, {sent: number; received: number}>()
    for (const s of mine) {
      const r = byTs.get(s.ts) ?? {sent: 0, received: 0}
      r.sent += s.sent
      r.received += s.received
      byTs.set(s.ts, r)
    }
    const ts = [...byTs.keys()].sort((a, b) => a - b)
    out.set(mac, {rows: ts.map((t, i) => ({ts: t, ...byTs.get(t)!, iv: i ? t - ts[i - 1]! : null})), n: mine.length})
  }
  return out
}

const rate = (bytes: number, iv: number | null) => (iv ? Math.round((bytes * 8000) / iv) : null)

describe('ingest (in-process, real store)', () => {
  let t: ReturnType<typeof tempStore>
  let store: Store
  beforeAll(async () => {
    t = tempStore('netmon-bw-ingest-')
    store = await openStore({db: t.db})
  })
  afterAll(async () => {
    await store.close()
    t.cleanup()
  })

  it('matches the reference model after each of several shuffled batches', async () => {
    let seed = 7
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    const all: S[] = []
    let late = 0
    for (let batchNo = 0; batchNo < 4; batchNo++) {
      const batch: S[] = []
      for (let i = 0; i < 400; i++) {
        // Mostly moving forward, with late samples and exact repeats of earlier timestamps.
        const mac = MACS[Math.floor(rnd() * MACS.length)]!
        const p = rnd()
        const ts =
          p < 0.1 && all.length
            ? all[Math.floor(rnd() * all.length)]!.ts
            : BASE + Math.floor((batchNo * 400 + i + (p < 0.3 ? -rnd() * 600 : 0)) * 7_000 + rnd() * 3000)
        batch.push({mac, ts, sent: Math.floor(rnd() * 5e6), received: Math.floor(rnd() * 9e6)})
      }
      const b = new BatchBuilder('delta')
      for (const s of batch) b.addDelta(b.index(s.mac, 0), s.ts, s.sent, s.received)
      const res = await writeBatch(store, b.finish(), {autoRegister: true})
      expect(res.samples_recorded).toBe(batch.length)
      late += res.samples_late
      all.push(...batch)
      await check(all)
    }
    // The data really exercised the out-of-order path and same-timestamp merges.
    expect(late).toBeGreaterThan(100)
    expect(new Set(all.map(s => `${s.mac}@${s.ts}`)).size).toBeLessThan(all.length)
  })

  async function check(all: S[]) {
    const m = model(all)
    for (const mac of MACS) {
      const want = m.get(mac)!
      const dev = await store.get<{id: number}>('SELECT id FROM devices WHERE mac = ?', [mac])
      const raw = await store.query<{ts: number; sent: number; received: number; interval_ms: number | null}>(
        'SELECT ts, sent, received, interval_ms FROM bw_samples WHERE device_id = ? ORDER BY ts',
        [dev!.id],
      )
      expect(raw.map(r => ({ts: r.ts, sent: r.sent, received: r.received, iv: r.interval_ms}))).toEqual(want.rows)

      const tot = await store.get<Record<string, number | null>>('SELECT * FROM bw_totals WHERE device_id = ?', [dev!.id])
      const sum = (k: 'sent' | 'received') => want.rows.reduce((a, r) => a + r[k], 0)
      expect(tot).toMatchObject({bytes_sent: sum('sent'), bytes_received: sum('received'), sample_count: want.n})
      const last = want.rows.at(-1)!
      expect(tot).toMatchObject({cur_ts: last.ts, cur_sent: last.sent, cur_received: last.received, cur_interval_ms: last.iv})
      expect(tot).toMatchObject({first_ts: want.rows[0]!.ts, last_ts: last.ts})
      const rates = want.rows.map(r => ({ts: r.ts, total: rate(r.sent + r.received, r.iv), up: rate(r.sent, r.iv), down: rate(r.received, r.iv)}))
      const best = (k: 'total' | 'up' | 'down') => Math.max(...rates.map(x => x[k] ?? -1))
      expect(tot!.peak_bps).toBe(best('total'))
      expect(tot!.peak_up_bps).toBe(best('up'))
      expect(tot!.peak_down_bps).toBe(best('down'))
      const at = rates.filter(x => x.total === best('total')).map(x => x.ts)
      expect(at).toContain(tot!.peak_ts)

      for (const [table, size] of [
        ['bw_rollup_5m', 300_000],
        ['bw_rollup_1h', 3_600_000],
        ['bw_rollup_1d', 86_400_000],
      ] as const) {
        const buckets = new Map<number, {sent: number; received: number; samples: number; peak: number | null}>()
        for (const r of want.rows) {
          const b = Math.floor(r.ts / size) * size
          const x = buckets.get(b) ?? {sent: 0, received: 0, samples: 0, peak: null}
          x.sent += r.sent
          x.received += r.received
          const pr = rate(r.sent + r.received, r.iv)
          if (pr !== null && (x.peak === null || pr > x.peak)) x.peak = pr
          buckets.set(b, x)
        }
        for (const s of all.filter(s => s.mac === mac)) buckets.get(Math.floor(s.ts / size) * size)!.samples++
        const got = await store.query<{bucket: number; sent: number; received: number; samples: number; peak_bps: number | null}>(
          `SELECT bucket, sent, received, samples, peak_bps FROM ${table} WHERE device_id = ? ORDER BY bucket`,
          [dev!.id],
        )
        expect(
          got.map(g => ({b: g.bucket, sent: g.sent, received: g.received, samples: g.samples, peak: g.peak_bps})),
          table,
        ).toEqual([...buckets].sort((a, b) => a[0] - b[0]).map(([b, x]) => ({b, ...x})))
      }
    }
  }
})

/** The outbox (delivery) against a real libSQL file: store first, publish, delete on PUBACK, order, bound, resume. */
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {Delivery, type DeliveryOptions, type OutboxEntry} from '../../../src/core/bridge/outbox.js'
import {openStore, type Store} from '../../../src/core/store/index.js'
import {tempStore} from '../../support/cli.js'
import {waitFor} from '../../integration/bridge/helpers.js'

let tmp: ReturnType<typeof tempStore>
let store: Store
beforeEach(async () => {
  tmp = tempStore('netmon-outbox-')
  store = await openStore({db: tmp.db})
})
afterEach(async () => {
  await store.close()
  tmp.cleanup()
})

/** A fake broker link: records sends, acks them (or not), can go down. */
function link() {
  const sent: OutboxEntry[] = []
  const waiting: {e: OutboxEntry; ok: () => void; fail: (e: Error) => void}[] = []
  const l = {
    up: true,
    autoAck: true,
    sent,
    waiting,
    send: (e: OutboxEntry) =>
      new Promise<void>((ok, fail) => {
        sent.push(e)
        if (!l.up) return fail(new Error('down'))
        if (l.autoAck) setImmediate(ok)
        else waiting.push({e, ok, fail})
      }),
    canSend: () => l.up,
    /** Connection lost: every pending publish fails. */
    drop() {
      l.up = false
      for (const w of waiting.splice(0)) w.fail(new Error('connection lost'))
    },
  }
  return l
}

const delivery = (l: ReturnType<typeof link>, o: Partial<DeliveryOptions> = {}) =>
  new Delivery(store, {maxInflight: 10, maxRows: 100_000, maxAgeMs: 86_400_000, flushMs: 5, send: l.send, canSend: l.canSend, ...o})
const outboxCount = async () => Number((await store.get<{n: number}>('SELECT count(*) AS n FROM outbox'))!.n)
const firstSeen = (sent: OutboxEntry[], meter: string) => {
  const seen = new Set<number>()
  const out: number[] = []
  for (const e of sent) if (e.meterId === meter && !seen.has(e.ts)) seen.add(e.ts), out.push(e.ts)
  return out
}

describe('Delivery (outbox)', () => {
  it('stores readings + outbox rows before publishing, publishes in order per meter, deletes on PUBACK', async () => {
    const l = link()
    l.autoAck = false
    const d = delivery(l)
    await d.init()
    for (let i = 1; i <= 5; i++) for (const m of ['a', 'b']) d.submit({meterId: m, ts: i, values: `{"v":${i}}`, pollMs: 3})
    await waitFor('10 sends', () => l.sent.length === 10)
    // Everything sent is already in the store, readings and outbox alike.
    expect(Number((await store.get<{n: number}>('SELECT count(*) AS n FROM readings'))!.n)).toBe(10)
    expect(await outboxCount()).toBe(10)
    expect(firstSeen(l.sent, 'a')).toEqual([1, 2, 3, 4, 5])
    // PUBACK for half: only those rows go.
    for (const w of l.waiting.splice(0, 4)) w.ok()
    await waitFor('4 deletes', async () => (await outboxCount()) === 6)
    for (const w of l.waiting.splice(0)) w.ok()
    await waitFor('empty outbox', async () => (await outboxCount()) === 0)
    expect(d.stats.published).toBe(10)
    await d.close()
  })

  it('caps in-flight publishes', async () => {
    const l = link()
    l.autoAck = false
    const d = delivery(l, {maxInflight: 7})
    await d.init()
    for (let i = 0; i < 50; i++) d.submit({meterId: `m${i % 3}`, ts: i, values: '{}', pollMs: 1})
    await waitFor('7 sends', () => l.sent.length === 7)
    await new Promise(r => setTimeout(r, 50))
    expect(l.sent.length).toBe(7)
    expect(d.inflight).toBe(7)
    l.waiting.shift()!.ok()
    await waitFor('one more send', () => l.sent.length === 8)
    for (const w of l.waiting.splice(0)) w.ok()
    await d.close()
  })

  it('a lost connection re-sends every unacknowledged reading, in order, none lost', async () => {
    const l = link()
    l.autoAck = false
    const d = delivery(l, {maxInflight: 20, memLimit: 5, pageSize: 7})
    await d.init()
    let ts = 0
    const feed = (n: number) => {
      for (let i = 0; i < n; i++) {
        ts++
        for (const m of ['a', 'b']) d.submit({meterId: m, ts, values: '{}', pollMs: 1})
      }
    }
    feed(8)
    await waitFor('sends', () => l.sent.length >= 16)
    for (const w of l.waiting.splice(0, 5)) w.ok()
    l.drop() // the rest fail
    feed(30) // readings keep coming while the broker is down: they pile up in the outbox (memLimit 5 → paging)
    await waitFor('stored', async () => (await outboxCount()) >= 60)
    l.up = true
    l.autoAck = true
    d.resume()
    await waitFor('drained', async () => (await outboxCount()) === 0, 10_000)
    for (const m of ['a', 'b']) expect(firstSeen(l.sent, m)).toEqual(Array.from({length: 38}, (_, i) => i + 1))
    // Order per meter also holds for what was sent after the reconnect (duplicates of unacked ones allowed).
    const after = l.sent
      .slice(16)
      .filter(e => e.meterId === 'a')
      .map(e => e.ts)
    expect(after).toEqual([...after].sort((x, y) => x - y))
    await d.close()
  })

  it("a meter with a long backlog does not hold up another meter's live readings", async () => {
    const l = link()
    l.up = false
    const d = delivery(l, {maxInflight: 4, pageSize: 50})
    await d.init()
    for (let i = 0; i < 500; i++) d.submit({meterId: 'backlog', ts: i, values: '{}', pollMs: 1})
    await waitFor('stored', async () => (await outboxCount()) === 500)
    d.submit({meterId: 'live', ts: 1, values: '{}', pollMs: 1})
    await d.flush()
    l.up = true
    d.resume()
    await waitFor('live sent', () => l.sent.some(e => e.meterId === 'live'))
    // Meters take turns: the live reading goes out with the first few, not after the 500 of the backlog.
    expect(l.sent.findIndex(e => e.meterId === 'live')).toBeLessThan(5)
    await waitFor('drained', async () => (await outboxCount()) === 0, 10_000)
    expect(firstSeen(l.sent, 'backlog')).toEqual(Array.from({length: 500}, (_, i) => i))
    await d.close()
  })

  it('is bounded: drops the oldest rows beyond max_rows and counts them per meter', async () => {
    const l = link()
    l.up = false
    const dropped: Record<string, number> = {}
    const d = delivery(l, {maxRows: 100, onDropped: (m, n) => (dropped[m] = (dropped[m] ?? 0) + n)})
    await d.init()
    for (let i = 0; i < 150; i++) d.submit({meterId: i < 60 ? 'old' : 'new', ts: i, values: '{}', pollMs: 1})
    await d.flush()
    expect(await d.enforceBounds()).toBe(50)
    expect(dropped).toEqual({old: 50})
    expect(await outboxCount()).toBe(100)
    expect(Number((await store.get<{m: number}>('SELECT min(ts) AS m FROM outbox'))!.m)).toBe(50)
    expect(d.stats.dropped).toBe(50)
    l.up = true
    d.resume()
    await waitFor('drained', async () => (await outboxCount()) === 0)
    expect(firstSeen(l.sent, 'old')).toEqual([50, 51, 52, 53, 54, 55, 56, 57, 58, 59])
    await d.close()
  })

  it('drops rows older than max_age', async () => {
    let now = 1_000_000
    const l = link()
    l.up = false
    const d = delivery(l, {maxAgeMs: 60_000, now: () => now})
    await d.init()
    d.submit({meterId: 'a', ts: 1, values: '{}', pollMs: 1})
    await d.flush()
    now += 30_000
    d.submit({meterId: 'a', ts: 2, values: '{}', pollMs: 1})
    await d.flush()
    now += 45_000
    expect(await d.enforceBounds()).toBe(1)
    expect(await outboxCount()).toBe(1)
    await d.close()
  })

  it('a restart resumes the outbox in order', async () => {
    const l = link()
    l.up = false
    const d1 = delivery(l)
    await d1.init()
    for (let i = 1; i <= 30; i++) d1.submit({meterId: 'a', ts: i, values: `{"i":${i}}`, pollMs: 1})
    await d1.close()
    expect(await outboxCount()).toBe(30)
    const l2 = link()
    const d2 = delivery(l2)
    const init = await d2.init()
    expect(init).toEqual({backlog: 30, byMeter: {a: 30}})
    d2.resume()
    await waitFor('drained', async () => (await outboxCount()) === 0)
    expect(l2.sent.map(e => e.ts)).toEqual(Array.from({length: 30}, (_, i) => i + 1))
    expect(l2.sent[0]!.values).toBe('{"i":1}')
    // New ids continue after the old ones.
    d2.submit({meterId: 'a', ts: 99, values: '{}', pollMs: 1})
    await waitFor('sent', () => l2.sent.length === 31)
    expect(l2.sent[30]!.id).toBeGreaterThan(l2.sent[29]!.id)
    await d2.close()
  })
})

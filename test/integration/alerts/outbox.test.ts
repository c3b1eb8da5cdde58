/** The generic channel outbox on a real store: order per channel, isolation, backoff, dead letter, restarts. */
import {afterEach, describe, expect, it} from 'vitest'
import {OUTBOX_TABLE} from '../../../src/core/alerts/engine.js'
import {ChannelOutbox, type QueuedRow, type Sender} from '../../../src/core/outbox/queue.js'
import {openStore, type Store} from '../../../src/core/store/index.js'
import {tempStore} from '../../support/cli.js'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function store(): Promise<{s: Store; db: string}> {
  const t = tempStore('netmon-outbox-')
  const s = await openStore({db: t.db})
  cleanups.push(t.cleanup, () => s.close())
  return {s, db: t.db}
}

function sender(log: string[], fail: () => boolean, maxAttempts = 3): Sender {
  return {
    maxAttempts,
    backoff: {minMs: 1, maxMs: 2},
    async send(row: QueuedRow) {
      if (fail()) throw new Error('down')
      log.push(`${row.channel}:${row.payload}`)
    },
  }
}

describe('ChannelOutbox', () => {
  it('keeps order per channel, a failing channel blocks only itself, and nothing is lost across a reopen', async () => {
    const {s, db} = await store()
    let now = Date.now()
    const ob = new ChannelOutbox(s, OUTBOX_TABLE, {now: () => now})
    await s.writeTx(async tx => {
      for (const p of ['1', '2', '3']) {
        await ob.enqueue(tx, 'a', p, now)
        await ob.enqueue(tx, 'b', p, now)
      }
    })
    const log: string[] = []
    let bDown = true
    const senders = new Map([
      ['a', sender(log, () => false)],
      ['b', sender(log, () => bDown, 100)],
    ])
    const r1 = await ob.drain(senders)
    expect(log).toEqual(['a:1', 'a:2', 'a:3'])
    expect(r1.find(r => r.channel === 'b')).toMatchObject({delivered: 0, failed: 1, waiting: 3})
    // Not due before its backoff.
    await ob.drain(senders)
    expect(log).toHaveLength(3)

    // Another process (a restart) picks up b's backlog.
    const s2 = await openStore({db})
    cleanups.push(() => s2.close())
    now += 10
    bDown = false
    const r2 = await new ChannelOutbox(s2, OUTBOX_TABLE, {now: () => now}).drain(senders)
    expect(log).toEqual(['a:1', 'a:2', 'a:3', 'b:1', 'b:2', 'b:3'])
    expect(r2.find(r => r.channel === 'b')).toMatchObject({delivered: 3, waiting: 0})
    expect(await ob.depth()).toEqual([])
  })

  it('dead-letters a row after max_attempts and moves on to the next one', async () => {
    const {s} = await store()
    let now = Date.now()
    const ob = new ChannelOutbox(s, OUTBOX_TABLE, {now: () => now})
    await s.writeTx(async tx => {
      await ob.enqueue(tx, 'a', 'poison', now)
      await ob.enqueue(tx, 'a', 'fine', now)
    })
    const log: string[] = []
    const senders = new Map([
      [
        'a',
        {
          ...sender(log, () => false),
          send: async (r: QueuedRow) => (r.payload === 'poison' ? Promise.reject(new Error('HTTP 400')) : void log.push(r.payload)),
        },
      ],
    ])
    for (let i = 0; i < 3; i++) {
      await ob.drain(senders as Map<string, Sender>)
      now += 10
    }
    expect(log).toEqual(['fine'])
    const rows = await s.query<{payload: string; state: string; attempts: number; last_error: string}>(
      `SELECT payload, state, attempts, last_error FROM ${OUTBOX_TABLE}`,
    )
    expect(rows).toEqual([{payload: 'poison', state: 'dead', attempts: 3, last_error: 'HTTP 400'}])
  })
})

/**
 * Persistent HLS invocation counters (migration 013) on a real libSQL file: a reservation survives a crash
 * (no release), a clean release gives back the unused tail, a release never lowers another process's
 * reservation, and a client restarted from the store is accepted by a meter that refuses reused counters.
 */
import {afterEach, describe, expect, it} from 'vitest'
import {InvocationCounterStore} from '../../../src/core/dlms/counters.js'
import {readMeter} from '../../../src/core/dlms/read.js'
import {startSimulator} from '../../../src/core/dlms/simulator/server.js'
import {openStore, type Store} from '../../../src/core/store/index.js'
import {tempStore} from '../../support/cli.js'
import {hex} from '../../unit/dlms/vectors.js'

const CLIENT = hex('4d4d4d0000000001')
const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

async function store(): Promise<{s: Store; db: string}> {
  const t = tempStore('netmon-ic-')
  cleanups.push(t.cleanup)
  const s = await openStore({db: t.db})
  cleanups.push(() => s.close())
  return {s, db: t.db}
}

describe('InvocationCounterStore', () => {
  it('reserve-ahead: a crash never lets a restart reuse a counter; a clean release gives back the tail', async () => {
    const {s, db} = await store()
    const c = new InvocationCounterStore(s)
    const a = await c.reserve('m1', CLIENT, 100)
    expect(a).toMatchObject({start: 1, limit: 101})
    // "crash": no release. A new process (new connection to the same file) starts after the block.
    const s2 = await openStore({db})
    cleanups.push(() => s2.close())
    const b = await new InvocationCounterStore(s2).reserve('m1', CLIENT, 100)
    expect(b.start).toBe(101)
    await new InvocationCounterStore(s2).release(b, 105)
    expect(await c.peek('m1', CLIENT)).toBe(105)
    // a release of an older reservation does not lower a newer one
    const d = await c.reserve('m1', CLIENT, 100)
    expect(d.start).toBe(105)
    await c.release(a, 3)
    expect(await c.peek('m1', CLIENT)).toBe(205)
    // other meters and client system titles are independent
    expect((await c.reserve('m2', CLIENT, 10)).start).toBe(1)
    expect((await c.reserve('m1', hex('4d4d4d0000000002'), 10)).start).toBe(1)
  })

  it('readMeter with the store: consecutive runs continue the counter and the meter accepts them', async () => {
    const {s} = await store()
    const ek = hex('000102030405060708090a0b0c0d0e0f')
    const ak = hex('d0d1d2d3d4d5d6d7d8d9dadbdcdddedf')
    const sim = await startSimulator({host: '127.0.0.1', port: 0, security: {systemTitle: hex('4d4d4d0000bc614e'), ek, ak}})
    cleanups.push(() => sim.close())
    const counters = {store: new InvocationCounterStore(s), meter: 'sim'}
    const opts = {
      host: '127.0.0.1',
      port: sim.ports[0]!,
      clientAddress: 1,
      timeoutMs: 2000,
      security: {level: 'hls-gmac' as const, systemTitle: CLIENT, ek, ak},
      counters,
    }
    const first = await readMeter(opts, [{obis: '1.0.1.8.0.255'}])
    const n1 = first.association.security!.next_invocation_counter
    expect(await counters.store.peek('sim', CLIENT)).toBe(n1)
    const second = await readMeter(opts, [{obis: '1.0.1.8.0.255'}])
    expect(second.readings[0]!.ok).toBe(true)
    expect(second.association.security!.next_invocation_counter).toBeGreaterThan(n1)
    // without the store (counter back at 1) the meter refuses the replayed AARQ
    await expect(readMeter({...opts, counters: undefined}, [{obis: '1.0.1.8.0.255'}])).rejects.toMatchObject({dlmsCode: 'ASSOCIATION_REJECTED'})
  })
})

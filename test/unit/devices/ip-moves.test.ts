/**
 * A device that moves to another address outside a scan still raises `ip_changed` {from, to}:
 * `bandwidth register` at a new IP, and samples whose IP hint differs from the stored address
 * (collectors re-send each host's address every tick). Before, only a scan's plan raised it, so
 * the alerts' device_ip_changed rule and `devices timeline` missed these moves.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {registerBandwidthDevice} from '../../../src/core/bandwidth/admin.js'
import {BatchBuilder} from '../../../src/core/bandwidth/input.js'
import {writeBatch} from '../../../src/core/bandwidth/sample.js'
import {readEvents} from '../../../src/core/devices/events.js'
import {openStore, type Store} from '../../../src/core/store/index.js'
import {tempStore} from '../../support/cli.js'

describe('ip_changed outside a scan (real store)', () => {
  let t: ReturnType<typeof tempStore>
  let store: Store
  beforeAll(async () => {
    t = tempStore('netmon-ip-moves-')
    store = await openStore({db: t.db})
  })
  afterAll(async () => {
    await store.close()
    t.cleanup()
  })

  const moves = async (mac: string) =>
    (await readEvents(store, {types: ['ip_changed']})).events.filter(e => e.mac === mac).map(e => ({from: e.detail?.from, to: e.detail?.to}))

  it('bandwidth register at another address records the move once; the same address records none', async () => {
    const now = Date.now()
    await registerBandwidthDevice(store, {mac: '02:00:00:00:10:01', ip: '192.0.2.10', now: now - 2000})
    await registerBandwidthDevice(store, {mac: '02:00:00:00:10:01', ip: '192.0.2.10', now: now - 1000})
    expect(await moves('02:00:00:00:10:01')).toEqual([])
    await registerBandwidthDevice(store, {mac: '02:00:00:00:10:01', ip: '192.0.2.11', now})
    expect(await moves('02:00:00:00:10:01')).toEqual([{from: '192.0.2.10', to: '192.0.2.11'}])
  })

  it('a sample batch whose IP hint differs from the stored address records the move; an unchanged hint does not', async () => {
    const mac = '02:00:00:00:10:02'
    const base = Date.now() - 60_000
    const batch = (ip: string, ts: number) => {
      const b = new BatchBuilder('delta')
      const k = b.index(mac, 0)
      b.hint(k, {ip})
      b.addDelta(k, ts, 100, 200)
      return b.finish()
    }
    await writeBatch(store, batch('192.0.2.20', base), {autoRegister: true})
    await writeBatch(store, batch('192.0.2.20', base + 10_000), {autoRegister: true})
    expect(await moves(mac)).toEqual([])
    await writeBatch(store, batch('192.0.2.21', base + 20_000), {autoRegister: true})
    await writeBatch(store, batch('192.0.2.21', base + 30_000), {autoRegister: true})
    expect(await moves(mac)).toEqual([{from: '192.0.2.20', to: '192.0.2.21'}])
    const dev = await store.get<{ip: string}>('SELECT ip FROM devices WHERE mac = ?', [mac])
    expect(dev?.ip).toBe('192.0.2.21')
  })
})

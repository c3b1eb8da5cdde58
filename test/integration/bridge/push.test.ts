/**
 * Push listener end to end (issue 18 item 4), real parts: netmon's DLMS simulator in push mode connects over
 * TCP (loopback) to the bridge's push listener and sends DataNotifications; the bridge stores the readings in a
 * real libSQL file and publishes them to a real broker (aedes), where a subscriber receives them. Covered: a
 * periodic push with the object list sent (plain, matched by logical device name, push-only meter); an alarm
 * push with the object list configured per push setup; an unknown sender counted, not stored; malformed pushes
 * (bad APDU, broken wrapper stream) counted while the listener goes on; ciphered pushes (general-glo-ciphering)
 * decoded with the right keys and refused with a wrong key, and a plain push refused from a meter whose pushes
 * must be ciphered. The expected values come from the simulated meter's own model at a fixed clock.
 */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {resolveConfig} from '../../../src/core/bridge/config.js'
import {startBridge, type Bridge} from '../../../src/core/bridge/daemon.js'
import {bridgeStatus} from '../../../src/core/bridge/queries.js'
import {protectNotification} from '../../../src/core/dlms/codec/apdu/notification.js'
import {encodeWrapperFrame} from '../../../src/core/dlms/codec/wrapper.js'
import {buildPush} from '../../../src/core/dlms/simulator/push.js'
import {startSimulator, type Simulator} from '../../../src/core/dlms/simulator/server.js'
import {createLogger} from '../../../src/core/log.js'
import {openStore, type Store} from '../../../src/core/store/index.js'
import {tempStore} from '../../support/cli.js'
import {freePort, startAedes, subscribe, waitFor, type Subscriber} from './helpers.js'

type Any = any

const EK = '000102030405060708090a0b0c0d0e0f'
const AK = 'd0d1d2d3d4d5d6d7d8d9dadbdcdddedf'
const WRONG = 'ffffffffffffffffffffffffffffffff'
// A fixed meter clock: 2 days ago at 10:00:00 UTC (never a calendar date that can age into a retention window).
const T0 = (() => {
  const d = new Date(Date.now() - 2 * 86_400_000)
  d.setUTCHours(10, 0, 0, 0)
  return d.getTime()
})()
// The simulated meters' clock: moved on by the tests (readings are keyed by meter and capture time).
let clock = T0
const tick = (): number => (clock += 1000)

describe('push listener: simulator → bridge → store and broker', {timeout: 120_000}, () => {
  const tmp = tempStore('netmon-bridge-push-')
  const logs: string[] = []
  const log = createLogger({format: 'text', level: 'debug', write: l => logs.push(l)})
  let store: Store
  let bridge: Bridge
  let broker: Awaited<ReturnType<typeof startAedes>>
  let sub: Subscriber
  let pushPort: number
  let cfg: ReturnType<typeof resolveConfig>
  let cipherSim: Simulator | undefined
  const sims: Simulator[] = []

  const readings = async (meter: string) =>
    (await store.query<{ts: number; values: string}>('SELECT ts, "values" FROM readings WHERE meter_id = ? ORDER BY ts', [meter])).map(r => ({
      ts: Number(r.ts),
      values: JSON.parse(String(r.values)) as Record<string, Any>,
    }))
  const published = (id: string) => sub.messages.filter(m => m.topic === `push/${id}`).map(m => JSON.parse(m.payload) as Any)
  const status = async () => {
    // a heartbeat every 200 ms writes the counters the status command reads
    const at = Date.now()
    await waitFor('a fresh heartbeat', async () => ((await bridgeStatus(store)).heartbeat_at_ms ?? 0) > at, 10_000, 50)
    return bridgeStatus(store)
  }
  const sim = async (o: Parameters<typeof startSimulator>[0]) => {
    const s = await startSimulator({now: () => clock, seed: 7, ...o})
    sims.push(s)
    return s
  }

  beforeAll(async () => {
    broker = await startAedes()
    sub = await subscribe(broker.port, 'push/#')
    pushPort = await freePort()
    writeFileSync(join(tmp.dir, 'ek'), `${EK}\n`)
    const env = {PUSH_AK: AK, WRONG_EK: WRONG}
    cfg = resolveConfig(
      {
        mqtt: {url: `mqtt://127.0.0.1:${broker.port}`},
        publish: {format: 'plain', topic: 'push/{id}'},
        push: {listen: `127.0.0.1:${pushPort}`},
        metrics: {heartbeat: '200ms'},
        meters: [
          {
            // push-only (no host), plain pushes with the object list sent, matched by logical device name
            id: 'lan',
            push: {logical_device_name: 'NTM12345678'},
            obis: [
              {obis: '1.0.1.8.0.255', key: 'energy_kwh', unit: 'kWh'},
              {obis: '1.0.32.7.0.255', key: 'voltage_v'},
              {obis: '1.0.1.7.0.255', key: 'power_w'},
              {obis: '0.0.1.0.0.255', key: 'clock', class: 8},
            ],
          },
          {
            // the object lists configured (the meter omits them), an alarm register that only arrives by push
            id: 'configured',
            push: {
              logical_device_name: 'NTM12345679',
              object_lists: {
                '0.0.25.9.0.255': [
                  {class: 40, obis: '0.0.25.9.0.255', attribute: 1},
                  {class: 1, obis: '0.0.42.0.0.255'},
                  {class: 8, obis: '0.0.1.0.0.255'},
                  {class: 3, obis: '1.0.1.8.0.255'},
                  {class: 3, obis: '1.0.1.8.0.255', attribute: 3},
                ],
                '0.4.25.9.0.255': [
                  {class: 40, obis: '0.4.25.9.0.255', attribute: 1},
                  {class: 1, obis: '0.0.42.0.0.255'},
                  {class: 1, obis: '0.0.97.98.0.255'},
                ],
              },
              obis: {'0.0.97.98.0.255': 'alarm_register_1'},
            },
            obis: {'1.0.1.8.0.255': 'energy_wh'},
          },
          {
            // ciphered pushes (general-glo-ciphering), keys from a file and an env variable
            id: 'cipher',
            push: {system_title: '4D4D4D0000BC614E', ek_file: join(tmp.dir, 'ek'), ak_env: 'PUSH_AK'},
            obis: {'1.0.1.8.0.255': 'energy_wh'},
          },
          {
            // the simulator's second ciphered meter, configured with a wrong encryption key
            id: 'wrongkey',
            push: {system_title: '4D4D4D0000BC614F', ek_env: 'WRONG_EK', ak_env: 'PUSH_AK'},
            obis: {'1.0.1.8.0.255': 'energy_wh'},
          },
          {
            // pushes must be ciphered; the test sends a plain one with its logical device name
            id: 'strict',
            push: {logical_device_name: 'NTM12345680', system_title: '4D4D4D0000BC6150', ek_env: 'WRONG_EK', ak_env: 'PUSH_AK'},
            obis: {'1.0.1.8.0.255': 'energy_wh'},
          },
        ],
      },
      {env, baseDir: tmp.dir},
    )
    store = await openStore({db: tmp.db})
    bridge = await startBridge(cfg, {store, log, singleInstance: false})
  })

  afterAll(async () => {
    for (const s of sims) await s.close()
    await bridge?.stop()
    await store?.close()
    await sub?.close()
    await broker?.close()
    tmp.cleanup()
  })

  it('a periodic push (object list sent) is stored as a reading of the push-only meter and published', async () => {
    const s = await sim({meters: 1, push: {host: '127.0.0.1', port: pushPort}})
    const NOW = tick()
    await s.push(0)
    const rows = await waitFor('the pushed reading in the store', async () => {
      const r = await readings('lan')
      return r.length > 0 ? r : undefined
    })
    expect(rows).toHaveLength(1)
    // the notification's date-time is the meter clock: the reading has that timestamp, not the receive time
    expect(rows[0]!.ts).toBe(NOW)
    const v = rows[0]!.values
    expect(Object.keys(v).sort()).toEqual(['clock', 'energy_kwh', 'power_w', 'voltage_v'])
    // ground truth from the meter model: energy is a closed form of the clock (Wh) → kWh
    expect(v.energy_kwh).toBe(s.meters[0]!.energyAt(NOW) / 1000)
    expect(v.voltage_v).toBeGreaterThan(220)
    expect(v.voltage_v).toBeLessThan(240)
    expect(Math.round(v.voltage_v * 10)).toBeCloseTo(v.voltage_v * 10, 6) // scaler -1 applied: one decimal
    expect(Math.abs(v.power_w - s.meters[0]!.powerAt(NOW))).toBeLessThan(200)
    expect(new Date(v.clock).getTime()).toBe(NOW)
    const msgs = await waitFor('the reading on the broker', () => (published('lan').length > 0 ? published('lan') : undefined))
    expect(msgs[0]).toMatchObject({meter_id: 'lan', ts: NOW, values: v})
    const st = await status()
    expect(st.push).toMatchObject({listen: `127.0.0.1:${pushPort}`, received: 1, decoded: 1, malformed: 0, unknown: 0, refused: 0, stored: 1})
    const m = st.meters.find(x => x.id === 'lan')!
    expect(m.endpoint).toBe('push only')
    expect(m.state).toBe('push-only')
    expect(m.push).toMatchObject({received: 1, last_error: null})
    expect(m.published).toBe(1)
  })

  it('an unknown sender is counted and logged, not stored', async () => {
    const before = (await status()).push!
    // meters 0..2 of this simulator are NTM12345678.. but start at index 0 of a new model; index 3 is unknown
    const s = await sim({meters: 4, push: {host: '127.0.0.1', port: pushPort}})
    await s.push(3)
    const st = await waitFor('the unknown push counted', async () => {
      const x = await status()
      return x.push!.unknown > before.unknown ? x : undefined
    })
    expect(st.push!.unknown).toBe(before.unknown + 1)
    expect(st.push!.stored).toBe(before.stored)
    expect(logs.some(l => l.includes('unknown meter') && l.includes('NTM12345681'))).toBe(true)
    expect(await store.query("SELECT count(*) AS n FROM readings WHERE meter_id NOT IN ('lan','configured','cipher','wrongkey','strict')")).toEqual([{n: 0}])
  })

  it('an alarm push with a configured object list (the meter omits it) stores the alarm register', async () => {
    const s = await sim({meters: 2, push: {host: '127.0.0.1', port: pushPort, objectList: 'omitted'}})
    tick()
    await s.push(1, 'alarm', 0x00000104)
    const rows = await waitFor('the alarm reading', async () => {
      const r = await readings('configured')
      return r.find(x => 'alarm_register_1' in x.values) ? r : undefined
    })
    expect(rows.find(x => 'alarm_register_1' in x.values)!.values).toEqual({alarm_register_1: 0x104})
    // and the periodic push of the same meter through its other configured list
    const NOW = tick()
    await s.push(1, 'periodic')
    const p = await waitFor('the periodic reading', async () => (await readings('configured')).find(x => 'energy_wh' in x.values))
    expect(p.values).toEqual({energy_wh: s.meters[1]!.energyAt(NOW)})
    await waitFor('both on the broker', () => published('configured').length >= 2)
  })

  it('malformed pushes are counted and the listener goes on', async () => {
    const s = await sim({meters: 1, push: {host: '127.0.0.1', port: pushPort}})
    const before = (await status()).push!
    // a wrapper frame whose APDU is a truncated DataNotification, then one that is not a DataNotification
    await s.pushRaw(0, encodeWrapperFrame({src: 1, dst: 16, apdu: Uint8Array.from([0x0f, 0x40, 0x00])}))
    await s.pushRaw(0, encodeWrapperFrame({src: 1, dst: 16, apdu: Uint8Array.from([0xc4, 0x01, 0xc1, 0x00, 0x11, 0x05])}))
    // a broken wrapper header: that connection is closed by the listener
    await s.pushRaw(0, Uint8Array.from([0xde, 0xad, 0x00, 0x01, 0x00, 0x10, 0x00, 0x01, 0x00]))
    await waitFor('three malformed counted', async () => (await status()).push!.malformed >= before.malformed + 3)
    // the same meter pushes again (a new connection): decoded and stored
    const had = (await readings('lan')).length
    tick()
    await waitFor('the push connection to be re-opened', async () => {
      try {
        await s.push(0)
        return (await readings('lan')).length > had
      } catch {
        return false
      }
    })
    const st = await status()
    expect(st.push!.malformed).toBe(before.malformed + 3)
    expect(st.push!.decoded).toBeGreaterThan(before.decoded)
    expect(logs.filter(l => l.includes('not a valid DataNotification')).length).toBeGreaterThanOrEqual(2)
  })

  it('ciphered pushes: decoded with the right keys, refused with a wrong key; a plain push refused where cipher is required', async () => {
    const before = (await status()).push!
    const s = await sim({
      meters: 3,
      security: {systemTitle: Uint8Array.from(Buffer.from('4D4D4D0000BC614E', 'hex')), ek: Buffer.from(EK, 'hex'), ak: Buffer.from(AK, 'hex')},
      push: {host: '127.0.0.1', port: pushPort},
    })
    cipherSim = s
    const NOW = tick()
    await s.push(0)
    const rows = await waitFor('the ciphered reading', async () => {
      const r = await readings('cipher')
      return r.length > 0 ? r : undefined
    })
    expect(rows[0]!.values).toEqual({energy_wh: s.meters[0]!.energyAt(NOW)})
    expect(rows[0]!.ts).toBe(NOW)
    await s.push(1) // system title …4F: configured with a wrong EK → tag does not verify
    await waitFor('the wrong-key push refused', async () => (await status()).push!.refused >= before.refused + 1)
    expect(await readings('wrongkey')).toEqual([])
    // meter 2 (system title …50, LDN NTM12345680) sends a plain push: its config requires ciphered pushes
    const plain = await sim({meters: 3, push: {host: '127.0.0.1', port: pushPort}})
    await plain.push(2)
    const st = await waitFor('the plain push refused', async () => {
      const x = await status()
      return x.push!.refused >= before.refused + 2 ? x : undefined
    })
    expect(await readings('strict')).toEqual([])
    expect(st.push!.refused).toBe(before.refused + 2)
    expect(st.meters.find(m => m.id === 'wrongkey')!.push!.last_error).toMatch(/does not verify/)
    expect(st.meters.find(m => m.id === 'strict')!.push!.last_error).toMatch(/must be ciphered/)
    // a replay: meter 0's first push again, with the invocation counter it already used (1)
    const replay = protectNotification(buildPush(s.meters[0]!, 'periodic', {invokeId: 1, sent: true}), {
      ek: Buffer.from(EK, 'hex'),
      ak: Buffer.from(AK, 'hex'),
      sc: 0x30,
      systemTitle: Buffer.from('4D4D4D0000BC614E', 'hex'),
      invocationCounter: 1,
    })
    await s.pushRaw(0, encodeWrapperFrame({src: 1, dst: 16, apdu: replay}))
    await waitFor('the replay refused', async () => (await status()).push!.refused >= before.refused + 3)
    expect(await readings('cipher')).toHaveLength(1)
    expect(logs.some(l => l.includes('meter cipher') && /not greater than the last accepted/.test(l))).toBe(true)
    // keys never reach the log
    expect(logs.join('\n')).not.toMatch(new RegExp(`${EK}|${AK}|${WRONG}`, 'i'))
  })

  it('after a restart of the bridge a replayed push is still refused; the meter’s next push is accepted', async () => {
    const s = cipherSim!
    await bridge.stop()
    bridge = await startBridge(cfg, {store, log, singleInstance: false})
    const replay = protectNotification(buildPush(s.meters[0]!, 'periodic', {invokeId: 9, sent: true}), {
      ek: Buffer.from(EK, 'hex'),
      ak: Buffer.from(AK, 'hex'),
      sc: 0x30,
      systemTitle: Buffer.from('4D4D4D0000BC614E', 'hex'),
      invocationCounter: 1,
    })
    const had = (await readings('cipher')).length
    // the old push connection was closed by the stop: pushRaw opens a new one
    await waitFor('the replay sent to the new listener', async () => {
      try {
        await s.pushRaw(0, encodeWrapperFrame({src: 1, dst: 16, apdu: replay}))
        return true
      } catch {
        return false
      }
    })
    await waitFor('the replay refused after the restart', async () => (await status()).push!.refused >= 1)
    const st = await status()
    expect(st.push).toMatchObject({refused: 1, decoded: 0})
    tick()
    await s.push(0)
    await waitFor('the next genuine push stored', async () => (await readings('cipher')).length === had + 1)
  })
})

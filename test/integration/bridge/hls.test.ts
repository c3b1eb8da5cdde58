/**
 * Issue 18 item 1 in the bridge: a meter configured with auth hls-gmac (keys from an env variable
 * and a file) is polled and its load profile caught up over HLS-GMAC, security suite 0, end to end
 * over both framings: netmon's simulator with HLS (in this process), the built CLI's `bridge run`
 * as its own process, aedes, the real store. The client invocation counter is persisted per meter:
 * the simulator keeps the last counter it accepted from our system title and refuses any replayed
 * one, so a restart that reused counters would be rejected. The keys never appear in any output.
 */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {startSimulator, type Simulator} from '../../../src/core/dlms/simulator/server.js'
import {openStore} from '../../../src/core/store/index.js'
import {runCli, tempStore} from '../../support/cli.js'
import {spawnCli, startAedes, waitFor, type AedesBroker, type Proc} from './helpers.js'

const EK = '000102030405060708090a0b0c0d0e0f'
const AK = 'd0d1d2d3d4d5d6d7d8d9dadbdcdddedf'
const METER_ST = '4d4d4d0000bc614e'
const CLIENT_ST = '4e4d4f4e00000001'
const hex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'))

describe('bridge with HLS-GMAC meters (wrapper and HDLC)', {timeout: 180_000}, () => {
  const tmp = tempStore('netmon-bridge-hls-')
  let broker: AedesBroker | undefined
  const sims: Simulator[] = []
  let bridge: Proc | undefined
  afterAll(async () => {
    bridge?.kill('SIGKILL')
    for (const s of sims) await s.close()
    await broker?.close()
    tmp.cleanup()
  })

  it('polls and catches up the profile over HLS; the counter continues across a restart; keys never printed', async () => {
    broker = await startAedes()
    const events: string[] = []
    const sec = {systemTitle: hex(METER_ST), ek: hex(EK), ak: hex(AK)}
    const onEvent = (e: {type: string}) => events.push(JSON.stringify(e))
    const wrapper = await startSimulator({port: 0, meters: 1, security: sec, onEvent})
    const hdlc = await startSimulator({port: 0, meters: 1, framing: 'hdlc', security: sec, onEvent})
    sims.push(wrapper, hdlc)
    const akFile = join(tmp.dir, 'meter.ak')
    writeFileSync(akFile, `${AK.toUpperCase()}\n`)
    const cfg = join(tmp.dir, 'hls.json')
    const auth = {mechanism: 'hls-gmac', system_title: CLIENT_ST.toUpperCase(), meter_system_title: METER_ST, ek_env: 'METER_EK', ak_file: 'meter.ak'}
    writeFileSync(
      cfg,
      JSON.stringify({
        mqtt: {url: `mqtt://127.0.0.1:${broker.port}`, client_id: 'bridge-hls'},
        publish: {format: 'plain', topic: 'hls/{id}'},
        defaults: {
          poll_interval: '300ms',
          timeout: '3s',
          auth,
          obis: {'1.0.1.8.0.255': 'energy_wh', '1.0.32.7.0.255': 'voltage_v'},
          profiles: [{obis: '1.0.99.1.0.255', every: '1s', max_rows: 20, backfill: '6h'}],
        },
        meters: [
          {id: 'w1', host: '127.0.0.1', port: wrapper.ports[0]},
          {id: 'h1', host: '127.0.0.1', port: hdlc.ports[0], framing: 'hdlc'},
        ],
        metrics: {heartbeat: '300ms', interfaces: ['lo']},
        shutdown_timeout: '3s',
      }),
    )
    const env = {METER_EK: EK}
    const check = await runCli(['bridge', 'check', '--config', cfg, '--json'], {noDb: true, env})
    expect(check.code, check.stderr).toBe(0)
    expect(check.json.meters[0].auth).toBe(
      `HLS-GMAC (client system title ${CLIENT_ST.toUpperCase()}, EK from $METER_EK, AK from ${akFile}, security control 0x30), client 1`,
    )
    const start = () => spawnCli(['bridge', 'run', '--config', cfg, '--db', tmp.db, '--log-format', 'json', '--log-level', 'debug'], env)
    const readingsOf = (id: string) => broker!.messages.filter(m => m.topic === `hls/${id}`).map(m => JSON.parse(m.payload))
    const polled = (id: string) => readingsOf(id).filter(r => typeof r.values.voltage_v === 'number')
    const profileRows = (id: string) => readingsOf(id).filter(r => 'obis_1_0_1_8_0_255' in r.values || ('energy_wh' in r.values && !('voltage_v' in r.values)))

    bridge = start()
    await waitFor('HLS readings from both meters', () => polled('w1').length >= 3 && polled('h1').length >= 3, 60_000)
    await waitFor('profile rows over HLS from both meters', () => profileRows('w1').length >= 24 && profileRows('h1').length >= 24, 60_000)
    for (const r of polled('w1')) expect(r.values.energy_wh).toBeGreaterThan(1_000_000)
    bridge.kill('SIGTERM')
    expect((await bridge.exited).code).toBe(0)
    const out1 = bridge.stdout() + bridge.stderr()

    const counters = async () => {
      const store = await openStore({db: tmp.db})
      try {
        return await store.query<{meter: string; client_system_title: string; next_ic: number; meter_system_title: string | null}>(
          'SELECT meter, client_system_title, next_ic, meter_system_title FROM dlms_invocation_counters ORDER BY meter',
        )
      } finally {
        await store.close()
      }
    }
    const c1 = await counters()
    expect(c1.map(r => String(r.meter)).sort()).toEqual([`127.0.0.1:${hdlc.ports[0]}/1`, `127.0.0.1:${wrapper.ports[0]}/1`].sort())
    for (const r of c1) {
      expect(String(r.client_system_title)).toBe(CLIENT_ST)
      // A clean stop gives back the unused part of the reservation: the next counter is the one after the last used.
      expect(Number(r.next_ic)).toBeGreaterThan(10)
      expect(Number(r.next_ic)).toBeLessThan(10_000)
      expect(String(r.meter_system_title)).toBe(METER_ST)
    }

    // Restart: the meters still remember the last counter they accepted; a reused one would be refused.
    const before = polled('w1').length + polled('h1').length
    bridge = start()
    await waitFor('readings after the restart', () => polled('w1').length + polled('h1').length >= before + 6, 60_000)
    const s = (await runCli(['bridge', 'status', '--json'], {db: tmp.db})).json
    for (const m of s.meters) {
      expect(m.state, JSON.stringify(m)).toBe('polling')
      expect(m.failures).toBe(0)
    }
    bridge.kill('SIGTERM')
    expect((await bridge.exited).code).toBe(0)
    const c2 = await counters()
    for (const r of c2) expect(Number(r.next_ic)).toBeGreaterThan(Number(c1.find(x => x.meter === r.meter)!.next_ic))
    expect(events.some(e => e.includes('"rejected"'))).toBe(false)
    // Every association the meters accepted was HLS-GMAC, on both framings (two starts each at least).
    const assoc = events.filter(e => e.includes('"associated"'))
    expect(assoc.length).toBeGreaterThanOrEqual(4)
    for (const e of assoc) expect(JSON.parse(e)).toMatchObject({clientAddress: 1, mechanism: 'high-gmac'})

    // Secrets: neither key in any spelling in the logs (debug level), status or check output.
    const everything = [out1, bridge.stdout(), bridge.stderr(), JSON.stringify(s), JSON.stringify(check.json)].join('\n')
    for (const k of [EK, AK]) {
      expect(everything.toLowerCase()).not.toContain(k)
    }
  })
})

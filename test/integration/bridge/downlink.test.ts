/**
 * Issue 18 item 3, ThingsBoard downlink against real brokers: aedes in-process and Debian's mosquitto
 * on a free loopback port. A test MQTT client plays ThingsBoard: it publishes RPC requests and shared
 * attribute updates exactly as ThingsBoard's transport does (gateway: v1/gateway/rpc
 * {"device","data":{"id","method","params"}}; device API: v1/devices/me/rpc/request/{id}) and checks
 * the replies. The bridge runs in-process on a real store, against netmon's DLMS simulator with LLS;
 * every state a write method changes is read back from the simulator (its model and over DLMS).
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {resolveConfig} from '../../../src/core/bridge/config.js'
import {startBridge, type Bridge} from '../../../src/core/bridge/daemon.js'
import {D, DlmsClient, startSimulator, type Simulator} from '../../../src/core/dlms/index.js'
import {createLogger} from '../../../src/core/log.js'
import {openStore, type Store} from '../../../src/core/store/index.js'
import {runCli, tempStore} from '../../support/cli.js'
import {MOSQUITTO, mosquitto, startAedes, waitFor, type Mosquitto} from './helpers.js'

const PW = '12345678'
type Json = Record<string, any>

/** The test's ThingsBoard: an mqtt.js client that records everything and sends what ThingsBoard sends. */
interface FakeTb {
  seen: {topic: string; body: Json}[]
  publish(topic: string, body: unknown): Promise<void>
  /** Gateway API: one RPC, resolved with the reply's data. */
  rpc(device: string, method: string, params?: unknown): Promise<Json>
  close(): Promise<void>
}

async function fakeThingsBoard(port: number, topics: string[]): Promise<FakeTb> {
  const mqtt = await import('mqtt')
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, {clientId: `tb-${Math.random().toString(16).slice(2)}`, protocolVersion: 4, reconnectPeriod: 0})
  const seen: FakeTb['seen'] = []
  client.on('message', (topic, payload) => {
    let body: Json
    try {
      body = JSON.parse(payload.toString())
    } catch {
      body = {unparsable: payload.toString()}
    }
    seen.push({topic, body})
  })
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => client.subscribe(topics, {qos: 1}, e => (e ? reject(e) : resolve())))
    client.once('error', reject)
  })
  let nextId = 100
  const publish = (topic: string, body: unknown) =>
    new Promise<void>((resolve, reject) =>
      client.publish(topic, typeof body === 'string' ? body : JSON.stringify(body), {qos: 1}, e => (e ? reject(e) : resolve())),
    )
  return {
    seen,
    publish,
    async rpc(device, method, params) {
      const id = nextId++
      await publish('v1/gateway/rpc', {device, data: {id, method, ...(params === undefined ? {} : {params})}})
      const reply = await waitFor(
        `reply to RPC ${id} (${method})`,
        () => seen.find(m => m.topic === 'v1/gateway/rpc' && m.body.id === id && m.body.device === device),
        30_000,
        20,
      )
      return reply.body.data
    },
    close: () => new Promise<void>(r => client.end(true, {}, () => r())),
  }
}

const near = (a: number, b: number, ms: number) => Math.abs(a - b) <= ms

/** The meter's clock and disconnect state read over DLMS by another client (LLS), not through the bridge. */
async function readBack(sim: Simulator, meter: number): Promise<{clockMs: number; output: unknown; state: unknown}> {
  const c = new DlmsClient({host: '127.0.0.1', port: sim.ports[meter]!, clientAddress: 17, auth: {mechanism: 'low', password: PW}, timeoutMs: 3000})
  try {
    await c.open()
    const clock = await c.readClock()
    return {clockMs: clock.date!.getTime(), output: await c.read('0.0.96.3.10.255', 70, 2), state: await c.read('0.0.96.3.10.255', 70, 3)}
  } finally {
    await c.close()
  }
}

function gatewayConfig(port: number, sim: Simulator) {
  return resolveConfig(
    {
      mqtt: {url: `mqtt://127.0.0.1:${port}`, client_id: `downlink-test-${port}`, reconnect: {min: '100ms', max: '500ms'}},
      publish: {format: 'thingsboard-gateway'},
      downlink: {rpc_timeout: '8s'},
      defaults: {
        host: '127.0.0.1',
        auth: {mechanism: 'low', password_env: 'METER_PW'},
        timeout: '1s',
        reconnect: {min: '100ms', max: '300ms'},
        device_type: 'electricity-meter',
        obis: [
          {obis: '1.0.1.8.0.255', key: 'energy_wh'},
          {obis: '1.0.32.7.0.255', key: 'voltage_v'},
          {obis: '0.0.1.0.0.255', key: 'clock', class: 8},
        ],
      },
      meters: [
        {id: 'm1', name: 'Meter One', port: sim.ports[0], poll_interval: '1s', allow_write: true, device_type: 'DLMS meter'},
        {id: 'm2', port: sim.ports[1], poll_interval: '5s'},
      ],
      metrics: {heartbeat: '500ms'},
    },
    {env: {METER_PW: PW}},
  )
}

const brokers: {name: string; skip: boolean; start: (dir: string) => Promise<{port: number; close: () => Promise<void>}>}[] = [
  {
    name: 'aedes',
    skip: false,
    start: async () => {
      const b = await startAedes()
      return {port: b.port, close: () => b.close()}
    },
  },
  {
    name: 'mosquitto',
    skip: !MOSQUITTO,
    start: async dir => {
      const m: Mosquitto = await mosquitto(dir)
      await m.start()
      return {port: m.port, close: () => m.stop()}
    },
  },
]

for (const broker of brokers) {
  describe.skipIf(broker.skip)(`ThingsBoard gateway downlink via ${broker.name} (skipped without the mosquitto binary)`, {timeout: 180_000}, () => {
    const tmp = tempStore('netmon-downlink-')
    let sim: Simulator
    let b: {port: number; close: () => Promise<void>}
    let store: Store
    let bridge: Bridge | undefined
    let tb: FakeTb
    const lines: Json[] = []
    const attributeRequests: Json[] = []

    beforeAll(async () => {
      sim = await startSimulator({host: '127.0.0.1', port: 0, framing: 'wrapper', meters: 2, password: PW})
      b = await broker.start(tmp.dir)
      tb = await fakeThingsBoard(b.port, ['v1/gateway/connect', 'v1/gateway/rpc', 'v1/gateway/attributes/request'])
      store = await openStore({db: tmp.db})
      bridge = await startBridge(gatewayConfig(b.port, sim), {
        store,
        log: createLogger({format: 'json', level: 'debug', write: l => lines.push(JSON.parse(l))}),
        singleInstance: false,
      })
      await waitFor('both meters polling', () => Object.values(bridge!.snapshot().meters).every(m => m.state === 'polling' && m.polls > 0), 30_000)
    })
    afterAll(async () => {
      await bridge?.stop().catch(() => {})
      await tb?.close()
      await store?.close()
      await b?.close()
      await sim?.close()
      tmp.cleanup()
    })

    it('announces each meter with its device type (ThingsBoard device profile) and asks for its shared attributes', async () => {
      const connects = await waitFor('two connect messages', () => {
        const c = tb.seen.filter(m => m.topic === 'v1/gateway/connect').map(m => m.body)
        return c.length >= 2 ? c : undefined
      })
      expect(connects).toEqual(
        expect.arrayContaining([
          {device: 'Meter One', type: 'DLMS meter'},
          {device: 'm2', type: 'electricity-meter'},
        ]),
      )
      const reqs = await waitFor('two attribute requests', () => {
        const r = tb.seen.filter(m => m.topic === 'v1/gateway/attributes/request').map(m => m.body)
        return r.length >= 2 ? r : undefined
      })
      attributeRequests.push(...reqs)
      for (const r of reqs)
        expect(r).toEqual({id: expect.any(Number), device: expect.stringMatching(/^(Meter One|m2)$/), client: false, keys: ['poll_interval']})
    })

    it('shared attribute poll_interval: from the attribute response, from an update, deleted; other keys ignored with a log line', async () => {
      const req = attributeRequests.find(r => r.device === 'm2')!
      const polls0 = bridge!.snapshot().meters.m2!.polls
      // ThingsBoard answers a one-key request with "value".
      await tb.publish('v1/gateway/attributes/response', {id: req.id, device: 'm2', value: 0.25})
      await waitFor('m2 at 250 ms', () => bridge!.snapshot().meters.m2!.pollIntervalMs === 250)
      // The configured 5 s would give at most 3 polls in 15 s: these come from the new interval.
      await waitFor('m2 polling faster', () => bridge!.snapshot().meters.m2!.polls >= polls0 + 6, 15_000)
      await tb.publish('v1/gateway/attributes', {device: 'm2', data: {poll_interval: '2s', tariff: 'T2'}})
      await waitFor('m2 at 2 s', () => bridge!.snapshot().meters.m2!.pollIntervalMs === 2000)
      await waitFor('the ignored attribute logged', () => lines.find(l => l.msg.includes('attribute "tariff" ignored')))
      await tb.publish('v1/gateway/attributes', {device: 'm2', data: {poll_interval: 'soon'}})
      await waitFor('a bad value logged', () => lines.find(l => l.level === 'warn' && l.msg.includes('poll_interval ignored')))
      expect(bridge!.snapshot().meters.m2!.pollIntervalMs).toBe(2000)
      await tb.publish('v1/gateway/attributes', {device: 'm2', data: {deleted: ['poll_interval']}})
      await waitFor('m2 back to its configured 5 s', () => bridge!.snapshot().meters.m2!.pollIntervalMs === 5000)
      // An update for a device this bridge does not have changes nothing.
      await tb.publish('v1/gateway/attributes', {device: 'elsewhere', data: {poll_interval: 1}})
      expect(bridge!.snapshot().meters['m1']!.pollIntervalMs).toBe(1000)
    })

    it('read: OBIS codes and telemetry keys now, values as the poll publishes them', async () => {
      const all = await tb.rpc('Meter One', 'read')
      expect(all.success, JSON.stringify(all)).toBe(true)
      expect(Object.keys(all.result.values)).toEqual(['energy_wh', 'voltage_v', 'clock'])
      const r = await tb.rpc('Meter One', 'read', {obis: ['energy_wh', '1-0:32.7.0*255', {obis: '0.0.96.1.0.255', class: 1}, '1.0.31.7.0.255']})
      expect(r.success, JSON.stringify(r)).toBe(true)
      const v = r.result.values
      const e = sim.meters[0]!.energyAt(r.result.ts)
      expect(near(v.energy_wh, e, 2), `${v.energy_wh} vs ${e}`).toBe(true)
      expect(v['1.0.32.7.0.255']).toBeGreaterThan(220)
      expect(v['1.0.32.7.0.255']).toBeLessThan(240)
      expect(v['0.0.96.1.0.255']).toBe(sim.meters[0]!.serial)
      // not configured: its scaler (−2) was read for the RPC
      expect(v['1.0.31.7.0.255']).toBeGreaterThan(0)
      expect(v['1.0.31.7.0.255']).toBeLessThan(30)
      // an object the meter does not have: null and the reason, the rest still answered
      const partial = await tb.rpc('m2', 'read', {obis: ['1.0.1.8.0.255', '1.0.99.99.0.255']})
      expect(partial.success).toBe(true)
      expect(partial.result.values['1.0.99.99.0.255']).toBeNull()
      expect(partial.result.errors).toEqual({'1.0.99.99.0.255': 'object-undefined'})
      expect(typeof partial.result.values['1.0.1.8.0.255']).toBe('number')
      // ThingsBoard dashboards send params as JSON text
      const text = await tb.rpc('m2', 'read', '{"obis":"voltage_v"}')
      expect(text.success, JSON.stringify(text)).toBe(true)
      expect(Object.keys(text.result.values)).toEqual(['voltage_v'])
    })

    it('read_profile: the rows of a time range, each as the meter holds it', async () => {
      const to = Date.now()
      const from = to - 2 * 3_600_000
      const r = await tb.rpc('m2', 'read_profile', {from: new Date(from).toISOString(), to})
      expect(r.success, JSON.stringify(r)).toBe(true)
      expect(r.result.obis).toBe('1.0.99.1.0.255')
      expect(r.result.columns).toEqual(['0.0.1.0.0.255:2', '1.0.1.8.0.255:2'])
      expect(r.result.count).toBeGreaterThanOrEqual(7)
      expect(r.result.count).toBeLessThanOrEqual(9)
      expect(r.result.truncated).toBe(false)
      expect(r.result.selection).toBe('range')
      expect(r.result.fallback).toBeUndefined()
      for (const [time, energy] of r.result.rows) {
        const t = Date.parse(time)
        expect(t).toBeGreaterThanOrEqual(from)
        expect(t).toBeLessThanOrEqual(to)
        expect(energy).toBe(sim.meters[1]!.energyAt(t))
      }
      const limited = await tb.rpc('m2', 'read_profile', {from, to, limit: 2})
      expect(limited.result.rows).toHaveLength(2)
      expect(limited.result.truncated).toBe(true)
    })

    it('set_clock (allow_write): the meter clock is set, read back over DLMS; refused to a meter without allow_write', async () => {
      const target = Date.now() + 86_400_000 + 3_600_000
      const r = await tb.rpc('Meter One', 'set_clock', {time: new Date(target).toISOString()})
      expect(r.success, JSON.stringify(r)).toBe(true)
      expect(near(Date.parse(r.result.after), target, 5000)).toBe(true)
      expect(r.result.written).toMatch(/\+01:00$/) // in the meter's own offset
      expect(near((await readBack(sim, 0)).clockMs, target, 10_000)).toBe(true)
      const back = await tb.rpc('Meter One', 'set_clock') // no time: the bridge host's clock
      expect(back.success).toBe(true)
      expect(near((await readBack(sim, 0)).clockMs, Date.now(), 10_000)).toBe(true)

      const refused = await tb.rpc('m2', 'set_clock', {time: new Date(target).toISOString()})
      expect(refused).toEqual({
        success: false,
        method: 'set_clock',
        error: {code: 'WRITE_NOT_ALLOWED', message: expect.stringContaining('allow_write: true')},
      })
      expect(near(sim.meters[1]!.now(), Date.now(), 5000)).toBe(true)
    })

    it('disconnect / reconnect (class 70, allow_write): the state changes in the meter and is read back; refused without allow_write', async () => {
      const off = await tb.rpc('Meter One', 'disconnect')
      expect(off).toEqual({success: true, method: 'disconnect', result: {obis: '0.0.96.3.10.255', output_state: false, control_state: 'disconnected'}})
      expect(sim.meters[0]!.controlState).toBe(0)
      expect(await readBack(sim, 0)).toMatchObject({output: D.bool(false), state: D.enum(0)})
      const viaRead = await tb.rpc('Meter One', 'read', {obis: [{obis: '0.0.96.3.10.255', class: 70}]})
      expect(viaRead.result.values).toEqual({'0.0.96.3.10.255': false})
      const on = await tb.rpc('Meter One', 'reconnect', {})
      expect(on.result).toEqual({obis: '0.0.96.3.10.255', output_state: true, control_state: 'connected'})
      expect(await readBack(sim, 0)).toMatchObject({output: D.bool(true), state: D.enum(1)})

      for (const method of ['disconnect', 'reconnect']) {
        const refused = await tb.rpc('m2', method)
        expect(refused.success).toBe(false)
        expect(refused.error.code).toBe('WRITE_NOT_ALLOWED')
      }
      expect(sim.meters[1]!.controlState).toBe(1)
      expect(lines.filter(l => l.level === 'warn' && /RPC (disconnect|reconnect) \(id \d+\) failed: WRITE_NOT_ALLOWED/.test(l.msg))).toHaveLength(2)
    })

    it('errors are replies: unknown method, bad params, unknown device', async () => {
      const unknown = await tb.rpc('m2', 'reboot')
      expect(unknown).toEqual({
        success: false,
        method: 'reboot',
        error: {code: 'UNKNOWN_METHOD', message: expect.stringContaining('read, read_profile, set_clock')},
      })
      const noFrom = await tb.rpc('m2', 'read_profile', {to: Date.now()})
      expect(noFrom.error.code).toBe('BAD_PARAMS')
      expect(noFrom.error.message).toMatch(/^params from:/)
      const badObis = await tb.rpc('m2', 'read', {obis: ['nonsense']})
      expect(badObis.error).toEqual({code: 'BAD_PARAMS', message: 'params.obis[0]: "nonsense" is neither a configured telemetry key nor an OBIS code'})
      const extra = await tb.rpc('Meter One', 'disconnect', {obis: '0.0.96.3.10.255', force: true})
      expect(extra.error.code).toBe('BAD_PARAMS')
      expect(sim.meters[0]!.controlState).toBe(1)
      const nobody = await tb.rpc('Elsewhere', 'read')
      expect(nobody.error.code).toBe('UNKNOWN_DEVICE')
      // a request without a method still gets an answer
      await tb.publish('v1/gateway/rpc', {device: 'm2', data: {id: 9999}})
      const bad = await waitFor('reply to 9999', () => tb.seen.find(m => m.topic === 'v1/gateway/rpc' && m.body.id === 9999))
      expect(bad.body.data.error.code).toBe('BAD_REQUEST')
    })

    it('the meter cut off: TIMEOUT reply, then METER_UNREACHABLE while it reconnects; answers again once it is back', async () => {
      sim.setFault(1, {type: 'silent'})
      const t = await tb.rpc('m2', 'read', {obis: 'energy_wh'})
      expect(t.success).toBe(false)
      expect(t.error.code).toBe('TIMEOUT')
      expect(t.error.dlms_code).toBe('TIMEOUT')
      const u = await tb.rpc('m2', 'read')
      expect(u.error.code).toBe('METER_UNREACHABLE')
      sim.setFault(1, null)
      await waitFor('m2 polling again', () => bridge!.snapshot().meters.m2!.state === 'polling', 30_000)
      const ok = await tb.rpc('m2', 'read', {obis: 'energy_wh'})
      expect(ok.success, JSON.stringify(ok)).toBe(true)
    })

    it('RPC replies are counted as control messages, not readings; the heartbeat carries the downlink counts', async () => {
      const d = await waitFor('a heartbeat with downlink counts', async () => {
        const detail = JSON.parse((await store.get<{detail: string}>('SELECT detail FROM bridge_status WHERE id = 1'))!.detail)
        return detail.downlink?.rpc_requests === 23 ? detail.downlink : undefined
      })
      // 23 RPCs above, 11 of them answered with an error; 3 shared attribute updates for meters of this bridge
      expect(d).toEqual({rpc_requests: 23, rpc_errors: 11, attribute_updates: 3})
      // bridge status, as an operator reads it from another shell (the built CLI on the same store)
      const st = await runCli(['bridge', 'status', '--json'], {db: tmp.db})
      expect(st.code, st.stderr).toBe(0)
      expect(st.json.downlink).toEqual({rpc_requests: 23, rpc_errors: 11, attribute_updates: 3})
      const text = await runCli(['bridge', 'status'], {db: tmp.db})
      expect(text.stdout).toMatch(/downlink +│ 23 RPC\(s\), 11 answered with an error, 3 shared attribute update\(s\)/)
      const c = bridge!.snapshot().meters.m2!.counters
      // m2 got 14 RPC replies, one attribute request and one connect announcement: all control messages
      expect(c.mqttControlSent).toBeGreaterThanOrEqual(16)
      // readings: everything sent is acknowledged but what is in flight; no reply among them
      expect(c.mqttMessagesSent - c.mqttMessagesAcked).toBeLessThanOrEqual(2)
      expect(Math.abs(c.mqttMessagesAcked - bridge!.snapshot().meters.m2!.published)).toBeLessThanOrEqual(1)
    })
  })
}

describe('ThingsBoard device API downlink via aedes (one connection per meter token)', {timeout: 120_000}, () => {
  const tmp = tempStore('netmon-downlink-dev-')
  let sim: Simulator
  let store: Store
  let bridge: Bridge | undefined
  let tb: FakeTb
  let close: () => Promise<void>
  // ThingsBoard routes v1/devices/me/... to the one device session of the token: the broker here does
  // the same for what the test addresses (`target`), by the username each connection logged in with.
  let target = ''
  const publishers: {topic: string; user: string; body: Json}[] = []

  beforeAll(async () => {
    sim = await startSimulator({host: '127.0.0.1', port: 0, framing: 'hdlc', meters: 2, password: PW})
    const {Aedes} = await import('aedes')
    const aedes = await Aedes.createBroker({
      authenticate: (client, username, _pw, done) => {
        ;(client as unknown as {user: string}).user = username ?? ''
        done(null, true)
      },
      authorizeForward: (client, packet) => {
        if (!packet.topic.startsWith('v1/devices/me/')) return packet
        return (client as unknown as {user: string}).user === target ? packet : null
      },
    })
    aedes.on('publish', (packet, client) => {
      if (client && packet.topic.startsWith('v1/devices/me/rpc/response/'))
        publishers.push({
          topic: packet.topic,
          user: (client as unknown as {user: string}).user,
          body: JSON.parse(Buffer.from(packet.payload as Buffer).toString()),
        })
    })
    const net = await import('node:net')
    const server = net.createServer(aedes.handle)
    await new Promise<void>(r => server.listen(0, '127.0.0.1', () => r()))
    const port = (server.address() as import('node:net').AddressInfo).port
    close = async () => {
      await new Promise<void>(r => aedes.close(() => r()))
      await new Promise<void>(r => server.close(() => r()))
    }
    tb = await fakeThingsBoard(port, ['v1/devices/me/attributes/request/+'])
    store = await openStore({db: tmp.db})
    const cfg = resolveConfig(
      {
        mqtt: {url: `mqtt://127.0.0.1:${port}`, client_id: 'downlink-dev'},
        publish: {format: 'thingsboard-device'},
        defaults: {host: '127.0.0.1', framing: 'hdlc', auth: {mechanism: 'low', password_env: 'METER_PW'}, timeout: '1s', obis: {'1.0.1.8.0.255': 'energy_wh'}},
        meters: [
          {id: 'd1', port: sim.ports[0], token_env: 'TOKEN_A', allow_write: true, poll_interval: '1s'},
          {id: 'd2', port: sim.ports[1], token_env: 'TOKEN_B', poll_interval: '1s'},
        ],
        metrics: {heartbeat: '500ms'},
      },
      {env: {METER_PW: PW, TOKEN_A: 'token-aaaa', TOKEN_B: 'token-bbbb'}},
    )
    bridge = await startBridge(cfg, {store, log: createLogger({write: () => {}}), singleInstance: false})
    await waitFor('both meters polling', () => Object.values(bridge!.snapshot().meters).every(m => m.state === 'polling' && m.polls > 0), 30_000)
  })
  afterAll(async () => {
    await bridge?.stop().catch(() => {})
    await tb?.close()
    await store?.close()
    await close?.()
    await sim?.close()
    tmp.cleanup()
  })

  const rpc = async (token: string, id: number, body: unknown) => {
    target = token
    await tb.publish(`v1/devices/me/rpc/request/${id}`, body)
    return await waitFor(`reply ${id}`, () => publishers.find(p => p.topic === `v1/devices/me/rpc/response/${id}`), 30_000, 20)
  }

  it('each meter asks for its shared attributes on its own connection', async () => {
    const reqs = await waitFor('two attribute requests', () => {
      const r = tb.seen.filter(m => m.topic.startsWith('v1/devices/me/attributes/request/'))
      return r.length >= 2 ? r : undefined
    })
    for (const r of reqs) expect(r.body).toEqual({sharedKeys: 'poll_interval'})
  })

  it('RPC on v1/devices/me/rpc/request/{id}, reply on v1/devices/me/rpc/response/{id} from that meter', async () => {
    const r = await rpc('token-aaaa', 41, {method: 'read', params: {obis: '1.0.1.8.0.255'}})
    expect(r.user).toBe('token-aaaa')
    expect(r.body.success, JSON.stringify(r.body)).toBe(true)
    expect(near(r.body.result.values['1.0.1.8.0.255'], sim.meters[0]!.energyAt(r.body.result.ts), 2)).toBe(true)

    const off = await rpc('token-aaaa', 42, {method: 'disconnect'})
    expect(off.body.result).toMatchObject({output_state: false, control_state: 'disconnected'})
    expect(sim.meters[0]!.controlState).toBe(0)
    const refused = await rpc('token-bbbb', 43, {method: 'disconnect'})
    expect(refused.user).toBe('token-bbbb')
    expect(refused.body.error.code).toBe('WRITE_NOT_ALLOWED')
    expect(sim.meters[1]!.controlState).toBe(1)
    await rpc('token-aaaa', 44, {method: 'reconnect'})
    expect(sim.meters[0]!.controlState).toBe(1)
    const noMethod = await rpc('token-bbbb', 45, {params: {}})
    expect(noMethod.body.error.code).toBe('BAD_REQUEST')
  })

  it('shared attribute update on v1/devices/me/attributes changes only that meter', async () => {
    target = 'token-bbbb'
    await tb.publish('v1/devices/me/attributes', {poll_interval: 3})
    await waitFor('d2 at 3 s', () => bridge!.snapshot().meters.d2!.pollIntervalMs === 3000)
    expect(bridge!.snapshot().meters.d1!.pollIntervalMs).toBe(1000)
    await tb.publish('v1/devices/me/attributes', {deleted: ['poll_interval']})
    await waitFor('d2 back to 1 s', () => bridge!.snapshot().meters.d2!.pollIntervalMs === 1000)
  })
})

describe.skipIf(!MOSQUITTO)('ThingsBoard device API downlink via mosquitto (skipped without the mosquitto binary)', {timeout: 120_000}, () => {
  const tmp = tempStore('netmon-downlink-mosq-dev-')
  let sim: Simulator
  let mosq: Mosquitto
  let store: Store
  let bridge: Bridge | undefined
  let tb: FakeTb

  beforeAll(async () => {
    sim = await startSimulator({host: '127.0.0.1', port: 0, framing: 'wrapper', meters: 1, password: PW})
    mosq = await mosquitto(tmp.dir)
    await mosq.start()
    // One meter: on a plain broker every device session shares the v1/devices/me/... topics.
    tb = await fakeThingsBoard(mosq.port, ['v1/devices/me/rpc/response/+', 'v1/devices/me/attributes/request/+'])
    store = await openStore({db: tmp.db})
    const cfg = resolveConfig(
      {
        mqtt: {url: `mqtt://127.0.0.1:${mosq.port}`, client_id: 'downlink-mosq-dev'},
        publish: {format: 'thingsboard-device'},
        meters: [
          {id: 'only', host: '127.0.0.1', port: sim.ports[0], token_env: 'TOKEN', timeout: '1s', poll_interval: '1s', obis: {'1.0.1.8.0.255': 'energy_wh'}},
        ],
        metrics: {heartbeat: '500ms'},
      },
      {env: {TOKEN: 'token-only'}},
    )
    bridge = await startBridge(cfg, {store, log: createLogger({write: () => {}}), singleInstance: false})
    await waitFor('the meter polling', () => bridge!.snapshot().meters.only?.state === 'polling', 30_000)
  })
  afterAll(async () => {
    await bridge?.stop().catch(() => {})
    await tb?.close()
    await store?.close()
    await mosq?.stop()
    await sim?.close()
    tmp.cleanup()
  })

  it('request on v1/devices/me/rpc/request/{id}, reply on .../response/{id}; a write refused without allow_write; the attribute request', async () => {
    await waitFor('the attribute request', () => tb.seen.find(m => m.topic.startsWith('v1/devices/me/attributes/request/')))
    const reply = async (id: number) => (await waitFor(`reply ${id}`, () => tb.seen.find(m => m.topic === `v1/devices/me/rpc/response/${id}`), 30_000, 20)).body
    await tb.publish('v1/devices/me/rpc/request/5', {method: 'read', params: {obis: 'energy_wh'}})
    const r = await reply(5)
    expect(r.success, JSON.stringify(r)).toBe(true)
    expect(near(r.result.values.energy_wh, sim.meters[0]!.energyAt(r.result.ts), 2)).toBe(true)
    await tb.publish('v1/devices/me/rpc/request/6', {method: 'disconnect'})
    expect((await reply(6)).error.code).toBe('WRITE_NOT_ALLOWED')
    expect(sim.meters[0]!.controlState).toBe(1)
    await tb.publish('v1/devices/me/attributes', {poll_interval: 2})
    await waitFor('poll interval from the attribute', () => bridge!.snapshot().meters.only!.pollIntervalMs === 2000)
  })
})

describe('read_profile on meters that refuse selective access: a full read filtered by the bridge (aedes)', {timeout: 120_000}, () => {
  const tmp = tempStore('netmon-downlink-prof-')
  const sims: Simulator[] = []
  let store: Store
  let bridge: Bridge | undefined
  let tb: FakeTb
  let close: () => Promise<void>

  beforeAll(async () => {
    // no selective-access granted at all; and range (selector 1) refused with other-reason, entry accepted
    sims.push(await startSimulator({host: '127.0.0.1', port: 0, meters: 1, profileSelectors: []}))
    sims.push(await startSimulator({host: '127.0.0.1', port: 0, meters: 1, profileSelectors: [2], seed: 7}))
    const b = await startAedes()
    close = () => b.close()
    tb = await fakeThingsBoard(b.port, ['v1/gateway/rpc'])
    store = await openStore({db: tmp.db})
    const cfg = resolveConfig(
      {
        mqtt: {url: `mqtt://127.0.0.1:${b.port}`, client_id: 'downlink-prof'},
        downlink: {rpc_timeout: '1s'},
        defaults: {host: '127.0.0.1', timeout: '2s', poll_interval: '2s', obis: {'1.0.1.8.0.255': 'energy_wh'}},
        meters: [
          {id: 'nosel', port: sims[0]!.ports[0]},
          {id: 'norange', port: sims[1]!.ports[0]},
        ],
        metrics: {heartbeat: '500ms'},
      },
      {env: {}},
    )
    bridge = await startBridge(cfg, {store, log: createLogger({write: () => {}}), singleInstance: false})
    await waitFor('both meters polling', () => Object.values(bridge!.snapshot().meters).every(m => m.state === 'polling'), 30_000)
  })
  afterAll(async () => {
    await bridge?.stop().catch(() => {})
    await tb?.close()
    await store?.close()
    await close?.()
    for (const s of sims) await s.close()
    tmp.cleanup()
  })

  it('downlink.rpc_timeout bounds the whole RPC: a meter answering slower gets TIMEOUT in time, and keeps polling', async () => {
    sims[0]!.setFault(0, {type: 'delay', ms: 1500})
    const r = await tb.rpc('nosel', 'read', {obis: 'energy_wh'})
    expect(r).toEqual({
      success: false,
      method: 'read',
      error: {code: 'TIMEOUT', message: 'no result within the RPC timeout (1000 ms, downlink.rpc_timeout)'},
    })
    sims[0]!.setFault(0, null)
    const polls = bridge!.snapshot().meters.nosel!.polls
    await waitFor('nosel polling on', () => bridge!.snapshot().meters.nosel!.polls > polls + 1, 30_000)
    expect(bridge!.snapshot().meters.nosel!.state).toBe('polling')
  })

  for (const [i, id, why] of [
    [0, 'nosel', /^the meter did not grant selective-access$/],
    [1, 'norange', /^range selection refused: .*other-reason/],
  ] as const) {
    it(`${id}: the rows of the range, and why the selection is full`, async () => {
      const to = Date.now()
      const from = to - 3 * 3_600_000
      const r = await tb.rpc(id, 'read_profile', {from, to: new Date(to).toISOString()})
      expect(r.success, JSON.stringify(r)).toBe(true)
      expect(r.result.selection).toBe('full')
      expect(r.result.fallback).toMatch(why)
      // 3 h of 15-minute rows out of the meter's 96: only those in the range, each as the meter holds it
      expect(r.result.count).toBeGreaterThanOrEqual(11)
      expect(r.result.count).toBeLessThanOrEqual(13)
      for (const [time, energy] of r.result.rows) {
        const t = Date.parse(time)
        expect(t).toBeGreaterThanOrEqual(from)
        expect(t).toBeLessThanOrEqual(to)
        expect(energy).toBe(sims[i]!.meters[0]!.energyAt(t))
      }
    })
  }
})

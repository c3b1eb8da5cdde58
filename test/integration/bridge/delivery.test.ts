/**
 * Acceptance 2 with Debian's mosquitto: the broker stopped for 30 s then restarted → every reading
 * taken meanwhile arrives (at least once), in order per meter, outbox empty afterwards; the daemon
 * killed -9 with a backlog and restarted → the backlog is delivered. Plus the thingsboard-device
 * format (one connection per meter token) against aedes.
 */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {openStore} from '../../../src/core/store/index.js'
import {runCli, tempStore} from '../../support/cli.js'
import {
  MOSQUITTO,
  mosquitto,
  sleep,
  spawnCli,
  startAedes,
  startSimulatorProcess,
  subscribe,
  waitFor,
  type Mosquitto,
  type Proc,
  type SimProc,
  type Subscriber,
} from './helpers.js'

// The issue names a 30 s outage; NETMON_BRIDGE_OUTAGE_S shortens it for quick local runs.
const OUTAGE_MS = Number(process.env.NETMON_BRIDGE_OUTAGE_S ?? 30) * 1000
const POLL_MS = 250

interface Reading {
  meter: string
  ts: number
}

/** All readings stored by the bridge (what was "taken"). */
async function storedReadings(db: string): Promise<Reading[]> {
  const store = await openStore({db})
  try {
    return (await store.query<{meter_id: string; ts: number}>('SELECT meter_id, ts FROM readings ORDER BY meter_id, ts')).map(r => ({
      meter: String(r.meter_id),
      ts: Number(r.ts),
    }))
  } finally {
    await store.close()
  }
}

async function outboxDepth(db: string): Promise<number> {
  const r = await runCli(['bridge', 'status', '--json'], {db, timeoutMs: 90_000})
  return r.json.outbox.depth
}

/** Every stored reading arrived; per meter the first arrivals are in reading order. */
function checkDelivered(stored: Reading[], received: {topic: string; payload: string; qos: number}[]) {
  const got = received.map(m => JSON.parse(m.payload) as {meter_id: string; ts: number})
  const byMeter = new Map<string, number[]>()
  for (const g of got) {
    const xs = byMeter.get(g.meter_id) ?? []
    if (!xs.includes(g.ts)) xs.push(g.ts)
    byMeter.set(g.meter_id, xs)
  }
  for (const [meter, xs] of byMeter) expect(xs, `order of ${meter}`).toEqual([...xs].sort((a, b) => a - b))
  const missing = stored.filter(r => !byMeter.get(r.meter)?.includes(r.ts))
  if (missing.length && process.env.DEBUG_BRIDGE_TEST) {
    const t0 = Math.min(...stored.map(r => r.ts))
    console.log('missing', missing.map(r => `${r.meter}@${r.ts - t0}`).join(' '))
    for (const [m, xs] of byMeter) console.log(m, xs.length, xs.map(x => x - t0).join(','))
  }
  expect(missing, 'readings never delivered').toEqual([])
  for (const m of received) expect(m.qos).toBe(1)
}

describe.skipIf(!MOSQUITTO)(
  'bridge → mosquitto: outage and kill -9 (skipped without the mosquitto binary: apt-get install mosquitto)',
  {timeout: 240_000},
  () => {
    const tmp = tempStore('netmon-bridge-mosq-')
    const cfgPath = join(tmp.dir, 'bridge.yaml')
    let sim: SimProc
    let broker: Mosquitto
    let sub: Subscriber
    let bridge: Proc | undefined

    const startBridge = () => spawnCli(['bridge', 'run', '--config', cfgPath, '--db', tmp.db, '--log-format', 'json'])
    const subscribeDurable = () => subscribe(broker.port, 'site/#', {clientId: 'netmon-test-durable', durable: true})
    /** Messages of earlier subscriber connections (each reconnect gets a fresh Subscriber). */
    const earlier: Subscriber['messages'] = []
    const resubscribe = async () => {
      await sub.close()
      earlier.push(...sub.messages)
      sub = await subscribeDurable() // the durable session kept what was published while we reconnected
    }

    beforeAll(async () => {
      sim = await startSimulatorProcess(tmp.dir, 'sim', {meters: 3, framing: 'hdlc'})
      broker = await mosquitto(tmp.dir)
      await broker.start()
      sub = await subscribeDurable()
      writeFileSync(
        cfgPath,
        JSON.stringify({
          mqtt: {url: `mqtt://127.0.0.1:${broker.port}`, client_id: 'bridge-mosq', reconnect: {min: '200ms', max: '2s'}, max_inflight: 50},
          publish: {format: 'plain', topic: 'site/{id}'},
          defaults: {framing: 'hdlc', poll_interval: `${POLL_MS}ms`, timeout: '1s', obis: {'1.0.1.8.0.255': 'energy_wh', '1.0.32.7.0.255': 'voltage_v'}},
          meters: sim.ports.map((port, i) => ({id: `p${i + 1}`, host: '127.0.0.1', port})),
          metrics: {interval: '5s', heartbeat: '500ms', interfaces: ['lo']},
          shutdown_timeout: '3s',
        }),
      )
      bridge = startBridge()
      await waitFor('first deliveries', () => sub.messages.length >= 6, 30_000)
    })

    afterAll(async () => {
      bridge?.kill('SIGKILL')
      sim?.kill('SIGKILL')
      await sub?.close()
      await broker?.stop()
      tmp.cleanup()
    })

    it(`broker down for ${OUTAGE_MS / 1000} s: readings pile up in the outbox, then all arrive in order; outbox empty`, async () => {
      await broker.stop()
      await sleep(OUTAGE_MS)
      const during = await runCli(['bridge', 'status', '--json'], {db: tmp.db, timeoutMs: 90_000})
      expect(during.json.running).toBe(true)
      expect(during.json.broker.connected).toBe(false)
      // Polling went on: about OUTAGE / POLL readings per meter are waiting (generous lower bound).
      expect(during.json.outbox.depth).toBeGreaterThan((OUTAGE_MS / POLL_MS) * 3 * 0.5)
      for (const m of during.json.meters) expect(m.consecutive_failures).toBe(0)
      await broker.start()
      await resubscribe()
      await waitFor('outbox drained', async () => (await outboxDepth(tmp.db)) === 0, 60_000, 300)
      const s = (await runCli(['bridge', 'status', '--json'], {db: tmp.db})).json
      expect(s.broker.connected, JSON.stringify(s)).toBe(true)
      expect(s.outbox.dropped).toBe(0)
    })

    it('killed -9 with a backlog and restarted: the backlog is delivered', async () => {
      await broker.stop()
      await waitFor('a backlog', async () => (await outboxDepth(tmp.db)) >= 30, 30_000, 200)
      bridge!.kill('SIGKILL')
      const {signal} = await bridge!.exited
      expect(signal).toBe('SIGKILL')
      const store = await openStore({db: tmp.db})
      const backlog = Number((await store.get<{n: number}>('SELECT count(*) AS n FROM outbox'))!.n)
      await store.close()
      expect(backlog).toBeGreaterThanOrEqual(30)
      await broker.start()
      await resubscribe()
      bridge = startBridge()
      await waitFor('backlog resumed and drained', async () => (await outboxDepth(tmp.db)) === 0, 60_000, 300)
      expect(bridge.stderr()).toMatch(/outbox: resuming \d+ unpublished reading/)
      // Stop cleanly, then every reading ever stored must have reached the subscriber, in order per meter.
      bridge.kill('SIGTERM')
      expect((await bridge.exited).code).toBe(0)
      await sleep(500)
      const stored = await storedReadings(tmp.db)
      expect(stored.length).toBeGreaterThan((OUTAGE_MS / POLL_MS) * 3 * 0.5)
      checkDelivered(stored, [...earlier, ...sub.messages])
      expect(await outboxDepth(tmp.db)).toBe(0)
    })
  },
)

describe('thingsboard-device format: one connection per meter, authenticated by its token', {timeout: 120_000}, () => {
  const tmp = tempStore('netmon-bridge-dev-')
  afterAll(() => tmp.cleanup())

  it("publishes {ts, values} to v1/devices/me/telemetry on each meter's own connection", async () => {
    const tokens: Record<string, string> = {T1: 'token-one-XYZ-0001', T2: 'token-two-XYZ-0002'}
    const users: string[] = []
    const broker = await startAedes({authenticate: u => (users.push(u ?? ''), Object.values(tokens).includes(u ?? '') || u === 'sub')})
    const sim = await startSimulatorProcess(tmp.dir, 'sim', {meters: 2})
    const sub = await subscribe(broker.port, 'v1/#', {username: 'sub'})
    const cfg = join(tmp.dir, 'dev.yaml')
    writeFileSync(
      cfg,
      JSON.stringify({
        mqtt: {url: `mqtt://127.0.0.1:${broker.port}`, client_id: 'dev'},
        publish: {format: 'thingsboard-device'},
        defaults: {poll_interval: '300ms', obis: {'1.0.1.8.0.255': 'e'}},
        meters: [
          {id: 'd1', host: '127.0.0.1', port: sim.ports[0], token_env: 'T1'},
          {id: 'd2', host: '127.0.0.1', port: sim.ports[1], token_env: 'T2'},
        ],
      }),
    )
    const bridge = spawnCli(['bridge', 'run', '--config', cfg, '--db', tmp.db], tokens)
    try {
      await waitFor(
        'telemetry of both meters',
        () => new Set(broker.messages.filter(m => m.topic === 'v1/devices/me/telemetry').map(m => m.clientId)).size === 2,
        30_000,
      )
      const tele = broker.messages.filter(m => m.topic === 'v1/devices/me/telemetry')
      expect(new Set(tele.map(m => m.clientId))).toEqual(new Set(['dev-d1', 'dev-d2']))
      for (const m of tele) {
        const p = JSON.parse(m.payload)
        expect(Object.keys(p)).toEqual(['ts', 'values'])
        expect(typeof p.values.e).toBe('number')
        expect(m.qos).toBe(1)
      }
      expect(users).toEqual(expect.arrayContaining([tokens.T1, tokens.T2]))
      expect(sub.messages.length).toBeGreaterThan(0)
      bridge.kill('SIGTERM')
      expect((await bridge.exited).code).toBe(0)
      for (const t of Object.values(tokens)) expect(bridge.stderr()).not.toContain(t)
    } finally {
      bridge.kill('SIGKILL')
      sim.kill('SIGKILL')
      await sub.close()
      await broker.close()
    }
  })
})

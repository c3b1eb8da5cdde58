/**
 * Issue 18 item 2, acceptance 2: load-profile gaps are back-filled exactly once after outages of the
 * bridge and of the meter link. Real parts: netmon's DLMS simulator in this process with its clock
 * running fast (one 15-minute capture period every 400 ms of real time), the built CLI's `bridge
 * run` as its own process (stopped with SIGTERM, and killed -9), an aedes broker recording every
 * PUBLISH it receives, a TCP proxy between the bridge and the meter that the test cuts, and the
 * real libSQL store. The reference is what the meter itself holds: a second client reads its whole
 * profile at the end, and every row of it inside the caught-up span must have reached the broker
 * exactly once, with its capture time as ThingsBoard `ts` and its own value.
 */
import {writeFileSync} from 'node:fs'
import net from 'node:net'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {DlmsClient} from '../../../src/core/dlms/client.js'
import {startSimulator, type Simulator} from '../../../src/core/dlms/simulator/server.js'
import {openStore} from '../../../src/core/store/index.js'
import {runCli, tempStore} from '../../support/cli.js'
import {sleep, spawnCli, startAedes, waitFor, type AedesBroker, type Proc} from './helpers.js'

const PERIOD_MS = 15 * 60_000
/** Simulated time runs this much faster: one capture period per 400 ms. */
const SPEED = PERIOD_MS / 400
const PROFILE = '1.0.99.1.0.255'

/** A fast clock for the simulated meters, starting now. */
function fastClock(): () => number {
  const t0 = Date.now()
  return () => t0 + (Date.now() - t0) * SPEED
}

/** A TCP proxy the test can cut (existing connections destroyed, new ones refused) and restore. */
async function cuttableProxy(target: number) {
  let cut = false
  const sockets = new Set<net.Socket>()
  const server = net.createServer(c => {
    if (cut) return void c.destroy()
    const up = net.connect(target, '127.0.0.1')
    sockets.add(c).add(up)
    c.pipe(up).pipe(c)
    const end = () => {
      c.destroy()
      up.destroy()
      sockets.delete(c)
      sockets.delete(up)
    }
    c.on('close', end).on('error', end)
    up.on('close', end).on('error', end)
  })
  await new Promise<void>(r => server.listen(0, '127.0.0.1', () => r()))
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      cut = true
      for (const s of sockets) s.destroy()
    },
    restore() {
      cut = false
    },
    close: () => {
      for (const s of sockets) s.destroy()
      return new Promise<void>(r => server.close(() => r()))
    },
  }
}

interface Row {
  ts: number
  values: Record<string, unknown>
}

/** Profile rows published for a device (gateway format), in arrival order. */
function publishedRows(broker: AedesBroker, device: string, key: string): Row[] {
  const out: Row[] = []
  for (const m of broker.messages) {
    if (m.topic !== 'v1/gateway/telemetry') continue
    const p = JSON.parse(m.payload) as Record<string, {ts: number; values: Record<string, unknown>}[]>
    for (const e of p[device] ?? []) if (key in e.values) out.push({ts: e.ts, values: e.values})
  }
  return out
}

/** The meter's whole load profile, read by a client of our own (the reference). */
async function meterProfile(port: number, framing: 'wrapper' | 'hdlc' = 'wrapper'): Promise<Map<number, number>> {
  const c = new DlmsClient({host: '127.0.0.1', port, framing, timeoutMs: 10_000})
  await c.open()
  try {
    const r = await c.readProfile(PROFILE)
    return new Map(r.rows.map(row => [Date.parse(String(row[0])), Number(row[1])]))
  } finally {
    await c.close()
  }
}

async function status(db: string): Promise<any> {
  return (await runCli(['bridge', 'status', '--json'], {db, timeoutMs: 60_000})).json
}

const profileOf = (s: any, meter: string) => s.meters.find((m: any) => m.id === meter)?.profiles?.[0]

/**
 * Every row the meter holds from the first published capture to the last must have arrived exactly
 * once, with the meter's value; returns the published rows' count.
 */
function checkExactlyOnce(published: Row[], reference: Map<number, number>, key: string): number {
  const counts = new Map<number, number>()
  for (const r of published) counts.set(r.ts, (counts.get(r.ts) ?? 0) + 1)
  const dups = [...counts].filter(([, n]) => n > 1)
  expect(dups, 'rows published more than once').toEqual([])
  const first = Math.min(...counts.keys())
  const last = Math.max(...counts.keys())
  const expected = [...reference.keys()].filter(t => t >= first && t <= last).sort((a, b) => a - b)
  const missing = expected.filter(t => !counts.has(t))
  expect(
    missing.map(t => new Date(t).toISOString()),
    'rows the meter holds that never arrived',
  ).toEqual([])
  for (const r of published) {
    expect(r.ts % PERIOD_MS, 'ts is a capture time').toBe(0)
    expect(r.values[key], `value at ${new Date(r.ts).toISOString()}`).toBe(reference.get(r.ts))
  }
  return expected.length
}

describe('bridge load-profile catch-up (fast simulated clock, real broker, bridge as a process)', {timeout: 240_000}, () => {
  const tmp = tempStore('netmon-bridge-profile-')
  let broker: AedesBroker
  const sims: Simulator[] = []
  let bridge: Proc | undefined
  afterAll(async () => {
    bridge?.kill('SIGKILL')
    for (const s of sims) await s.close()
    await broker?.close()
    tmp.cleanup()
  })
  beforeAll(async () => {
    broker = await startAedes()
  })

  const writeConfig = (path: string, meters: Record<string, unknown>[], extra: Record<string, unknown> = {}) =>
    writeFileSync(
      path,
      JSON.stringify({
        mqtt: {url: `mqtt://127.0.0.1:${broker.port}`, client_id: `bridge-${Math.random().toString(36).slice(2, 8)}`, reconnect: {min: '200ms', max: '1s'}},
        publish: {format: 'thingsboard-gateway'},
        defaults: {
          poll_interval: '500ms',
          timeout: '3s',
          reconnect: {min: '200ms', max: '1s'},
          obis: {'1.0.32.7.0.255': 'voltage_v'},
          profiles: [{obis: PROFILE, every: '1s', max_rows: 10, backfill: '6h', columns: {'1.0.1.8.0.255': 'energy_wh'}}],
        },
        meters,
        metrics: {heartbeat: '300ms', interfaces: ['lo']},
        shutdown_timeout: '3s',
        ...extra,
      }),
    )

  it('bridge stopped for several capture periods (SIGTERM, then kill -9): every missing row arrives exactly once, with its own ts', async () => {
    const sim = await startSimulator({port: 0, meters: 1, now: fastClock(), profileRows: 2000})
    sims.push(sim)
    const proxy = await cuttableProxy(sim.ports[0]!)
    const db = join(tmp.dir, 'a.db')
    const cfg = join(tmp.dir, 'a.json')
    writeConfig(cfg, [{id: 'a1', name: 'Meter A1', host: '127.0.0.1', port: proxy.port}])
    const start = () => spawnCli(['bridge', 'run', '--config', cfg, '--db', db, '--log-format', 'json'])
    bridge = start()
    // First cycle: nothing stored, so it goes back `backfill` (6 h = 24 rows), in reads of 10 rows.
    await waitFor('the first catch-up', async () => (profileOf(await status(db), 'a1')?.rows_caught_up ?? 0) >= 24, 60_000, 300)
    bridge.kill('SIGTERM')
    expect((await bridge.exited).code).toBe(0)
    const before = publishedRows(broker, 'Meter A1', 'energy_wh').length
    // Stopped for ~8 capture periods: the meter keeps capturing.
    await sleep(8 * 400)
    bridge = start()
    const s1 = await waitFor(
      'the gap back-filled',
      async () => {
        const p = profileOf(await status(db), 'a1')
        return p && p.rows_caught_up >= 8 && !p.catching_up ? p : undefined
      },
      60_000,
      300,
    )
    expect(s1.mode).toBe('range')
    expect(s1.fallback).toBeNull()
    // kill -9 this time: the store, not memory, says where to continue. MQTT QoS 1 cannot make a
    // publish in flight at a kill -9 exactly-once (its outbox row is sent again after the restart:
    // docs/BRIDGE.md), so the meter link is held first and the kill comes once nothing is in flight.
    proxy.cut()
    await waitFor('nothing in flight', async () => (await status(db)).outbox.depth === 0, 30_000, 300)
    bridge.kill('SIGKILL')
    await bridge.exited
    await sleep(6 * 400)
    proxy.restore()
    bridge = start()
    await waitFor('caught up after kill -9', async () => (profileOf(await status(db), 'a1')?.rows_caught_up ?? 0) >= 6, 60_000, 300)
    await waitFor('outbox drained', async () => (await status(db)).outbox.depth === 0, 30_000, 300)
    bridge.kill('SIGTERM')
    expect((await bridge.exited).code).toBe(0)
    await proxy.close()

    const published = publishedRows(broker, 'Meter A1', 'energy_wh')
    expect(published.length).toBeGreaterThan(before)
    const n = checkExactlyOnce(published, await meterProfile(sim.ports[0]!), 'energy_wh')
    expect(n).toBeGreaterThanOrEqual(24 + 8 + 6)
    // Stored once per capture time, with the values published.
    const store = await openStore({db})
    try {
      const rows = await store.query<{capture_ts: number; values: string}>(
        'SELECT capture_ts, "values" FROM profile_rows WHERE meter_id = \'a1\' ORDER BY capture_ts',
      )
      expect(rows.map(r => Number(r.capture_ts))).toEqual([...new Set(published.map(r => r.ts))].sort((a, b) => a - b))
    } finally {
      await store.close()
    }
    // Exported as stored: `metrics export --what profile-rows`.
    const ex = await runCli(['metrics', 'export', '--what', 'profile-rows', '--meter', 'a1', '--format', 'ndjson'], {db})
    expect(ex.code, ex.stderr).toBe(0)
    const exported = ex.stdout
      .trim()
      .split('\n')
      .map(l => JSON.parse(l))
    expect(exported.map(r => r.capture_ts_ms)).toEqual([...new Set(published.map(r => r.ts))].sort((a, b) => a - b))
    expect(exported[0]).toMatchObject({meter_id: 'a1', meter_name: 'Meter A1', profile: PROFILE})
    expect(exported.every(r => typeof r.values.energy_wh === 'number')).toBe(true)
  })

  it('meter link cut by a proxy for several periods: back-filled after the reconnect, exactly once', async () => {
    const sim = await startSimulator({port: 0, meters: 1, now: fastClock(), profileRows: 2000, framing: 'hdlc'})
    sims.push(sim)
    const proxy = await cuttableProxy(sim.ports[0]!)
    const db = join(tmp.dir, 'b.db')
    const cfg = join(tmp.dir, 'b.json')
    writeConfig(cfg, [{id: 'b1', name: 'Meter B1', host: '127.0.0.1', port: proxy.port, framing: 'hdlc'}])
    bridge = spawnCli(['bridge', 'run', '--config', cfg, '--db', db, '--log-format', 'json'])
    try {
      await waitFor('the first catch-up', async () => (profileOf(await status(db), 'b1')?.rows_caught_up ?? 0) >= 24, 60_000, 300)
      proxy.cut()
      await waitFor('the meter seen as unreachable', async () => {
        const m = (await status(db)).meters.find((x: any) => x.id === 'b1')
        return m.consecutive_failures > 0
      })
      const during = profileOf(await status(db), 'b1').rows_caught_up
      await sleep(10 * 400)
      proxy.restore()
      await waitFor(
        'the gap back-filled',
        async () => {
          const p = profileOf(await status(db), 'b1')
          return p.rows_caught_up >= during + 10 && !p.catching_up
        },
        60_000,
        300,
      )
      await waitFor('outbox drained', async () => (await status(db)).outbox.depth === 0, 30_000, 300)
    } finally {
      bridge.kill('SIGTERM')
      await bridge.exited
      await proxy.close()
    }
    const n = checkExactlyOnce(publishedRows(broker, 'Meter B1', 'energy_wh'), await meterProfile(sim.ports[0]!, 'hdlc'), 'energy_wh')
    expect(n).toBeGreaterThanOrEqual(24 + 10)
  })

  it('meters refusing selective access: entry-range and full-read fallbacks, stated in status, still exactly once', async () => {
    const noRange = await startSimulator({port: 0, meters: 1, now: fastClock(), profileRows: 500, profileSelectors: [2]})
    const noSelective = await startSimulator({port: 0, meters: 1, now: fastClock(), profileRows: 500, profileSelectors: []})
    sims.push(noRange, noSelective)
    const db = join(tmp.dir, 'c.db')
    const cfg = join(tmp.dir, 'c.json')
    writeConfig(cfg, [
      {id: 'c1', name: 'Meter C1', host: '127.0.0.1', port: noRange.ports[0]},
      {id: 'c2', name: 'Meter C2', host: '127.0.0.1', port: noSelective.ports[0]},
    ])
    const start = () => spawnCli(['bridge', 'run', '--config', cfg, '--db', db, '--log-format', 'json'])
    bridge = start()
    const caught = async () => {
      const s = await status(db)
      const [p1, p2] = [profileOf(s, 'c1'), profileOf(s, 'c2')]
      return p1?.rows_caught_up >= 24 && p2?.rows_caught_up >= 24 ? [p1, p2] : undefined
    }
    const [p1, p2] = await waitFor('both caught up', caught, 60_000, 300)
    expect(p1.mode).toBe('entry')
    expect(p1.fallback).toMatch(/refused selective access by date range/)
    expect(p2.mode).toBe('full')
    expect(p2.fallback).toMatch(/did not grant selective-access/)
    const text = await runCli(['bridge', 'status'], {db})
    expect(text.stdout).toMatch(/c1\s+│\s+1\.0\.99\.1\.0\.255\s+│\s+entry/)
    expect(text.stdout).toMatch(/fallback: the meter did not grant selective-access/)
    // A restart in between: the store's last capture time is where both fallbacks continue.
    bridge.kill('SIGTERM')
    await bridge.exited
    await sleep(6 * 400)
    bridge = start()
    await waitFor(
      'caught up again',
      async () => {
        const s = await status(db)
        return profileOf(s, 'c1')?.rows_caught_up >= 6 && profileOf(s, 'c2')?.rows_caught_up >= 6 && s.outbox.depth === 0
      },
      60_000,
      300,
    )
    bridge.kill('SIGTERM')
    await bridge.exited
    checkExactlyOnce(publishedRows(broker, 'Meter C1', 'energy_wh'), await meterProfile(noRange.ports[0]!), 'energy_wh')
    checkExactlyOnce(publishedRows(broker, 'Meter C2', 'energy_wh'), await meterProfile(noSelective.ports[0]!), 'energy_wh')
  })

  it('ten meters (more than the 8 catch-up turns), nine cut mid-catch-up: one still waiting for a turn completes; after the cut all exactly once', async () => {
    const sim = await startSimulator({port: 0, meters: 10, now: fastClock(), profileRows: 2000})
    sims.push(sim)
    const proxies = await Promise.all(sim.ports.map(p => cuttableProxy(p)))
    const db = join(tmp.dir, 'd.db')
    const cfg = join(tmp.dir, 'd.json')
    const ids = sim.ports.map((_, i) => `d${i}`)
    writeConfig(
      cfg,
      proxies.map((p, i) => ({id: ids[i], name: `Meter D${i}`, host: '127.0.0.1', port: p.port})),
      {
        defaults: {
          poll_interval: '500ms',
          timeout: '3s',
          reconnect: {min: '200ms', max: '1s'},
          obis: {'1.0.32.7.0.255': 'voltage_v'},
          profiles: [{obis: PROFILE, every: '1s', max_rows: 2, backfill: '72h', columns: {'1.0.1.8.0.255': 'energy_wh'}}],
        },
      },
    )
    bridge = spawnCli(['bridge', 'run', '--config', cfg, '--db', db, '--log-format', 'json'])
    try {
      // 288 rows in reads of 2 (and at most 20 unacknowledged): long cycles. Cut nine meters as soon as the catch-ups run.
      let most = 0
      const snap = await waitFor(
        'catch-ups running',
        async () => {
          const s = await status(db)
          const n = s.meters.filter((m: any) => m.profiles?.[0]?.catching_up).length
          most = Math.max(most, n)
          return n >= 8 ? s : undefined
        },
        60_000,
        100,
      )
      expect(most, 'catch-up cycles at once').toBe(8)
      // The one left connected is a meter still waiting for a turn: the eight dead ones must give theirs up.
      const waiting = ids.find(id => !profileOf(snap, id)?.catching_up && !profileOf(snap, id)?.rows_caught_up)
      expect(waiting, 'a meter still waiting for its first turn').toBeDefined()
      ids.forEach((id, i) => id !== waiting && proxies[i]!.cut())
      await waitFor(
        'the meter that waited caught up (the dead ones gave their turns up)',
        async () => {
          const p = profileOf(await status(db), waiting!)
          return p && p.rows_caught_up >= 288 && !p.catching_up
        },
        20_000,
        300,
      )
      for (const p of proxies) p.restore()
      await waitFor(
        'all caught up',
        async () => {
          const s = await status(db)
          return (
            ids.every(id => {
              const p = profileOf(s, id)
              return p && p.rows_caught_up >= 288 && !p.catching_up
            }) && s.outbox.depth === 0
          )
        },
        90_000,
        300,
      )
    } finally {
      bridge.kill('SIGTERM')
      await bridge.exited
      for (const p of proxies) await p.close()
    }
    for (const [i, port] of sim.ports.entries()) {
      checkExactlyOnce(publishedRows(broker, `Meter D${i}`, 'energy_wh'), await meterProfile(port), 'energy_wh')
    }
  })
})

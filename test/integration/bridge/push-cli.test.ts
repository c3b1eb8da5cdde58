/**
 * Push as a user runs it: `netmon meters simulate --push HOST:PORT --push-every S` (its own process, HLS keys
 * from env/files so the pushes are ciphered) → `netmon bridge run` (its own process) with push.listen → readings
 * in the store, on a real broker (aedes), and the counters in `netmon bridge status --json`.
 */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {freePort, spawnCli, startAedes, subscribe, waitFor} from './helpers.js'

const EK = '000102030405060708090a0b0c0d0e0f'
const AK = 'd0d1d2d3d4d5d6d7d8d9dadbdcdddedf'

describe('meters simulate --push → bridge run push.listen', {timeout: 120_000}, () => {
  const tmp = tempStore('netmon-bridge-push-cli-')
  afterAll(() => tmp.cleanup())

  it('ciphered pushes every 500 ms arrive in the store and on the broker; status counts them', async () => {
    const broker = await startAedes()
    const sub = await subscribe(broker.port, 'p/#')
    const pushPort = await freePort()
    writeFileSync(join(tmp.dir, 'ak'), AK)
    const cfg = join(tmp.dir, 'bridge.yaml')
    writeFileSync(
      cfg,
      `mqtt: {url: "mqtt://127.0.0.1:${broker.port}"}
publish: {format: plain, topic: "p/{id}"}
push: {listen: "127.0.0.1:${pushPort}"}
metrics: {heartbeat: 300ms}
meters:
  - id: m0
    push: {system_title: 4D4D4D0000BC614E, ek_env: BRIDGE_EK, ak_file: ak}
    obis:
      - {obis: 1.0.1.8.0.255, key: energy_kwh, unit: kWh}
      - {obis: 1.0.32.7.0.255, key: voltage_v}
`,
    )
    const bridge = spawnCli(['bridge', 'run', '--config', cfg, '--db', tmp.db], {BRIDGE_EK: EK})
    await waitFor('the push listener', () => bridge.stderr().includes('push listener on'), 30_000)
    const sim = spawnCli(
      [
        'meters',
        'simulate',
        '--port',
        '0',
        '--meters',
        '2',
        '--hls',
        '--ek-env',
        'SIM_EK',
        '--ak-file',
        join(tmp.dir, 'ak'),
        '--push',
        `127.0.0.1:${pushPort}`,
        '--push-every',
        '500ms',
        '--json',
      ],
      {SIM_EK: EK},
    )
    try {
      const first = await waitFor('the simulator to listen', () =>
        sim
          .stdout()
          .split('\n')
          .find(l => l.includes('"listening"')),
      )
      expect(JSON.parse(first).push).toEqual({to: `127.0.0.1:${pushPort}`, every_ms: 500, object_list: 'sent', ciphered: true})
      const msgs = await waitFor(
        'three pushed readings on the broker',
        () => (sub.messages.filter(m => m.topic === 'p/m0').length >= 3 ? sub.messages : undefined),
        60_000,
      )
      const values = JSON.parse(msgs.find(m => m.topic === 'p/m0')!.payload).values
      expect(Object.keys(values).sort()).toEqual(['energy_kwh', 'voltage_v'])
      expect(values.energy_kwh).toBeGreaterThan(1000)
      const st = await waitFor(
        'status counters',
        async () => {
          const r = await runCli(['bridge', 'status', '--json'], {db: tmp.db, timeoutMs: 60_000})
          return r.json.push?.stored >= 3 && r.json.push?.unknown >= 1 ? r.json : undefined
        },
        60_000,
        300,
      )
      // meter 1 of the simulator (system title …4F) is not configured: counted as unknown, never stored
      expect(st.push).toMatchObject({listen: `127.0.0.1:${pushPort}`, malformed: 0, refused: 0})
      expect(st.push.decoded).toBeGreaterThanOrEqual(3)
      const m0 = st.meters.find((m: {id: string}) => m.id === 'm0')
      expect(m0).toMatchObject({endpoint: 'push only', state: 'push-only'})
      expect(m0.push.received).toBeGreaterThanOrEqual(3)
      const text = await runCli(['bridge', 'status'], {db: tmp.db, timeoutMs: 60_000})
      expect(text.stdout).toMatch(/push\s.*127\.0\.0\.1:\d+: \d+ received, \d+ decoded, 0 malformed, \d+ unknown sender, 0 refused/)
      expect(bridge.stderr()).toMatch(/unknown meter \(system title 4d4d4d0000bc614f/)
      // the keys never reach either process's output
      for (const out of [bridge.stderr(), bridge.stdout(), sim.stdout(), sim.stderr()]) expect(out.toLowerCase()).not.toContain(EK)
    } finally {
      sim.kill('SIGTERM')
      bridge.kill('SIGTERM')
      await Promise.all([sim.exited, bridge.exited])
      await sub.close()
      await broker.close()
    }
    const rows = await runCli(['meters', 'readings', 'm0', '--json'], {db: tmp.db, timeoutMs: 60_000})
    const stored: {ts_ms: number; poll_ms: number; values: Record<string, unknown>}[] = rows.json.readings
    expect(stored.length).toBeGreaterThanOrEqual(3)
    for (const r of stored) expect(r.poll_ms).toBe(0) // pushed, not polled
    // what the broker got is what the store holds
    const got = sub.messages.filter(m => m.topic === 'p/m0').map(m => JSON.parse(m.payload) as {ts: number; values: Record<string, unknown>})
    for (const g of got) expect(stored.find(r => r.ts_ms === g.ts)?.values).toEqual(g.values)
  })
})

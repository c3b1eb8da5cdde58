/**
 * Issue 18 item 5, end to end through the built CLI: `bridge status` shows a meter parked after
 * repeated authentication failures (state auth-failed) and, for another meter, the one object whose
 * value does not decode (object_errors by OBIS) while its good values are published. A SIGHUP with
 * the same config retries the parked meter once the meter accepts again.
 */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {logLines, sleep, spawnCli, startAedes, startSimulatorProcess, waitFor} from './helpers.js'

describe('bridge status: auth-failed meters and undecodable objects', {timeout: 120_000}, () => {
  const tmp = tempStore('netmon-bridge-stfaults-')
  afterAll(() => tmp.cleanup())

  it('shows auth-failed and object_errors; SIGHUP retries the parked meter', async () => {
    const broker = await startAedes()
    const sim = await startSimulatorProcess(tmp.dir, 'sim', {meters: 2})
    await sim.setFaults({0: 'reject-password', 1: 'bad-value:1.0.32.7.0.255'})
    const cfg = join(tmp.dir, 'bridge.json')
    writeFileSync(
      cfg,
      JSON.stringify({
        mqtt: {url: `mqtt://127.0.0.1:${broker.port}`, reconnect: {min: '200ms', max: '500ms'}},
        publish: {format: 'plain', topic: 'sf/{id}'},
        defaults: {host: '127.0.0.1', poll_interval: '300ms', reconnect: {min: '50ms', max: '100ms'}, auth_failure_limit: 2},
        meters: [
          {id: 'locked', port: sim.ports[0], obis: {'1.0.1.8.0.255': 'e'}},
          {id: 'bad', port: sim.ports[1], obis: {'1.0.1.8.0.255': 'e', '1.0.32.7.0.255': 'v'}},
        ],
        metrics: {interval: '60s', heartbeat: '300ms'},
      }),
    )
    const bridge = spawnCli(['bridge', 'run', '--config', cfg, '--db', tmp.db, '--log-format', 'json'])
    const status = async () => {
      const r = await runCli(['bridge', 'status', '--json'], {db: tmp.db, timeoutMs: 60_000})
      expect(r.code, r.stderr).toBe(0)
      return r.json
    }
    const meter = (s: any, id: string) => s.meters.find((m: any) => m.id === id)
    try {
      const s = await waitFor(
        'status: auth-failed and object_errors',
        async () => {
          const j = await status()
          return j.running && meter(j, 'locked')?.state === 'auth-failed' && Object.keys(meter(j, 'bad')?.object_errors ?? {}).length > 0 ? j : undefined
        },
        30_000,
        300,
      )
      expect(meter(s, 'locked').last_error).toMatch(/authentication failed 2 time\(s\) in a row; not retrying/)
      expect(meter(s, 'bad').object_errors).toEqual({'1.0.32.7.0.255': expect.stringMatching(/does not decode/)})
      expect(meter(s, 'bad').state).toBe('polling')
      const text = await runCli(['bridge', 'status'], {db: tmp.db, timeoutMs: 60_000})
      expect(text.stdout).toMatch(/auth-failed/)
      expect(text.stdout).toMatch(/bad: 1\.0\.32\.7\.0\.255 not read: the meter's answer does not decode/)
      const published = broker.messages.filter(m => m.topic === 'sf/bad').map(m => JSON.parse(m.payload).values)
      expect(published.length).toBeGreaterThan(0)
      for (const v of published) {
        expect(typeof v.e).toBe('number')
        expect(v.v).toBeNull()
      }
      expect(logLines(bridge.stderr()).some(l => l.level === 'error' && /meter locked: authentication refused 2 time/.test(l.msg))).toBe(true)
      // Parked: no more readings and no more attempts (the rejections stop).
      expect(broker.messages.some(m => m.topic === 'sf/locked')).toBe(false)

      await sim.setFaults({})
      await sleep(500)
      expect(meter(await status(), 'locked').state).toBe('auth-failed') // not retried by itself
      bridge.kill('SIGHUP')
      await waitFor('the parked meter polls again after SIGHUP', () => broker.messages.some(m => m.topic === 'sf/locked'), 30_000)
      expect(logLines(bridge.stderr()).some(l => /config reload: retrying authentication of locked/.test(l.msg))).toBe(true)
    } finally {
      bridge.kill('SIGTERM')
      await bridge.exited
      sim.kill('SIGKILL')
      await broker.close()
    }
  })
})

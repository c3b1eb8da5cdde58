/**
 * Issue 18 item 5: a broker that refuses the bridge (CONNACK return code 5 "not authorized", aedes'
 * authenticate hook) is logged at error level and shown in `bridge status` (broker.refused), not
 * only retried at info level. Readings wait in the outbox meanwhile. The bridge is the built CLI.
 */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {logLines, spawnCli, startAedes, startSimulatorProcess, waitFor} from './helpers.js'

describe('bridge: broker refusals', {timeout: 120_000}, () => {
  const tmp = tempStore('netmon-bridge-refused-')
  afterAll(() => tmp.cleanup())

  it('"not authorized" (CONNACK 5) is an error-level log line and broker.refused in bridge status', async () => {
    const broker = await startAedes({authenticate: () => false, refuseWith: 5})
    const sim = await startSimulatorProcess(tmp.dir, 'sim', {meters: 1})
    const cfg = join(tmp.dir, 'bridge.json')
    writeFileSync(
      cfg,
      JSON.stringify({
        mqtt: {url: `mqtt://127.0.0.1:${broker.port}`, username: 'gw', reconnect: {min: '200ms', max: '500ms'}},
        publish: {format: 'plain', topic: 'refused/{id}'},
        meters: [{id: 'r1', host: '127.0.0.1', port: sim.ports[0], poll_interval: '300ms', obis: {'1.0.1.8.0.255': 'e'}}],
        metrics: {interval: '60s', heartbeat: '500ms'},
      }),
    )
    const bridge = spawnCli(['bridge', 'run', '--config', cfg, '--db', tmp.db, '--log-format', 'json'])
    try {
      const line = await waitFor(
        'an error-level refusal line',
        () => logLines(bridge.stderr()).find(l => l.level === 'error' && l.refusal === 'not-authorized'),
        30_000,
      )
      expect(line.msg).toMatch(/^mqtt broker: refused \(not-authorized\): .*not authori[sz]ed/i)
      const s = await waitFor(
        'status: refused',
        async () => {
          const r = await runCli(['bridge', 'status', '--json'], {db: tmp.db, timeoutMs: 60_000})
          return r.json?.running && r.json.broker.refused ? r.json : undefined
        },
        30_000,
        300,
      )
      expect(s.broker).toMatchObject({connected: false, refused: 'not-authorized'})
      expect(s.broker.error).toMatch(/not authori[sz]ed/i)
      const text = await runCli(['bridge', 'status'], {db: tmp.db, timeoutMs: 60_000})
      expect(text.stdout).toMatch(/NOT connected — REFUSED \(not-authorized\)/)
      expect(broker.messages.filter(m => m.topic === 'refused/r1')).toHaveLength(0)
    } finally {
      bridge.kill('SIGTERM')
      await bridge.exited
      sim.kill('SIGKILL')
      await broker.close()
    }
  })
})

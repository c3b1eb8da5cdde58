/**
 * `bridge status` follows the broker connection without waiting for the next heartbeat: the daemon
 * writes its status row when a connection goes down or comes back. The heartbeat here is one
 * minute, so only those writes can make the status change within the few seconds allowed.
 */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {spawnCli, startAedes, startSimulatorProcess, waitFor, type AedesBroker} from './helpers.js'

describe('bridge status follows the broker connection', {timeout: 120_000}, () => {
  const tmp = tempStore('netmon-bridge-live-')
  afterAll(() => tmp.cleanup())

  it('shows the broker down and back up within seconds, with a one-minute heartbeat', async () => {
    let broker: AedesBroker = await startAedes()
    const port = broker.port
    const sim = await startSimulatorProcess(tmp.dir, 'sim', {meters: 1})
    const cfg = join(tmp.dir, 'bridge.json')
    writeFileSync(
      cfg,
      JSON.stringify({
        mqtt: {url: `mqtt://127.0.0.1:${port}`, reconnect: {min: '200ms', max: '500ms'}},
        publish: {format: 'plain', topic: 'live/{id}'},
        meters: [{id: 'l1', host: '127.0.0.1', port: sim.ports[0], poll_interval: '500ms', obis: {'1.0.1.8.0.255': 'e'}}],
        metrics: {interval: '60s', heartbeat: '60s'},
      }),
    )
    const bridge = spawnCli(['bridge', 'run', '--config', cfg, '--db', tmp.db])
    const connected = async () => {
      const r = await runCli(['bridge', 'status', '--json'], {db: tmp.db, timeoutMs: 60_000})
      expect(r.code, r.stderr).toBe(0)
      expect(r.json.running).toBe(true)
      return r.json.broker.connected as boolean
    }
    try {
      await waitFor('a reading published', () => broker.messages.some(m => m.topic === 'live/l1'), 30_000)
      await waitFor('status: connected', async () => (await connected()) === true, 15_000, 200)
      await broker.close()
      // 15 s: generous for a loaded machine, and a quarter of the heartbeat interval.
      await waitFor('status: disconnected', async () => (await connected()) === false, 15_000, 200)
      broker = await startAedes({port})
      await waitFor('status: connected again', async () => (await connected()) === true, 15_000, 200)
      await waitFor('readings flow again', () => broker.messages.some(m => m.topic === 'live/l1'), 30_000)
    } finally {
      bridge.kill('SIGTERM')
      await bridge.exited
      sim.kill('SIGKILL')
      await broker.close()
    }
  })
})

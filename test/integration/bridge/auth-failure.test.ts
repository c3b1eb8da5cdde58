/**
 * Issue 18 item 5: an authentication failure is not retried forever. The real simulator refuses every
 * association with authentication-failure (diagnostic 13, as a meter with a wrong LLS password does);
 * after `auth_failure_limit` refusals in a row the worker parks in `auth-failed` (logged at error level)
 * and stops dialling, even though its backoff cap is short. A fresh worker (what a reload starts) tries again.
 */
import {afterAll, describe, expect, it} from 'vitest'
import {resolveConfig} from '../../../src/core/bridge/config.js'
import {MeterCounters} from '../../../src/core/bridge/counters.js'
import {MeterWorker, type PollResult} from '../../../src/core/bridge/worker.js'
import {startSimulator, type Simulator} from '../../../src/core/dlms/index.js'
import {createLogger} from '../../../src/core/log.js'
import {sleep, waitFor} from './helpers.js'

describe('meter worker: authentication failures', () => {
  let sim: Simulator | undefined
  const workers: MeterWorker[] = []
  afterAll(async () => {
    for (const w of workers) await w.stop()
    await sim?.close()
  })

  it('parks in auth-failed after auth_failure_limit refusals in a row, logs it at error level, and stops dialling', async () => {
    let rejected = 0
    sim = await startSimulator({
      host: '127.0.0.1',
      port: 0,
      framing: 'wrapper',
      faults: [{type: 'reject-password'}],
      onEvent: ev => {
        if (ev.type === 'rejected') rejected++
      },
    })
    const cfg = resolveConfig(
      {
        mqtt: {url: 'mqtt://127.0.0.1:1'},
        meters: [
          {
            id: 'locked',
            host: '127.0.0.1',
            port: sim.ports[0],
            poll_interval: '200ms',
            timeout: '2s',
            reconnect: {min: '20ms', max: '50ms'},
            auth_failure_limit: 3,
            obis: {'1.0.1.8.0.255': 'e'},
          },
        ],
      },
      {env: {}},
    ).meters[0]!
    const lines: string[] = []
    const log = createLogger({format: 'json', write: (l: string) => lines.push(l)})
    const readings: PollResult[] = []
    const w = new MeterWorker(cfg, {counters: new MeterCounters(), log, onReading: r => readings.push(r)})
    workers.push(w)
    w.start()
    await waitFor('auth-failed', () => w.status.state === 'auth-failed', 15_000, 20)
    expect(w.status.authFailures).toBe(3)
    expect(w.status.lastError).toMatch(/authentication failed 3 time\(s\) in a row; not retrying/)
    const errorLine = lines.map(l => JSON.parse(l)).find(l => l.level === 'error' && /authentication refused 3 time/.test(l.msg))
    expect(errorLine, lines.join('\n')).toBeDefined()
    expect(errorLine.meter).toBe('locked')
    // With a 50 ms backoff cap, 1.5 s would be ~30 more attempts if it kept retrying.
    const seen = rejected
    await sleep(1500)
    expect(rejected).toBe(seen)
    expect(seen).toBe(3)
    expect(w.status.state).toBe('auth-failed')

    // The password fixed (fault cleared) and the meter restarted, as a reload does: it associates and polls.
    sim.setFault(0, null)
    await w.stop()
    const again = new MeterWorker(cfg, {counters: new MeterCounters(), log, onReading: r => readings.push(r)})
    workers.push(again)
    again.start()
    await waitFor('a reading after the retry', () => readings.length > 0, 15_000, 20)
    expect(again.status.state).toBe('polling')
  })
})

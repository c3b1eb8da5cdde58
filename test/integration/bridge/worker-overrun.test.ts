/**
 * Issue 8: "poll overruns are counted, not queued up". One MeterWorker polls the real simulator over
 * loopback; the simulator answers every request 250 ms late, so each poll (one GET) outlasts the
 * 100 ms interval. The skipped slots are counted as overruns; when the delay is removed polling
 * goes back to its rate without a burst catching up the missed slots.
 */
import {afterAll, describe, expect, it} from 'vitest'
import {resolveConfig} from '../../../src/core/bridge/config.js'
import {MeterCounters} from '../../../src/core/bridge/counters.js'
import {MeterWorker, type PollResult} from '../../../src/core/bridge/worker.js'
import {startSimulator, type Simulator} from '../../../src/core/dlms/index.js'
import {createLogger} from '../../../src/core/log.js'
import {sleep, waitFor} from './helpers.js'

describe('meter worker: overruns', () => {
  let sim: Simulator | undefined
  let worker: MeterWorker | undefined
  afterAll(async () => {
    await worker?.stop()
    await sim?.close()
  })

  it('a poll longer than the interval skips and counts the slots it ran over; no catch-up burst afterwards', async () => {
    sim = await startSimulator({host: '127.0.0.1', port: 0, framing: 'wrapper'})
    const cfg = resolveConfig(
      {
        mqtt: {url: 'mqtt://127.0.0.1:1'},
        meters: [{id: 'slow', host: '127.0.0.1', port: sim.ports[0], poll_interval: '100ms', timeout: '2s', obis: {'1.0.1.8.0.255': 'e'}}],
      },
      {env: {}},
    ).meters[0]!
    const readings: PollResult[] = []
    worker = new MeterWorker(cfg, {counters: new MeterCounters(), log: createLogger({write: () => {}}), onReading: r => readings.push(r)})
    worker.start()
    await waitFor('polling', () => readings.length >= 3, 10_000, 20)

    sim.setFault(0, {type: 'delay', ms: 250})
    const slowFrom = readings.length
    await waitFor('slow polls', () => readings.length >= slowFrom + 4, 20_000, 20)
    const slow = readings.slice(slowFrom + 1) // the first may have started before the delay
    // Every slow poll ran over at least one 100 ms slot, and those slots were counted.
    expect(worker.status.overruns).toBeGreaterThanOrEqual(slow.length)
    for (const r of slow) expect(r.pollMs).toBeGreaterThanOrEqual(240)

    sim.setFault(0, null)
    const fastFrom = readings.length
    const t0 = Date.now()
    await sleep(1000)
    const after = readings.slice(fastFrom)
    const elapsed = Date.now() - t0
    // At most one poll per 100 ms slot (+ the slow one that was in flight): the slots missed while
    // the meter was slow are not made up for with a burst of back-to-back polls.
    expect(after.length).toBeLessThanOrEqual(Math.ceil(elapsed / 100) + 2)
    expect(worker.status.consecutiveFailures).toBe(0)
  })
})

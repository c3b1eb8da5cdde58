/**
 * Issue 18 item 5: a reading of several objects where one answer does not decode keeps the good values
 * and names the bad object by its OBIS. The real simulator answers 1.0.32.7.0.255 with an unknown
 * A-XDR tag inside a well-formed GET-with-list response (fault `bad-value:<OBIS>`); before, the whole
 * answer was a malformed frame, the poll failed and the worker re-associated, losing every value.
 */
import {afterAll, describe, expect, it} from 'vitest'
import {resolveConfig} from '../../../src/core/bridge/config.js'
import {MeterCounters} from '../../../src/core/bridge/counters.js'
import {MeterWorker, type PollResult} from '../../../src/core/bridge/worker.js'
import {parseFault, startSimulator, type Simulator} from '../../../src/core/dlms/index.js'
import {readMeter} from '../../../src/core/dlms/read.js'
import {createLogger} from '../../../src/core/log.js'
import {waitFor} from './helpers.js'

describe('meter worker: one undecodable value', () => {
  let sim: Simulator | undefined
  let worker: MeterWorker | undefined
  afterAll(async () => {
    await worker?.stop()
    await sim?.close()
  })

  it('keeps the good values, publishes null for the bad one and reports it by OBIS, without re-associating', async () => {
    let associations = 0
    sim = await startSimulator({
      host: '127.0.0.1',
      port: 0,
      framing: 'wrapper',
      faults: [parseFault('bad-value:1-0:32.7.0*255')],
      onEvent: ev => {
        if (ev.type === 'associated') associations++
      },
    })
    const cfg = resolveConfig(
      {
        mqtt: {url: 'mqtt://127.0.0.1:1'},
        meters: [
          {
            id: 'bv',
            host: '127.0.0.1',
            port: sim.ports[0],
            poll_interval: '200ms',
            timeout: '2s',
            reconnect: {min: '20ms', max: '50ms'},
            obis: {'1.0.1.8.0.255': 'energy', '1.0.32.7.0.255': 'voltage', '1.0.31.7.0.255': 'current'},
          },
        ],
      },
      {env: {}},
    ).meters[0]!
    const lines: string[] = []
    const readings: PollResult[] = []
    worker = new MeterWorker(cfg, {
      counters: new MeterCounters(),
      log: createLogger({format: 'json', write: l => lines.push(l)}),
      onReading: r => readings.push(r),
    })
    worker.start()
    await waitFor('three readings', () => readings.length >= 3, 15_000, 20)
    for (const r of readings) {
      expect(typeof r.values.energy, JSON.stringify(r.values)).toBe('number')
      expect(typeof r.values.current).toBe('number')
      expect(r.values.voltage).toBeNull()
    }
    expect(Object.keys(worker.status.objectErrors)).toEqual(['1.0.32.7.0.255'])
    expect(worker.status.objectErrors['1.0.32.7.0.255']).toMatch(/does not decode/)
    expect(worker.status.failures).toBe(0)
    expect(associations).toBe(1)
    const warn = lines.map(l => JSON.parse(l)).find(l => l.level === 'warn' && l.msg.includes('1.0.32.7.0.255'))
    expect(warn, lines.join('\n')).toBeDefined()
    expect(warn.msg).toMatch(/^meter bv: 1\.0\.32\.7\.0\.255 \(voltage\): the meter's answer does not decode/)

    // The meter mended: the value comes back and the object error clears.
    sim.setFault(0, null)
    const from = readings.length
    await waitFor('a full reading', () => readings.slice(from).some(r => typeof r.values.voltage === 'number'), 15_000, 20)
    await waitFor('object errors cleared', () => Object.keys(worker!.status.objectErrors).length === 0, 5_000, 20)
  })

  it('meters read: the other objects are read, the bad one is an error by OBIS', async () => {
    sim!.setFault(0, parseFault('bad-value:1.0.32.7.0.255'))
    const r = await readMeter({host: '127.0.0.1', port: sim!.ports[0]!, framing: 'wrapper', clientAddress: 16, serverAddress: 1, timeoutMs: 2000}, [
      {obis: '1.0.1.8.0.255'},
      {obis: '1.0.32.7.0.255'},
      {obis: '1.0.31.7.0.255'},
    ])
    sim!.setFault(0, null)
    expect(r.readings.map(x => [x.obis, x.ok])).toEqual([
      ['1.0.1.8.0.255', true],
      ['1.0.32.7.0.255', false],
      ['1.0.31.7.0.255', true],
    ])
    expect(r.readings[1]!.error!.code).toBe('DLMS_MALFORMED_FRAME')
    expect(typeof r.readings[0]!.value).toBe('number')
  })
})

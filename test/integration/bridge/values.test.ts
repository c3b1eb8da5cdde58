/**
 * What the bridge publishes is the meter's register, scaled and converted: the simulator runs the
 * 'gurux' preset (the raw values and scaler_units of the recorded Gurux meter in test/vectors/dlms),
 * so each published number is computed here from those raw values, independently of the bridge.
 */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {tempStore} from '../../support/cli.js'
import {spawnCli, startAedes, startSimulatorProcess, subscribe, waitFor} from './helpers.js'

describe('published values equal the meter registers (Gurux preset)', {timeout: 60_000}, () => {
  const tmp = tempStore('netmon-bridge-values-')
  afterAll(() => tmp.cleanup())

  it('scaler applied, Wh → kWh and W → kW converted where the config asks, the rest in the meter unit', async () => {
    const broker = await startAedes()
    const sub = await subscribe(broker.port, 'values/#')
    const sim = await startSimulatorProcess(tmp.dir, 'sim', {meters: 1, framing: 'hdlc', preset: 'gurux'})
    const cfg = join(tmp.dir, 'bridge.json')
    writeFileSync(
      cfg,
      JSON.stringify({
        mqtt: {url: `mqtt://127.0.0.1:${broker.port}`},
        publish: {format: 'plain', topic: 'values/{id}'},
        meters: [
          {
            id: 'g',
            host: '127.0.0.1',
            port: sim.ports[0],
            framing: 'hdlc',
            poll_interval: '300ms',
            obis: [
              {obis: '1.0.1.8.0.255', key: 'energy_kwh', unit: 'kWh'},
              {obis: '1.0.32.7.0.255', key: 'voltage_v'},
              {obis: '1.0.31.7.0.255', key: 'current_a'},
              {obis: '1.0.1.7.0.255', key: 'power_kw', unit: 'kW'},
            ],
          },
        ],
      }),
    )
    const bridge = spawnCli(['bridge', 'run', '--config', cfg, '--db', tmp.db])
    try {
      await waitFor('a reading', () => sub.messages.some(m => m.topic === 'values/g'), 30_000)
      const values = JSON.parse(sub.messages.find(m => m.topic === 'values/g')!.payload).values
      // Raw register values and scaler_units of the recorded meter: energy 12345678 (10^0 Wh),
      // voltage 2301 (10^-1 V), current 523 (10^-2 A), power 1203 (10^1 W).
      expect(values.energy_kwh).toBeCloseTo((12345678 * 10 ** 0) / 1000, 9)
      expect(values.voltage_v).toBeCloseTo(2301 * 10 ** -1, 9)
      expect(values.current_a).toBeCloseTo(523 * 10 ** -2, 9)
      expect(values.power_kw).toBeCloseTo((1203 * 10 ** 1) / 1000, 9)
      expect(Object.keys(values).sort()).toEqual(['current_a', 'energy_kwh', 'power_kw', 'voltage_v'])
    } finally {
      bridge.kill('SIGTERM')
      await bridge.exited
      sim.kill('SIGKILL')
      await sub.close()
      await broker.close()
    }
  })
})

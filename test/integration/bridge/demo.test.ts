/**
 * Acceptance 7: `netmon bridge run --demo` shows the whole pipeline with no hardware; `bridge status`,
 * `meters stats` and `meters readings` from another process show live data; SIGINT stops it with exit 0.
 */
import {afterAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {spawnCli, subscribe, waitFor} from './helpers.js'

describe('bridge run --demo', {timeout: 240_000}, () => {
  const tmp = tempStore('netmon-bridge-demo-')
  afterAll(() => tmp.cleanup())

  it('runs simulated meters and an in-process broker; other shells see live data', async () => {
    const demo = spawnCli(['bridge', 'run', '--demo', '--meters', '2', '--interval', '500ms', '--metrics-interval', '1s', '--db', tmp.db])
    try {
      const port = await waitFor('the demo banner', () => Number(/MQTT broker on 127\.0\.0\.1:(\d+)/.exec(demo.stdout())?.[1]) || undefined, 90_000)
      expect(demo.stdout()).toContain('netmon bridge status')
      const sub = await subscribe(port, 'netmon/meters/#')
      try {
        // Both meters' telemetry (they poll independently: under load either may publish first).
        await waitFor(
          'telemetry of demo-1 and demo-2',
          () => ['demo-1', 'demo-2'].every(id => sub.messages.some(m => m.topic === `netmon/meters/${id}`)),
          20_000,
        )
        const p = JSON.parse(sub.messages.find(m => m.topic === 'netmon/meters/demo-1')!.payload)
        expect(p.meter_id).toBe('demo-1')
        expect(Object.keys(p.values).sort()).toEqual(['current_l1_a', 'energy_export_kwh', 'energy_import_kwh', 'frequency_hz', 'power_w', 'voltage_l1_v'])
        expect(p.values.voltage_l1_v).toBeGreaterThan(200)
      } finally {
        await sub.close()
      }
      const status = await waitFor(
        'status with published readings',
        async () => {
          const r = await runCli(['bridge', 'status', '--json'], {db: tmp.db, timeoutMs: 60_000})
          return r.json?.running && r.json.published > 0 ? r.json : undefined
        },
        20_000,
        300,
      )
      expect(status.meters.map((m: any) => m.id)).toEqual(['demo-1', 'demo-2'])
      expect(status.broker.connected).toBe(true)
      const stats = await waitFor(
        'a metrics row',
        async () => {
          const r = await runCli(['meters', 'stats', 'demo-1', '--json'], {db: tmp.db, timeoutMs: 60_000})
          return r.json?.rows > 0 ? r.json : undefined
        },
        20_000,
        300,
      )
      expect(stats.application.dlms_requests_sent).toBeGreaterThan(0)
      expect(stats.application.mqtt_messages_sent).toBeGreaterThan(0)
      const readings = await runCli(['meters', 'readings', 'demo-2'], {db: tmp.db})
      expect(readings.code).toBe(0)
      expect(readings.stdout).toContain('energy_import_kwh')
      demo.kill('SIGINT')
      const {code} = await demo.exited
      expect(code).toBe(0)
      const after = await runCli(['bridge', 'status', '--json'], {db: tmp.db})
      expect(after.json.state).toBe('stopped')
    } finally {
      demo.kill('SIGKILL')
    }
  })
})

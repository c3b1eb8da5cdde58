/**
 * Issue 14 acceptance 2 (bridge): interface errors/drops reach network_metrics, `meters stats`
 * (issues: {network_errors, packet_drops}, the seed dashboard's section E) and /metrics. Real
 * parts: the DLMS simulator and the aedes broker on loopback, the bridge in-process on a real
 * store file, the built CLI for `meters stats`; the interface counters come from an injected
 * counter source (BridgeOptions.counterSource) whose errors/drops grow by a different amount
 * each way, so a swapped direction or a lost sample shows.
 */
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import {afterAll, describe, expect, it} from 'vitest'
import {resolveConfig} from '../../../src/core/bridge/config.js'
import {startBridge, type Bridge} from '../../../src/core/bridge/daemon.js'
import {startSimulator, type Simulator} from '../../../src/core/dlms/index.js'
import {createLogger} from '../../../src/core/log.js'
import type {IfCounters} from '../../../src/core/netstats/index.js'
import {MeterTotals, renderMetrics} from '../../../src/core/serve/metrics.js'
import {openStore, type Store} from '../../../src/core/store/index.js'
import {runCli, tempStore} from '../../support/cli.js'
import {startAedes, waitFor, type AedesBroker} from './helpers.js'

/** Per sample, each way: errors tx 1, rx 2; drops tx 3, rx 4 (and loopback, which is not summed, 100 each). */
const STEP = {txErrors: 1, rxErrors: 2, txDrops: 3, rxDrops: 4}

describe('bridge: interface errors/drops in network_metrics, meters stats and /metrics', {timeout: 120_000}, () => {
  const tmp = tempStore('netmon-bridge-issues-')
  let sim: Simulator | undefined
  let broker: AedesBroker | undefined
  let bridge: Bridge | undefined
  let store: Store | undefined
  afterAll(async () => {
    await bridge?.stop().catch(() => {})
    await sim?.close()
    await broker?.close()
    await store?.close()
    tmp.cleanup()
  })

  it('counts what the counter source counted, each way, and shows it everywhere', async () => {
    sim = await startSimulator({host: '127.0.0.1', port: 0, framing: 'wrapper'})
    broker = await startAedes()
    store = await openStore({db: tmp.db})
    let reads = 0
    const source = async (): Promise<Map<string, IfCounters>> => {
      const n = reads++
      const c = (k: number): IfCounters => ({
        rxBytes: 1000 * n,
        rxPackets: 10 * n,
        txBytes: 2000 * n,
        txPackets: 20 * n,
        txErrors: k * STEP.txErrors * n,
        rxErrors: k * STEP.rxErrors * n,
        txDrops: k * STEP.txDrops * n,
        rxDrops: k * STEP.rxDrops * n,
      })
      return new Map([
        ['lo', c(100)],
        ['eth0', c(1)],
      ])
    }
    const cfg = resolveConfig(
      {
        mqtt: {url: `mqtt://127.0.0.1:${broker.port}`},
        meters: [{id: 'm1', host: '127.0.0.1', port: sim.ports[0], poll_interval: '200ms', timeout: '2s', obis: {'1.0.1.8.0.255': 'e'}}],
        metrics: {interval: '400ms', sample_interval: '100ms', heartbeat: '200ms'},
      },
      {env: {}},
    )
    bridge = await startBridge(cfg, {store, log: createLogger({write: () => {}}), counterSource: source, singleInstance: false})
    await waitFor(
      'three metrics rows',
      async () => Number((await store!.get<{n: number}>('SELECT count(*) AS n FROM network_metrics WHERE meter_id = ?', ['m1']))?.n) >= 3,
      30_000,
    )
    await bridge.stop()
    bridge = undefined
    const samples = reads - 1 // the first read is the baseline

    const rows = await store.query<{tx_errors: number; rx_errors: number; tx_drops: number; rx_drops: number}>(
      'SELECT tx_errors, rx_errors, tx_drops, rx_drops FROM network_metrics WHERE meter_id = ? ORDER BY timestamp',
      ['m1'],
    )
    const sum = (k: keyof (typeof rows)[number]) => rows.reduce((a, r) => a + Number(r[k]), 0)
    const counted = sum('tx_errors')
    // Every sample the sampler took is in exactly one row (a read racing the final row may be left out).
    expect(counted).toBeGreaterThanOrEqual(samples - 1)
    expect(counted).toBeLessThanOrEqual(samples)
    expect(counted).toBeGreaterThanOrEqual(3)
    expect({rx: sum('rx_errors'), txd: sum('tx_drops'), rxd: sum('rx_drops')}).toEqual({rx: 2 * counted, txd: 3 * counted, rxd: 4 * counted})
    // Spread over the rows, not one lump.
    expect(rows.filter(r => Number(r.tx_errors) > 0).length).toBeGreaterThanOrEqual(2)

    const stats = await runCli(['meters', 'stats', 'm1', '--json'], {db: tmp.db})
    expect(stats.code, stats.stderr).toBe(0)
    expect(stats.json.issues).toEqual({
      network_errors: 3 * counted,
      packet_drops: 7 * counted,
      tx_errors: counted,
      rx_errors: 2 * counted,
      tx_drops: 3 * counted,
      rx_drops: 4 * counted,
    })
    const text = await runCli(['meters', 'stats', 'm1'], {db: tmp.db})
    expect(text.stdout).toContain(`packet drops (TX / RX)`)
    expect(text.stdout).toContain(`${7 * counted} (${3 * counted} / ${4 * counted})`)

    const exposition = await renderMetrics(store, {stats: {byRoute: new Map(), inflight: 1, total: 1}, startedAt: Date.now(), meterTotals: new MeterTotals()})
    const fams = parsePrometheusTextFormat(exposition) as {name: string; type: string; metrics: {labels: Record<string, string>; value: string}[]}[]
    const fam = (name: string) => fams.find(f => f.name === name)!
    const val = (name: string, direction: string) => Number(fam(name).metrics.find(m => m.labels.meter === 'm1' && m.labels.direction === direction)!.value)
    expect(fam('netmon_meter_interface_errors_total').type).toBe('COUNTER')
    expect(val('netmon_meter_interface_errors_total', 'tx')).toBe(counted)
    expect(val('netmon_meter_interface_errors_total', 'rx')).toBe(2 * counted)
    expect(val('netmon_meter_interface_drops_total', 'tx')).toBe(3 * counted)
    expect(val('netmon_meter_interface_drops_total', 'rx')).toBe(4 * counted)
    expect(fams.find(f => f.name === 'netmon_scrape_error')).toBeUndefined()
  })
})

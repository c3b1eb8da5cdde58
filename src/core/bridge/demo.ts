/**
 * `netmon bridge run --demo` (issue 8): N simulated meters (the DLMS simulator, in-process, on free
 * loopback ports) and an in-process MQTT broker (aedes) on 127.0.0.1, wired to a generated config,
 * so a new user sees the whole pipeline with no hardware and no broker to install.
 * Only loopback is ever used.
 */
import net from 'node:net'
import type {Logger} from '../log.js'
import type {BridgeConfig, MeterConfig, ObisSpec} from './config.js'
import {DEFAULTS} from './config.js'

export interface DemoOptions {
  meters: number
  /** Broker port; 0 = a free one. */
  mqttPort: number
  pollIntervalMs: number
  metricsIntervalMs: number
  log: Logger
}

export interface Demo {
  config: BridgeConfig
  brokerPort: number
  meterPorts: number[]
  /** Messages the demo broker received from the bridge. */
  received(): number
  close(): Promise<void>
}

/** What the simulated meter offers (src/core/dlms/simulator/objects.ts), under ThingsBoard-style keys. */
export const DEMO_OBIS: ObisSpec[] = [
  {obis: '1.0.1.8.0.255', key: 'energy_import_kwh', classId: 3, unit: 'kWh'},
  {obis: '1.0.2.8.0.255', key: 'energy_export_kwh', classId: 3, unit: 'kWh'},
  {obis: '1.0.1.7.0.255', key: 'power_w', classId: 3},
  {obis: '1.0.32.7.0.255', key: 'voltage_l1_v', classId: 3},
  {obis: '1.0.31.7.0.255', key: 'current_l1_a', classId: 3},
  {obis: '1.0.14.7.0.255', key: 'frequency_hz', classId: 3},
]

export async function startDemo(o: DemoOptions): Promise<Demo> {
  const [{startSimulator}, {Aedes}] = await Promise.all([import('../dlms/simulator/server.js'), import('aedes')])
  const sim = await startSimulator({meters: o.meters, port: 0, framing: 'wrapper'})
  let received = 0
  let broker: InstanceType<typeof Aedes> | undefined
  let server: net.Server | undefined
  try {
    broker = await Aedes.createBroker()
    broker.on('publish', (_packet, client) => {
      if (client) received++
    })
    const srv = net.createServer(broker.handle)
    server = srv
    await new Promise<void>((resolve, reject) => {
      srv.once('error', (e: NodeJS.ErrnoException) => reject(new Error(`demo broker cannot listen on 127.0.0.1:${o.mqttPort}: ${e.code ?? e.message}`)))
      srv.listen(o.mqttPort, '127.0.0.1', () => resolve())
    })
  } catch (e) {
    await sim.close()
    broker?.close()
    throw e
  }
  const brokerPort = (server.address() as net.AddressInfo).port
  o.log.info(`demo: ${o.meters} simulated meter(s) on 127.0.0.1 ports ${sim.ports.join(', ')}; MQTT broker (aedes) on 127.0.0.1:${brokerPort}`)
  const meters: MeterConfig[] = sim.ports.map((port, i) => ({
    id: `demo-${i + 1}`,
    name: `Demo meter ${i + 1}`,
    host: '127.0.0.1',
    port,
    framing: 'wrapper',
    clientAddress: 16,
    serverAddress: 1,
    auth: {mechanism: 'none'},
    pollIntervalMs: o.pollIntervalMs,
    timeoutMs: Math.min(5000, Math.max(1000, o.pollIntervalMs)),
    obis: DEMO_OBIS,
    reconnect: {minMs: 1000, maxMs: 30_000},
    authFailureLimit: 3,
  }))
  const config: BridgeConfig = {
    mqtt: {
      url: `mqtt://127.0.0.1:${brokerPort}`,
      clientId: 'netmon-bridge-demo',
      rejectUnauthorized: true,
      keepaliveSeconds: 30,
      maxInflight: DEFAULTS.maxInflight,
      connectTimeoutMs: 5000,
      reconnect: {minMs: 500, maxMs: 5000},
    },
    format: 'plain',
    topic: 'netmon/meters/{id}',
    meters,
    outbox: {maxRows: DEFAULTS.outboxMaxRows, maxAgeMs: DEFAULTS.outboxMaxAgeMs},
    store: {readingsRetentionMs: DEFAULTS.readingsRetentionMs},
    // The demo's traffic is all on loopback: measure lo, and write metrics rows often enough to see them.
    metrics: {intervalMs: o.metricsIntervalMs, heartbeatMs: 2000, sampleIntervalMs: 1000, interfaces: process.platform === 'linux' ? ['lo'] : ['*']},
    shutdownTimeoutMs: 5000,
  }
  return {
    config,
    brokerPort,
    meterPorts: sim.ports,
    received: () => received,
    async close() {
      await sim.close()
      await new Promise<void>(r => broker!.close(() => r()))
      await new Promise<void>(r => server!.close(() => r()))
    },
  }
}

/**
 * The process around the daemon (`netmon bridge run`): config, store, logger, demo, and signals.
 * SIGTERM/SIGINT → graceful stop (a second one exits at once); SIGHUP → reload the config file
 * (an invalid file is logged and the running config kept).
 */
import {createLogger, type LogFormat, type LogLevel} from '../log.js'
import {redact} from '../secrets.js'
import type {Store} from '../store/index.js'
import {loadConfig, type BridgeConfig} from './config.js'
import {startBridge} from './daemon.js'
import type {Demo} from './demo.js'

export interface RunOptions {
  configPath?: string
  demo?: {meters: number; mqttPort: number; pollIntervalMs: number; metricsIntervalMs: number}
  db?: string
  openStore: (db: string | undefined) => Promise<Store>
  logFormat: LogFormat
  logLevel: LogLevel
  print: (text: string) => void
}

export interface RunSummary {
  started_at: string
  stopped_at: string
  meters: number
  published: number
  stored: number
  dropped: number
  outbox_depth: number
  inflight_left: number
}

export async function runBridgeProcess(o: RunOptions): Promise<RunSummary> {
  const log = createLogger({format: o.logFormat, level: o.logLevel})
  let demo: Demo | undefined
  let config: BridgeConfig
  if (o.demo) {
    const {startDemo} = await import('./demo.js')
    demo = await startDemo({...o.demo, log})
    config = demo.config
  } else {
    config = loadConfig(o.configPath!)
  }
  const startedAt = new Date()
  try {
    const store = await o.openStore(o.db ?? config.store.db)
    store.onRetry = attempt => log.debug(`store busy, retry ${attempt}`)
    const bridge = await startBridge(config, {store, log})
    if (demo) {
      o.print(
        [
          `Demo running: ${config.meters.length} simulated meter(s), MQTT broker on 127.0.0.1:${demo.brokerPort}, store ${store.location.display}`,
          `  watch the broker:   mosquitto_sub -h 127.0.0.1 -p ${demo.brokerPort} -t 'netmon/meters/#' -v`,
          `  from another shell: netmon bridge status${o.db ? ` --db ${o.db}` : ''}`,
          `                      netmon meters stats demo-1${o.db ? ` --db ${o.db}` : ''}   (a metrics row every ${Math.round(config.metrics.intervalMs / 1000)} s)`,
          `                      netmon meters readings demo-1${o.db ? ` --db ${o.db}` : ''}`,
          'Stop with Ctrl-C.',
        ].join('\n'),
      )
    }
    let signals = 0
    const onStop = (sig: NodeJS.Signals): void => {
      signals++
      if (signals > 1) {
        log.warn(`${sig} again: exiting now (the outbox keeps what was not acknowledged)`)
        process.exit(1)
      }
      log.info(`${sig} received`)
      void bridge.stop()
    }
    const onHup = (): void => {
      if (!o.configPath) {
        log.info('SIGHUP: the demo has no config file to reload')
        return
      }
      let next: BridgeConfig
      try {
        next = loadConfig(o.configPath)
      } catch (e) {
        log.error(`SIGHUP: config not reloaded, keeping the running one: ${redact((e as Error).message)}`)
        return
      }
      bridge.reload(next).catch((e: unknown) => log.error(`config reload failed: ${redact(String((e as Error)?.message ?? e))}`))
    }
    process.on('SIGTERM', onStop)
    process.on('SIGINT', onStop)
    process.on('SIGHUP', onHup)
    try {
      await bridge.stopped
    } finally {
      process.off('SIGHUP', onHup)
    }
    const {inflightLeft} = await bridge.stop()
    const s = bridge.snapshot()
    // Anything a library forgot to close must not keep a stopped daemon alive (systemd would kill it).
    setTimeout(() => process.exit(process.exitCode ?? 0), 5000).unref()
    return {
      started_at: startedAt.toISOString(),
      stopped_at: new Date().toISOString(),
      meters: bridge.config.meters.length,
      published: s.published,
      stored: s.stored,
      dropped: s.dropped,
      outbox_depth: s.outboxDepth,
      inflight_left: inflightLeft,
    }
  } finally {
    await demo?.close()
  }
}

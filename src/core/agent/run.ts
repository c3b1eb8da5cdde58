/**
 * The process around the job host (`netmon agent run`): config, store, logger and signals.
 * SIGTERM/SIGINT → graceful stop (running jobs finish, or are aborted after shutdown_timeout),
 * then exit 0; a second signal exits at once (1). SIGHUP → re-read the config file: jobs added,
 * removed, changed; an invalid file is one log line and the running config is kept.
 */
import {createLogger, type LogFormat, type LogLevel} from '../log.js'
import {redact} from '../secrets.js'
import type {Store} from '../store/index.js'
import {type AgentConfig, loadAgentConfig} from './config.js'
import {startAgent} from './host.js'

export interface AgentRunOptions {
  configPath: string
  db?: string
  openStore: (db: string | undefined) => Promise<Store>
  logFormat: LogFormat
  logLevel: LogLevel
  version?: string
}

export interface AgentRunSummary {
  started_at: string
  stopped_at: string
  stopped_by: string
  jobs: string[]
  reloads: number
  aborted: string[]
}

export async function runAgentProcess(o: AgentRunOptions): Promise<AgentRunSummary> {
  const log = createLogger({format: o.logFormat, level: o.logLevel, name: 'agent'})
  // Bad input exits 2 before the store is opened or anything runs.
  const config: AgentConfig = loadAgentConfig(o.configPath)
  const startedAt = new Date()
  const store = await o.openStore(o.db ?? config.store.db)
  store.onRetry = attempt => log.debug(`store busy, retry ${attempt}`)
  const host = await startAgent(config, {store, log, ...(o.version ? {version: o.version} : {})})
  let reloads = 0
  let signals = 0
  const stopped = new Promise<string>(resolve => {
    const onStop = (sig: NodeJS.Signals): void => {
      signals++
      if (signals > 1) {
        log.warn(`${sig} again: exiting now`)
        process.exit(1)
      }
      log.info(`${sig} received: stopping (running jobs get up to ${host.config.shutdownTimeoutMs} ms)`)
      resolve(sig)
    }
    process.on('SIGTERM', onStop)
    process.on('SIGINT', onStop)
  })
  const onHup = (): void => {
    let next: AgentConfig
    try {
      next = loadAgentConfig(o.configPath)
    } catch (e) {
      log.error(`SIGHUP: config not reloaded, keeping the running one: ${redact((e as Error).message)}`)
      return
    }
    reloads++
    host.reload(next).catch((e: unknown) => log.error(`config reload failed: ${redact(String((e as Error)?.message ?? e))}`))
  }
  process.on('SIGHUP', onHup)
  const by = await stopped
  process.off('SIGHUP', onHup)
  const {aborted} = await host.stop()
  // Anything a library forgot to close must not keep a stopped agent alive (systemd would kill it).
  setTimeout(() => process.exit(process.exitCode ?? 0), 5000).unref()
  return {
    started_at: startedAt.toISOString(),
    stopped_at: new Date().toISOString(),
    stopped_by: by,
    jobs: host.jobs(),
    reloads,
    aborted,
  }
}

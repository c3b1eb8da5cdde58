/** `netmon agent check`: what an agent config would run, without running it (no secrets shown). */
import {type AgentConfig, type AgentJob, describeSchedule, loadAgentConfig} from './config.js'

export interface AgentCheck {
  ok: true
  path: string
  store: string | null
  heartbeat_ms: number
  shutdown_timeout_ms: number
  jobs: {name: string; kind: string; enabled: boolean; schedule: string; what: string}[]
}

function what(j: AgentJob): string {
  switch (j.kind) {
    case 'collector':
      return j.sources
        .map(s =>
          s.type === 'interfaces'
            ? `interfaces ${s.names?.join(',') ?? '(all but loopback)'}`
            : s.type === 'nftables'
              ? `nftables lan ${s.lan.join(',')}`
              : `snmp ${s.agents.map(a => `${a.name} (${a.host}:${a.port ?? 161})`).join(', ')}`,
        )
        .join('; ')
    case 'scan':
      return `scan ${j.targets.join(', ')}${j.register ? ' (register)' : ''}`
    case 'latency':
      return `${j.method} ×${j.count} to ${j.targets.join(', ')}`
    case 'prune':
      return `retention ${
        Object.entries(j.keep)
          .map(([k, v]) => `${k}=${v === 0 ? 'forever' : `${v} ms`}`)
          .join(' ') || 'as saved (db prune --save) or defaults'
      }`
    case 'bridge':
      return `bridge: ${j.bridge.meters.length} meter(s) → ${j.bridge.mqtt.url}${j.configPath ? ` (${j.configPath})` : ''}`
    case 'serve':
      return `serve on ${j.host}:${j.port}${j.tokenSource ? ` (token from ${j.tokenSource})` : ''}`
    case 'netflow':
      return `netflow on ${j.address}:${j.port}/udp, lan ${j.lan.join(',')}, flush every ${j.everyMs / 1000}s${j.exporters.length ? `, exporters ${j.exporters.join(',')}` : ''}`
    case 'alerts':
      return `alerts: ${j.rules.rules.length} rule(s), channels ${[...j.rules.channels.keys()].join(', ')}${j.rulesPath ? ` (${j.rulesPath})` : ' (inline)'}`
  }
}

export function describeConfig(c: AgentConfig): AgentCheck {
  return {
    ok: true,
    path: c.path ?? '',
    store: c.store.db ?? null,
    heartbeat_ms: c.heartbeatMs,
    shutdown_timeout_ms: c.shutdownTimeoutMs,
    jobs: c.jobs.map(j => ({name: j.name, kind: j.kind, enabled: j.enabled, schedule: describeSchedule(j.schedule), what: what(j)})),
  }
}

export const checkAgentConfig = (path: string): AgentCheck => describeConfig(loadAgentConfig(path))

/**
 * The agent config (docs/AGENT.md, issue 14): YAML or JSON, validated with zod, every error naming
 * its path (`jobs[2].every: invalid duration "soon"`). The duration, integer and env-name pieces,
 * the file reader and the bridge section itself are the bridge's (bridge/config.ts), not copies.
 * Secrets are never in the file: `*_env` names an environment variable, `*_file` a file that holds
 * the value; both are registered with secrets.ts as soon as they are read.
 */
import {existsSync, readFileSync} from 'node:fs'
import {isIP} from 'node:net'
import {dirname, resolve} from 'node:path'
import {Cron} from 'croner'
import {z} from 'zod'
import {loadRules, resolveRules, type RuleSet} from '../alerts/rules.js'
import {type BridgeConfig, duration, envName, fmtMs, idText, int, readConfigFile, resolveConfig as resolveBridgeConfig} from '../bridge/config.js'
import {snmpAgentOptions, snmpAgentSchema} from '../collect/snmp-config.js'
import type {SnmpSourceOptions} from '../collect/snmp.js'
import {invalidInput, isNetmonError} from '../errors.js'
import {parseDuration} from '../format/time.js'
import {METHODS, type Method} from '../scan/types.js'
import {registerSecret} from '../secrets.js'
import {formatPath, validate} from '../validate.js'

export const JOB_KINDS = ['collector', 'scan', 'latency', 'prune', 'bridge', 'serve', 'netflow', 'alerts'] as const
export type JobKind = (typeof JOB_KINDS)[number]

// ---------- schema ----------

const nonEmpty = (what: string) =>
  z
    .string({message: `expected ${what}`})
    .trim()
    .min(1, {message: `expected ${what}`})
const targets = z
  .array(nonEmpty('a host, address, range or CIDR'), {message: 'expected a list of targets'})
  .min(1, {message: 'expected at least one target'})
  .max(256)
const keepDuration = z.unknown().transform((v, ctx) => {
  if (v === 0 || (typeof v === 'string' && /^(forever|never|0)$/i.test(v.trim()))) return 0
  if (typeof v !== 'string') {
    ctx.addIssue({code: 'custom', message: 'expected a duration such as 7d or 12h, or "forever"'})
    return z.NEVER
  }
  try {
    return parseDuration(v)
  } catch {
    ctx.addIssue({code: 'custom', message: `invalid duration "${v}" (use e.g. 7d, 12h, or "forever")`})
    return z.NEVER
  }
})

/** Fields every job has; `every`/`cron` only where the kind is scheduled (checked in resolve). */
const common = {
  name: z.string({error: iss => (iss.input === undefined ? 'missing: a unique name for the job' : 'expected text')}).pipe(idText),
  enabled: z.boolean({message: 'expected true or false'}).optional(),
}
const schedule = {
  every: duration(1000, 366 * 86_400_000).optional(),
  cron: z.string({message: 'expected a cron expression such as "*/5 * * * *"'}).optional(),
  timezone: z.string({message: 'expected an IANA time zone such as Europe/Vienna'}).min(1).optional(),
  /** A scheduled job's run is aborted after this long (default: its period, at most 1 h). */
  timeout: duration(100, 86_400_000).optional(),
}

const interfacesSource = z.strictObject({
  type: z.literal('interfaces'),
  name: idText.optional(),
  /** Exactly these interfaces (loopback only when named); default: every non-loopback one. */
  names: z.array(nonEmpty('an interface name'), {message: 'expected a list of interface names'}).min(1, {message: 'expected at least one name'}).optional(),
})
const nftablesSource = z.strictObject({
  type: z.literal('nftables'),
  name: idText.optional(),
  /** LAN subnets whose hosts get per-host counters (IPv4 and IPv6 CIDRs). */
  lan: z.array(nonEmpty('a CIDR such as 192.168.1.0/24'), {message: 'expected a list of LAN subnets'}).min(1, {message: 'expected at least one LAN subnet'}),
})
const snmpSourceSchema = z.strictObject({
  type: z.literal('snmp'),
  name: idText.optional(),
  /** SNMP agents polled by this source (docs/SOURCES.md): each port is a device. */
  agents: z.array(snmpAgentSchema, {message: 'expected a list of SNMP agents'}).min(1, {message: 'expected at least one agent'}),
})
const source = z.discriminatedUnion('type', [interfacesSource, nftablesSource, snmpSourceSchema], {
  error: iss =>
    iss.code === 'invalid_union' || (iss as {code?: string}).code === 'invalid_union_discriminator' || iss.input === undefined
      ? 'expected a source with type: interfaces, nftables or snmp'
      : undefined,
})

const collectorJob = z.strictObject({
  ...common,
  kind: z.literal('collector'),
  every: duration(1000, 86_400_000).optional(),
  jitter: duration(0, 3_600_000).optional(),
  read_timeout: duration(100, 600_000).optional(),
  /** Max plausible rate (bits/s): a wrap implying more is a counter reset. */
  max_rate: z.number({message: 'expected bits per second, e.g. 10000000000'}).positive({message: 'expected a positive rate'}).optional(),
  sources: z.array(source, {message: 'expected a list of sources'}).min(1, {message: 'expected at least one source'}),
})
const scanJob = z.strictObject({
  ...common,
  ...schedule,
  kind: z.literal('scan'),
  targets,
  register: z.boolean({message: 'expected true or false'}).optional(),
  methods: z
    .array(z.enum(METHODS, {message: `expected one of ${METHODS.join(', ')}`}))
    .min(1, {message: 'expected at least one method'})
    .optional(),
  probe_timeout: duration(50, 60_000).optional(),
  ports: z.string().min(1).optional(),
  rdns: z.boolean({message: 'expected true or false'}).optional(),
  conflict_check: z.boolean({message: 'expected true or false'}).optional(),
  arp_wait: duration(0, 30_000).optional(),
  allow_public: z.boolean({message: 'expected true or false'}).optional(),
})
const latencyJob = z.strictObject({
  ...common,
  ...schedule,
  kind: z.literal('latency'),
  targets,
  method: z.enum(['auto', 'icmp', 'tcp'], {message: 'expected auto, icmp or tcp'}).optional(),
  count: int(1, 1000).optional(),
  interval: duration(10, 60_000).optional(),
  probe_timeout: duration(10, 60_000).optional(),
  port: int(1, 65535).optional(),
})
const pruneJob = z.strictObject({
  ...common,
  ...schedule,
  kind: z.literal('prune'),
  keep: z
    .strictObject({
      raw: keepDuration.optional(),
      '5m': keepDuration.optional(),
      '1h': keepDuration.optional(),
      '1d': keepDuration.optional(),
      latency_probes: keepDuration.optional(),
    })
    .optional(),
})
const bridgeJob = z.strictObject({
  ...common,
  kind: z.literal('bridge'),
  /** The bridge config: a file (docs/examples/bridge.yaml) … */
  config_file: z.string().min(1).optional(),
  /** … or the same document inline. */
  config: z.record(z.string(), z.unknown(), {message: 'expected the bridge config as a mapping (mqtt, publish, meters)'}).optional(),
})
const serveJob = z.strictObject({
  ...common,
  kind: z.literal('serve'),
  host: z.string().min(1).optional(),
  port: int(0, 65535, '0-65535 (0 = any free port)').optional(),
  token_env: envName.optional(),
  token_file: z.string().min(1).optional(),
  access_log: z.boolean().optional(),
})

const netflowJob = z.strictObject({
  ...common,
  kind: z.literal('netflow'),
  /** UDP address:port the collector binds (default 0.0.0.0:2055; [::]:2055 for IPv6). */
  listen: z.string({message: 'expected ADDRESS:PORT such as 0.0.0.0:2055'}).trim().min(1, {message: 'expected ADDRESS:PORT such as 0.0.0.0:2055'}).optional(),
  /** LAN subnets: the side of a flow inside them is the host it is accounted to. */
  lan: z.array(nonEmpty('a CIDR such as 192.168.1.0/24'), {message: 'expected a list of LAN subnets'}).min(1, {message: 'expected at least one LAN subnet'}),
  /** Flush interval (one batch per interval; also the bucket width). */
  every: duration(1000, 3_600_000).optional(),
  /** Only datagrams from these exporter addresses are decoded (others are dropped and counted). */
  exporters: z
    .array(nonEmpty('an exporter IP address'), {message: 'expected a list of exporter IP addresses'})
    .min(1, {message: 'expected at least one exporter'})
    .optional(),
  /** Caps on held state (docs/SOURCES.md). */
  max_hosts: int(1, 1_000_000).optional(),
})

const alertsJob = z.strictObject({
  ...common,
  ...schedule,
  kind: z.literal('alerts'),
  /** The alert rules file (docs/ALERTS.md) … */
  rules_file: z.string({message: 'expected the path of an alert rules file'}).trim().min(1, {message: 'expected the path of an alert rules file'}).optional(),
  /** … or the same document inline: rules (and channels, defaults) in the job itself. */
  rules: z.array(z.unknown(), {message: 'expected a list of alert rules'}).optional(),
  channels: z.record(z.string(), z.unknown(), {message: 'expected the channels as a mapping (NAME: {type: …})'}).optional(),
  defaults: z.record(z.string(), z.unknown(), {message: 'expected the rule defaults as a mapping'}).optional(),
})

const job = z.discriminatedUnion('kind', [collectorJob, scanJob, latencyJob, pruneJob, bridgeJob, serveJob, netflowJob, alertsJob], {
  error: iss => (iss.input === undefined ? `missing: the job kind (${JOB_KINDS.join(', ')})` : `expected kind: one of ${JOB_KINDS.join(', ')}`),
})

const schema = z.strictObject({
  store: z.strictObject({db: z.string().min(1, {message: 'expected a path or URL'})}).optional(),
  heartbeat: duration(200, 600_000).optional(),
  shutdown_timeout: duration(0, 600_000).optional(),
  jobs: z
    .array(job, {error: iss => (iss.input === undefined ? 'missing: the list of jobs to run' : 'expected a list of jobs')})
    .min(1, {message: 'expected at least one job'})
    .max(1000),
})

type RawJob = z.infer<typeof job>

// ---------- resolved ----------

export type Schedule = {type: 'every'; ms: number} | {type: 'cron'; expr: string; timezone?: string} | {type: 'continuous'}

export type SourceSpec =
  | {type: 'interfaces'; name?: string; names?: string[]}
  | {type: 'nftables'; name?: string; lan: string[]}
  | {type: 'snmp'; name?: string; agents: SnmpSourceOptions[]}

interface JobBase {
  name: string
  enabled: boolean
  /** The job's config as written, to tell a changed job on reload. */
  fingerprint: string
}
export interface CollectorJob extends JobBase {
  kind: 'collector'
  schedule: {type: 'every'; ms: number}
  jitterMs: number
  readTimeoutMs?: number
  maxRateBps?: number
  sources: SourceSpec[]
}
export interface ScanJob extends JobBase {
  kind: 'scan'
  schedule: Schedule
  timeoutMs: number
  targets: string[]
  register: boolean
  methods: Method[]
  probeTimeoutMs: number
  ports: string | null
  rdns: boolean
  conflictCheck: boolean
  arpWaitMs: number
  allowPublic: boolean
}
export interface LatencyJob extends JobBase {
  kind: 'latency'
  schedule: Schedule
  timeoutMs: number
  targets: string[]
  method: 'auto' | 'icmp' | 'tcp'
  count: number
  intervalMs: number
  probeTimeoutMs: number
  port: number
}
export interface PruneJob extends JobBase {
  kind: 'prune'
  schedule: Schedule
  timeoutMs: number
  keep: {raw?: number; '5m'?: number; '1h'?: number; '1d'?: number; latencyProbes?: number}
}
export interface BridgeJob extends JobBase {
  kind: 'bridge'
  schedule: {type: 'continuous'}
  /** The bridge config file (re-read on SIGHUP with the agent's), if given by path. */
  configPath?: string
  bridge: BridgeConfig
}
export interface ServeJob extends JobBase {
  kind: 'serve'
  schedule: {type: 'continuous'}
  host: string
  port: number
  token: string | null
  tokenSource: string | null
  accessLog: boolean
}
export interface NetflowJob extends JobBase {
  kind: 'netflow'
  schedule: {type: 'continuous'}
  address: string
  port: number
  lan: string[]
  /** Flush interval = bucket width. */
  everyMs: number
  exporters: string[]
  maxHosts: number
}
export interface AlertsJob extends JobBase {
  kind: 'alerts'
  schedule: Schedule
  timeoutMs: number
  /** The rules file (re-read on SIGHUP with the agent's), if given by path. */
  rulesPath?: string
  rules: RuleSet
  /** The resolved rules and channels, to tell a changed rules file on reload. */
  rulesFingerprint: string
}
export type AgentJob = CollectorJob | ScanJob | LatencyJob | PruneJob | BridgeJob | ServeJob | NetflowJob | AlertsJob

export interface AgentConfig {
  path?: string
  store: {db?: string}
  heartbeatMs: number
  shutdownTimeoutMs: number
  jobs: AgentJob[]
}

export const AGENT_DEFAULTS = {
  heartbeatMs: 5000,
  shutdownTimeoutMs: 10_000,
  maxScheduledTimeoutMs: 3_600_000,
  latencyCount: 5,
  latencyIntervalMs: 200,
  latencyTimeoutMs: 1000,
  latencyPort: 443,
  scanProbeTimeoutMs: 800,
  scanArpWaitMs: 2500,
  servePort: 8080,
  netflowAddress: '0.0.0.0',
  netflowPort: 2055,
  netflowEveryMs: 10_000,
  netflowMaxHosts: 10_000,
}

export function describeSchedule(s: Schedule): string {
  if (s.type === 'every') return `every ${fmtMs(s.ms)}`
  if (s.type === 'cron') return `cron ${s.expr}${s.timezone ? ` (${s.timezone})` : ''}`
  return 'continuous'
}

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv
  /** Directory relative paths (store.db, config_file, token_file) are resolved against. */
  baseDir?: string
  path?: string
}

/** Validates a parsed config and resolves defaults, secrets and files. Throws NetmonError(input) naming the path. */
export function resolveAgentConfig(raw: unknown, opts: ResolveOptions = {}): AgentConfig {
  const env = opts.env ?? process.env
  const baseDir = opts.baseDir ?? process.cwd()
  if (raw === null || raw === undefined || typeof raw !== 'object' || Array.isArray(raw))
    throw invalidInput('config: expected a mapping with a jobs list', 'see docs/AGENT.md')
  const c = validate(schema, raw)
  const fail = (path: PropertyKey[], message: string, hint?: string): never => {
    throw invalidInput(`${formatPath(path)}: ${message}`, hint)
  }
  const names = new Map<string, number>()
  const jobs: AgentJob[] = []
  let serves = 0
  let bridges = 0
  const netflowBinds = new Map<string, number>()
  c.jobs.forEach((j: RawJob, i) => {
    const at = (...p: PropertyKey[]): PropertyKey[] => ['jobs', i, ...p]
    if (names.has(j.name)) fail(at('name'), `duplicate job name "${j.name}" (also jobs[${names.get(j.name)}])`)
    names.set(j.name, i)
    const base: JobBase = {name: j.name, enabled: j.enabled ?? true, fingerprint: JSON.stringify(j)}
    const sched = (x: {every?: number; cron?: string; timezone?: string; timeout?: number}) => {
      if (x.every !== undefined && x.cron !== undefined) fail(at('cron'), 'give either every or cron, not both')
      if (x.every === undefined && x.cron === undefined) fail(at('every'), 'missing: a schedule: every: 5m or cron: "*/5 * * * *"')
      if (x.timezone !== undefined && x.cron === undefined) fail(at('timezone'), 'a time zone applies to a cron schedule only')
      let s: Schedule
      if (x.cron !== undefined) {
        try {
          const probe = new Cron(x.cron, {paused: true, ...(x.timezone ? {timezone: x.timezone} : {})})
          if (probe.nextRun() === null) fail(at('cron'), `"${x.cron}" never fires`)
        } catch (e) {
          if (isNetmonError(e)) throw e
          const msg = (e as Error).message
          if (x.timezone && /timezone/i.test(msg)) fail(at('timezone'), `unknown time zone "${x.timezone}" (use an IANA name such as Europe/Vienna)`)
          fail(at('cron'), `invalid cron expression "${x.cron}": ${msg.replace(/^Cron\w*: /, '').split('.')[0]}`)
        }
        s = {type: 'cron', expr: x.cron, ...(x.timezone ? {timezone: x.timezone} : {})}
      } else s = {type: 'every', ms: x.every!}
      const period = s.type === 'every' ? s.ms : AGENT_DEFAULTS.maxScheduledTimeoutMs
      return {schedule: s, timeoutMs: x.timeout ?? Math.min(period, AGENT_DEFAULTS.maxScheduledTimeoutMs)}
    }
    switch (j.kind) {
      case 'collector': {
        if (j.every === undefined) return fail(at('every'), 'missing: the collector interval, e.g. every: 10s (collectors run on a fixed grid, not cron)')
        const every = j.every
        const srcNames = new Set<string>()
        const sources: SourceSpec[] = j.sources.map((s, k) => {
          const n =
            s.name ??
            (s.type === 'interfaces'
              ? s.names
                ? `iface:${s.names.join(',')}`
                : 'iface'
              : s.type === 'nftables'
                ? 'nft'
                : `snmp:${s.agents.map(a => a.name).join(',')}`)
          if (srcNames.has(n)) fail(at('sources', k, 'name'), `two sources of this job are named "${n}": give each a name`)
          srcNames.add(n)
          if (s.type === 'interfaces') {
            if (s.names && new Set(s.names).size !== s.names.length) fail(at('sources', k, 'names'), 'an interface is named twice')
            return {type: 'interfaces', ...(s.name ? {name: s.name} : {}), ...(s.names ? {names: s.names} : {})}
          }
          if (s.type === 'snmp') {
            const seen = new Set<string>()
            const agents = s.agents.map((a, m) => {
              if (seen.has(a.name)) fail(at('sources', k, 'agents', m, 'name'), `two agents are named "${a.name}"`)
              seen.add(a.name)
              try {
                return snmpAgentOptions(a, {env, baseDir, what: 'agent'})
              } catch (e) {
                if (!isNetmonError(e)) throw e
                return fail(at('sources', k, 'agents', m), e.message.replace(/^agent( [^:]+)?: /, ''), e.hint)
              }
            })
            return {type: 'snmp', ...(s.name ? {name: s.name} : {}), agents}
          }
          s.lan.forEach((cidr, m) => {
            if (!isCidr(cidr)) fail(at('sources', k, 'lan', m), `expected a CIDR such as 192.168.1.0/24 or fd00::/64, got "${cidr}"`)
          })
          return {type: 'nftables', ...(s.name ? {name: s.name} : {}), lan: s.lan}
        })
        const jitterMs = j.jitter ?? 0
        if (jitterMs >= every) fail(at('jitter'), `must be shorter than every (${fmtMs(every)})`)
        jobs.push({
          ...base,
          kind: 'collector',
          schedule: {type: 'every', ms: every},
          jitterMs,
          ...(j.read_timeout !== undefined ? {readTimeoutMs: j.read_timeout} : {}),
          ...(j.max_rate !== undefined ? {maxRateBps: j.max_rate} : {}),
          sources,
        })
        return
      }
      case 'scan': {
        if (j.ports !== undefined && !/^(top100|top1000|all|[0-9,\s-]+)$/i.test(j.ports))
          fail(at('ports'), `expected a port list (22,80,8000-8100), top100, top1000 or all, got "${j.ports}"`)
        jobs.push({
          ...base,
          kind: 'scan',
          ...sched(j),
          targets: j.targets,
          register: j.register ?? false,
          methods: j.methods ? METHODS.filter(m => j.methods!.includes(m)) : [...METHODS],
          probeTimeoutMs: j.probe_timeout ?? AGENT_DEFAULTS.scanProbeTimeoutMs,
          ports: j.ports ?? null,
          rdns: j.rdns ?? true,
          conflictCheck: j.conflict_check ?? true,
          arpWaitMs: j.arp_wait ?? AGENT_DEFAULTS.scanArpWaitMs,
          allowPublic: j.allow_public ?? false,
        })
        return
      }
      case 'latency': {
        const count = j.count ?? AGENT_DEFAULTS.latencyCount
        const intervalMs = j.interval ?? AGENT_DEFAULTS.latencyIntervalMs
        const probeTimeoutMs = j.probe_timeout ?? AGENT_DEFAULTS.latencyTimeoutMs
        const s = sched(j)
        const needs = count * intervalMs + probeTimeoutMs
        if (s.schedule.type === 'every' && needs > s.schedule.ms)
          fail(at('count'), `${count} probes ${fmtMs(intervalMs)} apart take about ${fmtMs(needs)}, longer than every (${fmtMs(s.schedule.ms)})`)
        jobs.push({
          ...base,
          kind: 'latency',
          ...s,
          targets: j.targets,
          method: j.method ?? 'auto',
          count,
          intervalMs,
          probeTimeoutMs,
          port: j.port ?? AGENT_DEFAULTS.latencyPort,
        })
        return
      }
      case 'prune': {
        const k = j.keep ?? {}
        jobs.push({
          ...base,
          kind: 'prune',
          ...sched(j),
          keep: {
            ...(k.raw !== undefined ? {raw: k.raw} : {}),
            ...(k['5m'] !== undefined ? {'5m': k['5m']} : {}),
            ...(k['1h'] !== undefined ? {'1h': k['1h']} : {}),
            ...(k['1d'] !== undefined ? {'1d': k['1d']} : {}),
            ...(k.latency_probes !== undefined ? {latencyProbes: k.latency_probes} : {}),
          },
        })
        return
      }
      case 'bridge': {
        if (++bridges > 1) fail(at('kind'), 'only one bridge job per agent (one bridge per store)')
        if ((j.config_file === undefined) === (j.config === undefined))
          fail(at('config_file'), 'give the bridge config as config_file: PATH or inline as config: {…}')
        let bridge: BridgeConfig
        let configPath: string | undefined
        const prefix = j.config_file !== undefined ? at('config_file') : at('config')
        try {
          if (j.config_file !== undefined) {
            configPath = resolve(baseDir, j.config_file)
            if (!existsSync(configPath)) fail(at('config_file'), `file ${j.config_file} does not exist`)
            bridge = resolveBridgeConfig(readConfigFile(configPath), {env, baseDir: dirname(configPath), path: configPath})
          } else bridge = resolveBridgeConfig(j.config, {env, baseDir})
        } catch (e) {
          if (isNetmonError(e) && e.kind === 'input' && !e.message.startsWith('jobs[')) {
            const where = j.config_file !== undefined ? `${formatPath(prefix)} (${j.config_file})` : formatPath(prefix)
            throw invalidInput(`${where}: ${e.message.replace(/^config: /, '')}`, e.hint)
          }
          throw e
        }
        jobs.push({...base, kind: 'bridge', schedule: {type: 'continuous'}, ...(configPath ? {configPath} : {}), bridge})
        return
      }
      case 'serve': {
        if (++serves > 1) fail(at('kind'), 'only one serve job per agent')
        const host = (j.host ?? '127.0.0.1').replace(/^\[|\]$/g, '')
        if (j.token_env && j.token_file) fail(at('token_file'), 'give the token as token_env or token_file, not both')
        let token: string | null = null
        let tokenSource: string | null = null
        if (j.token_env) {
          const v = env[j.token_env]?.trim()
          if (!v) fail(at('token_env'), `environment variable ${j.token_env} is not set`, `export ${j.token_env}=$(openssl rand -hex 32)`)
          token = v!
          tokenSource = `$${j.token_env}`
        } else if (j.token_file) {
          const p = resolve(baseDir, j.token_file)
          let v: string
          try {
            v = readFileSync(p, 'utf8').trim()
          } catch (e) {
            return fail(at('token_file'), `cannot read ${j.token_file} (${(e as NodeJS.ErrnoException).code ?? e})`)
          }
          if (!v) fail(at('token_file'), `${j.token_file} is empty`)
          token = v
          tokenSource = j.token_file
        }
        if (token !== null) {
          if (token.length < 16) fail(at(j.token_env ? 'token_env' : 'token_file'), 'the token is shorter than 16 characters', 'use openssl rand -hex 32')
          registerSecret(token)
        }
        const loopback = /^(127\.|::1$|localhost\.?$)/i.test(host)
        if (!loopback && token === null) fail(at('host'), `${host} is not loopback: the API needs a token (token_env or token_file)`)
        jobs.push({
          ...base,
          kind: 'serve',
          schedule: {type: 'continuous'},
          host,
          port: j.port ?? AGENT_DEFAULTS.servePort,
          token,
          tokenSource,
          accessLog: j.access_log ?? false,
        })
        return
      }
      case 'netflow': {
        const listen = j.listen ?? `${AGENT_DEFAULTS.netflowAddress}:${AGENT_DEFAULTS.netflowPort}`
        const m = /^(?:\[([0-9a-f:.]+)\]|([0-9.]+)):(\d{1,5})$/i.exec(listen)
        const address = m ? (m[1] ?? m[2])! : ''
        const port = m ? Number(m[3]) : -1
        if (!m || !isIP(address) || port > 65535) fail(at('listen'), `expected ADDRESS:PORT such as 0.0.0.0:2055 or [::]:2055, got "${listen}"`)
        const bind = `${address}:${port}`
        if (port !== 0 && netflowBinds.has(bind)) fail(at('listen'), `jobs[${netflowBinds.get(bind)}] already listens on ${listen}`)
        netflowBinds.set(bind, i)
        j.lan.forEach((cidr, k) => {
          if (!isCidr(cidr)) fail(at('lan', k), `expected a CIDR such as 192.168.1.0/24 or fd00::/64, got "${cidr}"`)
        })
        const exporters = (j.exporters ?? []).map((e, k) => {
          if (!isIP(e)) fail(at('exporters', k), `expected an IP address, got "${e}"`)
          return e
        })
        const everyMs = j.every ?? AGENT_DEFAULTS.netflowEveryMs
        if (everyMs % 1000 !== 0) fail(at('every'), 'expected whole seconds (the interval buckets are aligned to it)')
        jobs.push({
          ...base,
          kind: 'netflow',
          schedule: {type: 'continuous'},
          address,
          port,
          lan: j.lan,
          everyMs,
          exporters,
          maxHosts: j.max_hosts ?? AGENT_DEFAULTS.netflowMaxHosts,
        })
        return
      }
      case 'alerts': {
        const inline = j.rules !== undefined
        if (j.rules_file !== undefined && (inline || j.channels !== undefined || j.defaults !== undefined))
          fail(
            at(inline ? 'rules' : j.channels !== undefined ? 'channels' : 'defaults'),
            'give the rules as rules_file: PATH or inline (rules:, channels:, defaults:), not both',
          )
        if (j.rules_file === undefined && !inline) fail(at('rules_file'), 'give the alert rules as rules_file: PATH or inline as rules: [...]')
        let rules: RuleSet
        let rulesPath: string | undefined
        if (j.rules_file !== undefined) {
          rulesPath = resolve(baseDir, j.rules_file)
          if (!existsSync(rulesPath)) fail(at('rules_file'), `file ${j.rules_file} does not exist`)
          try {
            rules = loadRules(rulesPath, {env})
          } catch (e) {
            if (isNetmonError(e) && e.kind === 'input') {
              const prefix = `rules file ${rulesPath}`
              const rest = e.message.startsWith(prefix) ? e.message.slice(prefix.length).replace(/^:? /, '') : e.message
              throw invalidInput(`${formatPath(at('rules_file'))} (${j.rules_file}): ${rest}`, e.hint)
            }
            throw e
          }
        } else {
          const marker = '\u0000job'
          try {
            rules = resolveRules(
              {rules: j.rules, ...(j.channels ? {channels: j.channels} : {}), ...(j.defaults ? {defaults: j.defaults} : {})},
              {env, baseDir, what: marker},
            )
          } catch (e) {
            if (isNetmonError(e) && e.kind === 'input' && e.message.startsWith(marker))
              throw invalidInput(`${formatPath(at())}${e.message.slice(marker.length).replace(/^ /, '.')}`, e.hint)
            throw e
          }
          rules = {...rules, path: `${formatPath(at())} (inline)`}
        }
        jobs.push({
          ...base,
          kind: 'alerts',
          ...sched(j),
          ...(rulesPath ? {rulesPath} : {}),
          rules,
          rulesFingerprint: JSON.stringify({rules: rules.rules, channels: [...rules.channels.values()]}),
        })
        return
      }
    }
  })
  return {
    ...(opts.path ? {path: resolve(opts.path)} : {}),
    store: c.store?.db ? {db: /^[a-z][a-z0-9+.-]*:/i.test(c.store.db) ? c.store.db : resolve(baseDir, c.store.db)} : {},
    heartbeatMs: c.heartbeat ?? AGENT_DEFAULTS.heartbeatMs,
    shutdownTimeoutMs: c.shutdown_timeout ?? AGENT_DEFAULTS.shutdownTimeoutMs,
    jobs,
  }
}

function isCidr(text: string): boolean {
  const m = /^([0-9a-f:.]+)\/(\d{1,3})$/i.exec(text.trim())
  if (!m) return false
  const len = Number(m[2])
  if (m[1]!.includes(':')) return len <= 128
  const parts = m[1]!.split('.')
  return parts.length === 4 && parts.every(p => /^\d{1,3}$/.test(p) && Number(p) <= 255) && len <= 32
}

/** Reads, validates and resolves an agent config file. */
export function loadAgentConfig(path: string, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const raw = readConfigFile(path)
  return resolveAgentConfig(raw, {env, baseDir: dirname(resolve(path)), path})
}

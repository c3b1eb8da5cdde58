/**
 * The alert rules file (issue 16, docs/ALERTS.md): YAML or JSON, validated with zod, every error
 * naming its path (`rules[3].for: expected a duration such as 5m`). Loading follows the bridge
 * config (src/core/bridge/config.ts): one parser for YAML and JSON, secrets named by environment
 * variable or file, never written in the file.
 *
 *   channels: {NAME: {type: log|webhook|exec|mqtt|email, …}}   (log is always there)
 *   defaults: {channels, repeat_interval, severity}
 *   rules: [{name, kind, scope, <thresholds>, for, keep_firing_for, repeat_interval, severity,
 *            labels, channels, message}]
 */
import {readFileSync, statSync} from 'node:fs'
import {dirname, extname, resolve} from 'node:path'
import {z} from 'zod'
import {parseRate} from '../bandwidth/counters.js'
import {parseConfigText} from '../bridge/config.js'
import {normalizeMac, tryNormalizeMac} from '../devices/mac.js'
import {invalidInput, NetmonError} from '../errors.js'
import {parseDuration} from '../format/time.js'
import {registerSecret} from '../secrets.js'
import {formatPath} from '../validate.js'

export const KINDS = [
  'device_new',
  'device_offline',
  'device_ip_changed',
  'bandwidth_rate',
  'bandwidth_usage',
  'latency_quality',
  'meter_down',
  'bridge_backlog',
  'broker_disconnected',
  'source_failing',
  'interface_errors',
] as const
export type Kind = (typeof KINDS)[number]
/** Kinds driven by the store's history (an event cursor per rule) rather than by a condition now. */
export const EVENT_KINDS: ReadonlySet<Kind> = new Set(['device_new', 'device_ip_changed'])

export const SEVERITIES = ['info', 'warning', 'critical'] as const
export type Severity = (typeof SEVERITIES)[number]
export const GRADES = ['excellent', 'good', 'fair', 'poor', 'bad'] as const
export type Grade = (typeof GRADES)[number]

// ---------- schema pieces ----------

const DURATION_HINT = 'expected a duration such as 5m'

/** A duration: "30s", "5m", "1h30m"; a bare number is seconds. */
const duration = (min = 0) =>
  z.unknown().transform((v, ctx) => {
    let ms: number
    if (typeof v === 'number' && Number.isFinite(v)) ms = Math.round(v * 1000)
    else if (typeof v === 'string') {
      try {
        ms = parseDuration(v)
      } catch {
        ctx.addIssue({code: 'custom', message: `${DURATION_HINT}, got "${v}"`})
        return z.NEVER
      }
    } else {
      ctx.addIssue({code: 'custom', message: `${DURATION_HINT}, got ${v === null ? 'null' : typeof v}`})
      return z.NEVER
    }
    if (ms < min || ms > 366 * 86_400_000) {
      ctx.addIssue({code: 'custom', message: `${DURATION_HINT} between ${min}ms and 366d, got ${String(v)}`})
      return z.NEVER
    }
    return ms
  })

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
}

/** `10GB` (SI: 10^9 bytes), `1.5 GiB` (2^30), `500MB`, or a plain number of bytes. */
export function parseBytes(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kmgt]i?b|b)?\s*$/i.exec(text)
  if (!m) return null
  const v = Number(m[1]) * BYTE_UNITS[(m[2] ?? '').toLowerCase()]!
  return Number.isFinite(v) && v > 0 ? Math.round(v) : null
}

const bytes = z.unknown().transform((v, ctx) => {
  const n = typeof v === 'number' && v > 0 ? Math.round(v) : typeof v === 'string' ? parseBytes(v) : null
  if (n === null) {
    ctx.addIssue({code: 'custom', message: `expected a size in bytes such as 10GB, 500MB or 2GiB, got ${JSON.stringify(v) ?? 'nothing'}`})
    return z.NEVER
  }
  return n
})

const rate = z.unknown().transform((v, ctx) => {
  const n = typeof v === 'number' && v > 0 ? Math.round(v) : typeof v === 'string' ? parseRate(v) : null
  if (n === null) {
    ctx.addIssue({code: 'custom', message: `expected a rate in bits/s such as 100Mbps, 10M or 1G, got ${JSON.stringify(v) ?? 'nothing'}`})
    return z.NEVER
  }
  return n
})

const positive = (what: string) => z.number({message: `expected ${what}`}).positive({message: `expected ${what}`})
const count = z.number({message: 'expected a whole number ≥ 1'}).int({message: 'expected a whole number ≥ 1'}).min(1, {message: 'expected a whole number ≥ 1'})
const nameText = z
  .string({message: 'expected a rule name'})
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {message: 'expected 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit'})
const channelName = z
  .string({message: 'expected a channel name'})
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {message: 'expected a channel name (letters, digits, ".", "_", "-")'})
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {message: 'expected the NAME of an environment variable (letters, digits, _)'})
/** `ops@example.net` or `Netmon <netmon@example.net>`: one address, no list, no line breaks. */
const mailAddress = z
  .string({message: 'expected an e-mail address such as ops@example.net'})
  .regex(/^(?:[^<>\r\n@,;]*<[^\s<>@,;]+@[^\s<>@,;]+>|[^\s<>@,;]+@[^\s<>@,;]+)$/, {
    message: 'expected one e-mail address such as ops@example.net or "Name <ops@example.net>"',
  })
const direction = z.enum(['up', 'down', 'total'], {message: 'expected up, down or total'})

/** What a rule applies to: `all`, or exactly one of these keys. */
const scopeObject = z.strictObject({
  mac: z
    .string()
    .refine(s => Boolean(tryNormalizeMac(s)), {message: 'expected a MAC address like AA:BB:CC:DD:EE:01'})
    .transform(s => normalizeMac(s))
    .optional(),
  name: z.string().min(1, {message: 'expected a device name'}).optional(),
  vendor: z.string().min(1, {message: 'expected part of a vendor name'}).optional(),
  known: z.boolean({message: 'expected true (known devices) or false (unknown devices)'}).optional(),
  meter: z.string().min(1, {message: 'expected a meter id'}).optional(),
  target: z.string().min(1, {message: 'expected a latency target (host or address)'}).optional(),
})
const scope = z
  .union([z.literal('all'), scopeObject], {message: 'expected all, or one of {mac}, {name}, {vendor}, {known}, {meter}, {target}'})
  .superRefine((s, ctx) => {
    if (s === 'all') return
    const keys = Object.keys(s).filter(k => (s as Record<string, unknown>)[k] !== undefined)
    if (keys.length !== 1)
      ctx.addIssue({
        code: 'custom',
        message: `expected exactly one of mac, name, vendor, known, meter, target, got ${keys.length === 0 ? 'none' : keys.join(', ')}`,
      })
  })
export type Scope = 'all' | {mac?: string; name?: string; vendor?: string; known?: boolean; meter?: string; target?: string}

/** Template variables a message may use ({{device.name}}, {{value}} …; labels.KEY too). */
export const TEMPLATE_VARS = [
  'rule',
  'kind',
  'severity',
  'state',
  'subject',
  'value',
  'threshold',
  'device.name',
  'device.mac',
  'device.ip',
  'device.hostname',
  'device.vendor',
  'target',
  'meter',
] as const
const TEMPLATE_RE = /\{\{\s*([^{}]*?)\s*\}\}/g
const message = z
  .string({message: 'expected a message template such as "{{device.name}} used {{value}}"'})
  .max(2000)
  .superRefine((s, ctx) => {
    for (const m of s.matchAll(TEMPLATE_RE)) {
      const v = m[1]!
      if (!(TEMPLATE_VARS as readonly string[]).includes(v) && !/^labels\.[A-Za-z0-9_.-]+$/.test(v))
        ctx.addIssue({code: 'custom', message: `unknown template variable {{${v}}} (use ${TEMPLATE_VARS.join(', ')} or labels.KEY)`})
    }
    const rest = s.replace(TEMPLATE_RE, '')
    if (rest.includes('{{') || rest.includes('}}')) ctx.addIssue({code: 'custom', message: 'unbalanced {{ }} in the template'})
  })

const common = {
  name: nameText,
  scope: scope.optional(),
  for: duration().optional(),
  keep_firing_for: duration().optional(),
  repeat_interval: duration(60_000).optional(),
  severity: z.enum(SEVERITIES, {message: `expected one of ${SEVERITIES.join(', ')}`}).optional(),
  labels: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/, {message: 'expected a label name'}), z.string({message: 'expected a text label value'}))
    .optional(),
  channels: z.array(channelName, {message: 'expected a list of channel names'}).optional(),
  message: message.optional(),
}

const ruleVariants = [
  z.strictObject({...common, kind: z.literal('device_new')}),
  z.strictObject({...common, kind: z.literal('device_offline'), not_seen_for: duration(1000)}),
  z.strictObject({...common, kind: z.literal('device_ip_changed')}),
  z.strictObject({...common, kind: z.literal('bandwidth_rate'), above: rate, direction: direction.optional()}),
  z.strictObject({
    ...common,
    kind: z.literal('bandwidth_usage'),
    above: bytes,
    window: z.enum(['day', 'month', 'rolling_24h'], {message: 'expected day, month or rolling_24h'}),
    direction: direction.optional(),
  }),
  z
    .strictObject({
      ...common,
      kind: z.literal('latency_quality'),
      grade_at_or_below: z.enum(GRADES, {message: `expected one of ${GRADES.join(', ')}`}).optional(),
      loss_above: z
        .number({message: 'expected a loss in percent (0-100)'})
        .min(0, {message: 'expected 0-100'})
        .max(100, {message: 'expected 0-100'})
        .optional(),
      rtt_above: duration(1).optional(),
      jitter_above: duration(1).optional(),
    })
    .refine(r => r.grade_at_or_below !== undefined || r.loss_above !== undefined || r.rtt_above !== undefined || r.jitter_above !== undefined, {
      message: 'expected at least one of grade_at_or_below, loss_above, rtt_above, jitter_above',
    }),
  z
    .strictObject({...common, kind: z.literal('meter_down'), consecutive_failures: count.optional(), no_reading_for: duration(1000).optional()})
    .refine(r => r.consecutive_failures !== undefined || r.no_reading_for !== undefined, {message: 'expected consecutive_failures or no_reading_for'}),
  z
    .strictObject({...common, kind: z.literal('bridge_backlog'), depth_above: count.optional(), age_above: duration(1000).optional()})
    .refine(r => r.depth_above !== undefined || r.age_above !== undefined, {message: 'expected depth_above or age_above'}),
  z.strictObject({...common, kind: z.literal('broker_disconnected')}),
  z.strictObject({...common, kind: z.literal('source_failing'), source: z.string().min(1).optional(), consecutive_failures: count}),
  z.strictObject({
    ...common,
    kind: z.literal('interface_errors'),
    interface: z.string().min(1).optional(),
    errors_above: positive('a number of errors/drops per interval'),
    per: duration(1000).optional(),
  }),
] as const

const kindCheck = z.object({kind: z.enum(KINDS, {message: `expected one of ${KINDS.join(', ')}`})}, {message: 'expected a rule: a mapping with name and kind'})

/** An issue's path and message, with an unknown key named in the path (`rules[0].windw: unknown field`). */
function located(i: z.core.$ZodIssue): {path: (string | number)[]; message: string} {
  const path = i.path as (string | number)[]
  if (i.code === 'unrecognized_keys')
    return {path: [...path, i.keys[0]!], message: `unknown field${i.keys.length > 1 ? ` (also ${i.keys.slice(1).join(', ')})` : ''}`}
  return {path, message: i.message}
}

/** Picks the variant by kind first, so errors name the kind's own fields (not a union's "invalid input"). */
const rule = z.unknown().transform((v, ctx): Record<string, unknown> => {
  const k = kindCheck.safeParse(v)
  if (!k.success) {
    for (const i of k.error.issues) ctx.addIssue({code: 'custom', message: i.message, path: i.path as (string | number)[]})
    return z.NEVER
  }
  const variant = ruleVariants[KINDS.indexOf(k.data.kind)]!
  const r = variant.safeParse(v)
  if (!r.success) {
    for (const i of r.error.issues) ctx.addIssue({code: 'custom', ...located(i)})
    return z.NEVER
  }
  return r.data as Record<string, unknown>
})

const backoff = z.strictObject({min: duration(1).optional(), max: duration(1).optional()})
const delivery = {max_attempts: count.optional(), backoff: backoff.optional(), timeout: duration(10).optional()}
const channel = z.discriminatedUnion(
  'type',
  [
    z.strictObject({type: z.literal('log'), format: z.enum(['text', 'json'], {message: 'expected text or json'}).optional()}),
    z.strictObject({
      type: z.literal('webhook'),
      url: z.string().refine(u => /^https?:\/\/[^\s]+$/i.test(u), {message: 'expected an http:// or https:// URL'}),
      secret_env: envName.optional(),
      secret_file: z.string().min(1).optional(),
      headers: z.record(z.string(), z.string()).optional(),
      ...delivery,
    }),
    z.strictObject({
      type: z.literal('exec'),
      command: z.array(z.string().min(1), {message: 'expected the command as a list: [program, arg, …]'}).min(1, {message: 'expected [program, arg, …]'}),
      ...delivery,
    }),
    z.strictObject({
      type: z.literal('mqtt'),
      url: z
        .string()
        .refine(u => /^(mqtts?|wss?|tcp|ssl):\/\/[^\s]+$/i.test(u), {message: 'expected an mqtt://, mqtts://, ws:// or wss:// URL'})
        .refine(u => !/\/\/[^/@]*:[^/@]*@/.test(u), {message: 'must not contain a password: name an environment variable in password_env'}),
      topic: z
        .string({message: 'expected a topic such as netmon/alerts/{rule}'})
        .min(1, {message: 'expected a topic'})
        .refine(t => !/[#+]/.test(t), {message: 'a topic to publish to must not contain + or #'}),
      username: z.string().min(1).optional(),
      password_env: envName.optional(),
      client_id: z.string().min(1).max(200).optional(),
      ...delivery,
    }),
    z.strictObject({
      type: z.literal('email'),
      host: z.string({message: 'expected the SMTP server host name or address'}).regex(/^[A-Za-z0-9.:_-]+$/, {message: 'expected a host name or address'}),
      port: z
        .number({message: 'expected a TCP port (1-65535)'})
        .int({message: 'expected a TCP port (1-65535)'})
        .min(1, {message: 'expected a TCP port (1-65535)'})
        .max(65535, {message: 'expected a TCP port (1-65535)'})
        .optional(),
      secure: z.boolean({message: 'expected true (TLS from the start, SMTPS) or false (plain, then STARTTLS)'}).optional(),
      require_tls: z.boolean({message: 'expected true (refuse to send without STARTTLS) or false'}).optional(),
      ca_file: z.string().min(1).optional(),
      username: z.string().min(1).optional(),
      password_env: envName.optional(),
      password_file: z.string().min(1).optional(),
      from: mailAddress,
      to: z.array(mailAddress, {message: 'expected a list of addresses: [ops@example.net, …]'}).min(1, {message: 'expected at least one address'}),
      subject_prefix: z
        .string()
        .max(100)
        .regex(/^[^\r\n]*$/, {message: 'expected one line'})
        .optional(),
      ...delivery,
    }),
  ],
  {message: 'expected a channel with type log, webhook, exec, mqtt or email'},
)

const fileSchema = z.strictObject(
  {
    channels: z.record(channelName, channel).optional(),
    defaults: z
      .strictObject({
        channels: z.array(channelName).optional(),
        repeat_interval: duration(60_000).optional(),
        severity: z.enum(SEVERITIES, {message: `expected one of ${SEVERITIES.join(', ')}`}).optional(),
      })
      .optional(),
    rules: z.array(rule, {message: 'expected a list of rules'}),
  },
  {message: 'expected a mapping with rules (and optionally channels, defaults)'},
)

// ---------- resolved types ----------

export interface RuleBase {
  name: string
  kind: Kind
  scope: Scope
  forMs: number
  keepFiringForMs: number
  /** 0: notify once per transition only. */
  repeatMs: number
  severity: Severity
  labels: Record<string, string>
  channels: string[]
  message: string
  /** Kind-specific thresholds, as validated (durations in ms, bytes, bits/s). */
  params: Record<string, unknown>
}
export type Rule = RuleBase

export interface Backoff {
  minMs: number
  maxMs: number
}
export type Channel =
  | {name: string; type: 'log'; format: 'text' | 'json'}
  | {name: string; type: 'webhook'; url: string; secret?: string; headers: Record<string, string>; maxAttempts: number; backoff: Backoff; timeoutMs: number}
  | {name: string; type: 'exec'; command: string[]; maxAttempts: number; backoff: Backoff; timeoutMs: number}
  | {
      name: string
      type: 'mqtt'
      url: string
      /** `{rule}`, `{severity}`, `{state}` are replaced per notification. */
      topic: string
      username?: string
      password?: string
      clientId?: string
      maxAttempts: number
      backoff: Backoff
      timeoutMs: number
    }
  | {
      name: string
      type: 'email'
      host: string
      port: number
      /** TLS from the first byte (SMTPS, usually port 465). */
      secure: boolean
      /** Without `secure`: STARTTLS must succeed, else the attempt fails (never sent in clear). */
      requireTls: boolean
      /** PEM CA certificates trusted for this server (a private CA or a self-signed certificate). */
      ca?: string
      username?: string
      password?: string
      from: string
      to: string[]
      subjectPrefix: string
      maxAttempts: number
      backoff: Backoff
      timeoutMs: number
    }

export interface RuleSet {
  rules: Rule[]
  channels: Map<string, Channel>
  path?: string
}

const DEFAULT_MESSAGES: Record<Kind, string> = {
  device_new: 'new device {{subject}} ({{device.name}})',
  device_offline: '{{device.name}} not seen for {{value}}',
  device_ip_changed: '{{device.name}} changed address: {{value}}',
  bandwidth_rate: '{{device.name}} is at {{value}} (above {{threshold}})',
  bandwidth_usage: '{{device.name}} used {{value}} (above {{threshold}})',
  latency_quality: 'latency to {{target}}: {{value}}',
  meter_down: 'meter {{meter}} is down: {{value}}',
  bridge_backlog: 'bridge outbox backlog: {{value}}',
  broker_disconnected: 'the bridge lost its MQTT broker',
  source_failing: 'source {{subject}} failing: {{value}}',
  interface_errors: 'interface {{subject}}: {{value}}',
}

/** Which scope keys make sense for which kinds. */
function scopeAllowed(kind: Kind, key: string): boolean {
  if (kind.startsWith('device_') || kind.startsWith('bandwidth_')) return ['mac', 'name', 'vendor', 'known'].includes(key)
  if (kind === 'latency_quality') return key === 'target' || key === 'mac' || key === 'name'
  if (kind === 'meter_down' || kind === 'bridge_backlog' || kind === 'broker_disconnected') return key === 'meter'
  if (kind === 'interface_errors') return ['mac', 'name', 'vendor', 'known'].includes(key)
  // source_failing: narrowed by its own `source` field
  return false
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv
  baseDir?: string
  what?: string
}

const fail = (path: PropertyKey[], message: string, what: string, hint?: string): never => {
  const p = formatPath(path)
  throw invalidInput(`${what}${p ? ` ${p}` : ''}: ${message}`, hint)
}

/** Validates a parsed rules document. Throws NetmonError(input) naming the path. */
export function resolveRules(raw: unknown, opts: LoadOptions = {}): RuleSet {
  const env = opts.env ?? process.env
  const what = opts.what ?? 'rules file'
  const r = fileSchema.safeParse(raw)
  if (!r.success) {
    const issue = located(r.error.issues[0]!)
    fail(issue.path, issue.message, what)
  }
  const c = r.data!
  const channels = new Map<string, Channel>([['log', {name: 'log', type: 'log', format: 'text'}]])
  for (const [name, ch] of Object.entries(c.channels ?? {})) {
    const path = ['channels', name]
    if (ch.type === 'log') {
      channels.set(name, {name, type: 'log', format: ch.format ?? 'text'})
      continue
    }
    const bo: Backoff = {minMs: ch.backoff?.min ?? 1000, maxMs: ch.backoff?.max ?? 300_000}
    if (bo.maxMs < bo.minMs) fail([...path, 'backoff', 'max'], 'must not be below backoff.min', what)
    const common = {maxAttempts: ch.max_attempts ?? 10, backoff: bo, timeoutMs: ch.timeout ?? 10_000}
    if (ch.type === 'webhook') {
      if (ch.secret_env && ch.secret_file) fail(path, 'give secret_env or secret_file, not both', what)
      let secret: string | undefined
      if (ch.secret_env) {
        secret = env[ch.secret_env]
        if (!secret) fail([...path, 'secret_env'], `environment variable ${ch.secret_env} is not set`, what, `export ${ch.secret_env}=…`)
      } else if (ch.secret_file) secret = readSecretFile(ch.secret_file, [...path, 'secret_file'], opts.baseDir, what)
      if (secret) registerSecret(secret)
      channels.set(name, {name, type: 'webhook', url: ch.url, secret, headers: ch.headers ?? {}, ...common})
    } else if (ch.type === 'mqtt') {
      let password: string | undefined
      if (ch.password_env) {
        password = env[ch.password_env]
        if (!password) fail([...path, 'password_env'], `environment variable ${ch.password_env} is not set`, what, `export ${ch.password_env}=…`)
        registerSecret(password!)
      }
      const bad = ch.topic.match(/\{([^}]*)\}/g)?.find(t => !['{rule}', '{severity}', '{state}'].includes(t))
      if (bad) fail([...path, 'topic'], `unknown placeholder ${bad} (use {rule}, {severity}, {state})`, what)
      channels.set(name, {name, type: 'mqtt', url: ch.url, topic: ch.topic, username: ch.username, password, clientId: ch.client_id, ...common})
    } else if (ch.type === 'email') {
      channels.set(name, resolveEmail(name, ch, common, env, opts.baseDir, what))
    } else {
      channels.set(name, {name, type: 'exec', command: resolveCommand(ch.command, opts.baseDir), ...common})
    }
  }
  const seen = new Map<string, number>()
  const rules: Rule[] = []
  const d = c.defaults ?? {}
  for (const ch of d.channels ?? []) if (!channels.has(ch)) fail(['defaults', 'channels'], `no channel named "${ch}"`, what, 'define it under channels:')
  const list = c.rules as Record<string, unknown>[]
  list.forEach((x, i) => {
    const path = ['rules', i]
    const name = x.name as string
    if (seen.has(name)) fail([...path, 'name'], `duplicate rule name "${name}" (also rules[${seen.get(name)}])`, what)
    seen.set(name, i)
    const kind = x.kind as Kind
    const sc = (x.scope as Scope | undefined) ?? 'all'
    if (sc !== 'all') {
      const key = Object.keys(sc).find(k => (sc as Record<string, unknown>)[k] !== undefined)!
      if (!scopeAllowed(kind, key)) fail([...path, 'scope', key], `a ${kind} rule cannot be scoped by ${key}`, what)
    }
    const chans = (x.channels as string[] | undefined) ?? d.channels ?? ['log']
    chans.forEach((ch, j) => {
      if (!channels.has(ch)) fail([...path, 'channels', j], `no channel named "${ch}"`, what, 'define it under channels: (log is built in)')
    })
    if (EVENT_KINDS.has(kind) && x.for !== undefined) fail([...path, 'for'], `${kind} fires on the event itself: for does not apply`, what)
    const {name: _n, kind: _k, scope: _s, for: forMs, keep_firing_for, repeat_interval, severity, labels, channels: _c, message: msg, ...params} = x
    rules.push({
      name,
      kind,
      scope: sc,
      forMs: (forMs as number | undefined) ?? 0,
      keepFiringForMs: (keep_firing_for as number | undefined) ?? 0,
      repeatMs: (repeat_interval as number | undefined) ?? d.repeat_interval ?? 0,
      severity: (severity as Severity | undefined) ?? d.severity ?? 'warning',
      labels: (labels as Record<string, string> | undefined) ?? {},
      channels: [...new Set(chans)],
      message: (msg as string | undefined) ?? DEFAULT_MESSAGES[kind],
      params,
    })
  })
  return {rules, channels, path: opts.what}
}

const LOOPBACK_HOST = /^(?:localhost|127(?:\.\d{1,3}){3}|::1|\[::1\])$/i

function readSecretFile(file: string, path: PropertyKey[], baseDir: string | undefined, what: string): string {
  let text = ''
  try {
    text = readFileSync(resolve(baseDir ?? process.cwd(), file), 'utf8').trim()
  } catch (e) {
    fail(path, `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? e})`, what)
  }
  if (!text) fail(path, `${file} is empty`, what)
  return text
}

type EmailInput = Extract<z.infer<typeof channel>, {type: 'email'}>

/**
 * The email channel: the password only from an environment variable or a file (registered as a
 * secret: redacted from every message), and never over a connection that may stay unencrypted
 * unless the server is on this host.
 */
function resolveEmail(
  name: string,
  ch: EmailInput,
  common: {maxAttempts: number; backoff: Backoff; timeoutMs: number},
  env: NodeJS.ProcessEnv,
  baseDir: string | undefined,
  what: string,
): Channel {
  const path = ['channels', name]
  if (ch.password_env && ch.password_file) fail(path, 'give password_env or password_file, not both', what)
  const hasPassword = ch.password_env !== undefined || ch.password_file !== undefined
  if (ch.username && !hasPassword) fail([...path, 'username'], 'needs password_env or password_file', what)
  if (hasPassword && !ch.username) fail([...path, 'username'], 'expected the user name that goes with the password', what)
  const secure = ch.secure ?? false
  const requireTls = ch.require_tls ?? !secure
  if (hasPassword && !secure && !requireTls && !LOOPBACK_HOST.test(ch.host))
    fail([...path, 'require_tls'], 'a password must not go over a connection that may stay unencrypted: use require_tls: true or secure: true', what)
  let password: string | undefined
  if (ch.password_env) {
    password = env[ch.password_env]
    if (!password) fail([...path, 'password_env'], `environment variable ${ch.password_env} is not set`, what, `export ${ch.password_env}=…`)
  } else if (ch.password_file) password = readSecretFile(ch.password_file, [...path, 'password_file'], baseDir, what)
  if (password) {
    registerSecret(password)
    // AUTH LOGIN sends base64(password), AUTH PLAIN base64(\0user\0password): a server that echoes
    // the line it refused must not put them in an error either.
    registerSecret(Buffer.from(password).toString('base64'))
    registerSecret(Buffer.from(`\0${ch.username}\0${password}`).toString('base64'))
  }
  let ca: string | undefined
  if (ch.ca_file) {
    ca = readSecretFile(ch.ca_file, [...path, 'ca_file'], baseDir, what)
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) fail([...path, 'ca_file'], `${ch.ca_file} is not a PEM certificate`, what)
  }
  return {
    name,
    type: 'email',
    host: ch.host,
    port: ch.port ?? (secure ? 465 : 587),
    secure,
    requireTls,
    ...(ca ? {ca} : {}),
    ...(ch.username ? {username: ch.username} : {}),
    ...(password ? {password} : {}),
    from: ch.from,
    to: ch.to,
    subjectPrefix: ch.subject_prefix ?? '[netmon]',
    ...common,
  }
}

function resolveCommand(cmd: string[], baseDir?: string): string[] {
  const [prog, ...args] = cmd
  // A relative path with a slash is relative to the rules file; a bare name is looked up in PATH.
  return [prog!.includes('/') && baseDir ? resolve(baseDir, prog!) : prog!, ...args]
}

/** Reads and validates a rules file (YAML, or JSON by extension). */
export function loadRules(path: string, opts: Omit<LoadOptions, 'baseDir' | 'what'> = {}): RuleSet {
  const abs = resolve(path)
  let text: string
  try {
    if (statSync(abs).isDirectory()) throw invalidInput(`rules file ${path} is a directory`, 'give the path of a YAML or JSON file')
    text = readFileSync(abs, 'utf8')
  } catch (e) {
    if (e instanceof NetmonError) throw e
    const code = (e as NodeJS.ErrnoException).code
    throw invalidInput(`cannot read the rules file ${path}${code === 'ENOENT' ? ': no such file' : code ? ` (${code})` : ''}`, 'check the --rules path')
  }
  const raw = parseConfigText(text, extname(abs).toLowerCase() === '.json' ? 'json' : 'yaml', `rules file ${path}`)
  return resolveRules(raw, {...opts, baseDir: dirname(abs), what: `rules file ${path}`})
}

/** `{{device.name}} used {{value}}`: plain substitution from a flat map, nothing evaluated. */
export function renderTemplate(template: string, vars: Record<string, unknown>): string {
  return template.replace(TEMPLATE_RE, (_, k: string) => {
    const v = Object.hasOwn(vars, k) ? vars[k] : undefined
    return v === undefined || v === null ? '' : String(v)
  })
}

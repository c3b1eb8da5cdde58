/**
 * The bridge config (docs/BRIDGE.md, issue 8): YAML or JSON, validated with zod, every error naming
 * its path (`meters[3].port: expected 1-65535`). Secrets are never in the file: it names the
 * environment variables that hold them (`password_env`, `token_env`), and their values are
 * registered with src/core/secrets.ts as soon as they are read, so they are scrubbed from every log
 * line, error and status output.
 */
import {existsSync, readFileSync, statSync} from 'node:fs'
import {hostname} from 'node:os'
import {dirname, extname, resolve} from 'node:path'
import YAML from 'yaml'
import {z} from 'zod'
import {SC_AUTHENTICATED_ENCRYPTION, SC_AUTHENTICATION, SC_ENCRYPTION} from '../dlms/codec/security.js'
import {formatObis, tryParseObis} from '../dlms/codec/obis.js'
import {loadKeySync, parseSystemTitle, SECURITY_POLICIES, type SecurityPolicyName} from '../dlms/keys.js'
import type {HlsGmacSecurity} from '../dlms/security-context.js'
import {invalidInput, NetmonError} from '../errors.js'
import {parseDuration} from '../format/time.js'
import {registerSecret} from '../secrets.js'
import {formatPath, validate} from '../validate.js'

export const FORMATS = ['thingsboard-gateway', 'thingsboard-device', 'plain'] as const
export type PublishFormat = (typeof FORMATS)[number]

// ---------- schema pieces ----------

/** A duration: "500ms", "3s", "1h30m", or a number of seconds. */
export const duration = (min: number, max: number) =>
  z.unknown().transform((v, ctx) => {
    let ms: number
    if (typeof v === 'number') ms = Math.round(v * 1000)
    else if (typeof v !== 'string') {
      ctx.addIssue({code: 'custom', message: `expected a duration such as 3s or 500ms, got ${v === null ? 'null' : typeof v}`})
      return z.NEVER
    } else {
      try {
        ms = parseDuration(v)
      } catch {
        ctx.addIssue({code: 'custom', message: `invalid duration "${v}" (use e.g. 500ms, 3s, 10m, 1h)`})
        return z.NEVER
      }
    }
    if (!Number.isFinite(ms) || ms < min || ms > max) {
      ctx.addIssue({code: 'custom', message: `expected a duration from ${fmtMs(min)} to ${fmtMs(max)}, got ${typeof v === 'number' ? `${v} s` : v}`})
      return z.NEVER
    }
    return ms
  })

export function fmtMs(ms: number): string {
  if (ms % 86_400_000 === 0 && ms >= 86_400_000) return `${ms / 86_400_000}d`
  if (ms % 3_600_000 === 0 && ms >= 3_600_000) return `${ms / 3_600_000}h`
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`
  if (ms % 1000 === 0 && ms >= 1000) return `${ms / 1000}s`
  return `${ms}ms`
}

export const int = (min: number, max: number, what = `${min}-${max}`) =>
  z
    .number({message: `expected an integer ${what}`})
    .int({message: `expected an integer ${what}`})
    .min(min, {message: `expected ${what}`})
    .max(max, {message: `expected ${what}`})

const port = int(1, 65535)
export const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {message: 'expected the NAME of an environment variable (letters, digits, _)'})
export const idText = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {message: 'expected 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit'})
const obisText = z.string().refine(s => tryParseObis(s) !== undefined, {message: 'expected an OBIS code like 1.0.1.8.0.255 or 1-0:1.8.0*255'})
const telemetryKey = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/, {message: 'expected a telemetry key: letters, digits, "_", ".", "-", starting with a letter or "_"'})

/** Units the bridge can convert a register's value to (from the meter's unit with a k/M prefix). */
export const CONVERTIBLE = [
  'Wh',
  'kWh',
  'MWh',
  'W',
  'kW',
  'MW',
  'varh',
  'kvarh',
  'Mvarh',
  'var',
  'kvar',
  'Mvar',
  'VAh',
  'kVAh',
  'VA',
  'kVA',
  'V',
  'kV',
  'A',
  'Hz',
] as const

const obisItem = z.strictObject({
  obis: obisText,
  key: telemetryKey,
  /** COSEM class: 1 data, 3 register (default), 4 extended register, 8 clock. */
  class: z
    .union([z.literal(1), z.literal(3), z.literal(4), z.literal(8)], {message: 'expected class 1 (data), 3 (register), 4 (extended register) or 8 (clock)'})
    .optional(),
  /** Convert the register's value to this unit (e.g. Wh on the wire → kWh). */
  unit: z.enum(CONVERTIBLE, {message: `expected one of ${CONVERTIBLE.join(', ')}`}).optional(),
})

/** Either a map `{OBIS: key}` (turned into the list form, in order) or a list of `{obis, key, class?, unit?}`. */
const obisList = z.preprocess(
  v => (v && typeof v === 'object' && !Array.isArray(v) ? Object.entries(v).map(([obis, key]) => ({obis, key})) : v),
  z.array(obisItem, {message: 'expected a map {OBIS: telemetry_key} or a list of {obis, key}'}).min(1, {message: 'expected at least one OBIS code'}),
)

const auth = z.strictObject({
  mechanism: z.enum(['none', 'low', 'hls-gmac'], {message: 'expected none, low (LLS password) or hls-gmac (HLS mechanism 5, security suite 0)'}),
  password_env: envName.optional(),
  // HLS-GMAC (docs/BRIDGE.md "High-level security"): keys only from env variables or files, like `meters read`.
  system_title: z.string().min(1).optional(),
  meter_system_title: z.string().min(1).optional(),
  ek_env: envName.optional(),
  ek_file: z.string().min(1).optional(),
  ak_env: envName.optional(),
  ak_file: z.string().min(1).optional(),
  security: z
    .enum(Object.keys(SECURITY_POLICIES) as [SecurityPolicyName, ...SecurityPolicyName[]], {message: 'expected auth-enc, auth, enc or none'})
    .optional(),
  ciphering: z.enum(['auto', 'glo', 'general-glo'], {message: 'expected auto, glo or general-glo'}).optional(),
})

/** A load-profile job (issue 18 item 2): catch up a class-7 object's rows by capture time. */
const profileItem = z.strictObject({
  obis: obisText,
  every: duration(1000, 86_400_000).optional(),
  max_rows: int(1, 100_000).optional(),
  backfill: duration(0, 3650 * 86_400_000).optional(),
  mode: z.enum(['auto', 'range', 'entry', 'full'], {message: 'expected auto, range, entry or full'}).optional(),
  columns: z.record(obisText, telemetryKey).optional(),
})

const backoff = z.strictObject({
  min: duration(10, 3_600_000).optional(),
  max: duration(10, 86_400_000).optional(),
})

const hostText = z
  .string({error: iss => (iss.input === undefined ? "missing: the meter's host name or address" : 'expected a host name or address')})
  .min(1, {message: 'expected a host name or address'})

const meterCommon = {
  // A meter's own host wins; defaults.host serves fleets behind one gateway told apart by port or server address.
  host: hostText.optional(),
  port: port.optional(),
  framing: z.enum(['wrapper', 'hdlc'], {message: 'expected wrapper or hdlc'}).optional(),
  client_address: int(0, 0x7f).optional(),
  server_address: int(0, 0x3fff).optional(),
  physical_address: int(0, 0x3fff).optional(),
  // HDLC server address size on the wire; default: the smallest that fits (1 without a physical address).
  address_size: z.union([z.literal(1), z.literal(2), z.literal(4)], {message: 'expected 1, 2 or 4'}).optional(),
  auth: auth.optional(),
  poll_interval: duration(100, 86_400_000).optional(),
  timeout: duration(50, 600_000).optional(),
  obis: obisList.optional(),
  profiles: z.array(profileItem, {message: 'expected a list of {obis, every, max_rows}'}).optional(),
  reconnect: backoff.optional(),
  // Consecutive authentication failures (association rejected for the password) before the meter is
  // parked in state auth-failed until a reload or restart; real meters lock a client out. 0 = never.
  auth_failure_limit: int(0, 1000).optional(),
  // ThingsBoard device profile, sent as "type" in the gateway connect message (thingsboard-gateway only).
  device_type: z.string().min(1, {message: 'expected a device profile name'}).max(200).optional(),
}

/** One entry of a push setup's push_object_list (class 40 attribute 2): which attribute each body element is. */
const pushObject = z.strictObject({
  class: int(1, 0xffff, 'a COSEM class id 1-65535'),
  obis: obisText,
  attribute: int(1, 127, 'an attribute index 1-127').optional(),
})
const pushObjectList = z.array(pushObject, {message: 'expected a list of {class, obis, attribute}'}).min(1, {message: 'expected at least one object'})

/** Per meter: how its DataNotifications are recognised, deciphered and mapped (docs/BRIDGE.md "Push"). */
const meterPush = z.strictObject({
  system_title: z.string().min(1).optional(),
  logical_device_name: z.string().min(1).max(64).optional(),
  ek_env: envName.optional(),
  ek_file: z.string().min(1).optional(),
  ak_env: envName.optional(),
  ak_file: z.string().min(1).optional(),
  /** Protection a push must at least have; default auth-enc with keys, none without. */
  security: z.enum(['auth-enc', 'auth', 'enc', 'none'], {message: 'expected auth-enc, auth, enc or none'}).optional(),
  object_list: pushObjectList.optional(),
  object_lists: z.record(obisText, pushObjectList).optional(),
  obis: obisList.optional(),
})

const meterSchema = z.strictObject({
  id: z.string({error: iss => (iss.input === undefined ? 'missing: a unique id for the meter' : 'expected text')}).pipe(idText),
  name: z.string().min(1, {message: 'expected a non-empty name'}).max(200).optional(),
  token_env: envName.optional(),
  enabled: z.boolean().optional(),
  // Downlink RPCs that change the meter (set_clock, disconnect, reconnect): per meter only, never in defaults.
  allow_write: z.boolean().optional(),
  push: meterPush.optional(),
  ...meterCommon,
})

const required = (what: string) => (iss: {input?: unknown}) => (iss.input === undefined ? `missing: ${what}` : undefined)

const schema = z.strictObject({
  mqtt: z.strictObject(
    {
      url: z
        .string()
        .refine(u => /^(mqtts?|wss?|tcp|ssl):\/\/[^\s]+$/i.test(u), {message: 'expected mqtt://, mqtts://, ws:// or wss:// URL'})
        .refine(u => !/\/\/[^/@]*:[^/@]*@/.test(u), {
          message: 'must not contain a password: put it in an environment variable and name it in mqtt.password_env',
        }),
      client_id: z.string().min(1).max(200).optional(),
      username: z.string().min(1).optional(),
      password_env: envName.optional(),
      token_env: envName.optional(),
      ca: z.string().min(1).optional(),
      cert: z.string().min(1).optional(),
      key: z.string().min(1).optional(),
      reject_unauthorized: z.boolean().optional(),
      keepalive: duration(0, 65_535_000).optional(),
      max_inflight: int(1, 65_000).optional(),
      connect_timeout: duration(100, 600_000).optional(),
      reconnect: backoff.optional(),
    },
    {error: required('the broker section, e.g. mqtt: {url: mqtt://broker:1883}')},
  ),
  publish: z
    .strictObject({
      format: z.enum(FORMATS, {message: `expected one of ${FORMATS.join(', ')}`}),
      topic: z.string().min(1).optional(),
    })
    .optional(),
  defaults: z.strictObject(meterCommon).optional(),
  meters: z.array(meterSchema, {error: iss => (iss.input === undefined ? 'missing: the list of meters to poll' : 'expected a list of meters')}).max(10_000),
  outbox: z
    .strictObject({
      max_rows: int(100, 100_000_000).optional(),
      max_age: duration(60_000, 366 * 86_400_000).optional(),
    })
    .optional(),
  store: z
    .strictObject({
      db: z.string().min(1).optional(),
      /** 0 keeps readings forever. */
      readings_retention: duration(0, 3650 * 86_400_000).optional(),
    })
    .optional(),
  metrics: z
    .strictObject({
      interval: duration(200, 86_400_000).optional(),
      heartbeat: duration(100, 600_000).optional(),
      sample_interval: duration(100, 60_000).optional(),
      interfaces: z.array(z.string().min(1)).optional(),
    })
    .optional(),
  shutdown_timeout: duration(0, 600_000).optional(),
  downlink: z
    .strictObject({
      enabled: z.boolean().optional(),
      rpc_timeout: duration(100, 600_000).optional(),
    })
    .optional(),
  push: z
    .strictObject({
      listen: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:]+):\d{1,5}$/, {message: 'expected HOST:PORT, e.g. 0.0.0.0:4059 or [::]:4059'}),
      framing: z.literal('wrapper', {message: 'expected wrapper (IEC 62056-47 over TCP)'}).optional(),
      max_connections: int(1, 100_000).optional(),
      idle_timeout: duration(1000, 86_400_000).optional(),
    })
    .optional(),
})

type RawConfig = z.infer<typeof schema>

// ---------- resolved config ----------

export interface ObisSpec {
  obis: string
  key: string
  classId: 1 | 3 | 4 | 8
  unit?: string
}

export type ProfileMode = 'range' | 'entry' | 'full'

export interface ProfileSpec {
  /** OBIS of the class-7 object. */
  obis: string
  everyMs: number
  /** Rows asked for per read (range: a window of max_rows capture periods; entry: that many entries). */
  maxRows: number
  /** How far back the first catch-up goes when the store holds no row of this profile. */
  backfillMs: number
  /** auto: range, falling back to entry, then full, when the meter refuses. */
  mode: 'auto' | ProfileMode
  /** Column OBIS → telemetry key (and the unit it converts to, from the meter's obis list). */
  columns: Record<string, {key: string; unit?: string}>
}

export interface MeterConfig {
  id: string
  name: string
  host: string
  port: number
  framing: 'wrapper' | 'hdlc'
  clientAddress: number
  serverAddress: number
  physicalAddress?: number
  addressSize?: 1 | 2 | 4
  auth:
    | {mechanism: 'none'}
    | {mechanism: 'low'; password: string; passwordEnv: string}
    /** HLS-GMAC: keys read at start (env/file, registered as secrets); the counter lives in the store (migration 013). */
    | {
        mechanism: 'hls-gmac'
        security: HlsGmacSecurity /** Where the keys came from ($VAR or a path), for `bridge check`. */
        keysFrom: {ek: string; ak: string}
      }
  pollIntervalMs: number
  timeoutMs: number
  obis: ObisSpec[]
  /** Load-profile catch-up jobs (may be the only work when obis is empty). */
  profiles?: ProfileSpec[]
  reconnect: {minMs: number; maxMs: number}
  /** Consecutive authentication failures before the worker parks in auth-failed (0 = retry forever). */
  authFailureLimit: number
  /** thingsboard-device: the device access token (from token_env). */
  token?: string
  /** The downlink may run RPCs that change the meter (set_clock, disconnect, reconnect). */
  allowWrite?: boolean
  /** thingsboard-gateway: the device profile sent as "type" in v1/gateway/connect. */
  deviceType?: string
  /** false: a push-only meter (no host): nothing polls it, its readings come from its DataNotifications. */
  poll?: false
  push?: MeterPushConfig
}

export interface PushObjectSpec {
  classId: number
  obis: string
  attribute: number
}

export interface MeterPushConfig {
  /** 16 lowercase hex digits. */
  systemTitle?: string
  logicalDeviceName?: string
  keys?: {ek: Uint8Array; ak: Uint8Array}
  /** Security bits a push must at least have (0 = plain accepted). */
  require: number
  /** The push object list when the meter does not send it: one list for every push setup… */
  objectList?: PushObjectSpec[]
  /** …or one per push setup, by its logical name (the body's first element, IDIS convention). */
  objectLists: Record<string, PushObjectSpec[]>
  /** Objects that only arrive by push (alarm registers…), besides meters[i].obis. */
  obis: ObisSpec[]
}

export interface PushListenConfig {
  host: string
  port: number
  framing: 'wrapper'
  maxConnections: number
  idleTimeoutMs: number
}

export interface MqttConfig {
  url: string
  clientId: string
  username?: string
  password?: string
  ca?: Buffer
  cert?: Buffer
  key?: Buffer
  caPath?: string
  certPath?: string
  keyPath?: string
  rejectUnauthorized: boolean
  keepaliveSeconds: number
  maxInflight: number
  connectTimeoutMs: number
  reconnect: {minMs: number; maxMs: number}
}

export interface BridgeConfig {
  path?: string
  mqtt: MqttConfig
  format: PublishFormat
  /** plain: topic template with {id} and {name}. */
  topic: string
  meters: MeterConfig[]
  outbox: {maxRows: number; maxAgeMs: number}
  store: {db?: string; readingsRetentionMs: number}
  metrics: {intervalMs: number; heartbeatMs: number; sampleIntervalMs: number; interfaces?: string[]}
  shutdownTimeoutMs: number
  /** ThingsBoard RPC and shared attributes (docs/BRIDGE.md "Downlink"); off for the plain format. */
  downlink?: {enabled: boolean; rpcTimeoutMs: number}
  push?: PushListenConfig
}

export const DEFAULTS = {
  port: 4059,
  framing: 'wrapper' as const,
  pollIntervalMs: 3000,
  timeoutMs: 5000,
  reconnectMinMs: 1000,
  authFailureLimit: 3,
  reconnectMaxMs: 60_000,
  mqttReconnectMinMs: 1000,
  mqttReconnectMaxMs: 30_000,
  maxInflight: 100,
  outboxMaxRows: 1_000_000,
  outboxMaxAgeMs: 7 * 86_400_000,
  readingsRetentionMs: 90 * 86_400_000,
  metricsIntervalMs: 60_000,
  heartbeatMs: 5000,
  sampleIntervalMs: 1000,
  shutdownTimeoutMs: 10_000,
  rpcTimeoutMs: 10_000,
  profileEveryMs: 15 * 60_000,
  profileMaxRows: 96,
  profileBackfillMs: 7 * 86_400_000,
  topic: 'netmon/meters/{name}',
}

/** Reads and parses the file (YAML or JSON); syntax errors name the line. */
export function readConfigFile(path: string): unknown {
  const abs = resolve(path)
  let text: string
  try {
    if (statSync(abs).isDirectory()) throw invalidInput(`config ${path} is a directory`, 'give the path of a YAML or JSON file')
    text = readFileSync(abs, 'utf8')
  } catch (e) {
    if (e instanceof NetmonError) throw e
    const code = (e as NodeJS.ErrnoException).code
    throw invalidInput(`cannot read the config ${path}${code === 'ENOENT' ? ': no such file' : code ? ` (${code})` : ''}`, 'check the --config path')
  }
  return parseConfigText(text, extname(abs).toLowerCase() === '.json' ? 'json' : 'yaml', path)
}

export function parseConfigText(text: string, kind: 'json' | 'yaml', what = 'config'): unknown {
  if (kind === 'json') {
    try {
      return JSON.parse(text)
    } catch (e) {
      throw invalidInput(`${what}: not valid JSON: ${(e as Error).message}`, 'fix the syntax (or use YAML)')
    }
  }
  // YAML is a superset of JSON: one parser for both when the extension is not .json.
  const doc = YAML.parseDocument(text, {prettyErrors: true, uniqueKeys: true})
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!
    const line = e.linePos?.[0]
    throw invalidInput(`${what}: invalid YAML${line ? ` at line ${line.line}, column ${line.col}` : ''}: ${e.message.split('\n')[0]}`, 'fix the syntax')
  }
  return doc.toJS()
}

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv
  /** Directory relative paths (TLS files, store.db) are resolved against. */
  baseDir?: string
  path?: string
}

/** Validates a parsed config and resolves defaults, env secrets and files. Throws NetmonError(input) naming the path. */
export function resolveConfig(raw: unknown, opts: ResolveOptions = {}): BridgeConfig {
  const env = opts.env ?? process.env
  const baseDir = opts.baseDir ?? process.cwd()
  if (raw === null || raw === undefined || typeof raw !== 'object' || Array.isArray(raw))
    throw invalidInput('config: expected a mapping with mqtt, publish and meters', 'see docs/examples/bridge.yaml')
  const c: RawConfig = validate(schema, raw)
  const fail = (path: PropertyKey[], message: string, hint?: string): never => {
    throw invalidInput(`${formatPath(path)}: ${message}`, hint)
  }
  const secret = (path: PropertyKey[], name: string): string => {
    const v = env[name]
    if (v === undefined || v === '') fail(path, `environment variable ${name} is not set`, `export ${name}=… before starting the bridge`)
    registerSecret(v)
    return v!
  }
  const file = (path: PropertyKey[], p: string): {abs: string; data: Buffer} => {
    const abs = resolve(baseDir, p)
    if (!existsSync(abs)) fail(path, `file ${p} does not exist`)
    try {
      return {abs, data: readFileSync(abs)}
    } catch (e) {
      return fail(path, `cannot read ${p} (${(e as NodeJS.ErrnoException).code ?? e})`)
    }
  }

  const format: PublishFormat = c.publish?.format ?? 'thingsboard-gateway'
  const topic = c.publish?.topic ?? DEFAULTS.topic
  if (c.publish?.topic !== undefined && format !== 'plain')
    fail(['publish', 'topic'], `a topic template is only used by the plain format (${format} uses fixed ThingsBoard topics)`, 'remove it or set format: plain')
  if (format === 'plain') {
    if (/[#+]/.test(topic)) fail(['publish', 'topic'], 'a topic to publish to must not contain the wildcards + or #')
    const unknown = topic.match(/\{([^}]*)\}/g)?.find(t => t !== '{id}' && t !== '{name}')
    if (unknown) fail(['publish', 'topic'], `unknown placeholder ${unknown} (use {id} or {name})`)
    if (!/\{(id|name)\}/.test(topic)) fail(['publish', 'topic'], 'the topic template must contain {id} or {name} so meters publish to distinct topics')
  }

  if (format === 'plain' && c.downlink?.enabled === true)
    fail(['downlink', 'enabled'], 'the downlink uses the ThingsBoard RPC and attribute topics: it needs format thingsboard-gateway or thingsboard-device')
  if (format !== 'thingsboard-gateway' && c.defaults?.device_type !== undefined)
    fail(['defaults', 'device_type'], `device_type is sent in the gateway connect message: it needs format thingsboard-gateway (format is ${format})`)

  // MQTT
  const m = c.mqtt
  if (m.token_env && (m.username || m.password_env)) fail(['mqtt', 'token_env'], 'a ThingsBoard access token replaces username/password: give one or the other')
  if (format === 'thingsboard-device' && (m.token_env || m.username))
    fail(['mqtt'], "thingsboard-device connects once per meter with that meter's token: set meters[i].token_env, not mqtt.token_env/username")
  if (m.password_env && !m.username) fail(['mqtt', 'password_env'], 'a password needs mqtt.username')
  if (/^(mqtt|tcp|ws):/i.test(m.url) && (m.ca || m.cert || m.key)) fail(['mqtt', 'url'], 'TLS files are set but the URL is not mqtts:// or wss://')
  if (Boolean(m.cert) !== Boolean(m.key)) fail(['mqtt', m.cert ? 'key' : 'cert'], 'a client certificate needs both cert and key')
  let url: URL
  try {
    url = new URL(m.url)
  } catch {
    return fail(['mqtt', 'url'], 'not a valid URL')
  }
  if (!url.hostname) fail(['mqtt', 'url'], 'the URL names no host')
  const rmin = m.reconnect?.min ?? DEFAULTS.mqttReconnectMinMs
  const rmax = m.reconnect?.max ?? DEFAULTS.mqttReconnectMaxMs
  if (rmax < rmin) fail(['mqtt', 'reconnect', 'max'], `must be at least reconnect.min (${fmtMs(rmin)})`)
  const ca = m.ca ? file(['mqtt', 'ca'], m.ca) : undefined
  const cert = m.cert ? file(['mqtt', 'cert'], m.cert) : undefined
  const key = m.key ? file(['mqtt', 'key'], m.key) : undefined
  const mqtt: MqttConfig = {
    url: m.url,
    clientId: m.client_id ?? `netmon-bridge-${hostname()}`.slice(0, 200),
    username: m.token_env ? secret(['mqtt', 'token_env'], m.token_env) : m.username,
    password: m.password_env ? secret(['mqtt', 'password_env'], m.password_env) : undefined,
    ca: ca?.data,
    cert: cert?.data,
    key: key?.data,
    caPath: ca?.abs,
    certPath: cert?.abs,
    keyPath: key?.abs,
    rejectUnauthorized: m.reject_unauthorized ?? true,
    keepaliveSeconds: Math.round((m.keepalive ?? 30_000) / 1000),
    maxInflight: m.max_inflight ?? DEFAULTS.maxInflight,
    connectTimeoutMs: m.connect_timeout ?? 10_000,
    reconnect: {minMs: rmin, maxMs: rmax},
  }

  // Meters
  const d = c.defaults ?? {}
  const ids = new Map<string, number>()
  const names = new Map<string, number>()
  const tokens = new Map<string, number>()
  const endpoints = new Map<string, number>()
  const pushTitles = new Map<string, number>()
  const pushNames = new Map<string, number>()
  const meters: MeterConfig[] = []
  c.meters.forEach((mc, i) => {
    const at = (...p: PropertyKey[]): PropertyKey[] => ['meters', i, ...p]
    if (ids.has(mc.id)) fail(at('id'), `duplicate id "${mc.id}" (also meters[${ids.get(mc.id)}])`)
    ids.set(mc.id, i)
    const name = mc.name ?? mc.id
    if (names.has(name)) fail(at('name'), `duplicate name "${name}" (also meters[${names.get(name)}]); names are the device names at the broker`)
    names.set(name, i)
    if (mc.enabled === false) return
    if (format !== 'thingsboard-gateway' && mc.device_type !== undefined)
      fail(at('device_type'), `device_type is sent in the gateway connect message: it needs format thingsboard-gateway (format is ${format})`)
    // A meter with a push section and no host is push-only (behind NAT, on cellular): nothing polls it.
    const poll = (mc.host ?? d.host) !== undefined || !mc.push
    const host = mc.host ?? d.host ?? ''
    if (poll && !host) return fail(at('host'), "missing: the meter's host name or address (or defaults.host)")
    const port = mc.port ?? d.port ?? DEFAULTS.port
    const framing = mc.framing ?? d.framing ?? DEFAULTS.framing
    const physical = mc.physical_address ?? d.physical_address
    const addressSize = mc.address_size ?? d.address_size
    if (addressSize !== undefined && framing !== 'hdlc')
      fail(mc.address_size !== undefined ? at('address_size') : ['defaults', 'address_size'], 'address_size applies to framing: hdlc only')
    if (addressSize === 1 && serverAddressOf(mc, d) > 0x7f)
      fail(
        mc.address_size !== undefined ? at('address_size') : ['defaults', 'address_size'],
        'a 1-byte HDLC address holds server addresses up to 127: use 2 or 4',
      )
    if (addressSize === 1 && physical !== undefined)
      fail(
        mc.address_size !== undefined ? at('address_size') : ['defaults', 'address_size'],
        'a 1-byte HDLC address has no physical part: use 2 or 4, or drop physical_address',
      )
    if (addressSize === 2 && (serverAddressOf(mc, d) > 0x7f || (physical ?? 0) > 0x7f))
      fail(
        mc.address_size !== undefined ? at('address_size') : ['defaults', 'address_size'],
        'a 2-byte HDLC address holds logical and physical addresses up to 127: use 4',
      )
    const serverAddress = mc.server_address ?? d.server_address ?? 1
    const ep = `${host.toLowerCase()}:${port}:${serverAddress}:${physical ?? ''}`
    if (poll && endpoints.has(ep))
      fail(at('port'), `meters[${endpoints.get(ep)}] already polls ${host}:${port} (same address)`, 'each meter needs its own host/port or server address')
    endpoints.set(ep, i)
    const a = mc.auth ?? d.auth ?? {mechanism: 'none' as const}
    const authPath = mc.auth ? at('auth') : ['defaults', 'auth']
    let meterAuth: MeterConfig['auth']
    const hlsOnly = ['system_title', 'meter_system_title', 'ek_env', 'ek_file', 'ak_env', 'ak_file', 'security', 'ciphering'] as const
    if (a.mechanism !== 'hls-gmac') {
      const extra = hlsOnly.find(k => a[k] !== undefined)
      if (extra) fail([...authPath, extra], `${extra} is only used with mechanism: hls-gmac`)
    }
    if (a.mechanism === 'hls-gmac') {
      if (a.password_env) fail([...authPath, 'password_env'], 'HLS-GMAC uses keys (ek_env/ek_file, ak_env/ak_file), not a password')
      if (!a.system_title) return fail([...authPath, 'system_title'], "missing: the client's system title (16 hex digits or 8 ASCII characters)")
      const key = (k: 'ek' | 'ak', what: string): Uint8Array => {
        const envK = a[`${k}_env`]
        const fileK = a[`${k}_file`]
        if (!envK && !fileK) return fail([...authPath, `${k}_env`], `missing: the ${what} (${k}_env naming an environment variable, or ${k}_file)`)
        if (envK && fileK) return fail([...authPath, `${k}_file`], `give ${k}_env or ${k}_file, not both`)
        try {
          return loadKeySync(envK ? {env: envK} : {file: resolve(baseDir, fileK!)}, what, env)
        } catch (e) {
          return fail([...authPath, envK ? `${k}_env` : `${k}_file`], (e as Error).message, (e as NetmonError).hint)
        }
      }
      const title = (k: 'system_title' | 'meter_system_title', what: string): Uint8Array => {
        try {
          return parseSystemTitle(a[k]!, what)
        } catch (e) {
          return fail([...authPath, k], (e as Error).message)
        }
      }
      meterAuth = {
        mechanism: 'hls-gmac',
        security: {
          level: 'hls-gmac',
          systemTitle: title('system_title', 'the client system title'),
          ...(a.meter_system_title ? {peerSystemTitle: title('meter_system_title', 'the meter system title')} : {}),
          ek: key('ek', 'encryption key'),
          ak: key('ak', 'authentication key'),
          securityControl: SECURITY_POLICIES[a.security ?? 'auth-enc'],
          ciphering: a.ciphering ?? 'auto',
        },
        keysFrom: {ek: a.ek_env ? `$${a.ek_env}` : resolve(baseDir, a.ek_file!), ak: a.ak_env ? `$${a.ak_env}` : resolve(baseDir, a.ak_file!)},
      }
    } else if (a.mechanism === 'low') {
      if (!a.password_env)
        return fail([...authPath, 'password_env'], 'LLS (mechanism low) needs password_env naming the variable that holds the meter password')
      meterAuth = {mechanism: 'low', password: secret([...authPath, 'password_env'], a.password_env), passwordEnv: a.password_env}
    } else {
      if (a.password_env) fail([...authPath, 'password_env'], 'a password is only used with mechanism: low')
      meterAuth = {mechanism: 'none'}
    }
    // A push-only meter (no host) is never associated: profile jobs need a meter the bridge polls.
    const rawProfiles = poll ? (mc.profiles ?? d.profiles ?? []) : []
    if (!poll && mc.profiles?.length) fail(at('profiles'), 'load profiles are read from the meter: a push-only meter (no host) cannot have them')
    const rawObis = mc.obis ?? d.obis ?? (poll && rawProfiles.length === 0 ? undefined : [])
    if (!rawObis) return fail(at('obis'), 'no OBIS codes to read: give meters[i].obis or defaults.obis (or a load profile in profiles)')
    const obisPath = mc.obis ? at('obis') : ['defaults', 'obis']
    const list: ObisSpec[] = (rawObis ?? []).map(o => ({
      obis: formatObis(tryParseObis(o.obis)!),
      key: o.key,
      classId: o.class ?? 3,
      ...(o.unit ? {unit: o.unit} : {}),
    }))
    const keys = new Set<string>()
    const codes = new Set<string>()
    list.forEach((o, j) => {
      const p = [...obisPath, j]
      if (keys.has(o.key)) fail([...p, 'key'], `duplicate telemetry key "${o.key}"`)
      keys.add(o.key)
      if (codes.has(`${o.obis}/${o.classId}`)) fail([...p, 'obis'], `OBIS ${o.obis} is listed twice`)
      codes.add(`${o.obis}/${o.classId}`)
      if (o.unit && o.classId !== 3 && o.classId !== 4) fail([...p, 'unit'], 'unit conversion applies to registers (class 3 or 4) only')
    })
    // An HLS meter's pushes use its global keys and meter system title unless its push section names others.
    const hls =
      meterAuth.mechanism === 'hls-gmac'
        ? {
            ek: meterAuth.security.ek,
            ak: meterAuth.security.ak,
            ...(meterAuth.security.peerSystemTitle ? {systemTitle: meterAuth.security.peerSystemTitle} : {}),
          }
        : undefined
    const push = mc.push ? resolveMeterPush(mc.push, at('push'), {fail, secret, file, obisKeys: keys, obisCodes: codes, ...(hls ? {hls} : {})}) : undefined
    if (!poll && push && list.length + push.obis.length === 0)
      fail(at('push', 'obis'), 'a push-only meter needs meters[i].obis or push.obis: the objects its pushes carry and their telemetry keys')
    if (push?.systemTitle) {
      const other = pushTitles.get(push.systemTitle)
      if (other !== undefined) fail(at('push', 'system_title'), `meters[${other}] has the same system title`)
      pushTitles.set(push.systemTitle, i)
    }
    if (push?.logicalDeviceName) {
      const other = pushNames.get(push.logicalDeviceName)
      if (other !== undefined) fail(at('push', 'logical_device_name'), `meters[${other}] has the same logical device name`)
      pushNames.set(push.logicalDeviceName, i)
    }
    if (push && !push.systemTitle && !push.logicalDeviceName)
      fail(at('push'), 'a push section needs system_title or logical_device_name: how its notifications are matched to this meter')
    const profilesPath = mc.profiles ? at('profiles') : ['defaults', 'profiles']
    const seenProfiles = new Set<string>()
    const profiles: ProfileSpec[] = rawProfiles.map((p, j) => {
      const obis = formatObis(tryParseObis(p.obis)!)
      if (seenProfiles.has(obis)) fail([...profilesPath, j, 'obis'], `profile ${obis} is listed twice`)
      seenProfiles.add(obis)
      const columns: ProfileSpec['columns'] = {}
      // A column the meter also polls is published under the same key and unit: one time series, back-filled.
      for (const o of list) if (!columns[o.obis] && (o.classId === 3 || o.classId === 4)) columns[o.obis] = {key: o.key, ...(o.unit ? {unit: o.unit} : {})}
      for (const [code, key] of Object.entries(p.columns ?? {})) columns[formatObis(tryParseObis(code)!)] = {key}
      return {
        obis,
        everyMs: p.every ?? DEFAULTS.profileEveryMs,
        maxRows: p.max_rows ?? DEFAULTS.profileMaxRows,
        backfillMs: p.backfill ?? DEFAULTS.profileBackfillMs,
        mode: p.mode ?? 'auto',
        columns,
      }
    })
    const pollIntervalMs = mc.poll_interval ?? d.poll_interval ?? DEFAULTS.pollIntervalMs
    const timeoutMs = mc.timeout ?? d.timeout ?? Math.min(DEFAULTS.timeoutMs, Math.max(pollIntervalMs, 1000))
    const rb = mc.reconnect ?? d.reconnect
    const minMs = rb?.min ?? DEFAULTS.reconnectMinMs
    const maxMs = rb?.max ?? DEFAULTS.reconnectMaxMs
    if (maxMs < minMs) fail([...(mc.reconnect ? at('reconnect') : ['defaults', 'reconnect']), 'max'], `must be at least reconnect.min (${fmtMs(minMs)})`)
    let token: string | undefined
    if (format === 'thingsboard-device') {
      if (!mc.token_env) fail(at('token_env'), "thingsboard-device needs each meter's device access token: name its environment variable in token_env")
      token = secret(at('token_env'), mc.token_env!)
      if (tokens.has(token)) fail(at('token_env'), `meters[${tokens.get(token)}] uses the same access token`)
      tokens.set(token, i)
    } else if (mc.token_env) fail(at('token_env'), `token_env is only used with format thingsboard-device (format is ${format})`)
    meters.push({
      id: mc.id,
      name,
      host,
      port,
      framing,
      clientAddress: mc.client_address ?? d.client_address ?? (meterAuth.mechanism === 'low' ? 17 : meterAuth.mechanism === 'hls-gmac' ? 1 : 16),
      serverAddress,
      ...(physical !== undefined ? {physicalAddress: physical} : {}),
      ...(addressSize !== undefined ? {addressSize} : {}),
      auth: meterAuth,
      pollIntervalMs,
      timeoutMs,
      obis: list,
      profiles,
      reconnect: {minMs, maxMs},
      authFailureLimit: mc.auth_failure_limit ?? d.auth_failure_limit ?? DEFAULTS.authFailureLimit,
      ...(token ? {token} : {}),
      allowWrite: mc.allow_write === true,
      ...((mc.device_type ?? d.device_type) !== undefined ? {deviceType: mc.device_type ?? d.device_type} : {}),
      ...(poll ? {} : {poll: false as const}),
      ...(push ? {push} : {}),
    })
  })
  const pushListen = c.push ? resolvePushListen(c.push, fail) : undefined
  if (!pushListen) {
    const i = c.meters.findIndex(mc => mc.push && mc.enabled !== false)
    if (i >= 0) fail(['meters', i, 'push'], 'meters push but no listener is configured', 'add push: {listen: 0.0.0.0:4059} at the top level')
  }

  const ret = c.store?.readings_retention
  if (ret !== undefined && ret !== 0 && ret < 3_600_000) fail(['store', 'readings_retention'], 'expected 0 (keep forever) or at least 1h')
  const metricsIntervalMs = c.metrics?.interval ?? DEFAULTS.metricsIntervalMs
  const sampleIntervalMs = c.metrics?.sample_interval ?? DEFAULTS.sampleIntervalMs
  if (sampleIntervalMs > metricsIntervalMs) fail(['metrics', 'sample_interval'], `must not exceed metrics.interval (${fmtMs(metricsIntervalMs)})`)
  return {
    ...(opts.path ? {path: resolve(opts.path)} : {}),
    mqtt,
    format,
    topic,
    meters,
    outbox: {maxRows: c.outbox?.max_rows ?? DEFAULTS.outboxMaxRows, maxAgeMs: c.outbox?.max_age ?? DEFAULTS.outboxMaxAgeMs},
    store: {
      ...(c.store?.db ? {db: /^[a-z][a-z0-9+.-]*:/i.test(c.store.db) ? c.store.db : resolve(baseDir, c.store.db)} : {}),
      readingsRetentionMs: ret ?? DEFAULTS.readingsRetentionMs,
    },
    metrics: {
      intervalMs: metricsIntervalMs,
      heartbeatMs: c.metrics?.heartbeat ?? DEFAULTS.heartbeatMs,
      sampleIntervalMs,
      ...(c.metrics?.interfaces ? {interfaces: c.metrics.interfaces} : {}),
    },
    shutdownTimeoutMs: c.shutdown_timeout ?? DEFAULTS.shutdownTimeoutMs,
    downlink: {
      enabled: format !== 'plain' && c.downlink?.enabled !== false,
      rpcTimeoutMs: c.downlink?.rpc_timeout ?? DEFAULTS.rpcTimeoutMs,
    },
    ...(pushListen ? {push: pushListen} : {}),
  }
}

const PUSH_SECURITY: Record<string, number> = {'auth-enc': SC_AUTHENTICATED_ENCRYPTION, auth: SC_AUTHENTICATION, enc: SC_ENCRYPTION, none: 0}

type Fail = (path: PropertyKey[], message: string, hint?: string) => never

function resolvePushListen(p: NonNullable<RawConfig['push']>, fail: Fail): PushListenConfig {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(p.listen)!
  const port = Number(m[3])
  if (port < 1 || port > 65535) fail(['push', 'listen'], 'expected a port 1-65535')
  return {
    host: m[1] ?? m[2]!,
    port,
    framing: 'wrapper',
    maxConnections: p.max_connections ?? 10_000,
    idleTimeoutMs: p.idle_timeout ?? 3_600_000,
  }
}

interface PushDeps {
  fail: Fail
  secret: (path: PropertyKey[], name: string) => string
  file: (path: PropertyKey[], p: string) => {abs: string; data: Buffer}
  obisKeys: Set<string>
  obisCodes: Set<string>
  /** The meter's HLS-GMAC keys and meter system title (auth.mechanism hls-gmac): the defaults for its pushes. */
  hls?: {ek: Uint8Array; ak: Uint8Array; systemTitle?: Uint8Array}
}

/** Validates a meter's push section; keys come from env variables or files only and are registered as secrets. */
function resolveMeterPush(p: NonNullable<z.infer<typeof meterPush>>, at: PropertyKey[], deps: PushDeps): MeterPushConfig {
  const {fail} = deps
  let systemTitle: string | undefined
  if (p.system_title !== undefined) {
    const t = p.system_title.trim()
    if (/^[0-9a-fA-F]{16}$/.test(t)) systemTitle = t.toLowerCase()
    else if (/^[\x20-\x7e]{8}$/.test(t)) systemTitle = Buffer.from(t, 'latin1').toString('hex')
    else fail([...at, 'system_title'], 'expected 8 octets: 16 hex digits or 8 ASCII characters')
  }
  const key = (what: 'ek' | 'ak'): Uint8Array | undefined => {
    const env = p[`${what}_env`]
    const f = p[`${what}_file`]
    if (env && f) fail([...at, `${what}_env`], `give ${what}_env or ${what}_file, not both`)
    let text: string | undefined
    if (env) text = deps.secret([...at, `${what}_env`], env)
    else if (f) text = deps.file([...at, `${what}_file`], f).data.toString('utf8')
    if (text === undefined) return undefined
    const clean = text.trim().replace(/[\s:]/g, '')
    for (const v of [text.trim(), clean, clean.toLowerCase(), clean.toUpperCase()]) if (v) registerSecret(v)
    if (!/^[0-9a-fA-F]{32}$/.test(clean))
      fail(
        [...at, env ? `${what}_env` : `${what}_file`],
        `the ${what === 'ek' ? 'encryption' : 'authentication'} key must be 32 hex digits (got ${clean.length} characters; value not shown)`,
      )
    return new Uint8Array(Buffer.from(clean, 'hex'))
  }
  if (systemTitle === undefined && deps.hls?.systemTitle) systemTitle = Buffer.from(deps.hls.systemTitle).toString('hex')
  const own = p.ek_env ?? p.ek_file ?? p.ak_env ?? p.ak_file
  const ek = own === undefined ? deps.hls?.ek : key('ek')
  const ak = own === undefined ? deps.hls?.ak : key('ak')
  if (Boolean(ek) !== Boolean(ak)) fail([...at, ek ? 'ak_env' : 'ek_env'], 'ciphered pushes need both keys: ek_env|ek_file and ak_env|ak_file')
  if (ek && !systemTitle) fail([...at, 'system_title'], "ciphered pushes are matched by the meter's system title: give system_title")
  const require = PUSH_SECURITY[p.security ?? (ek ? 'auth-enc' : 'none')]!
  if (require !== 0 && !ek) fail([...at, 'security'], `security ${p.security} needs the keys (ek_env|ek_file, ak_env|ak_file)`)
  const spec = (list: z.infer<typeof pushObjectList>): PushObjectSpec[] =>
    list.map(o => ({classId: o.class, obis: formatObis(tryParseObis(o.obis)!), attribute: o.attribute ?? 2}))
  const obis: ObisSpec[] = (p.obis ?? []).map(o => ({
    obis: formatObis(tryParseObis(o.obis)!),
    key: o.key,
    classId: o.class ?? 3,
    ...(o.unit ? {unit: o.unit} : {}),
  }))
  obis.forEach((o, j) => {
    if (deps.obisKeys.has(o.key)) fail([...at, 'obis', j, 'key'], `duplicate telemetry key "${o.key}" (also in meters[i].obis)`)
    deps.obisKeys.add(o.key)
    if (deps.obisCodes.has(`${o.obis}/${o.classId}`)) fail([...at, 'obis', j, 'obis'], `OBIS ${o.obis} is already in meters[i].obis`)
    if (o.unit && o.classId !== 3 && o.classId !== 4) fail([...at, 'obis', j, 'unit'], 'unit conversion applies to registers (class 3 or 4) only')
  })
  return {
    ...(systemTitle ? {systemTitle} : {}),
    ...(p.logical_device_name ? {logicalDeviceName: p.logical_device_name} : {}),
    ...(ek && ak ? {keys: {ek, ak}} : {}),
    require,
    ...(p.object_list ? {objectList: spec(p.object_list)} : {}),
    objectLists: Object.fromEntries(Object.entries(p.object_lists ?? {}).map(([ln, list]) => [formatObis(tryParseObis(ln)!), spec(list)])),
    obis,
  }
}

/** Reads, validates and resolves a config file. */
export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): BridgeConfig {
  const raw = readConfigFile(path)
  return resolveConfig(raw, {env, baseDir: dirname(resolve(path)), path})
}

/** The broker URL as printed (no credentials: they are never in it, see the url refinement). */
export function brokerDisplay(c: BridgeConfig): string {
  return c.mqtt.url
}

function serverAddressOf(mc: {server_address?: number}, d: {server_address?: number}): number {
  return mc.server_address ?? d.server_address ?? 1
}

/**
 * SNMP agent settings (docs/SOURCES.md): a config entry (YAML/JSON, snake_case keys, for the
 * agent's collector jobs) or a `snmp://[COMMUNITY@]HOST[:PORT]` URL (`bandwidth sample --from`).
 * Secrets never sit in a config file: it names the environment variable or the file that holds
 * them (`community_env`/`community_file`, `auth_key_env`/`auth_key_file`, `priv_key_env`/
 * `priv_key_file`), and every secret is registered with secrets.ts the moment it is read.
 *
 *   agents:
 *     - name: core-sw
 *       host: 192.0.2.2
 *       version: 3
 *       user: {name: netmon, level: authPriv, auth_protocol: sha, auth_key_file: /etc/netmon/snmp-auth,
 *              priv_protocol: aes, priv_key_env: SNMP_PRIV}
 */
import {readFileSync} from 'node:fs'
import {resolve} from 'node:path'
import {z} from 'zod'
import {invalidInput, usageError} from '../errors.js'
import {registerSecret} from '../secrets.js'
import {validate} from '../validate.js'
import type {SnmpSourceOptions} from './snmp.js'

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {message: 'expected the NAME of an environment variable (letters, digits, _)'})
const AUTH = ['md5', 'sha', 'sha224', 'sha256', 'sha384', 'sha512'] as const
const PRIV = ['des', 'aes', 'aes256b', 'aes256r'] as const

export const snmpAgentSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, {message: 'expected 1-64 letters, digits, ".", "_", ":" or "-"'}),
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(161),
    version: z
      .union([z.literal('2c'), z.literal('3'), z.literal(3)])
      .default('2c')
      .transform(v => String(v) as '2c' | '3'),
    community_env: envName.optional(),
    community_file: z.string().min(1).optional(),
    user: z
      .object({
        name: z.string().min(1),
        level: z.enum(['authNoPriv', 'authPriv']),
        auth_protocol: z.enum(AUTH).default('sha'),
        auth_key_env: envName.optional(),
        auth_key_file: z.string().min(1).optional(),
        priv_protocol: z.enum(PRIV).default('aes'),
        priv_key_env: envName.optional(),
        priv_key_file: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    timeout_ms: z.number().int().min(50).max(60_000).default(2000),
    retries: z.number().int().min(0).max(10).default(1),
    max_repetitions: z.number().int().min(1).max(200).default(25),
    direction: z.enum(['device', 'interface']).default('device'),
    fdb: z.boolean().default(false),
  })
  .strict()

export type SnmpAgentConfig = z.input<typeof snmpAgentSchema>

/** Reads one secret from `env[NAME]` or a file (one trailing newline dropped), registering it. */
function secret(what: string, envKey: string | undefined, file: string | undefined, env: NodeJS.ProcessEnv, baseDir: string): string | undefined {
  if (envKey && file) throw invalidInput(`${what}: give ${what}_env or ${what}_file, not both`)
  let v: string | undefined
  if (envKey) {
    v = env[envKey]
    if (v === undefined || v === '') throw invalidInput(`${what}_env: $${envKey} is not set`, `export ${envKey}=… before starting netmon`)
  } else if (file) {
    try {
      v = readFileSync(resolve(baseDir, file), 'utf8').replace(/\r?\n$/, '')
    } catch (e) {
      throw invalidInput(`${what}_file: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`)
    }
    if (!v) throw invalidInput(`${what}_file: ${file} is empty`)
  }
  registerSecret(v)
  return v
}

/** One config entry → source options (secrets read and registered). `what` prefixes errors (e.g. `snmp.agents[2]`). */
export function snmpAgentOptions(raw: unknown, opts: {env?: NodeJS.ProcessEnv; baseDir?: string; what?: string} = {}): SnmpSourceOptions {
  const env = opts.env ?? process.env
  const baseDir = opts.baseDir ?? process.cwd()
  const what = opts.what ?? 'snmp agent'
  const c = validate(snmpAgentSchema, raw, what)
  const at = (k: string) => `${what} ${c.name}: ${k}`
  const base = {
    name: c.name,
    host: c.host,
    port: c.port,
    timeoutMs: c.timeout_ms,
    retries: c.retries,
    maxRepetitions: c.max_repetitions,
    direction: c.direction,
    fdb: c.fdb,
  }
  if (c.version === '2c') {
    if (c.user) throw invalidInput(at('user'), 'a v3 user needs version: 3')
    const community = secret('community', c.community_env, c.community_file, env, baseDir)
    if (!community) throw invalidInput(at('v2c needs community_env or community_file'))
    return {...base, version: '2c', community}
  }
  if (!c.user) throw invalidInput(at('version 3 needs a user'), 'user: {name, level, auth_protocol, auth_key_env …}')
  if (c.community_env || c.community_file) throw invalidInput(at('a community is for version 2c'))
  const authKey = secret('auth_key', c.user.auth_key_env, c.user.auth_key_file, env, baseDir)
  if (!authKey) throw invalidInput(at('user needs auth_key_env or auth_key_file'))
  if (authKey.length < 8) throw invalidInput(at('the auth key must have at least 8 characters (RFC 3414)'))
  const privKey = c.user.level === 'authPriv' ? secret('priv_key', c.user.priv_key_env, c.user.priv_key_file, env, baseDir) : undefined
  if (c.user.level === 'authPriv' && !privKey) throw invalidInput(at('authPriv needs priv_key_env or priv_key_file'))
  return {
    ...base,
    version: '3',
    user: {name: c.user.name, level: c.user.level, authProtocol: c.user.auth_protocol, authKey, privProtocol: c.user.priv_protocol, privKey},
  }
}

/** `snmp://[COMMUNITY@]HOST[:PORT]` (v2c) for `bandwidth sample --from`; the agent is named HOST:PORT. */
export function parseSnmpUrl(url: string, o: {communityEnv?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number} = {}): SnmpSourceOptions {
  const m = /^snmp:\/\/(?:([^@/]*)@)?(\[[0-9A-Fa-f:.]+\]|[^:/?#@[\]]+)(?::(\d{1,5}))?\/?$/i.exec(url)
  // The community is a secret from the start: registered before any message could carry it.
  const at = url.indexOf('@')
  if (at > 0) registerSecret(safeDecode(url.slice('snmp://'.length, at)))
  if (!m) throw invalidInput('--from snmp:// is not snmp://[COMMUNITY@]HOST[:PORT]', 'e.g. --from snmp://192.0.2.2:161 --community-env SNMP_COMMUNITY')
  const host = m[2]!.replace(/^\[|\]$/g, '')
  const port = m[3] === undefined ? 161 : Number(m[3])
  if (!(port >= 1 && port <= 65535)) throw invalidInput(`--from snmp://: port ${m[3]} is not 1-65535`)
  let community = m[1] === undefined ? undefined : safeDecode(m[1])
  if (o.communityEnv !== undefined) {
    if (community !== undefined) throw usageError('give the community in the URL or --community-env, not both')
    validate(envName, o.communityEnv, '--community-env')
    community = (o.env ?? process.env)[o.communityEnv]
    if (!community) throw invalidInput(`--community-env: $${o.communityEnv} is not set`)
    registerSecret(community)
  }
  if (!community) throw invalidInput('--from snmp://HOST needs a community', 'snmp://COMMUNITY@HOST or --community-env NAME (keeps it out of the process list)')
  const name = `${host.includes(':') ? `[${host}]` : host}:${port}`
  return {name, host, port, version: '2c', community, timeoutMs: o.timeoutMs ?? 2000, retries: 1}
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

import {existsSync, mkdirSync, statSync} from 'node:fs'
import {homedir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {NetmonError, invalidInput} from '../errors.js'
import {redactUrl, registerSecret} from '../secrets.js'

/**
 * Where the store lives. Selection order (docs/STORE.md): `--db`, else `NETMON_DB_URL`
 * (+ `NETMON_DB_AUTH_TOKEN`), else `<XDG data dir>/netmon/netmon.db`.
 * A bare path and `file:` URLs are local; `libsql://`, `https://`, `http://`, `wss://`, `ws://` are remote.
 */
export interface StoreLocation {
  kind: 'local' | 'remote'
  /** URL handed to @libsql/client (`file:/abs/path` for local). */
  url: string
  /** Absolute file path (local only). */
  path?: string
  authToken?: string
  /** Printable form: credentials replaced by ***. */
  display: string
  source: 'flag' | 'env' | 'default'
}

const REMOTE = /^(libsql|https?|wss?):\/\//i

export function defaultStorePath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_DATA_HOME?.startsWith('/') ? env.XDG_DATA_HOME : join(homedir(), '.local', 'share')
  return join(base, 'netmon', 'netmon.db')
}

export function resolveStoreLocation(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): StoreLocation {
  const token = env.NETMON_DB_AUTH_TOKEN || undefined
  registerSecret(token)
  // `--db ""` (often `--db "$UNSET"` in a script) is a mistake, not a request for the default store.
  if (flag !== undefined && flag.trim() === '')
    throw invalidInput('--db is empty', 'give a file path or URL, or leave --db out to use NETMON_DB_URL or the default store')
  if (flag !== undefined) return parseLocation(flag.trim(), 'flag', token)
  if (env.NETMON_DB_URL && env.NETMON_DB_URL.trim() !== '') return parseLocation(env.NETMON_DB_URL.trim(), 'env', token)
  const path = defaultStorePath(env)
  return local(path, 'default')
}

function parseLocation(value: string, source: 'flag' | 'env', token: string | undefined): StoreLocation {
  const what = source === 'flag' ? '--db' : 'NETMON_DB_URL'
  if (REMOTE.test(value)) {
    let u: URL
    try {
      u = new URL(value)
    } catch {
      throw invalidInput(`${what} is not a valid URL: ${redactUrl(value)}`, 'use libsql://HOST, https://HOST[:PORT] or a file path')
    }
    if (u.password) {
      registerSecret(u.password)
      registerSecret(decodeURIComponent(u.password))
    }
    // fetch refuses a URL with credentials, and libSQL servers take a bearer token, not a password.
    if (u.username || u.password) {
      throw invalidInput(
        `${what} must not carry a user or password in the URL: ${redactUrl(value).replace(/\/\/[^/@\s]*@/, '//***@')}`,
        `put the token in NETMON_DB_AUTH_TOKEN and give ${what} without it, e.g. ${u.protocol}//${u.host}`,
      )
    }
    const inUrl = u.searchParams.get('authToken')
    if (inUrl) registerSecret(inUrl)
    return {kind: 'remote', url: value, authToken: token, display: redactUrl(value), source}
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) && !/^file:/i.test(value)) {
    throw invalidInput(`${what} has an unsupported scheme: ${redactUrl(value)}`, 'use a file path, file:PATH, libsql://, https://, http://, wss:// or ws://')
  }
  let path = value
  if (/^file:/i.test(path)) {
    path = path.replace(/^file:(\/\/(localhost)?)?/i, '')
    path = path.split('?')[0]!
    path = decodeURIComponent(path)
  }
  if (path === '') throw invalidInput(`${what} names no file`, 'give a path such as ./netmon.db')
  if (path === ':memory:') throw invalidInput(`${what}: an in-memory store would forget everything when the command ends`, 'give a file path')
  return local(resolve(path), source)
}

function local(path: string, source: StoreLocation['source']): StoreLocation {
  return {kind: 'local', url: `file:${path}`, path, display: path, source}
}

/** Checks a local path before opening it: not a directory, parent creatable. */
export function prepareLocalPath(path: string): void {
  try {
    if (statSync(path).isDirectory()) {
      throw invalidInput(`the store path ${path} is a directory`, 'give a file path inside it, e.g. --db ' + join(path, 'netmon.db'))
    }
  } catch (e) {
    if (e instanceof NetmonError) throw e
    // does not exist yet: fine
  }
  try {
    mkdirp(dirname(path))
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? ''
    throw new NetmonError('store', `cannot create the folder for the store ${path} (${code || String(e)})`, {
      hint: 'choose a writable location with --db or NETMON_DB_URL',
    })
  }
}

/**
 * mkdir -p without `{recursive: true}`: Node 20's recursive mkdir loops forever on some paths
 * (e.g. under /proc, where mkdir fails with ENOENT), which would hang the CLI instead of failing.
 */
function mkdirp(dir: string): void {
  const missing: string[] = []
  let d = dir
  while (!existsSync(d)) {
    missing.push(d)
    const parent = dirname(d)
    if (parent === d) break
    d = parent
  }
  for (const m of missing.reverse()) {
    try {
      mkdirSync(m)
    } catch (e) {
      // Another process (a cron job starting with the daemon) made it in between: fine if it is a folder.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(m).isDirectory()) throw e
    }
  }
}

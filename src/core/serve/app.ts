/**
 * The HTTP application of `netmon serve` (Hono, web-standard Request/Response): authentication,
 * JSON errors, zod-validated inputs, the REST routes of routes/*, /healthz, /openapi.json,
 * /metrics and the dashboard's static files. Binding and shutdown live in server.ts.
 *
 * Rules (issue 10):
 * - bearer auth, when a token is configured, on everything except /healthz and the dashboard's
 *   static shell (HTML/JS/CSS carry no data; the page asks for the token and sends it with
 *   every API call, since a browser cannot attach a bearer header to a page load);
 * - errors are `{"error":{"code","message","hint"?}}` with 400/401/403/404/405/409/413/415/500/501;
 * - every input is validated (zod) before a core function runs, so bad input writes nothing.
 */
import {createHash, timingSafeEqual} from 'node:crypto'
import {Hono, type Context} from 'hono'
import {bodyLimit} from 'hono/body-limit'
import {invalidInput} from '../errors.js'
import type {Logger} from '../log.js'
import {redactDeep} from '../secrets.js'
import type {Store} from '../store/index.js'
import {validate} from '../validate.js'
import {isLoopbackHost} from './options.js'
import {HttpError, methodNotAllowed, routeNotFound, toHttpError, unauthorized, type HttpStatus} from './http.js'
import {MeterTotals, renderMetrics} from './metrics.js'
import {buildOpenApi} from './openapi.js'
import {body, query, type RouteContext, type RouteDef} from './route.js'
import {allRoutes} from './routes/index.js'
import {loadAssets, type Asset} from './static.js'

/** Large enough for a batch of ~50k samples as JSON; anything bigger belongs in `bandwidth sample --from -`. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024

export interface AppOptions {
  store: Store
  token: string | null
  log: Logger
  /** One stderr line per request. */
  accessLog?: boolean
  version?: string
  routes?: RouteDef[]
}

export interface RequestStats {
  /** requests by route pattern, method and status (for /metrics). */
  byRoute: Map<string, {route: string; method: string; status: number; count: number; seconds: number}>
  inflight: number
  total: number
}

export interface ServeApp {
  app: Hono<Env>
  stats: RequestStats
  /** Aborts long handlers and background work; resolves when the background work has ended. */
  shutdown(graceMs: number): Promise<void>
  startedAt: number
}

type Env = {Variables: {routePattern: string | undefined}}
type Ctx = Context<Env>

const PUBLIC_PATHS = new Set(['/healthz'])

export function createServeApp(opts: AppOptions): ServeApp {
  const {store, log} = opts
  const routes = opts.routes ?? allRoutes()
  const assets = loadAssets()
  const startedAt = Date.now()
  const stats: RequestStats = {byRoute: new Map(), inflight: 0, total: 0}
  const abort = new AbortController()
  const background = new Set<Promise<void>>()
  const tokenHash = opts.token === null ? null : sha256(opts.token)

  let localWrites = 0
  const meterTotals = new MeterTotals()
  const ctx: RouteContext = {
    store: trackWrites(store, () => localWrites++),
    signal: abort.signal,
    log,
    background: (name, fn) => {
      const p = fn(abort.signal)
        .catch(e => log.error(`${name} failed`, {error: toHttpError(e).body.error.message}))
        .finally(() => background.delete(p))
      background.add(p)
    },
  }

  const app = new Hono<Env>({strict: false})

  // ---- accounting, errors, auth (in this order: auth failures are counted and JSON too) ----
  app.use('*', async (c, next) => {
    const t0 = performance.now()
    stats.inflight++
    stats.total++
    try {
      await next()
    } finally {
      stats.inflight--
      const routePattern = c.get('routePattern')
      const key = `${c.req.method} ${routePattern ?? '(other)'} ${c.res.status}`
      const seconds = (performance.now() - t0) / 1000
      const entry = stats.byRoute.get(key) ?? {route: routePattern ?? '(other)', method: c.req.method, status: c.res.status, count: 0, seconds: 0}
      entry.count++
      entry.seconds += seconds
      stats.byRoute.set(key, entry)
      if (opts.accessLog) log.info(`${c.req.method} ${c.req.path} ${c.res.status}`, {ms: Math.round(seconds * 1e4) / 10})
    }
  })

  app.onError((err, c) => {
    const e = toHttpError(err)
    if (e.logged) log.error(`${c.req.method} ${c.req.path} failed`, {status: e.status, error: (err as Error)?.stack ?? String(err)})
    return c.json(e.body, e.status, e.headers)
  })

  app.use('*', async (c, next) => {
    c.header('X-Content-Type-Options', 'nosniff')
    c.header('Referrer-Policy', 'no-referrer')
    checkBrowserOrigin(c, tokenHash === null)
    if (tokenHash === null || PUBLIC_PATHS.has(c.req.path) || assets.has(c.req.path)) return next()
    const header = c.req.header('authorization')
    if (!header) throw unauthorized('this server requires a bearer token')
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
    if (!m) throw unauthorized('the Authorization header must be "Bearer <token>"')
    // Compare digests in constant time: neither the token nor its length leaks through timing.
    if (!timingSafeEqual(sha256(m[1]!), tokenHash)) throw unauthorized('invalid bearer token')
    return next()
  })

  // ---- fixed endpoints ----
  app.get('/healthz', c => {
    c.set('routePattern', '/healthz')
    return c.json({status: 'ok', version: opts.version ?? null, uptime_seconds: Math.round((Date.now() - startedAt) / 1000)})
  })

  let openapi: unknown
  app.get('/openapi.json', c => {
    c.set('routePattern', '/openapi.json')
    openapi ??= buildOpenApi(routes, {version: opts.version ?? '0.0.0', auth: tokenHash !== null})
    return c.json(openapi as object)
  })

  // What this server offers: the dashboard reads it first and skips capabilities not in this build.
  const capabilities: Record<string, boolean> = {}
  for (const r of routes) capabilities[r.capability] = (capabilities[r.capability] ?? true) && r.ready !== false
  app.get('/api/server', c => {
    c.set('routePattern', '/api/server')
    return c.json({
      version: opts.version ?? null,
      started: new Date(startedAt).toISOString(),
      started_ms: startedAt,
      auth: tokenHash !== null,
      capabilities,
      routes: routes.map(r => ({method: r.method, path: r.path, cli: r.cli, ready: r.ready !== false})),
    })
  })

  app.get('/metrics', async c => {
    c.set('routePattern', '/metrics')
    const text = await renderMetrics(store, {stats, startedAt, meterTotals})
    return c.body(text, 200, {'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Cache-Control': 'no-store'})
  })

  // ---- REST routes ----
  // Freshness stamp of the store as this server sees it. SQLite's data_version changes whenever
  // another connection (a `bandwidth sample` process, the bridge) commits; this server's own
  // writes are counted by trackWrites; a reconnect (after BUSY) starts a new connection whose
  // data_version is not comparable, so the retry count is part of the stamp. Remote stores may
  // answer each statement on another connection: there every stamp is unique (no reuse).
  //
  // A stamp is taken after the request arrived and before anything is computed, so an answer is
  // never older than its request. Requests that arrive while a stamp query is pending (not yet
  // started: it waits for the next event-loop turn) share it, which keeps the cost at about one
  // tiny query per burst of requests, not one per request.
  let stampSeq = 0
  const readStamp = async (): Promise<string> => {
    if (!store.isLocal) return `remote ${++stampSeq}`
    const r = await store.get<{data_version: number}>('PRAGMA data_version')
    return `${r?.data_version}/${store.stats.busyRetries}/${localWrites}`
  }
  let pendingStamp: Promise<string> | null = null
  let lastStamp: Promise<unknown> = Promise.resolve()
  const stamp = (): Promise<string> => {
    if (pendingStamp) return pendingStamp
    // Start on the next turn of the event loop, so the requests parsed in this I/O phase join.
    const p = lastStamp
      .then(() => new Promise<void>(r => setImmediate(r)))
      .then(() => {
        // From here on newcomers need a newer stamp: this query runs after all who joined it arrived.
        pendingStamp = null
        return readStamp()
      })
    pendingStamp = p
    lastStamp = p.catch(() => undefined)
    return p
  }
  const flight = new Map<string, Promise<unknown>>()
  const answers = new Map<string, {stamp: string; body: string}>()
  const MAX_ANSWERS = 256
  const postLimit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => {
      throw new HttpError(
        413,
        'PAYLOAD_TOO_LARGE',
        `request body larger than ${MAX_BODY_BYTES} bytes`,
        'split the batch, or pipe large streams into `netmon bandwidth sample --from -`',
      )
    },
  })
  for (const def of routes) {
    const honoPath = def.path.replace(/\{(\w+)\}/g, ':$1')
    const handler = async (c: Ctx) => {
      c.set('routePattern', def.path)
      const params = def.params ? validate(def.params, decodeParams(c.req.param() as Record<string, string>), 'path') : {}
      const q = validate(def.query ?? emptyQuery, flatQuery(c), 'query')
      const b = def.method === 'POST' ? validate(def.body ?? emptyBody, await readJson(c), 'body') : undefined
      const input = {params, query: q, body: b}
      if (def.method !== 'GET') {
        const result = await def.run(ctx, input)
        return c.json(redactDeep(result) as object, (def.statusOf?.(result) ?? def.status ?? 200) as 200)
      }

      const key = `${def.path} ${c.req.url.slice(c.req.url.indexOf(c.req.path))}`
      const now = await stamp()
      const cacheable = def.cacheable?.(input) === true
      const hit = cacheable ? answers.get(key) : undefined
      if (hit && hit.stamp === now) {
        answers.delete(key) // keep the map in least-recently-used order
        answers.set(key, hit)
        return c.body(hit.body, 200, {'Content-Type': 'application/json'})
      }
      // Identical GETs on the same store state share one computation (single flight).
      const fkey = `${key} @${now}`
      let p = flight.get(fkey)
      if (!p) {
        p = def.run(ctx, input).finally(() => flight.delete(fkey))
        flight.set(fkey, p)
      }
      const text = JSON.stringify(redactDeep(await p))
      if (cacheable) {
        answers.set(key, {stamp: now, body: text})
        if (answers.size > MAX_ANSWERS) answers.delete(answers.keys().next().value!)
      }
      return c.body(text, 200, {'Content-Type': 'application/json'})
    }
    if (def.method === 'GET') app.get(honoPath, handler)
    else app.post(honoPath, postLimit, handler)
  }

  // ---- dashboard ----
  const sendAsset = (c: Ctx, a: Asset) => {
    if (c.req.header('if-none-match') === a.etag) return c.body(null, 304, {ETag: a.etag})
    return c.body(new Uint8Array(a.body), 200, {
      'Content-Type': a.type,
      ETag: a.etag,
      'Cache-Control': 'no-cache',
      ...(a.type.startsWith('text/html')
        ? {
            'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
            'X-Frame-Options': 'DENY',
          }
        : {}),
    })
  }
  app.get('*', (c, next) => {
    const a = assets.get(c.req.path)
    if (!a) return next()
    c.set('routePattern', '(static)')
    return sendAsset(c, a)
  })

  // ---- anything else: 405 when the path exists with another method, else 404 ----
  const patterns = routes.map(r => ({method: r.method, re: new RegExp('^' + r.path.replace(/\{\w+\}/g, '[^/]+') + '/?$')}))
  const fixed: Record<string, string> = {'/healthz': 'GET', '/openapi.json': 'GET', '/metrics': 'GET', '/api/server': 'GET'}
  app.all('*', c => {
    const path = c.req.path
    const allow = [
      ...new Set([...patterns.filter(p => p.re.test(path)).map(p => p.method), ...(fixed[path] ? [fixed[path]!] : []), ...(assets.has(path) ? ['GET'] : [])]),
    ]
    if (allow.length > 0 && !allow.includes(c.req.method)) throw methodNotAllowed(c.req.method, path, allow)
    throw routeNotFound(c.req.method, path)
  })

  return {
    app,
    stats,
    startedAt,
    async shutdown(graceMs: number) {
      abort.abort()
      if (background.size === 0) return
      await Promise.race([Promise.allSettled([...background]), new Promise(r => setTimeout(r, graceMs).unref())])
    },
  }
}

/** Routes without parameters or a body still reject any that are sent. */
const emptyQuery = query({})
const emptyBody = body({})

/**
 * Browser attacks on a server without a token (loopback): DNS rebinding (a page whose name now
 * resolves to 127.0.0.1 reads the API) is stopped by accepting only loopback Host names, and
 * cross-site requests (a page POSTing to 127.0.0.1) by refusing an Origin other than this server.
 * JSON-only bodies (readJson) additionally force a CORS preflight, which is never granted.
 */
function checkBrowserOrigin(c: Ctx, loopbackOnly: boolean): void {
  const host = c.req.header('host') ?? ''
  if (loopbackOnly && host !== '' && !isLoopbackHost(hostnameOf(host))) {
    throw new HttpError(
      403,
      'FORBIDDEN',
      `Host "${host}" is not this server`,
      'use http://127.0.0.1:PORT or http://localhost:PORT, or start the server with a token',
    )
  }
  const origin = c.req.header('origin')
  if (origin && origin !== 'null') {
    let originHost: string
    try {
      originHost = new URL(origin).host
    } catch {
      originHost = ''
    }
    if (originHost.toLowerCase() !== host.toLowerCase())
      throw new HttpError(403, 'FORBIDDEN', 'cross-origin requests are not allowed', 'call the API from the dashboard itself or from a script')
  } else if (origin === 'null' && c.req.method !== 'GET' && c.req.method !== 'HEAD') {
    throw new HttpError(403, 'FORBIDDEN', 'cross-origin requests are not allowed', 'call the API from the dashboard itself or from a script')
  }
}

function hostnameOf(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(0, hostHeader.indexOf(']') + 1)
  const i = hostHeader.lastIndexOf(':')
  return i > 0 ? hostHeader.slice(0, i) : hostHeader
}

/** The store as routes see it: every write through it bumps `onWrite` when it ends (the cache's stamp). */
function trackWrites(store: Store, onWrite: () => void): Store {
  const writes = new Set<PropertyKey>(['batch', 'writeTx', 'script'])
  return new Proxy(store, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target)
      if (typeof v !== 'function') return v
      if (!writes.has(prop)) return v.bind(target)
      return async (...args: unknown[]) => {
        try {
          return await v.apply(target, args)
        } finally {
          onWrite()
        }
      }
    },
  })
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest()
}

function decodeParams(p: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(p)) {
    try {
      out[k] = decodeURIComponent(v)
    } catch {
      throw invalidInput(`path ${k}: malformed percent-encoding`)
    }
  }
  return out
}

/** Query parameters as a flat object; a repeated parameter is an error (which one would win?). */
function flatQuery(c: Ctx): Record<string, string> {
  const all = c.req.queries()
  const out: Record<string, string> = {}
  for (const [k, vs] of Object.entries(all)) {
    if (vs.length > 1) throw invalidInput(`query ${k}: given ${vs.length} times`, 'give each parameter once')
    out[k] = vs[0] ?? ''
  }
  return out
}

async function readJson(c: Ctx): Promise<unknown> {
  const text = await c.req.text()
  // An empty body is an empty object: the schema then names the missing fields.
  if (text.trim() === '') return {}
  // Only JSON: a browser cannot send that cross-site without a CORS preflight (which is never
  // granted), so a web page cannot make a visitor's browser write into the store.
  const type = c.req.header('content-type') ?? ''
  if (!/^application\/(?:[\w.+-]*\+)?json\s*(?:;|$)/i.test(type)) {
    throw new HttpError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      `request body must be JSON (got ${type ? `Content-Type ${type.split(';')[0]}` : 'no Content-Type'})`,
      'send Content-Type: application/json',
    )
  }
  try {
    return JSON.parse(text)
  } catch (e) {
    throw invalidInput(`body: malformed JSON (${(e as Error).message})`, 'send one JSON document')
  }
}

export type {HttpStatus}

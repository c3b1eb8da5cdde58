/**
 * The HTTP application in-process (Hono's app.request) over a real libSQL store file: error
 * statuses and bodies, input validation writing nothing, bearer auth, browser-origin checks,
 * single-flight GETs. The same app runs inside `netmon serve` (see test/integration/serve).
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {z} from 'zod'
import {createLogger} from '../../../src/core/log.js'
import {createServeApp, MAX_BODY_BYTES, type ServeApp} from '../../../src/core/serve/app.js'
import {notImplemented} from '../../../src/core/serve/http.js'
import {route, type RouteDef} from '../../../src/core/serve/route.js'
import {allRoutes} from '../../../src/core/serve/routes/index.js'
import {openStore, type Store} from '../../../src/core/store/index.js'

const TOKEN = 'test-token-0123456789abcdef'
let dir: string
let store: Store
const logs: string[] = []
const log = createLogger({write: l => logs.push(l)})

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'netmon-serve-app-'))
  store = await openStore({db: join(dir, 'netmon.db')})
})
afterAll(async () => {
  await store.close()
  rmSync(dir, {recursive: true, force: true})
})

const app = (extra: Partial<Parameters<typeof createServeApp>[0]> = {}): ServeApp => createServeApp({store, token: null, log, ...extra})
const post = (json: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  body: typeof json === 'string' ? json : JSON.stringify(json),
  headers: {'content-type': 'application/json', ...headers},
})
const count = async (table: string) => Number((await store.get<{n: number}>(`SELECT count(*) AS n FROM ${table}`))!.n)

describe('errors are JSON with the right status', () => {
  let a: ServeApp
  beforeAll(() => {
    a = app()
  })
  it('unknown path → 404 naming it', async () => {
    const r = await a.app.request('/api/nope')
    expect(r.status).toBe(404)
    expect((await r.json()) as any).toEqual({error: {code: 'NOT_FOUND', message: 'no route GET /api/nope', hint: expect.any(String)}})
  })
  it('known path, wrong method → 405 with Allow', async () => {
    const r = await a.app.request('/api/network/bandwidth/sample')
    expect(r.status).toBe(405)
    expect(r.headers.get('allow')).toBe('POST')
    expect(((await r.json()) as any).error.code).toBe('METHOD_NOT_ALLOWED')
    const r2 = await a.app.request('/api/network/bandwidth/stats', post({}))
    expect(r2.status).toBe(405)
  })
  it('bad query values and unknown parameters → 400 naming them', async () => {
    for (const [q, text] of [
      ['limit=0', 'query limit: expected 1-50'],
      ['limit=51', 'query limit: expected 1-50'],
      ['limit=ten', 'query limit: expected a whole number'],
      ['sort_by=size', 'query sort_by'],
      ['since=yesterday-ish', 'query since: invalid time'],
      ['lmit=5', 'unknown parameter "lmit"'],
      ['limit=5&limit=6', 'given 2 times'],
    ]) {
      const r = await a.app.request(`/api/network/bandwidth/top-talkers?${q}`)
      expect(r.status, q).toBe(400)
      const b = (await r.json()) as any
      expect(b.error.code).toBe('INVALID_INPUT')
      expect(b.error.message, q).toContain(text)
    }
  })
  it('a body that is not JSON → 415/400, too large → 413', async () => {
    let r = await a.app.request('/api/network/bandwidth/register', {
      method: 'POST',
      body: 'ip=1',
      headers: {'content-type': 'application/x-www-form-urlencoded'},
    })
    expect(r.status).toBe(415)
    r = await a.app.request('/api/network/bandwidth/register', {method: 'POST', body: '{"ip":'})
    expect(r.status).toBe(415) // no content type at all: refused too (cross-site simple requests)
    r = await a.app.request('/api/network/bandwidth/register', post('{"ip":'))
    expect(r.status).toBe(400)
    expect(((await r.json()) as any).error.message).toContain('malformed JSON')
    r = await a.app.request('/api/network/bandwidth/sample', post('[' + ' '.repeat(MAX_BODY_BYTES) + ']'))
    expect(r.status).toBe(413)
    expect(((await r.json()) as any).error.code).toBe('PAYLOAD_TOO_LARGE')
  })
  it('a NetmonError not_found → 404 with its message and hint', async () => {
    const r = await a.app.request('/meters/nosuch/readings')
    expect(r.status).toBe(404)
    expect(((await r.json()) as any).error).toMatchObject({code: 'NOT_FOUND', message: 'no meter "nosuch" in this store'})
  })
  it('an unexpected exception → 500 without internals; 501 for a capability not built in', async () => {
    const routes: RouteDef[] = [
      route({
        method: 'GET',
        path: '/boom',
        operationId: 'boom',
        summary: 'x',
        capability: 'bridge',
        cli: 'none',
        response: z.object({}),
        run: async () => {
          throw new Error('secret path /etc/x')
        },
      }),
      route({
        method: 'GET',
        path: '/later',
        operationId: 'later',
        summary: 'x',
        capability: 'bridge',
        cli: 'none',
        response: z.object({}),
        ready: false,
        run: async () => {
          throw notImplemented('GET /later', 'not yet')
        },
      }),
    ]
    const b = app({routes})
    const r = await b.app.request('/boom')
    expect(r.status).toBe(500)
    const body = (await r.json()) as any
    expect(body.error.code).toBe('INTERNAL')
    expect(JSON.stringify(body)).not.toContain('/etc/x')
    expect(logs.join('\n')).toContain('secret path /etc/x') // the server log has it
    const r2 = await b.app.request('/later')
    expect(r2.status).toBe(501)
    expect(((await r2.json()) as any).error.code).toBe('NOT_IMPLEMENTED')
    const info = (await (await b.app.request('/api/server')).json()) as any
    expect(info.capabilities).toEqual({bridge: false})
  })
})

describe('bad input writes nothing', () => {
  let a: ServeApp
  beforeAll(() => {
    a = app()
  })
  it('register: malformed MAC/IP/hostname → 400, no device', async () => {
    for (const body of [
      {ip: '10.0.0.1', mac: 'zz:zz'},
      {ip: '10.0.0.999', mac: 'aa:bb:cc:dd:ee:01'},
      {ip: '10.0.0.1', mac: 'aa:bb:cc:dd:ee:01', hostname: ''},
      {ip: '10.0.0.1'},
      {ip: '10.0.0.1', mac: 'aa:bb:cc:dd:ee:01', extra: 1},
    ]) {
      const r = await a.app.request('/api/network/bandwidth/register', post(body))
      expect(r.status, JSON.stringify(body)).toBe(400)
    }
    expect(await count('devices')).toBe(0)
  })
  it('sample batch with one bad record → 400 naming it, no sample at all', async () => {
    let r = await a.app.request('/api/network/bandwidth/register', post({ip: '10.0.0.1', mac: 'aa-bb-cc-dd-ee-01'}))
    expect(r.status).toBe(200)
    const before = await count('bw_samples')
    r = await a.app.request(
      '/api/network/bandwidth/sample',
      post({
        samples: [
          {mac: 'AA:BB:CC:DD:EE:01', bytes_sent: 10, bytes_received: 20},
          {mac: 'AA:BB:CC:DD:EE:01', bytes_sent: -5, bytes_received: 1},
        ],
      }),
    )
    expect(r.status).toBe(400)
    expect(((await r.json()) as any).error.message).toMatch(/^body samples\[1\]: "sent" must be a non-negative integer/)
    r = await a.app.request('/api/network/bandwidth/sample', post({mac: 'AA:BB:CC:DD:EE:09', bytes_sent: 1, bytes_received: 1}))
    expect(r.status).toBe(400) // unknown MAC without auto_register
    r = await a.app.request('/api/network/bandwidth/sample', post({}))
    expect(r.status).toBe(400)
    expect(await count('bw_samples')).toBe(before)
    expect(await count('bw_totals')).toBe(1)
  })
  it('latency measure with bad options → 400 before anything is probed or stored', async () => {
    for (const body of [
      {hosts: []},
      {hosts: ['bad host!']},
      {hosts: ['127.0.0.1'], count: 0},
      {hosts: ['127.0.0.1'], interval: 'soon'},
      {hosts: ['127.0.0.1'], count: 100000, interval: 1000},
      {},
    ]) {
      const r = await a.app.request('/api/network/latency/measure', post(body))
      expect(r.status, JSON.stringify(body)).toBe(400)
    }
    // Above the API's 256 targets (one wave): 400, and the hint does not offer the CLI's --max-targets.
    const r = await a.app.request('/api/network/latency/measure', post({hosts: ['127.0.0.0/23'], count: 1}))
    expect(r.status).toBe(400)
    const e = ((await r.json()) as any).error
    expect(e.message).toBe('"127.0.0.0/23" has 510 addresses, more than the cap of 256 targets per run')
    expect(e.hint).toBe('give a smaller range such as 127.0.0.0/24, split them over several runs, or find the live hosts first with `netmon scan`')
    expect(await count('latency_runs')).toBe(0)
  })
})

describe('bearer auth when a token is set', () => {
  let a: ServeApp
  beforeAll(() => {
    a = app({token: TOKEN})
  })
  it('requires the token everywhere except /healthz and the dashboard shell', async () => {
    for (const path of ['/api/network/bandwidth/stats', '/metrics', '/openapi.json', '/api/server', '/meters', '/api/nope']) {
      const r = await a.app.request(path)
      expect(r.status, path).toBe(401)
      expect(r.headers.get('www-authenticate')).toContain('Bearer')
      expect(((await r.json()) as any).error.code).toBe('UNAUTHORIZED')
    }
    expect((await a.app.request('/healthz')).status).toBe(200)
    expect((await a.app.request('/')).status).toBe(200)
    expect((await a.app.request('/app.js')).status).toBe(200)
  })
  it('wrong or malformed credentials → 401; the right token → 200', async () => {
    for (const h of [`Bearer ${TOKEN}x`, `Basic ${TOKEN}`, 'Bearer', `bearer ${TOKEN.slice(1)}`]) {
      expect((await a.app.request('/meters', {headers: {authorization: h}})).status, h).toBe(401)
    }
    expect((await a.app.request('/meters', {headers: {authorization: `Bearer ${TOKEN}`}})).status).toBe(200)
    expect((await a.app.request('/api/network/bandwidth/register', post({ip: '10.0.0.2', mac: 'aa:bb:cc:dd:ee:02'}))).status).toBe(401)
    expect(await store.get('SELECT 1 FROM devices WHERE mac = ?', ['AA:BB:CC:DD:EE:02'])).toBeUndefined()
  })
})

describe('browser attacks on a token-less loopback server', () => {
  let a: ServeApp
  beforeAll(() => {
    a = app()
  })
  it('DNS rebinding: a foreign Host name is refused', async () => {
    const r = await a.app.request('http://evil.example:8080/api/network/bandwidth/stats', {headers: {host: 'evil.example:8080'}})
    expect(r.status).toBe(403)
    expect((await a.app.request('/meters', {headers: {host: 'localhost:8080'}})).status).toBe(200)
    expect((await a.app.request('/meters', {headers: {host: '127.0.0.1:8080'}})).status).toBe(200)
    expect((await a.app.request('/meters', {headers: {host: '[::1]:8080'}})).status).toBe(200)
  })
  it('cross-site requests (foreign Origin) are refused; same-origin ones pass', async () => {
    const r = await a.app.request(
      '/api/network/bandwidth/register',
      post({ip: '10.0.0.3', mac: 'aa:bb:cc:dd:ee:03'}, {host: '127.0.0.1:8080', origin: 'http://evil.example'}),
    )
    expect(r.status).toBe(403)
    expect(await store.get('SELECT 1 FROM devices WHERE mac = ?', ['AA:BB:CC:DD:EE:03'])).toBeUndefined()
    const ok = await a.app.request(
      '/api/network/bandwidth/register',
      post({ip: '10.0.0.3', mac: 'aa:bb:cc:dd:ee:03'}, {host: '127.0.0.1:8080', origin: 'http://127.0.0.1:8080'}),
    )
    expect(ok.status).toBe(200)
  })
})

describe('single flight', () => {
  it('identical concurrent GETs run the core function once, with few store stamps', async () => {
    let calls = 0
    let stamps = 0
    // Count the freshness stamps the server takes.
    const counting = new Proxy(store, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target)
        if (prop === 'get') return (sql: string, args?: unknown[]) => (sql.includes('data_version') && stamps++, v.call(target, sql, args))
        return typeof v === 'function' ? v.bind(target) : v
      },
    })
    let a!: ServeApp
    const routes = [
      route({
        method: 'GET',
        path: '/slow',
        operationId: 'slow',
        summary: 'x',
        capability: 'bridge',
        cli: 'none',
        response: z.object({n: z.number()}),
        run: async () => {
          calls++
          // Hold the answer until all 20 requests are in (and a few more turns for their stamps).
          while (a.stats.inflight < 20) await new Promise(r => setImmediate(r))
          for (let i = 0; i < 20; i++) await new Promise(r => setImmediate(r))
          return {n: calls}
        },
      }),
    ]
    a = createServeApp({store: counting, token: null, log, routes})
    const answers = await Promise.all(Array.from({length: 20}, async () => (await a.app.request('/slow')).json() as Promise<any>))
    expect(calls).toBe(1)
    expect(answers.every(x => x.n === 1)).toBe(true)
    expect(stamps).toBeGreaterThan(0)
    expect(stamps).toBeLessThan(20)
  })
})

describe('answers reused only while the store is unchanged', () => {
  it('a cacheable GET is computed again after a commit by another connection or through the server', async () => {
    let calls = 0
    const routes = [
      route({
        method: 'GET',
        path: '/count',
        operationId: 'count',
        summary: 'x',
        capability: 'bandwidth',
        cli: 'none',
        response: z.object({}),
        cacheable: () => true,
        run: async ({store: s}) => ({calls: ++calls, devices: Number((await s.get<{n: number}>('SELECT count(*) AS n FROM devices'))!.n)}),
      }),
      route({
        method: 'POST',
        path: '/touch',
        operationId: 'touch',
        summary: 'x',
        capability: 'bandwidth',
        cli: 'none',
        response: z.object({}),
        run: async ({store: s}) => (
          await s.batch([{sql: "INSERT INTO bw_settings(key, value) VALUES ('serve-test', '1') ON CONFLICT(key) DO UPDATE SET value = value + 1", args: []}]),
          {}
        ),
      }),
    ]
    const a = app({routes})
    const get = async () => (await a.app.request('/count')).json() as Promise<any>
    const first = await get()
    expect(await get()).toEqual(first) // unchanged store: the same answer, not recomputed
    expect(calls).toBe(1)
    // Another connection to the same file (as a `bandwidth sample` process would be) commits.
    const other = await openStore({db: join(dir, 'netmon.db')})
    try {
      await other.batch([{sql: 'INSERT INTO devices(mac, ip, first_seen, last_seen) VALUES (?, ?, 1, 1)', args: ['AA:BB:CC:00:00:99', '10.0.0.99']}])
    } finally {
      await other.close()
    }
    const second = await get()
    expect(second).toEqual({calls: 2, devices: first.devices + 1})
    // A write through this server (same connection: data_version does not move) also counts.
    expect((await a.app.request('/touch', post({}))).status).toBe(200)
    expect((await get()).calls).toBe(3)
    expect((await get()).calls).toBe(3)
  })
})

describe('every route is described', () => {
  it('has a unique operationId, a CLI equivalent and a response schema', () => {
    const routes = allRoutes()
    expect(new Set(routes.map(r => r.operationId)).size).toBe(routes.length)
    for (const r of routes) {
      expect(r.cli).toMatch(/^netmon /)
      expect(r.response).toBeDefined()
    }
  })
})

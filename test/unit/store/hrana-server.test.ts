/**
 * The Hrana-over-HTTP test server (test/support/hrana-server.ts), driven by the real
 * @libsql/client over http:// and, where the client hides the protocol, by raw pipeline requests.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {createClient, type Client} from '@libsql/client/http'
import Database from 'libsql'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {startHranaServer, type HranaServer, type HranaServerOptions} from '../../support/hrana-server.js'

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

let dir: string
let dbPath: string
const servers: HranaServer[] = []
const clients: Client[] = []

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'netmon-'))
  dbPath = join(dir, 'store.db')
})
afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  for (const s of servers.splice(0)) await s.close()
  rmSync(dir, {recursive: true, force: true})
})

async function serve(opts: Partial<HranaServerOptions> = {}): Promise<HranaServer> {
  const s = await startHranaServer({dbPath, ...opts})
  servers.push(s)
  return s
}
function client(s: HranaServer, extra: {authToken?: string; intMode?: 'number' | 'bigint'} = {}): Client {
  const c = createClient({url: s.url, authToken: s.token, ...extra})
  clients.push(c)
  return c
}
/** One raw `POST /v2/pipeline`; returns status and parsed body. */
async function pipeline(s: HranaServer, body: unknown, token = s.token): Promise<{status: number; json: any}> {
  const res = await fetch(`${s.url}/v2/pipeline`, {
    method: 'POST',
    headers: {'content-type': 'application/json', authorization: `Bearer ${token}`},
    body: JSON.stringify(body),
  })
  return {status: res.status, json: await res.json()}
}
const count = async (c: Client, table = 't') => Number((await c.execute(`SELECT count(*) AS n FROM ${table}`)).rows[0].n)

describe('hrana test server via @libsql/client', () => {
  it('round-trips every value type, including integers beyond 2^53', async () => {
    const s = await serve()
    const c = client(s, {intMode: 'bigint'})
    await c.execute('CREATE TABLE v(id INTEGER PRIMARY KEY, i INTEGER, f REAL, s TEXT, b BLOB, u)')
    const big = 2n ** 62n + 1n
    const ins = await c.execute({
      sql: 'INSERT INTO v VALUES (?, ?, ?, ?, ?, ?)',
      args: [2n ** 60n + 7n, big, 1.5, 'héllo ✓', new Uint8Array([0, 255, 7]), null],
    })
    expect(ins.rowsAffected).toBe(1)
    expect(ins.lastInsertRowid).toBe(2n ** 60n + 7n) // exact, not rounded through a JS number
    // A JS number is sent as a float: INTEGER affinity turns 3 back into an integer, an untyped column keeps REAL.
    await c.execute({sql: 'INSERT INTO v(id, i, f, u) VALUES (1, ?, ?, ?)', args: [3, 2, 3]})
    const rs = await c.execute('SELECT id, i, f, s, b, u, typeof(i) AS ti, typeof(u) AS tu FROM v ORDER BY id')
    expect(rs.columns).toEqual(['id', 'i', 'f', 's', 'b', 'u', 'ti', 'tu'])
    expect(rs.columnTypes.slice(0, 5)).toEqual(['INTEGER', 'INTEGER', 'REAL', 'TEXT', 'BLOB'])
    expect(rs.rows[0]).toMatchObject({id: 1n, i: 3n, f: 2, s: null, b: null, u: 3, ti: 'integer', tu: 'real'})
    const r = rs.rows[1]
    expect([r.id, r.i, r.f, r.s, r.u]).toEqual([2n ** 60n + 7n, big, 1.5, 'héllo ✓', null])
    expect([...new Uint8Array(r.b as ArrayBuffer)]).toEqual([0, 255, 7])
    const n = client(s, {intMode: 'number'})
    expect((await n.execute('SELECT i FROM v WHERE id = 1')).rows[0].i).toBe(3)
    await expect(n.execute('SELECT i FROM v WHERE id > 1')).rejects.toThrow(/safe/i) // client refuses to round
  })

  it('reports SQLite errors with their code, and a failing write batch writes nothing', async () => {
    const s = await serve()
    const c = client(s)
    await c.execute('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL)')
    await c.execute("INSERT INTO t VALUES (1, 'a')")
    await expect(c.execute("INSERT INTO t VALUES (1, 'dup')")).rejects.toMatchObject({code: 'SQLITE_CONSTRAINT'})
    await expect(c.execute('SELEC 1')).rejects.toMatchObject({code: 'SQLITE_ERROR'})
    await expect(c.batch(["INSERT INTO t VALUES (2, 'b')", "INSERT INTO t VALUES (3, 'c')", 'INSERT INTO t VALUES (4, NULL)'], 'write')).rejects.toMatchObject({
      code: 'SQLITE_CONSTRAINT',
    })
    expect(await count(c)).toBe(1)
    const ok = await c.batch(
      [{sql: 'INSERT INTO t VALUES (?, ?)', args: [2, 'b']}, {sql: 'INSERT INTO t VALUES (:id, :v)', args: {id: 3, v: 'c'}}, 'SELECT v FROM t ORDER BY id'],
      'write',
    )
    expect(ok[2].rows.map(r => r.v)).toEqual(['a', 'b', 'c'])
  })

  it('runs interactive transactions: commit, rollback, isolation from other clients', async () => {
    const s = await serve()
    const [a, b] = [client(s), client(s)]
    await a.execute('CREATE TABLE t(v TEXT)')
    const tx = await a.transaction('write')
    await tx.execute("INSERT INTO t VALUES ('x')")
    expect(Number((await tx.execute('SELECT count(*) AS n FROM t')).rows[0].n)).toBe(1) // read-your-writes
    expect(await count(b)).toBe(0) // not visible (and not blocked: WAL readers) before commit
    await tx.commit()
    expect(await count(b)).toBe(1)
    const tx2 = await a.transaction('write')
    await tx2.batch(["INSERT INTO t VALUES ('y')", "INSERT INTO t VALUES ('z')"])
    await tx2.rollback()
    expect(await count(b)).toBe(1)
    await a.execute("INSERT INTO t VALUES ('after')") // the rolled-back stream released the write lock
    expect(await count(b)).toBe(2)
  })

  it('serializes two concurrent interactive write transactions without deadlock or lost rows', async () => {
    const s = await serve()
    const [a, b] = [client(s), client(s)]
    await a.execute('CREATE TABLE t(seq INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)')
    const txA = await a.transaction('write')
    await txA.execute("INSERT INTO t(v) VALUES ('a1')")
    const txB = await b.transaction('write')
    let bStarted = false
    const bFirst = txB.execute("INSERT INTO t(v) VALUES ('b1')").then(() => (bStarted = true))
    await sleep(300)
    expect(bStarted).toBe(false) // B's BEGIN IMMEDIATE waits for A...
    await txA.execute("INSERT INTO t(v) VALUES ('a2')") // ...without blocking A's next request
    await txA.commit()
    await bFirst
    await txB.execute("INSERT INTO t(v) VALUES ('b2')")
    await txB.commit()
    expect((await a.execute('SELECT v FROM t ORDER BY seq')).rows.map(r => r.v)).toEqual(['a1', 'a2', 'b1', 'b2'])
  })

  it('10 clients x 50 concurrent write batches: exact row count, no lost updates', async () => {
    const s = await serve()
    const cs = Array.from({length: 10}, () => client(s))
    await cs[0].batch(
      ['CREATE TABLE r(client INTEGER, n INTEGER, PRIMARY KEY (client, n))', 'CREATE TABLE counter(n INTEGER)', 'INSERT INTO counter VALUES (0)'],
      'write',
    )
    await Promise.all(
      cs.flatMap((c, ci) =>
        Array.from({length: 50}, (_, n) => c.batch([{sql: 'INSERT INTO r VALUES (?, ?)', args: [ci, n]}, 'UPDATE counter SET n = n + 1'], 'write')),
      ),
    )
    expect(await count(cs[0], 'r')).toBe(500)
    expect(Number((await cs[0].execute('SELECT n FROM counter')).rows[0].n)).toBe(500)
  })

  it('supports executeMultiple and migrate', async () => {
    const s = await serve()
    const c = client(s)
    await c.executeMultiple('CREATE TABLE a(x); CREATE TABLE b(y); INSERT INTO a VALUES (1); INSERT INTO a VALUES (2);')
    expect(await count(c, 'a')).toBe(2)
    const res = await c.migrate(['CREATE TABLE p(id INTEGER PRIMARY KEY)', 'CREATE TABLE ch(pid REFERENCES p(id))', 'INSERT INTO ch VALUES (99)'])
    expect(res).toHaveLength(3)
    expect(await count(c, 'ch')).toBe(1)
  })

  it('rejects a wrong or missing token without echoing the right one', async () => {
    const s = await serve({token: 'right-token-3f9a'})
    await expect(client(s, {authToken: 'wrong-token'}).execute('SELECT 1')).rejects.toSatisfy(
      (e: Error) => /Unauthorized/.test(e.message) && !e.message.includes(s.token),
    )
    const anonymous = createClient({url: s.url})
    clients.push(anonymous)
    await expect(anonymous.execute('SELECT 1')).rejects.toThrow(/Unauthorized/)
    const raw = await pipeline(s, {requests: [{type: 'close'}]}, 'nope')
    expect(raw.status).toBe(401)
    expect(JSON.stringify(raw.json)).not.toContain(s.token)
    // The raw log records what clients sent, so other tests can grep it for leaked secrets.
    expect(s.requests.some(r => r.headers.authorization === 'Bearer wrong-token')).toBe(true)
    expect((await fetch(`${s.url}/v2`)).status).toBe(200)
    expect((await fetch(`${s.url}/v3/pipeline`, {method: 'POST', body: '{}'})).status).toBe(404)
    expect(await count(client(s), 'sqlite_master')).toBe(0) // nothing ran
  })

  it('rolls back and unlocks a stream that stays idle too long', async () => {
    const s = await serve({streamIdleMs: 300})
    const [a, b] = [client(s), client(s)]
    await a.execute('CREATE TABLE t(v)')
    const tx = await a.transaction('write')
    await tx.execute("INSERT INTO t VALUES ('lost')")
    await sleep(800)
    await expect(tx.commit()).rejects.toMatchObject({code: 'STREAM_EXPIRED'})
    const t0 = Date.now()
    await b.execute("INSERT INTO t VALUES ('next')") // would wait 5 s for the lock if it were still held
    expect(Date.now() - t0).toBeLessThan(1000)
    expect((await b.execute('SELECT v FROM t')).rows.map(r => r.v)).toEqual(['next'])
  })

  it('gives up with SQLITE_BUSY when another stream holds the write lock too long, reads still pass', async () => {
    const s = await serve({lockTimeoutMs: 300})
    const [a, b] = [client(s), client(s)]
    await a.execute('CREATE TABLE t(v)')
    const tx = await a.transaction('write')
    await tx.execute('INSERT INTO t VALUES (1)')
    await expect(b.execute('INSERT INTO t VALUES (2)')).rejects.toMatchObject({code: 'SQLITE_BUSY'})
    expect(await count(b)).toBe(0)
    await tx.commit()
    await b.execute('INSERT INTO t VALUES (2)')
    expect(await count(b)).toBe(2)
  })

  it('waits out a write lock held by another connection to the file (async retry)', async () => {
    const s = await serve()
    const c = client(s)
    await c.execute('CREATE TABLE t(v)')
    const other = new Database(dbPath) // stands in for another process
    other.exec('BEGIN IMMEDIATE')
    other.exec("INSERT INTO t VALUES ('other')")
    setTimeout(() => other.exec('COMMIT'), 400)
    const t0 = Date.now()
    const mine = c.execute("INSERT INTO t VALUES ('mine')").then(() => Date.now() - t0)
    // The wait must not block the event loop (a SQLite busy_timeout would): reads keep being served.
    await sleep(50)
    const r0 = Date.now()
    expect(await count(client(s))).toBe(0)
    // Blocked, it would wait for the commit (~350 ms from here); 300 ms leaves room for a loaded machine.
    expect(Date.now() - r0).toBeLessThan(300)
    const took = await mine
    expect(took).toBeGreaterThanOrEqual(350)
    expect(took).toBeLessThan(1500)
    await c.batch(["INSERT INTO t VALUES ('again')"], 'write')
    expect(await count(c)).toBe(3)
    other.close()
  })
})

describe('hrana test server, raw protocol', () => {
  it('releases the write lock as soon as a stream is back in autocommit, even if it stays open', async () => {
    const s = await serve({lockTimeoutMs: 500})
    const c = client(s)
    await c.execute('CREATE TABLE t(v)')
    const exec = (sql: string) => ({type: 'execute', stmt: {sql}})
    const r1 = await pipeline(s, {requests: [exec("INSERT INTO t VALUES ('autocommit')")]})
    await c.execute("INSERT INTO t VALUES ('c1')") // would be SQLITE_BUSY after 500 ms if r1 kept the lock
    const r2 = await pipeline(s, {baton: r1.json.baton, requests: [exec('BEGIN IMMEDIATE'), exec("INSERT INTO t VALUES ('tx')"), exec('COMMIT')]})
    expect(r2.json.results.every((r: any) => r.type === 'ok')).toBe(true)
    await c.execute("INSERT INTO t VALUES ('c2')")
    expect(r2.json.baton).toEqual(expect.any(String)) // still open
    expect(await count(c)).toBe(4)
  })

  it('makes a deferred transaction wait for the write lock instead of failing', async () => {
    const s = await serve()
    const c = client(s)
    await c.execute('CREATE TABLE t(v)')
    const tx = await c.transaction('write')
    await tx.execute("INSERT INTO t VALUES ('a')")
    const exec = (sql: string) => ({type: 'execute', stmt: {sql}})
    // BEGIN (deferred) takes no lock; its INSERT must wait for tx rather than get SQLITE_BUSY.
    const deferred = pipeline(s, {requests: [exec('BEGIN'), exec("INSERT INTO t VALUES ('b')"), exec('COMMIT'), {type: 'close'}]})
    await sleep(200)
    await tx.commit()
    expect((await deferred).json.results.map((r: any) => r.type)).toEqual(['ok', 'ok', 'ok', 'ok'])
    expect((await c.execute('SELECT v FROM t ORDER BY rowid')).rows.map(r => r.v)).toEqual(['a', 'b'])
  })

  it('rotates batons, refuses replays, and closes streams', async () => {
    const s = await serve()
    const r1 = await pipeline(s, {baton: null, requests: [{type: 'execute', stmt: {sql: 'BEGIN'}}, {type: 'get_autocommit'}]})
    expect(r1.json).toMatchObject({
      base_url: null,
      results: [
        {type: 'ok', response: {type: 'execute'}},
        {type: 'ok', response: {type: 'get_autocommit', is_autocommit: false}},
      ],
    })
    const baton1 = r1.json.baton as string
    expect(baton1).toMatch(/^[\w-]{20,}$/)
    const r2 = await pipeline(s, {baton: baton1, requests: [{type: 'get_autocommit'}]})
    expect(r2.json.results[0].response.is_autocommit).toBe(false) // same connection
    expect(r2.json.baton).not.toBe(baton1)
    expect((await pipeline(s, {baton: baton1, requests: []})).status).toBe(400) // replay
    const r3 = await pipeline(s, {baton: r2.json.baton, requests: [{type: 'close'}, {type: 'get_autocommit'}]})
    expect(r3.json.baton).toBeNull()
    expect(r3.json.results[1]).toMatchObject({type: 'error', error: {code: 'STREAM_CLOSED'}})
  })

  it('evaluates batch conditions and binds positional, named and stored-SQL statements', async () => {
    const s = await serve()
    const step = (sql: string, condition?: unknown) => ({condition, stmt: {sql}})
    const {json} = await pipeline(s, {
      requests: [
        {type: 'store_sql', sql_id: 7, sql: 'SELECT ?1 + ?2 AS sum'},
        {
          type: 'batch',
          batch: {
            steps: [
              step('SELECT 1'),
              step('SELECT * FROM nope'),
              step('SELECT 2', {
                type: 'and',
                conds: [
                  {type: 'ok', step: 0},
                  {type: 'error', step: 1},
                ],
              }),
              step('SELECT 3', {
                type: 'or',
                conds: [
                  {type: 'ok', step: 1},
                  {type: 'not', cond: {type: 'ok', step: 0}},
                ],
              }),
              step('SELECT 4', {type: 'error', step: 1}),
              step('SELECT 5', {type: 'is_autocommit'}),
              step('SELECT 6', {type: 'ok', step: 3}),
              step('SELECT 7', {type: 'error', step: 3}), // a skipped step is neither ok nor error
            ],
          },
        },
        {
          type: 'execute',
          stmt: {
            sql_id: 7,
            args: [
              {type: 'integer', value: '9007199254740993'},
              {type: 'integer', value: '1'},
            ],
          },
        },
        {
          type: 'execute',
          stmt: {
            sql: "SELECT :a, @b, $c, :d, typeof(:a), typeof(@b), x'00ff'",
            named_args: [
              {name: ':a', value: {type: 'float', value: 3}},
              {name: '@b', value: {type: 'integer', value: '3'}},
              {name: '$c', value: {type: 'blob', base64: 'AQI='}},
              {name: 'd', value: {type: 'null'}},
            ],
          },
        },
        {type: 'execute', stmt: {sql: 'SELECT 1', want_rows: false}},
        {type: 'close_sql', sql_id: 7},
        {type: 'execute', stmt: {sql_id: 7}},
        {type: 'close'},
      ],
    })
    const batch = json.results[1].response.result
    expect(batch.step_results.map((r: unknown) => r !== null)).toEqual([true, false, true, false, true, true, false, false])
    expect(batch.step_errors.map((e: any) => e?.code ?? null)).toEqual([null, 'SQLITE_ERROR', null, null, null, null, null, null])
    expect(json.results[2].response.result.rows).toEqual([[{type: 'integer', value: '9007199254740994'}]])
    expect(json.results[3].response.result.rows).toEqual([
      [
        {type: 'float', value: 3},
        {type: 'integer', value: '3'},
        {type: 'blob', base64: 'AQI='},
        {type: 'null'},
        {type: 'text', value: 'real'},
        {type: 'text', value: 'integer'},
        {type: 'blob', base64: 'AP8='},
      ],
    ])
    expect(json.results[4].response.result).toMatchObject({cols: [{name: '1'}], rows: []})
    expect(json.results[6]).toMatchObject({type: 'error', error: {code: 'SQL_NOT_FOUND'}})
    expect(json.baton).toBeNull()
  })

  it('describes statements', async () => {
    const s = await serve()
    const c = client(s)
    await c.execute('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)')
    const {json} = await pipeline(s, {
      requests: [
        {type: 'describe', sql: "SELECT id, v AS n, 1 FROM t WHERE id = :id OR v = ?3 OR v = ':no?' -- ?9"},
        {type: 'describe', sql: 'INSERT INTO t(v) VALUES (?)'},
        {type: 'describe', sql: 'EXPLAIN SELECT 1'},
        {type: 'close'},
      ],
    })
    expect(json.results[0].response.result).toEqual({
      params: [{name: ':id'}, {name: null}, {name: '?3'}],
      cols: [
        {name: 'id', decltype: 'INTEGER'},
        {name: 'n', decltype: 'TEXT'},
        {name: '1', decltype: null},
      ],
      is_explain: false,
      is_readonly: true,
    })
    expect(json.results[1].response.result).toMatchObject({params: [{name: null}], cols: [], is_readonly: false})
    expect(json.results[2].response.result).toMatchObject({is_explain: true, is_readonly: true})
  })

  it('recovers a stream whose write failed with SQLITE_BUSY_SNAPSHOT once it rolls back', async () => {
    const s = await serve()
    const c = client(s)
    await c.execute('CREATE TABLE t(v)')
    const r1 = await pipeline(s, {
      requests: [
        {type: 'execute', stmt: {sql: 'BEGIN'}},
        {type: 'execute', stmt: {sql: 'SELECT count(*) FROM t'}},
      ],
    })
    await c.execute("INSERT INTO t VALUES ('other')") // makes r1's read snapshot stale
    const exec = (sql: string) => ({type: 'execute', stmt: {sql}})
    const r2 = await pipeline(s, {
      baton: r1.json.baton,
      requests: [
        exec("INSERT INTO t VALUES ('stale')"),
        exec('ROLLBACK'),
        // Same stream again, inside a transaction (where nothing is retried): the binding leaves the
        // BUSY statement pending, so without a fresh connection this INSERT fails too.
        exec('BEGIN'),
        exec("INSERT INTO t VALUES ('fresh')"),
        exec('COMMIT'),
        {type: 'close'},
      ],
    })
    expect(r2.json.results.map((r: any) => r.type)).toEqual(['error', 'ok', 'ok', 'ok', 'ok', 'ok'])
    expect(r2.json.results[0].error.code).toBe('SQLITE_BUSY')
    expect((await c.execute('SELECT v FROM t ORDER BY rowid')).rows.map(r => r.v)).toEqual(['other', 'fresh'])
  })

  it('refuses a request body above 1 MiB with HTTP 413, as libSQL does, and executes nothing', async () => {
    const s = await serve()
    const c = client(s)
    await c.execute('CREATE TABLE t(v)')
    const insert = (bytes: number) => ({
      requests: [{type: 'execute', stmt: {sql: 'INSERT INTO t VALUES (?)', args: [{type: 'text', value: 'x'.repeat(bytes)}]}}],
    })
    const big = await pipeline(s, insert(1024 * 1024))
    expect(big.status).toBe(413)
    expect(big.json.message).toMatch(/exceeds the limit of 1048576 bytes/)
    const small = await pipeline(s, insert(1000 * 1000))
    expect(small.status).toBe(200)
    expect(await count(c)).toBe(1)
  })
})

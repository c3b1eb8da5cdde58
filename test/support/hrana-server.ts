/**
 * A small "Hrana over HTTP" (sqld HTTP API v2) server for tests, backed by a real SQLite file
 * through the `libsql` package (better-sqlite3-compatible binding). No sqld is installable here,
 * so remote-store tests point `@libsql/client` at this instead.
 *
 * Spec: tursodatabase/libsql docs/HTTP_V2_SPEC.md (pipeline, batons) and docs/HRANA_3_SPEC.md
 * (Stmt, StmtResult, Value, batch conditions, describe). JSON encoding only; no cursors (v3).
 *
 * Design, and the traps it avoids (measured with libsql 0.5.29):
 * - A stream = one SQLite connection, addressed by an unguessable baton that is replaced after
 *   every request (the old one stops working). Idle streams are closed (and rolled back).
 * - Every stream lives in this one Node process, so a SQLite busy_timeout would block the event
 *   loop while the lock holder (another stream) waits for its next HTTP request: deadlock.
 *   Connections therefore use busy timeout 0, and writers are serialized by an async mutex
 *   (`WriteLock`): taken before a statement that may write, released when the connection is back
 *   in autocommit. Waiting is async and bounded (→ SQLITE_BUSY), so other streams keep running.
 * - After any SQLITE_BUSY* error the binding leaves the failed statement "in progress" until GC;
 *   the connection then keeps an old snapshot and every later write fails (even after ROLLBACK).
 *   So a connection that saw BUSY is closed and reopened as soon as it is in autocommit, and
 *   statements are prepared per call, never cached. Same for `run()` on a row-returning
 *   statement (it leaves a read open), so those always go through `all()`.
 * - `close()` on a connection inside a transaction did not release its write lock here, so a
 *   closing/expiring stream issues ROLLBACK first.
 * - The file is switched to WAL (as sqld does): readers never block the single writer, so only
 *   writers need the mutex. BUSY from *other processes* is retried with a short async backoff.
 */
import {createHash, randomBytes, timingSafeEqual} from 'node:crypto'
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import Database from 'libsql'

export interface HranaServer {
  url: string // http://127.0.0.1:PORT
  port: number
  token: string
  /** Raw log of every HTTP request, so tests can grep for secrets. */
  requests: Array<{path: string; body: string; headers: Record<string, string | string[] | undefined>; bytes: number; status?: number}>
  close(): Promise<void>
}

export interface HranaServerOptions {
  dbPath: string
  /** Required bearer token; default random. */
  token?: string
  /** Streams idle this long are closed and rolled back (default 10 s). */
  streamIdleMs?: number
  /** How long a statement waits for another stream's write transaction (default 5 s). */
  lockTimeoutMs?: number
  /**
   * Largest request body accepted (default 1 MiB, libSQL's own default); larger → HTTP 413, like
   * the real server, so a client that sends unbounded statements fails here too.
   */
  maxBodyBytes?: number
  /** Delay before answering each request, standing in for a network round trip (default 0). */
  latencyMs?: number
}

type Conn = InstanceType<typeof Database>
type Value = {type: 'null'} | {type: 'integer'; value: string} | {type: 'float'; value: number} | {type: 'text'; value: string} | {type: 'blob'; base64: string}
interface Stmt {
  sql?: string | null
  sql_id?: number | null
  args?: Value[]
  named_args?: Array<{name: string; value: Value}>
  want_rows?: boolean
}
type Cond = {type: 'ok' | 'error'; step: number} | {type: 'not'; cond: Cond} | {type: 'and' | 'or'; conds: Cond[]} | {type: 'is_autocommit'}
interface StmtResult {
  cols: Array<{name: string; decltype: string | null}>
  rows: Value[][]
  affected_row_count: number
  last_insert_rowid: string | null
}
interface Stream {
  db: Conn
  sqls: Map<number, string>
  holdsLock: boolean
  poisoned: boolean
  closed: boolean
  timer?: NodeJS.Timeout
}

/** An error that reaches the client as Hrana `{message, code}`. */
class HranaError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message)
  }
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))
const isBusy = (e: unknown) => /^SQLITE_BUSY/.test(String((e as {code?: unknown})?.code ?? ''))

/** FIFO async mutex with an owner (a stream); waiting never blocks the event loop. */
class WriteLock {
  private owner: Stream | null = null
  private waiters: Array<{s: Stream; resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout}> = []

  async acquire(s: Stream, deadline: number): Promise<void> {
    if (this.owner === s) return
    if (this.owner === null) {
      this.owner = s
    } else {
      await new Promise<void>((resolve, reject) => {
        const w = {
          s,
          resolve,
          reject,
          timer: setTimeout(
            () => {
              this.waiters.splice(this.waiters.indexOf(w), 1)
              reject(new HranaError('database is locked (another stream holds a write transaction)', 'SQLITE_BUSY'))
            },
            Math.max(0, deadline - Date.now()),
          ),
        }
        this.waiters.push(w)
      })
    }
    s.holdsLock = true
  }

  release(s: Stream): void {
    if (this.owner !== s) return
    s.holdsLock = false
    const next = this.waiters.shift()
    this.owner = next?.s ?? null
    if (next) {
      clearTimeout(next.timer)
      next.resolve()
    }
  }

  rejectAll(): void {
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer)
      w.reject(new HranaError('server is shutting down', 'SERVER_CLOSED'))
    }
  }
}

/**
 * Whether a statement may write, i.e. must hold the write mutex. Conservative: anything not
 * obviously a read. A misclassified write still works: it gets SQLITE_BUSY, and in autocommit is
 * retried with the mutex held (see `guarded`).
 */
function mayWrite(sql: string): boolean {
  const s = sql.replace(/^(\s+|--[^\n]*\n?|\/\*[\s\S]*?\*\/)+/, '')
  if (/^WITH\b/i.test(s)) return /\b(INSERT|UPDATE|DELETE|REPLACE)\b/i.test(s)
  if (/^PRAGMA\b/i.test(s)) return s.includes('=')
  return !/^((SELECT|VALUES|EXPLAIN|COMMIT|END|ROLLBACK|RELEASE|SAVEPOINT)\b|BEGIN(\s+DEFERRED)?(\s+TRANSACTION)?\s*(;\s*)?$)/i.test(s)
}

/** Parameter names as sqlite3_bind_parameter_name reports them (index 1 = element 0). */
function paramNames(sql: string): Array<string | null> {
  const names: Array<string | null> = []
  const re = /'(?:[^']|'')*'|"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\]|--[^\n]*|\/\*[\s\S]*?\*\/|\?(\d*)|([:@$][A-Za-z0-9_]+)/g
  for (const m of sql.matchAll(re)) {
    if (m[1] === '')
      names.push(null) // `?` takes the next index
    else if (m[1] !== undefined) {
      const i = Number(m[1])
      while (names.length < i) names.push(null)
      names[i - 1] = `?${m[1]}`
    } else if (m[2] !== undefined && !names.includes(m[2])) names.push(m[2])
  }
  return names
}

function decodeValue(v: Value): unknown {
  switch (v?.type) {
    case 'null':
      return null
    case 'integer':
      return BigInt(v.value)
    case 'float':
      return Number(v.value) // integral floats stay REAL; INTEGER affinity converts them (as in sqld)
    case 'text':
      return v.value
    case 'blob':
      return Buffer.from(v.base64, 'base64')
    default:
      throw new HranaError(`invalid value ${JSON.stringify(v)}`, 'INVALID_VALUE')
  }
}

/** Rows are read with safeIntegers, so bigint = INTEGER and number = REAL, exactly. */
function encodeValue(v: unknown): Value {
  if (v === null || v === undefined) return {type: 'null'}
  if (typeof v === 'bigint') return {type: 'integer', value: v.toString()}
  if (typeof v === 'number') return {type: 'float', value: v}
  if (typeof v === 'string') return {type: 'text', value: v}
  if (v instanceof Uint8Array) return {type: 'blob', base64: Buffer.from(v).toString('base64')}
  throw new HranaError(`unsupported column value of type ${typeof v}`, 'INTERNAL')
}

/** SQLite's primary code: the binding reports extended ones (SQLITE_CONSTRAINT_PRIMARYKEY). */
function toProtoError(e: unknown): {message: string; code: string} {
  const err = e as {message?: string; code?: unknown}
  const code = typeof err?.code === 'string' ? (err.code.match(/^SQLITE_[A-Z]+/)?.[0] ?? err.code) : 'INTERNAL'
  return {message: String(err?.message ?? e), code}
}

export async function startHranaServer(opts: HranaServerOptions): Promise<HranaServer> {
  const token = opts.token ?? randomBytes(24).toString('base64url')
  const idleMs = opts.streamIdleMs ?? 10_000
  const lockTimeoutMs = opts.lockTimeoutMs ?? 5_000
  const maxBodyBytes = opts.maxBodyBytes ?? 1024 * 1024
  const latencyMs = opts.latencyMs ?? 0
  const streams = new Map<string, Stream>() // baton → stream
  const lock = new WriteLock()
  const requests: HranaServer['requests'] = []
  const open = () => new Database(opts.dbPath, {timeout: 0}) // busy timeout 0: see header
  const setup = open()
  setup.exec('PRAGMA journal_mode=WAL')
  setup.close()

  function closeStream(s: Stream): void {
    if (s.closed) return
    s.closed = true
    clearTimeout(s.timer)
    try {
      if (s.db.inTransaction) s.db.exec('ROLLBACK') // before close, so no lock outlives the stream
    } catch {}
    s.db.close()
    lock.release(s)
  }

  function reopen(s: Stream): void {
    s.db.close()
    s.db = open()
    s.poisoned = false
  }

  /** Back in autocommit: drop the mutex, and swap out a connection that saw BUSY. */
  function settle(s: Stream): void {
    if (s.closed || s.db.inTransaction) return
    if (s.poisoned) reopen(s)
    lock.release(s)
  }

  /**
   * Runs `fn` (SQL on `s.db`) under the write mutex if needed. BUSY from elsewhere is retried in
   * autocommit only when `retry` is safe, i.e. `fn` is one statement (BUSY = nothing happened).
   */
  async function guarded<T>(s: Stream, write: boolean, fn: () => T, retry = true): Promise<T> {
    const deadline = Date.now() + lockTimeoutMs
    if (write) await lock.acquire(s, deadline)
    for (let attempt = 0; ; attempt++) {
      try {
        const out = fn()
        settle(s)
        return out
      } catch (e) {
        if (isBusy(e)) s.poisoned = true
        // Inside a transaction the client must roll back; retrying only makes sense in autocommit.
        if (!isBusy(e) || !retry || s.db.inTransaction || Date.now() >= deadline) {
          settle(s)
          throw e
        }
        reopen(s)
        await lock.acquire(s, deadline) // an in-process writer: wait for it; another process: back off
        await sleep(Math.min(5 * 2 ** attempt, 100))
      }
    }
  }

  function sqlOf(s: Stream, r: {sql?: string | null; sql_id?: number | null}): string {
    if (typeof r.sql === 'string') return r.sql
    const sql = r.sql_id != null ? s.sqls.get(r.sql_id) : undefined
    if (sql === undefined) throw new HranaError(`SQL text ${r.sql_id} not found`, 'SQL_NOT_FOUND')
    return sql
  }

  async function execute(s: Stream, stmt: Stmt): Promise<StmtResult> {
    const sql = sqlOf(s, stmt)
    const named = stmt.named_args ?? []
    if (named.length > 0 && (stmt.args ?? []).length > 0) throw new HranaError('mixing positional and named arguments is not supported', 'ARGS_INVALID')
    // The binding matches object keys without the sigil (a key ":a" silently binds NULL).
    const args =
      named.length > 0 ? Object.fromEntries(named.map(a => [a.name.replace(/^[:@$]/, ''), decodeValue(a.value)])) : (stmt.args ?? []).map(decodeValue)
    return guarded(s, mayWrite(sql), () => {
      const st = s.db.prepare(sql)
      const lastRowid = (): string => String((s.db.prepare('SELECT last_insert_rowid()').raw(true).safeIntegers(true).all() as bigint[][])[0][0])
      if (!st.reader) {
        const info = st.run(args)
        // run() returns the rowid as a JS number: above 2^53 it is rounded, so ask SQLite.
        const rowid = Number.isSafeInteger(info.lastInsertRowid) ? String(info.lastInsertRowid) : lastRowid()
        return {cols: [], rows: [], affected_row_count: info.changes, last_insert_rowid: rowid}
      }
      const cols = st.columns().map(c => ({name: c.name, decltype: c.type}))
      const rows = st.raw(true).safeIntegers(true).all(args) as unknown[][]
      let affected = 0
      let rowid: string | null = null
      if (/\bRETURNING\b/i.test(sql)) {
        affected = Number((s.db.prepare('SELECT changes()').raw(true).all() as number[][])[0][0])
        rowid = lastRowid()
      }
      return {cols, rows: stmt.want_rows === false ? [] : rows.map(r => r.map(encodeValue)), affected_row_count: affected, last_insert_rowid: rowid}
    })
  }

  function evalCond(c: Cond, s: Stream, results: Array<StmtResult | null>, errors: unknown[]): boolean {
    switch (c.type) {
      case 'ok':
        return results[c.step] != null
      case 'error':
        return errors[c.step] != null
      case 'not':
        return !evalCond(c.cond, s, results, errors)
      case 'and':
        return c.conds.every(x => evalCond(x, s, results, errors))
      case 'or':
        return c.conds.some(x => evalCond(x, s, results, errors))
      case 'is_autocommit':
        return !s.db.inTransaction
      default:
        throw new HranaError(`unknown condition ${JSON.stringify(c)}`, 'INVALID_CONDITION')
    }
  }

  // One pipeline entry → its StreamResponse; a throw becomes a `{type:"error"}` result.
  async function handle(s: Stream, req: any): Promise<object> {
    if (s.closed) throw new HranaError('stream is closed', 'STREAM_CLOSED')
    switch (req?.type) {
      case 'close':
        closeStream(s)
        return {type: 'close'}
      case 'execute':
        return {type: 'execute', result: await execute(s, req.stmt)}
      case 'batch': {
        const steps: Array<{condition?: Cond | null; stmt: Stmt}> = req.batch?.steps ?? []
        const results: Array<StmtResult | null> = steps.map(() => null)
        const errors: Array<{message: string; code: string} | null> = steps.map(() => null)
        for (const [i, step] of steps.entries()) {
          if (step.condition && !evalCond(step.condition, s, results, errors)) continue
          try {
            results[i] = await execute(s, step.stmt)
          } catch (e) {
            errors[i] = toProtoError(e)
          }
        }
        return {type: 'batch', result: {step_results: results, step_errors: errors}}
      }
      case 'sequence': {
        const sql = sqlOf(s, req)
        // A script: assume it writes; never retried, as its first statements may have committed.
        await guarded(s, true, () => s.db.exec(sql), false)
        return {type: 'sequence'}
      }
      case 'describe': {
        const sql = sqlOf(s, req)
        const st = s.db.prepare(sql) // prepared, never stepped: leaves nothing in progress
        const body = sql.replace(/^(\s+|--[^\n]*\n?|\/\*[\s\S]*?\*\/)+/, '')
        return {
          type: 'describe',
          result: {
            params: paramNames(sql).map(name => ({name})),
            cols: st.columns().map(c => ({name: c.name, decltype: c.type})),
            is_explain: /^EXPLAIN\b/i.test(body),
            is_readonly: !mayWrite(sql),
          },
        }
      }
      case 'store_sql':
        if (s.sqls.has(req.sql_id)) throw new HranaError(`SQL text ${req.sql_id} already stored`, 'SQL_EXISTS')
        s.sqls.set(req.sql_id, String(req.sql))
        return {type: 'store_sql'}
      case 'close_sql':
        s.sqls.delete(req.sql_id)
        return {type: 'close_sql'}
      case 'get_autocommit':
        return {type: 'get_autocommit', is_autocommit: !s.db.inTransaction}
      default:
        throw new HranaError(`unknown request type ${JSON.stringify(req?.type)}`, 'INVALID_REQUEST')
    }
  }

  function send(res: ServerResponse, status: number, body: unknown): void {
    // Exactly "application/json": the client only parses error bodies with that content type.
    res.writeHead(status, {'content-type': 'application/json'}).end(JSON.stringify(body))
  }

  const tokenHash = createHash('sha256').update(`Bearer ${token}`).digest()
  const authorized = (req: IncomingMessage) =>
    timingSafeEqual(
      createHash('sha256')
        .update(req.headers.authorization ?? '')
        .digest(),
      tokenHash,
    )

  async function pipeline(body: string, res: ServerResponse): Promise<void> {
    let parsed: {baton?: string | null; requests?: unknown[]}
    try {
      parsed = JSON.parse(body)
      if (!Array.isArray(parsed.requests)) throw new Error('requests must be an array')
    } catch (e) {
      return send(res, 400, {message: `invalid pipeline body: ${(e as Error).message}`, code: 'PROTO_ERROR'})
    }
    let s: Stream | undefined
    if (parsed.baton != null) {
      s = streams.get(parsed.baton)
      // Each baton is good for one request: a replay or an expired stream is refused.
      if (!s) return send(res, 400, {message: 'stream expired or invalid baton', code: 'STREAM_EXPIRED'})
      streams.delete(parsed.baton)
      clearTimeout(s.timer) // not idle while a request runs (it may be waiting for the mutex)
    } else {
      s = {db: open(), sqls: new Map(), holdsLock: false, poisoned: false, closed: false}
    }
    const results: object[] = []
    for (const r of parsed.requests) {
      try {
        results.push({type: 'ok', response: await handle(s, r)})
      } catch (e) {
        results.push({type: 'error', error: toProtoError(e)})
      }
    }
    let baton: string | null = null
    if (!s.closed) {
      baton = randomBytes(24).toString('base64url')
      streams.set(baton, s)
      const stream = s
      s.timer = setTimeout(() => {
        streams.delete(baton!)
        closeStream(stream)
      }, idleMs).unref()
    }
    send(res, 200, {baton, base_url: null, results})
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size <= maxBodyBytes) chunks.push(c)
    })
    req.on('end', async () => {
      if (latencyMs > 0) await sleep(latencyMs)
      const path = req.url ?? '/'
      if (size > maxBodyBytes) {
        requests.push({path, body: '', headers: {...req.headers}, status: 413, bytes: size})
        return send(res, 413, {message: `request body of ${size} bytes exceeds the limit of ${maxBodyBytes} bytes`, code: 'PAYLOAD_TOO_LARGE'})
      }
      const body = Buffer.concat(chunks).toString('utf8')
      requests.push({path, body, headers: {...req.headers}, bytes: size})
      const route = `${req.method} ${path.replace(/\/+$/, '')}`
      if (route === 'GET /v2') return send(res, 200, {version: 2}) // version probe
      if (route !== 'POST /v2/pipeline') return send(res, 404, {message: `not found: ${req.method} ${path}`, code: 'NOT_FOUND'})
      // "Unauthorized" in the message: netmon maps /unauthori[sz]ed/ to a credentials error.
      if (!authorized(req)) return send(res, 401, {message: 'Unauthorized: missing or invalid bearer token', code: 'UNAUTHORIZED'})
      pipeline(body, res).catch(e => {
        if (!res.headersSent) send(res, 500, {message: String((e as Error)?.message ?? e), code: 'INTERNAL'})
      })
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const port = (server.address() as AddressInfo).port

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    token,
    requests,
    async close() {
      lock.rejectAll()
      for (const s of streams.values()) closeStream(s)
      streams.clear()
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    },
  }
}

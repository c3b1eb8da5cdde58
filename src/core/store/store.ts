/**
 * The store: the only module that talks to @libsql/client (docs/STORE.md).
 *
 * Facts this is built on (shared/FACTS.md, measured on these machines):
 * - @libsql/client has no busy timeout by default; `createClient({timeout})` is the only setting
 *   that reaches every pooled connection. Local clients use one connection (`concurrency: 1`) so
 *   per-connection pragmas (synchronous, foreign_keys) stick; they are re-applied after reconnect.
 * - batch() defaults to "deferred": every write here uses "write" (BEGIN IMMEDIATE), otherwise a
 *   read-then-write fails with SQLITE_BUSY_SNAPSHOT, which no timeout fixes.
 * - libsql-client-ts#352: after one SQLITE_BUSY the connection stays broken ("SQL statements in
 *   progress") and an autocommit write may report success without saving. So: no autocommit
 *   writes, and on any BUSY the client is reconnected before the bounded, jittered retry.
 * - The root entry costs ~85 ms more to import than the file-only entry: pick it by URL, lazily.
 */
import {closeSync, fstatSync, openSync, readSync} from 'node:fs'
import type {Client, InArgs, InStatement, ResultSet, Transaction} from '@libsql/client'
import {NetmonError} from '../errors.js'
import {redact} from '../secrets.js'
import type {StoreLocation} from './location.js'
import {prepareLocalPath} from './location.js'

export type Row = Record<string, unknown>
export type Stmt = InStatement
export interface ExecResult {
  rowsAffected: number
  lastInsertRowid: bigint | undefined
}

/** Read/write handle inside a write transaction (BEGIN IMMEDIATE). */
export interface Tx {
  query<T = Row>(sql: string, args?: InArgs): Promise<T[]>
  get<T = Row>(sql: string, args?: InArgs): Promise<T | undefined>
  execute(sql: string, args?: InArgs): Promise<ExecResult>
  batch(stmts: Stmt[]): Promise<void>
}

export interface StoreStats {
  busyRetries: number
}

const BUSY_TIMEOUT_MS = 10_000
const MAX_ATTEMPTS = 8
/**
 * A remote server answers BUSY after its own (short, unknown) lock wait, so 8 attempts could give
 * up within seconds: remote stores retry by time instead, as long as 8 local attempts can take.
 */
const REMOTE_RETRY_BUDGET_MS = MAX_ATTEMPTS * BUSY_TIMEOUT_MS

export function toRows<T = Row>(rs: ResultSet): T[] {
  const cols = rs.columns
  const out: T[] = new Array(rs.rows.length)
  for (let r = 0; r < rs.rows.length; r++) {
    const row = rs.rows[r]!
    const obj: Row = {}
    for (let c = 0; c < cols.length; c++) obj[cols[c]!] = row[c]
    out[r] = obj as T
  }
  return out
}

function errCode(e: unknown): string {
  const any = e as {code?: string; extendedCode?: string; message?: string}
  return `${any?.code ?? ''} ${any?.extendedCode ?? ''}`
}

export function isBusy(e: unknown): boolean {
  const msg = String((e as Error)?.message ?? '')
  return /SQLITE_BUSY|SQLITE_LOCKED/.test(errCode(e)) || /database is locked|SQL statements in progress|SQLITE_BUSY/.test(msg)
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

/** Serializes work on a single-connection client (an open transaction holds the only connection). */
class Lock {
  private tail: Promise<void> = Promise.resolve()
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn)
    this.tail = result.then(
      () => undefined,
      () => undefined,
    )
    return result
  }
}

/**
 * One lock per local file per process. SQLite's busy handler waits synchronously: if two clients
 * in one process used the same file and one held a write transaction across an await, the
 * other's busy wait would freeze the event loop until its timeout (measured: 5 stores opening a
 * new file at once took 40 s). Serializing all local clients of a file within the process avoids it.
 */
const fileLocks = new Map<string, Lock>()
function lockFor(location: StoreLocation): Lock {
  if (location.kind !== 'local') return new Lock()
  let l = fileLocks.get(location.url)
  if (!l) fileLocks.set(location.url, (l = new Lock()))
  return l
}

export class Store {
  readonly location: StoreLocation
  readonly stats: StoreStats = {busyRetries: 0}
  /** Called on each BUSY retry (the daemon logs these). */
  onRetry?: (attempt: number, error: unknown) => void
  private client: Client
  private readonly lock: Lock
  private closed = false

  private constructor(location: StoreLocation, client: Client) {
    this.location = location
    this.client = client
    this.lock = lockFor(location)
  }

  static async connect(location: StoreLocation): Promise<Store> {
    let client: Client
    // Loading libsql's native module calls process.report.getReport() (@neon-rs/load), which does a
    // blocking reverse-DNS lookup of every open socket unless the report excludes the network: a
    // scan with probe sockets open would send PTR queries to the system resolver (shared/FACTS.md).
    excludeNetworkFromReports()
    try {
      if (location.kind === 'local') {
        prepareLocalPath(location.path!)
        const {createClient} = await import('@libsql/client/sqlite3')
        client = createClient({url: location.url, timeout: BUSY_TIMEOUT_MS, concurrency: 1, intMode: 'number'})
      } else {
        const isHttp = /^https?:/i.test(location.url)
        const mod = isHttp ? await import('@libsql/client/http') : await import('@libsql/client')
        client = mod.createClient({url: location.url, authToken: location.authToken, intMode: 'number'})
      }
    } catch (e) {
      throw storeError(e, location, 'open')
    }
    const store = new Store(location, client)
    await store.applyConnectionPragmas()
    return store
  }

  get isLocal(): boolean {
    return this.location.kind === 'local'
  }

  /** Per-connection settings for local files; lost on reconnect, so re-applied there. */
  private async applyConnectionPragmas(): Promise<void> {
    if (!this.isLocal) return
    await this.retrying('configure', async () => {
      await this.client.execute('PRAGMA synchronous=NORMAL')
      await this.client.execute('PRAGMA foreign_keys=ON')
    })
  }

  /**
   * Runs `fn`, and on SQLITE_BUSY reconnects (libsql-client-ts#352) and retries with capped
   * exponential backoff + jitter. Non-BUSY errors are mapped to NetmonError at once.
   */
  private async retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const start = Date.now()
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn()
      } catch (e) {
        if (e instanceof NetmonError) throw e
        const exhausted = this.isLocal ? attempt >= MAX_ATTEMPTS : Date.now() - start >= REMOTE_RETRY_BUDGET_MS
        if (!isBusy(e) || exhausted) throw storeError(e, this.location, what, attempt)
        this.stats.busyRetries++
        this.onRetry?.(attempt, e)
        if (this.isLocal) {
          await this.client.reconnect()
          await this.client.execute('PRAGMA synchronous=NORMAL')
          await this.client.execute('PRAGMA foreign_keys=ON')
        }
        await sleep(Math.min(2000, 20 * 2 ** attempt) * (0.5 + Math.random()))
      }
    }
  }

  private guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new NetmonError('internal', 'the store is closed'))
    return this.lock.run(() => this.retrying(what, fn))
  }

  /** A read. Rows come back as plain objects keyed by column name. */
  async query<T = Row>(sql: string, args: InArgs = []): Promise<T[]> {
    return this.guard('query', async () => toRows<T>(await this.client.execute({sql, args})))
  }

  async get<T = Row>(sql: string, args: InArgs = []): Promise<T | undefined> {
    const rows = await this.query<T>(sql, args)
    return rows[0]
  }

  /** Several reads in one consistent snapshot (one round trip remotely). */
  async readBatch(stmts: Stmt[]): Promise<Row[][]> {
    return this.guard('read', async () => (await this.client.batch(stmts, 'read')).map(rs => toRows(rs)))
  }

  /** Atomic write: all statements commit together or none does (BEGIN IMMEDIATE … COMMIT). */
  async batch(stmts: Stmt[]): Promise<ExecResult[]> {
    if (stmts.length === 0) return []
    return this.guard('write', async () =>
      (await this.client.batch(stmts, 'write')).map(rs => ({rowsAffected: rs.rowsAffected, lastInsertRowid: rs.lastInsertRowid})),
    )
  }

  /**
   * Read-then-write in one BEGIN IMMEDIATE transaction. `fn` may run more than once (on BUSY it
   * is retried from the start), so it must only touch the store through `tx`. Remote stores
   * do this over one Hrana stream; keep `fn` short.
   */
  async writeTx<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.guard('write', async () => {
      const t: Transaction = await this.client.transaction('write')
      try {
        const tx: Tx = {
          query: async <R = Row>(sql: string, args: InArgs = []) => toRows<R>(await t.execute({sql, args})),
          get: async <R = Row>(sql: string, args: InArgs = []) => toRows<R>(await t.execute({sql, args}))[0],
          execute: async (sql: string, args: InArgs = []) => {
            const rs = await t.execute({sql, args})
            return {rowsAffected: rs.rowsAffected, lastInsertRowid: rs.lastInsertRowid}
          },
          batch: async (stmts: Stmt[]) => {
            if (stmts.length > 0) await t.batch(stmts)
          },
        }
        const out = await fn(tx)
        await t.commit()
        return out
      } catch (e) {
        try {
          await t.rollback()
        } catch {
          /* already rolled back */
        }
        throw e
      } finally {
        t.close()
      }
    })
  }

  /** Runs a script of several statements without a transaction (PRAGMAs, maintenance). */
  async script(sql: string): Promise<void> {
    await this.guard('script', () => this.client.executeMultiple(sql))
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.lock.run(async () => this.client.close())
  }
}

/** SQLITE_CORRUPT from the client, or a NetmonError made from one. */
export function isCorruption(e: unknown): boolean {
  const any = e as {code?: string; message?: string; cause?: unknown}
  if (e instanceof NetmonError) return any.cause !== undefined && isCorruption(any.cause)
  return /SQLITE_CORRUPT|disk image is malformed/i.test(`${any?.code ?? ''} ${any?.message ?? ''}`)
}

/** Maps a client error to one clear NetmonError line; never includes the auth token. */
export function storeError(e: unknown, location: StoreLocation, what: string, attempts = MAX_ATTEMPTS): NetmonError {
  if (e instanceof NetmonError) return e
  const any = e as {code?: string; message?: string; cause?: {code?: string; message?: string}}
  const code = any?.code ?? ''
  const raw = String(any?.message ?? e)
  const causeCode = any?.cause?.code ?? ''
  const where = location.display
  let message: string
  let hint: string | undefined
  if (
    location.kind === 'remote' &&
    /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|fetch failed|HRANA_WEBSOCKET|SERVER_ERROR.*(502|503|504)/i.test(`${code} ${causeCode} ${raw}`)
  ) {
    message = `cannot reach the store at ${where} (${causeCode || code || 'connection failed'})`
    hint = 'check the URL in --db / NETMON_DB_URL and that the server is running'
  } else if (/401|403|unauthori[sz]ed|forbidden|auth/i.test(raw) && location.kind === 'remote') {
    message = `the store at ${where} rejected the credentials`
    hint = 'check NETMON_DB_AUTH_TOKEN'
  } else if (/SQLITE_CANTOPEN|unable to open/i.test(`${code} ${raw}`)) {
    message = `cannot open the store file ${where}`
    hint = 'check that the folder exists and is writable, or choose another --db'
  } else if (/SQLITE_READONLY|readonly|read-only/i.test(`${code} ${raw}`)) {
    message = `the store ${where} is read-only`
    hint = 'choose a writable --db'
  } else if (isCorruption(e)) {
    const cut = location.kind === 'local' ? truncation(location.path!) : null
    if (cut) {
      // The lost end held pages (often the schema's) that nothing can rebuild; no command of
      // netmon, `db check` included, can open the file, so the only hint that works is a backup.
      message = `the store ${where} is truncated: the file has ${cut.have} of the ${cut.want} bytes its header declares, the rest is lost`
      hint = `restore ${where} from a backup, or move it aside and start a new store there`
    } else {
      message = `the store ${where} is damaged (${what}: database disk image is malformed)`
      hint =
        location.kind === 'local'
          ? `restore ${where} from a backup, or save what is readable with \`sqlite3 ${where} .recover | sqlite3 NEW.db\` (or \`.dump\` where .recover fails) and use --db NEW.db`
          : 'restore the database from a backup on the server'
    }
  } else if (/SQLITE_NOTADB|file is not a database/i.test(`${code} ${raw}`)) {
    message = `${where} is not a netmon store (not an SQLite database)`
    hint = 'point --db at a netmon store, or a new path to create one'
  } else if (isBusy(e)) {
    message = `the store ${where} stayed locked by other writers (${what} gave up after ${attempts} attempts)`
    hint = 'another process holds a long write; try again'
  } else {
    message = `store ${what} failed on ${where}: ${raw.split('\n')[0]}`
  }
  return new NetmonError('store', redact(message), {hint, cause: e})
}

/**
 * A local SQLite file shorter than the size its header declares (bytes 28–31, valid when the
 * change counter at 24 equals the one at 92): a copy cut short, a full disk, a bad download.
 */
export function truncation(path: string): {have: number; want: number} | null {
  let fd: number | undefined
  try {
    fd = openSync(path, 'r')
    const h = Buffer.alloc(100)
    if (readSync(fd, h, 0, 100, 0) < 100 || h.toString('latin1', 0, 16) !== 'SQLite format 3\0') return null
    const raw = h.readUInt16BE(16)
    const pageSize = raw === 1 ? 65536 : raw
    const pages = h.readUInt32BE(28)
    if (pages === 0 || h.readUInt32BE(24) !== h.readUInt32BE(92)) return null
    const have = fstatSync(fd).size
    const want = pages * pageSize
    return have < want ? {have, want} : null
  } catch {
    return null
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** Keeps process.report from resolving socket addresses (it would send DNS queries and block). */
export function excludeNetworkFromReports(): void {
  if (process.report) (process.report as NodeJS.ProcessReport & {excludeNetwork: boolean}).excludeNetwork = true
}

/**
 * Issue 3, acceptance 2 and 3: real processes on one real libSQL file.
 * - 20 processes opening (and migrating) a brand-new file at the same instant all succeed, and
 *   the schema exists once.
 * - 20 writers × 200 batches (+ 1 reader) lose no row and print no error.
 */
import {spawn} from 'node:child_process'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {createClient} from '@libsql/client/sqlite3'
import {MIGRATIONS} from '../../../src/core/store/migrations/index.js'
import {ROOT, tempStore} from '../../support/cli.js'
import {startHranaServer} from '../../support/hrana-server.js'

const WORKER = join(ROOT, 'test', 'support', 'store-worker.mjs')

function worker(args: string[], env: Record<string, string> = {}): Promise<{code: number; stdout: string; stderr: string}> {
  return new Promise(resolve => {
    const child = spawn(process.execPath, [WORKER, ...args], {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, ...env}})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => (stdout += d))
    child.stderr.on('data', d => (stderr += d))
    child.on('close', code => resolve({code: code ?? -1, stdout, stderr}))
  })
}

let cleanup: (() => void) | undefined
afterEach(() => cleanup?.())

describe('store under concurrent processes', () => {
  it('20 processes migrating a brand-new file at once: all succeed, schema present once', async () => {
    const t = tempStore()
    cleanup = t.cleanup
    const startAt = Date.now() + 1500
    const results = await Promise.all(Array.from({length: 20}, (_, i) => worker(['open', t.db, String(i), '0', String(startAt)])))
    for (const r of results) {
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
    }
    const c = createClient({url: `file:${t.db}`})
    const versions = (await c.execute('SELECT version FROM schema_migrations ORDER BY version')).rows.map(r => Number(r.version))
    // Every version exactly once (version is the PRIMARY KEY, but the count of tables below would
    // also catch a second apply: CREATE TABLE without IF NOT EXISTS fails the racing process).
    expect(versions).toEqual(MIGRATIONS.map(m => m.version))
    const devTables = (await c.execute(`SELECT count(*) AS n FROM sqlite_master WHERE type='table' AND name='devices'`)).rows[0]!.n
    expect(Number(devTables)).toBe(1)
    expect((await c.execute('PRAGMA journal_mode')).rows[0]![0]).toBe('wal')
    c.close()
  })

  it('20 processes whose store folder does not exist yet (a fresh machine): all create it and succeed', async () => {
    const t = tempStore()
    cleanup = t.cleanup
    // Three rounds: creating the same folders from 20 processes races on every level.
    for (let round = 0; round < 3; round++) {
      const db = join(t.dir, `r${round}`, 'data', 'netmon', 'netmon.db')
      const startAt = Date.now() + 1200
      const results = await Promise.all(Array.from({length: 20}, (_, i) => worker(['open', db, String(i), '0', String(startAt)])))
      for (const r of results) {
        expect(r.stderr).toBe('')
        expect(r.code).toBe(0)
      }
    }
  })

  it('20 writers × 200 batches + 1 reader: exact row count, nothing on stderr', async () => {
    const t = tempStore()
    cleanup = t.cleanup
    // Create the schema first so the test measures writes, not migrations (the test above covers those).
    expect((await worker(['open', t.db, '0', '0', '0'])).code).toBe(0)
    const startAt = Date.now() + 1500
    const writers = Array.from({length: 20}, (_, i) => worker(['write', t.db, String(i), '200', String(startAt)]))
    const reader = worker(['read', t.db, '99', '4000', String(startAt)])
    const results = await Promise.all([...writers, reader])
    for (const r of results) {
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
    }
    expect(JSON.parse(results[20]!.stdout).reads).toBeGreaterThan(0)
    const c = createClient({url: `file:${t.db}`})
    const n = Number((await c.execute(`SELECT count(*) AS n FROM events WHERE type='test'`)).rows[0]!.n)
    const distinct = Number((await c.execute(`SELECT count(DISTINCT detail) AS n FROM events WHERE type='test'`)).rows[0]!.n)
    c.close()
    expect(n).toBe(20 * 200 * 5)
    expect(distinct).toBe(20 * 200 * 5)
  })
})

describe('store under concurrent processes, remote (the Hrana test server on loopback)', () => {
  it('20 processes migrating a brand-new remote database at once, then 20 writers: all succeed, schema once, no row lost', async () => {
    const t = tempStore()
    cleanup = t.cleanup
    const server = await startHranaServer({dbPath: join(t.dir, 'remote.db'), token: 'remote-test-token-1234567890'})
    try {
      const env = {NETMON_DB_AUTH_TOKEN: server.token}
      let startAt = Date.now() + 1500
      const opened = await Promise.all(Array.from({length: 20}, (_, i) => worker(['open', server.url, String(i), '0', String(startAt)], env)))
      for (const r of opened) {
        expect(r.stderr).toBe('')
        expect(r.code).toBe(0)
      }
      const c = createClient({url: `file:${join(t.dir, 'remote.db')}`})
      const versions = (await c.execute('SELECT version FROM schema_migrations ORDER BY version')).rows.map(r => Number(r.version))
      expect(versions).toEqual(MIGRATIONS.map(m => m.version))
      startAt = Date.now() + 1500
      const writers = await Promise.all(Array.from({length: 20}, (_, i) => worker(['write', server.url, String(i), '25', String(startAt)], env)))
      for (const r of writers) {
        expect(r.stderr).toBe('')
        expect(r.code).toBe(0)
      }
      const n = Number((await c.execute(`SELECT count(DISTINCT detail) AS n FROM events WHERE type='test'`)).rows[0]!.n)
      c.close()
      expect(n).toBe(20 * 25 * 5)
      // The token went over the wire and never into any output.
      expect(server.requests.length).toBeGreaterThan(0)
      for (const r of [...opened, ...writers]) expect(r.stdout + r.stderr).not.toContain(server.token)
    } finally {
      await server.close()
    }
  }, 120_000)
})

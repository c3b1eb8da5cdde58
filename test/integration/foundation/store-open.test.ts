/**
 * Issue 13: what opening a store may change. A database netmon did not make is refused before
 * anything is written (unless NETMON_DB_ADOPT=1); a truncated store gets a hint that works;
 * credentials in a store URL are a usage error that never echoes the password.
 * Through the built CLI, on real files and on the Hrana test server.
 */
import {createHash} from 'node:crypto'
import {copyFileSync, existsSync, readFileSync, truncateSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import Database from 'libsql'
import {createClient} from '@libsql/client/sqlite3'
import {LATEST_VERSION} from '../../../src/core/store/migrate.js'
import {runCli, tempStore} from '../../support/cli.js'
import {startHranaServer, type HranaServer} from '../../support/hrana-server.js'

const t = tempStore()
afterAll(() => t.cleanup())

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex')
/** Header bytes 18/19: 1 = rollback journal, 2 = WAL. */
const isWal = (p: string) =>
  readFileSync(p)
    .subarray(18, 20)
    .equals(Buffer.from([2, 2]))
const oneLine = (s: string) => expect(s.trim().split('\n')).toHaveLength(1)

let n = 0
/** An application's own SQLite database (rollback journal, as sqlite3 makes it). */
function foreignDb(sql = `CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes(body) VALUES ('buy milk'), ('call bob');`): string {
  const path = join(t.dir, `foreign-${++n}.db`)
  const d = new Database(path)
  d.exec(sql)
  d.close()
  return path
}

function tablesOf(path: string): string[] {
  const d = new Database(path)
  try {
    return (d.prepare(`SELECT name FROM sqlite_master WHERE type='table' ORDER BY name`).all() as {name: string}[]).map(r => r.name)
  } finally {
    d.close()
  }
}

describe('a database that is not a netmon store', () => {
  it('is refused by every command that opens a store: exit 1, one line naming the file and NETMON_DB_ADOPT, the file byte-identical', async () => {
    const db = foreignDb()
    const before = sha(db)
    expect(isWal(db)).toBe(false)
    for (const cmd of [
      ['db', 'info'],
      ['db', 'check'],
      ['bandwidth', 'top'],
      ['bandwidth', 'sample', '--mac', 'AA:BB:CC:DD:EE:01', '--sent', '1', '--received', '2', '--auto-register'],
      ['db', 'info', '--json'],
    ]) {
      const r = await runCli(cmd, {db})
      expect(r.code, `${cmd.join(' ')}: ${r.stderr}`).toBe(1)
      oneLine(r.stderr)
      expect(r.stderr).toContain(db)
      expect(r.stderr).toMatch(/not a netmon store/)
      expect(r.stderr).toContain('NETMON_DB_ADOPT=1')
      if (cmd.includes('--json')) expect(r.json.error.code).toBe('NOT_A_STORE')
    }
    expect(sha(db)).toBe(before)
    expect(isWal(db)).toBe(false)
    expect(existsSync(db + '-wal')).toBe(false)
    expect(tablesOf(db)).toEqual(['notes'])
  })

  it("another tool's schema_migrations table (Rails, …) does not make it a netmon store", async () => {
    const db = foreignDb(`CREATE TABLE schema_migrations(version TEXT PRIMARY KEY); INSERT INTO schema_migrations VALUES ('20240101000000');`)
    const before = sha(db)
    const r = await runCli(['db', 'info', '--json'], {db})
    expect(r.code).toBe(1)
    expect(r.json.error.code).toBe('NOT_A_STORE')
    expect(sha(db)).toBe(before)
  })

  it("NETMON_DB_ADOPT=1 adopts it: WAL, netmon's tables beside its own, its rows untouched; afterwards it is a store", async () => {
    const db = foreignDb()
    const r = await runCli(['db', 'info', '--json'], {db, env: {NETMON_DB_ADOPT: '1'}})
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.schema_version).toBe(LATEST_VERSION)
    const names = r.json.tables.map((x: {name: string}) => x.name)
    expect(names).toEqual(expect.arrayContaining(['notes', 'devices', 'bw_samples', 'schema_migrations']))
    expect(r.json.tables.find((x: {name: string}) => x.name === 'notes').rows).toBe(2)
    expect(isWal(db)).toBe(true)
    // Now a netmon store: no variable needed any more.
    const again = await runCli(['bandwidth', 'sample', '--mac', 'AA:BB:CC:DD:EE:01', '--sent', '1', '--received', '2', '--auto-register', '--json'], {db})
    expect(again.code, again.stderr).toBe(0)
  })

  it('adoption is refused when the database already has a table netmon would create; the file is unchanged', async () => {
    const db = foreignDb(`CREATE TABLE devices(id INTEGER PRIMARY KEY, owner TEXT); INSERT INTO devices(owner) VALUES ('me');`)
    const before = sha(db)
    const r = await runCli(['db', 'info'], {db, env: {NETMON_DB_ADOPT: '1'}})
    expect(r.code).toBe(1)
    oneLine(r.stderr)
    expect(r.stderr).toMatch(/cannot adopt .* already has devices/)
    expect(sha(db)).toBe(before)
  })

  it('a malformed NETMON_DB_ADOPT is exit 2', async () => {
    const db = foreignDb()
    const before = sha(db)
    const r = await runCli(['db', 'info'], {db, env: {NETMON_DB_ADOPT: 'maybe'}})
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/NETMON_DB_ADOPT/)
    expect(sha(db)).toBe(before)
  })

  it('an empty file and a missing file are created as stores, as before', async () => {
    const empty = join(t.dir, 'empty.db')
    writeFileSync(empty, '')
    const missing = join(t.dir, 'sub', 'missing.db')
    for (const db of [empty, missing]) {
      const r = await runCli(['db', 'info', '--json'], {db})
      expect(r.code, r.stderr).toBe(0)
      expect(r.json.schema_version).toBe(LATEST_VERSION)
      expect(isWal(db)).toBe(true)
    }
  })

  describe('on a remote server', () => {
    let server: HranaServer
    let db: string
    const TOKEN = 'tok-' + 'Qm83nVz0aLp2Yc7'
    beforeAll(async () => {
      db = foreignDb()
      server = await startHranaServer({dbPath: db, token: TOKEN})
    })
    afterAll(async () => server.close())

    it('is refused before anything is written, and adopted with NETMON_DB_ADOPT=1', async () => {
      const env = {NETMON_DB_URL: server.url, NETMON_DB_AUTH_TOKEN: TOKEN}
      const r = await runCli(['db', 'info', '--json'], {env})
      expect(r.code, r.stderr).toBe(1)
      expect(r.json.error.code).toBe('NOT_A_STORE')
      expect(r.stderr).toContain(server.url)
      // Nothing reached the server that could write: no DDL, no BEGIN IMMEDIATE.
      expect(server.requests.some(q => /CREATE|INSERT|BEGIN IMMEDIATE/i.test(q.body))).toBe(false)
      expect(tablesOf(db)).toEqual(['notes'])
      const ok = await runCli(['db', 'info', '--json'], {env: {...env, NETMON_DB_ADOPT: '1'}})
      expect(ok.code, ok.stderr).toBe(0)
      expect(tablesOf(db)).toEqual(expect.arrayContaining(['notes', 'devices', 'schema_migrations']))
    })
  })
})

describe('a truncated store', () => {
  it('says it is truncated and hints at a backup (not at `db check`, which cannot open it either); the backup works', async () => {
    const db = join(t.dir, 'real.db')
    const lines = Array.from({length: 3000}, (_, i) => JSON.stringify({mac: `AA:BB:CC:00:${(i % 200).toString(16).padStart(2, '0')}:01`, sent: i, received: i}))
    const fed = await runCli(['bandwidth', 'sample', '--from', '-', '--auto-register'], {db, input: lines.join('\n') + '\n'})
    expect(fed.code, fed.stderr).toBe(0)
    const c = createClient({url: `file:${db}`})
    await c.execute('PRAGMA wal_checkpoint(TRUNCATE)')
    c.close()
    const backup = join(t.dir, 'real.backup.db')
    copyFileSync(db, backup)
    const size = readFileSync(db).length
    truncateSync(db, Math.floor(size / 8192) * 4096)
    for (const cmd of [
      ['db', 'check'],
      ['db', 'info'],
      ['bandwidth', 'top'],
      ['db', 'check', '--json'],
    ]) {
      const r = await runCli(cmd, {db})
      expect(r.code, r.stderr).toBe(1)
      oneLine(r.stderr)
      expect(r.stderr).toMatch(/is truncated: the file has \d+ of the \d+ bytes/)
      expect(r.stderr).toMatch(/restore .* from a backup/)
      expect(r.stderr).not.toMatch(/db check/)
    }
    // What the hint says works.
    copyFileSync(backup, db)
    const ok = await runCli(['db', 'check', '--json'], {db})
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.json.ok).toBe(true)
  })
})

describe('credentials in the store URL', () => {
  const PW = 'pw-' + 'S3cr3t@Zk9'
  const enc = encodeURIComponent(PW)
  it.each([
    ['--db', (url: string) => ({args: ['--db', url], env: {}})],
    ['NETMON_DB_URL', (url: string) => ({args: [], env: {NETMON_DB_URL: url}})],
  ])('in %s: exit 2, one line pointing at NETMON_DB_AUTH_TOKEN, the password nowhere (DEBUG too)', async (what, make) => {
    for (const url of [`http://admin:${enc}@127.0.0.1:9`, `https://${enc}@127.0.0.1:9`, `libsql://admin:${enc}@127.0.0.1:9`]) {
      const {args, env} = make(url)
      for (const json of [false, true]) {
        const r = await runCli(['db', 'info', ...args, ...(json ? ['--json'] : [])], {noDb: true, env: {...env, DEBUG: json ? '1' : undefined}})
        expect(r.code, r.stderr).toBe(2)
        if (!json) oneLine(r.stderr)
        expect(r.stderr).toContain(`${what} must not carry a user or password`)
        expect(r.stderr).toContain('NETMON_DB_AUTH_TOKEN')
        for (const out of [r.stdout, r.stderr]) {
          expect(out).not.toContain(PW)
          expect(out).not.toContain(enc)
          expect(out).not.toContain('S3cr3t')
        }
        if (json) expect(r.json.error.code).toBe('INVALID_INPUT')
      }
    }
  })
})

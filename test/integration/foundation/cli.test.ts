/**
 * Issue 3: the CLI skeleton and its conventions, through the built CLI spawned as a user runs it.
 */
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join, relative} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {createClient} from '@libsql/client/sqlite3'
import {LATEST_VERSION} from '../../../src/core/store/migrate.js'
import {ROOT, runCli, tempStore} from '../../support/cli.js'

const t = tempStore()
afterAll(() => t.cleanup())

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex')
const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at /)

describe('CLI skeleton', () => {
  it('--help lists the topics', async () => {
    const r = await runCli(['--help'])
    expect(r.code).toBe(0)
    for (const topic of ['db', 'bandwidth', 'devices', 'scan', 'latency', 'meters', 'bridge', 'metrics']) {
      const listed = new RegExp(`^\\s+${topic}\\s`, 'm').test(r.stdout)
      // A topic appears once it has a command; db is always there.
      if (topic === 'db') expect(listed).toBe(true)
      if (existsSync(join(ROOT, 'src', 'commands', topic))) expect(listed, `topic ${topic} in --help`).toBe(true)
    }
  })

  it('db info --json creates the default store under the XDG data dir and prints its schema version', async () => {
    const xdg = join(t.dir, 'xdg')
    const r = await runCli(['db', 'info', '--json'], {env: {XDG_DATA_HOME: xdg, NETMON_DB_URL: undefined}})
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.json.schema_version).toBe(LATEST_VERSION)
    expect(r.json.kind).toBe('local')
    expect(r.json.source).toBe('default')
    expect(r.json.location).toBe(join(xdg, 'netmon', 'netmon.db'))
    expect(existsSync(join(xdg, 'netmon', 'netmon.db'))).toBe(true)
    expect(r.json.tables.map((x: {name: string}) => x.name)).toContain('devices')
  })

  it('NETMON_DB_URL selects the store when --db is absent; --db wins over it', async () => {
    const a = join(t.dir, 'a.db')
    const b = join(t.dir, 'b.db')
    const r1 = await runCli(['db', 'info', '--json'], {env: {NETMON_DB_URL: `file:${a}`}})
    expect(r1.json.location).toBe(a)
    expect(r1.json.source).toBe('env')
    const r2 = await runCli(['db', 'info', '--json', '--db', b], {env: {NETMON_DB_URL: `file:${a}`}})
    expect(r2.json.location).toBe(b)
    expect(r2.json.source).toBe('flag')
  })

  it('db check passes on a healthy store and fails (exit 1) on a damaged one', async () => {
    const ok = await runCli(['db', 'check', '--json'], {db: t.db})
    expect(ok.code).toBe(0)
    expect(ok.json.ok).toBe(true)
    expect(ok.json.integrity).toEqual(['ok'])
    // Damage: a file that is not a database at all.
    const junk = join(t.dir, 'junk.db')
    writeFileSync(junk, Buffer.alloc(8192, 0x41))
    const bad = await runCli(['db', 'check'], {db: junk})
    expect(bad.code).toBe(1)
    expect(bad.stderr.trim().split('\n')).toHaveLength(1)
    expect(bad.stderr).toMatch(/not a netmon store/)
  })

  it('db check on a store that opens but is damaged inside: the damage is the answer (exit 1, ok false), not an error', async () => {
    const db = join(t.dir, 'damaged.db')
    expect((await runCli(['db', 'info'], {db})).code).toBe(0)
    const c = createClient({url: `file:${db}`})
    await c.execute(
      `INSERT INTO events(ts, device_id, type, detail) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) SELECT i, NULL, 'x', 'detail-' || i FROM n`,
    )
    await c.execute('PRAGMA wal_checkpoint(TRUNCATE)')
    const pageSize = Number((await c.execute('PRAGMA page_size')).rows[0]![0])
    // A leaf page of the events_ts index (the first child of its root), its cell area overwritten.
    const root = Number((await c.execute(`SELECT rootpage FROM sqlite_master WHERE name = 'events_ts'`)).rows[0]![0])
    c.close()
    const file = readFileSync(db)
    const rootAt = (root - 1) * pageSize
    expect(file[rootAt]).toBe(0x02) // an interior index page: 3000 entries do not fit one page
    const leftChild = file.readUInt32BE(rootAt + file.readUInt16BE(rootAt + 12)) // first cell starts with its child page number
    const at = leftChild * pageSize - 300
    for (let i = 0; i < 300; i++) file[at + i] = (i * 131 + 17) & 0xff
    writeFileSync(db, file)
    const r = await runCli(['db', 'check', '--json'], {db})
    expect(r.code).toBe(1)
    expect(r.json.error).toBeUndefined()
    expect(r.json.ok).toBe(false)
    expect(r.json.integrity.length).toBeGreaterThan(0)
    expect(r.json.integrity).not.toEqual(['ok'])
    const human = await runCli(['db', 'check'], {db})
    expect(human.code).toBe(1)
    expect(human.stdout).toMatch(/FAILED/)
  })

  it('a store from a newer schema version: exit 1, clear message, file unchanged', async () => {
    const db = join(t.dir, 'newer.db')
    expect((await runCli(['db', 'info'], {db})).code).toBe(0)
    const c = createClient({url: `file:${db}`})
    await c.execute({sql: 'INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)', args: [LATEST_VERSION + 7, 'future', 1]})
    await c.execute('PRAGMA wal_checkpoint(TRUNCATE)')
    c.close()
    const before = sha(db)
    for (const cmd of [
      ['db', 'info'],
      ['db', 'check'],
      ['db', 'info', '--json'],
    ]) {
      const r = await runCli(cmd, {db})
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(new RegExp(`schema version ${LATEST_VERSION + 7}, written by a newer netmon`))
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      noStack(r.stderr)
      if (cmd.includes('--json')) expect(r.json.error.code).toBe('SCHEMA_TOO_NEW')
    }
    expect(sha(db)).toBe(before)
  })

  it.each([
    ['a directory', 2, () => t.dir, /is a directory/],
    ['an unsupported scheme', 2, () => 'mysql://127.0.0.1/x', /unsupported scheme/],
    ['an uncreatable folder', 1, () => '/proc/netmon-nope/x.db', /cannot create the folder/],
    ['an unwritable file', 1, () => '/proc/version', /not a netmon store|read-only|cannot open/],
    ['an unreachable URL', 1, () => 'http://127.0.0.1:9', /cannot reach the store at http:\/\/127\.0\.0\.1:9/],
  ])('bad --db (%s): one line, exit %i, no stack', async (_name, code, value, message) => {
    const r = await runCli(['db', 'info'], {db: value()})
    expect(r.code).toBe(code)
    expect(r.stdout).toBe('')
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(message)
    noStack(r.stderr)
  })

  it('an empty --db (a script passing "$UNSET") is exit 2, never the default or NETMON_DB_URL store', async () => {
    const other = join(t.dir, 'env-store.db')
    for (const value of ['', '  ', 'file:']) {
      const r = await runCli(['db', 'info', '--json', '--db', value], {noDb: true, env: {NETMON_DB_URL: `file:${other}`}})
      expect(r.code).toBe(2)
      expect(r.json.error.message).toMatch(/--db (is empty|names no file)/)
    }
    expect(existsSync(other)).toBe(false)
  })

  it('an unknown command is a usage error like any other: exit 2, one line, JSON under --json, the closest commands as the hint', async () => {
    const typo = await runCli(['bandwith', 'top'], {db: t.db})
    expect(typo.code).toBe(2)
    expect(typo.stdout).toBe('')
    expect(typo.stderr.trim().split('\n')).toHaveLength(1)
    expect(typo.stderr).toMatch(/^Error: unknown command "bandwith top" \(did you mean netmon bandwidth top\?/)
    const topic = await runCli(['db', 'nosuch', '--json'], {db: t.db})
    expect(topic.code).toBe(2)
    expect(topic.json.error).toMatchObject({code: 'USAGE', message: 'unknown command "db nosuch"'})
    expect(topic.json.error.hint).toMatch(/netmon db check, netmon db info, netmon db prune/)
    const flagFirst = await runCli(['--json', 'nosuch'], {db: t.db})
    expect(flagFirst.code).toBe(2)
    expect(flagFirst.json.error).toMatchObject({code: 'USAGE', message: 'unknown command "nosuch"'})
    const none = await runCli(['zzzzzz'], {db: t.db})
    expect(none.code).toBe(2)
    expect(none.stderr).toBe('Error: unknown command "zzzzzz" (`netmon --help` lists the commands)\n')
  })

  it('--json errors go to stdout as {"error":{code,message}} with the same exit code', async () => {
    const r = await runCli(['db', 'info', '--json'], {db: t.dir})
    expect(r.code).toBe(2)
    expect(r.json.error.code).toBe('INVALID_INPUT')
    expect(r.json.error.message).toMatch(/is a directory/)
  })

  it('usage errors exit 2 with one line; DEBUG adds a stack', async () => {
    const r = await runCli(['db', 'info', '--no-such-flag'], {db: t.db})
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/no-such-flag/)
    const d = await runCli(['db', 'info'], {db: t.dir, env: {DEBUG: '1'}})
    expect(d.code).toBe(2)
    expect(d.stderr).toMatch(/\n\s+at /)
  })

  it('an unknown command exits 2', async () => {
    const r = await runCli(['no-such-command'])
    expect(r.code).toBe(2)
  })
})

describe('oclif manifest', () => {
  it('is fresh: every command under src/commands is in it, at the package version', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8'))
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
    expect(manifest.version).toBe(pkg.version)
    const ids: string[] = []
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, {withFileTypes: true})) {
        const p = join(dir, e.name)
        if (e.isDirectory()) walk(p)
        else if (e.name.endsWith('.ts')) {
          const id = relative(join(ROOT, 'src', 'commands'), p)
            .replace(/\.ts$/, '')
            .replace(/\/index$/, '')
            .split('/')
            .join(':')
          ids.push(id)
        }
      }
    }
    walk(join(ROOT, 'src', 'commands'))
    expect(ids.length).toBeGreaterThan(1)
    for (const id of ids) expect(Object.keys(manifest.commands), `command ${id} missing from oclif.manifest.json: run npm run build`).toContain(id)
  })

  // The build has just rewritten the manifest from the sources; in a checkout whose sources are
  // committed (a fresh clone in CI), the committed manifest must be exactly that file.
  const git = (...args: string[]) => spawnSync('git', args, {cwd: ROOT, encoding: 'utf8'})
  const committed =
    git('rev-parse', '--is-inside-work-tree').stdout?.trim() === 'true' && git('status', '--porcelain', '--', 'src', 'package.json').stdout === ''
  it.skipIf(!committed)('the committed manifest is the one the build writes (skipped outside git or with uncommitted sources)', () => {
    const head = git('show', 'HEAD:oclif.manifest.json')
    expect(head.status, head.stderr).toBe(0)
    const built = readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')
    expect(JSON.parse(built), 'oclif.manifest.json is stale: run npm run build and commit it').toEqual(JSON.parse(head.stdout))
    expect(built, 'oclif.manifest.json differs from the committed one only in layout: commit the built file').toBe(head.stdout)
  })
})

describe('start-up path (bundled oclif + V8 code cache, issue 3 benchmark)', () => {
  it('the build made a code cache and bin/run.js uses it', async () => {
    const r = await runCli(['--version'], {env: {NETMON_CODE_CACHE: 'debug'}})
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/code cache: used/)
  })

  it('prints the same as the plain @oclif/core package for --version, --help and db info --json', async () => {
    for (const args of [['--version'], ['--help'], ['db', 'info', '--json', '--db', t.db]]) {
      const fast = await runCli(args)
      const plain = await runCli(args, {env: {NETMON_STARTUP: 'plain'}})
      expect(fast.code).toBe(0)
      expect(fast.stdout).toBe(plain.stdout)
      expect(fast.stderr).toBe(plain.stderr)
    }
  })
})

describe('bin/dev.js', () => {
  it('runs a command from the TypeScript sources', async () => {
    const {spawnSync} = await import('node:child_process')
    const r = spawnSync(join(ROOT, 'bin', 'dev.js'), ['db', 'info', '--json', '--db', join(t.dir, 'dev.db')], {encoding: 'utf8', timeout: 60_000})
    expect(r.status).toBe(0)
    expect(JSON.parse(r.stdout).schema_version).toBe(LATEST_VERSION)
  })
})

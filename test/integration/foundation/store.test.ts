/**
 * Issue 3: the store's guarantees, run twice: on a local libSQL file and on a remote store
 * (our Hrana v2 test server on 127.0.0.1, backed by a real file). Same code path, same tests.
 */
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {NetmonError} from '../../../src/core/errors.js'
import {LATEST_VERSION, migrate, type Migration} from '../../../src/core/store/migrate.js'
import {MIGRATIONS} from '../../../src/core/store/migrations/index.js'
import {openStore, type Store, resolveStoreLocation} from '../../../src/core/store/index.js'
import {startHranaServer, type HranaServer} from '../../support/hrana-server.js'
import {runCli, tempStore} from '../../support/cli.js'

const tmp = tempStore()
let server: HranaServer
const TOKEN = 'tok-' + 'x7Hq93LmZ0pW2vN8sR4d'

beforeAll(async () => {
  server = await startHranaServer({dbPath: join(tmp.dir, 'remote.db'), token: TOKEN})
})
afterAll(async () => {
  await server.close()
  tmp.cleanup()
})

type Kind = 'local' | 'remote'
let n = 0
async function open(kind: Kind): Promise<Store> {
  if (kind === 'local') return openStore({db: join(tmp.dir, `local-${++n}.db`), env: {}})
  return openStore({env: {NETMON_DB_URL: server.url, NETMON_DB_AUTH_TOKEN: TOKEN}})
}

describe.each<Kind>(['local', 'remote'])('store (%s)', kind => {
  it('migrates to the latest version and is idempotent', async () => {
    const s = await open(kind)
    try {
      const rows = await s.query<{version: number}>('SELECT version FROM schema_migrations ORDER BY version')
      expect(rows.map(r => r.version)).toEqual(MIGRATIONS.map(m => m.version))
      expect((await migrate(s)).applied).toEqual([])
    } finally {
      await s.close()
    }
  })

  it('a batch with one bad row writes nothing', async () => {
    const s = await open(kind)
    try {
      const before = (await s.get<{n: number}>('SELECT count(*) AS n FROM devices'))!.n
      const stmt = (mac: string) => ({sql: 'INSERT INTO devices(mac, ip, first_seen, last_seen) VALUES (?, ?, 1, 1)', args: [mac, '10.0.0.1']})
      // The third row repeats a UNIQUE mac: the whole batch must roll back.
      await expect(s.batch([stmt(`AA:00:00:00:0${kind === 'local' ? 1 : 2}:01`), stmt('AA:00:00:00:00:02'), stmt('AA:00:00:00:00:02')])).rejects.toBeInstanceOf(
        NetmonError,
      )
      expect((await s.get<{n: number}>('SELECT count(*) AS n FROM devices'))!.n).toBe(before)
    } finally {
      await s.close()
    }
  })

  it('writeTx reads and writes in one transaction; a throw rolls everything back', async () => {
    const s = await open(kind)
    try {
      await s.batch([{sql: `INSERT INTO events(ts, type, detail) VALUES (1, 'ctr', '0')`}])
      const bump = () =>
        s.writeTx(async tx => {
          const row = await tx.get<{detail: string}>(`SELECT detail FROM events WHERE type='ctr' ORDER BY id DESC LIMIT 1`)
          await tx.execute(`INSERT INTO events(ts, type, detail) VALUES (2, 'ctr', ?)`, [String(Number(row!.detail) + 1)])
        })
      await Promise.all(Array.from({length: 10}, bump))
      const last = await s.get<{detail: string}>(`SELECT detail FROM events WHERE type='ctr' ORDER BY id DESC LIMIT 1`)
      expect(last!.detail).toBe('10')
      await expect(
        s.writeTx(async tx => {
          await tx.execute(`INSERT INTO events(ts, type, detail) VALUES (3, 'ctr', 'x')`)
          throw new Error('boom')
        }),
      ).rejects.toThrow('boom')
      expect((await s.get<{n: number}>(`SELECT count(*) AS n FROM events WHERE detail='x'`))!.n).toBe(0)
    } finally {
      await s.close()
    }
  })

  it('concurrent writers through separate clients lose nothing', async () => {
    const stores = await Promise.all(
      Array.from({length: 5}, () => (kind === 'local' ? openStore({db: join(tmp.dir, 'shared-local.db'), env: {}}) : open(kind))),
    )
    try {
      await Promise.all(
        stores.map((s, w) =>
          (async () => {
            for (let b = 0; b < 40; b++) {
              await s.batch(
                Array.from({length: 5}, (_, i) => ({sql: `INSERT INTO events(ts, type, detail) VALUES (?, 'conc', ?)`, args: [b, `${kind}-${w}-${b}-${i}`]})),
              )
            }
          })(),
        ),
      )
      const c = await stores[0]!.get<{n: number}>(`SELECT count(DISTINCT detail) AS n FROM events WHERE type='conc' AND detail LIKE ?`, [`${kind}-%`])
      expect(c!.n).toBe(5 * 40 * 5)
    } finally {
      await Promise.all(stores.map(s => s.close()))
    }
  })

  it('refuses a store with an unknown newer schema version, without writing to it', async () => {
    const s = await open(kind)
    try {
      const future: Migration[] = [...MIGRATIONS]
      const recorded = await s.query('SELECT * FROM schema_migrations')
      // Pretend this build only knows the first migration: the store is "newer".
      await expect(migrate(s, future.slice(0, 1))).rejects.toMatchObject({code: 'SCHEMA_TOO_NEW', exitCode: 1})
      expect(await s.query('SELECT * FROM schema_migrations')).toEqual(recorded)
    } finally {
      await s.close()
    }
  })
})

describe('remote store through the CLI', () => {
  it('db info works through NETMON_DB_URL + token, and the token appears in no output', async () => {
    const env = {NETMON_DB_URL: server.url, NETMON_DB_AUTH_TOKEN: TOKEN, DEBUG: undefined}
    const outputs: string[] = []
    const ok = await runCli(['db', 'info', '--json'], {env})
    expect(ok.code).toBe(0)
    expect(ok.json.kind).toBe('remote')
    expect(ok.json.schema_version).toBe(LATEST_VERSION)
    outputs.push(ok.stdout, ok.stderr)
    const table = await runCli(['db', 'info'], {env})
    outputs.push(table.stdout, table.stderr)
    // Token also given inside the URL, and errors with DEBUG stacks.
    const inUrl = await runCli(['db', 'info', '--json', '--db', `${server.url}?authToken=${TOKEN}`], {env: {...env, NETMON_DB_AUTH_TOKEN: undefined}})
    outputs.push(inUrl.stdout, inUrl.stderr)
    expect(inUrl.json.location).toContain('authToken=***')
    const wrong = await runCli(['db', 'check', '--json'], {env: {...env, NETMON_DB_AUTH_TOKEN: TOKEN + 'WRONG', DEBUG: '1'}})
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toMatch(/rejected the credentials/)
    outputs.push(wrong.stdout, wrong.stderr)
    const down = await runCli(['db', 'info'], {env: {...env, NETMON_DB_URL: 'http://127.0.0.1:9', DEBUG: '1'}})
    expect(down.code).toBe(1)
    outputs.push(down.stdout, down.stderr)
    // The server really received the token (so the grep below is meaningful) …
    expect(server.requests.some(r => String(r.headers.authorization) === `Bearer ${TOKEN}`)).toBe(true)
    // … and it never came back out.
    for (const o of outputs) expect(o).not.toContain(TOKEN)
  })

  it('resolves libsql:// and https:// as remote, bare paths and file: as local', () => {
    expect(resolveStoreLocation('libsql://db.example.invalid', {}).kind).toBe('remote')
    expect(resolveStoreLocation('https://db.example.invalid', {}).kind).toBe('remote')
    expect(resolveStoreLocation('wss://db.example.invalid', {}).kind).toBe('remote')
    expect(resolveStoreLocation('file:/tmp/a.db', {}).path).toBe('/tmp/a.db')
    expect(resolveStoreLocation('http://127.0.0.1:8080', {}).kind).toBe('remote')
    expect(resolveStoreLocation('ws://127.0.0.1:8080', {}).kind).toBe('remote')
    expect(resolveStoreLocation('./a.db', {}).kind).toBe('local')
    expect(resolveStoreLocation('./a.db', {}).path).toBe(join(process.cwd(), 'a.db'))
    expect(resolveStoreLocation(undefined, {NETMON_DB_URL: 'file:/tmp/e.db'})).toMatchObject({path: '/tmp/e.db', source: 'env'})
    expect(resolveStoreLocation(undefined, {XDG_DATA_HOME: '/tmp/xdg'})).toMatchObject({path: '/tmp/xdg/netmon/netmon.db', source: 'default'})
  })
})

/**
 * Export from a remote store (Hrana over HTTP, the test server on 127.0.0.1): the named
 * parameters, the one-JSON-value-per-page read and the REAL precision work there too, and the
 * rows equal those of the same data exported from a local file.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {planExport, runExport} from '../../../src/core/export/engine.js'
import {openStore, type Store} from '../../../src/core/store/index.js'
import {startHranaServer, type HranaServer} from '../../support/hrana-server.js'
import {testStore, type TestStore} from '../../unit/export/fixtures.js'
import {seedAll, T0} from './cases.js'

const TOKEN = 'export-test-token-0123456789'
let local: TestStore
let server: HranaServer
let remote: Store

beforeAll(async () => {
  local = await testStore()
  server = await startHranaServer({dbPath: join(local.dir, 'remote.db'), token: TOKEN})
  remote = await openStore({env: {NETMON_DB_URL: server.url, NETMON_DB_AUTH_TOKEN: TOKEN}})
  await seedAll(local.store)
  await seedAll(remote)
})
afterAll(async () => {
  await remote?.close()
  await server?.close()
  await local?.cleanup()
})

describe('export from a remote (Hrana) store', () => {
  for (const args of [
    {what: 'events', since: new Date(T0).toISOString()},
    {what: 'bandwidth', device: 'AA:BB:CC:DD:EE:01'},
    {what: 'bandwidth', resolution: '1h'},
    {what: 'latency'},
    {what: 'readings', meter: 'main-house'},
  ]) {
    it(`${JSON.stringify(args)}: same NDJSON as from the local file`, async () => {
      const a = join(local.dir, `remote-${args.what}-${args.resolution ?? ''}.ndjson`)
      const b = join(local.dir, `local-${args.what}-${args.resolution ?? ''}.ndjson`)
      const r = await runExport(remote, planExport({...args, out: a, pageSize: 2}))
      const l = await runExport(local.store, planExport({...args, out: b, pageSize: 2}))
      expect(r.rows).toBeGreaterThan(0)
      expect(r.rows).toBe(l.rows)
      expect(readFileSync(a, 'utf8')).toBe(readFileSync(b, 'utf8'))
    })
  }

  it('went over HTTP', () => {
    expect(server.requests.length).toBeGreaterThan(5)
  })
})

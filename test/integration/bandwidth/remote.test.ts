/**
 * The same write path against a remote store (Hrana over HTTP, the test server on 127.0.0.1):
 * one interactive transaction over a stream, the fixed-width blob rows, the temp tables of the
 * late-sample merge. The answers must equal those from a local file fed the same samples.
 */
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {readNdjson} from '../../../src/core/bandwidth/input.js'
import {deviceStats, networkStats, topTalkers} from '../../../src/core/bandwidth/query.js'
import {writeBatch} from '../../../src/core/bandwidth/sample.js'
import {openStore, type Store} from '../../../src/core/store/index.js'
import {startHranaServer, type HranaServer} from '../../support/hrana-server.js'
import {tempStore} from '../../support/cli.js'
import {hourAgo} from './helpers.js'

const TOKEN = 'bandwidth-remote-token-0123456789'
const T = hourAgo(5)
const lines: string[] = []
for (let i = 0; i < 600; i++) {
  const mac = `02:00:00:00:0A:0${i % 4}`
  // Mostly in order, every 7th sample 20 minutes late, every 11th on an existing timestamp.
  const minute = i % 11 === 0 ? Math.floor(i / 4) - 1 : i % 7 === 0 ? Math.floor(i / 4) - 20 : Math.floor(i / 4)
  lines.push(JSON.stringify({mac, ts: T + Math.max(0, minute) * 60_000, sent: 1000 + i * 17, received: 5000 + i * 3}))
}

describe('bandwidth on a remote (Hrana) store', () => {
  const t = tempStore('netmon-bw-remote-')
  let server: HranaServer
  let remote: Store
  let local: Store
  beforeAll(async () => {
    server = await startHranaServer({dbPath: join(t.dir, 'remote.db'), token: TOKEN})
    remote = await openStore({env: {NETMON_DB_URL: server.url, NETMON_DB_AUTH_TOKEN: TOKEN}})
    local = await openStore({db: t.db})
    for (const store of [remote, local]) {
      for (const part of [lines.slice(0, 300), lines.slice(300)]) {
        const batch = await readNdjson(
          (async function* () {
            yield part.join('\n')
          })(),
          {mode: 'delta', bits: 'auto'},
        )
        const r = await writeBatch(store, batch, {autoRegister: true})
        expect(r.samples_recorded).toBe(300)
      }
    }
  })
  afterAll(async () => {
    await remote?.close()
    await local?.close()
    await server?.close()
    t.cleanup()
  })

  it('stats, top and a window equal the local store', async () => {
    expect(await networkStats(remote)).toEqual(await networkStats(local))
    expect(await deviceStats(remote, '02:00:00:00:0A:02')).toEqual(await deviceStats(local, '02:00:00:00:0A:02'))
    const opts = {limit: 10, sort: 'total' as const, since: T + 30 * 60_000, until: T + 140 * 60_000}
    const a = await topTalkers(remote, opts)
    expect(a.top_talkers.length).toBe(4)
    expect(a).toEqual(await topTalkers(local, opts))
    const raw = async (s: Store) => s.query('SELECT device_id, ts, sent, received, interval_ms FROM bw_samples ORDER BY device_id, ts')
    expect(await raw(remote)).toEqual(await raw(local))
    expect(server.requests.length).toBeGreaterThan(5)
  })
})

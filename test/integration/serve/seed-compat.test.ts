/**
 * Issue 13: the seeds' clients work unchanged. The real app (in-process) over a real store seeded
 * through the capabilities' own code: the seed's epoch-seconds peak timestamp, the seed's
 * add_sample answer, and the seed bridge's numeric meter ids (docs/SERVE.md, "Differences from
 * the seeds").
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {deviceStats} from '../../../src/core/bandwidth/query.js'
import {createLogger} from '../../../src/core/log.js'
import {createServeApp, type ServeApp} from '../../../src/core/serve/app.js'
import {openStore, type Store} from '../../../src/core/store/index.js'
import {seedStore} from './seed.js'

let dir: string
let store: Store
let a: ServeApp
let now: number

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'netmon-serve-seedcompat-'))
  const db = join(dir, 'netmon.db')
  ;({now} = await seedStore(db, {hours: 6}))
  store = await openStore({db})
  // A third meter registered later, whose config id is a number of its own ("5").
  await store.batch([
    {
      sql: `INSERT INTO meters(id, name, host, port, framing, poll_interval_ms, obis, active, created_at, updated_at)
            VALUES ('5', 'Meter five', '127.0.0.1', 4070, 'wrapper', 1000, '[]', 1, ?, ?)`,
      args: [now - 60_000, now - 60_000],
    },
  ])
  a = createServeApp({store, token: null, log: createLogger({write: () => {}})})
}, 60_000)
afterAll(async () => {
  await a?.shutdown(1000)
  await store?.close()
  rmSync(dir, {recursive: true, force: true})
})

const get = async (path: string) => {
  const r = await a.app.request(path)
  return {status: r.status, json: (await r.json()) as any}
}
const post = async (path: string, json: unknown) => {
  const r = await a.app.request(path, {method: 'POST', body: JSON.stringify(json), headers: {'content-type': 'application/json'}})
  return {status: r.status, json: (await r.json()) as any}
}

describe("the seeds' clients", () => {
  it('GET /api/network/bandwidth/stats?mac=: peak.timestamp is epoch seconds, ISO in timestamp_iso', async () => {
    const r = await get('/api/network/bandwidth/stats?mac=AA:BB:CC:DD:EE:02')
    expect(r.status).toBe(200)
    const p = r.json.device.peak
    const cli = (await deviceStats(store, 'AA:BB:CC:DD:EE:02')).device.peak
    expect(cli.timestamp_ms).not.toBeNull()
    expect(typeof p.timestamp).toBe('number')
    expect(p.timestamp).toBe(cli.timestamp_ms! / 1000)
    expect(p.timestamp_iso).toBe(cli.timestamp)
    expect(p.timestamp_ms).toBe(cli.timestamp_ms)
    expect(p.upload.timestamp).toBe(cli.upload.timestamp_ms! / 1000)
    expect(p.download.timestamp_iso).toBe(cli.download.timestamp)
    // Everything else is the command's.
    expect({...r.json.device, peak: null}).toEqual({...(await deviceStats(store, 'AA:BB:CC:DD:EE:02')).device, peak: null})
  })

  it('POST /api/network/bandwidth/sample with one sample answers {"success": true, "message": "Sample added"}', async () => {
    const r = await post('/api/network/bandwidth/sample', {mac: 'AA:BB:CC:DD:EE:01', bytes_sent: 1000, bytes_received: 2000})
    expect(r.status).toBe(200)
    expect(r.json.success).toBe(true)
    expect(r.json.message).toBe('Sample added')
    expect(r.json).toMatchObject({samples_recorded: 1, bytes_sent: 1000, bytes_received: 2000})
    // The batch form (not in the seed) keeps the command's message.
    const b = await post('/api/network/bandwidth/sample', {samples: [{mac: 'AA:BB:CC:DD:EE:01', bytes_sent: 1, bytes_received: 1}]})
    expect(b.json.message).toBe('Sample recorded')
  })

  it('GET /meters/{number}/network_stats: the seed numbered meters by registration; meter_id is that number', async () => {
    const [one, byId, two, three, five, six] = await Promise.all(
      [
        '/meters/1/network_stats',
        '/meters/m1/network_stats',
        '/meters/2/network_stats',
        '/meters/3/network_stats',
        '/meters/5/network_stats',
        '/meters/6/network_stats',
      ].map(get),
    )
    expect(one.status).toBe(200)
    expect(one.json.meter_id).toBe(1)
    expect(one.json.meter_name).toBe('Meter 1')
    expect({...one.json, meter_id: 'm1'}).toEqual(byId.json)
    expect(byId.json.meter_id).toBe('m1')
    expect(two.json).toMatchObject({meter_id: 2, meter_name: 'Meter 2'})
    // Third registered: the meter whose id is "5"; and "5" is that meter's own id.
    expect(three.json).toMatchObject({meter_id: 3, meter_name: 'Meter five'})
    expect(five.json).toMatchObject({meter_id: 5, meter_name: 'Meter five'})
    expect(six.status).toBe(404)
    const readings = await get('/meters/2/readings?limit=3')
    expect(readings.status).toBe(200)
    expect(readings.json).toMatchObject({meter_id: 'm2', meter_name: 'Meter 2'})
    expect(readings.json.readings).toHaveLength(3)
  })
})

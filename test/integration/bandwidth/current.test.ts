/**
 * Issue 13: "current" goes stale. A device whose latest sample is old is not sending "now": every
 * view — `bandwidth stats` / `stats --mac` / `top --sort current` (the built CLI, --json), the REST
 * routes (the real app over the same store file) and /metrics — shows 0 with stale: true for it,
 * and the rate for devices whose latest interval is recent. The limit scales with the device's
 * interval: max(2 × interval, 60 s). Times are relative to Date.now().
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {createLogger} from '../../../src/core/log.js'
import {createServeApp} from '../../../src/core/serve/app.js'
import {openStore} from '../../../src/core/store/index.js'
import {runCli} from '../../support/cli.js'

const FRESH = 'AA:BB:CC:00:00:01' // 10-minute samples, the latest 5 s ago: current for 20 min
const STALE = 'AA:BB:CC:00:00:02' // 1-minute samples, the latest 30 min ago
const SLOW = 'AA:BB:CC:00:00:03' // 40-minute samples, the latest 35 min ago: still current (limit 80 min)
const MB = 1_000_000

let dir: string
let db: string
let now: number
const rateOf = (bytes: number, ms: number) => Math.round((bytes * 8000) / ms)

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'netmon-bw-current-'))
  db = join(dir, 'netmon.db')
  now = Date.now()
  const lines = [
    {mac: FRESH, sent: MB, received: 2 * MB, ts: now - 605_000},
    {mac: FRESH, sent: 3 * MB, received: MB, ts: now - 5_000},
    {mac: STALE, sent: MB, received: MB, ts: now - 31 * 60_000},
    {mac: STALE, sent: 6 * MB, received: 9 * MB, ts: now - 30 * 60_000},
    {mac: SLOW, sent: MB, received: MB, ts: now - 75 * 60_000},
    {mac: SLOW, sent: 4 * MB, received: 2 * MB, ts: now - 35 * 60_000},
  ]
  const r = await runCli(['bandwidth', 'sample', '--from', '-', '--auto-register', '--json'], {db, input: lines.map(l => JSON.stringify(l)).join('\n') + '\n'})
  expect(r.code, r.stderr).toBe(0)
}, 60_000)
afterAll(() => rmSync(dir, {recursive: true, force: true}))

const fresh = rateOf(4 * MB, 600_000)
const slow = rateOf(6 * MB, 2_400_000)

function checkNetwork(j: any) {
  const by = Object.fromEntries(j.devices.map((d: any) => [d.mac, d]))
  expect(by[FRESH]).toMatchObject({current_bps: fresh, stale: false, current_as_of_ms: now - 5_000})
  expect(by[SLOW]).toMatchObject({current_bps: slow, stale: false})
  expect(by[STALE]).toMatchObject({current_bps: 0, current_mbps: 0, stale: true, current_as_of_ms: now - 30 * 60_000})
  expect(by[STALE].current_as_of).toBe(new Date(now - 30 * 60_000).toISOString())
  expect(j.network).toMatchObject({total_bps: fresh + slow, stale_devices: 1, current_as_of_ms: now - 5_000})
}

function checkDevice(j: any) {
  expect(j.device.current).toMatchObject({total_bps: 0, upload_bps: 0, download_bps: 0, stale: true, stale_after_ms: 120_000})
  expect(j.device.current_as_of_ms).toBe(now - 30 * 60_000)
  // The rest of the device's figures are history, not "now": they stay.
  expect(j.device.total.total_bytes).toBe(17 * MB)
}

function checkTop(j: any) {
  expect(j.top_talkers.map((t: any) => [t.mac, t.current_bps, t.stale])).toEqual([
    [FRESH, fresh, false],
    [SLOW, slow, false],
    [STALE, 0, true],
  ])
}

describe('a device whose latest sample is old has no current rate, in every view', () => {
  it('CLI --json: bandwidth stats, stats --mac, top --sort current', async () => {
    const [all, one, top] = await Promise.all([
      runCli(['bandwidth', 'stats', '--json'], {db}),
      runCli(['bandwidth', 'stats', '--mac', STALE, '--json'], {db}),
      runCli(['bandwidth', 'top', '--sort', 'current', '--json'], {db}),
    ])
    for (const r of [all, one, top]) expect(r.code, r.stderr).toBe(0)
    checkNetwork(all.json)
    checkDevice(one.json)
    checkTop(top.json)
    // The fresh device by itself: its rate, not stale.
    const f = await runCli(['bandwidth', 'stats', '--mac', FRESH, '--json'], {db})
    expect(f.json.device.current).toMatchObject({total_bps: fresh, stale: false})
  }, 60_000)

  it('REST and /metrics (the real app over the same store)', async () => {
    const store = await openStore({db})
    try {
      const a = createServeApp({store, token: null, log: createLogger({write: () => {}})})
      const get = async (path: string) => {
        const r = await a.app.request(path)
        expect(r.status, path).toBe(200)
        return r
      }
      checkNetwork(await (await get('/api/network/bandwidth/stats')).json())
      checkDevice(await (await get(`/api/network/bandwidth/stats?mac=${STALE}`)).json())
      checkTop(await (await get('/api/network/bandwidth/top-talkers?sort_by=current')).json())

      const fams = parsePrometheusTextFormat(await (await get('/metrics')).text()) as {
        name: string
        metrics: {value: string; labels?: Record<string, string>}[]
      }[]
      const value = (name: string, mac?: string) => {
        const m = fams.find(f => f.name === name)!.metrics.find(x => mac === undefined || x.labels?.mac === mac)!
        return Number(m.value)
      }
      expect(value('netmon_network_total_bits_per_second')).toBe(fresh + slow)
      expect(value('netmon_bandwidth_stale_devices')).toBe(1)
      expect(value('netmon_device_current_bits_per_second', STALE)).toBe(0)
      expect(value('netmon_device_current_stale', STALE)).toBe(1)
      expect(value('netmon_device_current_bits_per_second', FRESH)).toBe(fresh)
      expect(value('netmon_device_current_stale', FRESH)).toBe(0)
      await a.shutdown(1000)
    } finally {
      await store.close()
    }
  })
})

/**
 * Issue 13 item 2: concurrent `bandwidth sample` processes against a remote store (the Hrana test
 * server on loopback). Each process is the built CLI, as a cron job would run it; every run must
 * succeed and the totals must be exact.
 */
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {registerBandwidthDevice} from '../../../src/core/bandwidth/admin.js'
import {ingestBatch} from '../../../src/core/bandwidth/ingest.js'
import {BatchBuilder} from '../../../src/core/bandwidth/input.js'
import {openStore} from '../../../src/core/store/index.js'
import {startHranaServer, type HranaServer} from '../../support/hrana-server.js'
import {runCli, tempStore} from '../../support/cli.js'

describe('5 processes × 20 bandwidth sample runs on a remote store', () => {
  const t = tempStore('netmon-bw-remote-conc-')
  let server: HranaServer | undefined
  beforeAll(async () => {
    server = await startHranaServer({dbPath: join(t.dir, 'remote.db'), token: 'remote-conc-token-0123456789'})
  })
  afterAll(async () => {
    await server?.close()
    t.cleanup()
  })

  it('all 100 runs exit 0 and the totals are exact', async () => {
    const env = {NETMON_DB_URL: server!.url, NETMON_DB_AUTH_TOKEN: server!.token}
    const macs = ['AA:BB:CC:00:01:01', 'AA:BB:CC:00:01:02']
    for (const [i, mac] of macs.entries()) {
      const r = await runCli(['bandwidth', 'register', '--ip', `192.0.2.${i + 1}`, '--mac', mac, '--json'], {env})
      expect(r.code, r.stderr).toBe(0)
    }
    const runs: {code: number; stderr: string}[] = []
    const expected = new Map(macs.map(m => [m, {sent: 0, received: 0, n: 0}]))
    // Five workers, each running its 20 samples one after another (like five cron'd collectors).
    await Promise.all(
      Array.from({length: 5}, async (_, w) => {
        for (let i = 0; i < 20; i++) {
          const mac = macs[(w + i) % 2]!
          const sent = 1000 * (w + 1) + i
          const received = 7 * (w + 1) + i
          const e = expected.get(mac)!
          e.sent += sent
          e.received += received
          e.n += 1
          const r = await runCli(['bandwidth', 'sample', '--mac', mac, '--sent', String(sent), '--received', String(received), '--json'], {
            env,
            timeoutMs: 120_000,
          })
          runs.push(r)
        }
      }),
    )
    const failed = runs.filter(r => r.code !== 0)
    expect(failed.map(r => r.stderr.trim()).slice(0, 3), `${failed.length} of ${runs.length} failed`).toEqual([])
    expect(runs.length).toBe(100)
    for (const mac of macs) {
      const s = await runCli(['bandwidth', 'stats', '--mac', mac, '--json'], {env})
      const e = expected.get(mac)!
      expect(s.json.device.total).toMatchObject({bytes_sent: e.sent, bytes_received: e.received})
      expect(s.json.device.sample_count).toBe(e.n)
    }
  }, 600_000)

  it('one sample is written in one request: BEGIN IMMEDIATE, the writes and COMMIT together', async () => {
    const env = {NETMON_DB_URL: server!.url, NETMON_DB_AUTH_TOKEN: server!.token}
    expect((await runCli(['bandwidth', 'register', '--ip', '192.0.2.8', '--mac', 'AA:BB:CC:00:01:08'], {env})).code).toBe(0)
    // The first sample of a fresh store also runs the hourly auto-prune (a write of its own).
    expect((await runCli(['bandwidth', 'sample', '--mac', 'AA:BB:CC:00:01:08', '--sent', '1', '--received', '1'], {env})).code).toBe(0)
    const before = server!.requests.length
    const r = await runCli(['bandwidth', 'sample', '--mac', 'AA:BB:CC:00:01:08', '--sent', '5', '--received', '6', '--json'], {env})
    expect(r.code, r.stderr).toBe(0)
    const mine = server!.requests.slice(before).map(q => q.body)
    const writes = mine.filter(b => /INSERT INTO bw_|UPDATE devices/.test(b))
    expect(writes.length).toBe(1)
    for (const part of ['BEGIN IMMEDIATE', 'INSERT INTO bw_samples', 'INSERT INTO bw_totals', '"COMMIT"']) expect(writes[0]).toContain(part)
    expect(mine.length).toBeLessThanOrEqual(5)
  })

  it('waits out a remote write lock held for 12 s (the retry budget is time, not 8 quick attempts)', async () => {
    // A server that answers BUSY after 50 ms of lock wait: 8 attempts with their back-off are over
    // in under 8 s; the store promises the same budget as a local file (8 × its 10 s busy timeout).
    const dbPath = join(t.dir, 'locked.db')
    const locked = await startHranaServer({dbPath, lockTimeoutMs: 50, streamIdleMs: 60_000})
    try {
      const env = {NETMON_DB_URL: locked.url, NETMON_DB_AUTH_TOKEN: locked.token}
      expect((await runCli(['bandwidth', 'register', '--ip', '192.0.2.9', '--mac', 'AA:BB:CC:00:01:09'], {env})).code).toBe(0)
      const pipeline = async (body: unknown) =>
        (
          await fetch(`${locked.url}/v2/pipeline`, {method: 'POST', headers: {authorization: `Bearer ${locked.token}`}, body: JSON.stringify(body)})
        ).json() as Promise<any>
      const exec = (sql: string) => ({type: 'execute', stmt: {sql}})
      const held = await pipeline({requests: [exec('BEGIN IMMEDIATE'), exec("INSERT INTO bw_settings(key, value) VALUES ('test.lock', '1')")]})
      expect(held.results.map((r: any) => r.type)).toEqual(['ok', 'ok'])
      const sample = runCli(['bandwidth', 'sample', '--mac', 'AA:BB:CC:00:01:09', '--sent', '1', '--received', '2', '--json'], {env, timeoutMs: 120_000})
      await new Promise(r => setTimeout(r, 12_000))
      await pipeline({baton: held.baton, requests: [exec('COMMIT'), {type: 'close'}]})
      const r = await sample
      expect(r.code, r.stderr).toBe(0)
      expect(r.json.bytes_received).toBe(2)
    } finally {
      await locked.close()
    }
  }, 180_000)
})

describe('the one-request remote write under a conflict (in-process)', () => {
  const t = tempStore('netmon-bw-remote-guard-')
  afterAll(() => t.cleanup())

  it('two writers that read the same state: one commits, the other is refused by the guard and redone; totals exact', async () => {
    // 200 ms per request: both writers read before either writes, so the second write is stale.
    const server = await startHranaServer({dbPath: join(t.dir, 'guard.db'), latencyMs: 200})
    const env = {NETMON_DB_URL: server.url, NETMON_DB_AUTH_TOKEN: server.token}
    const stores = [await openStore({env}), await openStore({env})]
    try {
      await registerBandwidthDevice(stores[0]!, {mac: 'AA:BB:CC:00:02:01', ip: '192.0.2.21'})
      const base = Date.now() - 60_000
      // Whichever commits first, the other redoes (in order, or as a late sample): same result.
      const batch = (sent: number) => {
        const b = new BatchBuilder('delta')
        b.addDelta(b.index('AA:BB:CC:00:02:01', 0), base + sent, sent, 1)
        return b.finish()
      }
      const before = server.requests.length
      const results = await Promise.all([
        ingestBatch(stores[0]!, batch(1000), {autoRegister: false}),
        ingestBatch(stores[1]!, batch(2000), {autoRegister: false}),
      ])
      expect(results.map(r => r.samples_recorded)).toEqual([1, 1])
      const guarded = server.requests.slice(before).filter(q => q.body.includes('netmon_guard(ok)'))
      expect(guarded.length).toBeGreaterThanOrEqual(3) // two writes + at least one redo
      const [tot] = await stores[0]!.query<{bytes_sent: number; sample_count: number}>('SELECT bytes_sent, sample_count FROM bw_totals')
      expect(tot).toEqual({bytes_sent: 3000, sample_count: 2})
      const raw = await stores[0]!.query('SELECT sent, interval_ms FROM bw_samples ORDER BY ts')
      expect(raw).toEqual([
        {sent: 1000, interval_ms: null},
        {sent: 2000, interval_ms: 1000},
      ])
    } finally {
      for (const s of stores) await s.close()
      await server.close()
    }
  }, 120_000)
})

describe('counter mode through the one-request remote write', () => {
  const t = tempStore('netmon-bw-remote-counter-')
  afterAll(() => t.cleanup())

  it('cron-style readings continue from the stored counter; a hostname hint refreshes the device', async () => {
    const server = await startHranaServer({dbPath: join(t.dir, 'counter.db')})
    try {
      const env = {NETMON_DB_URL: server.url, NETMON_DB_AUTH_TOKEN: server.token}
      const mac = 'AA:BB:CC:00:03:01'
      expect((await runCli(['bandwidth', 'register', '--ip', '192.0.2.31', '--mac', mac], {env})).code).toBe(0)
      const base = Math.floor(Date.now() / 1000) * 1000 - 10 * 60_000
      const reading = (sent: string, received: string, minute: number, extra: string[] = []) =>
        runCli(
          [
            'bandwidth',
            'sample',
            '--mode',
            'counter',
            '--mac',
            mac,
            '--sent',
            sent,
            '--received',
            received,
            '--at',
            String(base + minute * 60_000),
            '--json',
            ...extra,
          ],
          {
            env,
          },
        )
      expect((await reading('1000', '5000', 0)).json.counter_outcomes).toEqual({baseline: 1})
      const before = server.requests.length
      const second = await reading('1600', '9000', 1, ['--hostname', 'router'])
      expect(second.code, second.stderr).toBe(0)
      expect(second.json.samples[0]).toMatchObject({bytes_sent: 600, bytes_received: 4000, interval_ms: 60_000})
      expect(server.requests.slice(before).filter(q => q.body.includes('BEGIN IMMEDIATE'))).toHaveLength(1)
      // 2^32 wrap on sent: 4294967000 → 200 is 496 bytes.
      await reading('4294967000', '9100', 2)
      const wrap = await reading('200', '9200', 3)
      expect(wrap.json.samples[0]).toMatchObject({bytes_sent: 496, bytes_received: 100})
      const st = await runCli(['bandwidth', 'stats', '--mac', mac, '--json'], {env})
      expect(st.json.device.hostname).toBe('router')
      expect(st.json.device.total).toMatchObject({bytes_sent: 600 + (4294967000 - 1600) + 496, bytes_received: 4000 + 100 + 100})
    } finally {
      await server.close()
    }
  }, 120_000)
})

/**
 * Issue 13 item 2: concurrent `bandwidth sample` processes against a remote store (the Hrana test
 * server on loopback). Each process is the built CLI, as a cron job would run it; every run must
 * succeed and the totals must be exact.
 */
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
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

/**
 * Issue 13 item 2: concurrent `bandwidth sample` processes against a remote store (the Hrana test
 * server on loopback). Each process is the built CLI, as a cron job would run it; every run must
 * succeed and the totals must be exact.
 */
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {startHranaServer, type HranaServer} from '../../support/hrana-server.js'
import {runCli, tempStore} from '../../support/cli.js'

describe('5 processes × 20 bandwidth sample runs on a remote store', () => {
  const t = tempStore('netmon-bw-remote-conc-')
  let server: HranaServer | undefined
  afterAll(async () => {
    await server?.close()
    t.cleanup()
  })

  it('all 100 runs exit 0 and the totals are exact', async () => {
    server = await startHranaServer({dbPath: join(t.dir, 'remote.db'), token: 'remote-conc-token-0123456789'})
    const env = {NETMON_DB_URL: server.url, NETMON_DB_AUTH_TOKEN: server.token}
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
})

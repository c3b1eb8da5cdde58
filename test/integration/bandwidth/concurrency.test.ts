/** Issue 4 acceptance 6: 20 `bandwidth sample` processes for the same devices at once → totals exact. */
import {afterAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {sql} from './helpers.js'

describe('20 concurrent bandwidth sample processes', () => {
  const t = tempStore('netmon-bw-conc-')
  afterAll(() => t.cleanup())

  it('keeps totals, raw sums and rollups exact', async () => {
    const macs = ['AA:BB:CC:00:00:01', 'AA:BB:CC:00:00:02']
    for (const [i, mac] of macs.entries()) {
      const r = await runCli(['bandwidth', 'register', '--ip', `192.0.2.${i + 1}`, '--mac', mac], {db: t.db})
      expect(r.code, r.stderr).toBe(0)
    }
    const jobs = Array.from({length: 20}, (_, i) => ({mac: macs[i % 2]!, sent: 1_000_003 * (i + 1), received: 7_777 * (i + 1)}))
    // Most without --at (now: several may land on the same millisecond and are summed), some
    // with explicit times in the past (late samples racing with new ones).
    const results = await Promise.all(
      jobs.map((j, i) =>
        runCli(
          ['bandwidth', 'sample', '--mac', j.mac, '--sent', String(j.sent), '--received', String(j.received), ...(i % 5 === 0 ? ['--at', '2m'] : []), '--json'],
          {db: t.db, timeoutMs: 120_000},
        ),
      ),
    )
    for (const r of results) {
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).toBe('')
    }
    for (const mac of macs) {
      const mine = jobs.filter(j => j.mac === mac)
      const sent = mine.reduce((a, j) => a + j.sent, 0)
      const received = mine.reduce((a, j) => a + j.received, 0)
      const s = await runCli(['bandwidth', 'stats', '--mac', mac, '--json'], {db: t.db})
      expect(s.json.device.total).toMatchObject({bytes_sent: sent, bytes_received: received})
      expect(s.json.device.sample_count).toBe(10)
      const [raw] = await sql(
        t.db,
        `SELECT sum(s.sent) AS sent, sum(s.received) AS received FROM bw_samples s JOIN devices d ON d.id = s.device_id WHERE d.mac = ?`,
        [mac],
      )
      expect(raw).toEqual({sent, received})
      for (const table of ['bw_rollup_5m', 'bw_rollup_1h', 'bw_rollup_1d']) {
        const [r] = await sql(
          t.db,
          `SELECT sum(r.sent) AS sent, sum(r.received) AS received, sum(r.samples) AS n FROM ${table} r JOIN devices d ON d.id = r.device_id WHERE d.mac = ?`,
          [mac],
        )
        expect(r, table).toEqual({sent, received, n: 10})
      }
    }
  })
})

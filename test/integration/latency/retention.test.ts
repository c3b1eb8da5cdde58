/**
 * Latency retention through `db prune`: per-probe rows of old runs go, run summaries stay.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {createClient, type Client} from '@libsql/client/sqlite3'
import {runCli, tempStore} from '../../support/cli.js'

const t = tempStore()
let c: Client
const DAY = 86_400_000
const now = Date.now()

async function seedRun(id: number, endedAt: number, probes: number): Promise<void> {
  await c.execute({
    sql: `INSERT INTO latency_runs(id, host, ip, method, interval_ms, timeout_ms, started_at, ended_at, sent, received, loss_pct, avg_ms)
          VALUES (?, '127.0.0.1', '127.0.0.1', 'icmp', 1000, 1000, ?, ?, ?, ?, 0, 0.05)`,
    args: [id, endedAt - probes * 1000, endedAt, probes, probes],
  })
  for (let s = 0; s < probes; s++) {
    await c.execute({
      sql: `INSERT INTO latency_probes(run_id, seq, ts, rtt_ms, status) VALUES (?, ?, ?, 0.05, 'reply')`,
      args: [id, s, endedAt - (probes - s) * 1000],
    })
  }
}
const count = async (sql: string) => Number((await c.execute(sql)).rows[0]![0])

beforeAll(async () => {
  expect((await runCli(['db', 'info'], {db: t.db})).code).toBe(0)
  c = createClient({url: `file:${t.db}`, timeout: 5000})
  await seedRun(1, now - 40 * DAY, 5) // older than the default 30 days
  await seedRun(2, now - 10 * DAY, 3)
  await seedRun(3, now - 60_000, 4)
})
afterAll(() => {
  c.close()
  t.cleanup()
})

describe('db prune: latency probes', () => {
  it('a bad --keep-latency-probes is exit 2', async () => {
    const r = await runCli(['db', 'prune', '--keep-latency-probes', 'soon'], {db: t.db})
    expect(r.code).toBe(2)
    expect(await count('SELECT count(*) FROM latency_probes')).toBe(12)
  })

  it('--dry-run counts what the default 30 days would delete and deletes nothing', async () => {
    const r = await runCli(['db', 'prune', '--dry-run', '--json'], {db: t.db})
    expect(r.code).toBe(0)
    expect(r.json.latency.probes).toBe(5)
    expect(r.json.latency.keep_ms).toBe(30 * DAY)
    expect(await count('SELECT count(*) FROM latency_probes')).toBe(12)
  })

  it('"forever" keeps everything', async () => {
    const r = await runCli(['db', 'prune', '--keep-latency-probes', 'forever', '--json'], {db: t.db})
    expect(r.json.latency).toMatchObject({probes: 0, before: null})
    expect(await count('SELECT count(*) FROM latency_probes')).toBe(12)
  })

  it('deletes the probes of runs that ended before the cut-off, keeps every run summary', async () => {
    const r = await runCli(['db', 'prune', '--keep-latency-probes', '7d', '--json'], {db: t.db})
    expect(r.code).toBe(0)
    expect(r.json.latency.probes).toBe(8)
    expect(await count('SELECT count(*) FROM latency_probes')).toBe(4)
    expect(await count('SELECT count(*) FROM latency_probes WHERE run_id = 3')).toBe(4)
    expect(await count('SELECT count(*) FROM latency_runs')).toBe(3)
    const h = await runCli(['latency', 'history', '127.0.0.1', '--since', '90d', '--json'], {db: t.db})
    expect(h.code).toBe(0)
    // Every run summary is still listed; the per-probe series holds only the probes kept.
    expect(h.json.runs).toHaveLength(3)
    expect(h.json.points).toHaveLength(4)
  })
})

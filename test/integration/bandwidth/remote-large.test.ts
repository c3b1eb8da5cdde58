/**
 * Issue 13 item 1: large batches on a remote store. The Hrana test server refuses request bodies
 * above 1 MiB (HTTP 413, as libSQL does); a 66k-line NDJSON import creating 20k devices must still
 * go in, exactly, and a failure in the middle of such a batch must leave nothing written.
 * The built CLI, pointed at the server by NETMON_DB_URL, as a user would run it.
 */
import {join} from 'node:path'
import Database from 'libsql'
import {afterAll, describe, expect, it} from 'vitest'
import {startHranaServer, type HranaServer} from '../../support/hrana-server.js'
import {runCli, tempStore} from '../../support/cli.js'
import {hourAgo, sql} from './helpers.js'

const DEVICES = 20_000
const LINES = 66_000
const T = hourAgo(3)
const mac = (d: number) =>
  `02:00:00:${((d >> 16) & 255).toString(16).padStart(2, '0')}:${((d >> 8) & 255).toString(16).padStart(2, '0')}:${(d & 255).toString(16).padStart(2, '0')}`.toUpperCase()

function stream(poison?: number): {text: string; sent: number; received: number; raw: number} {
  const lines: string[] = []
  let sent = 0
  let received = 0
  const keys = new Set<string>()
  for (let i = 0; i < LINES; i++) {
    const d = i % DEVICES
    // Rounds of one sample per device, a minute apart; every 97th line 30 s late (out of order).
    const ts = T + Math.floor(i / DEVICES) * 60_000 - (i % 97 === 0 && i >= DEVICES ? 30_000 : 0)
    const s = d === poison ? 999_999_937 : 10_000 + ((i * 7919) % 1_000_000)
    const r = 50_000 + ((i * 104_729) % 9_000_000)
    sent += s
    received += r
    keys.add(`${d}:${ts}`)
    lines.push(JSON.stringify({mac: mac(d), ts, sent: s, received: r}))
  }
  return {text: lines.join('\n') + '\n', sent, received, raw: keys.size}
}

describe('large batches on a remote store (1 MiB request limit)', () => {
  const t = tempStore('netmon-bw-remote-large-')
  const servers: HranaServer[] = []
  afterAll(async () => {
    for (const s of servers) await s.close()
    t.cleanup()
  })

  it('66k lines creating 20k devices go in with exact totals, every request under the limit', {timeout: 300_000}, async () => {
    const dbPath = join(t.dir, 'large.db')
    const server = await startHranaServer({dbPath})
    servers.push(server)
    const data = stream()
    const r = await runCli(['bandwidth', 'sample', '--from', '-', '--auto-register', '--json'], {
      env: {NETMON_DB_URL: server.url, NETMON_DB_AUTH_TOKEN: server.token},
      input: data.text,
      timeoutMs: 300_000,
    })
    expect(r.code, r.stderr).toBe(0)
    expect(r.json).toMatchObject({samples_in: LINES, samples_recorded: LINES, devices: DEVICES, bytes_sent: data.sent, bytes_received: data.received})
    expect(r.json.registered.length).toBe(DEVICES)
    expect(server.requests.filter(q => q.status === 413)).toEqual([])
    const [c] = await sql(
      dbPath,
      `SELECT (SELECT count(*) FROM devices) AS devices, (SELECT count(*) FROM bw_samples) AS raw,
              (SELECT sum(sent) FROM bw_samples) AS raw_sent, (SELECT sum(received) FROM bw_rollup_1d) AS day_received,
              (SELECT sum(bytes_sent) FROM bw_totals) AS sent, (SELECT sum(bytes_received) FROM bw_totals) AS received,
              (SELECT sum(sample_count) FROM bw_totals) AS n, (SELECT sum(samples) FROM bw_rollup_5m) AS n5`,
    )
    expect(c).toEqual({
      devices: DEVICES,
      raw: data.raw,
      raw_sent: data.sent,
      day_received: data.received,
      sent: data.sent,
      received: data.received,
      n: LINES,
      n5: LINES,
    })
    // Fewer round trips: the whole import is a few dozen requests, not one per statement or device.
    expect(server.requests.length).toBeLessThan(150)
  })

  it('a failure in the middle of such a batch leaves nothing written', {timeout: 300_000}, async () => {
    const dbPath = join(t.dir, 'atomic.db')
    const server = await startHranaServer({dbPath})
    servers.push(server)
    const env = {NETMON_DB_URL: server.url, NETMON_DB_AUTH_TOKEN: server.token}
    expect((await runCli(['db', 'info', '--json'], {env})).code).toBe(0) // creates the schema
    // The server fails the statement that writes one device's totals: late in the batch, after
    // the devices, raw rows and rollups were sent over several requests.
    const db = new Database(dbPath)
    db.exec(`CREATE TRIGGER poison BEFORE INSERT ON bw_totals WHEN NEW.bytes_sent >= 999999937 * 3
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END`)
    db.close()
    const before = server.requests.length
    const r = await runCli(['bandwidth', 'sample', '--from', '-', '--auto-register', '--json'], {env, input: stream(12_345).text, timeoutMs: 300_000})
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/injected failure/)
    expect(server.requests.length - before).toBeGreaterThan(5)
    const [c] = await sql(
      dbPath,
      `SELECT (SELECT count(*) FROM devices) AS devices, (SELECT count(*) FROM bw_samples) AS raw, (SELECT count(*) FROM bw_totals) AS totals,
              (SELECT count(*) FROM bw_rollup_5m) + (SELECT count(*) FROM bw_rollup_1h) + (SELECT count(*) FROM bw_rollup_1d) AS rollups`,
    )
    expect(c).toEqual({devices: 0, raw: 0, totals: 0, rollups: 0})
  })
})

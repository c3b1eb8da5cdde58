/**
 * Issue 4 acceptance 5: NDJSON with a bad line at 5,000 of 10,000 → exit 2 naming line 5000, and
 * nothing written. Plus: unknown MACs, --auto-register, same-timestamp samples summed.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {counts, hourAgo, runCliPiped, sql} from './helpers.js'

const T = hourAgo(30)
const mac = (i: number) => `02:00:00:00:01:${(i % 50).toString(16).padStart(2, '0').toUpperCase()}`
const lines = (n: number, from = 0) =>
  Array.from({length: n}, (_, i) => JSON.stringify({mac: mac(i + from), sent: 1000 + i, received: 2000 + i, ts: T + Math.floor((i + from) / 50) * 60_000}))

describe('bandwidth sample --from - (NDJSON)', () => {
  const t = tempStore('netmon-bw-ndjson-')
  afterAll(() => t.cleanup())
  let before: Record<string, number>

  beforeAll(async () => {
    const ok = await runCli(['bandwidth', 'sample', '--from', '-', '--auto-register', '--json'], {db: t.db, input: lines(1000).join('\n') + '\n'})
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.json).toMatchObject({samples_in: 1000, samples_recorded: 1000, devices: 50})
    expect(ok.json.registered).toHaveLength(50)
    before = await counts(t.db)
    expect(before.raw).toBe(1000)
  })

  it('a bad line at 5,000 of 10,000: exit 2 naming line 5000, row counts unchanged', async () => {
    const input = lines(10_000, 1000)
    input[4999] = '{"mac":"02:00:00:00:01:01","sent":-5,"received":1}'
    const r = await runCliPiped(['bandwidth', 'sample', '--from', '-', '--auto-register'], t.db, input.join('\n') + '\n')
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/^Error: NDJSON line 5000: "sent" must be a non-negative integer/)
    expect(await counts(t.db)).toEqual(before)
  })

  it('the same with --json: the error object on stdout', async () => {
    const input = lines(10_000, 1000)
    input[4999] = '{"mac":"02:00:00:00:01:01", "sent": 1, "received": 1'
    const r = await runCliPiped(['bandwidth', 'sample', '--from', '-', '--auto-register', '--json'], t.db, input.join('\n'))
    expect(r.code).toBe(2)
    expect(r.json.error).toMatchObject({code: 'INVALID_INPUT'})
    expect(r.json.error.message).toMatch(/^NDJSON line 5000: not valid JSON/)
    expect(await counts(t.db)).toEqual(before)
  })

  it('an unknown MAC without --auto-register: exit 2 naming it and its line, with a hint, nothing written', async () => {
    const input = [...lines(10, 2000), JSON.stringify({mac: 'de:ad:be:ef:00:01', sent: 1, received: 1, ts: T})]
    const r = await runCli(['bandwidth', 'sample', '--from', '-'], {db: t.db, input: input.join('\n')})
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/unknown device DE:AD:BE:EF:00:01 \(first on line 11\).*register it first.*--auto-register/)
    expect(await counts(t.db)).toEqual(before)
  })

  it('samples with the same device and time are added, not lost', async () => {
    const m = '02:00:00:00:01:00'
    const ts = T + 999 * 60_000
    const input = [1, 2, 3].map(k => JSON.stringify({mac: m, bytes_sent: k * 100, bytes_received: k, ts}))
    const r = await runCli(['bandwidth', 'sample', '--from', '-', '--json'], {db: t.db, input: input.join('\n')})
    expect(r.code, r.stderr).toBe(0)
    const rows = await sql(t.db, `SELECT s.sent, s.received FROM bw_samples s JOIN devices d ON d.id = s.device_id WHERE d.mac = ? AND s.ts = ?`, [m, ts])
    expect(rows).toEqual([{sent: 600, received: 6}])
    const [tot] = await sql(t.db, `SELECT t.sample_count FROM bw_totals t JOIN devices d ON d.id = t.device_id WHERE d.mac = ?`, [m])
    expect(tot!.sample_count).toBe(20 + 3)
  })

  it('ip/hostname in the lines register new devices', async () => {
    const r = await runCli(['bandwidth', 'sample', '--from', '-', '--auto-register', '--json'], {
      db: t.db,
      input: JSON.stringify({mac: 'aa-aa-aa-00-00-01', ip: '192.0.2.50', hostname: 'printer', sent: 5, received: 6, ts: T}) + '\n',
    })
    expect(r.code, r.stderr).toBe(0)
    const s = await runCli(['bandwidth', 'stats', '--mac', '192.0.2.50', '--json'], {db: t.db})
    expect(s.json.device).toMatchObject({mac: 'AA:AA:AA:00:00:01', hostname: 'printer', total: {total_bytes: 11}})
  })
})

/** `bandwidth reset` (the seed's reset_stats) and automatic pruning on write. */
import {spawnSync} from 'node:child_process'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {hasScript, ptyArgs, ptyEnv, runCli, tempStore} from '../../support/cli.js'
import {counts, hourAgo, sql} from './helpers.js'

const T = hourAgo(48)
const A = 'CC:00:00:00:00:01'
const B = 'CC:00:00:00:00:02'

describe('bandwidth reset', () => {
  const t = tempStore('netmon-bw-reset-')
  afterAll(() => t.cleanup())
  const json = async (args: string[]) => {
    const r = await runCli([...args, '--json'], {db: t.db})
    expect(r.code, r.stderr).toBe(0)
    return r.json
  }

  beforeAll(async () => {
    const input = [A, B].flatMap(mac => [0, 1, 2, 3].map(i => JSON.stringify({mac, ts: T + i * 60_000, sent: 1000 * (i + 1), received: 10}))).join('\n')
    const r = await runCli(['bandwidth', 'sample', '--from', '-', '--auto-register'], {db: t.db, input})
    expect(r.code, r.stderr).toBe(0)
  })

  it('one device: totals, count and peaks zeroed, history kept, an event written', async () => {
    const r = await json(['bandwidth', 'reset', '--mac', A, '--yes'])
    expect(r).toMatchObject({success: true, message: 'Statistics reset', devices_reset: 1, macs: [A], purged: null})
    const s = (await json(['bandwidth', 'stats', '--mac', A])).device
    expect(s.total.total_bytes).toBe(0)
    expect(s.sample_count).toBe(0)
    expect(s.peak.bps).toBe(0)
    expect(s.peak.timestamp).toBeNull()
    expect(s.reset_at).not.toBeNull()
    // B untouched, A's history still there.
    expect((await json(['bandwidth', 'stats', '--mac', B])).device.total.total_bytes).toBe(10_000 + 40)
    const h = await json([
      'bandwidth',
      'history',
      '--mac',
      A,
      '--since',
      new Date(T).toISOString(),
      '--until',
      new Date(T + 600_000).toISOString(),
      '--resolution',
      'raw',
    ])
    expect(h.points).toHaveLength(4)
    const ev = await sql(t.db, `SELECT e.type FROM events e JOIN devices d ON d.id = e.device_id WHERE d.mac = ? ORDER BY e.id`, [A])
    expect(ev.map(e => e.type)).toEqual(['new', 'bandwidth_reset'])
  })

  it('counts again from the reset on the next sample', async () => {
    await json(['bandwidth', 'sample', '--mac', A, '--sent', '500', '--received', '5'])
    const s = (await json(['bandwidth', 'stats', '--mac', A])).device
    expect(s.total).toMatchObject({bytes_sent: 500, bytes_received: 5})
    expect(s.sample_count).toBe(1)
  })

  // util-linux `script` gives the command a real terminal, so the confirmation prompt appears.
  it.skipIf(!hasScript)('on a terminal it asks first: "n" resets nothing', async () => {
    const before = await counts(t.db)
    const r = spawnSync('script', ptyArgs(['bandwidth', 'reset', '--db', t.db]), {
      env: ptyEnv(),
      input: 'n\n',
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(r.stdout).toMatch(/Reset bandwidth totals of ALL devices\? \[y\/N\]/)
    expect(r.stdout).toMatch(/Nothing was reset/)
    expect(await counts(t.db)).toEqual(before)
  })

  // Issue 13: without a terminal, no --mac used to mean every device.
  const refusals: [string, string[], RegExp][] = [
    [
      'no --mac nor --all, no terminal',
      ['bandwidth', 'reset'],
      /^Error: say which devices to reset: --device DEVICE \(or --mac\) for one, or --all for every device/,
    ],
    ['--yes alone', ['bandwidth', 'reset', '--yes', '--purge'], /^Error: say which devices to reset/],
    ['--mac and --all', ['bandwidth', 'reset', '--mac', A, '--all', '--yes'], /^Error: .*--(all|mac)=.*cannot also be provided when using --(mac|all)/],
  ]
  for (const [name, args, re] of refusals) {
    it(`${name}: exit 2, one line, nothing reset`, async () => {
      const before = await sql(t.db, 'SELECT * FROM bw_totals ORDER BY device_id')
      const c = await counts(t.db)
      const r = await runCli(args, {db: t.db})
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(r.stderr).toMatch(re)
      expect(await sql(t.db, 'SELECT * FROM bw_totals ORDER BY device_id')).toEqual(before)
      expect(await counts(t.db)).toEqual(c)
    })
  }

  it('all devices with --purge: history deleted too', async () => {
    const r = await json(['bandwidth', 'reset', '--all', '--yes', '--purge'])
    expect(r.devices_reset).toBe(2)
    expect(r.purged.raw_samples).toBe(9)
    const c = await counts(t.db)
    expect(c).toMatchObject({raw: 0, r5m: 0, bytes: 0, devices: 2})
    const top = await json(['bandwidth', 'top'])
    expect(top.top_talkers.map((x: any) => x.total_bytes)).toEqual([0, 0])
  })
})

describe('automatic pruning on write', () => {
  const t = tempStore('netmon-bw-autoprune-')
  afterAll(() => t.cleanup())

  it('a sample write prunes with the saved retention once the last prune is an hour old', async () => {
    const old = (h: number) => JSON.stringify({mac: A, ts: hourAgo(h), sent: 1, received: 1})
    let r = await runCli(['bandwidth', 'sample', '--from', '-', '--auto-register'], {db: t.db, input: [old(40), old(30)].join('\n')})
    expect(r.code, r.stderr).toBe(0)
    r = await runCli(['db', 'prune', '--keep-raw', '1d', '--save', '--json'], {db: t.db})
    expect(r.json.saved).toBe(true)
    expect(r.json.pruned.raw.rows).toBe(2)
    // Older samples arrive later (late), then the next write after an hour prunes them.
    r = await runCli(['bandwidth', 'sample', '--from', '-', '--json'], {db: t.db, input: [old(40), old(36)].join('\n')})
    expect(r.json.auto_pruned).toBe(false)
    expect((await counts(t.db)).raw).toBe(2)
    // Pretend the last prune was long ago.
    const {openStore} = await import('../../../src/core/store/index.js')
    const store = await openStore({db: t.db})
    await store.batch([{sql: `UPDATE bw_settings SET value = '0' WHERE key = 'auto_prune.last'`, args: []}])
    await store.close()
    r = await runCli(['bandwidth', 'sample', '--mac', A, '--sent', '1', '--received', '1', '--json'], {db: t.db})
    expect(r.json.auto_pruned).toBe(true)
    expect((await counts(t.db)).raw).toBe(1)
    // Rollups (kept 30 days) still have all five samples.
    const [x] = await sql(t.db, 'SELECT sum(samples) AS n FROM bw_rollup_1h')
    expect(x!.n).toBe(5)
  })
})

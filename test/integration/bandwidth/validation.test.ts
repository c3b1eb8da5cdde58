/** Issue 4 acceptance 8: limit/sort validation, unknown MAC, malformed MAC/IP → exit 2, one clear line, nothing written. */
import {existsSync} from 'node:fs'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {counts} from './helpers.js'

describe('bandwidth input validation', () => {
  const t = tempStore('netmon-bw-valid-')
  afterAll(() => t.cleanup())
  let before: Record<string, number>

  beforeAll(async () => {
    const r = await runCli(['bandwidth', 'register', '--ip', '192.0.2.1', '--mac', 'AA:BB:CC:DD:EE:01'], {db: t.db})
    expect(r.code, r.stderr).toBe(0)
    const s = await runCli(['bandwidth', 'sample', '--mac', 'AA:BB:CC:DD:EE:01', '--sent', '1', '--received', '2'], {db: t.db})
    expect(s.code, s.stderr).toBe(0)
    before = await counts(t.db)
  })

  const cases: [string, string[], RegExp][] = [
    ['--limit 0', ['bandwidth', 'top', '--limit', '0'], /--limit: must be between 1 and 50/],
    ['--limit 51', ['bandwidth', 'top', '--limit', '51'], /--limit: must be between 1 and 50/],
    ['--limit abc', ['bandwidth', 'top', '--limit', 'abc'], /limit/i],
    ['--sort bogus', ['bandwidth', 'top', '--sort', 'bogus'], /--sort.*total, upload, download, current/],
    ['--since garbage', ['bandwidth', 'top', '--since', 'last tuesday'], /invalid --since "last tuesday"/],
    [
      'unknown MAC',
      ['bandwidth', 'sample', '--mac', 'AA:BB:CC:DD:EE:99', '--sent', '1', '--received', '1'],
      /unknown device AA:BB:CC:DD:EE:99 \(register it first/,
    ],
    ['malformed MAC on sample', ['bandwidth', 'sample', '--mac', 'AA:BB:CC:DD:EE', '--sent', '1', '--received', '1'], /malformed MAC address "AA:BB:CC:DD:EE"/],
    ['negative bytes', ['bandwidth', 'sample', '--mac', 'AA:BB:CC:DD:EE:01', '--sent', '-1', '--received', '1'], /--sent must be a non-negative integer/],
    ['fractional bytes', ['bandwidth', 'sample', '--mac', 'AA:BB:CC:DD:EE:01', '--sent', '1.5', '--received', '1'], /--sent must be a non-negative integer/],
    [
      'counter above 2^64',
      ['bandwidth', 'sample', '--mac', 'AA:BB:CC:DD:EE:01', '--mode', 'counter', '--sent', '18446744073709551616', '--received', '1'],
      /--sent counter is not below 2\^64/,
    ],
    [
      'sample in the future',
      ['bandwidth', 'sample', '--mac', 'AA:BB:CC:DD:EE:01', '--sent', '1', '--received', '1', '--at', '2099-01-01T00:00:00Z'],
      /--at .* is in the future/,
    ],
    ['malformed MAC on register', ['bandwidth', 'register', '--ip', '192.0.2.9', '--mac', 'zz:bb:cc:dd:ee:01'], /malformed MAC address "zz:bb:cc:dd:ee:01"/],
    ['malformed IP on register', ['bandwidth', 'register', '--ip', '192.0.2.300', '--mac', 'AA:BB:CC:DD:EE:09'], /malformed IP address "192.0.2.300"/],
    [
      'bad --max-rate',
      ['bandwidth', 'sample', '--mac', 'AA:BB:CC:DD:EE:01', '--mode', 'counter', '--sent', '1', '--received', '1', '--max-rate', 'fast'],
      /--max-rate "fast" is not a rate/,
    ],
    ['--from something', ['bandwidth', 'sample', '--from', 'udp:1234'], /--from "udp:1234" is not a source/],
    ['missing --received', ['bandwidth', 'sample', '--mac', 'AA:BB:CC:DD:EE:01', '--sent', '1'], /give --mac, --sent and --received, or --from/],
    ['retention out of order', ['db', 'prune', '--keep-raw', '40d'], /retention for raw is longer than for 5m/],
    ['retention too short', ['db', 'prune', '--keep-raw', '1m'], /retention for raw must be at least 5 minutes/],
  ]
  for (const [name, args, re] of cases) {
    it(`${name}: exit 2, one line, nothing written`, async () => {
      const r = await runCli(args, {db: t.db})
      expect(r.code, r.stderr).toBe(2)
      const lines = r.stderr.trim().split('\n')
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(/^Error: /)
      expect(lines[0]).toMatch(re)
      expect(await counts(t.db)).toEqual(before)
    })
  }

  // Bad input on a machine with no store yet: exit 2 and no store file either. (An unknown MAC, and
  // retention checked against the retention saved in the store, need the store to be judged.)
  for (const [name, args] of cases.filter(([n, a]) => n !== 'unknown MAC' && a[0] !== 'db')) {
    it(`${name}, with no store yet: exit 2 and no store created`, async () => {
      const db = `${t.dir}/never-${name.replace(/\W+/g, '-')}.db`
      const r = await runCli(args, {db})
      expect(r.code, r.stderr).toBe(2)
      expect(existsSync(db)).toBe(false)
    })
  }

  it('an unknown MAC for stats is "not found" (exit 1), not an input error', async () => {
    const r = await runCli(['bandwidth', 'stats', '--mac', 'AA:BB:CC:DD:EE:77', '--json'], {db: t.db})
    expect(r.code).toBe(1)
    expect(r.json.error.code).toBe('NOT_FOUND')
  })
})

/** Issue 13: a mistyped flag gets a "did you mean" like a mistyped command (exit 2, one line, JSON error under --json). */
import {existsSync} from 'node:fs'
import {afterAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'

describe('unknown flags', () => {
  const t = tempStore('netmon-dym-')
  afterAll(() => t.cleanup())

  const cases: [string[], RegExp][] = [
    [['bandwidth', 'top', '--limt', '5'], /^Error: unknown flag --limt \(did you mean --limit\? see --help\)$/],
    [['bandwidth', 'top', '--limt=5'], /^Error: unknown flag --limt \(did you mean --limit\? see --help\)$/],
    [['bandwidth', 'top', '--lim', '5'], /^Error: unknown flag --lim \(did you mean --limit\? see --help\)$/],
    [
      ['bandwidth', 'top', '--limt', '5', '--sortt', 'total'],
      /^Error: unknown flags --limt, --sortt \(--limt: did you mean --limit\?; --sortt: did you mean --sort\?; see --help\)$/,
    ],
    [['metrics', 'export', '--formta', 'csv'], /^Error: unknown flag --formta \(did you mean --format\? see --help\)$/],
    [['db', 'info', '--jsno'], /^Error: unknown flag --jsno \(did you mean --json\? see --help\)$/],
    [['db', 'info', '--zzzzzz'], /^Error: unknown flag --zzzzzz \(see --help\)$/],
    [['db', 'info', '-q'], /^Error: unknown flag -q \(see --help\)$/],
  ]
  for (const [args, re] of cases) {
    it(`netmon ${args.join(' ')}: exit 2, one line with the closest flags, no store`, async () => {
      const r = await runCli(args, {db: t.db})
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(r.stderr.trim()).toMatch(re)
      expect(r.stdout).toBe('')
      expect(existsSync(t.db)).toBe(false)
    })
  }

  it('under --json, the same error object as an unknown command', async () => {
    const r = await runCli(['bandwidth', 'top', '--limt', '5', '--json'], {db: t.db})
    expect(r.code).toBe(2)
    expect(r.json).toEqual({error: {code: 'USAGE', message: 'unknown flag --limt', hint: 'did you mean --limit? see --help'}})
    const cmd = await runCli(['bandwidht', '--json'], {db: t.db})
    expect(Object.keys(cmd.json.error).sort()).toEqual(Object.keys(r.json.error).sort())
    expect(cmd.json.error.code).toBe(r.json.error.code)
  })
})

/**
 * Issue 16, acceptance 3 and 5 through the built CLI: every `alerts` command with --json (stdout
 * is only the result, or {error} on failure) and its documented exit codes — check 0/3/2/1, the
 * others 0, 2 for bad input, 1 for an id or rule that does not exist — and every invalid rules
 * file of the shared table (test/unit/alerts/invalid-rules.ts, ≥ 20) refused by `alerts check`
 * with exit 2 and one error line naming the file and the path inside it. Writes nothing when the
 * input is bad (the store is not even created).
 */
import {existsSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {INVALID} from '../../unit/alerts/invalid-rules.js'

const tmp = tempStore('netmon-alerts-cli-')
afterAll(() => tmp.cleanup())
const MAC = 'AA:BB:CC:DD:27:61'

const cli = (args: string[], db = tmp.db) => runCli(args, {db, env: {NETMON_TEST_UNSET_SECRET: undefined, NETMON_ALERT_RULES: undefined}})

describe('alerts commands: --json and exit codes', {timeout: 180_000}, () => {
  it('list, show, ack, silence, rules, test, check', async () => {
    const rules = join(tmp.dir, 'alerts.yaml')
    writeFileSync(
      rules,
      `rules:
  - {name: new-device, kind: device_new, labels: {team: home}}
  - {name: heavy-user, kind: bandwidth_usage, window: rolling_24h, above: 10MB, severity: critical}
`,
    )
    const check = () => cli(['alerts', 'check', '--rules', rules, '--json'])

    // check: 0 with nothing firing; the JSON has the documented keys.
    let r = await check()
    expect(r.code, r.stderr).toBe(0)
    expect(Object.keys(r.json).sort()).toEqual(['delivery', 'dry_run', 'evaluated_at', 'evaluated_at_ms', 'firing', 'firing_count', 'queued', 'rules'])
    expect(r.json).toMatchObject({dry_run: false, firing_count: 0, firing: []})

    // test: exit 0 whatever it finds; stores nothing.
    expect((await cli(['bandwidth', 'register', '--ip', '10.77.27.61', '--mac', MAC, '--hostname', 'pc'])).code).toBe(0)
    r = await cli(['alerts', 'test', 'new-device', '--rules', rules, '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.json).toMatchObject({dry_run: true, rules: [{rule: 'new-device', matching: 1}], queued: 0, delivery: []})
    expect(r.json.firing.map((f: any) => f.subject)).toEqual([MAC])
    r = await cli(['alerts', 'test', 'nope', '--rules', rules, '--json'])
    expect(r.code).toBe(1)
    expect(r.json.error.message).toContain('no rule named "nope"')
    expect((await cli(['alerts', 'list', '--json'])).json).toEqual({alerts: []})

    // check: 3 when something fires (the log channel prints its line on stderr, not stdout).
    r = await check()
    expect(r.code, r.stderr).toBe(3)
    expect(r.json.firing).toMatchObject([{rule: 'new-device', subject: MAC, severity: 'warning'}])
    expect(r.stderr).toContain(`alert firing rule=new-device subject=${MAC}`)
    const id = r.json.firing[0].id as number
    // Without --json (and without delivering): the same exit code rule.
    r = await cli(['alerts', 'check', '--rules', rules, '--no-deliver'])
    expect(r.code).toBe(0) // new-device resolved silently: nothing fires now

    // list / show
    r = await cli(['alerts', 'list', '--json'])
    expect(r.code).toBe(0)
    expect(r.json.alerts).toHaveLength(1)
    expect(Object.keys(r.json.alerts[0]).sort()).toEqual(
      [
        'ack_comment',
        'acked',
        'acked_at_ms',
        'fired_at_ms',
        'id',
        'kind',
        'labels',
        'message',
        'resolved_at_ms',
        'rule',
        'severity',
        'started_at',
        'started_at_ms',
        'state',
        'subject',
        'updated_at_ms',
        'value',
        'values',
      ].sort(),
    )
    expect((await cli(['alerts', 'list', '--state', 'firing', '--json'])).json.alerts).toEqual([])
    expect((await cli(['alerts', 'list', '--state', 'resolved', '--since', '1h', '--limit', '5', '--json'])).json.alerts.map((a: any) => a.id)).toEqual([id])
    for (const bad of [
      ['--state', 'burning'],
      ['--since', 'yesterday-ish'],
      ['--limit', '0'],
    ]) {
      const b = await cli(['alerts', 'list', ...bad, '--json'])
      expect(b.code, bad.join(' ')).toBe(2)
      expect(b.json.error).toBeDefined()
    }
    r = await cli(['alerts', 'show', String(id), '--json'])
    expect(r.code).toBe(0)
    expect(r.json).toMatchObject({id, rule: 'new-device', state: 'resolved', labels: {team: 'home'}})
    expect(r.json.events.map((e: any) => e.kind)).toEqual(['pending', 'firing', 'resolved'])
    expect(Object.keys(r.json.events[0]).sort()).toEqual(['from', 'id', 'kind', 'note', 'notified', 'silenced', 'to', 'ts', 'ts_ms', 'value', 'values'].sort())
    expect((await cli(['alerts', 'show', '999', '--json'])).code).toBe(1)
    expect((await cli(['alerts', 'show', 'abc', '--json'])).code).toBe(2)
    r = await cli(['alerts', 'show', String(id)])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('new-device (device_new)')

    // ack
    r = await cli(['alerts', 'ack', String(id), '--comment', 'seen', '--json'])
    expect(r.code).toBe(0)
    expect(r.json).toMatchObject({id, acked: true, ack_comment: 'seen'})
    expect(typeof r.json.acked_at_ms).toBe('number')
    expect((await cli(['alerts', 'ack', '999', '--json'])).code).toBe(1)
    expect((await cli(['alerts', 'ack', '0'])).code).toBe(2)
    expect((await cli(['alerts', 'show', String(id), '--json'])).json.events.at(-1)).toMatchObject({kind: 'ack', note: 'seen'})

    // silence
    r = await cli(['alerts', 'silence', '--rule', 'heavy-user', '--match', 'team=home', '--for', '2h', '--comment', 'backup', '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.json).toMatchObject({rule: 'heavy-user', matchers: {team: 'home'}, comment: 'backup'})
    expect(r.json.ends_at_ms - Date.now()).toBeGreaterThan(3_600_000)
    expect(Object.keys(r.json).sort()).toEqual(['comment', 'ends_at', 'ends_at_ms', 'id', 'matchers', 'rule', 'starts_at'].sort())
    for (const bad of [
      ['--for', '2h'], // neither --rule nor --match
      ['--rule', 'x', '--for', 'soon'],
      ['--match', 'novalue', '--for', '1h'],
      ['--rule', 'x'], // --for is required
    ]) {
      const b = await cli(['alerts', 'silence', ...bad, '--json'])
      expect(b.code, bad.join(' ')).toBe(2)
    }

    // rules
    r = await cli(['alerts', 'rules', '--rules', rules, '--json'])
    expect(r.code).toBe(0)
    expect(r.json.rules.map((x: any) => [x.name, x.kind, x.firing, x.pending, x.last_eval_at_ms !== null])).toEqual([
      ['new-device', 'device_new', 0, 0, true],
      ['heavy-user', 'bandwidth_usage', 0, 0, true],
    ])
    expect(r.json.channels).toEqual([{name: 'log', type: 'log'}])

    // No rules file: exit 2 (check, rules, test).
    for (const args of [
      ['alerts', 'check'],
      ['alerts', 'rules'],
      ['alerts', 'test', 'x'],
    ])
      expect((await cli([...args, '--json'])).code, args.join(' ')).toBe(2)

    // check: 1 when the store cannot be used (a file that is not an SQLite database).
    const junk = join(tmp.dir, 'junk.db')
    writeFileSync(junk, `not a database ${'x'.repeat(200)}\n`)
    r = await cli(['alerts', 'check', '--rules', rules, '--json'], junk)
    expect(r.code, r.stderr).toBe(1)
    expect(r.json.error).toMatchObject({code: 'STORE_ERROR', message: expect.stringContaining('not a netmon store')})
  })

  it(`${INVALID.length} invalid rules files: alerts check exits 2 with one line naming the file and the path`, async () => {
    expect(INVALID.length).toBeGreaterThanOrEqual(20)
    const db = join(tmp.dir, 'never.db')
    const cases = INVALID.map(([text, want], i) => {
      const file = join(tmp.dir, `bad-${i}.${text.startsWith('{') ? 'json' : 'yaml'}`)
      writeFileSync(file, text)
      return {i, file, want}
    })
    // Four CLIs at a time (2 cores).
    const results: {i: number; file: string; want: string; text: Awaited<ReturnType<typeof cli>>; json?: Awaited<ReturnType<typeof cli>>}[] = []
    for (let k = 0; k < cases.length; k += 4)
      results.push(
        ...(await Promise.all(
          cases.slice(k, k + 4).map(async c => ({
            ...c,
            text: await cli(['alerts', 'check', '--rules', c.file], db),
            ...(c.i % 5 === 0 ? {json: await cli(['alerts', 'check', '--rules', c.file, '--json'], db)} : {}),
          })),
        )),
      )
    for (const {i, file, want, text, json} of results) {
      expect(text.code, `file ${i}: ${text.stderr}`).toBe(2)
      expect(text.stdout).toBe('')
      const lines = text.stderr.trim().split('\n')
      expect(lines[0], `file ${i}`).toContain(`rules file ${file}`)
      expect(lines[0], `file ${i}`).toContain(want)
      expect(
        lines.filter(l => !/^\s*(Hint|hint)\b|^ {2}/.test(l)),
        `file ${i}: one error line`,
      ).toHaveLength(1)
      if (json) {
        expect(json.code).toBe(2)
        expect(json.json.error.message).toContain(want)
      }
    }
    // Bad input writes nothing: the store was never created.
    expect(existsSync(db)).toBe(false)
  })
})

/**
 * Acceptance 5 (issue 14): invalid agent configs are refused with one error naming the path
 * (the pure validator for every case here; test/integration/agent/check-cli.test.ts runs a few
 * through `netmon agent check` for exit 2).
 */
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {resolveAgentConfig} from '../../../src/core/agent/config.js'
import {isNetmonError} from '../../../src/core/errors.js'
import {cases, env, TOKEN, validConfig} from './cases.js'

const dir = mkdtempSync(join(tmpdir(), 'netmon-agent-cfg-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

const CASES = cases(dir)

function errorOf(raw: unknown): string {
  try {
    resolveAgentConfig(raw, {env, baseDir: dir})
  } catch (e) {
    if (!isNetmonError(e)) throw e
    expect(e.kind).toBe('input') // → exit 2
    return e.message
  }
  throw new Error('config was accepted')
}

describe('agent config validation', () => {
  it('accepts the valid config and resolves schedules and secrets', () => {
    const c = resolveAgentConfig(validConfig(), {env, baseDir: dir})
    expect(c.jobs.map(j => [j.name, j.kind])).toEqual([
      ['bytes', 'collector'],
      ['sweep', 'scan'],
      ['ping', 'latency'],
      ['prune', 'prune'],
      ['meters', 'bridge'],
      ['api', 'serve'],
      ['flows', 'netflow'],
    ])
    expect(c.jobs[0]!.schedule).toEqual({type: 'every', ms: 10_000})
    expect(c.jobs[2]!.schedule).toEqual({type: 'cron', expr: '*/5 * * * *', timezone: 'Europe/Vienna'})
    expect(c.jobs[3]).toMatchObject({keep: {raw: 14 * 86_400_000, '1d': 0, latencyProbes: 30 * 86_400_000}})
    expect(c.jobs[5]).toMatchObject({token: TOKEN, tokenSource: '$API_TOKEN'})
    expect(c.heartbeatMs).toBe(2000)
  })

  it('reads a token from a file', () => {
    const f = join(dir, 'token')
    writeFileSync(f, `${TOKEN}\n`)
    const raw = validConfig()
    raw.jobs[5] = {name: 'api', kind: 'serve', host: '0.0.0.0', token_file: f} as any
    const c = resolveAgentConfig(raw, {env, baseDir: dir})
    expect(c.jobs[5]).toMatchObject({token: TOKEN, tokenSource: f})
  })

  it('accepts an alerts job with a rules file or inline rules', () => {
    writeFileSync(
      join(dir, 'alerts.yaml'),
      'channels: {hook: {type: webhook, url: "http://127.0.0.1:9/a"}}\nrules: [{name: heavy, kind: bandwidth_usage, above: 10MB, window: day, channels: [hook]}]\n',
    )
    const raw = validConfig()
    raw.jobs.push({name: 'alerting', kind: 'alerts', every: '1m', rules_file: 'alerts.yaml'} as any)
    raw.jobs.push({name: 'inline', kind: 'alerts', cron: '*/5 * * * *', rules: [{name: 'new', kind: 'device_new'}]} as any)
    const c = resolveAgentConfig(raw, {env, baseDir: dir})
    expect(c.jobs[7]).toMatchObject({kind: 'alerts', schedule: {type: 'every', ms: 60_000}, timeoutMs: 60_000, rulesPath: join(dir, 'alerts.yaml')})
    const a = c.jobs[7] as Extract<(typeof c.jobs)[number], {kind: 'alerts'}>
    expect(a.rules.rules.map(r => [r.name, r.kind, r.channels])).toEqual([['heavy', 'bandwidth_usage', ['hook']]])
    expect([...a.rules.channels.keys()]).toEqual(['log', 'hook'])
    expect(c.jobs[8]).toMatchObject({kind: 'alerts', schedule: {type: 'cron', expr: '*/5 * * * *'}})
  })

  it(`has at least 20 invalid cases (${CASES.length})`, () => expect(CASES.length).toBeGreaterThanOrEqual(20))

  it.each(CASES)('%s → the error names its path', (_name, mutate, want) => {
    const c = validConfig()
    mutate(c)
    const msg = errorOf(c)
    expect(msg).toMatch(want)
    expect(msg).not.toContain(TOKEN)
  })

  it('a config that is not a mapping is refused', () => {
    expect(errorOf([1, 2])).toMatch(/^config: expected a mapping with a jobs list/)
    expect(errorOf(null)).toMatch(/^config: /)
  })
})

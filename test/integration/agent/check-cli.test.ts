/**
 * Acceptance 5 through the CLI: `netmon agent check` exits 2 with one line naming the path for
 * invalid configs (a sample of the unit table plus file-level errors), 0 with the job list for a
 * valid one, and never prints a secret.
 */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {cases, env, TOKEN, validConfig} from '../../unit/agent/cases.js'

const tmp = tempStore('netmon-agent-check-')
afterAll(() => tmp.cleanup())

describe('agent check', () => {
  it('a valid config: exit 0, the jobs listed, no secret printed', async () => {
    const f = join(tmp.dir, 'valid.json')
    writeFileSync(f, JSON.stringify(validConfig()))
    const r = await runCli(['agent', 'check', '--config', f, '--json'], {noDb: true, env})
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.jobs.map((j: {name: string; schedule: string}) => `${j.name} ${j.schedule}`)).toEqual([
      'bytes every 10s',
      'sweep every 5m',
      'ping cron */5 * * * * (Europe/Vienna)',
      'prune cron 0 3 * * *',
      'meters continuous',
      'api continuous',
      'flows continuous',
    ])
    expect(r.stdout).not.toContain(TOKEN)
    expect(r.stdout).toContain('token from $API_TOKEN')
  })

  const sample = cases(tmp.dir).filter((_, i) => i % 6 === 0)
  it.each(sample)('%s → exit 2 naming the path', async (name, mutate, want) => {
    const c = validConfig()
    mutate(c)
    const f = join(tmp.dir, `${name.replace(/\W+/g, '-')}.json`)
    writeFileSync(f, JSON.stringify(c))
    const r = await runCli(['agent', 'check', '--config', f], {noDb: true, env})
    expect(r.code).toBe(2)
    const lines = r.stderr.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]!.replace(/^Error: /, '')).toMatch(want)
    expect(r.stderr).not.toContain(TOKEN)
  })

  it('YAML syntax errors name the line; a missing file is exit 2', async () => {
    const f = join(tmp.dir, 'bad.yaml')
    writeFileSync(f, 'jobs:\n  - name: a\n    kind: [collector\n')
    const r = await runCli(['agent', 'check', '--config', f], {noDb: true})
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/invalid YAML at line \d+/)
    const m = await runCli(['agent', 'check', '--config', join(tmp.dir, 'nope.yaml')], {noDb: true})
    expect(m.code).toBe(2)
    expect(m.stderr).toContain('no such file')
  })

  it('agent run refuses an invalid config before opening the store (exit 2)', async () => {
    const f = join(tmp.dir, 'run-bad.json')
    writeFileSync(f, JSON.stringify({jobs: [{name: 'a', kind: 'scan', every: 'soon', targets: ['127.0.0.1']}]}))
    const r = await runCli(['agent', 'run', '--config', f], {db: join(tmp.dir, 'never.db')})
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('jobs[0].every: invalid duration "soon"')
    const {existsSync} = await import('node:fs')
    expect(existsSync(join(tmp.dir, 'never.db'))).toBe(false)
  })
})

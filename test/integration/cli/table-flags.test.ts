/**
 * Issue 17 ("Tables"): compact tables by default (one rule under the heading, none between rows),
 * and for scripts `--columns` (choose and order columns by heading) and `--no-header` (tab-separated
 * rows, no borders) on every command, like --db. Spawned CLI over a real store.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ROOT, runCli, tempStore} from '../../support/cli.js'

const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {flags: Record<string, unknown>}>}

describe('table flags', () => {
  const t = tempStore('netmon-table-')
  beforeAll(async () => {
    for (const [mac, ip, host] of [
      ['AA:BB:CC:00:00:01', '10.0.0.1', 'one'],
      ['AA:BB:CC:00:00:02', '10.0.0.2', 'office printer'],
      ['AA:BB:CC:00:00:03', '10.0.0.3', 'three'],
    ]) {
      const r = await runCli(['bandwidth', 'register', '--mac', mac!, '--ip', ip!, '--hostname', host!], {db: t.db})
      expect(r.code, r.stderr).toBe(0)
    }
  })
  afterAll(() => t.cleanup())

  it('every command takes --columns and --no-header', () => {
    const missing = Object.entries(manifest.commands).filter(([, c]) => !('columns' in c.flags) || !('header' in c.flags))
    expect(missing.map(([id]) => id)).toEqual([])
  })

  it('tables are compact: a rule under the heading, none between rows', async () => {
    const r = await runCli(['bandwidth', 'top'], {db: t.db})
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines.filter(l => l.startsWith('├'))).toHaveLength(1)
    expect(lines[2]!.startsWith('├')).toBe(true)
    expect(lines.filter(l => l.startsWith('│'))).toHaveLength(4)
  })

  it('--columns picks and orders columns by heading (case-insensitive); --no-header gives tab-separated rows', async () => {
    const r = await runCli(['bandwidth', 'top', '--columns', 'IP,hostname', '--no-header'], {db: t.db})
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trimEnd().split('\n')).toEqual(['10.0.0.1\tone', '10.0.0.2\toffice printer', '10.0.0.3\tthree'])
    const boxed = await runCli(['bandwidth', 'top', '--columns', 'mac'], {db: t.db})
    expect(
      boxed.stdout
        .split('\n')
        .filter(l => l.startsWith('│'))
        .map(l => l.replace(/[│\s]/g, '')),
    ).toEqual(['mac', 'AA:BB:CC:00:00:01', 'AA:BB:CC:00:00:02', 'AA:BB:CC:00:00:03'])
  })

  it('an unknown or empty column is exit 2 naming the columns there are', async () => {
    const r = await runCli(['bandwidth', 'top', '--columns', 'mac,nosuch'], {db: t.db})
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr.trim().split('\n')).toEqual([
      'Error: --columns: no column "nosuch" in this table (its columns: #, hostname, ip, mac, current, total, sent, received, peak)',
    ])
    const e = await runCli(['devices', 'list', '--columns', 'mac,,ip'], {db: t.db})
    expect(e.code).toBe(2)
    expect(e.stderr).toContain('--columns: empty column name')
  })

  it('--json ignores the table flags', async () => {
    const r = await runCli(['bandwidth', 'top', '--json', '--columns', 'mac', '--no-header'], {db: t.db})
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.top_talkers).toHaveLength(3)
  })
})

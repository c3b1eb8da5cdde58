/**
 * Issue 13: `--db` is accepted by every command, as the README says. The list of commands comes
 * from the manifest, so a new command is covered without editing this file.
 */
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {ROOT, runCli, tempStore} from '../../support/cli.js'

const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {flags: Record<string, unknown>}>}
const ids = Object.keys(manifest.commands)

describe('--db on every command', () => {
  const t = tempStore('netmon-dbflag-')
  afterAll(() => t.cleanup())

  it('the manifest lists commands, each with a --db flag', () => {
    expect(ids.length).toBeGreaterThan(20)
    expect(ids.filter(id => !('db' in manifest.commands[id]!.flags))).toEqual([])
  })

  // Every command is run with a flag that does not exist besides --db: parsing fails before the
  // command does anything (no probe, no server, whatever the code under test does with --db), and
  // oclif names every flag it does not know, so --db must not be among them.
  for (const id of ids) {
    it(`netmon ${id.replaceAll(':', ' ')} knows --db`, async () => {
      const r = await runCli([...id.split(':'), '--db', join(t.dir, 'x.db'), '--zz-not-a-flag'], {noDb: true})
      expect(r.code, r.stderr).toBe(2)
      const lines = r.stderr.trim().split('\n')
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(/--zz-not-a-flag/)
      expect(lines[0]).not.toMatch(/--db/)
      expect(existsSync(join(t.dir, 'x.db'))).toBe(false)
    })
  }

  // The commands that never open the store still refuse a malformed --db (exit 2), like the others.
  const storeless: [string, string[]][] = [
    ['bridge check', ['bridge', 'check', '--config', join(t.dir, 'missing.yaml')]],
    ['meters read', ['meters', 'read', '--host', '127.0.0.1', '--port', '1']],
    ['meters simulate', ['meters', 'simulate', '--port', '0']],
  ]
  for (const [name, args] of storeless) {
    for (const bad of ['', 'ftp://x/y']) {
      it(`${name} --db ${JSON.stringify(bad)}: exit 2, one line about --db`, async () => {
        const r = await runCli([...args, '--db', bad], {noDb: true})
        expect(r.code, r.stderr).toBe(2)
        const lines = r.stderr.trim().split('\n')
        expect(lines).toHaveLength(1)
        expect(lines[0]).toMatch(/^Error: --db (is empty|has an unsupported scheme)/)
      })
    }
  }

  it('bridge check takes a --db and leaves it alone (nothing to store)', async () => {
    const cfg = join(t.dir, 'bridge.json')
    writeFileSync(
      cfg,
      JSON.stringify({mqtt: {url: 'mqtt://127.0.0.1:1883'}, meters: [{id: 'm1', host: '127.0.0.1', port: 4061, obis: {'1.0.1.8.0.255': 'e'}}]}),
    )
    const db = join(t.dir, 'bridge-check.db')
    const r = await runCli(['bridge', 'check', '--config', cfg, '--json'], {db})
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.meters).toHaveLength(1)
    expect(existsSync(db)).toBe(false)
  })
})

/**
 * Issue 17 ("Docs"): man pages generated from the commands and installed with the package, and
 * docs/ pages that match `--help`. The manifest is the source of truth for both: a command or flag
 * added without regenerating the pages, or without a line in the docs, fails here.
 */
import {execFileSync, spawnSync} from 'node:child_process'
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
// @ts-expect-error: a plain ES module build script without types
import {renderManPages, roff} from '../../../scripts/man.js'

const root = join(import.meta.dirname, '..', '..', '..')
const manifest = JSON.parse(readFileSync(join(root, 'oclif.manifest.json'), 'utf8'))
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
interface Flag {
  name: string
  helpGroup?: string
  hidden?: boolean
  allowNo?: boolean
  char?: string
}
interface Command {
  id: string
  flags: Record<string, Flag>
  hidden?: boolean
}
const commands = (Object.values(manifest.commands) as Command[]).filter(c => !c.hidden)
const own = (c: Command) => Object.values(c.flags).filter(f => f.helpGroup !== 'GLOBAL' && !f.hidden)
const pageFile = (id: string) => `netmon-${id.replace(/:/g, '-')}.1`
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0

describe('man pages', () => {
  it('are fresh: man/ and package.json "man" are what the manifest gives (npm run build writes them)', () => {
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'man.js'), '--check'], {encoding: 'utf8'})
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    const pages: Map<string, string> = renderManPages(manifest, pkg)
    expect(readdirSync(join(root, 'man', 'man1')).sort()).toEqual([...pages.keys()].sort())
    expect(pkg.man).toEqual([...pages.keys()].sort().map(f => `./man/man1/${f}`))
  })

  it('one page per command, naming every flag and argument; netmon(1) lists every command', () => {
    const pages: Map<string, string> = renderManPages(manifest, pkg)
    expect(commands.length).toBeGreaterThan(30)
    const index = pages.get('netmon.1')!
    for (const c of commands) {
      const page = pages.get(pageFile(c.id))
      expect(page, c.id).toBeDefined()
      expect(index).toContain(`.BR ${roff(pageFile(c.id).slice(0, -2))} (1)`)
      expect(page).toContain(`.B ${roff(`netmon ${c.id.replace(/:/g, ' ')}`)}`)
      for (const f of Object.values(c.flags).filter(f => !f.hidden))
        expect(page, `${c.id} --${f.name}`).toContain(roff(`--${f.allowNo ? '[no-]' : ''}${f.name}`))
    }
  })

  it('escapes what roff would read as requests or escapes', () => {
    expect(roff('.start')).toBe('\\&.start')
    expect(roff("'quote")).toBe("\\&'quote")
    expect(roff('a\\b --x')).toBe('a\\eb \\-\\-x')
    expect(roff('5 → 6 µs')).toBe('5 \\[u2192] 6 \\[u00B5]s')
  })

  it.skipIf(!has('groff'))('every page renders with groff without a warning (groff -ww -z -man)', () => {
    for (const f of readdirSync(join(root, 'man', 'man1'))) {
      const r = spawnSync('groff', ['-ww', '-z', '-man', join(root, 'man', 'man1', f)], {encoding: 'utf8'})
      expect(`${f}: ${r.stderr}`).toBe(`${f}: `)
      expect(r.status).toBe(0)
    }
  })

  it.skipIf(!has('man'))('man -l shows a command page as a user reads it', () => {
    const text = execFileSync('man', ['-l', join(root, 'man', 'man1', 'netmon-bandwidth-report.1')], {
      encoding: 'utf8',
      env: {...process.env, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '100', LC_ALL: 'C.UTF-8'},
    })
    expect(text).toMatch(/^NAME\n\s+netmon-bandwidth-report\s+-\s+Traffic/m)
    expect(text).toMatch(/^OPTIONS\n/m)
    expect(text).toContain('--oneline')
    expect(text).toMatch(/^EXIT STATUS\n/m)
  })

  it('the packed package carries every page (npm pack --dry-run)', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], {cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']})
    const files = new Set((JSON.parse(out)[0].files as {path: string}[]).map(f => f.path))
    for (const m of pkg.man as string[]) expect(files.has(m.replace(/^\.\//, '')), m).toBe(true)
  })
})

describe('docs/ match --help', () => {
  const docs = new Map(
    readdirSync(join(root, 'docs'))
      .filter(f => f.endsWith('.md'))
      .map(f => [f, readFileSync(join(root, 'docs', f), 'utf8')] as const),
  )

  it('every command is documented in docs/, and the pages that document it name each of its flags', () => {
    const missing: string[] = []
    for (const c of commands) {
      const name = c.id.replace(/:/g, ' ')
      const mention = new RegExp(`(netmon |\`)${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![a-z-])`)
      const pages = [...docs].filter(([, text]) => mention.test(text))
      if (!pages.length) {
        missing.push(`${name}: no docs/ page mentions it`)
        continue
      }
      const text = pages.map(([, t]) => t).join('\n')
      for (const f of own(c)) {
        const spelled = [`--${f.name}`, ...(f.allowNo ? [`--no-${f.name}`, `--[no-]${f.name}`] : [])]
        if (!spelled.some(s => new RegExp(`${s.replace(/[[\]]/g, '\\$&')}(?![a-z0-9-])`).test(text)))
          missing.push(`${name} --${f.name}: not in ${pages.map(([f]) => f).join(', ')}`)
      }
    }
    expect(missing).toEqual([])
  })
})

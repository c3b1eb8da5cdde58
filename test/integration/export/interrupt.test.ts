/**
 * Issue 9 acceptance 4: an export killed mid-way leaves no file at --out. The CLI is spawned on
 * a big table, killed once its temp file holds data (so the kill really is mid-export), and the
 * folder is checked. SIGKILL cannot be handled, so the temp file must never have been the final
 * name; SIGINT/SIGTERM also remove the temp file; a disk that fills up mid-way fails with exit 1
 * and leaves an older file at --out as it was.
 */
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {TEMP_SUFFIX} from '../../../src/core/export/sink.js'
import {BIN, ROOT, isRoot, runCli} from '../../support/cli.js'
import {seedManyEvents, testStore, type TestStore} from '../../unit/export/fixtures.js'

const ROWS = 120_000
let t: TestStore
beforeAll(async () => {
  t = await testStore()
  await seedManyEvents(t.store, ROWS)
  await t.store.close()
})
afterAll(() => t.cleanup())

const temps = (dir: string) => readdirSync(dir).filter(n => n.endsWith(TEMP_SUFFIX))

function start(out: string): {child: ChildProcess; exit: Promise<{code: number | null; signal: NodeJS.Signals | null; stderr: string}>} {
  // Small pages: the export takes long enough to be caught in the middle.
  const child = spawn(process.execPath, [BIN, 'metrics', 'export', '--what', 'events', '--out', out, '--page-size', '100', '--db', t.db], {
    cwd: ROOT,
    env: {...process.env, NETMON_NO_PROGRESS: '1'},
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', d => (stderr += d))
  const exit = new Promise<{code: number | null; signal: NodeJS.Signals | null; stderr: string}>(res =>
    child.on('exit', (code, signal) => res({code, signal, stderr})),
  )
  return {child, exit}
}

/** Waits until the export's temp file holds at least `bytes`; returns its path. */
async function midway(dir: string, bytes = 64 * 1024): Promise<string> {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    for (const n of temps(dir)) {
      const p = join(dir, n)
      try {
        if (statSync(p).size >= bytes) return p
      } catch {
        /* renamed or removed between readdir and stat */
      }
    }
    await new Promise(r => setTimeout(r, 5))
  }
  throw new Error('the export never got going')
}

describe('interrupted export', () => {
  it('SIGKILL mid-way: nothing at --out (an older file there stays as it was); the next export cleans the orphan', async () => {
    const dir = join(t.dir, 'kill')
    mkdirSync(dir)
    const out = join(dir, 'events.csv')
    writeFileSync(out, 'previous export\n')
    const {child, exit} = start(out)
    const temp = await midway(dir)
    child.kill('SIGKILL')
    const e = await exit
    expect(e.signal).toBe('SIGKILL')
    // Really mid-way: the temp file was partial when the process died.
    expect(existsSync(temp)).toBe(true)
    expect(readFileSync(out, 'utf8')).toBe('previous export\n')
    expect(readdirSync(dir).sort()).toEqual([temp.slice(dir.length + 1), 'events.csv'].sort())

    // The next export to the same name completes and removes the dead process's temp file.
    const again = await runCli(['metrics', 'export', '--what', 'events', '--out', out, '--json'], {db: t.db, timeoutMs: 60_000})
    expect(again.code).toBe(0)
    expect(again.json.rows).toBe(ROWS)
    expect(readdirSync(dir)).toEqual(['events.csv'])
    const text = readFileSync(out, 'utf8')
    expect(text.split('\r\n').length).toBe(ROWS + 2) // header + rows + final empty
  })

  it('SIGKILL mid-way with no earlier file: no file at --out at all', async () => {
    const dir = join(t.dir, 'kill2')
    mkdirSync(dir)
    const out = join(dir, 'events.ndjson')
    const {child, exit} = start(out)
    await midway(dir)
    child.kill('SIGKILL')
    await exit
    expect(existsSync(out)).toBe(false)
  })

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    it(`${sig} mid-way: the process ends by the signal and leaves nothing behind, temp file included`, async () => {
      const dir = join(t.dir, sig)
      mkdirSync(dir)
      const out = join(dir, 'events.json')
      const {child, exit} = start(out)
      await midway(dir)
      child.kill(sig)
      const e = await exit
      expect(e.signal).toBe(sig)
      expect(readdirSync(dir)).toEqual([])
    })
  }
})

describe('a disk that fills up mid-way', () => {
  const mnt = join('/tmp', `netmon-export-full-${process.pid}`)
  let mounted = false
  beforeAll(() => {
    if (!isRoot) return
    mkdirSync(mnt, {recursive: true})
    mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt]).status === 0
  })
  afterAll(() => {
    if (mounted) spawnSync('umount', [mnt])
    rmSync(mnt, {recursive: true, force: true})
  })

  it('exit 1 with one clear line, the temp file removed, an older --out untouched', async ctx => {
    if (!mounted) ctx.skip()
    const out = join(mnt, 'events.csv')
    writeFileSync(out, 'older export\n')
    const r = await runCli(['metrics', 'export', '--what', 'events', '--out', out], {db: t.db, timeoutMs: 60_000})
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^Error: cannot write the export to .*events\.csv: no space left on the device \(/)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(readdirSync(mnt)).toEqual(['events.csv'])
    expect(readFileSync(out, 'utf8')).toBe('older export\n')
  })
})

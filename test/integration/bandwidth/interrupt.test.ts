/**
 * Issue 13: `bandwidth sample --from -` stopped by a signal or killed outright.
 * - SIGINT/SIGTERM: the import stops even with the pipe still open, rolls back, exits 130/143
 *   with one line saying nothing was recorded.
 * - kill -9 leaves its spool in the temp dir; the next import removes it, and never a live
 *   process's spool.
 * The built CLI is spawned with its own TMPDIR, so the spools it makes can be watched.
 */
import {type ChildProcessWithoutNullStreams, spawn} from 'node:child_process'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {Readable} from 'node:stream'
import {join} from 'node:path'
import {afterAll, afterEach, describe, expect, it} from 'vitest'
import {runSample} from '../../../src/core/bandwidth/sample.js'
import {removeOrphanSpools} from '../../../src/core/bandwidth/spool.js'
import {openStore} from '../../../src/core/store/index.js'
import {BIN, ROOT, runCli, tempStore} from '../../support/cli.js'
import {counts} from './helpers.js'

const t = tempStore()
/** Every CLI started here, so a failing test cannot leave one running with its pipe open. */
const started: ChildProcessWithoutNullStreams[] = []
afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
})
afterAll(() => t.cleanup())

const line = (i: number) => JSON.stringify({mac: `AA:BB:CC:00:00:0${i % 4}`, sent: 1000 + (i % 7), received: 2000 + (i % 11)}) + '\n'
/** NDJSON for `n` samples on four devices. */
const ndjson = (n: number, from = 0) => {
  const parts: string[] = []
  for (let i = from; i < from + n; i++) parts.push(line(i))
  return parts.join('')
}

interface Running {
  child: ChildProcessWithoutNullStreams
  stderr: () => string
  stdout: () => string
  exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>
  /** Writes and resolves once the kernel took it: with more than a pipe's capacity (64 KiB), the CLI has read it. */
  write: (data: string) => Promise<void>
}

function start(db: string, env: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, [BIN, 'bandwidth', 'sample', '--from', '-', '--auto-register', '--db', db], {
    cwd: ROOT,
    env: {...process.env, NETMON_NO_PROGRESS: '1', ...env},
  })
  started.push(child)
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', d => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', d => (stderr += d))
  child.stdin.on('error', () => {}) // EPIPE once it is gone
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>(resolve => child.on('close', (code, signal) => resolve({code, signal})))
  const write = (data: string) => new Promise<void>((resolve, reject) => child.stdin.write(data, e => (e ? reject(e) : resolve())))
  return {child, stderr: () => stderr, stdout: () => stdout, exited, write}
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const v = probe()
    if (v) return v
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise(r => setTimeout(r, 50))
  }
}

const spools = (dir: string) => readdirSync(dir).filter(n => n.startsWith('netmon-spool-'))
/** The spool folder of `pid` once its records file holds data. */
const spoolOf = (dir: string, pid: number) =>
  spools(dir).find(n => {
    if (!n.startsWith(`netmon-spool-${pid}-`)) return false
    try {
      return statSync(join(dir, n, 'records.f64')).size > 0
    } catch {
      return false
    }
  })

describe('bandwidth sample --from - and signals', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)('%s with the pipe still open: exit %i, one line saying nothing was recorded, totals unchanged', async (signal, code) => {
    const db = join(t.dir, `signal-${signal}.db`)
    const seed = await runCli(['bandwidth', 'sample', '--from', '-', '--auto-register'], {db, input: ndjson(10)})
    expect(seed.code, seed.stderr).toBe(0)
    const before = await counts(db)
    const tmp = mkdtempSync(join(t.dir, 'tmp-'))
    const run = start(db, {TMPDIR: tmp})
    // 200 KiB taken by the kernel: the CLI is reading (its handlers are installed before it reads).
    await run.write(ndjson(4000, 10))
    run.child.kill(signal)
    const exit = await run.exited
    expect(exit.code, run.stderr()).toBe(code)
    expect(run.stderr().trim().split('\n')).toHaveLength(1)
    expect(run.stderr()).toMatch(new RegExp(`interrupted by ${signal}: nothing was recorded`))
    expect(run.stdout()).toBe('')
    expect(await counts(db)).toEqual(before)
    expect(spools(tmp)).toEqual([])
  })

  it('a signal once the input has ended, while the batch is being written: rolled back, nothing recorded', async () => {
    const db = join(t.dir, 'abort-in-write.db')
    const store = await openStore({db, env: {}})
    try {
      const before = await counts(db)
      const ac = new AbortController()
      async function* input() {
        yield ndjson(5000)
        // Fires on the next turn of the event loop: after the input is read, while the write is on.
        setImmediate(() => ac.abort('SIGTERM'))
      }
      await expect(
        runSample(store, {source: {kind: 'ndjson', input: input()}, mode: 'delta', autoRegister: true, maxRateBps: 1e10, signal: ac.signal}),
      ).rejects.toMatchObject({
        code: 'INTERRUPTED',
        exitCode: 143,
      })
      expect(await counts(db)).toEqual(before)
      // The store is usable afterwards (the transaction was rolled back, not left open).
      const r = await runSample(store, {source: {kind: 'ndjson', input: Readable.from([ndjson(3)])}, mode: 'delta', autoRegister: true, maxRateBps: 1e10})
      expect(r.devices).toBe(3)
    } finally {
      await store.close()
    }
  })
})

describe('spools of killed imports', () => {
  it('kill -9 mid-stream leaves a spool; the next import removes it, but not the spool of a live import', async () => {
    const db = join(t.dir, 'spool.db')
    const tmp = mkdtempSync(join(t.dir, 'tmp-'))
    const big = ndjson(700_000) // ≈ 37 MB: past the 16 MiB in-memory limit, so it spills to a file
    const chunks = Array.from({length: Math.ceil(big.length / (1 << 20))}, (_, i) => big.slice(i << 20, (i + 1) << 20))

    // A: killed outright once its spool file has data.
    const a = start(db, {TMPDIR: tmp})
    const feedA = (async () => {
      for (const c of chunks) {
        if (a.child.exitCode !== null || a.child.signalCode !== null) return
        await a.write(c).catch(() => {})
      }
    })()
    const orphan = await waitFor('the first import to spill', () => spoolOf(tmp, a.child.pid!))
    a.child.kill('SIGKILL')
    await a.exited
    await feedA
    expect(spools(tmp)).toContain(orphan)

    // B: alive, stdin still open, spilled.
    const b = start(db, {TMPDIR: tmp})
    for (const c of chunks) await b.write(c)
    const live = await waitFor('the second import to spill', () => spoolOf(tmp, b.child.pid!))

    // C: the next import cleans up.
    const c = await runCli(['bandwidth', 'sample', '--from', '-', '--auto-register', '--json'], {db, input: ndjson(3), env: {TMPDIR: tmp}})
    expect(c.code, c.stderr).toBe(0)
    expect(spools(tmp)).not.toContain(orphan)
    expect(spools(tmp)).toContain(live)

    // B finishes normally and removes its own spool.
    b.child.stdin.end()
    const exit = await b.exited
    expect(exit.code, b.stderr()).toBe(0)
    expect(spools(tmp)).toEqual([])
    const after = await counts(db)
    expect(after.raw).toBeGreaterThan(0)
  }, 240_000)

  // Start times come from /proc.
  it.skipIf(process.platform !== 'linux')(
    'removeOrphanSpools: a dead owner or a reused pid is an orphan; a live owner and a fresh legacy spool are not',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'netmon-orphans-'))
      try {
        // A pid that is certainly free: beyond the kernel's pid_max.
        const dead = 4_194_304 + 7
        const names = {
          dead: `netmon-spool-${dead}-123-aaaaaa`,
          reused: `netmon-spool-${process.ppid}-1-bbbbbb`, // the parent is alive, but started at another time
          live: `netmon-spool-${process.ppid}-${statStart(process.ppid)}-cccccc`,
          own: `netmon-spool-${process.pid}-${statStart(process.pid)}-dddddd`,
          legacyOld: 'netmon-spool-eeeeee',
          legacyNew: 'netmon-spool-ffffff',
          other: 'netmon-spoolish',
        }
        for (const n of Object.values(names)) {
          mkdirSync(join(dir, n))
          writeFileSync(join(dir, n, 'records.f64'), 'x')
        }
        const old = (Date.now() - 48 * 3600_000) / 1000
        utimesSync(join(dir, names.legacyOld), old, old)
        // "Fresh" by this process's clock (the kernel stamps real time, which faketime does not move).
        utimesSync(join(dir, names.legacyNew), Date.now() / 1000, Date.now() / 1000)
        const removed = removeOrphanSpools(dir).map(p => p.slice(dir.length + 1))
        expect(removed.sort()).toEqual([names.dead, names.legacyOld, names.reused].sort())
        expect(readdirSync(dir).sort()).toEqual([names.legacyNew, names.live, names.other, names.own].sort())
      } finally {
        rmSync(dir, {recursive: true, force: true})
      }
    },
  )
})

function statStart(pid: number): string {
  const s = readFileSync(`/proc/${pid}/stat`, 'latin1')
  return s.slice(s.lastIndexOf(')') + 2).split(' ')[19]!
}

/**
 * Issue 9 errors and CLI contract: unknown dataset/format and bad time → exit 2; an unwritable
 * --out → exit 1 with nothing left behind; --json needs --out; --list; a reader that closes the
 * pipe early; the summary printed for a file export.
 */
import {spawn} from 'node:child_process'
import {mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {BIN, ROOT, runCli} from '../../support/cli.js'
import {seedManyEvents, testStore, type TestStore} from '../../unit/export/fixtures.js'
import {DATASETS} from '../../../src/core/export/registry.js'

let t: TestStore
beforeAll(async () => {
  t = await testStore()
  await seedManyEvents(t.store, 30_000)
  // Everything into the main file: a later process's close would otherwise checkpoint the WAL into
  // it, changing its bytes without changing what it holds (the "untouched" check compares bytes).
  await t.store.query('PRAGMA wal_checkpoint(TRUNCATE)')
  await t.store.close()
})
afterAll(() => t.cleanup())

// Each case is its own CLI process: run them side by side (assertions via the test's own expect).
describe.concurrent('bad input: exit 2, one line, nothing written', () => {
  it.for<[string[], RegExp]>([
    [['--what', 'nope'], /unknown dataset "nope" \(choose one of: devices, events/],
    [['--what', 'events', '--format', 'xlsx'], /unknown format "xlsx" \(use one of: csv, json, ndjson\)/],
    [['--what', 'events', '--since', 'last tuesday'], /invalid --since time "last tuesday"/],
    [['--what', 'events', '--until', '2026-02-30T99:00'], /invalid --until time/],
    [['--what', 'events', '--since', '1d', '--until', '2d'], /--since .* must be before --until/],
    [['--what', 'events', '--meter', 'm1'], /--meter does not apply to dataset "events"/],
    [['--format', 'csv'], /missing --what DATASET/],
    [['--what', 'events', '--bogus'], /unknown flag --bogus/],
    // Issue 13: empty values were taken as the default, a BOM was dropped without a word.
    [['--what', 'events', '--format', ''], /--format is empty/],
    [['--what', 'bandwidth', '--resolution', ''], /--resolution is empty/],
    [['--what', 'events', '--since', ''], /--since is empty/],
    [['--what', 'bandwidth', '--device', ' '], /--device is empty/],
    [['--what', 'events', '--format', 'ndjson', '--bom'], /--bom applies to CSV only \(this export is ndjson\)/],
    [['--what', 'events', '--format', 'json', '--bom'], /--bom applies to CSV only \(this export is json\)/],
    [['--what', 'events', '--since', '2026-02-30T00:00:00Z'], /invalid --since time "2026-02-30T00:00:00Z": 2026-02 has no day 30/],
  ])('%j', async ([args, msg], {expect}) => {
    const dir = join(t.dir, `bad-${Math.random().toString(16).slice(2)}`)
    mkdirSync(dir)
    const r = await runCli(['metrics', 'export', ...args, '--out', join(dir, 'x.csv')], {db: t.db})
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(msg)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(readdirSync(dir)).toEqual([])
  })

  it('--out naming the store itself is refused, and the store is untouched', async ({expect}) => {
    const before = readFileSync(t.db)
    const r = await runCli(['metrics', 'export', '--what', 'events', '--out', t.db], {db: t.db})
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/is the store itself/)
    expect(readFileSync(t.db).equals(before)).toBe(true)
  })

  it('--json without --out is refused (stdout would carry the data), with a JSON error', async ({expect}) => {
    const r = await runCli(['metrics', 'export', '--what', 'events', '--json'], {db: t.db})
    expect(r.code).toBe(2)
    expect(r.json.error.message).toMatch(/--json prints a summary on stdout/)
  })
})

describe.concurrent('unwritable --out: exit 1, nothing left behind', () => {
  it.for<[string, (d: string) => string, RegExp]>([
    ['a missing folder', (d: string) => join(d, 'missing', 'x.csv'), /its folder does not exist/],
    ['a path under a file', (d: string) => join(d, 'file', 'x.csv'), /a part of the path is not a folder/],
    ['a folder', (d: string) => join(d, 'sub'), /it is a folder/],
  ])('%s', async ([, target, msg], {expect}) => {
    const dir = join(t.dir, `unwritable-${Math.random().toString(16).slice(2)}`)
    mkdirSync(join(dir, 'sub'), {recursive: true})
    writeFileSync(join(dir, 'file'), 'x')
    const r = await runCli(['metrics', 'export', '--what', 'events', '--out', target(dir)], {db: t.db})
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(msg)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(readdirSync(dir).sort()).toEqual(['file', 'sub'])
    expect(readdirSync(join(dir, 'sub'))).toEqual([])
  })
})

describe('output', () => {
  it('--list names every dataset with its columns (human and --json)', async () => {
    const human = await runCli(['metrics', 'export', '--list'], {db: t.db})
    expect(human.code).toBe(0)
    for (const d of DATASETS) expect(human.stdout).toContain(d.name)
    expect(human.stdout).toContain('first_seen_ms')
    const json = await runCli(['metrics', 'export', '--list', '--json'], {db: t.db})
    // Every description whole (issue 17: none cut into narrow cells or truncated), however wrapped.
    const flat = human.stdout.replace(/\s+/g, ' ')
    for (const d of json.json.datasets as {name: string; description: string}[]) expect(flat).toContain(`${d.name}: ${d.description.replace(/\s+/g, ' ')}`)
    const events = json.json.datasets.find((d: {name: string}) => d.name === 'events')
    expect(events.columns.map((c: {name: string}) => c.name)).toEqual(['ts', 'ts_ms', 'id', 'type', 'device_id', 'mac', 'detail'])
    expect(events.columns[0]).toEqual({name: 'ts', type: 'time_iso', description: expect.any(String)})
  })

  it('a file export prints a one-line summary; --json prints the summary object', async () => {
    const out = join(t.dir, 'summary.ndjson')
    const human = await runCli(['metrics', 'export', '--what', 'events', '--out', out, '--since', '1700000000000', '--until', '1700000001000'], {db: t.db})
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/^Exported 3 events rows as NDJSON to .*summary\.ndjson \(/)
    const json = await runCli(['metrics', 'export', '--what', 'events', '--out', out, '--until', '1700000001000', '--json'], {db: t.db})
    expect(json.json).toMatchObject({
      dataset: 'events',
      format: 'ndjson',
      rows: 3,
      out,
      excel_safe: false,
      filters: {since: null, until: {iso: '2023-11-14T22:13:21.000Z', ms: 1_700_000_001_000}, device: null, meter: null},
    })
    expect(json.json.bytes).toBe(readFileSync(out).length)
  })

  it('a reader that closes the pipe early (| head) ends the export quietly with exit 0', async () => {
    const child = spawn(process.execPath, [BIN, 'metrics', 'export', '--what', 'events', '--page-size', '50', '--db', t.db], {
      cwd: ROOT,
      env: {...process.env, NETMON_NO_PROGRESS: '1'},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', d => (stderr += d))
    child.stdout.once('data', () => child.stdout.destroy())
    const code = await new Promise<number | null>(res => child.on('close', c => res(c)))
    expect(stderr).toBe('')
    expect(code).toBe(0)
  })
})

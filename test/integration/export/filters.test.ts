/**
 * Issue 9 acceptance 3: time and device filters are exact at the boundaries — since inclusive,
 * until exclusive (docs/EXPORT.md) — through the built CLI, across page boundaries.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {spawn} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {hasScript, ptyArgs, ptyEnv, runCli} from '../../support/cli.js'
import {seedDevices, seedEvents, testStore, type TestStore} from '../../unit/export/fixtures.js'
import {utcDayStart} from '../../support/clock.js'

const S = utcDayStart(30) // since
const U = utcDayStart(29) // until
const EDGES = [S - 1, S, S + 1, U - 1, U, U + 1]

let t: TestStore
beforeAll(async () => {
  t = await testStore()
  await seedDevices(t.store, [
    {mac: 'AA:BB:CC:DD:EE:01', ip: '192.0.2.1', first_seen: S - 10, last_seen: S - 1}, // left the window just before it
    {mac: 'AA:BB:CC:DD:EE:02', ip: '192.0.2.2', first_seen: S - 10, last_seen: S}, // last seen exactly at since: in
    {mac: 'AA:BB:CC:DD:EE:03', ip: '192.0.2.3', first_seen: U - 1, last_seen: U + 10}, // first seen just before until: in
    {mac: 'AA:BB:CC:DD:EE:04', ip: '192.0.2.4', first_seen: U, last_seen: U + 10}, // first seen exactly at until: out
    {mac: null, ip: '192.0.2.5', first_seen: S - 100, last_seen: U + 100}, // spans the window: in
  ])
  // Two events per edge instant for devices 1 and 2 (and one system event), so page boundaries
  // fall between equal timestamps.
  const ev = []
  for (const ts of EDGES) for (const d of [1, 2, null]) ev.push({ts, device_id: d, type: `at_${ts - S}`, detail: null})
  await seedEvents(t.store, ev)
})
afterAll(() => t.cleanup())

async function exportNd(args: string[]): Promise<Record<string, any>[]> {
  const r = await runCli(['metrics', 'export', '--format', 'ndjson', '--page-size', '2', ...args], {db: t.db})
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map(l => JSON.parse(l))
}

describe('time filters', () => {
  it('events: since inclusive, until exclusive, exact to the millisecond (ISO and epoch-ms input)', async () => {
    const rows = await exportNd(['--what', 'events', '--since', new Date(S).toISOString(), '--until', String(U)])
    expect([...new Set(rows.map(r => r.ts_ms))]).toEqual([S, S + 1, U - 1])
    expect(rows).toHaveLength(9)
  })

  it('only --since, only --until', async () => {
    const since = await exportNd(['--what', 'events', '--since', String(S)])
    expect([...new Set(since.map(r => r.ts_ms))]).toEqual([S, S + 1, U - 1, U, U + 1])
    const until = await exportNd(['--what', 'events', '--until', new Date(S + 1).toISOString()])
    expect([...new Set(until.map(r => r.ts_ms))]).toEqual([S - 1, S])
  })

  it('devices: active in [since, until) = last_seen >= since and first_seen < until', async () => {
    const rows = await exportNd(['--what', 'devices', '--since', String(S), '--until', String(U)])
    expect(rows.map(r => r.ip)).toEqual(['192.0.2.2', '192.0.2.3', '192.0.2.5'])
  })
})

describe('device filter', () => {
  it('by MAC in any accepted form, combined with the time window', async () => {
    const rows = await exportNd(['--what', 'events', '--device', 'aa-bb-cc-dd-ee-02', '--since', String(S), '--until', String(U)])
    expect(rows.map(r => [r.ts_ms, r.device_id, r.mac])).toEqual([
      [S, 2, 'AA:BB:CC:DD:EE:02'],
      [S + 1, 2, 'AA:BB:CC:DD:EE:02'],
      [U - 1, 2, 'AA:BB:CC:DD:EE:02'],
    ])
  })

  it('by IP; devices dataset by device', async () => {
    const ev = await exportNd(['--what', 'events', '--device', '192.0.2.1'])
    expect(ev).toHaveLength(EDGES.length)
    expect(new Set(ev.map(r => r.device_id))).toEqual(new Set([1]))
    const dev = await exportNd(['--what', 'devices', '--device', '192.0.2.5'])
    expect(dev.map(r => r.id)).toEqual([5])
  })

  it('an unknown device (MAC or name) is exit 1 (not found); an empty one exit 2', async () => {
    const unknown = await runCli(['metrics', 'export', '--what', 'events', '--device', 'AA:BB:CC:DD:EE:99'], {db: t.db})
    expect(unknown.code).toBe(1)
    expect(unknown.stdout).toBe('')
    expect(unknown.stderr).toMatch(/^Error: no device AA:BB:CC:DD:EE:99 in the store/)
    // Not a MAC or IP: a hostname or promoted name (devices/resolve.ts), which no device has here.
    const name = await runCli(['metrics', 'export', '--what', 'events', '--device', 'router'], {db: t.db})
    expect(name.code).toBe(1)
    expect(name.stderr).toMatch(/^Error: no device "router" in the store .*devices list/)
    const bad = await runCli(['metrics', 'export', '--what', 'events', '--device', ' '], {db: t.db})
    expect(bad.code).toBe(2)
    expect(bad.stdout).toBe('')
  })
})

describe('progress on a terminal', () => {
  it.skipIf(!hasScript)('--out FILE on a terminal: a bar on stderr, the data only in the file; to stdout on a terminal: no bar', async () => {
    const out = join(t.dir, 'tty-export.ndjson')
    const run = (args: string[], stdoutTo?: string) =>
      new Promise<string>((resolve, reject) => {
        const child = spawn('script', ptyArgs(['metrics', 'export', '--db', t.db, ...args], {stdoutTo}), {env: ptyEnv({NETMON_NO_PROGRESS: ''})})
        let text = ''
        child.stdout.setEncoding('utf8').on('data', d => (text += d))
        child.on('error', reject)
        child.on('close', () => resolve(text))
      })
    const term = await run(['--what', 'events', '--page-size', '2', '--out', out])
    expect(term).toMatch(/export events \[/)
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(EDGES.length * 3)
    // Data to the same terminal: a bar would be torn apart by it, so none is drawn.
    const mixed = await run(['--what', 'events', '--format', 'ndjson'])
    expect(mixed).not.toMatch(/export events \[/)
    expect(mixed).toContain('"type":"at_0"')
  })
})

/**
 * kill -9 and restart (issue 14, acceptance 3): collector readings the store acknowledged before
 * the kill are all still there after the restart, none counted twice; `agent status` shows the
 * killed agent's jobs as stale until the new one runs; a second agent on the same store is refused
 * while one runs. Loopback only (`lo`), no root needed.
 */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {openStore} from '../../../src/core/store/index.js'
import {runCli, tempStore} from '../../support/cli.js'
import {spawnCli, waitFor, type Proc} from '../bridge/helpers.js'

const tmp = tempStore('netmon-agent-kill-')
const cfg = join(tmp.dir, 'agent.yaml')
const procs: Proc[] = []
afterAll(() => {
  for (const p of procs) p.kill('SIGKILL')
  tmp.cleanup()
})

async function runs(): Promise<{state: string; runs: number; jobState: string}> {
  const r = await runCli(['agent', 'status', '--json'], {db: tmp.db})
  expect(r.code, r.stderr).toBe(0)
  const j = r.json.jobs.find((x: {name: string}) => x.name === 'lo-bytes')
  return {state: r.json.state, runs: j?.runs ?? 0, jobState: j?.state}
}

async function samples(): Promise<{rows: {ts: number}[]; counted: number}> {
  const store = await openStore({db: tmp.db})
  try {
    const dev = `(SELECT device_id FROM bw_counters WHERE source = 'iface:lo')`
    const rows = await store.query<{ts: number}>(`SELECT ts FROM bw_samples WHERE device_id = ${dev} ORDER BY ts`)
    const t = await store.get<{n: number}>(`SELECT sample_count AS n FROM bw_totals WHERE device_id = ${dev}`)
    return {rows: rows.map(r => ({ts: Number(r.ts)})), counted: Number(t?.n ?? 0)}
  } finally {
    await store.close()
  }
}

describe('agent run: kill -9 and restart', {timeout: 120_000}, () => {
  it('loses no acknowledged reading and counts none twice', async () => {
    writeFileSync(
      cfg,
      [
        'heartbeat: 500ms',
        'jobs:',
        '  - {name: lo-bytes, kind: collector, every: 1s, sources: [{type: interfaces, names: [lo]}]}',
        // a cron schedule with seconds (6 fields): every 2 s
        '  - {name: tidy, kind: prune, cron: "*/2 * * * * *"}',
        '  - {name: off, kind: prune, every: 1s, enabled: false}',
        '',
      ].join('\n'),
    )
    const a = spawnCli(['agent', 'run', '--config', cfg, '--db', tmp.db])
    procs.push(a)
    await waitFor('4 collector ticks', async () => (await runs()).runs >= 4, 30_000, 300)
    const tidy = await waitFor(
      'the cron job to run twice',
      async () => {
        const r = await runCli(['agent', 'status', '--json'], {db: tmp.db})
        const j = r.json.jobs.find((x: {name: string}) => x.name === 'tidy')
        return j?.runs >= 2 && j
      },
      30_000,
      300,
    )
    expect(tidy.schedule).toBe('cron */2 * * * * *')
    expect(tidy.last_outcome).toBe('ok')
    // the next slot croner computed is on an even second
    expect(tidy.next_run_ms % 2000).toBe(0)
    const off = (await runCli(['agent', 'status', '--json'], {db: tmp.db})).json.jobs.find((x: {name: string}) => x.name === 'off')
    expect(off).toMatchObject({state: 'disabled', last_outcome: 'skipped', runs: 0})

    // A second agent on the same store is refused while the first one runs.
    const second = await runCli(['agent', 'run', '--config', cfg], {db: tmp.db, timeoutMs: 20_000})
    expect(second.code).toBe(1)
    expect(second.stderr).toMatch(/another agent \(pid \d+ on .*\) is running on this store/)

    const acknowledged = (await runs()).runs
    a.kill('SIGKILL')
    await a.exited
    const before = await samples()
    // Every tick the status row acknowledged wrote its reading before the row (the first reading has no previous: no sample).
    expect(before.rows.length).toBeGreaterThanOrEqual(acknowledged - 1)
    await waitFor('the killed agent to show as stale', async () => (await runs()).state === 'stale', 15_000, 300)

    const b = spawnCli(['agent', 'run', '--config', cfg, '--db', tmp.db])
    procs.push(b)
    const base = (await runs()).runs
    await waitFor('3 more ticks after the restart', async () => (await runs()).runs >= base + 3, 30_000, 300)
    b.kill('SIGTERM')
    expect((await b.exited).code, b.stderr()).toBe(0)

    const after = await samples()
    const last = before.rows.at(-1)!.ts
    // Nothing acknowledged before the kill is lost …
    expect(after.rows.filter(r => r.ts <= last)).toEqual(before.rows)
    // … the restart resumed counting (new samples) …
    expect(after.rows.length).toBeGreaterThan(before.rows.length)
    // … and no reading is counted twice: one sample per timestamp, the running totals agree.
    expect(new Set(after.rows.map(r => r.ts)).size).toBe(after.rows.length)
    expect(after.counted).toBe(after.rows.length)
    expect((await runs()).state).toBe('stopped')
  })
})

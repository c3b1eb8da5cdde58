/**
 * `netmon agent run` with real parts (issue 14, acceptance 3): the built CLI as a child process
 * hosting a collector (loopback `lo`, every 1 s), a scan and two latency jobs against hosts of a
 * netns LAN (10.77.13.0/24), a prune job, the meter bridge against `meters simulate` and an aedes
 * broker, and serve; `agent status --json` from other processes; a failing job (a latency target
 * nobody answers) leaves the others on schedule; SIGHUP adds a job; an invalid config on SIGHUP
 * keeps the old one; SIGTERM → exit 0. Traffic: loopback and the test's own netns LAN only.
 */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {openStore} from '../../../src/core/store/index.js'
import {runCli, tempStore} from '../../support/cli.js'
import {createLan, NETNS_SKIP, testMac, type Lan} from '../../support/netns.js'
import {spawnCli, startAedes, startSimulatorProcess, waitFor, type AedesBroker, type Proc, type SimProc} from '../bridge/helpers.js'

if (NETNS_SKIP) console.warn(`agent netns test skipped: ${NETNS_SKIP}`)

const SUBNET = '10.77.13.0/24'
const HOST_A = '10.77.13.10'
const HOST_B = '10.77.13.11'
/** In the LAN's subnet, assigned to nobody: probes to it get no answer at all. */
const DEAD = '10.77.13.99'
const PORT = 7

type Job = {
  name: string
  kind: string
  runs: number
  failures: number
  overruns: number
  last_outcome: string | null
  last_error: string | null
  state: string
  detail: any
}

async function status(db: string): Promise<{state: string; jobs: Job[]}> {
  const r = await runCli(['agent', 'status', '--json'], {db})
  expect(r.code, r.stderr).toBe(0)
  return r.json
}
const byName = (s: {jobs: Job[]}) => Object.fromEntries(s.jobs.map(j => [j.name, j]))

describe.skipIf(NETNS_SKIP)('agent run: every job kind from one config', {timeout: 240_000}, () => {
  const tmp = tempStore('netmon-agent-')
  const cfgPath = join(tmp.dir, 'agent.yaml')
  let lan: Lan
  let sim: SimProc
  let broker: AedesBroker
  let agent: Proc

  const config = (extra: object[] = []) => ({
    heartbeat: '1s',
    shutdown_timeout: '10s',
    jobs: [
      {name: 'lo-bytes', kind: 'collector', every: '1s', sources: [{type: 'interfaces', names: ['lo']}]},
      {name: 'lan-scan', kind: 'scan', every: '4s', targets: [HOST_A, HOST_B], methods: ['tcp'], rdns: false, conflict_check: false, arp_wait: '0s'},
      {name: 'ping-a', kind: 'latency', every: '2s', targets: [HOST_A], method: 'tcp', port: PORT, count: 2, interval: '100ms', probe_timeout: '500ms'},
      {name: 'ping-dead', kind: 'latency', every: '2s', targets: [DEAD], method: 'tcp', port: PORT, count: 2, interval: '100ms', probe_timeout: '500ms'},
      {name: 'prune', kind: 'prune', every: '3s', keep: {raw: '7d', latency_probes: '30d'}},
      {
        name: 'meters',
        kind: 'bridge',
        config: {
          mqtt: {url: `mqtt://127.0.0.1:${broker.port}`, client_id: 'agent-bridge', reconnect: {min: '100ms', max: '1s'}},
          publish: {format: 'plain', topic: 'agent/{id}'},
          defaults: {poll_interval: '500ms', timeout: '3s', obis: {'1.0.1.8.0.255': 'energy_import_kwh'}},
          meters: [{id: 'sim-1', host: '127.0.0.1', port: sim.ports[0]}],
          metrics: {interval: '2s', heartbeat: '500ms', interfaces: ['lo']},
        },
      },
      {name: 'api', kind: 'serve', port: 0},
      ...extra,
    ],
  })

  beforeAll(async () => {
    lan = await createLan({subnet: SUBNET})
    const a = lan.addHost({ip: HOST_A, mac: testMac(1)})
    const b = lan.addHost({ip: HOST_B, mac: testMac(2)})
    await lan.listen(a, [PORT])
    await lan.listen(b, [PORT])
    sim = await startSimulatorProcess(tmp.dir, 'sim', {meters: 1})
    broker = await startAedes()
    writeFileSync(cfgPath, JSON.stringify(config()))
    const check = await runCli(['agent', 'check', '--config', cfgPath, '--json'], {noDb: true})
    expect(check.code, check.stderr).toBe(0)
    agent = spawnCli(['agent', 'run', '--config', cfgPath, '--db', tmp.db, '--json'])
  })

  afterAll(async () => {
    agent?.kill('SIGKILL')
    sim?.kill('SIGKILL')
    await broker?.close()
    lan?.destroy()
    tmp.cleanup()
  })

  // The scan uses TCP only: its neighbor method flushes the targets' neighbor entries, which can
  // cost a concurrent latency probe to the same host its reply (docs/AGENT.md).
  it('runs every job; agent status from another process shows each with runs', async () => {
    const s = await waitFor(
      'every job to have run',
      async () => {
        const st = await status(tmp.db)
        const j = byName(st)
        return (
          j['lo-bytes']?.runs >= 3 && j['lan-scan']?.runs >= 1 && j['ping-a']?.runs >= 1 && j.prune?.runs >= 1 && j.meters?.runs >= 1 && j.api?.runs >= 1 && st
        )
      },
      60_000,
      500,
    )
    expect(s.state).toBe('running')
    const j = byName(s)
    expect(Object.keys(j).sort()).toEqual(['api', 'lan-scan', 'lo-bytes', 'meters', 'ping-a', 'ping-dead', 'prune'])
    expect(j['lo-bytes']!.last_outcome).toBe('ok')
    expect(j['lo-bytes']!.detail.sources).toEqual([expect.objectContaining({name: 'iface:lo', state: 'ok'})])
    expect(j['lan-scan']!.detail.found).toBe(2)
    expect(j['ping-a']!.detail.hosts[0]).toMatchObject({ip: HOST_A, loss_pct: 0})
    expect(j.meters!.state).toBe('running')
    // serve answers on the URL it reported
    const res = await fetch(`${j.api!.detail.url}/healthz`)
    expect(res.status).toBe(200)
    // the bridge polls the simulator and publishes through the broker
    await waitFor('bridge readings in the store', async () => {
      const store = await openStore({db: tmp.db})
      try {
        return Number((await store.get<{n: number}>('SELECT COUNT(*) AS n FROM readings WHERE meter_id = ?', ['sim-1']))?.n) > 0
      } finally {
        await store.close()
      }
    })
    await waitFor('a published reading', () => broker.messages.some(m => m.topic === 'agent/sim-1'))
    // the collector's readings reach bandwidth accounting
    const store = await openStore({db: tmp.db})
    try {
      const n = await store.get<{n: number}>(
        `SELECT COUNT(*) AS n FROM bw_samples WHERE device_id = (SELECT device_id FROM bw_counters WHERE source = 'iface:lo')`,
      )
      expect(Number(n?.n)).toBeGreaterThanOrEqual(2)
    } finally {
      await store.close()
    }
  })

  it('a failing job (no answer from its target) leaves the others on schedule', async () => {
    const first = byName(await status(tmp.db))
    const s = await waitFor(
      'the failing job to fail twice while the others keep running',
      async () => {
        const j = byName(await status(tmp.db))
        return (
          j['ping-dead']!.failures >= first['ping-dead']!.failures + 2 &&
          j['ping-a']!.runs >= first['ping-a']!.runs + 2 &&
          j['lo-bytes']!.runs >= first['lo-bytes']!.runs + 4 &&
          j['lan-scan']!.runs >= first['lan-scan']!.runs + 1 &&
          j
        )
      },
      60_000,
      500,
    )
    expect(s['ping-dead']!.last_outcome).toBe('error')
    expect(s['ping-dead']!.last_error).toContain(DEAD)
    expect(s['ping-a']!.last_outcome).toBe('ok')
    // No failure of the healthy jobs while the dead one failed (counted over this window).
    expect(s['ping-a']!.failures, JSON.stringify(s['ping-a'])).toBe(first['ping-a']!.failures)
    expect(s['lo-bytes']!.failures).toBe(first['lo-bytes']!.failures)
  })

  it('SIGHUP after editing the config adds a job that then runs', async () => {
    writeFileSync(
      cfgPath,
      JSON.stringify(config([{name: 'ping-b', kind: 'latency', every: '2s', targets: [HOST_B], method: 'tcp', port: PORT, count: 2, interval: '100ms'}])),
    )
    agent.child.kill('SIGHUP')
    const j = await waitFor('the added job to run', async () => byName(await status(tmp.db))['ping-b']?.runs >= 1 && byName(await status(tmp.db)), 30_000, 500)
    expect(j['ping-b']!.last_outcome).toBe('ok')
    expect(j['ping-b']!.detail.hosts[0].ip).toBe(HOST_B)
    expect(agent.stderr()).toContain('config reloaded: 1 added')
  })

  it('SIGHUP with an invalid config keeps the running one and logs one line', async () => {
    writeFileSync(cfgPath, JSON.stringify({jobs: [{name: 'x', kind: 'collector', every: 'soon', sources: []}]}))
    const before = byName(await status(tmp.db))['lo-bytes']!.runs
    agent.child.kill('SIGHUP')
    await waitFor('the refusal', () => agent.stderr().includes('SIGHUP: config not reloaded'), 10_000)
    const line = agent
      .stderr()
      .split('\n')
      .filter(l => l.includes('config not reloaded'))
    expect(line).toHaveLength(1)
    expect(line[0]).toContain('jobs[0].every: invalid duration "soon"')
    await waitFor('the old jobs to keep running', async () => byName(await status(tmp.db))['lo-bytes']!.runs >= before + 2, 20_000, 500)
  })

  it('SIGTERM stops cleanly: exit 0, status rows say stopped', async () => {
    agent.child.kill('SIGTERM')
    const {code} = await agent.exited
    expect(code, agent.stderr()).toBe(0)
    const summary = JSON.parse(agent.stdout())
    expect(summary.stopped_by).toBe('SIGTERM')
    expect(summary.aborted).toEqual([])
    const s = await status(tmp.db)
    expect(s.state).toBe('stopped')
    for (const j of s.jobs) expect(j.state, j.name).toBe('stopped')
    expect(agent.stderr()).not.toMatch(/uncaught|unhandled/i)
  })
})

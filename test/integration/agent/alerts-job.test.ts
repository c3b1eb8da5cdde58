/**
 * The agent's alerts job (issue 16): `netmon agent run` with `{kind: alerts, every: 1s,
 * rules_file}` evaluates the rules through the same core as `alerts check`. A bandwidth_usage rule
 * fires from samples fed with `netmon bandwidth sample`; the webhook receiver (loopback, in this
 * test) gets exactly one signed notification, and after SIGTERM and a new start no duplicate.
 * Waits are lower bounds on status-row run counts, never tight timings.
 */
import {createHmac} from 'node:crypto'
import {writeFileSync} from 'node:fs'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {openStore} from '../../../src/core/store/index.js'
import {runCli, tempStore} from '../../support/cli.js'
import {spawnCli, waitFor, type Proc} from '../bridge/helpers.js'

const SECRET = 'agent-alerts-hook-secret'
const MAC = 'AA:BB:CC:DD:EE:21'
const tmp = tempStore('netmon-agent-alerts-')
const procs: Proc[] = []
const hits: {body: any; signed: boolean}[] = []
const server = createServer((req, res) => {
  let data = ''
  req.setEncoding('utf8').on('data', d => (data += d))
  req.on('end', () => {
    const want = `sha256=${createHmac('sha256', SECRET).update(data).digest('hex')}`
    hits.push({body: JSON.parse(data), signed: req.headers['x-netmon-signature'] === want})
    res.writeHead(204).end()
  })
})
afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL')
  await new Promise(r => server.close(r))
  tmp.cleanup()
})

interface Job {
  runs: number
  last_start_ms: number | null
  last_outcome: string | null
  last_error: string | null
  detail: {firing: number; pending: number; notified: number; queued: number} | null
}
async function job(): Promise<Job | undefined> {
  const r = await runCli(['agent', 'status', '--json'], {db: tmp.db})
  expect(r.code, r.stderr).toBe(0)
  return r.json.jobs.find((x: {name: string}) => x.name === 'alerting')
}
const runsAfter = async (n: number) => {
  const j = await job()
  return j && j.runs >= n && j
}

describe('agent alerts job', {timeout: 180_000}, () => {
  it('fires a bandwidth_usage rule once, notifies once, and not again after a restart', async () => {
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as AddressInfo).port
    const rules = join(tmp.dir, 'alerts.yaml')
    writeFileSync(
      rules,
      `channels:
  hook: {type: webhook, url: "http://127.0.0.1:${port}/alerts", secret_env: NETMON_TEST_HOOK_SECRET, backoff: {min: 10ms, max: 50ms}, timeout: 5s}
rules:
  - {name: heavy-user, kind: bandwidth_usage, window: rolling_24h, above: 10MB, for: 1s, severity: critical, channels: [hook]}
`,
    )
    const cfg = join(tmp.dir, 'agent.yaml')
    writeFileSync(cfg, ['heartbeat: 500ms', 'jobs:', '  - {name: alerting, kind: alerts, every: 1s, rules_file: alerts.yaml}', ''].join('\n'))
    const env = {NETMON_TEST_HOOK_SECRET: SECRET}
    expect((await runCli(['bandwidth', 'register', '--ip', '10.77.20.5', '--mac', MAC, '--hostname', 'tv'], {db: tmp.db})).code).toBe(0)

    const a = spawnCli(['agent', 'run', '--config', cfg, '--db', tmp.db], env)
    procs.push(a)
    // Runs with nothing above the threshold: nothing firing, nothing sent.
    const quiet = await waitFor('2 alerts runs', () => runsAfter(2), 30_000, 200)
    expect(quiet).toMatchObject({last_outcome: 'ok', detail: {firing: 0, pending: 0, notified: 0}})
    expect(hits).toHaveLength(0)

    // 20 MB over the last minutes: above 10 MB.
    for (const [sent, at] of [
      ['1000', '2m'],
      ['20000000', '1m'],
    ])
      expect((await runCli(['bandwidth', 'sample', '--mac', MAC, '--sent', sent!, '--received', '0', '--at', at!], {db: tmp.db})).code).toBe(0)

    await waitFor('the webhook notification', () => hits.length >= 1, 30_000, 100)
    const fired = (await job())!
    await waitFor('3 more runs', () => runsAfter(fired.runs + 3), 30_000, 200)
    const still = (await job())!
    expect(still).toMatchObject({last_outcome: 'ok', detail: {firing: 1, pending: 0, notified: 0, queued: 0}})
    expect(hits).toHaveLength(1)
    expect(hits[0]!.signed).toBe(true)
    expect(hits[0]!.body).toMatchObject({transition: {kind: 'firing', to: 'firing'}, alert: {rule: 'heavy-user', subject: MAC, severity: 'critical'}})

    a.kill('SIGTERM')
    expect((await a.exited).code, a.stderr()).toBe(0)

    // Start again: the alert's state is in the store, so it stays firing and is not sent again.
    const restartedAt = Date.now()
    const b = spawnCli(['agent', 'run', '--config', cfg, '--db', tmp.db], env)
    procs.push(b)
    const base = still.runs
    const after = await waitFor(
      '3 runs after the restart',
      async () => {
        const j = await runsAfter(base + 3)
        return j && (j.last_start_ms ?? 0) > restartedAt && j
      },
      30_000,
      200,
    )
    expect(after).toMatchObject({last_outcome: 'ok', detail: {firing: 1, pending: 0, notified: 0}})
    expect(hits).toHaveLength(1)
    b.kill('SIGTERM')
    expect((await b.exited).code, b.stderr()).toBe(0)

    // The transitions the agent stored: pending, then firing (notified once), nothing more.
    const store = await openStore({db: tmp.db})
    try {
      const ev = await store.query<{kind: string; notified: number}>(
        `SELECT e.kind, e.notified FROM alert_events e JOIN alerts a ON a.id = e.alert_id WHERE a.rule = 'heavy-user' ORDER BY e.id`,
      )
      expect(ev.map(e => [e.kind, Number(e.notified)])).toEqual([
        ['pending', 0],
        ['firing', 1],
      ])
    } finally {
      await store.close()
    }
  })
})

/**
 * Issue 16, acceptance 2 (restarts): `netmon agent run` with an alerts job is killed with SIGKILL
 * twice, once while an alert is pending and once while it fires, and started again each time.
 * Devices registered while the agent is down are alerted once each after the restart (the
 * device_new cursor is in the store and moves in the transaction of its notifications), the
 * pending alert keeps its start (it fires once, `for` measured from its first check) and the firing
 * one is not notified again; its resolution, which happened while the agent was down, is sent once.
 * Receivers: a webhook (HMAC checked) and an exec script appending to a file. The kills come after
 * the receivers got what was queued. The second test kills the agent between a send and its
 * acknowledgement (the webhook holds its answer): the notification is sent again after the
 * restart with the same delivery id (at-least-once, docs/ALERTS.md). Loopback only.
 */
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {webhook} from '../alerts/receivers.js'
import {type Proc, spawnCli, waitFor} from '../bridge/helpers.js'

const SECRET = 'restart-hook-secret'
const FOR_MS = 10_000
const tmp = tempStore('netmon-alerts-restart-')
const procs: Proc[] = []
const cleanups: (() => unknown)[] = []
afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL')
  for (const c of cleanups.reverse()) await c()
  tmp.cleanup()
})

const mac = (i: number) => `AA:BB:CC:DD:27:${String(40 + i).padStart(2, '0')}`

describe('agent alerts job: SIGKILL mid-pending and mid-firing', {timeout: 300_000}, () => {
  it('no duplicate notification, no missed event', async () => {
    const hook = await webhook(SECRET)
    cleanups.push(() => hook.stop())
    const execOut = join(tmp.dir, 'exec.ndjson')
    const rules = join(tmp.dir, 'alerts.yaml')
    writeFileSync(
      rules,
      `channels:
  hook: {type: webhook, url: "http://127.0.0.1:${hook.port}/alerts", secret_env: NETMON_TEST_HOOK_SECRET, backoff: {min: 100ms, max: 500ms}, timeout: 5s}
  file: {type: exec, command: [/bin/sh, -c, 'cat >> "$0"; echo >> "$0"', ${JSON.stringify(execOut)}], timeout: 10s}
defaults: {channels: [hook, file]}
rules:
  - {name: new-device, kind: device_new}
  - {name: heavy-user, kind: bandwidth_usage, window: rolling_24h, above: 10MB, for: ${FOR_MS / 1000}s}
`,
    )
    const cfg = join(tmp.dir, 'agent.yaml')
    writeFileSync(cfg, ['heartbeat: 500ms', 'jobs:', '  - {name: alerting, kind: alerts, every: 1s, rules_file: alerts.yaml}', ''].join('\n'))
    const cli = async (args: string[]) => {
      const r = await runCli(args, {db: tmp.db})
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
      return r
    }
    const status = async () => (await cli(['agent', 'status', '--json'])).json
    const job = async () => (await status()).jobs.find((j: {name: string}) => j.name === 'alerting')
    const start = async () => {
      const a = spawnCli(['agent', 'run', '--config', cfg, '--db', tmp.db], {NETMON_TEST_HOOK_SECRET: SECRET})
      procs.push(a)
      const since = Date.now()
      await waitFor('a run of the new agent', async () => (await job())?.last_start_ms > since, 60_000, 200)
      return a
    }
    const kill = async (a: Proc) => {
      a.kill('SIGKILL')
      expect((await a.exited).signal).toBe('SIGKILL')
      // The next agent is refused while the killed one's heartbeat looks alive.
      await waitFor('the killed agent to go stale', async () => (await status()).state === 'stale', 30_000, 300)
    }
    const sig = (b: any) => `${b.transition.kind} ${b.alert.rule} ${b.alert.subject}`
    const hooks = () => hook.hits.map(h => sig(h.body))
    const files = () =>
      existsSync(execOut)
        ? readFileSync(execOut, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map(l => sig(JSON.parse(l)))
        : []
    const both = (n: number) => waitFor(`${n} notifications on both channels`, () => hooks().length >= n && files().length >= n, 60_000, 100)
    const alerts = async (rule: string) => (await cli(['alerts', 'list', '--json'])).json.alerts.filter((a: {rule: string}) => a.rule === rule)

    // --- agent A: a new device over 10 MB: new-device fires, heavy-user is pending. Kill it.
    const a = await start()
    await waitFor('2 runs', async () => (await job())?.runs >= 2, 60_000, 200)
    await cli(['bandwidth', 'register', '--ip', '10.77.27.41', '--mac', mac(1), '--hostname', 'nas'])
    await cli(['bandwidth', 'sample', '--mac', mac(1), '--sent', '1000', '--received', '0', '--at', '2m'])
    await cli(['bandwidth', 'sample', '--mac', mac(1), '--sent', '20000000', '--received', '0', '--at', '1m'])
    const pending = await waitFor(
      'heavy-user pending',
      async () => {
        const [x] = await alerts('heavy-user')
        return x?.state === 'pending' && x
      },
      30_000,
      200,
    )
    await both(1)
    expect(hooks()).toEqual([`firing new-device ${mac(1)}`])
    await kill(a) // mid-pending: heavy-user is still pending (for: 10 s)
    expect((await alerts('heavy-user'))[0]).toMatchObject({id: pending.id, state: 'pending'})

    // While down: two more devices (events the restarted agent must alert once each).
    await cli(['bandwidth', 'register', '--ip', '10.77.27.42', '--mac', mac(2)])
    await cli(['bandwidth', 'register', '--ip', '10.77.27.43', '--mac', mac(3)])

    // --- agent B: the devices of the downtime, then heavy-user fires (the same alert, once).
    const b = await start()
    await both(4)
    const firing = (await alerts('heavy-user'))[0]
    expect(firing).toMatchObject({id: pending.id, state: 'firing', started_at_ms: pending.started_at_ms})
    expect(firing.fired_at_ms - firing.started_at_ms).toBeGreaterThanOrEqual(FOR_MS)
    expect([...hooks()].sort()).toEqual(
      [`firing new-device ${mac(1)}`, `firing new-device ${mac(2)}`, `firing new-device ${mac(3)}`, `firing heavy-user ${mac(1)}`].sort(),
    )
    await kill(b) // mid-firing

    // While down: one more device, and heavy-user's condition clears (the day's bytes purged).
    await cli(['bandwidth', 'register', '--ip', '10.77.27.44', '--mac', mac(4)])
    await cli(['bandwidth', 'reset', '--mac', mac(1), '--purge', '--yes'])

    // --- agent C: the new device once, heavy-user resolved once, nothing else again.
    const c = await start()
    await both(6)
    const runs = (await job()).runs
    await waitFor('3 more runs', async () => (await job())?.runs >= runs + 3, 30_000, 300)
    c.kill('SIGTERM')
    expect((await c.exited).code, c.stderr()).toBe(0)

    const want = [
      `firing new-device ${mac(1)}`,
      `firing new-device ${mac(2)}`,
      `firing new-device ${mac(3)}`,
      `firing heavy-user ${mac(1)}`,
      `firing new-device ${mac(4)}`,
      `resolved heavy-user ${mac(1)}`,
    ]
    expect([...hooks()].sort()).toEqual([...want].sort())
    expect(files()).toEqual(hooks()) // the same notifications in the same (outbox) order
    expect(new Set(hook.hits.map(h => h.delivery)).size).toBe(want.length)
    expect(hook.hits.every(h => h.signatureOk)).toBe(true)
    // Per alert, transitions in order: heavy-user fired before it resolved.
    expect(hooks().indexOf(`firing heavy-user ${mac(1)}`)).toBeLessThan(hooks().indexOf(`resolved heavy-user ${mac(1)}`))
    // The stored history agrees: one firing and one resolved transition, both notified.
    const show = await cli(['alerts', 'show', String(pending.id), '--json'])
    expect(show.json.events.map((e: {kind: string; notified: boolean}) => `${e.kind}${e.notified ? '!' : ''}`)).toEqual(['pending', 'firing!', 'resolved!'])
    expect((await alerts('new-device')).map((x: {subject: string}) => x.subject).sort()).toEqual([1, 2, 3, 4].map(mac))
  })

  it('a kill after the receiver got a notification but before its answer: sent again with the same delivery id (at-least-once)', async () => {
    const t = tempStore('netmon-alerts-restart-ack-')
    cleanups.push(t.cleanup)
    const hook = await webhook(SECRET)
    cleanups.push(() => hook.stop())
    hook.hold = true
    writeFileSync(
      join(t.dir, 'alerts.yaml'),
      `channels:
  hook: {type: webhook, url: "http://127.0.0.1:${hook.port}/alerts", secret_env: NETMON_TEST_HOOK_SECRET, backoff: {min: 100ms, max: 500ms}, timeout: 120s}
rules:
  - {name: new-device, kind: device_new, channels: [hook]}
`,
    )
    const cfg = join(t.dir, 'agent.yaml')
    writeFileSync(cfg, ['heartbeat: 500ms', 'jobs:', '  - {name: alerting, kind: alerts, every: 1s, rules_file: alerts.yaml}', ''].join('\n'))
    const cli = async (args: string[]) => {
      const r = await runCli(args, {db: t.db})
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
      return r
    }
    const job = async () => (await cli(['agent', 'status', '--json'])).json.jobs.find((j: {name: string}) => j.name === 'alerting')
    const spawn = () => {
      const p = spawnCli(['agent', 'run', '--config', cfg, '--db', t.db], {NETMON_TEST_HOOK_SECRET: SECRET})
      procs.push(p)
      return p
    }
    const a = spawn()
    await waitFor('2 runs', async () => (await job())?.runs >= 2, 60_000, 200)
    await cli(['bandwidth', 'register', '--ip', '10.77.27.51', '--mac', mac(11)])
    await waitFor('the notification at the receiver', () => hook.hits.length === 1, 60_000, 100)
    // The receiver has it; its answer never comes, so the row is still in the outbox.
    expect((await job()).detail.delivering).toContain('hook')
    a.kill('SIGKILL')
    await a.exited
    await waitFor('the killed agent to go stale', async () => (await cli(['agent', 'status', '--json'])).json.state === 'stale', 30_000, 300)

    hook.hold = false
    const since = Date.now()
    const b = spawn()
    await waitFor('the notification again', () => hook.hits.length === 2, 60_000, 100)
    await waitFor(
      'a run of the new agent with an empty outbox',
      async () => {
        const j = await job()
        return j?.last_start_ms > since && j.detail?.waiting === 0 && j
      },
      60_000,
      200,
    )
    b.kill('SIGTERM')
    expect((await b.exited).code, b.stderr()).toBe(0)
    // The same notification twice, with one delivery id: a receiver de-duplicating on it sees one.
    expect(hook.hits[1]!.delivery).toBe(hook.hits[0]!.delivery)
    expect(hook.hits[1]!.body).toEqual(hook.hits[0]!.body)
    expect(hook.hits.every(h => h.signatureOk)).toBe(true)
    expect(new Set(hook.hits.map(h => h.delivery)).size).toBe(1)
  })
})

/**
 * meter_down, broker_disconnected and bridge_backlog on real data (issue 16): the built CLI's
 * `bridge run` polls `netmon meters simulate` and publishes to an in-process aedes broker; `alerts
 * check` (the CLI, as cron runs it) evaluates the rules and notifies a webhook receiver on loopback.
 * Stopping the simulator makes the meter fail (meter_down fires after `for`, resolves when it is
 * back); stopping the broker makes the connection drop and the outbox grow (broker_disconnected
 * and bridge_backlog fire, resolve when it returns and the backlog drains). Every transition is
 * notified exactly once. `for`/`keep_firing_for` are checked against the checks' own clocks
 * (lower bounds only, nothing tight).
 */
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {type AedesBroker, type Proc, spawnCli, startAedes, startSimulatorProcess, waitFor} from '../bridge/helpers.js'

const tmp = tempStore('netmon-alerts-bridge-')
const procs: Proc[] = []
const hits: {rule: string; kind: string; subject: string; values: any}[] = []
const server = createServer((req, res) => {
  let data = ''
  req.setEncoding('utf8').on('data', d => (data += d))
  req.on('end', () => {
    const b = JSON.parse(data)
    hits.push({rule: b.alert.rule, kind: b.transition.kind, subject: b.alert.subject, values: b.alert.values})
    res.writeHead(204).end()
  })
})
afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL')
  await new Promise(r => server.close(r))
  tmp.cleanup()
})

interface CheckRule {
  rule: string
  matching: number
  transitions: {kind: string; subject: string; value: string}[]
}
interface Check {
  at: number
  rules: Map<string, CheckRule>
}

describe('alert kinds over the meter bridge', {timeout: 240_000}, () => {
  it('meter_down, broker_disconnected and bridge_backlog fire after for and resolve, one notification per transition', async () => {
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
    const hookPort = (server.address() as AddressInfo).port
    let broker: AedesBroker = await startAedes()
    const brokerPort = broker.port
    let sim = await startSimulatorProcess(tmp.dir, 'sim', {meters: 1})
    procs.push(sim)
    const simPort = sim.ports[0]!
    const cfg = join(tmp.dir, 'bridge.json')
    writeFileSync(
      cfg,
      JSON.stringify({
        mqtt: {url: `mqtt://127.0.0.1:${brokerPort}`, reconnect: {min: '200ms', max: '500ms'}},
        publish: {format: 'plain', topic: 'm/{id}'},
        meters: [
          {
            id: 'm1',
            host: '127.0.0.1',
            port: simPort,
            poll_interval: '300ms',
            timeout: '1s',
            reconnect: {min: '200ms', max: '400ms'},
            obis: {'1.0.1.8.0.255': 'e'},
          },
        ],
        metrics: {interval: '60s', heartbeat: '300ms'},
      }),
    )
    const rules = join(tmp.dir, 'alerts.yaml')
    writeFileSync(
      rules,
      `channels:
  hook: {type: webhook, url: "http://127.0.0.1:${hookPort}/alerts", backoff: {min: 10ms, max: 50ms}, timeout: 5s}
defaults: {channels: [hook]}
rules:
  - {name: meter-down, kind: meter_down, scope: {meter: m1}, consecutive_failures: 2, for: 2s}
  - {name: broker-down, kind: broker_disconnected, for: 1s, keep_firing_for: 1s}
  - {name: backlog, kind: bridge_backlog, depth_above: 3, for: 1s}
`,
    )
    const bridge = spawnCli(['bridge', 'run', '--config', cfg, '--db', tmp.db])
    procs.push(bridge)
    const checks: Check[] = []
    const check = async (): Promise<Check> => {
      const r = await runCli(['alerts', 'check', '--rules', rules, '--json'], {db: tmp.db, timeoutMs: 60_000})
      expect(r.json, r.stderr).toBeDefined()
      expect([0, 3]).toContain(r.code)
      const c = {at: r.json.evaluated_at_ms as number, rules: new Map<string, CheckRule>(r.json.rules.map((x: CheckRule) => [x.rule, x]))}
      checks.push(c)
      return c
    }
    const kinds = (c: Check, rule: string) => c.rules.get(rule)!.transitions.map(t => t.kind)
    /** Checks until `rule` has had a transition of `kind`; returns that check. */
    const until = (rule: string, kind: string) => waitFor(`${rule} ${kind}`, async () => (c => kinds(c, rule).includes(kind) && c)(await check()), 90_000, 200)
    /** `for` held: the firing check is at least forMs after the check that first saw the condition (pending). */
    const assertFor = (rule: string, firing: Check, forMs: number) => {
      const pending = checks.findLast(c => c.at <= firing.at && kinds(c, rule).includes('pending'))!
      expect(pending, `${rule}: a pending check before firing`).toBeDefined()
      expect(pending).not.toBe(firing)
      expect(firing.at - pending.at).toBeGreaterThanOrEqual(forMs)
    }
    const sent = (rule: string) => hits.filter(h => h.rule === rule).map(h => h.kind)
    try {
      await waitFor('a reading published', () => broker.messages.some(m => m.topic === 'm/m1'), 30_000)
      let c = await check()
      expect([...c.rules.values()].every(x => x.matching === 0)).toBe(true)

      // The meter goes away: failures count up (bridge heartbeat → meter_status), meter_down fires after for.
      sim.kill('SIGKILL')
      await sim.exited
      const mdFiring = await until('meter-down', 'firing')
      assertFor('meter-down', mdFiring, 2000)
      expect(mdFiring.rules.get('meter-down')!.transitions.find(t => t.kind === 'firing')!.value).toMatch(/consecutive failures/)
      await waitFor('firing notification', () => sent('meter-down').length === 1, 15_000)
      expect(hits.find(h => h.rule === 'meter-down')).toMatchObject({subject: 'm1', values: {meter_id: 'm1', bridge_running: true}})
      expect(hits.find(h => h.rule === 'meter-down')!.values.consecutive_failures).toBeGreaterThanOrEqual(2)
      // Still down: no second notification.
      c = await check()
      expect(kinds(c, 'meter-down')).toEqual([])
      expect(c.rules.get('meter-down')!.matching).toBe(1)

      // The meter comes back on the same port: meter_down resolves.
      sim = await (async () => {
        const p = spawnCli(['meters', 'simulate', '--port', String(simPort), '--json'])
        procs.push(p)
        await waitFor('simulator listening again', () => p.stdout().includes('"listening"'), 15_000)
        return p as typeof sim
      })()
      await until('meter-down', 'resolved')
      expect(sent('meter-down')).toEqual(['firing', 'resolved'])
      expect(sent('broker-down')).toEqual([])
      expect(sent('backlog')).toEqual([])

      // The broker goes away: the bridge's connection drops and readings pile up in the outbox.
      await broker.close()
      const bdFiring = await until('broker-down', 'firing')
      assertFor('broker-down', bdFiring, 1000)
      const blFiring = checks.find(x => kinds(x, 'backlog').includes('firing')) ?? (await until('backlog', 'firing'))
      assertFor('backlog', blFiring, 1000)
      await waitFor('both notified', () => sent('broker-down').length === 1 && sent('backlog').length === 1, 15_000)
      expect(hits.find(h => h.rule === 'backlog')!.values.depth).toBeGreaterThan(3)
      expect(hits.find(h => h.rule === 'broker-down')).toMatchObject({subject: 'bridge', values: {broker_url: `mqtt://127.0.0.1:${brokerPort}`}})

      // Back: the connection returns, the outbox drains; both resolve (broker-down only after keep_firing_for).
      broker = await startAedes({port: brokerPort})
      const bdResolved = await until('broker-down', 'resolved')
      const firstClear = checks.find(x => x.at > bdFiring.at && x.rules.get('broker-down')!.matching === 0)!
      expect(bdResolved.at - firstClear.at).toBeGreaterThanOrEqual(1000)
      if (!checks.some(x => kinds(x, 'backlog').includes('resolved'))) await until('backlog', 'resolved')
      await waitFor('resolutions notified', () => sent('broker-down').length === 2 && sent('backlog').length === 2, 15_000)
      await waitFor('readings flow again', () => broker.messages.some(m => m.topic === 'm/m1'), 30_000)

      // Quiet afterwards: exactly one notification per transition, nothing more.
      c = await check()
      c = await check()
      expect([...c.rules.values()].every(x => x.matching === 0 && x.transitions.length === 0)).toBe(true)
      expect(sent('meter-down')).toEqual(['firing', 'resolved'])
      expect(sent('broker-down')).toEqual(['firing', 'resolved'])
      expect(sent('backlog')).toEqual(['firing', 'resolved'])
      expect(hits).toHaveLength(6)
    } finally {
      bridge.kill('SIGTERM')
      await bridge.exited
      sim.kill('SIGKILL')
      await broker.close()
    }
  })
})

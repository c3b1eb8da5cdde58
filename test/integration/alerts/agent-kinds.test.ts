/**
 * source_failing and interface_errors on real data (issue 16), through the built CLI:
 * - `netmon agent run` hosts a collector job with two sources, this test's veth (interfaces) and
 *   an SNMP agent on a loopback UDP port where nothing listens yet (its reads time out: the
 *   source fails), plus a latency job probing a netns host whose ICMP is dropped by nft (the job
 *   fails). source_failing fires for both after `for`; Debian's snmpd started on that port and
 *   the nft rule removed make them resolve.
 * - interface errors from a real kernel counter: the root end of a veth pair (MTU 9000) sends
 *   pings too big for its peer (MTU 1500), which the veth driver drops and counts in tx_dropped
 *   (/proc/net/dev); the agent's interfaces source records them (bw_iface_errors); the
 *   interface_errors rule fires, and resolves once no drops fall in its `per` window.
 * `alerts check` runs as cron would; a webhook receiver on loopback counts notifications (one per
 * transition). Namespace and addresses: akinds-*, 10.77.26.0/24 only.
 */
import {execFileSync} from 'node:child_process'
import {createSocket} from 'node:dgram'
import {writeFileSync} from 'node:fs'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {NETNS_SKIP} from '../../support/netns.js'
import {type Snmpd, SNMPD_SKIP, startSnmpd} from '../../support/snmpd.js'
import {type Proc, spawnCli, waitFor} from '../bridge/helpers.js'

const SKIP = NETNS_SKIP ?? SNMPD_SKIP
if (SKIP) console.warn(`alerts agent-kinds test skipped: ${SKIP}`)

const tag = process.pid.toString(36).slice(-4)
const NS = `akinds-${tag}`
const VETH = `akinds${tag}a`
const PEER = `akinds${tag}b`
const MAC = '02:77:26:00:00:01'
const sh = (...argv: string[]) => execFileSync(argv[0]!, argv.slice(1), {encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe']})
const quiet = (...argv: string[]) => {
  try {
    sh(...argv)
  } catch {
    /* cleanup: best effort */
  }
}

const tmp = tempStore('netmon-alerts-agent-')
const procs: Proc[] = []
let snmpd: Snmpd | undefined
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
  await snmpd?.stop()
  if (server.listening) await new Promise(r => server.close(r))
  if (!SKIP) {
    quiet('ip', 'netns', 'del', NS)
    quiet('ip', 'link', 'del', VETH)
  }
  tmp.cleanup()
})

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4')
  await new Promise<void>(r => s.bind(0, '127.0.0.1', () => r()))
  const port = s.address().port
  await new Promise<void>(r => s.close(() => r()))
  return port
}

interface CheckRule {
  rule: string
  matching: number
  transitions: {kind: string; subject: string; value: string}[]
}

describe.skipIf(SKIP)('alert kinds over the agent: source_failing, interface_errors', {timeout: 240_000}, () => {
  it('a failing SNMP source and a failing latency job, and drops on a veth, fire after for and resolve, one notification each way', async () => {
    // The veth pair: the root end may send 9000-byte frames, its peer accepts 1500.
    quiet('ip', 'netns', 'del', NS)
    quiet('ip', 'link', 'del', VETH)
    sh('ip', 'netns', 'add', NS)
    sh('ip', 'link', 'add', VETH, 'type', 'veth', 'peer', 'name', PEER)
    sh('ip', 'link', 'set', PEER, 'netns', NS)
    sh('ip', 'link', 'set', VETH, 'address', MAC, 'mtu', '9000', 'up')
    sh('ip', 'addr', 'add', '10.77.26.1/24', 'dev', VETH)
    sh('ip', 'netns', 'exec', NS, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1')
    sh('ip', '-n', NS, 'addr', 'add', '10.77.26.2/24', 'dev', PEER)
    sh('ip', '-n', NS, 'link', 'set', PEER, 'mtu', '1500', 'up')
    sh('ip', '-n', NS, 'link', 'set', 'lo', 'up')
    // The probed host drops ICMP (the latency job fails) until the rule is removed.
    sh(
      'ip',
      'netns',
      'exec',
      NS,
      'nft',
      'add table inet akinds; add chain inet akinds in { type filter hook input priority 0; }; add rule inet akinds in ip protocol icmp drop',
    )

    await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
    const hookPort = (server.address() as AddressInfo).port
    const snmpPort = await freeUdpPort()
    const cfg = join(tmp.dir, 'agent.yaml')
    writeFileSync(
      cfg,
      `heartbeat: 500ms
jobs:
  - name: collect
    kind: collector
    every: 1s
    read_timeout: 900ms
    sources:
      - {type: interfaces, names: [${VETH}]}
      - {type: snmp, agents: [{name: sw, host: 127.0.0.1, port: ${snmpPort}, community_env: AKINDS_SNMP_COMMUNITY, timeout_ms: 200, retries: 0}]}
  - {name: probe, kind: latency, every: 1s, targets: [10.77.26.2], method: icmp, count: 1, probe_timeout: 300ms}
`,
    )
    const rules = join(tmp.dir, 'alerts.yaml')
    writeFileSync(
      rules,
      `channels:
  hook: {type: webhook, url: "http://127.0.0.1:${hookPort}/alerts", backoff: {min: 10ms, max: 50ms}, timeout: 5s}
defaults: {channels: [hook]}
rules:
  - {name: failing, kind: source_failing, consecutive_failures: 3, for: 1s}
  - {name: drops, kind: interface_errors, interface: ${VETH}, errors_above: 3, per: 20s, for: 1s}
`,
    )
    const community = `akinds-${Math.random().toString(36).slice(2, 10)}`
    const agent = spawnCli(['agent', 'run', '--config', cfg, '--db', tmp.db], {AKINDS_SNMP_COMMUNITY: community})
    procs.push(agent)

    const checks: {at: number; rules: Map<string, CheckRule>}[] = []
    const check = async () => {
      const r = await runCli(['alerts', 'check', '--rules', rules, '--json'], {db: tmp.db, timeoutMs: 60_000})
      expect(r.json, r.stderr).toBeDefined()
      const c = {at: r.json.evaluated_at_ms as number, rules: new Map<string, CheckRule>(r.json.rules.map((x: CheckRule) => [x.rule, x]))}
      checks.push(c)
      return c
    }
    const trans = (c: {rules: Map<string, CheckRule>}, rule: string, kind: string) =>
      c.rules
        .get(rule)!
        .transitions.filter(t => t.kind === kind)
        .map(t => t.subject)
    const sent = (rule: string) =>
      hits
        .filter(h => h.rule === rule)
        .map(h => `${h.kind}:${h.subject}`)
        .sort()
    const everFired = (rule: string, kind: string) => new Set(checks.flatMap(c => trans(c, rule, kind)))
    const waitSubjects = (rule: string, kind: string, subjects: string[]) =>
      waitFor(
        `${rule} ${kind} ${subjects.join(', ')}`,
        async () => {
          await check()
          const seen = everFired(rule, kind)
          return subjects.every(s => seen.has(s))
        },
        90_000,
        300,
      )
    const forHeld = (rule: string, subject: string, forMs: number) => {
      const firing = checks.find(c => trans(c, rule, 'firing').includes(subject))!
      const pending = checks.findLast(c => c.at < firing.at && trans(c, rule, 'pending').includes(subject))
      expect(pending, `${rule} ${subject}: pending before firing`).toBeDefined()
      expect(firing.at - pending!.at).toBeGreaterThanOrEqual(forMs)
    }
    try {
      // Both failures are real: the SNMP reads time out, the probe gets no reply.
      await waitSubjects('failing', 'firing', ['collect/snmp:sw', 'probe'])
      forHeld('failing', 'collect/snmp:sw', 1000)
      forHeld('failing', 'probe', 1000)
      // The interfaces source of the same job reads fine: never a subject.
      expect(everFired('failing', 'pending').has(`collect/iface:${VETH}`)).toBe(false)
      await waitFor('firing notifications', () => sent('failing').length === 2, 15_000)
      expect(sent('failing')).toEqual(['firing:collect/snmp:sw', 'firing:probe'])
      const snmpHit = hits.find(h => h.subject === 'collect/snmp:sw')!
      expect(snmpHit.values).toMatchObject({job: 'collect', source: 'snmp:sw'})
      expect(snmpHit.values.consecutive_failures).toBeGreaterThanOrEqual(3)

      // Drops on the veth: 10 pings of 4000 bytes the peer cannot take (tx_dropped on the root end).
      expect(sent('drops')).toEqual([])
      const txDropped = () => Number(sh('cat', `/sys/class/net/${VETH}/statistics/tx_dropped`).trim())
      const before = txDropped()
      try {
        sh('ping', '-c', '10', '-i', '0.05', '-W', '1', '-s', '4000', '10.77.26.2')
      } catch {
        /* no replies: that is the point */
      }
      const dropped = txDropped() - before
      expect(dropped).toBeGreaterThanOrEqual(10)
      await waitSubjects('drops', 'firing', [MAC])
      forHeld('drops', MAC, 1000)
      await waitFor('drops notification', () => sent('drops').length === 1, 15_000)
      const drop = hits.find(h => h.rule === 'drops')!
      expect(drop.subject).toBe(MAC)
      // The readings in the window at the firing check: above the threshold, and never more than the kernel counted on it.
      expect(drop.values.total).toBeGreaterThan(3)
      expect(drop.values.tx_drops).toBeLessThanOrEqual(txDropped())
      expect(drop.values.source).toBe(`iface:${VETH}`)
      // No further drops: once the window (20 s) has passed them, the alert resolves.
      await waitSubjects('drops', 'resolved', [MAC])
      await waitFor('drops resolved notification', () => sent('drops').length === 2, 15_000)
      expect(sent('drops')).toEqual([`firing:${MAC}`, `resolved:${MAC}`])

      // Recovery: snmpd answers on the port, ICMP passes again.
      snmpd = await startSnmpd({port: snmpPort, community})
      sh('ip', 'netns', 'exec', NS, 'nft', 'delete table inet akinds')
      await waitSubjects('failing', 'resolved', ['collect/snmp:sw', 'probe'])
      await waitFor('resolved notifications', () => sent('failing').length === 4, 15_000)

      // Quiet afterwards: exactly one notification per transition.
      await check()
      const last = await check()
      expect(last.rules.get('failing')!.matching).toBe(0)
      expect(last.rules.get('drops')!.matching).toBe(0)
      expect(sent('failing')).toEqual(['firing:collect/snmp:sw', 'firing:probe', 'resolved:collect/snmp:sw', 'resolved:probe'])
      expect(sent('drops')).toEqual([`firing:${MAC}`, `resolved:${MAC}`])
      expect(hits).toHaveLength(6)

      // agent status shows the counts the rule read.
      const st = await runCli(['agent', 'status', '--json'], {db: tmp.db})
      const probe = st.json.jobs.find((j: any) => j.name === 'probe')
      expect(probe.consecutive_failures).toBe(0)
      expect(probe.failures).toBeGreaterThanOrEqual(3)
      const collect = st.json.jobs.find((j: any) => j.name === 'collect')
      expect(collect.detail.sources.find((s: any) => s.name === 'snmp:sw')).toMatchObject({consecutive_failures: 0, state: 'ok'})
    } finally {
      agent.kill('SIGTERM')
      await agent.exited
    }
  })
})

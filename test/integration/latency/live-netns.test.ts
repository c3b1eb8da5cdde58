/**
 * Acceptance 2 (live): hosts in network namespaces on a private bridge (test/support/netns.ts,
 * this capability's subnet 10.78.0.0/24). One host answers, one drops every packet inside its
 * namespace (nftables, else iptables), one address is held by nobody: the last two must show
 * 100 % loss — as a result, not an error. Traffic never leaves the test bridge.
 */
import {spawn} from 'node:child_process'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {normalizeMac} from '../../../src/core/devices/mac.js'
import {registerDevice} from '../../../src/core/devices/repo.js'
import {openStore} from '../../../src/core/store/index.js'
import {BIN, ROOT, runCli, tempStore} from '../../support/cli.js'
import {NETNS_SKIP, createLan, noLeftovers, testMac, type Lan, type LanHost} from '../../support/netns.js'

const SUBNET = '10.78.0.0/24'
const UP = '10.78.0.2'
const DROPPED = '10.78.0.3'
const ABSENT = '10.78.0.99'
const PORT = 8443

if (NETNS_SKIP) console.warn(`latency netns tests skipped: ${NETNS_SKIP}`)

describe.skipIf(NETNS_SKIP)('latency on a netns LAN', () => {
  let lan: Lan
  let up: LanHost
  let dropped: LanHost
  const tmp = tempStore('netmon-latency-netns-')
  let n = 0
  const freshDb = () => join(tmp.dir, `n${n++}.db`)

  beforeAll(async () => {
    lan = await createLan({subnet: SUBNET})
    up = lan.addHost({ip: UP, mac: testMac(0x780002), label: 'up'})
    dropped = lan.addHost({ip: DROPPED, mac: testMac(0x780003), label: 'dropped'})
    await lan.listen(up, [PORT])
    lan.dropAll(dropped)
  })

  afterAll(() => {
    lan?.destroy()
    tmp.cleanup()
    expect(noLeftovers()).toBe(true)
  })

  it('ICMP: the live host answers; the dropped and the absent address show 100 % loss; exit 0', async () => {
    const db = freshDb()
    const r = await runCli(['latency', UP, DROPPED, ABSENT, '-c', '5', '-i', '50ms', '-t', '300ms', '--method', 'icmp', '--json'], {db})
    expect(r.code).toBe(0)
    const [a, b, c] = r.json.hosts
    expect(a).toMatchObject({ip: UP, sent: 5, received: 5, loss_pct: 0, grade: 'excellent'})
    expect(a.avg_ms).toBeGreaterThan(0)
    expect(b).toMatchObject({ip: DROPPED, sent: 5, received: 0, loss_pct: 100, grade: 'bad', avg_ms: null, jitter_ms: null})
    expect(c).toMatchObject({ip: ABSENT, sent: 5, received: 0, loss_pct: 100, grade: 'bad'})
    expect(r.json.unreachable).toEqual([DROPPED, ABSENT])
    const s = await openStore({db})
    try {
      const rows = await s.query<{ip: string; sent: number; received: number; lost: number}>(
        `SELECT r.ip, r.sent, r.received, sum(p.rtt_ms IS NULL) AS lost FROM latency_runs r JOIN latency_probes p ON p.run_id = r.id GROUP BY r.id ORDER BY r.id`,
      )
      expect(rows).toEqual([
        {ip: UP, sent: 5, received: 5, lost: 0},
        {ip: DROPPED, sent: 5, received: 0, lost: 5},
        {ip: ABSENT, sent: 5, received: 0, lost: 5},
      ])
    } finally {
      await s.close()
    }
  })

  it('--fail-on-loss: exit 1 naming the silent hosts, results still printed', async () => {
    const r = await runCli(['latency', UP, DROPPED, '-c', '2', '-i', '50ms', '-t', '200ms', '--method', 'icmp', '--fail-on-loss'], {db: freshDb()})
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`no reply at all from ${DROPPED}`)
    expect(r.stdout).toMatch(new RegExp(`${DROPPED.replace(/\./g, '\\.')} .*│ 2 +│ 0 +│ 100% .*bad`))
  })

  it('TCP: open port replies, closed port (RST) replies, the dropped host times out', async () => {
    const r = await runCli(['latency', UP, DROPPED, '--method', 'tcp', '--port', String(PORT), '-c', '3', '-i', '50ms', '-t', '300ms', '--json'], {
      db: freshDb(),
    })
    expect(r.code).toBe(0)
    expect(r.json.hosts[0]).toMatchObject({sent: 3, received: 3, loss_pct: 0})
    expect(r.json.hosts[1]).toMatchObject({sent: 3, received: 0, loss_pct: 100})
    const closed = await runCli(['latency', UP, '--method', 'tcp', '--port', String(PORT + 1), '-c', '3', '-i', '50ms', '-t', '300ms', '--json'], {
      db: freshDb(),
    })
    expect(closed.json.hosts[0]).toMatchObject({sent: 3, received: 3, loss_pct: 0})
  })

  it('a run to an inventory device is found by its MAC (acceptance 3 on the LAN)', async () => {
    const db = freshDb()
    const s = await openStore({db})
    await s.writeTx(tx => registerDevice(tx, {mac: normalizeMac(up.mac), ip: UP}))
    await s.close()
    const run = await runCli(['latency', UP, '-c', '3', '-i', '20ms', '--json'], {db})
    expect(run.json.hosts[0].device.mac).toBe(normalizeMac(up.mac))
    const h = await runCli(['latency', 'history', up.mac, '--json'], {db})
    expect(h.code).toBe(0)
    expect(h.json).toMatchObject({matched_by: 'mac', ip: UP, summary: {sent: 3, received: 3}})
  })

  it('--watch: losses of a silent host are declared at their deadline, round by round', async () => {
    const db = freshDb()
    const child = spawn(
      process.execPath,
      [BIN, 'latency', UP, DROPPED, '-c', '3', '-i', '50ms', '-t', '200ms', '--method', 'icmp', '--watch', '--json', '--db', db],
      {cwd: ROOT},
    )
    let out = ''
    const done = new Promise<number | null>(resolve => child.on('close', resolve))
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d
      const droppedRounds = out.split('\n').filter(l => l.includes('"scope":"round"') && l.includes(`"ip":"${DROPPED}"`)).length
      if (droppedRounds >= 2 && !child.killed) child.kill('SIGINT')
    })
    const code = await done
    clearTimeout(timer)
    expect(code).toBe(0)
    const lines = out
      .trim()
      .split('\n')
      .map(l => JSON.parse(l))
    const rounds = (ip: string) => lines.filter(l => l.type === 'summary' && l.scope === 'round' && l.ip === ip)
    for (const r of rounds(DROPPED).filter(x => x.sent === 3)) expect(r).toMatchObject({received: 0, loss_pct: 100, grade: 'bad'})
    expect(rounds(DROPPED).filter(x => x.sent === 3).length).toBeGreaterThanOrEqual(2)
    for (const r of rounds(UP).filter(x => x.sent === 3)) expect(r).toMatchObject({received: 3, loss_pct: 0})
    const lost = lines.filter(l => l.type === 'probe' && l.ip === DROPPED)
    expect(lost.every(p => p.rtt_ms === null && p.status === 'timeout')).toBe(true)
    // Send times are spaced by the interval (estimated from ping's schedule, not from when we noticed).
    const gaps = lost.slice(1, 6).map((p, i) => p.ts_ms - lost[i]!.ts_ms)
    for (const g of gaps) expect(g).toBeGreaterThanOrEqual(30)
  })

  it('added delay (tc netem inside the namespace) shows in the RTT — when this kernel has netem', async ctx => {
    try {
      lan.exec(up, ['tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'netem', 'delay', '20ms'])
    } catch (e) {
      console.warn(`netem delay test skipped: tc netem does not work here (${String((e as Error).message).split('\n')[0]})`)
      ctx.skip()
      return
    }
    try {
      const r = await runCli(['latency', UP, '-c', '5', '-i', '50ms', '--method', 'icmp', '--json'], {db: freshDb()})
      expect(r.json.hosts[0].min_ms).toBeGreaterThanOrEqual(20)
      expect(r.json.hosts[0].avg_ms).toBeLessThan(40)
      expect(r.json.hosts[0].grade).toBe('good') // avg 20–50 ms
    } finally {
      lan.exec(up, ['tc', 'qdisc', 'del', 'dev', 'eth0', 'root'])
    }
  })
})

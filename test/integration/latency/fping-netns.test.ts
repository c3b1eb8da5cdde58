/**
 * Issue 17 against the real thing: `netmon latency -g/-f/-a/-u/-q` next to Debian's fping on one
 * netns LAN (test/support/netns.ts, this test's subnet 10.77.24.0/24, namespaces named fping…).
 * The root namespace is the LAN's router (10.77.24.1, every host's default route); on the LAN:
 *   .1       the router (answers)
 *   .10–.17  eight hosts that answer (one also listens on TCP :8443)
 *   .18      a host whose nftables drops ICMP echo requests (TCP still reaches it)
 *   .19      a host that drops every packet
 *   .20      a host that went away (namespace deleted: ARP goes unanswered)
 *   .21      a host whose interface is down
 *   the rest of .2–.30: addresses nobody holds
 * fping is run with the same range, file or standard input; the alive and unreachable lists must
 * be the same, and the -q lines the same but for the RTT figures. (fping 5.1 prints -a/-u lists in
 * its default mode only, not with -c; netmon prints them after any run.) Traffic never leaves the
 * bridge.
 */
import {execFileSync, spawnSync} from 'node:child_process'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {openStore} from '../../../src/core/store/index.js'
import {runCli, tempStore} from '../../support/cli.js'
import {NETNS_SKIP, createLan, noLeftovers, testMac, type Lan} from '../../support/netns.js'

const SUBNET = '10.77.24.0/24'
const RANGE = '10.77.24.0/27' // .1 – .30 (network .0 and broadcast .31 skipped, as fping -g does)
const ROUTER = '10.77.24.1'
const HOSTS_UP = ['10.77.24.10', '10.77.24.11', '10.77.24.12', '10.77.24.13', '10.77.24.14', '10.77.24.15', '10.77.24.16', '10.77.24.17']
const ICMP_DROPPED = '10.77.24.18'
const ALL_DROPPED = '10.77.24.19'
const GONE = '10.77.24.20'
const LINK_DOWN = '10.77.24.21'
const UP = [ROUTER, ...HOSTS_UP]
const UNREACHABLE = Array.from({length: 30}, (_, i) => `10.77.24.${i + 1}`).filter(ip => !UP.includes(ip))
const PORT = 8443

const hasFping = spawnSync('fping', ['-v']).status === 0
const SKIP = NETNS_SKIP ?? (hasFping ? null : 'Debian fping is not installed (apt-get install fping)')
if (SKIP) console.warn(`latency vs fping netns tests skipped: ${SKIP}`)

/** fping as a user runs it; its exit status is 1 when some target is unreachable. */
function fping(args: string[], input?: string): {code: number; stdout: string; stderr: string} {
  const r = spawnSync('fping', args, {encoding: 'utf8', input, timeout: 60_000})
  return {code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr}
}

const lines = (text: string) => text.split('\n').filter(Boolean)
const sorted = (xs: string[]) => [...xs].sort((a, b) => a.localeCompare(b, 'en', {numeric: true}))

describe.skipIf(SKIP)('netmon latency vs fping on a netns LAN', () => {
  let lan: Lan
  const tmp = tempStore('netmon-latency-fping-')
  let n = 0
  const freshDb = () => join(tmp.dir, `f${n++}.db`)
  // Short probes for both tools: 3 per host, 100 ms apart, 500 ms to answer.
  const NETMON_PROBES = ['-c', '3', '-i', '100ms', '-t', '500ms', '--method', 'icmp']
  const FPING_PROBES = ['-c', '3', '-p', '100', '-t', '500']
  // fping's default (reachability) mode, where -a and -u print: one retry, 500 ms first timeout.
  const FPING_ALIVE = ['-r', '1', '-t', '500']

  beforeAll(async () => {
    lan = await createLan({subnet: SUBNET, prefix: 'fping'})
    for (const [i, ip] of HOSTS_UP.entries()) lan.addHost({ip, mac: testMac(0x241000 + i), label: `up${i}`})
    await lan.listen(lan.hosts[0]!, [PORT])
    const icmpDropped = lan.addHost({ip: ICMP_DROPPED, mac: testMac(0x241018), label: 'icmp-dropped'})
    lan.exec(icmpDropped, ['nft', 'add', 'table', 'inet', 'fping_icmp'])
    lan.exec(icmpDropped, ['nft', 'add', 'chain', 'inet', 'fping_icmp', 'in', '{ type filter hook input priority 0 ; }'])
    lan.exec(icmpDropped, ['nft', 'add', 'rule', 'inet', 'fping_icmp', 'in', 'icmp', 'type', 'echo-request', 'drop'])
    await lan.listen(icmpDropped, [PORT])
    lan.dropAll(lan.addHost({ip: ALL_DROPPED, mac: testMac(0x241019), label: 'all-dropped'}))
    lan.removeHost(lan.addHost({ip: GONE, mac: testMac(0x241020), label: 'gone'}))
    const down = lan.addHost({ip: LINK_DOWN, mac: testMac(0x241021), label: 'link-down'})
    lan.exec(down, ['ip', 'link', 'set', 'eth0', 'down'])
  })

  afterAll(() => {
    lan?.destroy()
    tmp.cleanup()
    expect(noLeftovers('fping')).toBe(true)
  })

  it('-g CIDR: -a and -u list the same hosts as fping -a / fping -u; netmon exits 0, fping 1', async () => {
    const alive = await runCli(['latency', '-g', RANGE, ...NETMON_PROBES, '-a'], {db: freshDb(), timeoutMs: 60_000})
    const unreachable = await runCli(['latency', '-g', RANGE, ...NETMON_PROBES, '-u'], {db: freshDb(), timeoutMs: 60_000})
    const fa = fping(['-a', '-g', RANGE, ...FPING_ALIVE, '-q'])
    const fu = fping(['-u', '-g', RANGE, ...FPING_ALIVE, '-q'])
    // fping itself sees the LAN as described (else the comparison below would prove nothing).
    expect(sorted(lines(fa.stdout))).toEqual(UP)
    expect(sorted(lines(fu.stdout))).toEqual(UNREACHABLE)
    expect(fa.code).toBe(1)
    expect(alive.code, alive.stderr).toBe(0)
    expect(unreachable.code, unreachable.stderr).toBe(0)
    expect(alive.stderr).toBe('')
    // Same sets; netmon prints them in target (address) order.
    expect(lines(alive.stdout)).toEqual(sorted(lines(fa.stdout)))
    expect(lines(unreachable.stdout)).toEqual(sorted(lines(fu.stdout)))
  })

  it('-g START END and -q: one line per host, as fping -q prints it but for the RTT figures', async () => {
    const db = freshDb()
    const r = await runCli(['latency', '-g', '10.77.24.16', '10.77.24.22', ...NETMON_PROBES, '-q'], {db, timeoutMs: 60_000})
    const f = fping(['-g', '10.77.24.16', '10.77.24.22', ...FPING_PROBES, '-q'])
    expect(r.code, r.stderr).toBe(0)
    // fping -q -c prints its summaries on stderr; netmon -q on stdout (it is the result asked for).
    const ours = lines(r.stdout)
    const theirs = lines(f.stderr)
    expect(ours).toHaveLength(7)
    const shape = (l: string) => l.replace(/min\/avg\/max = [\d.]+\/[\d.]+\/[\d.]+$/, 'min/avg/max = RTT')
    expect(ours.map(shape)).toEqual(theirs.map(shape))
    expect(ours.map(shape)).toEqual([
      '10.77.24.16 : xmt/rcv/%loss = 3/3/0%, min/avg/max = RTT',
      '10.77.24.17 : xmt/rcv/%loss = 3/3/0%, min/avg/max = RTT',
      '10.77.24.18 : xmt/rcv/%loss = 3/0/100%',
      '10.77.24.19 : xmt/rcv/%loss = 3/0/100%',
      '10.77.24.20 : xmt/rcv/%loss = 3/0/100%',
      '10.77.24.21 : xmt/rcv/%loss = 3/0/100%',
      '10.77.24.22 : xmt/rcv/%loss = 3/0/100%',
    ])
    // Stored like any run: a run per host with its three probes.
    const s = await openStore({db})
    try {
      const rows = await s.query<{ip: string; received: number; probes: number}>(
        'SELECT r.ip, r.received, count(p.seq) AS probes FROM latency_runs r JOIN latency_probes p ON p.run_id = r.id GROUP BY r.id ORDER BY r.id',
      )
      expect(rows.map(x => `${x.ip} ${x.received}/${x.probes}`)).toEqual([
        '10.77.24.16 3/3',
        '10.77.24.17 3/3',
        '10.77.24.18 0/3',
        '10.77.24.19 0/3',
        '10.77.24.20 0/3',
        '10.77.24.21 0/3',
        '10.77.24.22 0/3',
      ])
    } finally {
      await s.close()
    }
  })

  it('-f FILE and -f - (standard input): the same lists as fping -f', async () => {
    const list = `# the office LAN\n${HOSTS_UP[0]} printer\n\n${ICMP_DROPPED}\n   # spare\n${HOSTS_UP[3]}\n${GONE}\n${HOSTS_UP[7]}\n`
    const file = join(tmp.dir, 'hosts.txt')
    execFileSync('sh', ['-c', `cat > '${file}'`], {input: list})
    const fromFile = await runCli(['latency', '-f', file, ...NETMON_PROBES, '-a'], {db: freshDb(), timeoutMs: 60_000})
    const fromStdin = await runCli(['latency', '-f', '-', ...NETMON_PROBES, '-u'], {db: freshDb(), input: list, timeoutMs: 60_000})
    const fa = fping(['-a', '-f', file, ...FPING_ALIVE, '-q'])
    const fu = fping(['-u', '-f', '-', ...FPING_ALIVE, '-q'], list)
    expect(sorted(lines(fa.stdout))).toEqual([HOSTS_UP[0], HOSTS_UP[3], HOSTS_UP[7]])
    expect(sorted(lines(fu.stdout))).toEqual([ICMP_DROPPED, GONE])
    expect(fromFile.code, fromFile.stderr).toBe(0)
    expect(fromStdin.code, fromStdin.stderr).toBe(0)
    // Same sets; netmon prints them in file order.
    expect(lines(fromFile.stdout)).toEqual([HOSTS_UP[0], HOSTS_UP[3], HOSTS_UP[7]])
    expect(lines(fromStdin.stdout)).toEqual([ICMP_DROPPED, GONE])
    expect(sorted(lines(fromStdin.stdout))).toEqual(sorted(lines(fu.stdout)))
  })

  it('--json gives the structured result with the same lists; --fail-on-loss is exit 1 (fping -u style scripts)', async () => {
    const r = await runCli(['latency', '-g', RANGE, ...NETMON_PROBES, '-a', '--json', '--fail-on-loss', '--concurrency', '4'], {
      db: freshDb(),
      timeoutMs: 60_000,
    })
    expect(r.code).toBe(1)
    expect(r.json.alive).toEqual(UP)
    expect(r.json.unreachable).toEqual(UNREACHABLE)
    expect(r.json.hosts).toHaveLength(30)
    expect(r.json.concurrency).toBe(4)
    expect(r.stderr).toBe(`netmon: no reply at all from ${UNREACHABLE.join(', ')}\n`)
  })

  it('TCP reaches the host that drops ICMP, which fping and ICMP call unreachable', async () => {
    const r = await runCli(
      ['latency', HOSTS_UP[0]!, ICMP_DROPPED, ALL_DROPPED, '--method', 'tcp', '--port', String(PORT), '-c', '2', '-i', '100ms', '-t', '500ms', '-a'],
      {db: freshDb()},
    )
    expect(r).toMatchObject({code: 0, stdout: `${HOSTS_UP[0]}\n${ICMP_DROPPED}\n`})
  })

  it('the cap: a range above --max-targets is refused with exit 2 and the fix, before anything is sent or stored', async () => {
    const db = freshDb()
    const r = await runCli(['latency', '-g', SUBNET, '--max-targets', '100', '-a'], {db})
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toBe(
      'Error: "10.77.24.0/24" has 254 addresses, more than the cap of 100 targets per run (raise the cap with --max-targets 254, give a smaller range such as 10.77.24.0/26, or find the live hosts first with `netmon scan`)\n',
    )
    expect(spawnSync('test', ['-e', db]).status).not.toBe(0)
  })
})

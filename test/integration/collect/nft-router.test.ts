/**
 * Issue 14 acceptance 1: per-host accounting on a Linux router from netmon's nftables table.
 *
 *   LAN hosts (3 netns, eth0) ── veth ── router netns: br0 10.77.11.1/24 fd77:11::1/64 ── wan0 10.77.12.1/24 ── WAN netns (HTTP server)
 *
 * Each host downloads a file of its own size from the WAN server and uploads one of its own size
 * (h2 downloads over IPv6, uploads over IPv4: one device, two addresses). netmon's nft source runs
 * in the router netns through the built CLI (`ip netns exec ROUTER node bin/run.js bandwidth sample
 * --from nft`), on a real libSQL file.
 *
 * The bounds (docs/NFTABLES.md "Overhead"): nft counts each forwarded packet's IP length, so per
 * host and direction, with p the packets nft counted:
 *   generated + 40·p ≤ netmon ≤ generated + 80·p   (IPv4: 20 B IP + 20..60 B TCP header per packet;
 *                                                   a host using IPv6 too: up to 40 + 60 = 100 B)
 * where "generated" is what curl reports it sent/received at the HTTP layer (request/response
 * headers + bodies). The router's own interface for that host (the bridge port) counts the same
 * packets with their 14-byte Ethernet header, plus frames that never leave the LAN (ARP, NDP,
 * MLD, and other hosts' multicast the bridge floods — an MLDv2 report with several group records
 * was seen at 170 B — so each is bounded by one full Ethernet frame, 1514 B):
 *   0 ≤ iface − netmon − 14·p ≤ (iface_packets − p) · 1514
 */
import {execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {NETNS_SKIP, testMac} from '../../support/netns.js'

const TAG = `nmt${process.pid.toString(36)}-nft`
const ROUTER = `${TAG}-r`
const WAN = `${TAG}-w`
const LAN4 = '10.77.11.0/24'
const LAN6 = 'fd77:11::/64'
const LAN = `${LAN4},${LAN6}`

interface Host {
  ns: string
  port: string
  mac: string
  ip4: string
  ip6: string
  /** Bytes downloaded / uploaded per round, and the family each uses. */
  down: number
  up: number
  downUrlHost: string
  upUrlHost: string
}

const HOSTS: Host[] = [
  {
    ns: `${TAG}-h0`,
    port: 'h0',
    mac: testMac(0x1100),
    ip4: '10.77.11.10',
    ip6: 'fd77:11::10',
    down: 3_000_000,
    up: 1_000_000,
    downUrlHost: '10.77.12.2',
    upUrlHost: '10.77.12.2',
  },
  {
    ns: `${TAG}-h1`,
    port: 'h1',
    mac: testMac(0x1101),
    ip4: '10.77.11.11',
    ip6: 'fd77:11::11',
    down: 2_000_000,
    up: 2_500_000,
    downUrlHost: '10.77.12.2',
    upUrlHost: '10.77.12.2',
  },
  {
    ns: `${TAG}-h2`,
    port: 'h2',
    mac: testMac(0x1102),
    ip4: '10.77.11.12',
    ip6: 'fd77:11::12',
    down: 1_000_000,
    up: 3_500_000,
    downUrlHost: '[fd77:12::2]',
    upUrlHost: '10.77.12.2',
  },
]
const usesV6 = (h: Host) => h.downUrlHost.startsWith('[') || h.upUrlHost.startsWith('[')

const sh = (argv: string[], input?: string) =>
  execFileSync(argv[0]!, argv.slice(1), {encoding: 'utf8', input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe']})
const inNs = (ns: string, argv: string[], input?: string) => sh(['ip', 'netns', 'exec', ns, ...argv], input)
const quiet = (argv: string[]) => {
  try {
    sh(argv)
  } catch {
    /* cleanup */
  }
}

const SERVER = `
import http.server, socket
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_GET(self):
        n = int(self.path.strip('/'))
        self.send_response(200)
        self.send_header('Content-Length', str(n))
        self.end_headers()
        buf = b'x' * 65536
        while n > 0:
            k = min(n, 65536)
            self.wfile.write(buf[:k])
            n -= k
    def do_PUT(self):
        n = int(self.headers['Content-Length'])
        got = 0
        while got < n:
            d = self.rfile.read(min(65536, n - got))
            if not d:
                break
            got += len(d)
        body = str(got).encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()
s = S(('::', 8080), H)
print('ready', flush=True)
s.serve_forever()
`

function buildTopology(): void {
  for (const ns of [ROUTER, WAN, ...HOSTS.map(h => h.ns)]) {
    sh(['ip', 'netns', 'add', ns])
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up'])
  }
  inNs(ROUTER, ['sysctl', '-qw', 'net.ipv4.ip_forward=1'])
  inNs(ROUTER, ['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1'])
  sh(['ip', '-n', ROUTER, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0'])
  sh(['ip', '-n', ROUTER, 'addr', 'add', '10.77.11.1/24', 'dev', 'br0'])
  sh(['ip', '-n', ROUTER, 'addr', 'add', 'fd77:11::1/64', 'dev', 'br0', 'nodad'])
  sh(['ip', '-n', ROUTER, 'link', 'set', 'br0', 'up'])
  // WAN link
  sh(['ip', '-n', ROUTER, 'link', 'add', 'wan0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', WAN])
  sh(['ip', '-n', ROUTER, 'addr', 'add', '10.77.12.1/24', 'dev', 'wan0'])
  sh(['ip', '-n', ROUTER, 'addr', 'add', 'fd77:12::1/64', 'dev', 'wan0', 'nodad'])
  sh(['ip', '-n', ROUTER, 'link', 'set', 'wan0', 'up'])
  sh(['ip', '-n', WAN, 'addr', 'add', '10.77.12.2/24', 'dev', 'eth0'])
  sh(['ip', '-n', WAN, 'addr', 'add', 'fd77:12::2/64', 'dev', 'eth0', 'nodad'])
  sh(['ip', '-n', WAN, 'link', 'set', 'eth0', 'up'])
  sh(['ip', '-n', WAN, 'route', 'add', 'default', 'via', '10.77.12.1'])
  sh(['ip', '-n', WAN, '-6', 'route', 'add', 'default', 'via', 'fd77:12::1'])
  for (const h of HOSTS) {
    sh(['ip', '-n', ROUTER, 'link', 'add', h.port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.ns])
    sh(['ip', '-n', ROUTER, 'link', 'set', h.port, 'master', 'br0'])
    sh(['ip', '-n', ROUTER, 'link', 'set', h.port, 'up'])
    sh(['ip', '-n', h.ns, 'link', 'set', 'eth0', 'address', h.mac])
    sh(['ip', '-n', h.ns, 'addr', 'add', `${h.ip4}/24`, 'dev', 'eth0'])
    sh(['ip', '-n', h.ns, 'addr', 'add', `${h.ip6}/64`, 'dev', 'eth0', 'nodad'])
    sh(['ip', '-n', h.ns, 'link', 'set', 'eth0', 'up'])
    sh(['ip', '-n', h.ns, 'route', 'add', 'default', 'via', '10.77.11.1'])
    sh(['ip', '-n', h.ns, '-6', 'route', 'add', 'default', 'via', 'fd77:11::1'])
  }
}

function destroyTopology(): void {
  for (const ns of [...HOSTS.map(h => h.ns), WAN, ROUTER]) {
    try {
      for (const p of sh(['ip', 'netns', 'pids', ns]).split('\n').filter(Boolean)) quiet(['kill', '-9', p])
    } catch {
      /* gone */
    }
    quiet(['ip', 'netns', 'del', ns])
  }
}

/** The router's bridge port for a host: frames from it (rx) and to it (tx). */
function portStats(h: Host): {rxBytes: bigint; rxPackets: bigint; txBytes: bigint; txPackets: bigint} {
  const [l] = JSON.parse(sh(['ip', '-n', ROUTER, '-s', '-j', 'link', 'show', h.port]))
  const s = l.stats64
  return {rxBytes: BigInt(s.rx.bytes), rxPackets: BigInt(s.rx.packets), txBytes: BigInt(s.tx.bytes), txPackets: BigInt(s.tx.packets)}
}

/** TCP segments a namespace retransmitted so far (/proc/net/snmp, Tcp RetransSegs). */
function retransSegs(ns: string): number {
  const lines = inNs(ns, ['cat', '/proc/net/snmp'])
    .split('\n')
    .filter(l => l.startsWith('Tcp:'))
  const names = lines[0]!.split(/\s+/)
  const values = lines[1]!.split(/\s+/)
  return Number(values[names.indexOf('RetransSegs')])
}

interface Generated {
  sent: number
  received: number
  /** Segments retransmitted by the host (sent) and by the WAN server to it (received): real bytes on the wire too. */
  retransSent: number
  retransReceived: number
}

/** One round of a host's traffic: what curl says it sent and received at the HTTP layer. */
function traffic(h: Host, dir: string, scale: number): Generated {
  const r0 = [retransSegs(h.ns), retransSegs(WAN)]
  const file = join(dir, `up-${h.port}-${scale}`)
  writeFileSync(file, Buffer.alloc(h.up * scale, 0x61))
  const curl = (args: string[]) => {
    const out = inNs(h.ns, [
      'curl',
      '-sS',
      '--fail',
      '--http1.1',
      '--noproxy',
      '*',
      '-H',
      'Expect:',
      '-o',
      '/dev/null',
      '-w',
      '%{size_header} %{size_download} %{size_request} %{size_upload}',
      ...args,
    ])
    const [hdr, body, req, upl] = out.trim().split(' ').map(Number)
    return {sent: req! + upl!, received: hdr! + body!}
  }
  const a = curl([`http://${h.downUrlHost}:8080/${h.down * scale}`])
  const b = curl(['-T', file, `http://${h.upUrlHost}:8080/up`])
  const r1 = [retransSegs(h.ns), retransSegs(WAN)]
  return {sent: a.sent + b.sent, received: a.received + b.received, retransSent: r1[0]! - r0[0]!, retransReceived: r1[1]! - r0[1]!}
}

interface Round {
  app: Generated[]
  before: ReturnType<typeof portStats>[]
  after: ReturnType<typeof portStats>[]
}

function runRound(dir: string, scale: number): Round {
  const before = HOSTS.map(portStats)
  const app = HOSTS.map(h => traffic(h, dir, scale))
  const after = HOSTS.map(portStats)
  return {app, before, after}
}

/** The checks of the header comment, for one host and direction. */
function checkBounds(
  label: string,
  netmon: bigint,
  packets: bigint,
  generated: number,
  retrans: number,
  iface: bigint,
  ifacePackets: bigint,
  v6: boolean,
): void {
  const p = packets
  expect(p, `${label}: packets counted`).toBeGreaterThan(0n)
  const lo = BigInt(generated) + 40n * p
  // A retransmitted segment crosses the router again: at most one MSS (≤ 1460 B) more each.
  const hi = BigInt(generated) + (v6 ? 100n : 80n) * p + 1460n * BigInt(retrans)
  expect(netmon, `${label}: netmon ${netmon} ≥ generated ${generated} + 40·${p}`).toBeGreaterThanOrEqual(lo)
  expect(netmon, `${label}: netmon ${netmon} ≤ generated ${generated} + ${v6 ? 100 : 80}·${p} + 1460·${retrans} retransmitted`).toBeLessThanOrEqual(hi)
  expect(ifacePackets, `${label}: the router port saw every counted packet`).toBeGreaterThanOrEqual(p)
  const extra = iface - netmon - 14n * p
  expect(extra, `${label}: router port ${iface} − netmon ${netmon} − 14·${p}`).toBeGreaterThanOrEqual(0n)
  expect(extra, `${label}: at most ${ifacePackets - p} LAN-only frames of ≤ 1514 B`).toBeLessThanOrEqual((ifacePackets - p) * 1514n)
}

describe.skipIf(NETNS_SKIP)('nft source on a netns router (3 LAN hosts, IPv4 + IPv6)', () => {
  const store = tempStore('netmon-nft-')
  const dir = mkdtempSync(join(tmpdir(), 'netmon-nft-files-'))
  let server: ChildProcess | undefined
  const sample = (extra: string[] = []) =>
    runCli(['bandwidth', 'sample', '--from', 'nft', '--lan', LAN, '--json', ...extra], {db: store.db, netns: ROUTER, timeoutMs: 60_000})
  const stats = async (h: Host) => {
    const r = await runCli(['bandwidth', 'stats', '--mac', h.mac, '--json'], {db: store.db})
    expect(r.code, r.stderr).toBe(0)
    return {sent: BigInt(r.json.device.total.bytes_sent), received: BigInt(r.json.device.total.bytes_received)}
  }
  const byMac = (
    r: {json: {hosts: {key: string; counter_sent: string; counter_received: string; packets_sent: string; packets_received: string; counter_id: string}[]}},
    h: Host,
  ) => {
    const x = r.json.hosts.find(e => e.key === h.mac.toUpperCase())
    expect(x, `host ${h.mac} in the reading`).toBeDefined()
    return {
      sent: BigInt(x!.counter_sent),
      received: BigInt(x!.counter_received),
      pSent: BigInt(x!.packets_sent),
      pReceived: BigInt(x!.packets_received),
      id: x!.counter_id,
    }
  }
  const keepText = () => inNs(ROUTER, ['nft', 'list', 'table', 'ip', 'keepme']).replace(/counter packets \d+ bytes \d+/g, 'counter')

  beforeAll(async () => {
    destroyTopology()
    buildTopology()
    // An unrelated table that must survive install, recreate and uninstall untouched.
    inNs(ROUTER, ['nft', '-f', '-'], 'table ip keepme {\n  chain keep_fwd { type filter hook forward priority 0; policy accept; counter; }\n}\n')
    server = spawn('ip', ['netns', 'exec', WAN, 'python3', '-c', SERVER], {stdio: ['ignore', 'pipe', 'pipe']})
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('HTTP server in the WAN netns did not start')), 15_000)
      server!.stdout!.on('data', d => {
        if (String(d).includes('ready')) {
          clearTimeout(t)
          resolve()
        }
      })
      server!.on('exit', c => reject(new Error(`HTTP server exited ${c}`)))
    })
    // The router learns every host (IPv4 and IPv6) in its neighbor table, as on a live LAN.
    for (const h of HOSTS) {
      inNs(h.ns, ['ping', '-c', '1', '-W', '2', '10.77.11.1'])
      inNs(h.ns, ['ping', '-6', '-c', '1', '-W', '2', 'fd77:11::1'])
    }
  }, 60_000)

  afterAll(() => {
    server?.kill('SIGKILL')
    destroyTopology()
    store.cleanup()
    rmSync(dir, {recursive: true, force: true})
  })

  it('counts every host both ways within the header bound, ranks by sent, survives a table reset, uninstalls only its table', async () => {
    const keepBefore = keepText()
    const inst = await runCli(['collect', 'nft', '--install', '--lan', LAN, '--json'], {netns: ROUTER, noDb: true})
    expect(inst.code, inst.stderr).toBe(0)
    expect(inst.json).toMatchObject({created: true, installed: true, rules: 4, lan: [LAN4, LAN6]})
    // Seeded from the neighbor table: every host's addresses, zero counters.
    expect(inst.json.hosts).toBe(6)
    // Idempotent: a second install changes nothing.
    const again = await runCli(['collect', 'nft', '--install', '--lan', LAN, '--json'], {netns: ROUTER, noDb: true})
    expect(again.json).toMatchObject({created: false, added: [], rules: 4, lan: [LAN4, LAN6]})

    const s1 = await sample()
    expect(s1.code, s1.stderr).toBe(0)
    expect(s1.json.counter_outcomes).toEqual({baseline: 3})
    expect(byMac(s1, HOSTS[2]!).id).toBe('nft:10.77.11.12,fd77:11::12')

    const r1 = runRound(dir, 1)
    const s2 = await sample()
    expect(s2.code, s2.stderr).toBe(0)
    expect(s2.json.counter_outcomes).toEqual({delta: 3})

    for (const [i, h] of HOSTS.entries()) {
      const a = byMac(s1, h)
      const b = byMac(s2, h)
      const st = await stats(h)
      // What netmon stored is the counters' movement …
      expect(st.sent).toBe(b.sent - a.sent)
      expect(st.received).toBe(b.received - a.received)
      // … which is the generated traffic plus headers, and the router port's bytes minus Ethernet.
      const port = {
        rx: r1.after[i]!.rxBytes - r1.before[i]!.rxBytes,
        rxp: r1.after[i]!.rxPackets - r1.before[i]!.rxPackets,
        tx: r1.after[i]!.txBytes - r1.before[i]!.txBytes,
        txp: r1.after[i]!.txPackets - r1.before[i]!.txPackets,
      }
      checkBounds(`${h.port} sent`, st.sent, b.pSent - a.pSent, r1.app[i]!.sent, r1.app[i]!.retransSent, port.rx, port.rxp, usesV6(h))
      checkBounds(`${h.port} received`, st.received, b.pReceived - a.pReceived, r1.app[i]!.received, r1.app[i]!.retransReceived, port.tx, port.txp, usesV6(h))
    }

    // Ranked by what each host sent (h2 uploads most, h0 least).
    const top = await runCli(['bandwidth', 'top', '--sort', 'upload', '--json'], {db: store.db})
    expect(top.code, top.stderr).toBe(0)
    expect(top.json.top_talkers.map((t: {mac: string}) => t.mac)).toEqual([HOSTS[2]!, HOSTS[1]!, HOSTS[0]!].map(h => h.mac.toUpperCase()))

    // Counter reset: the table deleted and recreated (a firewall reload). Its creation time is the
    // counters' boot time; wait past the counter rules' boot slack so the reset is seen by it too.
    const totals1 = await Promise.all(HOSTS.map(stats))
    await new Promise(r => setTimeout(r, 6500))
    inNs(ROUTER, ['nft', 'delete', 'table', 'inet', 'netmon'])
    const re = await runCli(['collect', 'nft', '--install', '--lan', LAN, '--json'], {netns: ROUTER, noDb: true})
    expect(re.json).toMatchObject({created: true, hosts: 6})
    const s3 = await sample()
    expect(s3.code, s3.stderr).toBe(0)
    expect(s3.json.counter_outcomes).toEqual({reset: 3})
    expect([s3.json.bytes_sent, s3.json.bytes_received]).toEqual([0, 0])

    const r2 = runRound(dir, 2)
    const s4 = await sample()
    expect(s4.json.counter_outcomes).toEqual({delta: 3})
    for (const [i, h] of HOSTS.entries()) {
      const b = byMac(s4, h)
      const st = await stats(h)
      // No spike: the totals grew by exactly the new counters (which started from zero) …
      expect(st.sent - totals1[i]!.sent).toBe(b.sent)
      expect(st.received - totals1[i]!.received).toBe(b.received)
      // … and those are the second round's traffic within the same bounds.
      const port = {
        rx: r2.after[i]!.rxBytes - r2.before[i]!.rxBytes,
        rxp: r2.after[i]!.rxPackets - r2.before[i]!.rxPackets,
        tx: r2.after[i]!.txBytes - r2.before[i]!.txBytes,
        txp: r2.after[i]!.txPackets - r2.before[i]!.txPackets,
      }
      checkBounds(`${h.port} sent (after reset)`, b.sent, b.pSent, r2.app[i]!.sent, r2.app[i]!.retransSent, port.rx, port.rxp, usesV6(h))
      checkBounds(`${h.port} received (after reset)`, b.received, b.pReceived, r2.app[i]!.received, r2.app[i]!.retransReceived, port.tx, port.txp, usesV6(h))
    }

    // Uninstall removes netmon's table and nothing else.
    expect(keepText()).toBe(keepBefore)
    const un = await runCli(['collect', 'nft', '--uninstall', '--json'], {netns: ROUTER, noDb: true})
    expect(un.code, un.stderr).toBe(0)
    expect(un.json).toMatchObject({removed: true, installed: false})
    const tables = inNs(ROUTER, ['nft', 'list', 'tables'])
    expect(tables).toContain('table ip keepme')
    expect(tables).not.toContain('netmon')
    expect(keepText()).toBe(keepBefore)
    const un2 = await runCli(['collect', 'nft', '--uninstall', '--json'], {netns: ROUTER, noDb: true})
    expect(un2.json).toMatchObject({removed: false})
  }, 180_000)
})

describe.skipIf(process.platform !== 'linux')('nft source requirements', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netmon-nft-req-'))
  afterAll(() => rmSync(dir, {recursive: true, force: true}))
  const env = (path: string) => ({
    PATH: path,
    HOME: dir,
    XDG_DATA_HOME: join(dir, 'data'),
    XDG_CONFIG_HOME: join(dir, 'config'),
    XDG_CACHE_HOME: join(dir, 'cache'),
  })

  it('without the nft binary: one error naming it (and iptables when that is what is there)', async () => {
    const empty = join(dir, 'empty')
    const ipt = join(dir, 'ipt')
    mkdirSync(empty, {recursive: true})
    mkdirSync(ipt, {recursive: true})
    writeFileSync(join(ipt, 'iptables'), '#!/bin/sh\nexit 0\n')
    chmodSync(join(ipt, 'iptables'), 0o755)
    const a = await runCli(['collect', 'nft', '--status'], {noDb: true, env: env(empty)})
    expect(a.code).toBe(1)
    expect(a.stderr.trim().split('\n')).toHaveLength(1)
    expect(a.stderr).toContain('nft not found; install nftables')
    const b = await runCli(['bandwidth', 'sample', '--from', 'nft', '--lan', LAN4, '--json'], {db: join(dir, 'x.db'), env: env(ipt)})
    expect(b.code).toBe(1)
    expect(b.json.error.message).toBe('nft not found (iptables is installed, but the nft source needs nftables); install nftables')
  })

  it('bad flags exit 2 before anything runs', async () => {
    const a = await runCli(['bandwidth', 'sample', '--from', 'nft', '--lan', '10.77.11.0/33'], {db: join(dir, 'y.db'), env: env(join(dir, 'empty'))})
    expect(a.code).toBe(2)
    expect(a.stderr).toContain('--lan "10.77.11.0/33" is not a CIDR prefix')
    const b = await runCli(['bandwidth', 'sample', '--from', 'iface', '--lan', LAN4], {db: join(dir, 'y.db')})
    expect(b.code).toBe(2)
    expect(b.stderr).toContain('--lan only applies to --from nft')
    const c = await runCli(['collect', 'nft'], {noDb: true})
    expect(c.code).toBe(2)
    expect(c.stderr).toContain('give --install, --uninstall or --status')
  })

  it.skipIf(NETNS_SKIP)('without root: one error naming CAP_NET_ADMIN', async () => {
    const r = spawnSyncText(
      [
        'setpriv',
        '--reuid',
        '65534',
        '--regid',
        '65534',
        '--clear-groups',
        process.execPath,
        join(import.meta.dirname, '..', '..', '..', 'bin', 'run.js'),
        'collect',
        'nft',
        '--status',
      ],
      env(process.env.PATH ?? ''),
    )
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('nft source needs root (CAP_NET_ADMIN)')
  })
})

function spawnSyncText(argv: string[], env: Record<string, string>): {code: number; stderr: string} {
  try {
    execFileSync(argv[0]!, argv.slice(1), {encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe']})
    return {code: 0, stderr: ''}
  } catch (e) {
    const x = e as {status: number; stderr: string}
    return {code: x.status, stderr: x.stderr}
  }
}

describe.skipIf(NETNS_SKIP)('nft source: an address handed to another MAC', () => {
  const NS = `${TAG}-m`
  afterAll(() => quiet(['ip', 'netns', 'del', NS]))

  it('does not carry its counter to the new owner (the element is removed, the old owner resets)', async () => {
    const {nftSource} = await import('../../../src/core/collect/nft.js')
    quiet(['ip', 'netns', 'del', NS])
    sh(['ip', 'netns', 'add', NS])
    sh(['ip', '-n', NS, 'link', 'add', 'br0', 'type', 'bridge'])
    sh(['ip', '-n', NS, 'link', 'set', 'br0', 'up'])
    const [A, B] = [testMac(0x1150), testMac(0x1151)]
    const neigh = (mac: string) => sh(['ip', '-n', NS, 'neigh', 'replace', '10.77.11.50', 'lladdr', mac, 'dev', 'br0', 'nud', 'permanent'])
    neigh(A)
    const src = nftSource({lan: [LAN4], netns: NS})
    const read = async () => (await src.read(AbortSignal.timeout(20_000))).map(r => [r.key, r.counters.bytesSent])
    // The first read installs the table (seeding 10.77.11.50 with zero counters).
    expect(await read()).toEqual([[{mac: A.toUpperCase()}, 0n]])
    inNs(NS, ['nft', 'flush', 'set', 'inet', 'netmon', 'tx4'])
    inNs(NS, ['nft', 'add', 'element', 'inet', 'netmon', 'tx4', '{ 10.77.11.50 counter packets 3 bytes 3000 }'])
    expect(await read()).toEqual([[{mac: A.toUpperCase()}, 3000n]])
    neigh(B)
    expect(await read()).toEqual([])
    expect(inNs(NS, ['nft', 'list', 'set', 'inet', 'netmon', 'tx4'])).not.toContain('10.77.11.50')
    inNs(NS, ['nft', 'add', 'element', 'inet', 'netmon', 'tx4', '{ 10.77.11.50 counter packets 1 bytes 100 }'])
    expect(await read()).toEqual([[{mac: B.toUpperCase()}, 100n]])

    // The CLI's repeat runs through the same runner: one NDJSON object per reading.
    const t = tempStore('netmon-nft-every-')
    try {
      const r = await runCli(['bandwidth', 'sample', '--from', 'nft', '--lan', LAN4, '--every', '300ms', '--count', '2', '--json'], {db: t.db, netns: NS})
      expect(r.code, r.stderr).toBe(0)
      const lines = r.stdout
        .trim()
        .split('\n')
        .map(l => JSON.parse(l))
      expect(lines.map(l => l.counter_outcomes)).toEqual([{baseline: 1}, {delta: 1}])
      expect(lines[0].hosts).toEqual([expect.objectContaining({key: B.toUpperCase(), counter_id: 'nft:10.77.11.50', counter_sent: '100'})])
    } finally {
      t.cleanup()
    }
  })
})

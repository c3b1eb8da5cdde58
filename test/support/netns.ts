/**
 * A throw-away test LAN made of Linux network namespaces (shared by the scan and latency tests,
 * and usable from benchmarks through the compiled copy or by importing the .ts from vitest).
 *
 *   root namespace ── bridge (gateway IP, e.g. 10.77.0.1/24) ──┬── veth ── netns host 1 (eth0, own MAC/IP)
 *                                                               ├── veth ── netns host 2
 *                                                               └── …
 *
 * The CLI under test runs in the root namespace and reaches every host through the bridge, so
 * ARP, the kernel neighbor table, TCP and ICMP all behave as on a real Ethernet segment.
 * `createIsolatedNs()` is the other shape: one namespace with only its own loopback, to run a
 * command whose 127.0.0.1 must carry nothing but the test's listeners (`nsExec` prefix).
 *
 * Safety and hygiene (docs/CONVENTIONS.md, the network-safety rules of every issue):
 * - Names carry the test process id (`nmt<pid36>-…`), so parallel test files never collide, and
 *   leftovers of a dead process (SIGKILLed vitest worker) are removed by the next `createLan`.
 * - Cleanup is guaranteed: `lan.destroy()` (call it in afterAll), plus a process `exit` handler
 *   and SIGINT/SIGTERM handlers that tear down every LAN this process still holds.
 * - One LAN per subnet at a time on the machine: a subnet lock (a directory under /tmp holding
 *   the owner's pid) serialises test files that use the same subnet, because two bridges with
 *   the same prefix in the root namespace would make routing ambiguous.
 * - Skips: `NETNS_SKIP` is a reason string when this machine cannot do it (not root, no `ip
 *   netns`), else null. Use `describe.skipIf(NETNS_SKIP)` and print the reason.
 */
import {execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

const PID36 = process.pid.toString(36)
const PREFIX = 'nmt'

export interface HostSpec {
  /** Address inside the LAN's subnet. */
  ip: string
  /** MAC of the host's interface, `aa:bb:cc:dd:ee:ff` (any case). */
  mac: string
  /** Optional label, for messages only. */
  label?: string
}

export interface LanHost {
  readonly index: number
  readonly label: string
  /** The namespace name: use with `ip netns exec`. */
  readonly ns: string
  /** Root-side veth name (attached to the bridge). */
  readonly vethRoot: string
  readonly mac: string
  ip: string
  removed: boolean
}

export interface Listener {
  port: number
  /** Sent to every client right after it connects (for banner grabbing). */
  banner?: string
}

export interface Lan {
  readonly subnet: string
  readonly prefixLen: number
  readonly bridge: string
  /** The root namespace's address on the bridge (what the CLI scans from). */
  readonly gatewayIp: string
  readonly hosts: LanHost[]
  addHost(spec: HostSpec): LanHost
  /** Deletes the namespace (and its veth pair): the host vanishes from the LAN. */
  removeHost(host: LanHost): void
  /** Moves the host to another address (flush + add), like a DHCP renumbering. */
  changeIp(host: LanHost, ip: string): void
  /** Drops every IPv4/IPv6 packet in and out of the host; ARP (not an inet hook) still answers. */
  dropAll(host: LanHost): void
  /** Starts TCP listeners inside the host's namespace; resolves once they all listen. */
  listen(host: LanHost, listeners: (number | Listener)[]): Promise<ChildProcess>
  /** Runs a command inside the host's namespace and returns its stdout. */
  exec(host: LanHost, argv: string[]): string
  destroy(): void
}

function sh(argv: string[], input?: string): string {
  return execFileSync(argv[0]!, argv.slice(1), {encoding: 'utf8', input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe']})
}

function quiet(argv: string[]): void {
  try {
    sh(argv)
  } catch {
    /* best effort (cleanup) */
  }
}

function computeSkipReason(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux'
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'network namespaces need root (run the tests as root)'
  try {
    sh(['ip', 'netns', 'list'])
  } catch {
    return '`ip netns` is unavailable (install iproute2)'
  }
  return null
}

/** Why netns tests cannot run here, or null when they can. */
export const NETNS_SKIP: string | null = computeSkipReason()

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Removes namespaces and links left by test processes that died without cleaning up. */
function reapOrphans(prefix = PREFIX): void {
  const re = new RegExp(`^${prefix}([0-9a-z]+)-`)
  let namespaces: string[] = []
  try {
    namespaces = sh(['ip', 'netns', 'list'])
      .split('\n')
      .map(l => l.split(' ')[0]!)
      .filter(Boolean)
  } catch {
    return
  }
  for (const ns of namespaces) {
    const m = re.exec(ns)
    if (m && !pidAlive(parseInt(m[1]!, 36))) killAndDeleteNs(ns)
  }
  let links: {ifname: string}[] = []
  try {
    links = JSON.parse(sh(['ip', '-j', 'link', 'show']))
  } catch {
    return
  }
  for (const l of links) {
    const m = re.exec(l.ifname)
    if (m && !pidAlive(parseInt(m[1]!, 36))) quiet(['ip', 'link', 'del', l.ifname])
  }
}

function killAndDeleteNs(ns: string): void {
  try {
    const pids = sh(['ip', 'netns', 'pids', ns]).split('\n').filter(Boolean)
    for (const p of pids) {
      try {
        process.kill(Number(p), 'SIGKILL')
      } catch {
        /* gone */
      }
    }
  } catch {
    /* namespace already gone */
  }
  quiet(['ip', 'netns', 'del', ns])
}

// ---------------------------------------------------------------- subnet lock

const LOCK_ROOT = join(tmpdir(), 'netmon-netns-locks')

function lockPath(subnet: string): string {
  return join(LOCK_ROOT, subnet.replace(/[/:]/g, '_'))
}

function tryLock(subnet: string): boolean {
  mkdirSync(LOCK_ROOT, {recursive: true})
  const dir = lockPath(subnet)
  try {
    mkdirSync(dir)
    writeFileSync(join(dir, 'pid'), String(process.pid))
    return true
  } catch {
    let owner = 0
    try {
      owner = Number(readFileSync(join(dir, 'pid'), 'utf8'))
    } catch {
      // being created right now by someone else, or half-written by a dead process: judge by age below
    }
    if (owner === process.pid) return false
    if (owner && !pidAlive(owner)) {
      rmSync(dir, {recursive: true, force: true})
      return tryLock(subnet)
    }
    return false
  }
}

function unlock(subnet: string): void {
  const dir = lockPath(subnet)
  try {
    if (Number(readFileSync(join(dir, 'pid'), 'utf8')) === process.pid) rmSync(dir, {recursive: true, force: true})
  } catch {
    /* not ours */
  }
}

async function acquireSubnet(subnet: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!tryLock(subnet)) {
    if (Date.now() > deadline) throw new Error(`netns test LAN: subnet ${subnet} stayed in use by another test process for ${timeoutMs} ms`)
    await new Promise(r => setTimeout(r, 100))
  }
}

// ---------------------------------------------------------------- registry + exit handlers

const live = new Set<{destroy(): void}>()
let handlersInstalled = false

function installHandlers(): void {
  if (handlersInstalled) return
  handlersInstalled = true
  process.on('exit', () => {
    for (const lan of [...live]) lan.destroy()
  })
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const lan of [...live]) lan.destroy()
      process.kill(process.pid, sig)
    })
  }
}

let lanCounter = 0

export interface LanOptions {
  /** IPv4 CIDR, e.g. `10.77.0.0/24`. */
  subnet: string
  /** Root namespace address on the bridge; default: the subnet's first host address. */
  gatewayIp?: string
  /** How long to wait for another process using the same subnet (default 120 s). */
  lockTimeoutMs?: number
  /** Name prefix of the namespaces and links (2–5 lowercase letters; default `nmt`), e.g. a helper's own. */
  prefix?: string
}

function firstHost(subnet: string): string {
  const [base] = subnet.split('/')
  const o = base!.split('.').map(Number)
  o[3] = o[3]! + 1
  return o.join('.')
}

/** Creates the bridge (with the gateway address) in the root namespace. Hosts are added after. */
export async function createLan(opts: LanOptions): Promise<Lan> {
  if (NETNS_SKIP) throw new Error(`netns test LAN unavailable: ${NETNS_SKIP}`)
  const [, lenText] = opts.subnet.split('/')
  const prefixLen = Number(lenText)
  if (!(prefixLen >= 8 && prefixLen <= 30)) throw new Error(`netns test LAN: bad subnet ${opts.subnet}`)
  const prefix = opts.prefix ?? PREFIX
  // Link names have at most 15 characters: prefix + pid (≤ 5) + '-' + LAN counter + 'br' / 'v' + host index
  // (checked again per link below, for a long prefix with many hosts).
  if (!/^[a-z]{2,5}$/.test(prefix)) throw new Error(`netns test LAN: prefix "${prefix}" must be 2-5 lowercase letters (interface names have 15 characters)`)
  installHandlers()
  reapOrphans()
  if (prefix !== PREFIX) reapOrphans(prefix)
  await acquireSubnet(opts.subnet, opts.lockTimeoutMs ?? 120_000)

  const tag = `${prefix}${PID36}-${(lanCounter++).toString(36)}`
  const bridge = `${tag}br` // ≤ 15 chars: nmt + ≤5 + - + 1–2 + br
  const gatewayIp = opts.gatewayIp ?? firstHost(opts.subnet)
  const hosts: LanHost[] = []
  const children = new Set<ChildProcess>()
  let destroyed = false

  const lan: Lan = {
    subnet: opts.subnet,
    prefixLen,
    bridge,
    gatewayIp,
    hosts,

    addHost(spec) {
      const index = hosts.length
      const ns = `${tag}h${index}-${process.pid}`
      const vethRoot = `${tag}v${index}`
      const vethPeer = `${tag}p${index}`
      if (vethRoot.length > 15) throw new Error(`netns test LAN: link name ${vethRoot} is longer than 15 characters (use a shorter prefix or fewer hosts)`)
      const host: LanHost = {index, label: spec.label ?? `h${index}`, ns, vethRoot, mac: spec.mac.toLowerCase(), ip: spec.ip, removed: false}
      hosts.push(host)
      sh(['ip', 'netns', 'add', ns])
      sh(['ip', 'link', 'add', vethRoot, 'type', 'veth', 'peer', 'name', vethPeer])
      sh(['ip', 'link', 'set', vethPeer, 'netns', ns])
      sh(['ip', 'link', 'set', vethRoot, 'master', bridge])
      sh(['ip', 'link', 'set', vethRoot, 'up'])
      // Inside: eth0 with the chosen MAC, no IPv6 chatter (router solicitations, DAD) on the test LAN.
      quiet(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1'])
      sh(['ip', '-n', ns, 'link', 'set', vethPeer, 'name', 'eth0'])
      sh(['ip', '-n', ns, 'link', 'set', 'eth0', 'address', host.mac])
      sh(['ip', '-n', ns, 'addr', 'add', `${spec.ip}/${prefixLen}`, 'dev', 'eth0'])
      sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up'])
      sh(['ip', '-n', ns, 'link', 'set', 'eth0', 'up'])
      sh(['ip', '-n', ns, 'route', 'add', 'default', 'via', gatewayIp])
      return host
    },

    removeHost(host) {
      if (host.removed) return
      host.removed = true
      killAndDeleteNs(host.ns)
      quiet(['ip', 'link', 'del', host.vethRoot])
    },

    changeIp(host, ip) {
      sh(['ip', '-n', host.ns, 'addr', 'flush', 'dev', 'eth0'])
      sh(['ip', '-n', host.ns, 'addr', 'add', `${ip}/${prefixLen}`, 'dev', 'eth0'])
      sh(['ip', '-n', host.ns, 'route', 'replace', 'default', 'via', gatewayIp])
      host.ip = ip
    },

    dropAll(host) {
      const rules = `table inet netmon_test_drop {
  chain in { type filter hook input priority 0; policy drop; }
  chain out { type filter hook output priority 0; policy drop; }
}
`
      try {
        sh(['ip', 'netns', 'exec', host.ns, 'nft', '-f', '-'], rules)
      } catch {
        // No nftables: the iptables front end (legacy or nf_tables) does the same per family.
        sh(['ip', 'netns', 'exec', host.ns, 'iptables', '-P', 'INPUT', 'DROP'])
        sh(['ip', 'netns', 'exec', host.ns, 'iptables', '-P', 'OUTPUT', 'DROP'])
      }
    },

    listen(host, listeners) {
      return startListeners(host.ns, listeners, '0.0.0.0', children)
    },

    exec(host, argv) {
      return sh(['ip', 'netns', 'exec', host.ns, ...argv])
    },

    destroy() {
      if (destroyed) return
      destroyed = true
      live.delete(lan)
      for (const c of children) {
        try {
          c.kill('SIGKILL')
        } catch {
          /* gone */
        }
      }
      for (const h of hosts) lan.removeHost(h)
      quiet(['ip', 'link', 'del', bridge])
      unlock(opts.subnet)
    },
  }

  live.add(lan)
  try {
    sh(['ip', 'link', 'add', bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0'])
    sh(['ip', 'addr', 'add', `${gatewayIp}/${prefixLen}`, 'dev', bridge])
    sh(['ip', 'link', 'set', bridge, 'up'])
  } catch (e) {
    lan.destroy()
    throw e
  }
  return lan
}

export interface IsolatedNs {
  /** The namespace name: `ip netns exec NS …`. */
  readonly ns: string
  /** Starts TCP listeners on the namespace's own loopback; resolves once they listen. */
  listen(listeners: (number | Listener)[]): Promise<ChildProcess>
  /** argv prefix that runs a command inside the namespace: [...nsExec, 'node', 'x.js']. */
  readonly nsExec: string[]
  destroy(): void
}

/**
 * A namespace with nothing but its own loopback (no bridge, no subnet, no lock): for tests
 * that must know every listening socket, e.g. a full port scan of 127.0.0.1 that other
 * processes on the machine would otherwise disturb.
 */
export function createIsolatedNs(): IsolatedNs {
  if (NETNS_SKIP) throw new Error(`netns unavailable: ${NETNS_SKIP}`)
  installHandlers()
  reapOrphans()
  const ns = `${PREFIX}${PID36}-${(lanCounter++).toString(36)}solo`
  sh(['ip', 'netns', 'add', ns])
  sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up'])
  const children = new Set<ChildProcess>()
  let destroyed = false
  const iso: IsolatedNs = {
    ns,
    nsExec: ['ip', 'netns', 'exec', ns],
    listen(listeners) {
      return startListeners(ns, listeners, '127.0.0.1', children)
    },
    destroy() {
      if (destroyed) return
      destroyed = true
      live.delete(iso)
      for (const c of children) {
        try {
          c.kill('SIGKILL')
        } catch {
          /* gone */
        }
      }
      killAndDeleteNs(ns)
    },
  }
  live.add(iso)
  return iso
}

function startListeners(ns: string, listeners: (number | Listener)[], bind: string, children: Set<ChildProcess>): Promise<ChildProcess> {
  const specs: Listener[] = listeners.map(l => (typeof l === 'number' ? {port: l} : l))
  const script = `
const net = require('node:net');
const specs = ${JSON.stringify(specs)};
let pending = specs.length;
for (const s of specs) {
  const srv = net.createServer((c) => { c.on('error', () => {}); if (s.banner) c.write(s.banner); });
  srv.on('error', (e) => { console.error('listen ' + s.port + ': ' + e.message); process.exit(1); });
  srv.listen(s.port, ${JSON.stringify(bind)}, () => { if (--pending === 0) console.log('ready'); });
}
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
`
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], {stdio: ['pipe', 'pipe', 'pipe']})
  children.add(child)
  child.on('exit', () => children.delete(child))
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    const timer = setTimeout(() => reject(new Error(`listeners in ${ns} did not start: ${err}`)), 10_000)
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d
      if (out.includes('ready')) {
        clearTimeout(timer)
        resolve(child)
      }
    })
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d))
    child.on('exit', code => {
      clearTimeout(timer)
      reject(new Error(`listeners in ${ns} exited (${code}): ${err}`))
    })
  })
}

/** A MAC in the locally administered range for tests: `02:4e:4d:xx:yy:zz` ('NM'). */
export function testMac(n: number, universal = false): string {
  const first = universal ? '00' : '02'
  const hex = n.toString(16).padStart(6, '0')
  return `${first}:4e:4d:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`
}

/** True when `ip netns` shows no namespace of this process (for a cleanup assertion); `prefix` as given to createLan. */
export function noLeftovers(prefix = PREFIX): boolean {
  try {
    return !sh(['ip', 'netns', 'list']).includes(`${prefix}${PID36}-`)
  } catch {
    return true
  }
}

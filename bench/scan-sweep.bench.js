// Scan benchmark 1 (issue 5): host discovery over a /24 with 5 live hosts, against nmap.
//   netmon scan 10.79.2.0/24 --no-rdns --json   (the built CLI, whole process: start-up, probing, store write)
//   nmap -sn -n 10.79.2.0/24 -oG -              (as root on a LAN: ARP ping)
// Interleaved rounds after one warm-up of each. Goal: wall time ≤ 1.0× nmap's, the same hosts found.
// The LAN is network namespaces on a bridge in 10.79.2.0/24 created here (one host drops all IP
// traffic, ARP only) and removed at the end, also on SIGINT/SIGTERM and errors. Needs root.
import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {ensureCommand, interleavedComparison, machine, median, timeRun} from './lib.js'

const root = process.cwd()
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const SUBNET = '10.79.2.0/24'
const tag = `nms${process.pid.toString(36)}`
const bridge = `${tag}br`
const HOSTS = [10, 11, 12, 13, 14].map((n, i) => ({
  ip: `10.79.2.${n}`,
  mac: `02:4e:4d:79:02:${n.toString(16).padStart(2, '0')}`,
  ns: `${tag}h${n}`,
  veth: `${tag}v${n}`,
  peer: `${tag}p${n}`,
  silent: i === 4,
}))
const sh = (argv, input) => execFileSync(argv[0], argv.slice(1), {stdio: ['pipe', 'pipe', 'pipe'], encoding: 'utf8', input})
const quiet = argv => {
  try {
    sh(argv)
  } catch {
    /* cleanup is best effort */
  }
}

function setup() {
  sh(['ip', 'link', 'add', bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0'])
  sh(['ip', 'addr', 'add', '10.79.2.1/24', 'dev', bridge])
  sh(['ip', 'link', 'set', bridge, 'up'])
  for (const h of HOSTS) {
    sh(['ip', 'netns', 'add', h.ns])
    sh(['ip', 'link', 'add', h.veth, 'type', 'veth', 'peer', 'name', h.peer])
    sh(['ip', 'link', 'set', h.peer, 'netns', h.ns])
    sh(['ip', 'link', 'set', h.veth, 'master', bridge])
    sh(['ip', 'link', 'set', h.veth, 'up'])
    quiet(['ip', 'netns', 'exec', h.ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1'])
    sh(['ip', '-n', h.ns, 'link', 'set', h.peer, 'name', 'eth0'])
    sh(['ip', '-n', h.ns, 'link', 'set', 'eth0', 'address', h.mac])
    sh(['ip', '-n', h.ns, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0'])
    sh(['ip', '-n', h.ns, 'link', 'set', 'lo', 'up'])
    sh(['ip', '-n', h.ns, 'link', 'set', 'eth0', 'up'])
    if (h.silent) {
      sh(
        ['ip', 'netns', 'exec', h.ns, 'nft', '-f', '-'],
        'table inet netmon_bench_silent {\n chain i { type filter hook input priority 0; policy drop; }\n chain o { type filter hook output priority 0; policy drop; }\n}\n',
      )
    }
  }
}

let cleaned = false
function cleanup() {
  if (cleaned) return
  cleaned = true
  for (const h of HOSTS) {
    quiet(['ip', 'netns', 'del', h.ns])
    quiet(['ip', 'link', 'del', h.veth])
  }
  quiet(['ip', 'link', 'del', bridge])
}
process.on('exit', cleanup)
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => (cleanup(), process.exit(130)))

const result = {
  name: 'scan-sweep',
  title: 'Scan: /24 host discovery vs nmap -sn',
  machine: machine(),
  command: `netmon scan ${SUBNET} --no-rdns --json  vs  nmap -sn -n ${SUBNET}`,
  results: [],
  notes: '',
}

function main() {
  if (process.getuid?.() !== 0) {
    result.notes = 'needs root (network namespaces); not measured'
    result.results.push({metric: '/24 sweep wall time', pass: false, goal: '≤ 1.0× nmap -sn'})
    return
  }
  if (!ensureCommand('nmap')) {
    result.notes = 'nmap could not be installed; not measured'
    result.results.push({metric: '/24 sweep wall time', pass: false, goal: '≤ 1.0× nmap -sn'})
    return
  }
  setup()
  const dir = mkdtempSync(join(tmpdir(), 'netmon-bench-scan-'))
  const db = join(dir, 'netmon.db')
  const env = {...process.env, NETMON_NO_PROGRESS: '1'}
  const netmon = () => {
    const r = timeRun(process.execPath, ['bin/run.js', 'scan', SUBNET, '--no-rdns', '--json', '--db', db], {cwd: root, env})
    return {
      ms: r.ms,
      hosts: JSON.parse(r.stdout)
        .hosts.map(h => h.ip)
        .sort(),
    }
  }
  const nmap = () => {
    const r = timeRun('nmap', ['-sn', '-n', SUBNET, '-oG', '-'])
    const hosts = [...r.stdout.matchAll(/^Host: (\S+) .*Status: Up/gm)].map(m => m[1]).sort()
    return {ms: r.ms, hosts}
  }
  try {
    // The warm-up round creates the store and fills ARP caches the way a real LAN has them.
    const {n, p, same, detail, ratio} = interleavedComparison({
      rounds: ROUNDS,
      runNetmon: () => {
        const r = netmon()
        return {ms: r.ms, set: r.hosts}
      },
      runPeer: () => {
        const r = nmap()
        return {ms: r.ms, set: r.hosts}
      },
      describe: s => `${s.length} hosts: ${s.join(' ')}`,
    })
    result.results.push({
      metric: '/24 sweep wall time (median)',
      netmon: Math.round(median(n)),
      peer: Math.round(median(p)),
      peer_name: 'nmap -sn',
      ratio: Math.round(ratio * 1000) / 1000,
      goal: '≤ 1.0× and the same hosts',
      unit: 'ms',
      pass: ratio <= 1.0 && same,
      command: `netmon scan ${SUBNET} --no-rdns --json`,
    })
    result.results.push({
      metric: 'same hosts found (every round)',
      netmon: same ? 1 : 0,
      peer: 1,
      peer_name: 'nmap -sn',
      goal: 'identical sets',
      unit: 'bool',
      pass: same,
    })
    result.notes = `${ROUNDS} interleaved rounds; netmon times include process start-up and the store write. ${detail}. All rounds netmon ms: ${n.map(Math.round).join(', ')}; nmap ms: ${p.map(Math.round).join(', ')}.`
  } finally {
    rmSync(dir, {recursive: true, force: true})
    cleanup()
  }
}

try {
  main()
} catch (e) {
  result.notes = `failed: ${e.message}`
}
console.log(JSON.stringify(result))

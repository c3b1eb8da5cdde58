// Scan benchmark 2 (issue 5): a full TCP connect port scan of 127.0.0.1 with a few known listeners.
//   netmon scan 127.0.0.1 --ports all --no-rdns --json   (the built CLI, whole process)
//   nmap -sT -p- -T4 -n 127.0.0.1 -oG -
// Both run inside a network namespace of their own (as root), whose loopback carries only this
// benchmark's listeners, so other processes' sockets cannot make the open-port sets differ or
// the timings wobble. Without root both run on the shared loopback and the sets are compared as
// found. Interleaved rounds after one warm-up of each. Goal: wall time ≤ 1.0× nmap's, same open ports.
import {execFileSync, spawn} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {ensureCommand, interleavedComparison, machine, median, timeRun} from './lib.js'

const root = process.cwd()
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const LISTEN = [22, 8080, 31337, 50000]
const ns = `nmp${process.pid.toString(36)}`
const isRoot = process.getuid?.() === 0
const sh = argv => execFileSync(argv[0], argv.slice(1), {stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8'})
let listener = null
let cleaned = false
function cleanup() {
  if (cleaned) return
  cleaned = true
  try {
    listener?.kill('SIGKILL')
  } catch {}
  if (isRoot) {
    try {
      execFileSync('ip', ['netns', 'del', ns], {stdio: 'ignore'})
    } catch {}
  }
}
process.on('exit', cleanup)
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => (cleanup(), process.exit(130)))

const result = {
  name: 'scan-ports',
  title: 'Scan: --ports all on 127.0.0.1 vs nmap -sT -p- -T4',
  machine: machine(),
  command: 'netmon scan 127.0.0.1 --ports all --no-rdns --json  vs  nmap -sT -p- -T4 -n 127.0.0.1',
  results: [],
  notes: '',
}

async function main() {
  if (!ensureCommand('nmap')) {
    result.notes = 'nmap could not be installed; not measured'
    result.results.push({metric: '--ports all wall time', pass: false, goal: '≤ 1.0× nmap -sT -p- -T4'})
    return
  }
  const prefix = isRoot ? ['ip', 'netns', 'exec', ns] : []
  const ports = isRoot ? LISTEN : [40022, 48080, 31337, 50000] // unprivileged: no ports below 1024
  if (isRoot) {
    sh(['ip', 'netns', 'add', ns])
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up'])
  }
  const script = `const net=require('node:net');let n=${ports.length};for(const p of ${JSON.stringify(ports)}){net.createServer(c=>c.destroy()).listen(p,'127.0.0.1',()=>{if(--n===0)console.log('ready')})};process.stdin.resume()`
  listener = spawn(prefix[0] ?? process.execPath, [...prefix.slice(1), ...(prefix.length ? [process.execPath] : []), '-e', script], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  await new Promise((resolve, reject) => {
    listener.stdout.on('data', d => String(d).includes('ready') && resolve())
    listener.on('exit', c => reject(new Error(`listeners exited ${c}`)))
  })
  const dir = mkdtempSync(join(tmpdir(), 'netmon-bench-ports-'))
  const db = join(dir, 'netmon.db')
  const env = {...process.env, NETMON_NO_PROGRESS: '1'}
  const run = argv => timeRun(prefix[0] ?? argv[0], [...prefix.slice(1), ...(prefix.length ? argv : argv.slice(1))], {cwd: root, env})
  const netmon = () => {
    const r = run([process.execPath, join(root, 'bin/run.js'), 'scan', '127.0.0.1', '--ports', 'all', '--no-rdns', '--json', '--db', db])
    return {ms: r.ms, open: JSON.parse(r.stdout).hosts[0].ports.map(p => p.port)}
  }
  const nmap = () => {
    const r = run(['nmap', '-sT', '-p-', '-T4', '-n', '127.0.0.1', '-oG', '-'])
    const line = r.stdout.split('\n').find(l => l.includes('Ports:')) ?? ''
    const open = [...line.matchAll(/(\d+)\/open\/tcp/g)].map(m => Number(m[1])).sort((a, b) => a - b)
    return {ms: r.ms, open}
  }
  try {
    const {n, p, same, detail, ratio} = interleavedComparison({
      rounds: ROUNDS,
      runNetmon: () => {
        const r = netmon()
        return {ms: r.ms, set: r.open}
      },
      runPeer: () => {
        const r = nmap()
        return {ms: r.ms, set: r.open}
      },
      describe: s => `open ports ${s.join(',')}`,
    })
    result.results.push({
      metric: '--ports all on 127.0.0.1, wall time (median)',
      netmon: Math.round(median(n)),
      peer: Math.round(median(p)),
      peer_name: 'nmap -sT -p- -T4',
      ratio: Math.round(ratio * 1000) / 1000,
      goal: '≤ 1.0× and the same open ports',
      unit: 'ms',
      pass: ratio <= 1.0 && same,
      command: 'netmon scan 127.0.0.1 --ports all --no-rdns --json',
    })
    result.results.push({
      metric: 'same open ports (every round)',
      netmon: same ? 1 : 0,
      peer: 1,
      peer_name: 'nmap -sT -p- -T4',
      goal: 'identical sets',
      unit: 'bool',
      pass: same,
    })
    result.notes = `${ROUNDS} interleaved rounds${isRoot ? ' inside a private network namespace (its loopback carries only the benchmark listeners)' : ' on the shared loopback (not root)'}; netmon times include process start-up and the store write. ${detail}. netmon ms: ${n.map(Math.round).join(', ')}; nmap ms: ${p.map(Math.round).join(', ')}.`
  } finally {
    rmSync(dir, {recursive: true, force: true})
    cleanup()
  }
}

try {
  await main()
} catch (e) {
  result.notes = `failed: ${e.message}`
}
console.log(JSON.stringify(result))
process.exit(0)

// Agent at idle (issue 14): `netmon agent run` hosting a collector (loopback `lo`, every 10 s), a
// scan (every 5 min) and a latency job (TCP, 5 probes every 30 s) against two netns hosts on
// 10.77.13.0/24 (loopback targets when not root). After a warm-up (every job ran once), the agent
// process's RSS (goal ≤ 80 MB) and CPU % of one core over BENCH_SECONDS (default 60; goal ≤ 1 %)
// are read from /proc. The peer, measured in the same run over the same window: an idle Node
// process (`node -e "setInterval(() => {}, 1000)"`), the floor any Node daemon starts from
// (vnstatd, the usual interface-counting daemon, is not installed here).
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {machine, median, bridgeLan} from './lib.js'

const root = process.cwd()
const BIN = join(root, 'bin/run.js')
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60)
const tmp = mkdtempSync(join(tmpdir(), 'netmon-agent-bench-'))
const db = join(tmp, 'bench.db')
const cfg = join(tmp, 'agent.yaml')
const sleep = ms => new Promise(r => setTimeout(r, ms))
const log = s => process.stderr.write(`[agent-idle] ${s}\n`)
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).stdout.trim() || 100)

// ---------- netns LAN (root only), loopback otherwise ----------
const isRoot = process.getuid?.() === 0
const tag = `nmA${process.pid.toString(36)}`
const bridge = `${tag}br`
const HOSTS = [21, 22].map(n => ({ip: `10.77.13.${n}`, ns: `${tag}h${n}`, veth: `${tag}v${n}`, peer: `${tag}p${n}`}))
const sh = (...argv) => execFileSync(argv[0], argv.slice(1), {stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8'})
const quiet = (...argv) => {
  try {
    sh(...argv)
  } catch {
    /* cleanup is best effort */
  }
}
const listeners = []
function setupLan() {
  bridgeLan(sh, bridge, '10.77.13.1/24', HOSTS)
  for (const h of HOSTS) {
    // A TCP listener on port 7 for the latency probes (and the scan's connects).
    listeners.push(spawn('ip', ['netns', 'exec', h.ns, process.execPath, '-e', "require('net').createServer(s => s.destroy()).listen(7)"], {stdio: 'ignore'}))
  }
}
let cleaned = false
function cleanup() {
  if (cleaned) return
  cleaned = true
  for (const l of listeners) l.kill('SIGKILL')
  if (!isRoot) return
  for (const h of HOSTS) {
    quiet('ip', 'netns', 'del', h.ns)
    quiet('ip', 'link', 'del', h.veth)
  }
  quiet('ip', 'link', 'del', bridge)
}
process.on('exit', cleanup)
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => (cleanup(), process.exit(130)))

// ---------- measuring ----------
function cpuTicks(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ')
  return Number(rest[11]) + Number(rest[12]) // utime + stime
}
const rssMb = pid => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024

function status() {
  const r = spawnSync(process.execPath, [BIN, 'agent', 'status', '--json', '--db', db], {encoding: 'utf8'})
  return JSON.parse(r.stdout)
}

async function main() {
  const targets = isRoot ? HOSTS.map(h => h.ip) : ['127.0.0.1']
  if (isRoot) setupLan()
  else log('not root: scan and latency target 127.0.0.1 instead of a netns LAN')
  await sleep(500)
  writeFileSync(
    cfg,
    JSON.stringify({
      heartbeat: '5s',
      jobs: [
        {name: 'lo-bytes', kind: 'collector', every: '10s', sources: [{type: 'interfaces', names: ['lo']}]},
        {name: 'lan-scan', kind: 'scan', every: '5m', targets, methods: ['tcp'], rdns: false, conflict_check: false, arp_wait: '0s'},
        {name: 'rtt', kind: 'latency', every: '30s', targets, method: 'tcp', port: 7, count: 5, interval: '200ms'},
      ],
    }),
  )
  const agent = spawn(process.execPath, [BIN, 'agent', 'run', '--config', cfg, '--db', db], {
    cwd: root,
    env: {...process.env, NETMON_NO_PROGRESS: '1'},
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let err = ''
  agent.stderr.on('data', d => (err += d))
  const peer = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {stdio: 'ignore'})
  try {
    // Warm-up: every job ran once, then a few quiet seconds.
    const deadline = Date.now() + 60_000
    for (;;) {
      const s = status()
      const runs = Object.fromEntries((s.jobs ?? []).map(j => [j.name, j.runs]))
      if (runs['lo-bytes'] >= 2 && runs['lan-scan'] >= 1 && runs.rtt >= 1) break
      if (Date.now() > deadline) throw new Error(`agent did not warm up: ${JSON.stringify(runs)}\n${err}`)
      await sleep(1000)
    }
    await sleep(5000)
    const before = Object.fromEntries(status().jobs.map(j => [j.name, j.runs]))
    const t0 = Date.now()
    const a0 = cpuTicks(agent.pid)
    const p0 = cpuTicks(peer.pid)
    const rssA = []
    const rssP = []
    while (Date.now() - t0 < SECONDS * 1000) {
      rssA.push(rssMb(agent.pid))
      rssP.push(rssMb(peer.pid))
      await sleep(1000)
    }
    const secs = (Date.now() - t0) / 1000
    const cpuA = ((cpuTicks(agent.pid) - a0) / CLK_TCK / secs) * 100
    const cpuP = ((cpuTicks(peer.pid) - p0) / CLK_TCK / secs) * 100
    const after = status()
    const ran = Object.fromEntries(after.jobs.map(j => [j.name, j.runs - (before[j.name] ?? 0)]))
    const failures = after.jobs.reduce((n, j) => n + j.failures, 0)
    const maxA = Math.max(...rssA)
    const medA = median(rssA)
    const medP = median(rssP)
    agent.kill('SIGTERM')
    await new Promise(r => agent.once('exit', r))
    const r1 = x => Math.round(x * 10) / 10
    const r2 = x => Math.round(x * 100) / 100
    return {
      name: 'agent-idle',
      machine: machine(),
      results: [
        {
          metric: 'agent idle RSS (collector + scan + latency jobs), median over the window',
          netmon: r1(medA),
          peer: r1(medP),
          peer_name: 'idle node -e setInterval',
          unit: 'MB',
          ratio: r2(medA / medP),
          goal: '≤ 80 MB',
          pass: medA <= 80,
          command: 'netmon agent run --config agent.yaml; /proc/PID/status VmRSS every 1 s',
        },
        {
          metric: `agent CPU at idle over ${Math.round(secs)} s (% of one core)`,
          netmon: r2(cpuA),
          peer: r2(cpuP),
          peer_name: 'idle node -e setInterval',
          unit: '%',
          ratio: cpuP > 0 ? r2(cpuA / cpuP) : null,
          goal: '≤ 1 %',
          pass: cpuA <= 1,
          command: 'same run, /proc/PID/stat utime+stime',
        },
      ],
      notes: `Jobs: collector (lo, every 10 s), scan (${targets.join(', ')}, TCP, every 5 min), latency (TCP :7, 5 probes every 30 s) against ${isRoot ? 'two netns hosts on 10.77.13.0/24' : 'loopback'}; one status row write per run plus a heartbeat every 5 s. RSS peak in the window ${r1(maxA)} MB (while a scan/latency run is active). Runs in the window: ${Object.entries(
        ran,
      )
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}; job failures ${failures}. Peer: an idle Node process in the same window (vnstatd is not installed; the floor of any Node daemon).`,
    }
  } finally {
    if (agent.exitCode === null) agent.kill('SIGKILL')
    peer.kill('SIGKILL')
  }
}

try {
  const r = await main()
  process.stdout.write(JSON.stringify(r) + '\n')
} catch (e) {
  process.stderr.write(`agent-idle failed: ${e.stack ?? e}\n`)
  process.exitCode = 1
} finally {
  cleanup()
  await sleep(200)
  rmSync(tmp, {recursive: true, force: true})
}

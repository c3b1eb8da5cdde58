// Small helpers shared by the benchmark scripts (plain ESM, no dependencies).
import {spawn, spawnSync} from 'node:child_process'
import {cpus, totalmem, release} from 'node:os'

export function machine() {
  const c = cpus()
  return `${c.length} × ${c[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}`
}

export const median = xs => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
export const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]
}

/** Wall time (ms) and peak RSS (KiB, via /usr/bin/time when present) of one process run. */
export function timeRun(cmd, args, opts = {}) {
  const t0 = process.hrtime.bigint()
  const r = spawnSync(cmd, args, {encoding: 'utf8', ...opts})
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`)
  return {ms, stdout: r.stdout, stderr: r.stderr, status: r.status}
}

/** Runs a process and samples its RSS from /proc every 20 ms; resolves {ms, peakRssMb, code}. */
export function runWithRss(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint()
    const child = spawn(cmd, args, {stdio: [opts.input ? 'pipe' : 'ignore', 'pipe', 'pipe'], ...opts.spawn})
    let peak = 0
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => (stdout += d))
    child.stderr.on('data', d => (stderr += d))
    const timer = setInterval(() => {
      try {
        const status = require_fs().readFileSync(`/proc/${child.pid}/status`, 'utf8')
        const m = /VmRSS:\s+(\d+)/.exec(status)
        if (m) peak = Math.max(peak, Number(m[1]))
      } catch {}
    }, 20)
    if (opts.input) {
      if (typeof opts.input.pipe === 'function') opts.input.pipe(child.stdin)
      else child.stdin.end(opts.input)
    }
    child.on('error', reject)
    child.on('close', code => {
      clearInterval(timer)
      resolve({ms: Number(process.hrtime.bigint() - t0) / 1e6, peakRssMb: peak / 1024, code, stdout, stderr})
    })
  })
}
import * as fs from 'node:fs'
const require_fs = () => fs

/** apt-get install a Debian package when a command is missing (benchmarks only). */
export function ensureCommand(command, pkg = command) {
  if (spawnSync('sh', ['-c', `command -v ${command}`]).status === 0) return true
  spawnSync('sh', ['-c', `(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${pkg}) >/dev/null 2>&1`])
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0
}

/**
 * Runs netmon and its peer one after the other for `rounds` rounds (after one warm-up each), so
 * machine noise hits both alike, and checks that both found the same set every round.
 * `run*()` return {ms, set: string[] | number[]}; `describe(set)` words a round's set for the notes.
 */
export function interleavedComparison({rounds, runNetmon, runPeer, describe}) {
  runNetmon()
  runPeer()
  const n = []
  const p = []
  let same = true
  let detail = ''
  for (let i = 0; i < rounds; i++) {
    const a = runNetmon()
    const b = runPeer()
    n.push(a.ms)
    p.push(b.ms)
    if (a.set.join() !== b.set.join()) {
      same = false
      detail = `round ${i + 1}: netmon ${a.set.join(' ')} | peer ${b.set.join(' ')}`
    } else if (same) detail = describe(a.set)
  }
  return {n, p, same, detail, ratio: median(n) / median(p)}
}

/**
 * A netns LAN for benchmarks: a bridge in this namespace at `gatewayCidr`, and per host a namespace
 * with eth0 (a veth on the bridge) at `h.ip`/24. `sh(...argv)` runs one command.
 */
export function bridgeLan(sh, bridge, gatewayCidr, hosts) {
  sh('ip', 'link', 'add', bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0')
  sh('ip', 'addr', 'add', gatewayCidr, 'dev', bridge)
  sh('ip', 'link', 'set', bridge, 'up')
  for (const h of hosts) {
    sh('ip', 'netns', 'add', h.ns)
    sh('ip', 'link', 'add', h.veth, 'type', 'veth', 'peer', 'name', h.peer)
    sh('ip', 'link', 'set', h.peer, 'netns', h.ns)
    sh('ip', 'link', 'set', h.veth, 'master', bridge)
    sh('ip', 'link', 'set', h.veth, 'up')
    sh('ip', '-n', h.ns, 'link', 'set', h.peer, 'name', 'eth0')
    sh('ip', '-n', h.ns, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0')
    sh('ip', '-n', h.ns, 'link', 'set', 'lo', 'up')
    sh('ip', '-n', h.ns, 'link', 'set', 'eth0', 'up')
  }
}

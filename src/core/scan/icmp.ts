/**
 * ICMP echo through the system's tools (issue 5: "ICMP echo through the system `ping` when
 * present"). Node has no raw sockets, so:
 * - `fping` when installed: one process for a whole batch of hosts (requests made in the same
 *   tick are batched), results streamed line by line as hosts answer;
 * - else iputils `ping`, one process per host, at most 32 at once.
 * Neither present → the method is unavailable and the scan says so.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {accessSync, constants} from 'node:fs'
import {delimiter, join} from 'node:path'
import {pingCommand} from '../latency/icmp.js'
import {parsePingLine} from '../latency/ping-parse.js'

export type IcmpTool = 'fping' | 'ping'

export interface IcmpResult {
  alive: boolean
  rttMs: number | null
}

export function findExecutable(name: string, path = process.env.PATH ?? ''): string | null {
  const dirs = path.split(delimiter).filter(Boolean)
  for (const extra of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) if (!dirs.includes(extra)) dirs.push(extra)
  for (const d of dirs) {
    const p = join(d, name)
    try {
      accessSync(p, constants.X_OK)
      return p
    } catch {
      /* next */
    }
  }
  return null
}

/**
 * fping when installed, else ping. `NETMON_SCAN_ICMP_TOOL=ping|fping` forces one (null when it is
 * missing); `NETMON_PING` names the ping binary, as for `netmon latency`.
 */
export function detectIcmpTool(env: NodeJS.ProcessEnv = process.env): {tool: IcmpTool; path: string} | null {
  const forced = env.NETMON_SCAN_ICMP_TOOL?.trim()
  const ping = (): {tool: IcmpTool; path: string} | null => {
    const cmd = pingCommand(env)
    const path = cmd.includes('/') ? (isExecutable(cmd) ? cmd : null) : findExecutable(cmd, env.PATH ?? '')
    return path ? {tool: 'ping', path} : null
  }
  if (forced === 'ping') return ping()
  const fping = findExecutable('fping', env.PATH ?? '')
  if (fping) return {tool: 'fping', path: fping}
  return forced === 'fping' ? null : ping()
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** One fping output line: `10.0.0.1 is alive (0.05 ms)` → [ip, rtt]; anything else → null. */
export function parseFpingLine(line: string): {ip: string; alive: boolean; rttMs: number | null} | null {
  const m = /^(\S+) is (alive|unreachable)(?: \((?:(\d+(?:\.\d+)?) ms)?.*\))?/.exec(line.trim())
  if (!m) return null
  return {ip: m[1]!, alive: m[2] === 'alive', rttMs: m[3] !== undefined ? Number(m[3]) : null}
}

/**
 * The RTT of the first echo reply in ping's output so far (`64 bytes from 10.0.0.1: icmp_seq=1
 * ttl=64 time=0.045 ms`, also `time<1 ms` and a decimal comma), through the parser `netmon
 * latency` uses; null before a reply. Complete lines only.
 */
export function parsePingReply(text: string): number | null {
  const lines = text.split('\n')
  if (!text.endsWith('\n')) lines.pop()
  for (const line of lines) {
    const r = parsePingLine(line)
    if (r?.kind === 'reply') return r.rtt_ms
  }
  return null
}

interface Waiter {
  resolve: (r: IcmpResult) => void
}

export class IcmpPinger {
  private readonly children = new Set<ChildProcess>()
  private batch: string[] = []
  private scheduled = false
  private readonly waiters = new Map<string, Waiter[]>()
  private pingRunning = 0
  private readonly pingQueue: string[] = []
  private closed = false
  /** Set when the tool itself failed (bad option, no permission for raw sockets): the scan warns. */
  failure: string | null = null
  private readonly stdbuf = findExecutable('stdbuf')

  constructor(
    readonly tool: {tool: IcmpTool; path: string},
    private readonly timeoutMs: number,
    private readonly retries: number,
  ) {}

  ping(ip: string): Promise<IcmpResult> {
    if (this.closed) return Promise.resolve({alive: false, rttMs: null})
    return new Promise(resolve => {
      const list = this.waiters.get(ip)
      if (list) list.push({resolve})
      else this.waiters.set(ip, [{resolve}])
      if (this.tool.tool === 'fping') {
        this.batch.push(ip)
        if (!this.scheduled) {
          this.scheduled = true
          setImmediate(() => this.flushFping())
        }
      } else {
        this.pingQueue.push(ip)
        this.pumpPing()
      }
    })
  }

  close(): void {
    this.closed = true
    for (const c of this.children) c.kill('SIGKILL')
    for (const [ip] of this.waiters) this.settle(ip, {alive: false, rttMs: null})
  }

  private settle(ip: string, r: IcmpResult): void {
    const list = this.waiters.get(ip)
    if (!list) return
    this.waiters.delete(ip)
    for (const w of list) w.resolve(r)
  }

  private flushFping(): void {
    this.scheduled = false
    const ips = [...new Set(this.batch)]
    this.batch = []
    if (ips.length === 0 || this.closed) return
    // The window is split into retries+1 equal attempts (-B 1: no backoff), -i 1 paces sends 1 ms apart.
    // Without stdbuf, one process per address, so each answer arrives when it happens.
    if (!this.stdbuf && ips.length > 1) {
      for (const ip of ips) {
        this.batch.push(ip)
        this.flushFping()
      }
      return
    }
    const per = Math.max(50, Math.floor(this.timeoutMs / (this.retries + 1)))
    const args = ['-e', '-i', '1', '-B', '1', '-t', String(per), '-r', String(this.retries), ...ips]
    // fping block-buffers its stdout into a pipe: without stdbuf, a live host's line would wait
    // for the slowest (dead) address of its batch. `stdbuf -oL` makes it line-buffered.
    const child = this.stdbuf
      ? spawn(this.stdbuf, ['-oL', this.tool.path, ...args], {stdio: ['ignore', 'pipe', 'pipe']})
      : spawn(this.tool.path, args, {stdio: ['ignore', 'pipe', 'pipe']})
    this.children.add(child)
    let err = ''
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d))
    let buf = ''
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        const r = parseFpingLine(line)
        if (r) this.settle(r.ip, {alive: r.alive, rttMs: r.rttMs})
      }
    })
    const done = (code: number | null) => {
      this.children.delete(child)
      // fping exits 1 when some hosts are unreachable, 2 for unknown names; 3+ is a failure of fping itself.
      if (code !== null && code >= 3 && !this.closed) this.failure = `fping failed (exit ${code}): ${err.trim().split('\n')[0] ?? ''}`
      for (const ip of ips) this.settle(ip, {alive: false, rttMs: null})
    }
    child.on('close', code => done(code))
    child.on('error', e => {
      this.failure = `fping failed: ${e.message}`
      done(null)
    })
  }

  private pumpPing(): void {
    while (this.pingRunning < 32 && this.pingQueue.length > 0 && !this.closed) {
      const ip = this.pingQueue.shift()!
      this.pingRunning++
      // Each attempt gets an equal share of the window. The interval between attempts is at least
      // 0.2 s (the oldest iputils' minimum for users without privileges), so ping never refuses it.
      const secs = Math.max(0.05, this.timeoutMs / 1000 / (this.retries + 1))
      const args = ['-n', '-c', String(this.retries + 1), '-i', Math.max(0.2, secs).toFixed(3), '-W', secs.toFixed(3), ip]
      if (ip.includes(':')) args.unshift('-6')
      // LC_ALL=C: iputils reads `-i 0.2` with strtod, which a decimal-comma locale would reject.
      const env = {...process.env, LC_ALL: 'C'}
      const child = this.stdbuf
        ? spawn(this.stdbuf, ['-oL', this.tool.path, ...args], {stdio: ['ignore', 'pipe', 'pipe'], env})
        : spawn(this.tool.path, args, {stdio: ['ignore', 'pipe', 'pipe'], env})
      this.children.add(child)
      let out = ''
      let err = ''
      let answered = false
      const timer = setTimeout(() => child.kill('SIGKILL'), this.timeoutMs + Math.max(0.2, secs) * 1000 * this.retries + 500)
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d))
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d
        const rtt = parsePingReply(out)
        if (rtt !== null) {
          answered = true
          this.settle(ip, {alive: true, rttMs: rtt})
          child.kill('SIGTERM')
        }
      })
      let finished = false
      const done = (code: number | null, e?: Error) => {
        if (finished) return
        finished = true
        clearTimeout(timer)
        this.children.delete(child)
        this.pingRunning--
        // ping exits 1 when nothing answered; 2 (or a spawn error) is ping itself failing: say so
        // once, instead of reporting every address as silent.
        // Only failures of the tool itself count: exit 2 also means a per-address refusal (a
        // broadcast address inside a wider range: "Do you want to ping broadcast?"), which is
        // just a silent host.
        const toolBroken =
          e !== undefined ||
          (code !== null &&
            code >= 2 &&
            /not permitted|permission denied|privilege|cap_net_raw|socket:|invalid|usage|unknown option|illegal option|not found/i.test(err))
        if (!answered && !this.closed && this.failure === null && toolBroken) {
          const why = e ? e.message : (err.trim().split('\n')[0] ?? '') || 'no message'
          this.failure = `ping failed (${e ? 'could not start' : `exit ${code}`}): ${why}`
        }
        this.settle(ip, {alive: false, rttMs: null})
        this.pumpPing()
      }
      child.on('close', code => done(code))
      child.on('error', e => done(null, e))
    }
  }
}

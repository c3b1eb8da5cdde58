/**
 * TCP connect probes (issue 5): used for host discovery (a refused connection proves the host is
 * alive) and for port scans (`--ports`). One prober per scan caps the sockets in flight, queues
 * the rest, and times probes out with a single timer (no timer per socket: a `--ports all` scan
 * makes 65535 probes).
 *
 * Speed (issue 5 benchmark: `--ports all` on 127.0.0.1 vs `nmap -sT -p- -T4`): net.Socket costs
 * ~60 µs of JavaScript per connection, which alone made a full loopback scan 2.5–4 s. The
 * prober therefore drives libuv's TCP handle directly (`process.binding('tcp_wrap')`, the same
 * object net.Socket wraps), ~3× less work per port, and falls back to net.Socket when that
 * binding is unavailable (other runtimes, future Node) or NETMON_TCP_ENGINE=net.
 *
 * Loopback self-connects: connecting to 127.0.0.1:P where P lies in the ephemeral range can pick
 * P itself as the source port, and TCP "simultaneous open" then connects the socket to itself.
 * That is not a listener; such results are reported closed (seen as false "open" ports in
 * the first prototype).
 */
import {readFileSync} from 'node:fs'
import net from 'node:net'
import {constants as osConstants} from 'node:os'
import {getSystemErrorName} from 'node:util'

export type TcpOutcome = 'open' | 'closed' | 'timeout' | 'unreachable' | 'error'

export interface TcpResult {
  outcome: TcpOutcome
  rttMs: number
  /** errno name for closed/unreachable/error (ECONNREFUSED, EHOSTUNREACH…). */
  code?: string
}

type Callback = (r: TcpResult) => void
type PortCallback = (port: number, r: TcpResult) => void

/** A unit of queued work: one address and a list of ports, consumed lazily (no object per queued port). */
interface Job {
  ip: string
  v6: boolean
  ports: readonly number[]
  next: number
  timeoutMs: number
  cb: PortCallback
}

/** One connection attempt in flight. */
interface Probe {
  job: Job
  port: number
  t0: number
  deadline: number
  done: boolean
  handle: {close(cb?: () => void): void} | net.Socket | null
}

export function classifyError(code: string): TcpOutcome {
  switch (code) {
    case 'ECONNREFUSED':
    case 'ECONNRESET':
      return 'closed'
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'EADDRNOTAVAIL':
      return 'unreachable'
    case 'ETIMEDOUT':
      return 'timeout'
    default:
      return 'error'
  }
}

interface WrapHandle {
  connect(req: unknown, ip: string, port: number): number
  connect6(req: unknown, ip: string, port: number): number
  getsockname(out: Record<string, unknown>): number
  getpeername(out: Record<string, unknown>): number
  close(cb?: () => void): void
}

interface ConnectReq {
  oncomplete?: (this: ConnectReq, status: number) => void
  probe?: Probe
  prober?: TcpProber
}

function onConnect(this: ConnectReq, status: number): void {
  this.prober!.completeWrap(this.probe!, status)
}

const errNames = new Map<number, string>()
/** util.getSystemErrorName, memoised (called once per refused port). */
function errName(n: number): string {
  let name = errNames.get(n)
  if (name === undefined) {
    name = getSystemErrorName(n)
    errNames.set(n, name)
  }
  return name
}

/** libuv's error number for ECONNABORTED (negated errno on Unix). */
const UV_ECONNABORTED = -(osConstants.errno.ECONNABORTED ?? 103)

interface WrapBinding {
  TCP: new (type: number) => WrapHandle
  TCPConnectWrap: new () => object
  constants: {SOCKET: number}
}

let wrapBinding: WrapBinding | null | undefined

function loadWrap(): WrapBinding | null {
  if (wrapBinding !== undefined) return wrapBinding
  wrapBinding = null
  if (process.env.NETMON_TCP_ENGINE === 'net') return null
  try {
    const b = (process as unknown as {binding(name: string): WrapBinding}).binding('tcp_wrap')
    if (typeof b?.TCP === 'function' && typeof b?.TCPConnectWrap === 'function' && typeof b?.constants?.SOCKET === 'number') wrapBinding = b
  } catch {
    wrapBinding = null
  }
  return wrapBinding
}

let fdLimit: number | null | undefined

/**
 * Sockets this process may hold: the open-files limit minus headroom for everything else
 * (modules still loading, the store, child processes' pipes). Linux: /proc/self/limits (Node
 * has raised the soft limit to the hard one at start-up); elsewhere no cap is known.
 */
export function socketBudget(): number {
  if (fdLimit === undefined) {
    fdLimit = null
    try {
      const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
      if (m) fdLimit = Number(m[1])
    } catch {
      /* not Linux */
    }
  }
  return fdLimit === null ? Infinity : Math.max(16, fdLimit - 256)
}

export interface ProberOptions {
  /** Sockets in flight at most (default 1024). */
  maxSockets?: number
  engine?: 'auto' | 'net'
}

export class TcpProber {
  readonly engine: 'wrap' | 'net'
  private maxSockets: number
  private readonly jobs: Job[] = []
  private jobHead = 0
  private active = 0
  private queued = 0
  /** Per timeout value, probes in start order = deadline order (one timer for all). */
  private readonly expiries = new Map<number, {items: Probe[]; head: number}>()
  private timer: NodeJS.Timeout | null = null
  private timerAt = Infinity
  private closed = false
  private readonly wrap: WrapBinding | null
  private readonly spare4: WrapHandle[] = []
  private readonly spare6: WrapHandle[] = []
  private noReuse = false

  constructor(opts: ProberOptions = {}) {
    this.maxSockets = Math.max(1, Math.min(opts.maxSockets ?? 1024, socketBudget()))
    this.wrap = opts.engine === 'net' ? null : loadWrap()
    this.engine = this.wrap ? 'wrap' : 'net'
  }

  /** Probes queued or in flight. */
  get inFlight(): number {
    return this.active + this.queued
  }

  probe(ip: string, port: number, timeoutMs: number, cb: Callback): void {
    this.probePorts(ip, [port], timeoutMs, (_p, r) => cb(r))
  }

  probeAsync(ip: string, port: number, timeoutMs: number): Promise<TcpResult> {
    return new Promise(resolve => this.probe(ip, port, timeoutMs, resolve))
  }

  /** Probes every port of `ports` on `ip`; `cb` once per port, in completion order. */
  probePorts(ip: string, ports: readonly number[], timeoutMs: number, cb: PortCallback): void {
    if (this.closed || ports.length === 0) return
    this.jobs.push({ip, v6: ip.includes(':'), ports, next: 0, timeoutMs, cb})
    this.queued += ports.length
    this.pump()
  }

  /** Drops queued probes and stops the timer; in-flight sockets are closed without callbacks. */
  close(): void {
    this.closed = true
    this.jobs.length = 0
    this.jobHead = 0
    this.queued = 0
    for (const d of this.expiries.values()) for (let i = d.head; i < d.items.length; i++) this.finish(d.items[i]!, 'timeout')
    this.idle()
  }

  private pump(): void {
    while (this.active < this.maxSockets && this.jobHead < this.jobs.length) {
      const job = this.jobs[this.jobHead]!
      const port = job.ports[job.next++]!
      if (job.next >= job.ports.length) {
        this.jobs[this.jobHead++] = undefined as unknown as Job
        if (this.jobHead > 1024 && this.jobHead * 2 > this.jobs.length) {
          this.jobs.splice(0, this.jobHead)
          this.jobHead = 0
        }
      }
      this.queued--
      this.active++
      const t0 = performance.now()
      const probe: Probe = {job, port, t0, deadline: t0 + job.timeoutMs, done: false, handle: null}
      if (this.wrap) this.startWrap(probe, this.wrap)
      else this.startNet(probe)
      if (!probe.done) this.addExpiry(probe)
    }
  }

  private finish(probe: Probe, outcome: TcpOutcome, code?: string, reusable = false): void {
    if (probe.done) return
    probe.done = true
    const h = probe.handle
    if (h) {
      if (h instanceof net.Socket) h.destroy()
      else if (reusable && !this.closed && !this.noReuse) (probe.job.v6 ? this.spare6 : this.spare4).push(h as WrapHandle)
      else h.close()
    }
    this.active--
    if (!this.closed) {
      const r: TcpResult = {outcome, rttMs: performance.now() - probe.t0}
      if (code) r.code = code
      probe.job.cb(probe.port, r)
      // Callbacks may enqueue more probes; pump after them, never recursively inside connect().
      this.pump()
      if (this.active === 0 && this.queued === 0) this.idle()
    }
  }

  private startWrap(probe: Probe, b: WrapBinding, fresh = false): void {
    const spare = probe.job.v6 ? this.spare6 : this.spare4
    const reused = !fresh && spare.length > 0
    const handle = reused ? spare.pop()! : new b.TCP(b.constants.SOCKET)
    probe.handle = handle
    // One shared completion function (libuv calls it as a method of the request): no closure per port.
    const req = new b.TCPConnectWrap() as ConnectReq
    req.probe = probe
    req.prober = this
    req.oncomplete = onConnect
    const {ip, v6} = probe.job
    let err = v6 ? handle.connect6(req, ip, probe.port) : handle.connect(req, ip, probe.port)
    // Socket reuse (Linux): the first connect() on a socket whose previous attempt failed returns
    // ECONNABORTED and resets it; the second one starts the new attempt. That saves socket(),
    // close() and the epoll registration per port: about a third of a full scan's CPU.
    if (err === UV_ECONNABORTED && reused) err = v6 ? handle.connect6(req, ip, probe.port) : handle.connect(req, ip, probe.port)
    if (err && reused) {
      // Redo it on a fresh socket; when the platform does not allow reconnecting, stop reusing.
      const code = errName(err)
      if (code === 'EINVAL' || code === 'EISCONN' || code === 'EALREADY' || code === 'ECONNABORTED') {
        this.noReuse = true
        for (const h of this.spare4.splice(0)) h.close()
        for (const h of this.spare6.splice(0)) h.close()
      }
      handle.close()
      probe.handle = null
      return this.startWrap(probe, b)
    }
    if (err) {
      const code = errName(err)
      if (code === 'EMFILE' || code === 'ENFILE') return this.outOfFiles(probe)
      queueMicrotask(() => this.finish(probe, classifyError(code), code))
    }
  }

  /** Completion of a libuv connect (see onConnect). */
  completeWrap(probe: Probe, status: number): void {
    const handle = probe.handle as WrapHandle
    if (status === 0) {
      const local: Record<string, unknown> = {}
      const peer: Record<string, unknown> = {}
      handle.getsockname(local)
      if (handle.getpeername(peer) !== 0) {
        // Not connected: a stale readiness event. A spare socket sits in the epoll set, hung up,
        // until libuv next sees an event for it; when one libuv batch holds that event and an
        // earlier callback in the same batch reuses the socket, libuv hands the old event to the
        // new connect, reads SO_ERROR = 0 while the SYN is still unanswered and reports success
        // (seen as "open" ports and tcp-found hosts at addresses nobody holds, once a batch held
        // more than ~1000 completions). The attempt's outcome is unknown: redo it on a new socket
        // within the same deadline.
        handle.close()
        probe.handle = null
        return this.startWrap(probe, this.wrap!, true)
      }
      if (local.port === peer.port && local.address === peer.address) this.finish(probe, 'closed', 'SELF_CONNECT')
      else this.finish(probe, 'open')
    } else {
      const code = errName(status)
      // A refused (or unreachable) socket is closed again inside the kernel: keep it for the next probe.
      if (code !== 'ECANCELED') this.finish(probe, classifyError(code), code, true)
    }
  }

  private startNet(probe: Probe): void {
    const s = net.connect({host: probe.job.ip, port: probe.port})
    probe.handle = s
    s.once('connect', () => {
      if (s.localPort === s.remotePort && s.localAddress === s.remoteAddress) this.finish(probe, 'closed', 'SELF_CONNECT')
      else this.finish(probe, 'open')
    })
    s.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EMFILE' || e.code === 'ENFILE') this.outOfFiles(probe)
      else this.finish(probe, classifyError(e.code ?? ''), e.code)
    })
  }

  /**
   * The process ran out of file descriptors: that says nothing about the port. Put the probe
   * back at the head of the queue and lower the socket cap below what is in flight now.
   */
  private outOfFiles(probe: Probe): void {
    if (probe.done) return
    probe.done = true
    const h = probe.handle
    if (h) {
      if (h instanceof net.Socket) h.destroy()
      else h.close()
    }
    this.active--
    this.maxSockets = Math.max(16, Math.min(this.maxSockets, this.active) - 16)
    this.jobs.splice(this.jobHead, 0, {...probe.job, ports: [probe.port], next: 0})
    this.queued++
    // Retry once sockets have been released (another probe finishing pumps), or soon.
    setTimeout(() => this.pump(), 20)
  }

  /** Nothing in flight: forget finished probes' deadlines so no timer outlives the work. */
  private idle(): void {
    for (const h of this.spare4.splice(0)) h.close()
    for (const h of this.spare6.splice(0)) h.close()
    this.expiries.clear()
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.timerAt = Infinity
  }

  private addExpiry(probe: Probe): void {
    let d = this.expiries.get(probe.job.timeoutMs)
    if (!d) {
      d = {items: [], head: 0}
      this.expiries.set(probe.job.timeoutMs, d)
    }
    d.items.push(probe)
    if (probe.deadline < this.timerAt) this.arm(probe.deadline)
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer)
    this.timerAt = at
    this.timer = setTimeout(() => this.sweep(), Math.max(0, at - performance.now()))
    // In-flight sockets keep the process alive; the timer alone must not.
    this.timer.unref()
  }

  private sweep(): void {
    this.timer = null
    this.timerAt = Infinity
    const now = performance.now()
    let next = Infinity
    for (const [k, d] of this.expiries) {
      while (d.head < d.items.length && (d.items[d.head]!.done || d.items[d.head]!.deadline <= now + 1)) {
        const p = d.items[d.head]!
        d.items[d.head++] = undefined as unknown as Probe
        if (!p.done) this.finish(p, 'timeout')
      }
      if (d.head >= d.items.length) {
        this.expiries.delete(k)
        continue
      }
      if (d.head > 4096) {
        d.items.splice(0, d.head)
        d.head = 0
      }
      next = Math.min(next, d.items[d.head]!.deadline)
    }
    // Probes started by callbacks during this sweep may already have armed an earlier timer.
    if (next < this.timerAt && !this.closed) this.arm(next)
  }
}

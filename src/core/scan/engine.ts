/**
 * The scan engine (issue 5): host discovery by several methods at once, then per live host a
 * port scan, banners, reverse DNS and the MAC vendor. No store here: results stream out through
 * `onHost` as each host completes, progress through `onProgress`.
 *
 * Per address, within one window of `timeoutMs` split into `retries + 1` rounds:
 * - neighbor: a UDP datagram to port 9 makes the kernel ARP/NDP for the address; a complete
 *   neighbor entry that appears is proof of life, even for a host that drops all IP traffic;
 * - tcp: connects to a few common ports; an accept or a refusal (RST) proves the host is up;
 * - icmp: echo through fping/ping (icmp.ts).
 * An address is done when every method has concluded, or GRACE_MS after the first proof (late
 * methods are not waited for), or at the end of its window.
 */
import dgram from 'node:dgram'
import {networkInterfaces} from 'node:os'
import {tryNormalizeMac} from '../devices/mac.js'
import {grabBanner} from './banner.js'
import {detectIcmpTool, IcmpPinger} from './icmp.js'
import {flushNeighbors, isComplete, isConfirmed, readNeighbors, readNeighbors6, readProcArp, type NeighborEntry} from './neighbor.js'
import {ReverseResolver, type RdnsOptions} from './rdns.js'
import {DISCOVERY_PORTS, serviceName} from './services.js'
import {compareIp, isLoopback} from './targets.js'
import {TcpProber} from './tcp.js'
import {METHODS, type HostResult, type Method, type PortResult, type ScanProgress} from './types.js'
import {lookupVendor} from './vendor.js'

export interface EngineOptions {
  targets: {ip: string; hostname?: string}[]
  methods: Method[]
  timeoutMs: number
  retries: number
  /** Addresses being discovered at once. */
  concurrency: number
  /** Ports to scan on every live host (null: no port scan). */
  ports?: number[] | null
  portTimeoutMs?: number
  maxSockets?: number
  banners?: boolean
  bannerTimeoutMs?: number
  rdns?: RdnsOptions
  signal?: AbortSignal
  onHost?: (h: HostResult) => void
  onProgress?: (p: ScanProgress) => void
  /** For tests: this machine's interfaces (default os.networkInterfaces()). */
  interfaces?: ReturnType<typeof networkInterfaces>
}

export interface EngineResult {
  hosts: HostResult[]
  /** Addresses whose discovery ran to the end (a host absent from `hosts` among these is down). */
  covered: string[]
  methods: Method[]
  warnings: string[]
  icmp_tool: string | null
  tcp_engine: 'wrap' | 'net'
  /** Stale neighbor entries deleted before probing (-1: not possible, e.g. not root). */
  neighbor_flushed: number
  aborted: boolean
  duration_ms: number
  progress: ScanProgress
}

/** How long to wait for other methods once one has proved the host is up. */
const GRACE_MS = 150

interface Evidence {
  ip: string
  hostname?: string
  found: Map<Method, number | null>
  entry: NeighborEntry | null
  complete: boolean
}


/** Watches the neighbor table for the addresses being discovered. */
class NeighborWatch {
  private readonly watchers = new Map<string, (e: NeighborEntry) => void>()
  private readonly latest = new Map<string, NeighborEntry>()
  private timer: NodeJS.Timeout | null = null
  private busy = false

  constructor(
    /** Entries may predate the scan (could not flush): require absence before, or REACHABLE. */
    private readonly preexisting: Set<string> | null,
    readonly intervalMs: number,
  ) {}

  watch(ip: string, cb: (e: NeighborEntry) => void): void {
    this.watchers.set(ip, cb)
    if (!this.timer) this.timer = setInterval(() => void this.tick(), this.intervalMs)
  }

  unwatch(ip: string): void {
    this.watchers.delete(ip)
    if (this.watchers.size === 0 && this.timer) {
      clearInterval(this.timer)
      this.timer = null
    }
  }

  /** The latest complete entry for an address (for MAC enrichment), reading the table now for IPv4. */
  entryOf(ip: string): NeighborEntry | null {
    if (!ip.includes(':')) for (const e of readProcArp()) if (isComplete(e)) this.latest.set(e.ip, e)
    const e = this.latest.get(ip)
    return e && isComplete(e) ? e : null
  }

  async tick(): Promise<void> {
    if (this.busy) return
    this.busy = true
    try {
      const ips = [...this.watchers.keys()]
      const need6 = ips.some((ip) => ip.includes(':'))
      const need4 = ips.some((ip) => !ip.includes(':'))
      let entries: NeighborEntry[] = []
      // Without a flush, states matter and /proc/net/arp has none: ask iproute2.
      if (this.preexisting) entries = await readNeighbors()
      else {
        if (need4) entries = readProcArp()
        if (need6) entries = entries.concat(await readNeighbors6())
      }
      for (const e of entries) if (isComplete(e)) this.latest.set(e.ip, e)
      for (const e of entries) {
        const cb = this.watchers.get(e.ip)
        if (!cb || !isComplete(e)) continue
        if (this.preexisting && this.preexisting.has(e.ip) && !isConfirmed(e)) continue
        cb(e)
      }
    } finally {
      this.busy = false
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    this.watchers.clear()
  }
}

function localAddresses(ifaces: ReturnType<typeof networkInterfaces>): Map<string, {mac: string | null; iface: string}> {
  const map = new Map<string, {mac: string | null; iface: string}>()
  for (const [name, list] of Object.entries(ifaces)) {
    for (const a of list ?? []) {
      const mac = tryNormalizeMac(a.mac)
      map.set(a.address.split('%')[0]!, {mac: mac && mac !== '00:00:00:00:00:00' ? mac : null, iface: name})
    }
  }
  return map
}

export async function runEngine(opts: EngineOptions): Promise<EngineResult> {
  const started = performance.now()
  const warnings: string[] = []
  const methods = METHODS.filter((m) => opts.methods.includes(m))
  const useNeighbor = methods.includes('neighbor') && process.platform === 'linux'
  if (methods.includes('neighbor') && !useNeighbor) warnings.push('method neighbor: no kernel neighbor table on this platform; skipped')
  const icmpTool = methods.includes('icmp') ? detectIcmpTool() : null
  if (methods.includes('icmp') && !icmpTool) warnings.push('method icmp: neither fping nor ping is installed; skipped')
  const active = methods.filter((m) => (m === 'neighbor' ? useNeighbor : m === 'icmp' ? !!icmpTool : true))

  const prober = new TcpProber({maxSockets: opts.maxSockets ?? 4096})
  const pinger = icmpTool ? new IcmpPinger(icmpTool, opts.timeoutMs, opts.retries) : null
  const rdns = new ReverseResolver(opts.rdns ?? {enabled: false, timeoutMs: 500})
  const self = localAddresses(opts.interfaces ?? networkInterfaces())
  const targetSet = new Set(opts.targets.map((t) => t.ip))

  // Neighbor freshness: delete the targets' stale entries first when allowed (root).
  let flushed = -1
  let preexisting: Set<string> | null = null
  if (process.platform === 'linux') {
    const before = await readNeighbors()
    if (useNeighbor) flushed = await flushNeighbors(before, targetSet)
    if (flushed < 0) preexisting = new Set(before.filter((e) => targetSet.has(e.ip) && isComplete(e)).map((e) => e.ip))
  }
  const watch = new NeighborWatch(preexisting, preexisting ? 200 : 40)
  const udp4 = useNeighbor ? dgram.createSocket('udp4') : null
  const udp6 = useNeighbor && opts.targets.some((t) => t.ip.includes(':')) ? dgram.createSocket('udp6') : null
  for (const s of [udp4, udp6]) s?.on('error', () => {})
  const nudge = (ip: string) => {
    const s = ip.includes(':') ? udp6 : udp4
    s?.send(Buffer.from([0]), 9, ip, () => {})
  }

  const progress: ScanProgress = {hosts_total: opts.targets.length, hosts_done: 0, found: 0, ports_total: 0, ports_done: 0}
  const report = () => opts.onProgress?.({...progress})
  const hosts: HostResult[] = []
  const covered: string[] = []
  const pipelines: Promise<void>[] = []
  let aborted = false
  let abortWake: () => void = () => {}
  const abortPromise = new Promise<void>((r) => (abortWake = r))
  const onAbort = () => {
    aborted = true
    abortWake()
    prober.close()
    pinger?.close()
  }
  opts.signal?.addEventListener('abort', onAbort, {once: true})
  if (opts.signal?.aborted) onAbort()

  const slotMs = Math.max(20, Math.floor(opts.timeoutMs / (opts.retries + 1)))

  const discover = (target: {ip: string; hostname?: string}): Promise<Evidence> =>
    new Promise((resolve) => {
      const ip = target.ip
      const ev: Evidence = {ip, hostname: target.hostname, found: new Map(), entry: null, complete: false}
      // Loopback and this machine's own addresses never get neighbor entries: do not wait for one.
      const onLink = !self.has(ip) && !isLoopback(ip)
      const pending = new Set<Method>(active.filter((m) => m !== 'neighbor' || onLink))
      const timers: NodeJS.Timeout[] = []
      let finished = false
      let tcpOutstanding = 0
      let tcpRounds = 0
      const finish = (complete: boolean) => {
        if (finished) return
        finished = true
        ev.complete = complete
        for (const t of timers) clearTimeout(t)
        watch.unwatch(ip)
        resolve(ev)
      }
      const mark = (m: Method, rtt: number | null) => {
        if (finished) return
        if (!ev.found.has(m)) ev.found.set(m, rtt)
        pending.delete(m)
        if (ev.found.size === 1) timers.push(setTimeout(() => finish(true), GRACE_MS))
        if (pending.size === 0) finish(true)
      }
      const fail = (m: Method) => {
        if (finished || !pending.has(m)) return
        pending.delete(m)
        if (pending.size === 0) finish(true)
      }
      if (aborted || active.length === 0) return finish(false)

      const round = () => {
        if (finished || aborted) return
        tcpRounds++
        if (useNeighbor) nudge(ip)
        if (active.includes('tcp') && !ev.found.has('tcp')) {
          tcpOutstanding += DISCOVERY_PORTS.length
          prober.probePorts(ip, DISCOVERY_PORTS, slotMs, (_port, r) => {
            tcpOutstanding--
            if (r.outcome === 'open' || r.outcome === 'closed') mark('tcp', r.rttMs)
            else if (tcpOutstanding === 0 && tcpRounds > opts.retries) fail('tcp')
          })
        }
        if (tcpRounds <= opts.retries) timers.push(setTimeout(round, slotMs))
      }
      if (useNeighbor && onLink) {
        watch.watch(ip, (e) => {
          ev.entry = e
          mark('neighbor', null)
        })
      }
      if (pinger) void pinger.ping(ip).then((r) => (r.alive ? mark('icmp', r.rttMs) : fail('icmp')))
      round()
      timers.push(setTimeout(() => finish(true), opts.timeoutMs + 20))
    })

  const enrich = async (ev: Evidence): Promise<void> => {
    const me = self.get(ev.ip)
    const entry = ev.entry ?? watch.entryOf(ev.ip)
    const mac = me ? me.mac : (entry?.mac ?? null)
    const rtts = [ev.found.get('tcp'), ev.found.get('icmp')].filter((x): x is number => typeof x === 'number')
    const host: HostResult = {
      ip: ev.ip,
      mac,
      mac_kind: null,
      vendor: null,
      hostname: null,
      found_by: METHODS.filter((m) => ev.found.has(m)),
      rtt_ms: rtts.length ? Math.round(Math.min(...rtts) * 1000) / 1000 : null,
      interface: me ? me.iface : (entry?.dev ?? null),
      self: !!me,
      seen_ms: Date.now(),
    }
    const tasks: Promise<unknown>[] = []
    if (opts.ports && opts.ports.length) tasks.push(scanPorts(host, opts.ports))
    tasks.push(
      rdns.reverse(ev.ip).then((name) => {
        host.hostname = name ?? ev.hostname ?? null
      }),
    )
    await Promise.all(tasks)
    if (mac) Object.assign(host, lookupVendor(mac))
    hosts.push(host)
    opts.onHost?.(host)
  }

  const scanPorts = async (host: HostResult, ports: number[]): Promise<void> => {
    const timeout = opts.portTimeoutMs ?? opts.timeoutMs
    const open: number[] = []
    progress.ports_total += ports.length
    let todo: number[] = ports
    for (let attempt = 0; attempt <= opts.retries && todo.length && !aborted; attempt++) {
      const timedOut: number[] = []
      const last = attempt === opts.retries
      await new Promise<void>((resolve) => {
        void abortPromise.then(resolve)
        let left = todo.length
        prober.probePorts(host.ip, todo, timeout, (port, r) => {
          if (r.outcome === 'open') open.push(port)
          else if (r.outcome === 'timeout' && !last) timedOut.push(port)
          if (r.outcome !== 'timeout' || last) progress.ports_done++
          if (--left === 0) resolve()
        })
      })
      todo = timedOut
    }
    // An interrupted port scan says nothing about closed ports: report none rather than a partial list.
    if (aborted) return
    open.sort((a, b) => a - b)
    const results: PortResult[] = open.map((port) => ({port, proto: 'tcp', service: serviceName(port)}))
    if (opts.banners) {
      const limit = 8
      let i = 0
      const worker = async () => {
        while (i < results.length) {
          const p = results[i++]!
          p.banner = await grabBanner(host.ip, p.port, opts.bannerTimeoutMs ?? 1000, p.service)
        }
      }
      await Promise.all(Array.from({length: Math.min(limit, results.length)}, worker))
    }
    host.ports = results
  }

  // Progress is reported at most every 100 ms (the store writer batches further).
  const ticker = setInterval(report, 100)
  try {
    let next = 0
    const worker = async () => {
      while (next < opts.targets.length && !aborted) {
        const target = opts.targets[next++]!
        const ev = await discover(target)
        if (!ev.complete) continue
        covered.push(ev.ip)
        progress.hosts_done++
        if (ev.found.size > 0) {
          progress.found++
          pipelines.push(enrich(ev))
        }
      }
    }
    await Promise.all(Array.from({length: Math.max(1, Math.min(opts.concurrency, opts.targets.length))}, worker))
    await Promise.all(pipelines)
  } finally {
    clearInterval(ticker)
    watch.stop()
    prober.close()
    pinger?.close()
    rdns.close()
    udp4?.close()
    udp6?.close()
    opts.signal?.removeEventListener('abort', onAbort)
  }
  if (pinger?.failure) warnings.push(`method icmp: ${pinger.failure}`)
  report()
  hosts.sort((a, b) => compareIp(a.ip, b.ip))
  return {
    hosts,
    covered,
    methods: active,
    warnings,
    icmp_tool: icmpTool?.tool ?? null,
    tcp_engine: prober.engine,
    neighbor_flushed: flushed,
    aborted,
    duration_ms: Math.round(performance.now() - started),
    progress: {...progress},
  }
}

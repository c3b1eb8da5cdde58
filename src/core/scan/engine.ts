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
 * An address is done when every method has concluded: one that has answered waits for the other
 * methods' own timeouts (so how it was found does not depend on how busy the machine is); one that
 * has not answered is done (down) at the end of its window.
 */
import dgram from 'node:dgram'
import {networkInterfaces} from 'node:os'
import {tryNormalizeMac} from '../devices/mac.js'
import {grabBanner} from './banner.js'
import {scanPortsOnThreads, workerCount} from './port-pool.js'
import {probePortStates, type PortCounts} from './port-state.js'
import {detectIcmpTool, IcmpPinger} from './icmp.js'
import {pingCommand} from '../latency/icmp.js'
import {flushNeighbors, isComplete, isConfirmed, readNeighbors, readNeighbors6, readProcArp, type NeighborEntry} from './neighbor.js'
import {ReverseResolver, type RdnsOptions} from './rdns.js'
import {DISCOVERY_PORTS, serviceName} from './services.js'
import {compareIp, ipToBig, isLoopback} from './targets.js'
import {TcpProber} from './tcp.js'
import {METHODS, type HostResult, type Method, type PortResult, type PortsSummary, type ScanProgress} from './types.js'
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
  /**
   * How long an on-link address is given to answer ARP/NDP, from its first request (default: no
   * more than `timeoutMs`). Addresses still silent when their window closes are asked once more
   * and watched, all together, until this much time has passed since their first request.
   */
  arpWaitMs?: number
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
  /** Covered addresses not found whose neighbor entry is REACHABLE at the end (the kernel heard from them recently). */
  reachable: {ip: string; mac: string}[]
  /** On-link addresses found late, after their discovery window, by the ARP/NDP wait. */
  late_found: string[]
  aborted: boolean
  duration_ms: number
  progress: ScanProgress
}

/** Beyond 3 × the window, a live host's unfinished method is given up (a safety net: every method concludes by itself). */
const ALIVE_CAP_MS = 5000

/** One host's port scan: its open ports (with names and banners) and the count per state. */
interface PortScan {
  ports: PortResult[]
  summary: PortsSummary
}

interface Evidence {
  /** The port scan, started as soon as the host proved alive. */
  ports?: Promise<PortScan | undefined>
  ip: string
  hostname?: string
  found: Map<Method, number | null>
  entry: NeighborEntry | null
  complete: boolean
  /** On-link: the neighbor table is watched for it. */
  watched: boolean
}

class Mutex {
  private tail: Promise<void> = Promise.resolve()
  acquire(): Promise<() => void> {
    let release!: () => void
    const next = new Promise<void>(r => (release = r))
    const ready = this.tail.then(() => release)
    this.tail = this.tail.then(() => next)
    return ready
  }
}

/** Watches the neighbor table for the addresses being discovered. */
class NeighborWatch {
  private readonly watchers = new Map<string, (e: NeighborEntry, fresh: boolean) => void>()
  private readonly latest = new Map<string, NeighborEntry>()
  private timer: NodeJS.Timeout | null = null
  private busy = false

  constructor(
    /** Entries may predate the scan (could not flush): require absence before, or REACHABLE. */
    private readonly preexisting: Set<string> | null,
    readonly intervalMs: number,
  ) {}

  watch(ip: string, cb: (e: NeighborEntry, fresh: boolean) => void): void {
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
      const need6 = ips.some(ip => ip.includes(':'))
      const need4 = ips.some(ip => !ip.includes(':'))
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
        // Proof of life: an entry resolved during this scan. A static entry proves nothing, and
        // without a flush an entry already there before the scan counts only when REACHABLE.
        const fixed = e.state.some(x => x === 'PERMANENT' || x === 'NOARP')
        const fresh = !fixed && (!this.preexisting?.has(e.ip) || isConfirmed(e))
        cb(e, fresh)
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

/** The interface whose subnet contains `ip` (the host is on-link there), from the interface table. */
export function onLinkTable(ifaces: ReturnType<typeof networkInterfaces>): {version: 4 | 6; first: bigint; last: bigint; iface: string}[] {
  const out: {version: 4 | 6; first: bigint; last: bigint; iface: string}[] = []
  for (const [name, list] of Object.entries(ifaces)) {
    for (const a of list ?? []) {
      if (a.internal || !a.cidr) continue
      const len = Number(a.cidr.split('/')[1])
      const {version, value} = ipToBig(a.address.split('%')[0]!)
      const bits = version === 4 ? 32 : 128
      if (!(len > 0 && len < bits)) continue
      const size = 1n << BigInt(bits - len)
      const first = (value / size) * size
      out.push({version, first, last: first + size - 1n, iface: name})
    }
  }
  return out
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

/** Of the covered addresses not found, those whose neighbor entry is REACHABLE now, with its MAC. */
async function reachableAmong(covered: string[], found: Set<string>): Promise<{ip: string; mac: string}[]> {
  const missed = new Set(covered.filter(ip => !found.has(ip)))
  if (missed.size === 0) return []
  const out: {ip: string; mac: string}[] = []
  for (const e of await readNeighbors()) if (missed.has(e.ip) && e.mac && isComplete(e) && e.state.includes('REACHABLE')) out.push({ip: e.ip, mac: e.mac})
  return out
}

export async function runEngine(opts: EngineOptions): Promise<EngineResult> {
  const started = performance.now()
  const warnings: string[] = []
  const methods = METHODS.filter(m => opts.methods.includes(m))
  const useNeighbor = methods.includes('neighbor') && process.platform === 'linux'
  if (methods.includes('neighbor') && !useNeighbor) warnings.push('method neighbor: no kernel neighbor table on this platform; skipped')
  const icmpTool = methods.includes('icmp') ? detectIcmpTool() : null
  if (methods.includes('icmp') && !icmpTool) {
    const forced = process.env.NETMON_SCAN_ICMP_TOOL?.trim()
    const which = forced === 'ping' ? pingCommand() : forced
    warnings.push(
      which ? `method icmp: ${which} (NETMON_SCAN_ICMP_TOOL=${forced}) is not installed; skipped` : 'method icmp: neither fping nor ping is installed; skipped',
    )
  }
  const active = methods.filter(m => (m === 'neighbor' ? useNeighbor : m === 'icmp' ? !!icmpTool : true))

  const prober = new TcpProber({maxSockets: opts.maxSockets ?? 4096})
  const pinger = icmpTool ? new IcmpPinger(icmpTool, opts.timeoutMs, opts.retries) : null
  const rdns = new ReverseResolver(opts.rdns ?? {enabled: false, timeoutMs: 500})
  const ifaces = opts.interfaces ?? networkInterfaces()
  const self = localAddresses(ifaces)
  const links = onLinkTable(ifaces)
  const linkOf = (ip: string): string | null => {
    const {version, value} = ipToBig(ip)
    return links.find(l => l.version === version && value >= l.first && value <= l.last)?.iface ?? null
  }
  const targetSet = new Set(opts.targets.map(t => t.ip))

  // Neighbor freshness: delete the targets' stale entries first when allowed (root).
  let flushed = -1
  let preexisting: Set<string> | null = null
  if (process.platform === 'linux') {
    // IPv4 only: /proc/net/arp has what the flush needs (address, device) without spawning iproute2.
    const before = opts.targets.some(t => t.ip.includes(':')) ? await readNeighbors() : readProcArp()
    if (useNeighbor) flushed = await flushNeighbors(before, targetSet)
    if (flushed < 0) preexisting = new Set(before.filter(e => targetSet.has(e.ip) && isComplete(e)).map(e => e.ip))
  }
  const watch = new NeighborWatch(preexisting, preexisting ? 200 : 40)
  const udp4 = useNeighbor ? dgram.createSocket('udp4') : null
  const udp6 = useNeighbor && opts.targets.some(t => t.ip.includes(':')) ? dgram.createSocket('udp6') : null
  for (const s of [udp4, udp6]) s?.on('error', () => {})
  let socketsOpen = true
  const nudge = (ip: string) => {
    const s = ip.includes(':') ? udp6 : udp4
    if (!s || !socketsOpen) return
    try {
      s.send(Buffer.from([0]), 9, ip, () => {})
    } catch {
      /* a send after the scan ended */
    }
  }
  let reArpQueue: {ip: string; dev: string}[] = []
  const reArp = (ip: string, dev: string) => {
    if (flushed < 0) return nudge(ip) // not root: the kernel's own retry schedule applies
    reArpQueue.push({ip, dev})
    if (reArpQueue.length > 1) return
    setImmediate(() => {
      const batch = reArpQueue
      reArpQueue = []
      void flushNeighbors(
        batch.map(b => ({ip: b.ip, dev: b.dev, mac: null, state: ['INCOMPLETE']})),
        new Set(batch.map(b => b.ip)),
      ).then(() => {
        for (const b of batch) nudge(b.ip)
      })
    })
  }

  const progress: ScanProgress = {hosts_total: opts.targets.length, hosts_done: 0, found: 0, ports_total: 0, ports_done: 0}
  const report = () => opts.onProgress?.({...progress})
  const hosts: HostResult[] = []
  const covered: string[] = []
  const pipelines: Promise<void>[] = []
  let aborted = false
  const abortCtl = new AbortController()
  const abortSignal = abortCtl.signal
  let abortWake: () => void = () => {}
  const abortPromise = new Promise<void>(r => (abortWake = r))
  const onAbort = () => {
    aborted = true
    abortCtl.abort()
    abortWake()
    prober.close()
    pinger?.close()
  }
  opts.signal?.addEventListener('abort', onAbort, {once: true})
  if (opts.signal?.aborted) onAbort()

  const threadLock = new Mutex()
  const wantPorts = !!opts.ports && opts.ports.length > 0
  const slotMs = Math.max(20, Math.floor(opts.timeoutMs / (opts.retries + 1)))

  const discover = (target: {ip: string; hostname?: string}): Promise<Evidence> =>
    new Promise(resolve => {
      const ip = target.ip
      const ev: Evidence = {ip, hostname: target.hostname, found: new Map(), entry: null, complete: false, watched: false}
      // Loopback and this machine's own addresses never get neighbor entries: do not wait for one.
      const link = self.has(ip) || isLoopback(ip) ? null : linkOf(ip)
      const watched = useNeighbor && link !== null
      ev.watched = watched
      // On-link IPv4/IPv6 hosts cannot answer anything before ARP/NDP resolves them, so TCP and
      // ICMP probes wait for the neighbor entry ("gated"): a /24 sweep then opens sockets only to
      // the few live hosts instead of 254 × 9 connects that would sit in the ARP queue.
      const gated = watched
      const pending = new Set<Method>(active.filter(m => m !== 'neighbor' || watched))
      const timers: NodeJS.Timeout[] = []
      let finished = false
      let opened = false
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
        if (ev.found.has(m)) return // e.g. several discovery ports answering
        ev.found.set(m, rtt)
        pending.delete(m)
        // The other methods may still answer: wait until each has concluded on its own schedule
        // (TCP rounds, fping's -t/-r, ping's kill timer), not until a wall-clock window ends. A
        // window timer cut found_by short on a busy machine: a slow fping start, or an event loop
        // blocked for a moment, ran it before the echo reply already waiting in the pipe was read.
        // The cap only guards against a method that never reports.
        if (ev.found.size === 1) {
          timers.push(setTimeout(() => finish(true), 3 * opts.timeoutMs + ALIVE_CAP_MS))
          // Alive: its port scan need not wait for the slower methods.
          if (wantPorts) ev.ports = scanPorts(ip, opts.ports!)
        }
        if (pending.size === 0) finish(true)
      }
      const fail = (m: Method) => {
        if (finished || !pending.has(m)) return
        pending.delete(m)
        if (pending.size === 0) finish(true)
      }
      if (aborted || active.length === 0) return finish(false)

      const tcpRound = () => {
        if (finished || aborted || ev.found.has('tcp')) return
        tcpRounds++
        tcpOutstanding += DISCOVERY_PORTS.length
        prober.probePorts(ip, DISCOVERY_PORTS, slotMs, (_port, r) => {
          tcpOutstanding--
          if (r.outcome === 'open' || r.outcome === 'closed') mark('tcp', r.rttMs)
          else if (tcpOutstanding === 0 && tcpRounds > opts.retries) fail('tcp')
        })
        if (tcpRounds <= opts.retries) timers.push(setTimeout(tcpRound, slotMs))
      }
      const open = () => {
        if (opened || finished) return
        opened = true
        if (active.includes('tcp')) tcpRound()
        if (pinger) void pinger.ping(ip).then(r => (r.alive ? mark('icmp', r.rttMs) : fail('icmp')))
      }
      if (watched) {
        watch.watch(ip, (e, fresh) => {
          ev.entry = e
          if (fresh) mark('neighbor', null)
          open()
        })
        nudge(ip)
        // Retries for the neighbor method: the kernel re-ARPs an unresolved address only once a
        // second; as root, drop the incomplete entry and nudge again so each round sends a request.
        for (let k = 1; k <= opts.retries; k++) {
          timers.push(
            setTimeout(() => {
              if (!ev.found.has('neighbor') && !finished) reArp(ip, link!)
            }, k * slotMs),
          )
        }
      }
      if (!gated) open()
      // The window closes for addresses that have not answered. For one that has, the neighbor
      // method concludes here (an entry that never became fresh proves nothing) and the others
      // conclude by themselves.
      timers.push(
        setTimeout(() => {
          if (ev.found.size === 0) finish(true)
          else fail('neighbor')
        }, opts.timeoutMs),
      )
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
      found_by: METHODS.filter(m => ev.found.has(m)),
      rtt_ms: rtts.length ? Math.round(Math.min(...rtts) * 1000) / 1000 : null,
      interface: me ? me.iface : (entry?.dev ?? null),
      self: !!me,
      seen_ms: Date.now(),
    }
    const tasks: Promise<unknown>[] = []
    const portScan = ev.ports ?? (wantPorts ? scanPorts(ev.ip, opts.ports!) : undefined)
    if (portScan) {
      tasks.push(
        portScan.then(r => {
          if (!r) return
          host.ports = r.ports
          host.ports_summary = r.summary
        }),
      )
    }
    tasks.push(
      rdns.reverse(ev.ip).then(name => {
        host.hostname = name ?? ev.hostname ?? null
      }),
    )
    await Promise.all(tasks)
    if (mac) Object.assign(host, lookupVendor(mac))
    hosts.push(host)
    opts.onHost?.(host)
  }

  /**
   * Open ports of a live host and how many ports ended in each state (undefined when the scan was
   * interrupted: a partial list says nothing). States and progress: port-state.ts.
   */
  const scanPorts = async (ip: string, ports: number[]): Promise<PortScan | undefined> => {
    const timeout = opts.portTimeoutMs ?? opts.timeoutMs
    let counts: PortCounts = {open: [], closed: 0, filtered: 0}
    progress.ports_total += ports.length
    let threads = workerCount(ports.length)
    if (threads) {
      // Threaded scans already use every core: one host at a time.
      const release = await threadLock.acquire()
      const base = progress.ports_done
      try {
        counts = await scanPortsOnThreads(ip, ports, {
          timeoutMs: timeout,
          retries: opts.retries,
          maxSockets: opts.maxSockets ?? 4096,
          threads,
          signal: abortSignal,
          onProgress: done => (progress.ports_done = base + done),
        })
        progress.ports_done = base + ports.length
      } catch (e) {
        // A thread that cannot start (or dies) must not cost the scan: redo it on this thread.
        warnings.push(`port scan threads failed (${(e as Error).message}); scanned ${ip} on the main thread`)
        progress.ports_done = base
        threads = 0
      } finally {
        release()
      }
    }
    if (!threads) {
      counts = await probePortStates(prober, ip, ports, {
        timeoutMs: timeout,
        retries: opts.retries,
        onFirstTry: () => progress.ports_done++,
        stopped: () => aborted,
        interrupted: abortPromise,
      })
    }
    // An interrupted port scan says nothing about closed ports: report none rather than a partial list.
    if (aborted) return undefined
    const open = counts.open
    const summary: PortsSummary = {open: open.length, closed: counts.closed, filtered: counts.filtered}
    open.sort((a, b) => a - b)
    const results: PortResult[] = open.map(port => ({port, proto: 'tcp', service: serviceName(port)}))
    if (opts.banners) {
      // Silent services make each banner wait its full timeout: many at once per host.
      const limit = 32
      let i = 0
      const worker = async () => {
        while (i < results.length) {
          const p = results[i++]!
          const b = await grabBanner(ip, p.port, opts.bannerTimeoutMs ?? 1000, p.service)
          p.banner = b?.text ?? null
          // A decoded greeting names the service whatever the port (MySQL on 13306 is mysql).
          if (b?.service) p.service = b.service
        }
      }
      await Promise.all(Array.from({length: Math.min(limit, results.length)}, worker))
    }
    return {ports: results, summary}
  }

  const arpWaitMs = opts.arpWaitMs ?? 0
  const late: {target: {ip: string; hostname?: string}; until: number}[] = []
  const lateFound: string[] = []
  const reachable: {ip: string; mac: string}[] = []
  /**
   * The ARP/NDP wait for the on-link addresses still silent when their windows closed, all at
   * once so a sweep pays it once: each is asked once more (no flush: a late reply to an earlier
   * request completes the entry the kernel still holds) and watched until `arpWaitMs` after its
   * first request. One that answers gets a normal discovery (its entry is then fresh, so TCP and
   * ICMP run at once); the rest are down.
   */
  const lateArp = (list: typeof late, settle: (ev: Evidence) => void): Promise<void> =>
    new Promise<void>(resolve => {
      let left = list.length
      const one = () => {
        if (--left === 0) resolve()
      }
      void abortPromise.then(resolve)
      for (const item of list) {
        const ip = item.target.ip
        let done = false
        const timer = setTimeout(
          () => {
            if (done) return
            done = true
            watch.unwatch(ip)
            settle({ip, found: new Map(), entry: null, complete: true, watched: true})
            one()
          },
          Math.max(0, item.until - performance.now()),
        )
        watch.watch(ip, (_e, fresh) => {
          if (done || !fresh) return
          done = true
          clearTimeout(timer)
          watch.unwatch(ip)
          void discover(item.target).then(ev => {
            if (ev.complete) {
              if (ev.found.size > 0) lateFound.push(ip)
              settle(ev)
            }
            one()
          })
        })
        nudge(ip)
      }
    })

  // Progress is reported at most every 100 ms (the store writer batches further).
  const ticker = setInterval(report, 100)
  try {
    let next = 0
    const settle = (ev: Evidence) => {
      covered.push(ev.ip)
      progress.hosts_done++
      if (ev.found.size > 0) {
        progress.found++
        pipelines.push(enrich(ev))
      }
    }
    const worker = async () => {
      while (next < opts.targets.length && !aborted) {
        const target = opts.targets[next++]!
        const firstAsked = performance.now()
        const ev = await discover(target)
        if (!ev.complete) continue
        // Silent on-link addresses are not down yet when ARP may still answer: see lateArp.
        if (ev.found.size === 0 && ev.watched && arpWaitMs > opts.timeoutMs) late.push({target, until: firstAsked + arpWaitMs})
        else settle(ev)
      }
    }
    await Promise.all(Array.from({length: Math.max(1, Math.min(opts.concurrency, opts.targets.length))}, worker))
    if (late.length && !aborted) await lateArp(late, settle)
    await Promise.all(pipelines)
    if (process.platform === 'linux' && !aborted) reachable.push(...(await reachableAmong(covered, new Set(hosts.map(h => h.ip)))))
  } finally {
    clearInterval(ticker)
    watch.stop()
    prober.close()
    pinger?.close()
    rdns.close()
    socketsOpen = false
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
    reachable,
    late_found: lateFound.sort(compareIp),
    aborted,
    duration_ms: Math.round(performance.now() - started),
    progress: {...progress},
  }
}

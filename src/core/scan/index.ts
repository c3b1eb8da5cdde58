/**
 * `netmon scan` (issue 5), the one core entry point the command calls:
 * validate everything (targets, ports, DNS servers) before the store is even opened, so bad
 * input writes nothing → record a `scans` row → run the engine while a progress writer keeps
 * that row current (for `scan status` in another shell) → ask the live on-link hosts once more
 * for IP conflicts (conflict.ts) → apply the results to the inventory and finish the scan row in
 * one transaction.
 */
import {readFileSync} from 'node:fs'
import {hostname as machineName, networkInterfaces} from 'node:os'
import {invalidInput} from '../errors.js'
import {isoOf} from '../format/time.js'
import {applyScan} from '../inventory/apply.js'
import type {Plan} from '../inventory/plan.js'
import type {Store} from '../store/index.js'
import {checkConflicts, type IpConflict} from './conflict.js'
import {onLinkTable, runEngine} from './engine.js'
import {parsePorts} from './services.js'
import {defaultTargets, excludeAddresses, expandRanges, ipToBig, parseIpLiteral, resolveExcludes, resolveTargets, type InterfaceInfo} from './targets.js'
import type {HostResult, Method, ScanProgress} from './types.js'

export type {IpConflict} from './conflict.js'
export {METHODS, type HostResult, type Method, type PortResult, type ScanProgress} from './types.js'

export interface ScanRequest {
  /** Explicit targets; null = the machine's own subnets (defaultTargets). */
  targets: string[] | null
  allowPublic: boolean
  force: boolean
  methods: Method[]
  timeoutMs: number
  retries: number
  concurrency: number
  /** `--ports` spec, null = no port scan. */
  ports: string | null
  portTimeoutMs: number
  maxSockets: number
  banners: boolean
  bannerTimeoutMs: number
  rdns: boolean
  dnsServers: string[]
  rdnsTimeoutMs: number
  register: boolean
  /** How long on-link addresses are given to answer ARP/NDP (engine.ts lateArp); at most timeoutMs: no extra wait. */
  arpWaitMs: number
  /** Ask the live on-link hosts for IP conflicts with arping (conflict.ts); default true. */
  conflictCheck?: boolean
  /** `--exclude`/`--exclude-file` entries: addresses, CIDRs, ranges or names never probed. */
  exclude?: string[]
}

export interface ScanHooks {
  openStore: () => Promise<Store>
  onHost?: (h: HostResult) => void
  onProgress?: (p: ScanProgress) => void
  /** Human notes (default targets narrowed, methods unavailable): stderr. */
  onNote?: (text: string) => void
  signal?: AbortSignal
  /** For tests of the default-target path: fake interfaces instead of the machine's. */
  interfaces?: InterfaceInfo[]
}

export interface ReportedHost extends Omit<HostResult, 'seen_ms'> {
  device_id: number | null
  new: boolean
  seen: string
  seen_ms: number
}

export interface ScanReport {
  scan: {
    id: number
    status: 'done' | 'interrupted'
    started: string
    started_ms: number
    finished: string
    finished_ms: number
    duration_ms: number
    targets: string[]
    addresses: number
    methods: Method[]
    ports: string | null
    ports_per_host: number
    tcp_engine: string
    icmp_tool: string | null
    neighbor_flushed: number
    /** Found only by the ARP/NDP wait, after their discovery window (slow responders). */
    late_found: string[]
    warnings: string[]
  }
  summary: Plan['counts'] & {registered: number; found: number}
  hosts: ReportedHost[]
  /** Found addresses that two or more MACs answered (arp-scan's DUP), each an `ip_conflict` event. */
  conflicts: IpConflict[]
}

/** This machine's interfaces with their link state (for the default targets). */
export function systemInterfaces(): InterfaceInfo[] {
  const out: InterfaceInfo[] = []
  for (const [name, list] of Object.entries(networkInterfaces())) {
    let up = true
    try {
      // "unknown" is what tun/wireguard and some drivers report while working: only "down"/"dormant" are down.
      const state = readFileSync(`/sys/class/net/${name}/operstate`, 'utf8').trim()
      up = state !== 'down' && state !== 'dormant' && state !== 'lowerlayerdown' && state !== 'notpresent'
    } catch {
      up = true
    }
    out.push({
      name,
      up,
      addresses: (list ?? []).map(a => ({address: a.address, netmask: a.netmask, family: a.family as 'IPv4' | 'IPv6', internal: a.internal})),
    })
  }
  return out
}

/** `--dns-server` values: `host`, `host:port`, `[v6]:port`. */
export function parseDnsServers(list: string[]): string[] {
  return list.map(s => {
    const t = s.trim()
    const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(t)
    const v4 = /^([^:]+)(?::(\d+))?$/.exec(t)
    const host = v6 ? v6[1]! : v4 ? v4[1]! : t
    const port = v6 ? v6[2] : v4 ? v4[2] : undefined
    if (!parseIpLiteral(host) || (port !== undefined && !(Number(port) >= 1 && Number(port) <= 65535))) {
      throw invalidInput(`--dns-server "${s}" is not an address[:port]`, 'use e.g. 192.168.1.1, 127.0.0.1:5353 or [fd00::1]:53')
    }
    return t
  })
}

class ProgressWriter {
  private last = ''
  private inFlight: Promise<unknown> | null = null
  private timer: NodeJS.Timeout | null = null
  private latest: ScanProgress | null = null

  constructor(
    private readonly store: Store,
    private readonly scanId: number,
    intervalMs = 500,
  ) {
    this.timer = setInterval(() => this.flush(), intervalMs)
    this.timer.unref()
  }

  update(p: ScanProgress): void {
    this.latest = p
  }

  /** One small UPDATE when something changed; never two in flight. */
  flush(): Promise<unknown> {
    const p = this.latest
    if (!p || this.inFlight) return this.inFlight ?? Promise.resolve()
    const key = `${p.hosts_done}/${p.found}/${p.ports_done}/${p.ports_total}`
    if (key === this.last) return Promise.resolve()
    this.last = key
    this.inFlight = this.store
      .batch([
        {
          sql: `UPDATE scans SET hosts_done = ?, found = ?, ports_total = ?, ports_done = ?, updated_at = ? WHERE id = ? AND status = 'running'`,
          args: [p.hosts_done, p.found, p.ports_total, p.ports_done, Date.now(), this.scanId],
        },
      ])
      .catch(() => undefined) // progress is best effort; the final write reports real failures
      .finally(() => (this.inFlight = null))
    return this.inFlight
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    await this.inFlight
  }
}

export async function scan(req: ScanRequest, hooks: ScanHooks): Promise<ScanReport> {
  // 1. Validate everything before touching the store.
  let targetSpecs = req.targets
  if (targetSpecs === null) {
    const d = defaultTargets(hooks.interfaces ?? systemInterfaces(), {force: req.force, allowPublic: req.allowPublic})
    for (const n of d.notes) hooks.onNote?.(n)
    if (d.targets.length === 0) {
      throw invalidInput('no targets given and no usable interface subnet found', 'name targets explicitly, e.g. netmon scan 192.168.1.0/24')
    }
    targetSpecs = d.targets
  }
  const {ranges} = await resolveTargets(targetSpecs, {allowPublic: req.allowPublic, force: req.force})
  const excluded = await resolveExcludes(req.exclude ?? [])
  const ports = req.ports === null ? null : parsePorts(req.ports)
  const dnsServers = parseDnsServers(req.dnsServers)
  if (req.methods.length === 0) throw invalidInput('--method names no method', 'use neighbor, tcp, icmp or a comma list of them')
  // Excluded addresses are dropped before anything is probed (and are not "covered": a device
  // there is not marked offline). The size limits apply to the targets before exclusion.
  const addresses = excludeAddresses(expandRanges(ranges), excluded)
  if (addresses.length === 0) throw invalidInput('every target address is excluded', 'narrow --exclude / --exclude-file, or widen the targets')
  const count = addresses.length

  // 2. Record the scan, while the probing already starts: opening the store (loading the client,
  //    checking migrations) costs ~100 ms of CPU that overlaps the probes' waiting instead of
  //    preceding it. The engine is stopped if the store cannot be opened.
  const startedMs = Date.now()
  const ac = new AbortController()
  const onOuterAbort = () => ac.abort()
  hooks.signal?.addEventListener('abort', onOuterAbort, {once: true})
  if (hooks.signal?.aborted) ac.abort()
  let latest: ScanProgress | null = null
  let writer: ProgressWriter | null = null
  const opened = (async () => {
    const store = await hooks.openStore()
    const ins = await store.batch([
      {
        sql: `INSERT INTO scans(started_at, updated_at, status, targets, methods, ports, hosts_total, pid, hostname)
              VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?)`,
        args: [startedMs, Date.now(), JSON.stringify(targetSpecs), JSON.stringify(req.methods), req.ports, count, process.pid, machineName()],
      },
    ])
    const scanId = Number(ins[0]!.lastInsertRowid)
    writer = new ProgressWriter(store, scanId)
    if (latest) writer.update(latest)
    return {store, scanId}
  })()
  opened.catch(() => ac.abort())

  // 3. Run.
  let engine: Awaited<ReturnType<typeof runEngine>>
  try {
    engine = await runEngine({
      targets: addresses,
      methods: req.methods,
      timeoutMs: req.timeoutMs,
      retries: req.retries,
      concurrency: req.concurrency,
      ports,
      portTimeoutMs: req.portTimeoutMs,
      maxSockets: req.maxSockets,
      banners: req.banners,
      bannerTimeoutMs: req.bannerTimeoutMs,
      rdns: {enabled: req.rdns, servers: dnsServers, timeoutMs: req.rdnsTimeoutMs},
      arpWaitMs: req.arpWaitMs,
      signal: ac.signal,
      onHost: hooks.onHost,
      onProgress: p => {
        latest = p
        writer?.update(p)
        hooks.onProgress?.(p)
      },
    })
  } catch (e) {
    const w = writer as ProgressWriter | null
    await w?.stop()
    const rec = await opened.catch(() => null)
    await rec?.store
      .batch([
        {
          sql: `UPDATE scans SET status = 'failed', finished_at = ?, updated_at = ?, error = ? WHERE id = ?`,
          args: [Date.now(), Date.now(), String((e as Error)?.message ?? e), rec.scanId],
        },
      ])
      .catch(() => undefined)
    throw e
  } finally {
    hooks.signal?.removeEventListener('abort', onOuterAbort)
  }
  // A store that failed to open stopped the engine: report that failure, not a partial scan.
  const {store, scanId} = await opened

  // 3b. IP conflicts: the found on-link hosts are asked once more, each reply counted.
  let conflicts: IpConflict[] = []
  if (req.conflictCheck !== false && !engine.aborted) {
    const links = onLinkTable(networkInterfaces())
    const linkOf = (ip: string): string | null => {
      const {version, value} = ipToBig(ip)
      return links.find(l => l.version === version && value >= l.first && value <= l.last)?.iface ?? null
    }
    const c = await checkConflicts(engine.hosts, {linkOf, signal: ac.signal})
    conflicts = c.conflicts
    engine.warnings.push(...c.warnings)
  }
  await (writer as ProgressWriter | null)?.stop()
  for (const w of engine.warnings) hooks.onNote?.(w)

  // 4. Inventory + final scan row, atomically.
  const finishedMs = Date.now()
  const applied = await applyScan(store, {
    scanId,
    hosts: engine.hosts,
    covered: engine.covered,
    scannedPorts: ports,
    now: finishedMs,
    reachable: engine.reachable,
    conflicts,
    register: req.register,
    status: engine.aborted ? 'interrupted' : 'done',
    warnings: engine.warnings,
    progress: engine.progress,
  })

  return {
    scan: {
      id: scanId,
      status: engine.aborted ? 'interrupted' : 'done',
      started: isoOf(startedMs),
      started_ms: startedMs,
      finished: isoOf(finishedMs),
      finished_ms: finishedMs,
      duration_ms: finishedMs - startedMs,
      targets: targetSpecs,
      addresses: count,
      methods: engine.methods,
      ports: req.ports,
      ports_per_host: ports?.length ?? 0,
      tcp_engine: engine.tcp_engine,
      icmp_tool: engine.icmp_tool,
      neighbor_flushed: engine.neighbor_flushed,
      late_found: engine.late_found,
      warnings: engine.warnings,
    },
    summary: {...applied.counts, found: engine.hosts.length},
    hosts: engine.hosts.map(h => {
      const id = applied.devices.get(h.ip) ?? null
      const {seen_ms, ...rest} = h
      return {...rest, device_id: id, new: id !== null && applied.created.has(id), seen: isoOf(seen_ms), seen_ms}
    }),
    conflicts,
  }
}

/**
 * The NetFlow/IPFIX flow source skeleton: a UDP listener (node:dgram) feeding decode() and
 * aggregating bytes per LAN host (the side of a flow inside the configured local subnets) per
 * interval, keyed by the flow's own end time so late flows land in their bucket.
 *
 * Unlike a CounterSource (collect/source.ts) this yields DELTAS, not cumulative counters: the agent's
 * netflow job (agent/host.ts) drains the buckets each interval into bandwidth accounting (delta
 * mode, bandwidth/flows.ts), with per-(protocol, port) totals per host (see portOf()).
 *
 * Bounded: the TemplateCache caps templates/exporters; buckets, hosts per bucket, ports per host
 * and the held entries overall are capped too, with what did not fit counted (`overflowFlows`;
 * ports beyond the per-host cap are summed into port 0, `portOverflowFlows`). Nothing a datagram
 * holds can throw out of the message handler.
 */
import dgram from 'node:dgram'
import {isIPv4, isIPv6} from 'node:net'
import {decode} from './decode.js'
import {TemplateCache, type TemplateCacheOptions} from './templates.js'
import type {FlowRecord, MalformedReason} from './types.js'

export interface NetflowListenerOptions {
  /** Default 0.0.0.0 (IPv4) — give 127.0.0.1 or a LAN address to listen on one interface. */
  address?: string
  /** Default 2055; 0 picks a free port (see address()). */
  port?: number
  /** CIDRs whose addresses are LAN hosts ("10.0.0.0/8", "fd00::/8"). Flows with neither side inside are counted as unattributed. */
  localSubnets: string[]
  /** Bucket width, default 60 s. */
  intervalMs?: number
  /** Only these exporter addresses are decoded (others are dropped, counted); default: all. */
  exporters?: string[]
  cache?: TemplateCacheOptions
  /** Caps on held aggregation state: default 10,000 hosts per bucket, 1,440 open buckets. */
  maxHostsPerBucket?: number
  maxBuckets?: number
  /** Distinct (protocol, port) entries kept per host per bucket (default 64); the rest go to port 0. */
  maxPortsPerHost?: number
  /** Host entries held over all open buckets (default 100,000): a flood of timestamps cannot multiply the host cap. */
  maxHeldHosts?: number
}

/** Traffic of one host with one (protocol, port), see portOf(). */
export interface PortTotals {
  protocol: number
  port: number
  bytesUp: number
  bytesDown: number
  flows: number
}

/** Protocols whose flow records carry ports (TCP, UDP, DCCP, SCTP, UDP-Lite); others get port 0 (v5 puts ICMP type/code in the port). */
const PORTED = new Set([6, 17, 33, 132, 136])

/**
 * The port a flow is filed under for the LAN host on one side: the remote side's port when it is a
 * well-known port (< 1024), else the lower of the two ports (the side that is most likely the
 * service: 5001 for an iperf client on 51000). 0 for protocols without ports.
 */
export function portOf(protocol: number, localPort: number, remotePort: number): number {
  if (!PORTED.has(protocol)) return 0
  if (remotePort > 0 && remotePort < 1024) return remotePort
  return Math.min(localPort, remotePort)
}

export interface HostTotals {
  /** Bytes the host sent (flows with the host as source), scaled by sampling. */
  bytesUp: number
  bytesDown: number
  packetsUp: number
  packetsDown: number
  flows: number
  /** By "protocol/port" (portOf from this host's side), at most maxPortsPerHost entries. */
  ports: Map<string, PortTotals>
}

export interface Bucket {
  /** Bucket start (Unix ms). */
  startMs: number
  hosts: Map<string, HostTotals>
}

export interface ListenerCounters {
  /** Datagrams read from the socket. */
  received: number
  /** Datagrams that decoded. */
  decoded: number
  /** Datagrams not decoded on purpose: exporter not allowed. */
  dropped: number
  /** Datagrams that failed to decode, and why. */
  malformed: number
  malformedByReason: Partial<Record<MalformedReason, number>>
  /** Flow records decoded; of those: attributed to no LAN host, or not held because a cap was hit. */
  flows: number
  unattributedFlows: number
  overflowFlows: number
  /** Data sets skipped for an unknown template (all exporters). */
  unknownSets: number
  /** Records whose counts were scaled up by a sampling interval > 1. */
  sampledFlows: number
  /** Host sides whose port breakdown did not fit the per-host cap (their bytes are in port 0). */
  portOverflowFlows: number
}

interface Cidr {
  v6: boolean
  bytes: Uint8Array
  prefix: number
}

export function parseCidr(s: string): Cidr {
  const [addr, p] = s.split('/')
  const v6 = isIPv6(addr)
  if (!v6 && !isIPv4(addr)) throw new Error(`not an address: ${s}`)
  const prefix = p === undefined ? (v6 ? 128 : 32) : Number(p)
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > (v6 ? 128 : 32)) throw new Error(`bad prefix length: ${s}`)
  return {v6, bytes: addrBytes(addr, v6), prefix}
}

function addrBytes(a: string, v6: boolean): Uint8Array {
  if (!v6) return Uint8Array.from(a.split('.').map(Number))
  const out = new Uint8Array(16)
  let s = a
  const m = /(\d+\.\d+\.\d+\.\d+)$/.exec(s)
  if (m) {
    const v4 = m[1].split('.').map(Number)
    s = `${s.slice(0, -m[1].length)}${((v4[0] << 8) | v4[1]).toString(16)}:${((v4[2] << 8) | v4[3]).toString(16)}`
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined]
  const hs = head ? head.split(':') : []
  const ts = tail ? tail.split(':') : []
  const groups = tail === undefined ? hs : [...hs, ...new Array(8 - hs.length - ts.length).fill('0'), ...ts]
  for (let i = 0; i < 8; i++) {
    const g = Number.parseInt(groups[i] ?? '0', 16)
    out[2 * i] = g >> 8
    out[2 * i + 1] = g & 255
  }
  return out
}

function inCidr(bytes: Uint8Array, c: Cidr): boolean {
  let bits = c.prefix
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff
    if ((bytes[i] & mask) !== (c.bytes[i] & mask)) return false
  }
  return true
}

export class NetflowListener {
  readonly cache: TemplateCache
  readonly counters: ListenerCounters = {
    received: 0,
    decoded: 0,
    dropped: 0,
    malformed: 0,
    malformedByReason: {},
    flows: 0,
    unattributedFlows: 0,
    overflowFlows: 0,
    unknownSets: 0,
    sampledFlows: 0,
    portOverflowFlows: 0,
  }
  private readonly subnets: Cidr[]
  private readonly intervalMs: number
  private readonly allowed: Set<string> | null
  private readonly maxHosts: number
  private readonly maxBuckets: number
  private readonly maxPorts: number
  private readonly maxHeld: number
  private held = 0
  private readonly buckets = new Map<number, Map<string, HostTotals>>()
  private sock: dgram.Socket | null = null
  private readonly localMemo = new Map<string, boolean>()

  constructor(private readonly opts: NetflowListenerOptions) {
    this.subnets = opts.localSubnets.map(parseCidr)
    this.intervalMs = opts.intervalMs ?? 60_000
    this.allowed = opts.exporters?.length ? new Set(opts.exporters) : null
    this.maxHosts = opts.maxHostsPerBucket ?? 10_000
    this.maxBuckets = opts.maxBuckets ?? 1440
    this.maxPorts = opts.maxPortsPerHost ?? 64
    this.maxHeld = opts.maxHeldHosts ?? 100_000
    this.cache = new TemplateCache(opts.cache)
  }

  /** Binds the socket; resolves with the bound address and port. */
  async start(): Promise<{address: string; port: number}> {
    const address = this.opts.address ?? '0.0.0.0'
    const sock = dgram.createSocket({type: isIPv6(address) ? 'udp6' : 'udp4', recvBufferSize: 4 << 20})
    this.sock = sock
    sock.on('message', (msg, rinfo) => this.ingest(msg, rinfo.address))
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject)
      sock.bind(this.opts.port ?? 2055, address, () => {
        sock.off('error', reject)
        resolve()
      })
    })
    // Socket errors after bind (ICMP-induced etc.) must not kill the process.
    sock.on('error', () => {})
    return this.address()
  }

  address(): {address: string; port: number} {
    const a = this.sock?.address()
    return {address: a?.address ?? '', port: a?.port ?? 0}
  }

  async stop(): Promise<void> {
    const s = this.sock
    this.sock = null
    if (s) await new Promise<void>(r => s.close(() => r()))
  }

  /** One datagram from `exporter` (public so tests and replays can feed bytes without a socket). */
  ingest(msg: Uint8Array, exporter: string): void {
    const c = this.counters
    c.received++
    if (this.allowed && !this.allowed.has(exporter)) {
      c.dropped++
      return
    }
    const r = decode(msg, exporter, this.cache)
    if (!r.ok) {
      c.malformed++
      c.malformedByReason[r.reason] = (c.malformedByReason[r.reason] ?? 0) + 1
      return
    }
    c.decoded++
    c.unknownSets += r.unknownSets
    for (const f of r.records) this.add(f, r.exportMs)
  }

  private isLocal(ip: string): boolean {
    if (!ip) return false
    let v = this.localMemo.get(ip)
    if (v === undefined) {
      const v6 = ip.includes(':')
      const b = addrBytes(ip, v6)
      v = this.subnets.some(s => s.v6 === v6 && inCidr(b, s))
      if (this.localMemo.size > 65536) this.localMemo.clear()
      this.localMemo.set(ip, v)
    }
    return v
  }

  private add(f: FlowRecord, exportMs: number): void {
    const c = this.counters
    c.flows++
    const srcLocal = this.isLocal(f.src)
    const dstLocal = this.isLocal(f.dst)
    if (!srcLocal && !dstLocal) {
      c.unattributedFlows++
      return
    }
    const k = Math.max(f.samplingInterval, 1)
    if (k > 1) c.sampledFlows++
    const ts = f.endMs ?? f.startMs ?? exportMs
    const start = Math.floor(ts / this.intervalMs) * this.intervalMs
    let hosts = this.buckets.get(start)
    if (!hosts) {
      if (this.buckets.size >= this.maxBuckets) {
        c.overflowFlows++
        return
      }
      hosts = new Map()
      this.buckets.set(start, hosts)
    }
    const bytes = f.octets * k
    const packets = f.packets * k
    if (srcLocal && !this.bump(hosts, f.src, bytes, packets, true, f.protocol, portOf(f.protocol, f.srcPort, f.dstPort))) c.overflowFlows++
    if (dstLocal && !this.bump(hosts, f.dst, bytes, packets, false, f.protocol, portOf(f.protocol, f.dstPort, f.srcPort))) c.overflowFlows++
  }

  private bump(hosts: Map<string, HostTotals>, ip: string, bytes: number, packets: number, up: boolean, protocol: number, port: number): boolean {
    let h = hosts.get(ip)
    if (!h) {
      if (hosts.size >= this.maxHosts || this.held >= this.maxHeld) return false
      h = {bytesUp: 0, bytesDown: 0, packetsUp: 0, packetsDown: 0, flows: 0, ports: new Map()}
      hosts.set(ip, h)
      this.held++
    }
    let pk = `${protocol}/${port}`
    let p = h.ports.get(pk)
    if (!p && h.ports.size >= this.maxPorts) {
      this.counters.portOverflowFlows++
      pk = `${protocol}/0`
      p = h.ports.get(pk)
      port = 0
    }
    if (!p) {
      // The one extra entry a capped host may get is its protocol's port 0.
      p = {protocol, port, bytesUp: 0, bytesDown: 0, flows: 0}
      h.ports.set(pk, p)
    }
    if (up) p.bytesUp += bytes
    else p.bytesDown += bytes
    p.flows++
    if (up) {
      h.bytesUp += bytes
      h.packetsUp += packets
    } else {
      h.bytesDown += bytes
      h.packetsDown += packets
    }
    h.flows++
    return true
  }

  /** Host entries held over all open buckets. */
  get heldHosts(): number {
    return this.held
  }

  /** Buckets open (not drained yet). */
  get openBuckets(): number {
    return this.buckets.size
  }

  /** Removes and returns the buckets that started before `beforeMs` (default: all), oldest first. */
  drain(beforeMs = Number.POSITIVE_INFINITY): Bucket[] {
    const out: Bucket[] = []
    for (const [startMs, hosts] of this.buckets) if (startMs < beforeMs) out.push({startMs, hosts})
    for (const b of out) {
      this.buckets.delete(b.startMs)
      this.held -= b.hosts.size
    }
    return out.sort((a, b) => a.startMs - b.startMs)
  }
}

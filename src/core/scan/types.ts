import type {MacKind} from './vendor.js'

/** How a host proved it is there (issue 5: `--method neighbor,tcp,icmp`). */
export type Method = 'neighbor' | 'tcp' | 'icmp'
export const METHODS: readonly Method[] = ['neighbor', 'tcp', 'icmp']

export interface PortResult {
  port: number
  proto: 'tcp'
  service: string | null
  banner?: string | null
}

/** Scanned ports by final state, as nmap names them: open (accepted), closed (refused), filtered (no answer, or unreachable). */
export interface PortsSummary {
  open: number
  closed: number
  filtered: number
}

export interface HostResult {
  ip: string
  mac: string | null
  mac_kind: MacKind | null
  vendor: string | null
  hostname: string | null
  /** Methods that answered, in METHODS order. */
  found_by: Method[]
  /** Round-trip of the fastest answering probe (TCP handshake or ICMP echo), ms. */
  rtt_ms: number | null
  /** Interface the host was reached on (from the neighbor table), when known. */
  interface: string | null
  /** One of this machine's own addresses. */
  self: boolean
  /** Present only when the scan included a port scan: open TCP ports. */
  ports?: PortResult[]
  /** Present with `ports`: how many of the scanned ports ended in each state (port-state.ts). */
  ports_summary?: PortsSummary
  /** When the host answered (epoch ms). */
  seen_ms: number
}

export interface ScanProgress {
  hosts_total: number
  hosts_done: number
  found: number
  ports_total: number
  ports_done: number
}

/**
 * Counter sources (issue 14): every periodic sampler — this machine's interfaces, netmon's nftables
 * table on a router, later SNMP agents and NetFlow exporters — implements one interface and is
 * driven by one collector runner (runner.ts), which turns readings into a counter-mode batch for
 * bandwidth accounting (wrap, reset, late readings and the max-rate guard stay the one pure
 * function in bandwidth/counters.ts).
 *
 *   const src: CounterSource = {name: 'iface', kind: 'iface', read: async signal => [...]}
 *
 * A source never writes the store itself: it reads counters and says what they belong to; what it
 * reads beside them (afterWrite) is stored through the module that owns that table.
 */
import type {Store} from '../store/index.js'

/** Cumulative counters a source reports. Bytes are required; the rest where the source has them. */
export interface Counters {
  /** Bytes the device sent (for an interface: transmitted). */
  bytesSent: bigint
  bytesReceived: bigint
  packetsSent?: bigint
  packetsReceived?: bigint
  /** Errors/drops each way (interfaces, SNMP ifInErrors/ifOutDiscards …). */
  errorsSent?: bigint
  errorsReceived?: bigint
  dropsSent?: bigint
  dropsReceived?: bigint
}

/**
 * What a reading belongs to. A MAC is the device itself; an IP is resolved to a MAC by the
 * source where it can (neighbor table) and otherwise keyed by address; `source`+`key` is a
 * counter with no address of its own (an SNMP agent's ifIndex).
 */
export type ReadingKey = {mac: string} | {ip: string} | {source: string; key: string}

export interface CounterReadingIn {
  key: ReadingKey
  /** When the source read the counters (epoch ms, the source's own clock). */
  ts: number
  counters: Counters
  /** Refreshes the device: its current address, a name for a device the reading creates. */
  ip?: string | null
  label?: string
  /** Stable counter identity within the source (iface:eth0, nft:10.77.0.5): a new id is a new counter. */
  counterId: string
  /** Bounds on what a wrap may imply (bits/s) and when the counter's host booted (epoch ms). */
  linkSpeedBps?: number | null
  bootTimeMs?: number | null
  /** This reading's counter width where it differs from the source's (an SNMP port without ifHC* counters: 32). */
  bits?: 32 | 64
}

export interface CounterSource {
  /** Instance name, unique within a runner (e.g. "iface", "nft:lan"). */
  readonly name: string
  /** Source type: iface, nft, snmp, netflow. */
  readonly kind: string
  /** Counter width: 64 where the source guarantees it, else auto (decide per wrap). */
  readonly bits?: 32 | 64 | 'auto'
  /** One reading of every counter the source has. Rejects with a NetmonError naming what is missing. */
  read(signal: AbortSignal): Promise<CounterReadingIn[]>
  /**
   * Stores what the last read found beside its counters (an SNMP agent's forwarding table), through
   * the module that owns it; the runner calls it after the read's counters are written. A failure
   * is logged and never fails the counters. Optional.
   */
  afterWrite?(store: Store): Promise<void>
  /** Releases what the source holds (sockets, child processes). Optional. */
  close?(): Promise<void>
}

/** Per-source status the runner keeps (agent status, /metrics). */
export interface SourceStatus {
  name: string
  kind: string
  /** ok after the last read succeeded, error after it failed, pending before the first. */
  state: 'pending' | 'ok' | 'error'
  reads: number
  failures: number
  consecutiveFailures: number
  lastReadAt: number | null
  lastOkAt: number | null
  lastDurationMs: number | null
  lastReadings: number
  lastError: string | null
}

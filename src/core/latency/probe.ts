/**
 * What a probing session (ICMP through `ping`, or TCP connect) reports: every probe it sent is
 * settled exactly once, as a reply (RTT known) or a loss. Probes still in flight when a session
 * is stopped are not reported at all (neither sent nor lost), so an interrupted run does not
 * invent loss.
 */
import type {Target} from './targets.js'

export type Method = 'icmp' | 'tcp'

/**
 * reply: an echo reply / an accepted connection. refused: TCP RST (the host is alive; the RTT is
 * measured). timeout: nothing within --timeout (or a reply that came later). unreachable: an ICMP
 * error ("Destination Host Unreachable") or EHOSTUNREACH/ENETUNREACH. error: the probe could not
 * be sent (e.g. `ping: connect: Network is unreachable`).
 */
export type ProbeStatus = 'reply' | 'refused' | 'timeout' | 'unreachable' | 'error'

export interface Probe {
  /** 1-based, per host and session. */
  seq: number
  /** Send time, epoch ms. */
  ts: number
  /** null = lost. */
  rtt_ms: number | null
  status: ProbeStatus
  detail?: string
}

export interface SessionOptions {
  target: Target
  /** Probes to send; null = until stop(). */
  count: number | null
  intervalMs: number
  timeoutMs: number
  onProbe: (probe: Probe) => void
  /** An extra reply to probe `seq` (ICMP `DUP!`). */
  onDuplicate?: (seq: number) => void
}

export interface SessionEnd {
  /** Extra replies to a probe already answered (`DUP!`). */
  duplicates: number
  /** Why the session could not probe (host-level: e.g. no route), else null. */
  error: string | null
}

export interface Session {
  readonly done: Promise<SessionEnd>
  /** Stops sending; in-flight probes are dropped; `done` resolves soon after. */
  stop(): void
}

export const isReceived = (p: Probe): boolean => p.rtt_ms !== null

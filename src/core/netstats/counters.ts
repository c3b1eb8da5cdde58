/** Pure parsing and counter arithmetic (no I/O), tested with a table of edge cases. */
import {parseProcNetDev, type ProcNetDevRow} from '../collect/procnetdev.js'

export interface IfCounters {
  rxBytes: number
  rxPackets: number
  txBytes: number
  txPackets: number
  /** Errors and drops each way (absent from sources that do not have them). */
  rxErrors?: number
  rxDrops?: number
  txErrors?: number
  txDrops?: number
}

/** Rows of the one /proc/net/dev parser (collect/procnetdev.ts) as the sampler's per-interface numbers. */
export function ifCountersOf(rows: ProcNetDevRow[]): Map<string, IfCounters> {
  const out = new Map<string, IfCounters>()
  for (const r of rows) {
    out.set(r.name, {
      rxBytes: Number(r.rxBytes),
      rxPackets: Number(r.rxPackets),
      txBytes: Number(r.txBytes),
      txPackets: Number(r.txPackets),
      rxErrors: Number(r.rxErrors),
      rxDrops: Number(r.rxDrops),
      txErrors: Number(r.txErrors),
      txDrops: Number(r.txDrops),
    })
  }
  return out
}

/** /proc/net/dev text → per-interface counters (through the one parser). */
export const procNetDevCounters = (text: string): Map<string, IfCounters> => ifCountersOf(parseProcNetDev(text))

const U32 = 2 ** 32

/**
 * Increase of a monotonic counter between two reads. A decrease means the counter wrapped (32-bit
 * counters on some drivers/platforms) or was reset (interface re-created, driver reloaded); vnStat's
 * lesson is that guessing wrong here produces absurd spikes, so:
 *  - previous value below 2^32 and the new one smaller: a 32-bit wrap, delta = 2^32 − prev + cur,
 *    accepted only when that is plausible (≤ `maxDelta`), otherwise treated as a reset;
 *  - otherwise a reset: the new value is all we know happened since (delta = cur, capped at maxDelta).
 */
export function counterDelta(prev: number, cur: number, maxDelta = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isFinite(prev) || !Number.isFinite(cur) || cur < 0) return 0
  if (cur >= prev) return Math.min(cur - prev, maxDelta)
  if (prev < U32) {
    const wrapped = U32 - prev + cur
    if (wrapped <= maxDelta) return wrapped
  }
  return Math.min(cur, maxDelta)
}

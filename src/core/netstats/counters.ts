/** Pure parsing and counter arithmetic (no I/O), tested with a table of edge cases. */

export interface IfCounters {
  rxBytes: number
  rxPackets: number
  txBytes: number
  txPackets: number
}

/**
 * Parses /proc/net/dev: two header lines, then `  iface: rx_bytes rx_packets errs drop fifo frame
 * compressed multicast tx_bytes tx_packets …`. Lines that do not match are skipped (a kernel that
 * adds columns keeps the first 10 in place).
 */
export function parseProcNetDev(text: string): Map<string, IfCounters> {
  const out = new Map<string, IfCounters>()
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':')
    if (colon < 0) continue
    const name = line.slice(0, colon).trim()
    if (!name || name.includes('|')) continue
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number)
    if (f.length < 10 || f.slice(0, 10).some(n => !Number.isFinite(n))) continue
    out.set(name, {rxBytes: f[0]!, rxPackets: f[1]!, txBytes: f[8]!, txPackets: f[9]!})
  }
  return out
}

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

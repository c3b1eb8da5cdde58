/**
 * The one /proc/net/dev parser (issue 14): `bandwidth sample --from iface` (bandwidth/iface.ts),
 * the collector's interface source and the bridge's self-metrics sampler (netstats/sampler.ts)
 * all read interface counters through here.
 *
 *   Inter-|   Receive                                                |  Transmit
 *    face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
 *     eth0: 123456 1000 0 0 0 0 0 0 654321 900 0 0 0 0 0 0
 *
 * Receive fields 1–4 are bytes, packets, errs, drop; transmit fields 9–12 the same. Values are
 * BigInt: 64-bit kernels count bytes up to 2^64 − 1, beyond a JS number's exact range. Lines that
 * do not match (headers, garbage, too few fields) are skipped; a kernel that appends columns
 * keeps the first 16 in place.
 */

export interface ProcNetDevRow {
  name: string
  rxBytes: bigint
  rxPackets: bigint
  rxErrors: bigint
  rxDrops: bigint
  txBytes: bigint
  txPackets: bigint
  txErrors: bigint
  txDrops: bigint
}

const DIGITS = /^\d{1,20}$/

export function parseProcNetDev(text: string): ProcNetDevRow[] {
  const out: ProcNetDevRow[] = []
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':')
    if (colon < 0 || line.includes('|')) continue
    const name = line.slice(0, colon).trim()
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
    if (!name || f.length < 12 || f.slice(0, 12).some(x => !DIGITS.test(x))) continue
    const n = (i: number): bigint => BigInt(f[i]!)
    out.push({
      name,
      rxBytes: n(0),
      rxPackets: n(1),
      rxErrors: n(2),
      rxDrops: n(3),
      txBytes: n(8),
      txPackets: n(9),
      txErrors: n(10),
      txDrops: n(11),
    })
  }
  return out
}

/** systeminformation's networkStats() row (the non-Linux path): what it has, as the same row. */
export interface SiNetworkStats {
  iface: string
  rx_bytes: number
  tx_bytes: number
  rx_errors?: number
  tx_errors?: number
  rx_dropped?: number
  tx_dropped?: number
}

const big = (v: number | undefined): bigint => BigInt(Number.isFinite(v) && v! > 0 ? Math.floor(v!) : 0)

/** Packets are not in systeminformation's networkStats: 0 (callers that need them know the platform). */
export function fromSystemInformation(s: SiNetworkStats): ProcNetDevRow {
  return {
    name: s.iface,
    rxBytes: big(s.rx_bytes),
    rxPackets: 0n,
    rxErrors: big(s.rx_errors),
    rxDrops: big(s.rx_dropped),
    txBytes: big(s.tx_bytes),
    txPackets: 0n,
    txErrors: big(s.tx_errors),
    txDrops: big(s.tx_dropped),
  }
}

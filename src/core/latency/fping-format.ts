/**
 * fping's output formats, for `netmon latency -q / -a / -u` (issue 17: fping users' scripts parse
 * these). Pure text from a result; the command decides where it goes.
 *
 * fping 5.1 (Debian 12), `fping -q -c 3 10.0.0.1 10.0.0.22`, prints per host:
 *   10.0.0.1  : xmt/rcv/%loss = 3/3/0%, min/avg/max = 0.025/0.312/0.882
 *   10.0.0.22 : xmt/rcv/%loss = 3/0/100%
 * - the host as given, padded to the longest one;
 * - loss is (sent − received) × 100 / sent in integer arithmetic (truncated: 1 of 3 lost = 33%);
 * - times as fping's sprint_tm: < 1 ms three decimals, < 10 ms two, < 100 ms one, else none.
 */

export interface FpingHost {
  host: string
  sent: number
  received: number
  min_ms: number | null
  avg_ms: number | null
  max_ms: number | null
}

/** A time the way fping 5 prints it (sprint_tm in fping.c). */
export function fpingTime(ms: number): string {
  if (ms < 0) return ms.toPrecision(2)
  if (ms < 1) return ms.toFixed(3)
  if (ms < 10) return ms.toFixed(2)
  if (ms < 100) return ms.toFixed(1)
  if (ms < 1_000_000) return ms.toFixed(0)
  return ms.toExponential(3)
}

/** fping -q's per-host summary lines (`-c` count mode), one per host, in the given order. */
export function fpingSummaryLines(hosts: readonly FpingHost[]): string[] {
  const width = hosts.reduce((w, h) => Math.max(w, h.host.length), 0)
  return hosts.map(h => {
    const loss = h.sent > 0 ? Math.trunc(((h.sent - h.received) * 100) / h.sent) : 0
    let line = `${h.host.padEnd(width)} : xmt/rcv/%loss = ${h.sent}/${h.received}/${loss}%`
    if (h.received > 0 && h.min_ms !== null && h.avg_ms !== null && h.max_ms !== null) {
      line += `, min/avg/max = ${fpingTime(h.min_ms)}/${fpingTime(h.avg_ms)}/${fpingTime(h.max_ms)}`
    }
    return line
  })
}

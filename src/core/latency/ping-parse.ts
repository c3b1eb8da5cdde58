/**
 * Parser for the per-line output of the system `ping` (iputils on Linux; also the BSD/macOS and
 * BusyBox line shapes), pure so it is tested on captured output (test/unit/latency/fixtures).
 *
 * We run ping with `LC_ALL=C`, but a ping built with NLS or a wrapper may still localise, so the
 * parser does not depend on English words where it can avoid it:
 * - sequence: `icmp_seq=N` (iputils ≥ s20150815), `icmp_req=N` (older iputils), `seq=N` (BusyBox);
 * - RTT: the `<word>=N ms` or `<word><N ms` pair on a reply line: `time=0.045 ms`, `time<1 ms`
 *   (Windows, old iputils below the clock resolution), `Zeit=0,045 ms` (decimal comma);
 * - `(DUP!)` marks a duplicate reply; a second reply for the same seq is a duplicate anyway;
 * - `[1795453729.675702]` is the receive time printed by `-D` (epoch seconds);
 * - `no answer yet for icmp_seq=N` (iputils `-O`): printed when probe N+1 is sent;
 * - `From 10.0.0.1 icmp_seq=N Destination Host Unreachable` (and other ICMP errors): a failed probe;
 * - `Request timeout for icmp_seq N` (BSD/macOS): a lost probe;
 * - `N packets transmitted, M received, +D duplicates, +E errors, …`: the final count.
 */

export type PingLine =
  | {kind: 'reply'; seq: number; rtt_ms: number; dup: boolean; from: string | null; recv_ms: number | null; bound: boolean}
  | {kind: 'no_answer'; seq: number; at_ms: number | null}
  | {kind: 'error_reply'; seq: number; from: string | null; message: string; at_ms: number | null}
  | {kind: 'timeout'; seq: number}
  | {kind: 'header'; address: string | null}
  | {kind: 'summary'; transmitted: number; received: number; duplicates: number; errors: number}

const STAMP = /^\[(\d+(?:\.\d+)?)\]\s*/
const SEQ = /\b(?:icmp_seq|icmp_req|seq)[=\s](\d+)/
// The RTT pair: a word, `=` or `<`, a number with `.` or `,` as decimal mark, then `ms`.
const RTT = /(?:^|\s)[^\s=<]+\s?([=<])\s?(\d+(?:[.,]\d+)?)\s?ms\b/g
// `from 10.0.0.2: icmp_seq`, `from ::1: icmp_seq`, `From 10.0.0.1 icmp_seq` (lazy, so an IPv6 address keeps its colons).
const FROM = /\bfrom\s+(\S+?):?\s/i
const SUMMARY = /^(\d+) packets transmitted, (\d+) (?:packets )?received(.*)$/

function num(text: string): number {
  return Number(text.replace(',', '.'))
}

/** Parses one line (without its newline). Returns null for lines that carry nothing we use. */
export function parsePingLine(raw: string): PingLine | null {
  let line = raw.trim()
  if (line === '') return null
  let stamp: number | null = null
  const st = STAMP.exec(line)
  if (st) {
    stamp = Math.round(Number(st[1]) * 1000 * 1000) / 1000
    line = line.slice(st[0].length)
  }

  const sum = SUMMARY.exec(line)
  if (sum) {
    const rest = sum[3] ?? ''
    const dup = /\+(\d+) duplicates?/.exec(rest)
    const err = /\+(\d+) errors?/.exec(rest)
    return {
      kind: 'summary',
      transmitted: Number(sum[1]),
      received: Number(sum[2]),
      duplicates: dup ? Number(dup[1]) : 0,
      errors: err ? Number(err[1]) : 0,
    }
  }
  if (/^PING\s/.test(line)) {
    const m = /\(([0-9a-fA-F:.]+)\)/.exec(line)
    return {kind: 'header', address: m ? m[1]! : null}
  }
  const noAnswer = /^no answer yet for icmp_seq=(\d+)/.exec(line)
  if (noAnswer) return {kind: 'no_answer', seq: Number(noAnswer[1]), at_ms: stamp}
  const reqTimeout = /^Request timeout for icmp_seq[= ](\d+)/i.exec(line)
  if (reqTimeout) return {kind: 'timeout', seq: Number(reqTimeout[1])}

  const seqM = SEQ.exec(line)
  if (!seqM) return null
  const seq = Number(seqM[1])

  // A reply carries an RTT pair after the sequence; an ICMP error line ("From X icmp_seq=N
  // Destination Host Unreachable", "Time to live exceeded") does not.
  let rtt: {op: string; value: number} | null = null
  RTT.lastIndex = 0
  let m: RegExpExecArray | null
  while ((m = RTT.exec(line)) !== null) rtt = {op: m[1]!, value: num(m[2]!)}
  if (rtt && Number.isFinite(rtt.value)) {
    const from = FROM.exec(line)
    // `time<1 ms`: below the clock's resolution; the midpoint of [0, bound) is the unbiased guess.
    const bound = rtt.op === '<'
    return {
      kind: 'reply',
      seq,
      rtt_ms: bound ? rtt.value / 2 : rtt.value,
      dup: /\(DUP!\)|\bDUP!/.test(line),
      from: from ? from[1]! : null,
      recv_ms: stamp,
      bound,
    }
  }
  const from = FROM.exec(line)
  const message = line
    .slice(seqM.index + seqM[0].length)
    .replace(/^[\s:]+/, '')
    .trim()
  return {kind: 'error_reply', seq, from: from ? from[1]! : null, message: message || 'ICMP error', at_ms: stamp}
}

/**
 * iputils prints icmp_seq as an unsigned 16-bit number, so a long `--watch` wraps from 65535 to
 * 0. Maps a printed seq to the full count nearest to `expected` (the next seq we expect).
 */
export function unwrapSeq(printed: number, expected: number): number {
  let best = expected - (expected % 65536) + printed
  for (const cand of [best - 65536, best + 65536]) {
    if (cand >= 0 && Math.abs(cand - expected) < Math.abs(best - expected)) best = cand
  }
  return best
}

/**
 * Sample input: every way of feeding `bandwidth sample` (flags, NDJSON on stdin, interface
 * counters) becomes one SampleBatch — MACs by index plus a spool of numeric records — validated
 * completely before anything is written (docs/CONVENTIONS.md: bad input writes nothing).
 *
 * NDJSON lines: {"mac", "sent"|"bytes_sent", "received"|"bytes_received", "ts"?, "ip"?, "hostname"?}.
 * `ts` is epoch ms as a JSON number or an ISO-8601 date-time string with a zone (default: when the
 * line was read); nothing relative, no numbers in strings (docs/CONVENTIONS.md, Time). Unknown keys are
 * ignored; blank lines are skipped (but counted for line numbers).
 */
import {invalidInput, type NetmonError} from '../errors.js'
import {normalizeIp} from '../devices/ip.js'
import {tryNormalizeMac} from '../devices/mac.js'
import {MAX_DATE_MS, parseStamp} from '../format/time.js'
import {parseCounter, type CounterBits, type CounterContext} from './counters.js'
import {Spool} from './spool.js'

export type SampleMode = 'delta' | 'counter'

export interface DeviceHint {
  ip?: string
  hostname?: string
  /** Hostname for a device created by --auto-register only (interface names). */
  label?: string
}

export interface SampleBatch {
  mode: SampleMode
  /** Normalised MACs; a record's first field is an index into this list. */
  macs: string[]
  /** Where each MAC first appeared (NDJSON line number), for error messages. */
  firstLine: number[]
  /** ip/hostname given with the samples (used by --auto-register, and to refresh the device). */
  hints: (DeviceHint | undefined)[]
  /**
   * delta: width 4 [k, ts, sent, received];
   * counter: width 6 [k, ts, sentHi, sentLo, receivedHi, receivedLo] (32-bit halves: exact to 2^64).
   */
  spool: Spool
  /** Source label for counter state (e.g. iface:eth0), by MAC index. */
  sources?: (string | undefined)[]
  /** Link speed / boot time the source knows (e.g. iface), by MAC index: feeds the counter rules. */
  counterContext?: (CounterContext | undefined)[]
}

/** Samples may not be stamped in the future: one would turn every later sample into a late one. */
export const MAX_FUTURE_MS = 5 * 60_000
/** Epoch ms below this (2000-01-01) are almost certainly seconds. */
const MIN_TS = 946_684_800_000

export function checkTs(ts: number, now: number, what: string): string | null {
  // Before the future check: toISOString throws a RangeError past the Date range (1e20), and
  // beyond 2^53 the JSON number is not the one written (9007199254740993 reads as …992).
  if (!Number.isSafeInteger(ts) && Number.isInteger(ts)) return `${what} ${ts} is out of range for epoch milliseconds`
  if (!Number.isInteger(ts)) return `${what} must be whole epoch milliseconds`
  if (ts > MAX_DATE_MS) return `${what} ${ts} is out of range for epoch milliseconds`
  if (ts < MIN_TS) return `${what} ${ts} is before 2000-01-01; epoch seconds? (use epoch milliseconds or ISO-8601)`
  if (ts > now + MAX_FUTURE_MS) return `${what} ${new Date(ts).toISOString()} is in the future`
  return null
}

const HI = 4294967296
export const splitBig = (v: bigint): [number, number] => [Number(v >> 32n), Number(v & 0xffffffffn)]
export const joinBig = (hi: number, lo: number): bigint => (BigInt(hi) << 32n) | BigInt(lo)
export const joinBigNumber = (hi: number, lo: number): number => hi * HI + lo

export class BatchBuilder {
  readonly batch: SampleBatch
  private readonly byMac = new Map<string, number>()

  constructor(mode: SampleMode, spoolMemoryBytes?: number) {
    this.batch = {mode, macs: [], firstLine: [], hints: [], spool: new Spool(mode === 'delta' ? 4 : 6, {memoryLimitBytes: spoolMemoryBytes})}
  }

  /** Index of a normalised MAC, added on first use. */
  index(mac: string, line: number): number {
    let k = this.byMac.get(mac)
    if (k === undefined) {
      k = this.batch.macs.length
      this.byMac.set(mac, k)
      this.batch.macs.push(mac)
      this.batch.firstLine.push(line)
      this.batch.hints.push(undefined)
    }
    return k
  }

  hint(k: number, h: DeviceHint): void {
    if (h.ip === undefined && h.hostname === undefined && h.label === undefined) return
    this.batch.hints[k] = {...this.batch.hints[k], ...h}
  }

  addDelta(k: number, ts: number, sent: number, received: number): void {
    this.batch.spool.push(k, ts, sent, received)
  }

  addCounter(k: number, ts: number, sent: bigint, received: bigint): void {
    const [sh, sl] = splitBig(sent)
    const [rh, rl] = splitBig(received)
    this.batch.spool.push(k, ts, sh, sl, rh, rl)
  }

  finish(): SampleBatch {
    this.batch.spool.finish()
    return this.batch
  }
}

export interface NdjsonOptions {
  mode: SampleMode
  bits: CounterBits
  now?: () => number
  /** Records kept in memory before spilling to a temp file (default 16 MiB). */
  spoolMemoryBytes?: number
}

const lineError = (line: number, what: string): NetmonError =>
  invalidInput(`NDJSON line ${line}: ${what}`, 'each line must be {"mac","sent","received","ts"?} with non-negative integer bytes; nothing was written')

// The exact compact shape most producers write; anything else goes through JSON.parse. Only
// valid JSON matches (no leading zeros, no escapes), so both paths accept the same lines.
const FAST = /^\{"mac":"([0-9A-Fa-f:.-]{12,17})","(?:bytes_)?sent":(0|[1-9]\d{0,15}),"(?:bytes_)?received":(0|[1-9]\d{0,15})(?:,"ts":([1-9]\d{11,14}))?\}$/

const bytesOfText = (t: string): Uint8Array => Uint8Array.from(t, c => c.charCodeAt(0))
const SENT = bytesOfText(',"sent":')
const BYTES_SENT = bytesOfText(',"bytes_sent":')
const RECEIVED = bytesOfText(',"received":')
const BYTES_RECEIVED = bytesOfText(',"bytes_received":')
const TS = bytesOfText(',"ts":')

const hexVal = (c: number): number => (c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1)

function startsWith(buf: Uint8Array, p: number, e: number, lit: Uint8Array): boolean {
  if (p + lit.length > e) return false
  for (let i = 0; i < lit.length; i++) if (buf[p + i] !== lit[i]) return false
  return true
}

/** Position after `a` or `b` at p, or -1. */
function field(buf: Uint8Array, p: number, e: number, a: Uint8Array, b: Uint8Array): number {
  if (startsWith(buf, p, e, a)) return p + a.length
  if (startsWith(buf, p, e, b)) return p + b.length
  return -1
}

/** Where the last digits() call stopped. */
let numEnd = 0
/**
 * A JSON non-negative integer of at most 15 digits (below 2^53, exact) at p, followed by `,` or
 * `}`; -1 otherwise (leading zeros, 16+ digits, anything else: the slow path decides).
 */
function digits(buf: Uint8Array, p: number, e: number): number {
  let v = 0
  let i = p
  for (; i < e; i++) {
    const c = buf[i]!
    if (c < 48 || c > 57) break
    v = v * 10 + (c - 48)
  }
  const len = i - p
  if (len === 0 || len > 15 || (len > 1 && buf[p] === 48) || i >= e || (buf[i] !== 44 && buf[i] !== 125)) return -1
  numEnd = i
  return v
}

const HEX = '0123456789ABCDEF'
/** AA:BB:CC:DD:EE:FF from a 48-bit value (what tryNormalizeMac makes of any colon spelling). */
function macText(v: number): string {
  let out = ''
  for (let i = 5; i >= 0; i--) {
    const o = Math.floor(v / 2 ** (8 * i)) % 256
    out += HEX[o >> 4]! + HEX[o & 15]! + (i > 0 ? ':' : '')
  }
  return out
}

/**
 * Reads NDJSON samples from a stream (stdin), validating each line; the first bad line throws
 * (exit 2) naming its line number. Memory stays flat: records go to a spool.
 */
export async function readNdjson(input: AsyncIterable<string | Buffer>, opts: NdjsonOptions): Promise<SampleBatch> {
  const now = opts.now ?? Date.now
  const b = new BatchBuilder(opts.mode, opts.spoolMemoryBytes)
  const macCache = new Map<string, number>()
  let lineNo = 0
  let rest = ''
  let lastTsText: string | undefined
  let lastTsValue = 0
  let clock = now()
  let decoder = new TextDecoder('utf-8', {fatal: false})

  const macIndex = (raw: unknown): number => {
    if (typeof raw !== 'string') throw lineError(lineNo, '"mac" must be a string')
    let k = macCache.get(raw)
    if (k === undefined) {
      const mac = tryNormalizeMac(raw)
      if (mac === null) throw lineError(lineNo, `malformed MAC address "${raw}" (use AA:BB:CC:DD:EE:01, aa-bb-cc-dd-ee-01, aabb.ccdd.ee01 or aabbccddee01)`)
      k = b.index(mac, lineNo)
      macCache.set(raw, k)
    }
    return k
  }

  const tsOf = (raw: unknown): number => {
    if (raw === undefined || raw === null) return clock
    if (typeof raw === 'string' && raw === lastTsText) return lastTsValue
    const ts = parseStamp(raw)
    if (typeof ts !== 'number') throw lineError(lineNo, `invalid "ts" ${JSON.stringify(raw)}: ${ts.error}`)
    const bad = checkTs(ts, clock, '"ts"')
    if (bad) throw lineError(lineNo, bad)
    if (typeof raw === 'string') {
      lastTsText = raw
      lastTsValue = ts
    }
    return ts
  }

  const bytesOf = (o: Record<string, unknown>, short: string, long: string): unknown => {
    const a = o[short]
    const c = o[long]
    if (a !== undefined && c !== undefined) throw lineError(lineNo, `give "${short}" or "${long}", not both`)
    const v = a !== undefined ? a : c
    if (v === undefined) throw lineError(lineNo, `"${short}" is missing`)
    return v
  }

  const deltaOf = (v: unknown, name: string): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
      throw lineError(lineNo, `"${name}" must be a non-negative integer (bytes), got ${JSON.stringify(v)}`)
    return v
  }

  const handle = (line: string): void => {
    lineNo++
    if (opts.mode === 'delta') {
      const m = FAST.exec(line)
      if (m) {
        const k = macIndex(m[1])
        const sent = Number(m[2])
        const received = Number(m[3])
        if (!Number.isSafeInteger(sent) || !Number.isSafeInteger(received)) throw lineError(lineNo, 'byte counts must be below 2^53')
        const ts = m[4] === undefined ? clock : tsOf(Number(m[4]))
        b.addDelta(k, ts, sent, received)
        return
      }
    }
    if (line.trim() === '') return
    let o: unknown
    try {
      o = JSON.parse(line)
    } catch (e) {
      throw lineError(lineNo, `not valid JSON (${(e as Error).message.split('\n')[0]})`)
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw lineError(lineNo, 'expected a JSON object')
    const rec = o as Record<string, unknown>
    const k = macIndex(rec.mac)
    const sentRaw = bytesOf(rec, 'sent', 'bytes_sent')
    const receivedRaw = bytesOf(rec, 'received', 'bytes_received')
    const ts = tsOf(rec.ts)
    if (rec.ip !== undefined || rec.hostname !== undefined) {
      const hint: DeviceHint = {}
      if (rec.ip !== undefined && rec.ip !== null) {
        if (typeof rec.ip !== 'string') throw lineError(lineNo, '"ip" must be a string')
        try {
          hint.ip = normalizeIp(rec.ip)
        } catch {
          throw lineError(lineNo, `malformed IP address "${rec.ip}"`)
        }
      }
      if (rec.hostname !== undefined && rec.hostname !== null) {
        const h = checkHostname(rec.hostname)
        if (typeof h !== 'string') throw lineError(lineNo, h.error)
        hint.hostname = h
      }
      b.hint(k, hint)
    }
    if (opts.mode === 'delta') {
      b.addDelta(k, ts, deltaOf(sentRaw, 'sent'), deltaOf(receivedRaw, 'received'))
    } else {
      const s = parseCounter(sentRaw, opts.bits)
      if (typeof s === 'string') throw lineError(lineNo, `counter "sent" ${s}`)
      const r = parseCounter(receivedRaw, opts.bits)
      if (typeof r === 'string') throw lineError(lineNo, `counter "received" ${r}`)
      b.addCounter(k, ts, s, r)
    }
  }

  // Byte path (delta mode, Buffer chunks: stdin): the common compact line is parsed straight from
  // the bytes — no decoding, no line string, no regex, a MAC looked up by its 48-bit value — and
  // anything else is decoded and goes through handle(), so both paths accept the same lines.
  const byMacValue = new Map<number, number>()
  let lastNumTs = -1
  let lastNumTsValue = 0
  const lineDecoder = new TextDecoder('utf-8', {fatal: false, ignoreBOM: true})
  const fastLine = (buf: Uint8Array, s: number, e: number): boolean => {
    // {"mac":"AA:BB:CC:DD:EE:FF","
    if (e - s < 49 || buf[s] !== 123 || buf[s + 1] !== 34 || buf[s + 2] !== 109 || buf[s + 3] !== 97 || buf[s + 4] !== 99) return false
    if (buf[s + 5] !== 34 || buf[s + 6] !== 58 || buf[s + 7] !== 34) return false
    let mac = 0
    let p = s + 8
    for (let i = 0; i < 6; i++, p += 3) {
      const hi = hexVal(buf[p]!)
      const lo = hexVal(buf[p + 1]!)
      if (hi < 0 || lo < 0 || buf[p + 2] !== (i === 5 ? 34 : 58)) return false
      mac = mac * 256 + hi * 16 + lo
    }
    // p is past the closing quote: ,"sent": or ,"bytes_sent":
    p = field(buf, p, e, SENT, BYTES_SENT)
    if (p < 0) return false
    const sent = digits(buf, p, e)
    if (sent < 0) return false
    p = numEnd
    p = field(buf, p, e, RECEIVED, BYTES_RECEIVED)
    if (p < 0) return false
    const received = digits(buf, p, e)
    if (received < 0) return false
    p = numEnd
    let ts = clock
    if (p === e - 1 && buf[p] === 125) {
      // no ts
    } else {
      if (!startsWith(buf, p, e, TS)) return false
      p += TS.length
      if (buf[p] === 48) return false
      const t = digits(buf, p, e)
      if (t < 0 || numEnd - p < 12 || numEnd !== e - 1 || buf[numEnd] !== 125) return false
      lineNo++
      if (t !== lastNumTs) {
        lastNumTsValue = tsOf(t)
        lastNumTs = t
      }
      ts = lastNumTsValue
      lineNo--
    }
    lineNo++
    let k = byMacValue.get(mac)
    if (k === undefined) {
      k = b.index(macText(mac), lineNo)
      byMacValue.set(mac, k)
    }
    b.addDelta(k, ts, sent, received)
    return true
  }
  const slowLine = (buf: Uint8Array, s: number, e: number): void => {
    if (!fastLine(buf, s, e)) handle(lineDecoder.decode(buf.subarray(s, e)))
  }

  try {
    let restBytes: Uint8Array | null = null
    let first = true
    for await (const chunk of input) {
      clock = now()
      lastNumTs = -1
      if (opts.mode === 'delta' && typeof chunk !== 'string' && rest === '' && !(first && chunk.length < 3)) {
        let buf: Uint8Array = chunk
        let start = 0
        if (first) {
          if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) start = 3 // BOM (as TextDecoder drops it)
          decoder = new TextDecoder('utf-8', {fatal: false, ignoreBOM: true})
          first = false
        }
        if (restBytes !== null) {
          const nl = buf.indexOf(10)
          if (nl === -1) {
            restBytes = Buffer.concat([restBytes, buf])
            continue
          }
          buf = Buffer.concat([restBytes, buf])
          restBytes = null
        }
        const n = buf.length
        let nl: number
        while ((nl = buf.indexOf(10, start)) !== -1) {
          let end = nl
          if (end > start && buf[end - 1] === 13) end-- // CRLF
          slowLine(buf, start, end)
          start = nl + 1
        }
        if (start < n) restBytes = Buffer.from(buf.subarray(start))
        continue
      }
      first = false
      if (restBytes !== null) {
        rest = decoder.decode(restBytes, {stream: true})
        restBytes = null
      }
      const text = rest + (typeof chunk === 'string' ? chunk : decoder.decode(chunk, {stream: true}))
      let start = 0
      let nl: number
      while ((nl = text.indexOf('\n', start)) !== -1) {
        let end = nl
        if (end > start && text.charCodeAt(end - 1) === 13) end-- // CRLF
        handle(text.slice(start, end))
        start = nl + 1
      }
      rest = text.slice(start)
    }
    if (restBytes !== null) {
      let end = restBytes.length
      if (restBytes[end - 1] === 13) end--
      slowLine(restBytes, 0, end)
    }
    rest += decoder.decode()
    if (rest.length > 0) handle(rest.endsWith('\r') ? rest.slice(0, -1) : rest)
  } catch (e) {
    b.batch.spool.close()
    throw e
  }
  return b.finish()
}

/**
 * Hostnames are labels for humans: 1–253 printable characters of well-formed Unicode. U+FFFD is
 * what invalid UTF-8 (on stdin or in argv) decodes to, and a lone surrogate (JSON "\ud800") is no
 * character at all: either would be stored as text no other tool reads back the same.
 */
export function checkHostname(v: unknown): string | {error: string} {
  if (typeof v !== 'string') return {error: '"hostname" must be a string'}
  const h = v.trim()
  if (h.length === 0 || h.length > 253) return {error: 'hostname must be 1-253 characters'}
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(h)) return {error: 'hostname contains control characters'}
  if (h.includes('\ufffd')) return {error: 'hostname is not valid UTF-8'}
  if (!isWellFormed(h)) return {error: 'hostname contains a lone surrogate (not valid Unicode)'}
  return h
}

// String.prototype.isWellFormed, which the ES2023 lib does not declare.
const isWellFormed = (s: string): boolean => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s)

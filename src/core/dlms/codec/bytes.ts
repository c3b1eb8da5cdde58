/**
 * Byte plumbing shared by every DLMS codec: a bounds-checked Reader, a growable Writer, BER lengths,
 * hex helpers and the three-way decode result.
 *
 * Why a three-way result: a stream decoder must tell "these bytes are fine so far, wait for more"
 * apart from "these bytes can never become valid" — a single `null` would hide the difference and
 * turn a corrupted frame into a hang. Inside a codec the Reader throws one of two private signals
 * (NeedMore / Malformed); `run()` turns them into a DecodeResult at the public boundary, so neither
 * ever escapes to a caller.
 */
import {malformed, type DlmsError} from '../errors.js'

export type DecodeResult<T> =
  | {status: 'ok'; value: T; consumed: number}
  /** The input ended before the value did; `needed` is a lower bound of the missing bytes. */
  | {status: 'need-more'; offset: number; needed: number}
  /** The input can never decode; `offset` is the byte where the decoder gave up. */
  | {status: 'malformed'; offset: number; reason: string}

/** Private signal: input ended. Not an Error (no stack capture on the hot path); never escapes run(). */
export class NeedMore {
  constructor(
    readonly offset: number,
    readonly needed: number,
  ) {}
}

/** Private signal: input is invalid at `offset`. Never escapes run(). */
export class Malformed {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {}
}

/** Runs a decoder body and maps the private signals to a DecodeResult. Any other throw is a bug → malformed too, never a crash. */
export function run<T>(r: Reader, body: (r: Reader) => T): DecodeResult<T> {
  const start = r.pos
  try {
    const value = body(r)
    return {status: 'ok', value, consumed: r.pos - start}
  } catch (e) {
    if (e instanceof NeedMore) return {status: 'need-more', offset: e.offset, needed: e.needed}
    if (e instanceof Malformed) return {status: 'malformed', offset: e.offset, reason: e.reason}
    if (e instanceof RangeError) return {status: 'malformed', offset: r.pos, reason: `decoder limit: ${e.message}`}
    throw e
  }
}

/**
 * Unwraps a DecodeResult for callers that hold a complete unit (a whole APDU / frame): running out of
 * bytes there means a lying length or a truncated unit, i.e. malformed too.
 */
export function unwrap<T>(res: DecodeResult<T>, what: string): T {
  if (res.status === 'ok') return res.value
  if (res.status === 'need-more') throw malformed(`${what} truncated: ${res.needed} more byte(s) expected`, res.offset)
  throw malformed(`${what} malformed: ${res.reason}`, res.offset)
}

export function toDlmsError<T>(res: DecodeResult<T>, what: string): DlmsError | undefined {
  try {
    unwrap(res, what)
    return undefined
  } catch (e) {
    return e as DlmsError
  }
}

export class Reader {
  pos: number
  readonly end: number
  private readonly view: DataView

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    end = buf.length,
  ) {
    this.pos = start
    this.end = end
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }

  get remaining(): number {
    return this.end - this.pos
  }

  /** Throws NeedMore unless n more bytes are present. Every read (and every length-driven allocation) goes through here first. */
  need(n: number): void {
    if (n < 0 || this.pos + n > this.end) throw new NeedMore(this.pos, Math.max(1, this.pos + n - this.end))
  }

  fail(reason: string, offset = this.pos): never {
    throw new Malformed(offset, reason)
  }

  peek(): number {
    this.need(1)
    return this.buf[this.pos]!
  }

  u8(): number {
    this.need(1)
    return this.buf[this.pos++]!
  }

  i8(): number {
    this.need(1)
    return this.view.getInt8(this.pos++)
  }

  u16(): number {
    this.need(2)
    const v = this.view.getUint16(this.pos)
    this.pos += 2
    return v
  }

  i16(): number {
    this.need(2)
    const v = this.view.getInt16(this.pos)
    this.pos += 2
    return v
  }

  u32(): number {
    this.need(4)
    const v = this.view.getUint32(this.pos)
    this.pos += 4
    return v
  }

  i32(): number {
    this.need(4)
    const v = this.view.getInt32(this.pos)
    this.pos += 4
    return v
  }

  u64(): bigint {
    this.need(8)
    const v = this.view.getBigUint64(this.pos)
    this.pos += 8
    return v
  }

  i64(): bigint {
    this.need(8)
    const v = this.view.getBigInt64(this.pos)
    this.pos += 8
    return v
  }

  f32(): number {
    this.need(4)
    const v = this.view.getFloat32(this.pos)
    this.pos += 4
    return v
  }

  f64(): number {
    this.need(8)
    const v = this.view.getFloat64(this.pos)
    this.pos += 8
    return v
  }

  /** A view (no copy) of the next n bytes; n is checked against the input before anything is allocated. */
  bytes(n: number): Uint8Array {
    this.need(n)
    const v = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return v
  }

  /**
   * BER definite length (X.690 8.1.3), as A-XDR and the ACSE APDUs use it: one byte < 0x80, or 0x81..0x84
   * followed by 1..4 big-endian bytes. The indefinite form (0x80) and more than 4 length bytes are refused.
   */
  berLength(): number {
    const at = this.pos
    const first = this.u8()
    if (first < 0x80) return first
    const n = first & 0x7f
    if (n === 0) this.fail('indefinite BER length is not allowed', at)
    if (n > 4) this.fail(`BER length with ${n} length bytes`, at)
    let len = 0
    for (let i = 0; i < n; i++) len = len * 256 + this.u8()
    return len
  }

  /** A BER length that must also fit in the input (for lengths that are about to drive an allocation or a loop). */
  berLengthWithin(minBytesPerUnit = 1): number {
    const at = this.pos
    const len = this.berLength()
    if (len * minBytesPerUnit > this.remaining) throw new NeedMore(at, len * minBytesPerUnit - this.remaining)
    return len
  }
}

export class Writer {
  private buf: Uint8Array
  private view: DataView
  length = 0

  constructor(initial = 64) {
    this.buf = new Uint8Array(initial)
    this.view = new DataView(this.buf.buffer)
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.length + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.length))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  u8(v: number): this {
    this.room(1)
    this.buf[this.length++] = v & 0xff
    return this
  }

  i8(v: number): this {
    return this.u8(v & 0xff)
  }

  u16(v: number): this {
    this.room(2)
    this.view.setUint16(this.length, v & 0xffff)
    this.length += 2
    return this
  }

  i16(v: number): this {
    this.room(2)
    this.view.setInt16(this.length, v)
    this.length += 2
    return this
  }

  u32(v: number): this {
    this.room(4)
    this.view.setUint32(this.length, v >>> 0)
    this.length += 4
    return this
  }

  i32(v: number): this {
    this.room(4)
    this.view.setInt32(this.length, v | 0)
    this.length += 4
    return this
  }

  u64(v: bigint): this {
    this.room(8)
    this.view.setBigUint64(this.length, v)
    this.length += 8
    return this
  }

  i64(v: bigint): this {
    this.room(8)
    this.view.setBigInt64(this.length, v)
    this.length += 8
    return this
  }

  f32(v: number): this {
    this.room(4)
    this.view.setFloat32(this.length, v)
    this.length += 4
    return this
  }

  f64(v: number): this {
    this.room(8)
    this.view.setFloat64(this.length, v)
    this.length += 8
    return this
  }

  bytes(b: Uint8Array | readonly number[]): this {
    this.room(b.length)
    this.buf.set(b, this.length)
    this.length += b.length
    return this
  }

  /** BER definite length, shortest form (what Gurux and the Green Book examples produce). */
  berLength(n: number): this {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`length ${n} out of range`)
    if (n < 0x80) return this.u8(n)
    if (n <= 0xff) return this.u8(0x81).u8(n)
    if (n <= 0xffff) return this.u8(0x82).u16(n)
    if (n <= 0xffffff)
      return this.u8(0x83)
        .u8(n >>> 16)
        .u16(n & 0xffff)
    return this.u8(0x84).u32(n)
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.length)
  }
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}

export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/[\s:]/g, '')
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new RangeError(`invalid hex string "${hex.slice(0, 40)}"`)
  return new Uint8Array(Buffer.from(clean, 'hex'))
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

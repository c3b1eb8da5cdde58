/**
 * IEC 62056-47 TCP/UDP wrapper (Green Book 7.3.3.3): an 8-byte big-endian header before each APDU —
 *
 *   version(2) = 0x0001 | source wPort(2) | destination wPort(2) | length(2) | APDU(length)
 *
 * The wPorts are the client SAP and the server logical device (e.g. 16 → 1). No checksum and no flag:
 * a wrong header cannot be resynchronised, so the stream decoder reports it and stops trusting the stream.
 */
import {encodeError} from '../errors.js'
import {Reader, run, Writer, type DecodeResult} from './bytes.js'

export const WRAPPER_VERSION = 0x0001
export const WRAPPER_HEADER_LENGTH = 8

export interface WrapperFrame {
  version: number
  /** Source wPort: the client SAP (client → server) or the logical device (server → client). */
  src: number
  dst: number
  apdu: Uint8Array
}

export function encodeWrapperFrame(f: {src: number; dst: number; apdu: Uint8Array; version?: number}): Uint8Array {
  for (const [k, v] of [
    ['source wPort', f.src],
    ['destination wPort', f.dst],
  ] as const)
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw encodeError(`${k} ${v} is not a 16-bit value`)
  if (f.apdu.length > 0xffff) throw encodeError(`APDU of ${f.apdu.length} bytes does not fit a wrapper frame (max 65535)`)
  return new Writer(WRAPPER_HEADER_LENGTH + f.apdu.length)
    .u16(f.version ?? WRAPPER_VERSION)
    .u16(f.src)
    .u16(f.dst)
    .u16(f.apdu.length)
    .bytes(f.apdu)
    .finish()
}

/** Decodes one frame at `offset`. `maxApdu` refuses a declared length larger than the caller accepts before waiting for it. */
export function decodeWrapperFrame(buf: Uint8Array, offset = 0, maxApdu = 0xffff): DecodeResult<WrapperFrame> {
  return run(new Reader(buf, offset), r => {
    const version = r.u16()
    if (version !== WRAPPER_VERSION) r.fail(`wrapper version 0x${version.toString(16).padStart(4, '0')} (expected 0x0001)`, offset)
    const src = r.u16()
    const dst = r.u16()
    const lenAt = r.pos
    const length = r.u16()
    if (length > maxApdu) r.fail(`wrapper length ${length} exceeds the accepted maximum of ${maxApdu}`, lenAt)
    if (length === 0) r.fail('wrapper frame with an empty APDU', lenAt)
    const apdu = r.bytes(length).slice()
    return {version, src, dst, apdu}
  })
}

export type WrapperStreamEvent = {type: 'frame'; frame: WrapperFrame; bytes: number} | {type: 'error'; offset: number; reason: string}

export class WrapperStreamDecoder {
  private buf = new Uint8Array(256)
  private end = 0
  private base = 0
  private broken: string | undefined

  constructor(private readonly maxApdu = 0xffff) {}

  push(chunk: Uint8Array): WrapperStreamEvent[] {
    if (this.broken !== undefined) return [{type: 'error', offset: this.base, reason: `stream unusable after an earlier error: ${this.broken}`}]
    this.append(chunk)
    const events: WrapperStreamEvent[] = []
    let pos = 0
    while (pos < this.end) {
      const res = decodeWrapperFrame(this.buf.subarray(0, this.end), pos, this.maxApdu)
      if (res.status === 'need-more') break
      if (res.status === 'malformed') {
        this.broken = res.reason
        events.push({type: 'error', offset: this.base + res.offset, reason: res.reason})
        this.base += this.end
        this.end = 0
        return events
      }
      events.push({type: 'frame', frame: res.value, bytes: res.consumed})
      pos += res.consumed
    }
    this.buf.copyWithin(0, pos, this.end)
    this.end -= pos
    this.base += pos
    return events
  }

  get pending(): number {
    return this.end
  }

  reset(): void {
    this.base += this.end
    this.end = 0
    this.broken = undefined
  }

  private append(chunk: Uint8Array): void {
    if (this.end + chunk.length > this.buf.length) {
      let size = this.buf.length
      while (size < this.end + chunk.length) size *= 2
      const next = new Uint8Array(size)
      next.set(this.buf.subarray(0, this.end))
      this.buf = next
    }
    this.buf.set(chunk, this.end)
    this.end += chunk.length
  }
}

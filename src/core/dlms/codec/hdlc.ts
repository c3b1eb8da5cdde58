/**
 * HDLC frames as IEC 62056-46 uses them (frame format type 3):
 *
 *   7E | format(2) | dest addr(1/2/4) | src addr(1) | control(1) | [HCS(2) info(n)] | FCS(2) | 7E
 *
 * - format = 0xA000 | S (segmentation, 0x0800) | 11-bit frame length: the bytes between the flags (cl. 6.4.4.4.3).
 * - addresses use HDLC extension: the low bit of each byte is 1 on the last byte (cl. 6.4.4.4.4). A server
 *   address is 1, 2 or 4 bytes (upper = logical device, lower = physical device); a client address is 1 byte.
 * - HCS covers format..control and is present only when an information field follows; FCS covers
 *   everything between the flags before it. Both are CRC-16/X.25, low byte first (crc.ts).
 * - no bit/byte stuffing: the length field delimits the frame, the flags are only checked.
 *
 * This module is pure: bytes in, frames out. The link state machine (N(S)/N(R), segmentation, SNRM/UA)
 * lives in ../link/hdlc.ts.
 */
import {encodeError} from '../errors.js'
import {crc16x25} from './crc.js'
import {NeedMore, Reader, run, Writer, type DecodeResult} from './bytes.js'

export const HDLC_FLAG = 0x7e
/** The longest frame the 11-bit length field can describe, plus both flags. Bounds every buffer. */
export const HDLC_MAX_FRAME_LENGTH = 0x7ff
/** Default max information field length and window (cl. 6.4.4.4.3.2, used when SNRM/UA carry no parameters). */
export const HDLC_DEFAULT_MAX_INFO = 128
export const HDLC_DEFAULT_WINDOW = 1

/** LLC headers (IEC 62056-46 Annex / Green Book 8.4.2): destination LSAP E6, source LSAP E6 (command) or E7 (response), quality 00. */
export const LLC_REQUEST = Uint8Array.of(0xe6, 0xe6, 0x00)
export const LLC_RESPONSE = Uint8Array.of(0xe6, 0xe7, 0x00)

export interface HdlcAddress {
  /** Upper HDLC address: the logical device (1 = management logical device) or, for a client, the client SAP. */
  logical: number
  /** Lower HDLC address: the physical device. Absent with a 1-byte address. */
  physical?: number
  /** Bytes on the wire. */
  size: 1 | 2 | 4
}

export type HdlcControl =
  | {type: 'I'; ns: number; nr: number; pf: boolean}
  | {type: 'RR' | 'RNR'; nr: number; pf: boolean}
  | {type: 'SNRM' | 'DISC' | 'UA' | 'DM' | 'FRMR' | 'UI'; pf: boolean}

export interface HdlcFrame {
  /** The S bit of the format field: more segments of the same information follow. */
  segmented: boolean
  dest: HdlcAddress
  src: HdlcAddress
  control: HdlcControl
  info: Uint8Array
}

export interface DecodedHdlcFrame extends HdlcFrame {
  /** The frame length field (bytes between the flags). */
  length: number
  hcs?: number
  fcs: number
}

// U-frame control values without the P/F bit (cl. 6.4.4.4.3.3, ISO/IEC 13239 table).
const U_FRAMES = {SNRM: 0x83, DISC: 0x43, UA: 0x63, DM: 0x0f, FRMR: 0x87, UI: 0x03} as const
const U_BY_VALUE = new Map<number, keyof typeof U_FRAMES>(Object.entries(U_FRAMES).map(([k, v]) => [v, k as keyof typeof U_FRAMES]))

export function encodeControl(c: HdlcControl): number {
  const pf = c.pf ? 0x10 : 0
  switch (c.type) {
    case 'I':
      return ((c.nr & 7) << 5) | pf | ((c.ns & 7) << 1)
    case 'RR':
      return ((c.nr & 7) << 5) | pf | 0x01
    case 'RNR':
      return ((c.nr & 7) << 5) | pf | 0x05
    default:
      return U_FRAMES[c.type] | pf
  }
}

/** Returns undefined for a control byte that is not one DLMS uses (REJ/SREJ and unknown U frames). */
export function decodeControl(b: number): HdlcControl | undefined {
  const pf = (b & 0x10) !== 0
  if ((b & 0x01) === 0) return {type: 'I', ns: (b >> 1) & 7, nr: (b >> 5) & 7, pf}
  if ((b & 0x03) === 0x01) {
    const s = b & 0x0f
    if (s === 0x01) return {type: 'RR', nr: (b >> 5) & 7, pf}
    if (s === 0x05) return {type: 'RNR', nr: (b >> 5) & 7, pf}
    return undefined
  }
  const u = U_BY_VALUE.get(b & ~0x10)
  return u === undefined ? undefined : {type: u, pf}
}

/** A server address from logical/physical parts; the size is the smallest that fits unless given. */
export function serverAddress(logical: number, physical?: number, size?: 1 | 2 | 4): HdlcAddress {
  if (size === undefined) size = physical === undefined ? 1 : logical <= 0x7f && physical <= 0x7f ? 2 : 4
  if (size === 1 && physical !== undefined) throw encodeError('a 1-byte HDLC address has no physical part')
  return physical === undefined && size !== 1 ? {logical, physical: 0, size} : {logical, physical, size}
}

export function clientAddress(address: number): HdlcAddress {
  return {logical: address, size: 1}
}

/**
 * Gurux writes a 2-/4-byte server address as one number (logical << 7 | physical, resp. logical << 14 | physical);
 * the vectors use that form. Converts it to parts.
 */
export function serverAddressFromCombined(combined: number, size: 1 | 2 | 4): HdlcAddress {
  if (size === 1) return {logical: combined, size}
  if (size === 2) return {logical: combined >> 7, physical: combined & 0x7f, size}
  return {logical: combined >>> 14, physical: combined & 0x3fff, size}
}

export function encodeAddress(a: HdlcAddress, w: Writer): void {
  const max = a.size === 4 ? 0x3fff : 0x7f
  const phys = a.physical ?? 0
  if (!Number.isInteger(a.logical) || a.logical < 0 || a.logical > max || phys < 0 || phys > max || !Number.isInteger(phys))
    throw encodeError(`HDLC address ${a.logical}/${phys} does not fit in ${a.size} byte(s)`)
  if (a.size === 1) w.u8((a.logical << 1) | 1)
  else if (a.size === 2) w.u8(a.logical << 1).u8((phys << 1) | 1)
  else
    w.u8((a.logical >> 7) << 1)
      .u8((a.logical & 0x7f) << 1)
      .u8((phys >> 7) << 1)
      .u8(((phys & 0x7f) << 1) | 1)
}

function readAddress(r: Reader, what: string): HdlcAddress {
  const at = r.pos
  const bytes: number[] = []
  for (;;) {
    const b = r.u8()
    bytes.push(b)
    if (b & 1) break
    if (bytes.length === 4) r.fail(`${what} address longer than 4 bytes`, at)
  }
  const v = bytes.map(b => b >> 1)
  if (bytes.length === 1) return {logical: v[0]!, size: 1}
  if (bytes.length === 2) return {logical: v[0]!, physical: v[1]!, size: 2}
  if (bytes.length === 4) return {logical: (v[0]! << 7) | v[1]!, physical: (v[2]! << 7) | v[3]!, size: 4}
  return r.fail(`${what} address of ${bytes.length} bytes (1, 2 or 4 allowed)`, at)
}

export function addressEquals(a: HdlcAddress, b: HdlcAddress): boolean {
  return a.size === b.size && a.logical === b.logical && (a.physical ?? 0) === (b.physical ?? 0)
}

export function formatAddress(a: HdlcAddress): string {
  return a.size === 1 ? `${a.logical}` : `${a.logical}/${a.physical ?? 0} (${a.size} bytes)`
}

export function encodeHdlcFrame(f: HdlcFrame): Uint8Array {
  const w = new Writer(16 + f.info.length)
  w.u8(HDLC_FLAG).u16(0) // format patched below
  encodeAddress(f.dest, w)
  encodeAddress(f.src, w)
  w.u8(encodeControl(f.control))
  const headerEnd = w.length
  if (f.info.length > 0) w.u16(0).bytes(f.info) // HCS placeholder
  w.u16(0) // FCS placeholder
  w.u8(HDLC_FLAG)
  const out = w.finish()
  const length = out.length - 2
  if (length > HDLC_MAX_FRAME_LENGTH) throw encodeError(`HDLC frame of ${length} bytes exceeds the 11-bit length field`)
  const format = 0xa000 | (f.segmented ? 0x0800 : 0) | length
  out[1] = format >> 8
  out[2] = format & 0xff
  if (f.info.length > 0) {
    const hcs = crc16x25(out, 1, headerEnd)
    out[headerEnd] = hcs & 0xff
    out[headerEnd + 1] = hcs >> 8
  }
  const fcs = crc16x25(out, 1, out.length - 3)
  out[out.length - 3] = fcs & 0xff
  out[out.length - 2] = fcs >> 8
  return out
}

/**
 * Decodes one frame starting at `offset` (which must hold the opening flag). `consumed` counts the opening
 * flag and the frame but NOT the closing flag, which IEC 62056-46 lets the next frame share as its opening flag.
 */
export function decodeHdlcFrame(buf: Uint8Array, offset = 0): DecodeResult<DecodedHdlcFrame> {
  const r = new Reader(buf, offset)
  return run(r, r => {
    if (r.u8() !== HDLC_FLAG) r.fail('expected HDLC flag 0x7E', offset)
    const fmtAt = r.pos
    const format = r.u16()
    if (format >> 12 !== 0xa) r.fail(`frame format type ${format >> 12} (only type 3, 0xA, is used by DLMS)`, fmtAt)
    const length = format & 0x7ff
    // smallest frame: format(2) + dest(1) + src(1) + control(1) + FCS(2)
    if (length < 7) r.fail(`HDLC frame length ${length} is below the minimum of 7`, fmtAt)
    const frameEnd = offset + 1 + length // index of the closing flag
    r.need(frameEnd + 1 - r.pos)
    if (buf[frameEnd] !== HDLC_FLAG) r.fail('HDLC frame does not end with a flag where its length says', frameEnd)
    const body = new Reader(buf, r.pos, frameEnd - 2)
    // the whole frame is present: running out inside it means the header is malformed, not that more bytes will help
    const inFrame = <T>(fn: () => T): T => {
      try {
        return fn()
      } catch (e) {
        if (e instanceof NeedMore) body.fail('HDLC header runs past the end of the frame', e.offset)
        throw e
      }
    }
    const dest = inFrame(() => readAddress(body, 'destination'))
    const src = inFrame(() => readAddress(body, 'source'))
    if (src.size !== 1 && dest.size !== 1) body.fail('neither address is a 1-byte client address', offset + 3)
    const ctlAt = body.pos
    const control = decodeControl(inFrame(() => body.u8()))
    if (control === undefined) body.fail(`unsupported HDLC control field 0x${buf[ctlAt]!.toString(16).padStart(2, '0')}`, ctlAt)
    const headerEnd = body.pos
    let hcs: number | undefined
    let info: Uint8Array = new Uint8Array(0)
    const rest = frameEnd - 2 - headerEnd
    if (rest > 0) {
      if (rest < 2) body.fail('HDLC frame too short for its header check sequence', headerEnd)
      hcs = buf[headerEnd]! | (buf[headerEnd + 1]! << 8)
      const want = crc16x25(buf, offset + 1, headerEnd)
      if (hcs !== want) body.fail(`HCS mismatch (got 0x${hcs.toString(16)}, computed 0x${want.toString(16)})`, headerEnd)
      info = buf.slice(headerEnd + 2, frameEnd - 2)
    }
    const fcs = buf[frameEnd - 2]! | (buf[frameEnd - 1]! << 8)
    const wantFcs = crc16x25(buf, offset + 1, frameEnd - 2)
    if (fcs !== wantFcs) body.fail(`FCS mismatch (got 0x${fcs.toString(16)}, computed 0x${wantFcs.toString(16)})`, frameEnd - 2)
    r.pos = frameEnd
    return {segmented: (format & 0x0800) !== 0, length, dest, src, control: control!, info, hcs, fcs}
  })
}

// ---- SNRM / UA parameter negotiation (IEC 62056-46 cl. 6.4.4.4.3.2, ISO/IEC 13239 5.5.3.2) ----

export interface HdlcParams {
  /** Maximum information field length the sender of this SNRM/UA transmits. */
  maxInfoTx?: number
  /** Maximum information field length the sender of this SNRM/UA can receive. */
  maxInfoRx?: number
  windowTx?: number
  windowRx?: number
}

const PARAM_IDS = {maxInfoTx: 0x05, maxInfoRx: 0x06, windowTx: 0x07, windowRx: 0x08} as const

/**
 * Encodes the parameters that are set: format identifier 0x81, group identifier 0x80, group length, then
 * (id, length, value) triples. Max info lengths use the shortest of 1/2 bytes and windows 4 bytes, as the
 * Gurux vectors and the 62056-46 examples do. No parameter at all → empty info (a plain SNRM).
 */
export function encodeHdlcParams(p: HdlcParams): Uint8Array {
  const w = new Writer(24)
  for (const key of ['maxInfoTx', 'maxInfoRx', 'windowTx', 'windowRx'] as const) {
    const v = p[key]
    if (v === undefined) continue
    if (!Number.isInteger(v) || v < 1 || v > 0xffffffff) throw encodeError(`HDLC parameter ${key}=${v} out of range`)
    w.u8(PARAM_IDS[key])
    if (key.startsWith('window')) w.u8(4).u32(v)
    else if (v <= 0xff) w.u8(1).u8(v)
    else if (v <= 0xffff) w.u8(2).u16(v)
    else w.u8(4).u32(v)
  }
  if (w.length === 0) return new Uint8Array(0)
  const group = w.finish()
  return new Writer(group.length + 3).u8(0x81).u8(0x80).u8(group.length).bytes(group).finish()
}

export function decodeHdlcParams(info: Uint8Array): DecodeResult<HdlcParams> {
  return run(new Reader(info), r => {
    const p: HdlcParams = {}
    if (r.remaining === 0) return p
    if (r.u8() !== 0x81) r.fail('HDLC parameter format identifier is not 0x81', 0)
    if (r.u8() !== 0x80) r.fail('HDLC parameter group identifier is not 0x80', 1)
    const groupLen = r.u8()
    r.need(groupLen)
    const end = r.pos + groupLen
    while (r.pos < end) {
      const id = r.u8()
      const lenAt = r.pos
      const len = r.u8()
      if (r.pos + len > end) r.fail('HDLC parameter overruns its group', lenAt)
      let v = 0
      for (let i = 0; i < len; i++) v = v * 256 + r.u8()
      if (id === 0x05) p.maxInfoTx = v
      else if (id === 0x06) p.maxInfoRx = v
      else if (id === 0x07) p.windowTx = v
      else if (id === 0x08) p.windowRx = v
      // other parameter ids are legal in ISO/IEC 13239 and are skipped
    }
    return p
  })
}

// ---- stream decoder: bytes from a socket in any chunking → frames ----

export type HdlcStreamEvent =
  | {type: 'frame'; frame: DecodedHdlcFrame; bytes: number}
  /** Bytes skipped while looking for an opening flag (line noise, a half frame after a resync). */
  | {type: 'garbage'; bytes: number}
  /** A complete but invalid frame (bad HCS/FCS, bad format…); the decoder resynchronises on the next flag. */
  | {type: 'error'; offset: number; reason: string}

export class HdlcStreamDecoder {
  private buf = new Uint8Array(512)
  private start = 0
  private end = 0
  /** Absolute stream offset of buf[0], for error messages. */
  private base = 0

  push(chunk: Uint8Array): HdlcStreamEvent[] {
    this.append(chunk)
    const events: HdlcStreamEvent[] = []
    for (;;) {
      // 1. skip to an opening flag
      let i = this.start
      while (i < this.end && this.buf[i] !== HDLC_FLAG) i++
      if (i > this.start) events.push({type: 'garbage', bytes: i - this.start})
      this.start = i
      if (this.end - this.start < 2) break
      // 2. a flag followed by a flag: the first one closed the previous frame (or is inter-frame fill)
      if (this.buf[this.start + 1] === HDLC_FLAG) {
        this.start++
        continue
      }
      const res = decodeHdlcFrame(this.buf.subarray(0, this.end), this.start)
      if (res.status === 'need-more') break
      if (res.status === 'malformed') {
        events.push({type: 'error', offset: this.base + res.offset, reason: res.reason})
        this.start++ // resync: look for the next flag after this one
        continue
      }
      events.push({type: 'frame', frame: res.value, bytes: res.consumed + 1})
      this.start += res.consumed // keep the closing flag: it may open the next frame
    }
    this.compact()
    return events
  }

  /** Bytes held for a frame that has started but not completed (a lone flag does not count). */
  get pending(): number {
    const n = this.end - this.start
    return n <= 1 ? 0 : n
  }

  reset(): void {
    this.base += this.end
    this.start = this.end = 0
  }

  private append(chunk: Uint8Array): void {
    if (this.end + chunk.length > this.buf.length) {
      this.compact()
      if (this.end + chunk.length > this.buf.length) {
        let size = this.buf.length
        while (size < this.end + chunk.length) size *= 2
        const next = new Uint8Array(size)
        next.set(this.buf.subarray(0, this.end))
        this.buf = next
      }
    }
    this.buf.set(chunk, this.end)
    this.end += chunk.length
  }

  private compact(): void {
    if (this.start === 0) return
    this.buf.copyWithin(0, this.start, this.end)
    this.base += this.start
    this.end -= this.start
    this.start = 0
  }
}

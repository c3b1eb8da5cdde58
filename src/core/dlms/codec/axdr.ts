/**
 * A-XDR encoding of the COSEM `Data` CHOICE (IEC 61334-6 A-XDR rules, Green Book 9.5 / Blue Book 4.1.5):
 * a tag byte, then the value — fixed-size integers/floats big-endian, variable-size strings and
 * collections with a BER-form length/count.
 *
 * Defence against hostile lengths: every length is checked against the bytes actually present before it
 * drives an allocation or a loop (Reader.berLengthWithin), and nesting is capped (MAX_DEPTH) so a frame of
 * 0x01 0x01 0x01 … cannot exhaust the stack.
 */
import {encodeError} from '../errors.js'
import {NeedMore, Reader, run, unwrap, Writer, type DecodeResult} from './bytes.js'
import {readDate, readDateTime, readTime, writeDate, writeTime, encodeDateTime, type CosemDate, type CosemDateTime, type CosemTime} from './datetime.js'

export const MAX_DEPTH = 32

/** Data CHOICE tags (Blue Book table "Data types"). */
export const DataTag = {
  null: 0,
  array: 1,
  structure: 2,
  boolean: 3,
  'bit-string': 4,
  int32: 5, // double-long
  uint32: 6, // double-long-unsigned
  'octet-string': 9,
  'visible-string': 10,
  'utf8-string': 12,
  bcd: 13,
  int8: 15, // integer
  int16: 16, // long
  uint8: 17, // unsigned
  uint16: 18, // long-unsigned
  'compact-array': 19,
  int64: 20, // long64
  uint64: 21, // long64-unsigned
  enum: 22,
  float32: 23,
  float64: 24,
  'date-time': 25,
  date: 26,
  time: 27,
  'dont-care': 255,
} as const

export type DataType = keyof typeof DataTag
const TYPE_BY_TAG = new Map<number, DataType>(Object.entries(DataTag).map(([k, v]) => [v, k as DataType]))

export type NumberType = 'int8' | 'int16' | 'int32' | 'uint8' | 'uint16' | 'uint32' | 'enum' | 'bcd'

export type DlmsData =
  | {type: 'null'}
  | {type: 'dont-care'}
  | {type: 'boolean'; value: boolean}
  /** Bits as '0'/'1' characters, first bit first. */
  | {type: 'bit-string'; value: string}
  | {type: NumberType; value: number}
  | {type: 'int64' | 'uint64'; value: bigint}
  | {type: 'float32' | 'float64'; value: number}
  | {type: 'octet-string'; value: Uint8Array}
  | {type: 'visible-string' | 'utf8-string'; value: string}
  | {type: 'array' | 'structure'; value: DlmsData[]}
  | {type: 'compact-array'; description: TypeDescription; value: DlmsData[]}
  | {type: 'date-time'; value: CosemDateTime}
  | {type: 'date'; value: CosemDate}
  | {type: 'time'; value: CosemTime}

/** TypeDescription of a compact-array (Blue Book 4.1.5): a simple type, or an array/structure of them. */
export type TypeDescription =
  | {type: Exclude<DataType, 'array' | 'structure' | 'compact-array'>}
  | {type: 'array'; count: number; element: TypeDescription}
  | {type: 'structure'; fields: TypeDescription[]}

const INT_RANGE: Record<NumberType, [number, number]> = {
  int8: [-0x80, 0x7f],
  int16: [-0x8000, 0x7fff],
  int32: [-0x80000000, 0x7fffffff],
  uint8: [0, 0xff],
  uint16: [0, 0xffff],
  uint32: [0, 0xffffffff],
  enum: [0, 0xff],
  bcd: [-0x80, 0x7f],
}

// ---------- decode ----------

function readUntagged(r: Reader, type: DataType, depth: number, at: number): DlmsData {
  switch (type) {
    case 'null':
      return {type}
    case 'dont-care':
      return {type}
    case 'boolean':
      return {type, value: r.u8() !== 0}
    case 'bit-string': {
      const bits = r.berLength()
      const nBytes = Math.ceil(bits / 8)
      const bytes = r.bytes(nBytes)
      let s = ''
      for (let i = 0; i < bits; i++) s += (bytes[i >> 3]! >> (7 - (i & 7))) & 1 ? '1' : '0'
      return {type, value: s}
    }
    case 'int32':
      return {type, value: r.i32()}
    case 'uint32':
      return {type, value: r.u32()}
    case 'octet-string': {
      const len = r.berLength()
      return {type, value: r.bytes(len).slice()}
    }
    case 'visible-string': {
      const len = r.berLength()
      return {type, value: Buffer.from(r.bytes(len)).toString('latin1')}
    }
    case 'utf8-string': {
      const len = r.berLength()
      return {type, value: Buffer.from(r.bytes(len)).toString('utf8')}
    }
    case 'bcd':
      return {type, value: r.i8()}
    case 'int8':
      return {type, value: r.i8()}
    case 'int16':
      return {type, value: r.i16()}
    case 'uint8':
      return {type, value: r.u8()}
    case 'uint16':
      return {type, value: r.u16()}
    case 'int64':
      return {type, value: r.i64()}
    case 'uint64':
      return {type, value: r.u64()}
    case 'enum':
      return {type, value: r.u8()}
    case 'float32':
      return {type, value: r.f32()}
    case 'float64':
      return {type, value: r.f64()}
    case 'date-time':
      return {type, value: readDateTime(r)}
    case 'date':
      return {type, value: readDate(r)}
    case 'time':
      return {type, value: readTime(r)}
    case 'array':
    case 'structure': {
      if (depth >= MAX_DEPTH) r.fail(`data nested deeper than ${MAX_DEPTH} levels`, at)
      // each element takes at least one byte: a count beyond the remaining bytes is a lie (or truncation)
      const count = r.berLengthWithin(1)
      const value: DlmsData[] = []
      for (let i = 0; i < count; i++) value.push(readData(r, depth + 1))
      return {type, value}
    }
    case 'compact-array':
      return readCompactArray(r, depth, at)
  }
}

/** Reads one tagged Data value. Throws the private Reader signals; use decodeData at a boundary. */
export function readData(r: Reader, depth = 0): DlmsData {
  const at = r.pos
  const tag = r.u8()
  const type = TYPE_BY_TAG.get(tag)
  if (type === undefined) return r.fail(`unknown data type tag ${tag}`, at)
  return readUntagged(r, type, depth, at)
}

function readTypeDescription(r: Reader, depth: number): TypeDescription {
  const at = r.pos
  if (depth >= MAX_DEPTH) r.fail(`type description nested deeper than ${MAX_DEPTH} levels`, at)
  const tag = r.u8()
  const type = TYPE_BY_TAG.get(tag)
  if (type === undefined || type === 'compact-array') return r.fail(`invalid type description tag ${tag}`, at)
  if (type === 'array') {
    const count = r.u16()
    return {type, count, element: readTypeDescription(r, depth + 1)}
  }
  if (type === 'structure') {
    const n = r.berLengthWithin(1)
    const fields: TypeDescription[] = []
    for (let i = 0; i < n; i++) fields.push(readTypeDescription(r, depth + 1))
    return {type, fields}
  }
  return {type}
}

/**
 * A value laid out by a type description, without tags (compact-array contents). Described arrays carry
 * their count in the description (≤ 65535) and null-data elements take no byte, so the number of values
 * built is capped by a budget tied to the contents length instead of by the bytes consumed.
 */
function readDescribed(r: Reader, d: TypeDescription, depth: number, budget: {left: number}): DlmsData {
  if (depth >= MAX_DEPTH) r.fail(`compact-array nested deeper than ${MAX_DEPTH} levels`)
  if (--budget.left < 0) r.fail('compact-array describes more values than its contents can hold')
  if (d.type === 'array') {
    const value: DlmsData[] = []
    for (let i = 0; i < d.count; i++) value.push(readDescribed(r, d.element, depth + 1, budget))
    return {type: 'array', value}
  }
  if (d.type === 'structure') return {type: 'structure', value: d.fields.map(f => readDescribed(r, f, depth + 1, budget))}
  return readUntagged(r, d.type, depth, r.pos)
}

function readCompactArray(r: Reader, depth: number, at: number): DlmsData {
  if (depth >= MAX_DEPTH) r.fail(`data nested deeper than ${MAX_DEPTH} levels`, at)
  const description = readTypeDescription(r, depth + 1)
  const len = r.berLengthWithin(1)
  const sub = new Reader(r.buf, r.pos, r.pos + len)
  const budget = {left: 8 * len + 256}
  const value: DlmsData[] = []
  while (sub.pos < sub.end) {
    const before = sub.pos
    try {
      value.push(readDescribed(sub, description, depth + 1, budget))
    } catch (e) {
      // running out inside the declared contents means the contents lie, not that more input will help
      if (e instanceof NeedMore) sub.fail('compact-array contents end inside an element', before)
      throw e
    }
    if (sub.pos === before) sub.fail('compact-array element of zero bytes', before) // would loop forever
  }
  r.pos = sub.end
  return {type: 'compact-array', description, value}
}

export function decodeData(bytes: Uint8Array, offset = 0): DecodeResult<DlmsData> {
  return run(new Reader(bytes, offset), r => readData(r))
}

/** Decodes exactly one Data value filling `bytes`; throws DlmsError MALFORMED_FRAME otherwise. */
export function parseData(bytes: Uint8Array): DlmsData {
  const res = run(new Reader(bytes), r => {
    const d = readData(r)
    if (r.remaining !== 0) r.fail(`${r.remaining} byte(s) after the data value`)
    return d
  })
  return unwrap(res, 'data')
}

// ---------- encode ----------

function checkInt(type: NumberType, v: number): void {
  const [lo, hi] = INT_RANGE[type]
  if (!Number.isInteger(v) || v < lo || v > hi) throw encodeError(`${type} value ${v} is out of range ${lo}..${hi}`)
}

function writeUntagged(w: Writer, d: DlmsData, depth: number): void {
  if (depth > MAX_DEPTH) throw encodeError(`data nested deeper than ${MAX_DEPTH} levels`)
  switch (d.type) {
    case 'null':
    case 'dont-care':
      return
    case 'boolean':
      w.u8(d.value ? 1 : 0)
      return
    case 'bit-string': {
      if (/[^01]/.test(d.value)) throw encodeError('bit-string must contain only 0 and 1')
      const bytes = new Uint8Array(Math.ceil(d.value.length / 8))
      for (let i = 0; i < d.value.length; i++) if (d.value[i] === '1') bytes[i >> 3]! |= 0x80 >> (i & 7)
      w.berLength(d.value.length).bytes(bytes)
      return
    }
    case 'int8':
    case 'bcd':
      checkInt(d.type, d.value)
      w.i8(d.value)
      return
    case 'int16':
      checkInt(d.type, d.value)
      w.i16(d.value)
      return
    case 'int32':
      checkInt(d.type, d.value)
      w.i32(d.value)
      return
    case 'uint8':
    case 'enum':
      checkInt(d.type, d.value)
      w.u8(d.value)
      return
    case 'uint16':
      checkInt(d.type, d.value)
      w.u16(d.value)
      return
    case 'uint32':
      checkInt(d.type, d.value)
      w.u32(d.value)
      return
    case 'int64':
      if (d.value < -(1n << 63n) || d.value >= 1n << 63n) throw encodeError(`int64 value ${d.value} is out of range`)
      w.i64(d.value)
      return
    case 'uint64':
      if (d.value < 0n || d.value >= 1n << 64n) throw encodeError(`uint64 value ${d.value} is out of range`)
      w.u64(d.value)
      return
    case 'float32':
      w.f32(d.value)
      return
    case 'float64':
      w.f64(d.value)
      return
    case 'octet-string':
      w.berLength(d.value.length).bytes(d.value)
      return
    case 'visible-string': {
      const b = Buffer.from(d.value, 'latin1')
      w.berLength(b.length).bytes(b)
      return
    }
    case 'utf8-string': {
      const b = Buffer.from(d.value, 'utf8')
      w.berLength(b.length).bytes(b)
      return
    }
    case 'date-time':
      w.bytes(encodeDateTime(d.value))
      return
    case 'date': {
      const out: number[] = []
      writeDate(d.value, out)
      w.bytes(out)
      return
    }
    case 'time': {
      const out: number[] = []
      writeTime(d.value, out)
      w.bytes(out)
      return
    }
    case 'array':
    case 'structure':
      w.berLength(d.value.length)
      for (const item of d.value) writeData(w, item, depth + 1)
      return
    case 'compact-array': {
      writeTypeDescription(w, d.description, depth + 1)
      const contents = new Writer()
      for (const item of d.value) writeDescribed(contents, item, d.description, depth + 1)
      const c = contents.finish()
      w.berLength(c.length).bytes(c)
      return
    }
  }
}

export function writeData(w: Writer, d: DlmsData, depth = 0): void {
  const tag = (DataTag as Record<string, number>)[d.type]
  if (tag === undefined) throw encodeError(`unknown data type "${(d as {type: string}).type}"`)
  w.u8(tag)
  writeUntagged(w, d, depth)
}

function writeTypeDescription(w: Writer, d: TypeDescription, depth: number): void {
  if (depth > MAX_DEPTH) throw encodeError(`type description nested deeper than ${MAX_DEPTH} levels`)
  w.u8(DataTag[d.type])
  if (d.type === 'array') {
    w.u16(d.count)
    writeTypeDescription(w, d.element, depth + 1)
  } else if (d.type === 'structure') {
    w.berLength(d.fields.length)
    for (const f of d.fields) writeTypeDescription(w, f, depth + 1)
  }
}

function writeDescribed(w: Writer, v: DlmsData, d: TypeDescription, depth: number): void {
  if (v.type !== d.type) throw encodeError(`compact-array element of type ${v.type} does not match its description (${d.type})`)
  if (d.type === 'array') {
    const items = (v as {value: DlmsData[]}).value
    if (items.length !== d.count) throw encodeError(`compact-array element has ${items.length} items, description says ${d.count}`)
    for (const item of items) writeDescribed(w, item, d.element, depth + 1)
  } else if (d.type === 'structure') {
    const items = (v as {value: DlmsData[]}).value
    if (items.length !== d.fields.length) throw encodeError(`compact-array structure has ${items.length} fields, description says ${d.fields.length}`)
    items.forEach((item, i) => writeDescribed(w, item, d.fields[i]!, depth + 1))
  } else writeUntagged(w, v, depth)
}

export function encodeData(d: DlmsData): Uint8Array {
  const w = new Writer()
  writeData(w, d)
  return w.finish()
}

// ---------- builders and plain conversion ----------

/** Small constructors so callers do not spell the union by hand: `D.uint32(5)`, `D.struct(D.int8(-1), D.enum(35))`. */
export const D = {
  null: (): DlmsData => ({type: 'null'}),
  bool: (value: boolean): DlmsData => ({type: 'boolean', value}),
  bits: (value: string): DlmsData => ({type: 'bit-string', value}),
  int8: (value: number): DlmsData => ({type: 'int8', value}),
  int16: (value: number): DlmsData => ({type: 'int16', value}),
  int32: (value: number): DlmsData => ({type: 'int32', value}),
  int64: (value: bigint | number): DlmsData => ({type: 'int64', value: BigInt(value)}),
  uint8: (value: number): DlmsData => ({type: 'uint8', value}),
  uint16: (value: number): DlmsData => ({type: 'uint16', value}),
  uint32: (value: number): DlmsData => ({type: 'uint32', value}),
  uint64: (value: bigint | number): DlmsData => ({type: 'uint64', value: BigInt(value)}),
  enum: (value: number): DlmsData => ({type: 'enum', value}),
  float32: (value: number): DlmsData => ({type: 'float32', value}),
  float64: (value: number): DlmsData => ({type: 'float64', value}),
  octets: (value: Uint8Array | readonly number[]): DlmsData => ({type: 'octet-string', value: Uint8Array.from(value)}),
  visible: (value: string): DlmsData => ({type: 'visible-string', value}),
  utf8: (value: string): DlmsData => ({type: 'utf8-string', value}),
  array: (value: DlmsData[]): DlmsData => ({type: 'array', value}),
  struct: (...value: DlmsData[]): DlmsData => ({type: 'structure', value}),
  dateTime: (value: CosemDateTime): DlmsData => ({type: 'date-time', value}),
  /** A date-time carried as a 12-byte octet-string, the way COSEM attributes (clock time, profile rows) hold it. */
  dateTimeOctets: (value: CosemDateTime): DlmsData => ({type: 'octet-string', value: encodeDateTime(value)}),
}

export type PlainValue = null | boolean | number | string | PlainValue[]

/**
 * JSON-friendly view: integers and floats as numbers, 64-bit integers as numbers when safe and decimal
 * strings otherwise, octet-strings as hex, strings as text, date/time values as ISO-ish text, collections
 * as arrays.
 */
export function toPlain(d: DlmsData): PlainValue {
  switch (d.type) {
    case 'null':
    case 'dont-care':
      return null
    case 'int64':
    case 'uint64':
      return d.value >= BigInt(Number.MIN_SAFE_INTEGER) && d.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(d.value) : d.value.toString()
    case 'octet-string':
      return Buffer.from(d.value).toString('hex')
    case 'array':
    case 'structure':
    case 'compact-array':
      return d.value.map(toPlain)
    case 'date-time':
    case 'date':
    case 'time':
      return plainDateLike(d)
    default:
      return d.value
  }
}

function plainDateLike(d: Extract<DlmsData, {type: 'date-time' | 'date' | 'time'}>): string {
  const f = (v: number | null, n = 2): string => (v === null ? '*'.repeat(n) : String(v).padStart(n, '0'))
  if (d.type === 'date') return `${f(d.value.year, 4)}-${f(d.value.month)}-${f(d.value.dayOfMonth)}`
  if (d.type === 'time') return `${f(d.value.hour)}:${f(d.value.minute)}:${f(d.value.second)}`
  const v = d.value
  const base = `${f(v.year, 4)}-${f(v.month)}-${f(v.dayOfMonth)}T${f(v.hour)}:${f(v.minute)}:${f(v.second)}`
  if (v.deviation === null) return base
  const off = -v.deviation
  const a = Math.abs(off)
  return `${base}${off < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`
}

/** A number from any integer/float Data (bigint → number, possibly losing precision beyond 2^53). */
export function dataToNumber(d: DlmsData): number | undefined {
  switch (d.type) {
    case 'int8':
    case 'int16':
    case 'int32':
    case 'uint8':
    case 'uint16':
    case 'uint32':
    case 'enum':
    case 'bcd':
    case 'float32':
    case 'float64':
      return d.value
    case 'int64':
    case 'uint64':
      return Number(d.value)
    case 'boolean':
      return d.value ? 1 : 0
    default:
      return undefined
  }
}

import {describe, expect, it} from 'vitest'
import {D, decodeData, encodeData, parseData, toPlain, type DlmsData} from '../../../src/core/dlms/codec/axdr.js'
import {dateTimeFromIso, dateTimeToIso, encodeDateTime} from '../../../src/core/dlms/codec/datetime.js'
import {isDlmsError} from '../../../src/core/dlms/errors.js'
import {hex, loadVector, toHex} from './vectors.js'

interface AxdrVector {
  type: string
  tag: number
  value: unknown
  hex: string
  gurux_decoded: unknown
}

const vectors = loadVector<{vectors: AxdrVector[]}>('codec-axdr').vectors

/** The DlmsData a vector describes, built from its `value` (not from its bytes). */
function expected(v: AxdrVector): DlmsData {
  switch (v.tag) {
    case 0:
      return D.null()
    case 3:
      return D.bool(v.value as boolean)
    case 4:
      return D.bits(v.value as string)
    case 5:
      return D.int32(v.value as number)
    case 6:
      return D.uint32(v.value as number)
    case 9:
      if (v.type.startsWith('date-time')) return D.dateTimeOctets(dateTimeFromIso(v.value as string)!)
      if (v.type.includes('200 bytes')) return D.octets(Array.from({length: 200}, (_, i) => i))
      if (v.type.includes('300 bytes')) return D.octets(Array.from({length: 300}, (_, i) => i % 256))
      return D.octets(hex(v.value as string))
    case 10:
      return D.visible(v.value as string)
    case 12:
      return D.utf8(v.value as string)
    case 15:
      return D.int8(v.value as number)
    case 16:
      return D.int16(v.value as number)
    case 17:
      return D.uint8(v.value as number)
    case 18:
      return D.uint16(v.value as number)
    case 20:
      return D.int64(BigInt(v.value as string))
    case 21:
      return D.uint64(BigInt(v.value as string))
    case 22:
      return D.enum(v.value as number)
    case 23:
      return D.float32(v.value as number)
    case 24:
      return D.float64(v.value as number)
    case 25:
      return D.dateTime(dateTimeFromIso(v.value as string)!)
    case 2: {
      const o = v.value as Record<string, unknown>
      if ('scaler' in o) return D.struct(D.int8(o.scaler as number), D.enum(o.unit as number))
      return D.struct(
        D.uint16(o.class_id as number),
        D.octets(
          hex(
            (o.obis as string)
              .split('.')
              .map(n => Number(n).toString(16).padStart(2, '0'))
              .join(''),
          ),
        ),
        D.int8(o.attribute as number),
        D.uint16(o.data_index as number),
      )
    }
    case 1:
      if (Array.isArray(v.value)) return D.array((v.value as number[]).map(n => D.uint16(n)))
      return D.array(Array.from({length: 130}, (_, i) => D.struct(D.uint8(i), D.bool(i % 2 === 0))))
    default:
      throw new Error(`no expectation for tag ${v.tag}`)
  }
}

describe('A-XDR vectors (codec-axdr.json, Gurux)', () => {
  it('covers every vector', () => expect(vectors.length).toBe(34))

  for (const v of vectors) {
    describe(v.type, () => {
      it('parse', () => expect(parseData(hex(v.hex))).toEqual(expected(v)))
      it('generate', () => expect(toHex(encodeData(expected(v)))).toBe(v.hex))
      it('generate(parse(bytes)) == bytes', () => expect(toHex(encodeData(parseData(hex(v.hex))))).toBe(v.hex))
      it("matches Gurux's decode", () => {
        const plain = toPlain(parseData(hex(v.hex)))
        if (v.tag === 12) expect(Buffer.from(plain as string, 'utf8').toString('hex')).toBe((v.gurux_decoded as string).replace(/ /g, '').toLowerCase())
        else if (v.tag === 20 || v.tag === 21) expect(String(plain)).toBe(v.value)
        else if (v.tag === 25) {
          const d = parseData(hex(v.hex))
          expect(d.type === 'date-time' && dateTimeToIso(d.value)).toBe(v.gurux_decoded)
        } else expect(plain).toEqual(v.gurux_decoded)
      })
    })
  }

  it('date-time octet-strings read back as the ISO time Gurux was given', () => {
    for (const v of vectors.filter(x => x.type.startsWith('date-time as octet-string'))) {
      const d = parseData(hex(v.hex))
      expect(d.type).toBe('octet-string')
      const dt = dateTimeFromIso(v.value as string)!
      expect(toHex(encodeDateTime(dt))).toBe(v.gurux_decoded)
    }
  })
})

describe('A-XDR edge cases', () => {
  const roundTrip = (d: DlmsData): DlmsData => parseData(encodeData(d))

  it('round-trips every type, including the ones the vectors lack', () => {
    const samples: DlmsData[] = [
      {type: 'dont-care'},
      {type: 'bcd', value: 0x12},
      {type: 'date', value: {year: 2024, month: 6, dayOfMonth: 15, dayOfWeek: null}},
      {type: 'time', value: {hour: 12, minute: null, second: 0, hundredths: null}},
      D.int64(-1n),
      D.uint64(0n),
      D.bits(''),
      D.utf8(''),
      D.struct(),
      D.array([D.array([D.struct(D.null(), D.octets([1, 2]))])]),
      D.float64(Number.NEGATIVE_INFINITY),
    ]
    for (const s of samples) expect(roundTrip(s)).toEqual(s)
  })

  it('compact-array: encode, decode, round-trip', () => {
    const c: DlmsData = {
      type: 'compact-array',
      description: {type: 'structure', fields: [{type: 'uint16'}, {type: 'octet-string'}, {type: 'array', count: 2, element: {type: 'int8'}}]},
      value: [D.struct(D.uint16(1), D.octets([0xaa]), D.array([D.int8(-1), D.int8(2)])), D.struct(D.uint16(2), D.octets([]), D.array([D.int8(3), D.int8(4)]))],
    }
    const bytes = encodeData(c)
    // 13 = tag, 02 03 = structure of 3, 12, 09, 01 0002 0f = array[2] of int8, contents length 11
    expect(toHex(bytes)).toBe('1302031209010002 0f 0b 0001 01aa ff02 0002 00 0304'.replace(/ /g, ''))
    expect(parseData(bytes)).toEqual(c)
  })

  it('compact-array of a simple type', () => {
    const c: DlmsData = {type: 'compact-array', description: {type: 'uint16'}, value: [D.uint16(1), D.uint16(2), D.uint16(3)]}
    expect(toHex(encodeData(c))).toBe('131206000100020003')
    expect(parseData(encodeData(c))).toEqual(c)
  })

  it('BER lengths: short, 0x81, 0x82, 0x84 forms', () => {
    for (const n of [0, 127, 128, 255, 256, 65535, 65536]) {
      const d = D.octets(new Uint8Array(n))
      const back = parseData(encodeData(d))
      expect(back.type === 'octet-string' && back.value.length).toBe(n)
    }
    expect(toHex(encodeData(D.octets(new Uint8Array(65536)))).slice(0, 12)).toBe('098301000000')
    expect(parseData(hex('09840000000101'))).toEqual(D.octets([1]))
  })

  describe('error vectors', () => {
    const cases: Array<[string, string, 'need-more' | 'malformed']> = [
      ['truncated uint32', '0600bc61', 'need-more'],
      ['truncated octet-string body', '0905010203', 'need-more'],
      ['lying array count (2^32-1 items, 1 byte follows)', '0184ffffffff00', 'need-more'],
      ['lying octet-string length (4 GiB)', '0984ffffffff', 'need-more'],
      ['bad tag 7', '0700', 'malformed'],
      ['bad tag 0x80', '80', 'malformed'],
      ['indefinite BER length', '098000', 'malformed'],
      ['5-byte BER length', '09850000000001', 'malformed'],
      ['compact-array with an array description tag inside', '1313', 'malformed'],
      ['compact-array contents ending inside an element', '1312 03 000100'.replace(/ /g, ''), 'malformed'],
      ['deep nesting', '0201'.repeat(40) + '00', 'malformed'],
    ]
    for (const [name, h, status] of cases)
      it(name, () => {
        const res = decodeData(hex(h))
        expect(res.status).toBe(status)
      })

    it('parseData turns both into a typed MALFORMED_FRAME error with an offset', () => {
      for (const h of ['0600bc61', '0700', '0600bc614e00']) {
        try {
          parseData(hex(h))
          expect.fail('should throw')
        } catch (e) {
          expect(isDlmsError(e) && e.dlmsCode).toBe('MALFORMED_FRAME')
          expect(isDlmsError(e) && typeof e.details.offset).toBe('number')
        }
      }
    })

    it('refuses to encode out-of-range values with a typed error', () => {
      expect(() => encodeData(D.uint8(256))).toThrow(/out of range/)
      expect(() => encodeData(D.int16(1.5))).toThrow(/out of range/)
      expect(() => encodeData(D.bits('012'))).toThrow(/0 and 1/)
    })
  })
})

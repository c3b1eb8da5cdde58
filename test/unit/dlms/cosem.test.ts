import {describe, expect, it} from 'vitest'
import {D} from '../../../src/core/dlms/codec/axdr.js'
import {dateTimeFromDate, dateTimeFromIso, dateTimeToDate, dateTimeToIso, decodeDateTime, encodeDateTime} from '../../../src/core/dlms/codec/datetime.js'
import {formatObis, parseObis, tryParseObis} from '../../../src/core/dlms/codec/obis.js'
import {applyScaler, formatQuantity, unitSymbol} from '../../../src/core/dlms/codec/units.js'
import {parseCaptureObjects, parseScalerUnit} from '../../../src/core/dlms/cosem.js'
import {guessClass, parseTarget} from '../../../src/core/dlms/read.js'
import {faultsFromConfig} from '../../../src/core/dlms/simulator/config.js'
import {HdlcClientLink} from '../../../src/core/dlms/link/hdlc.js'
import {decodeHdlcFrame} from '../../../src/core/dlms/codec/hdlc.js'
import {hex, sessionVectors, toHex} from './vectors.js'

describe('OBIS', () => {
  it('parses both text forms and prints both', () => {
    for (const t of ['1.0.1.8.0.255', '1-0:1.8.0*255', '1-0:1.8.0', '1-0:1.8.0&255', '0100010800ff', ' 1.0.1.8.0.255 '])
      expect(formatObis(parseObis(t))).toBe('1.0.1.8.0.255')
    expect(formatObis(parseObis('0.0.96.99.99.255'), 'iec')).toBe('0-0:96.99.99*255')
  })
  it('rejects bad codes with an input error (exit 2)', () => {
    for (const t of ['1.0.1.8.0', '1.0.1.8.0.256', 'a.b.c.d.e.f', '', '1-0:1.8']) expect(tryParseObis(t)).toBeUndefined()
    expect(() => parseObis('1.2.3')).toThrow(/invalid OBIS code "1.2.3"/)
    try {
      parseObis('x')
    } catch (e) {
      expect((e as {exitCode: number}).exitCode).toBe(2)
    }
  })
})

describe('units and scalers', () => {
  it('table symbols', () => {
    expect([27, 29, 30, 32, 33, 35, 44, 255].map(unitSymbol)).toEqual(['W', 'var', 'Wh', 'varh', 'A', 'V', 'Hz', ''])
    expect(unitSymbol(200)).toBe('unit(200)')
  })
  it('applies scalers without float noise', () => {
    expect(applyScaler(2301, -1)).toBe(230.1)
    expect(applyScaler(523, -2)).toBe(5.23)
    expect(applyScaler(1203, 1)).toBe(12030)
    expect(applyScaler(12345678n, 3)).toBe(12345678000)
    expect(formatQuantity(applyScaler(12345678, 0), 30, {prefix: true})).toBe('12.345678 MWh')
    expect(formatQuantity(12, 30, {prefix: true})).toBe('12 Wh')
  })
  it('scaler_unit and capture objects parse; bad shapes are MALFORMED_FRAME', () => {
    expect(parseScalerUnit(D.struct(D.int8(-1), D.enum(35)))).toEqual({scaler: -1, unit: 35})
    expect(() => parseScalerUnit(D.uint8(1))).toThrow(/scaler_unit/)
    expect(parseCaptureObjects(D.array([D.struct(D.uint16(8), D.octets([0, 0, 1, 0, 0, 255]), D.int8(2), D.uint16(0))]))).toEqual([
      {classId: 8, obis: '0.0.1.0.0.255', attribute: 2, dataIndex: 0},
    ])
    expect(() => parseCaptureObjects(D.array([D.struct(D.uint16(8))]))).toThrow(/capture object 0/)
  })
})

describe('date-time', () => {
  it('ISO ↔ fields ↔ bytes as in the vectors (deviation -60 = UTC+01:00)', () => {
    const dt = dateTimeFromIso('2024-06-15T12:34:56+01:00')!
    expect(toHex(encodeDateTime(dt))).toBe('07e8060fff0c223800ffc400')
    expect(dateTimeToIso(dt)).toBe('2024-06-15T12:34:56+01:00')
    expect(dateTimeToDate(dt)!.toISOString()).toBe('2024-06-15T11:34:56.000Z')
    expect(dateTimeFromIso('2024-01-01T00:00:00Z')!.deviation).toBe(0)
    expect(dateTimeFromIso('not a date')).toBeNull()
  })
  it('unspecified fields are null and print as incomplete', () => {
    const res = decodeDateTime(hex('ffffff fe ff 02 00 00 ff 8000 ff'.replace(/ /g, '')))
    expect(res.status).toBe('ok')
    if (res.status !== 'ok') return
    expect(res.value).toMatchObject({
      year: null,
      month: null,
      dayOfMonth: 0xfe,
      dayOfWeek: null,
      hour: 2,
      deviation: null,
      clockStatus: null,
    })
    expect(dateTimeToIso(res.value)).toBeNull()
    expect(toHex(encodeDateTime(res.value))).toBe('fffffffeff020000ff8000ff')
  })
  it('from a Date at an offset, with day of week and hundredths', () => {
    const dt = dateTimeFromDate(new Date('2024-06-15T23:30:00.250Z'), {offsetMinutes: 120, dayOfWeek: true, hundredths: true}) // fixed clock: a pure conversion
    expect(dt).toMatchObject({year: 2024, month: 6, dayOfMonth: 16, dayOfWeek: 7, hour: 1, minute: 30, hundredths: 25, deviation: -120})
    expect(dateTimeToIso(dt)).toBe('2024-06-16T01:30:00.25+02:00')
    expect(decodeDateTime(new Uint8Array(11)).status).toBe('malformed')
  })
})

describe('meters read targets', () => {
  it('guesses the class from the OBIS code', () => {
    expect(['0.0.1.0.0.255', '1.0.99.1.0.255', '1.0.1.8.0.255', '0.0.96.1.0.255', '0.0.42.0.0.255'].map(o => guessClass(parseObis(o)))).toEqual([8, 7, 3, 1, 1])
  })
  it('accepts a :class suffix on both forms', () => {
    expect(parseTarget('1.0.1.6.0.255:4')).toEqual({obis: '1.0.1.6.0.255', classId: 4})
    expect(parseTarget('1-0:1.6.0*255:4')).toEqual({obis: '1.0.1.6.0.255', classId: 4})
    expect(parseTarget('1-0:1.8.0*255')).toEqual({obis: '1.0.1.8.0.255'})
    expect(() => parseTarget('1.0.1.8.0.255:0')).toThrow(/class id/)
  })
  it('config faults by index or all', () => {
    expect(faultsFromConfig({all: 'silent', 1: 'delay:5'}, 3)).toEqual([{type: 'silent'}, {type: 'delay', ms: 5}, {type: 'silent'}])
    expect(() => faultsFromConfig({7: 'drop'}, 2)).toThrow(/no meter "7"/)
  })
})

describe('HDLC client link, sans-IO, against the profile session', () => {
  it('produces every c2s frame from the s2c frames (SNRM, I-frames, RR for segments, DISC)', () => {
    const s = sessionVectors().find(x => x.name === 'hdlc-get-profile-buffer')!
    const link = new HdlcClientLink({clientAddress: 16, server: {logical: 1, size: 1}})
    const c2s = s.steps.filter(x => x.dir === 'c2s').map(x => x.hex)
    const sent: string[] = []
    const apdus: Uint8Array[] = []
    const pump = (evs: ReturnType<HdlcClientLink['receive']>): void => {
      for (const e of evs) {
        if (e.type === 'send') sent.push(toHex(e.bytes))
        if (e.type === 'apdu') apdus.push(e.apdu)
        if (e.type === 'error') throw e.error
      }
    }
    let awaiting = true // SNRM sent, waiting for UA
    pump(link.connect())
    for (const step of s.steps.filter(x => x.dir === 's2c')) {
      const before = sent.length
      const state = link.state
      pump(link.receive(hex(step.hex)))
      if (apdus.length > 0 || (state === 'connecting' && link.state === 'connected')) awaiting = false
      apdus.length = 0
      // the client's next request is the vector's next c2s frame (only when the link did not answer by itself, e.g. RR)
      const next = c2s[sent.length]
      if (!awaiting && sent.length === before && next && link.state === 'connected') {
        const f = decodeHdlcFrame(hex(next))
        if (f.status !== 'ok') throw new Error('bad vector frame')
        if (f.value.control.type === 'DISC') pump(link.disconnect())
        else pump(link.sendApdu(f.value.info.subarray(3)))
        awaiting = true
      }
    }
    expect(sent).toEqual(c2s)
  })
})

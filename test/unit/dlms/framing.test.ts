import {describe, expect, it} from 'vitest'
import {crc16x25} from '../../../src/core/dlms/codec/crc.js'
import {
  clientAddress,
  decodeControl,
  decodeHdlcFrame,
  decodeHdlcParams,
  encodeAddress,
  encodeControl,
  encodeHdlcFrame,
  encodeHdlcParams,
  HdlcStreamDecoder,
  serverAddressFromCombined,
  type HdlcFrame,
  type HdlcStreamEvent,
} from '../../../src/core/dlms/codec/hdlc.js'
import {Writer} from '../../../src/core/dlms/codec/bytes.js'
import {decodeWrapperFrame, encodeWrapperFrame, WrapperStreamDecoder} from '../../../src/core/dlms/codec/wrapper.js'
import {hex, loadVector, sessionVectors, toHex} from './vectors.js'

interface HdlcFrameVector {
  description: string
  client_address: number
  server_address: number
  hex: string
  fields: {
    format: string
    length: number
    segmented: boolean
    dest_addr: string
    src_addr: string
    control: string
    hcs: string | null
    info: string
    fcs: string
  }
}

const hdlcVectors = loadVector<{frames: HdlcFrameVector[]; fcs16_check: Array<{input_hex: string; crc16_x25: string; on_wire: string}>}>('codec-hdlc-frames')
const wrapperVectors = loadVector<{
  frames: Array<{
    description: string
    client_address: number
    server_address: number
    hex: string
    fields: {version: string; src_wport: number; dst_wport: number; length: number; apdu: string}
  }>
}>('codec-wrapper-frames')

const addrHex = (a: Parameters<typeof encodeAddress>[0]): string => {
  const w = new Writer()
  encodeAddress(a, w)
  return toHex(w.finish())
}

describe('CRC-16/X.25 (fcs16_check vectors)', () => {
  for (const c of hdlcVectors.fcs16_check)
    it(c.input_hex, () => {
      const crc = crc16x25(hex(c.input_hex))
      expect(crc.toString(16).padStart(4, '0')).toBe(c.crc16_x25)
      expect(toHex(Uint8Array.of(crc & 0xff, crc >> 8))).toBe(c.on_wire)
    })
})

describe('HDLC frame vectors (codec-hdlc-frames.json)', () => {
  for (const v of hdlcVectors.frames) {
    const size = (v.fields.dest_addr.length / 2) as 1 | 2 | 4
    const frame: HdlcFrame = {
      segmented: v.fields.segmented,
      dest: serverAddressFromCombined(v.server_address, size),
      src: clientAddress(v.client_address),
      control: decodeControl(parseInt(v.fields.control, 16))!,
      info: hex(v.fields.info),
    }
    describe(v.description, () => {
      it('parse', () => {
        const res = decodeHdlcFrame(hex(v.hex))
        expect(res.status).toBe('ok')
        if (res.status !== 'ok') return
        const f = res.value
        expect(f.length).toBe(v.fields.length)
        expect(f.segmented).toBe(v.fields.segmented)
        expect(f.dest).toEqual(frame.dest)
        expect(f.src).toEqual(frame.src)
        expect(addrHex(f.dest)).toBe(v.fields.dest_addr)
        expect(addrHex(f.src)).toBe(v.fields.src_addr)
        expect(encodeControl(f.control).toString(16)).toBe(v.fields.control)
        expect(toHex(f.info)).toBe(v.fields.info)
        expect(f.hcs === undefined ? null : toHex(Uint8Array.of(f.hcs & 0xff, f.hcs >> 8))).toBe(v.fields.hcs)
        expect(toHex(Uint8Array.of(f.fcs & 0xff, f.fcs >> 8))).toBe(v.fields.fcs)
        expect(res.consumed + 1).toBe(hex(v.hex).length)
      })
      it('generate', () => expect(toHex(encodeHdlcFrame(frame))).toBe(v.hex))
      it('generate(parse(bytes)) == bytes', () => {
        const res = decodeHdlcFrame(hex(v.hex))
        expect(res.status === 'ok' && toHex(encodeHdlcFrame(res.value))).toBe(v.hex)
      })
    })
  }

  it('SNRM parameters: max_info 512/512, window_rx 7 encode as Gurux does', () => {
    const v = hdlcVectors.frames.find(f => f.description.startsWith('SNRM with parameters'))!
    expect(toHex(encodeHdlcParams({maxInfoTx: 512, maxInfoRx: 512, windowRx: 7}))).toBe(v.fields.info)
    const p = decodeHdlcParams(hex(v.fields.info))
    expect(p.status === 'ok' && p.value).toEqual({maxInfoTx: 512, maxInfoRx: 512, windowRx: 7})
  })

  it('UA parameters of the sessions decode to the recorded values', () => {
    const ua = decodeHdlcFrame(hex('7ea01e210373c37a818012050180060180070400000001080400000001533b7e'))
    expect(ua.status).toBe('ok')
    if (ua.status !== 'ok') return
    expect(ua.value.control.type).toBe('UA')
    const p = decodeHdlcParams(ua.value.info)
    expect(p.status === 'ok' && p.value).toEqual({maxInfoTx: 128, maxInfoRx: 128, windowTx: 1, windowRx: 1})
    expect(toHex(encodeHdlcParams({maxInfoTx: 128, maxInfoRx: 128, windowTx: 1, windowRx: 1}))).toBe(toHex(ua.value.info))
  })

  it("every HDLC session's UA parameters decode to the recorded ua values", () => {
    for (const s of sessionVectors().filter(x => x.framing === 'hdlc' && x.decoded.ua)) {
      const ua = decodeHdlcFrame(hex(s.steps[1]!.hex))
      expect(ua.status === 'ok' && ua.value.control.type).toBe('UA')
      if (ua.status !== 'ok') continue
      const p = decodeHdlcParams(ua.value.info)
      expect(p.status === 'ok' && p.value, s.name).toEqual({
        maxInfoTx: s.decoded.ua.max_info_tx,
        maxInfoRx: s.decoded.ua.max_info_rx,
        windowTx: s.decoded.ua.window_tx,
        windowRx: s.decoded.ua.window_rx,
      })
    }
  })

  it('every frame of every HDLC session decodes and re-encodes byte-exact', () => {
    let n = 0
    for (const s of sessionVectors().filter(x => x.framing === 'hdlc'))
      for (const step of s.steps) {
        const res = decodeHdlcFrame(hex(step.hex))
        expect(res.status, `${s.name}: ${step.meaning}`).toBe('ok')
        if (res.status === 'ok') expect(toHex(encodeHdlcFrame(res.value))).toBe(step.hex)
        n++
      }
    expect(n).toBeGreaterThan(80)
  })

  it('control field: every I/RR/RNR/U form round-trips', () => {
    for (let b = 0; b < 256; b++) {
      const c = decodeControl(b)
      if (c) expect(encodeControl(c)).toBe(b)
    }
    expect(decodeControl(0x93)).toEqual({type: 'SNRM', pf: true})
    expect(decodeControl(0x71)).toEqual({type: 'RR', nr: 3, pf: true})
    expect(decodeControl(0x74)).toEqual({type: 'I', ns: 2, nr: 3, pf: true})
    expect(decodeControl(0x09)).toBeUndefined() // REJ is not used by DLMS
  })
})

describe('HDLC error vectors', () => {
  const good = hex('7ea0070321930f017e')
  const cases: Array<[string, Uint8Array, 'need-more' | 'malformed', RegExp?]> = [
    ['truncated after the format', good.subarray(0, 3), 'need-more'],
    ['truncated before the closing flag', good.subarray(0, 8), 'need-more'],
    ['bad FCS', hex('7ea0070321930f027e'), 'malformed', /FCS/],
    ['bad HCS', hex('7ea02b032110fbaee6e600601da109060760857405080101be10040e01000000065f1f0400401e5dffff91237e'), 'malformed', /HCS/],
    ['format type is not 0xA', hex('7eb0070321930f017e'), 'malformed', /format type/],
    ['length shorter than a header', hex('7ea0037e'), 'malformed', /minimum/],
    ['lying length (no flag where the length ends)', hex('7ea00803219300000f017e'), 'malformed', /flag/],
    ['5-byte address', hex('7ea00b0202020202219300007e'), 'malformed', /address/],
    ['3-byte address', hex('7ea00902020321930000 7e'.replace(' ', '')), 'malformed', /address/],
    ['REJ control', hex('7ea007032109' + '00007e'), 'malformed', /control/],
  ]
  for (const [name, bytes, status, re] of cases)
    it(name, () => {
      const res = decodeHdlcFrame(bytes)
      expect(res.status).toBe(status)
      if (re && res.status === 'malformed') expect(res.reason).toMatch(re)
    })
})

describe('HDLC stream decoder', () => {
  const s = sessionVectors().find(x => x.name === 'hdlc-get-profile-buffer')!
  const s2c = s.steps.filter(x => x.dir === 's2c').map(x => hex(x.hex))
  const all = Buffer.concat(s2c)
  const frames = (evs: HdlcStreamEvent[]) => evs.filter(e => e.type === 'frame')

  it('one byte at a time', () => {
    const d = new HdlcStreamDecoder()
    let n = 0
    for (const b of all) n += frames(d.push(Uint8Array.of(b))).length
    expect(n).toBe(s2c.length)
    expect(d.pending).toBe(0)
  })

  it('everything in one read', () => {
    const d = new HdlcStreamDecoder()
    expect(frames(d.push(all)).length).toBe(s2c.length)
  })

  it('random chunking', () => {
    let seed = 7
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed / 0x7fffffff)
    for (let round = 0; round < 20; round++) {
      const d = new HdlcStreamDecoder()
      let n = 0
      for (let i = 0; i < all.length; ) {
        const len = 1 + Math.floor(rnd() * 200)
        n += frames(d.push(all.subarray(i, i + len))).length
        i += len
      }
      expect(n).toBe(s2c.length)
    }
  })

  it('frames sharing flags (closing flag = next opening flag)', () => {
    const a = hex('7ea0070321930f017e')
    const b = hex('7ea00703215303c77e')
    const shared = Buffer.concat([a, b.subarray(1)])
    const d = new HdlcStreamDecoder()
    const evs = d.push(shared)
    expect(frames(evs).map(e => e.type === 'frame' && e.frame.control.type)).toEqual(['SNRM', 'DISC'])
  })

  it('garbage before a flag is skipped and reported', () => {
    const d = new HdlcStreamDecoder()
    const evs = d.push(Buffer.concat([hex('0102030405'), hex('7ea0070321930f017e')]))
    expect(evs[0]).toEqual({type: 'garbage', bytes: 5})
    expect(frames(evs).length).toBe(1)
  })

  it('a corrupted frame is reported and the next one still decodes', () => {
    const d = new HdlcStreamDecoder()
    const evs = d.push(Buffer.concat([hex('7ea0070321930f027e'), hex('7ea00703215303c77e')]))
    expect(evs.some(e => e.type === 'error' && /FCS/.test(e.reason))).toBe(true)
    expect(frames(evs).length).toBe(1)
  })

  it('a frame that never completes stays pending (the transport times it out)', () => {
    const d = new HdlcStreamDecoder()
    expect(d.push(hex('7ea02b032110fbafe6e600'))).toEqual([])
    expect(d.pending).toBe(11)
    d.reset()
    expect(d.pending).toBe(0)
  })

  it('a huge declared length cannot grow the buffer past one frame', () => {
    const d = new HdlcStreamDecoder()
    d.push(hex('7ea7ff'))
    for (let i = 0; i < 100; i++) d.push(new Uint8Array(100)) // zeros: no flag where the length ends
    expect(d.pending).toBeLessThan(2100)
  })
})

describe('wrapper frame vectors (codec-wrapper-frames.json)', () => {
  for (const v of wrapperVectors.frames) {
    describe(v.description + ` (client ${v.client_address})`, () => {
      it('parse', () => {
        const res = decodeWrapperFrame(hex(v.hex))
        expect(res.status).toBe('ok')
        if (res.status !== 'ok') return
        expect(res.value.version.toString(16).padStart(4, '0')).toBe(v.fields.version)
        expect(res.value.src).toBe(v.fields.src_wport)
        expect(res.value.dst).toBe(v.fields.dst_wport)
        expect(res.value.apdu.length).toBe(v.fields.length)
        expect(toHex(res.value.apdu)).toBe(v.fields.apdu)
      })
      it('generate', () => expect(toHex(encodeWrapperFrame({src: v.client_address, dst: v.server_address, apdu: hex(v.fields.apdu)}))).toBe(v.hex))
      it('generate(parse(bytes)) == bytes', () => {
        const res = decodeWrapperFrame(hex(v.hex))
        expect(res.status === 'ok' && toHex(encodeWrapperFrame(res.value))).toBe(v.hex)
      })
    })
  }

  it('error vectors: truncated header, truncated body, bad version, empty APDU, over-long', () => {
    expect(decodeWrapperFrame(hex('000100')).status).toBe('need-more')
    expect(decodeWrapperFrame(hex('000100100001001f601d')).status).toBe('need-more')
    expect(decodeWrapperFrame(hex('00020010000100056203800100')).status).toBe('malformed')
    expect(decodeWrapperFrame(hex('0001001000010000')).status).toBe('malformed')
    expect(decodeWrapperFrame(hex('00010010000108000000'), 0, 1024).status).toBe('malformed')
  })

  it('stream decoder: partial reads, several frames per read, then a broken header', () => {
    const s = sessionVectors().find(x => x.name === 'wrapper-get-registers')!
    const all = Buffer.concat(s.steps.filter(x => x.dir === 's2c').map(x => hex(x.hex)))
    const d = new WrapperStreamDecoder()
    let n = 0
    for (let i = 0; i < all.length; i += 3) n += d.push(all.subarray(i, i + 3)).filter(e => e.type === 'frame').length
    expect(n).toBe(10)
    const d2 = new WrapperStreamDecoder()
    expect(d2.push(all).filter(e => e.type === 'frame').length).toBe(10)
    const evs = d2.push(hex('dead00010010000101'))
    expect(evs[0]?.type).toBe('error')
    expect(d2.push(hex('00010001001000056203800100'))[0]?.type).toBe('error') // stays broken: no resync without a flag
  })
})

/**
 * Robustness: ≥ 10,000 random and mutated frames (seeded, deterministic) into every decoder, the link
 * machines and the simulator's session. Nothing may throw anything but a DlmsError, nothing may hang, and
 * no decoded value may be bigger than its input could describe (no allocation from an unchecked length).
 */
import {describe, expect, it} from 'vitest'
import {decodeData, parseData, type DlmsData} from '../../../src/core/dlms/codec/axdr.js'
import {decodeApdu} from '../../../src/core/dlms/codec/apdu/index.js'
import {decodeDateTime} from '../../../src/core/dlms/codec/datetime.js'
import {decodeHdlcFrame, decodeHdlcParams, HdlcStreamDecoder} from '../../../src/core/dlms/codec/hdlc.js'
import {decodeWrapperFrame, WrapperStreamDecoder} from '../../../src/core/dlms/codec/wrapper.js'
import {isDlmsError} from '../../../src/core/dlms/errors.js'
import {HdlcClientLink, HdlcServerLink} from '../../../src/core/dlms/link/hdlc.js'
import {WrapperClientLink} from '../../../src/core/dlms/link/wrapper.js'
import {MeterModel} from '../../../src/core/dlms/simulator/objects.js'
import {CosemServerSession, SERVER_CONFORMANCE} from '../../../src/core/dlms/simulator/session.js'
import {hex, loadVector, sessionVectors} from './vectors.js'

function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// corpus: every recorded frame, every APDU inside them, every A-XDR vector
const sessions = sessionVectors()
const frames = sessions.flatMap(s => s.steps.map(x => hex(x.hex)))
const apdus = sessions.filter(s => s.framing === 'wrapper').flatMap(s => s.steps.map(x => hex(x.hex).subarray(8)))
const axdr = loadVector<{vectors: Array<{hex: string}>}>('codec-axdr').vectors.map(v => hex(v.hex))
const corpus = [...frames, ...apdus, ...axdr]

const INTERESTING = [0x00, 0x01, 0x7e, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0xff, 0xa0, 0xa8, 0xe6, 0xc4, 0x60, 0x61]

function mutate(r: () => number, src: Uint8Array): Uint8Array {
  let b = Array.from(src)
  const n = 1 + Math.floor(r() * 4)
  for (let k = 0; k < n; k++) {
    const i = Math.floor(r() * Math.max(1, b.length))
    switch (Math.floor(r() * 7)) {
      case 0:
        b[i] = (b[i] ?? 0) ^ (1 << Math.floor(r() * 8))
        break
      case 1:
        b[i] = INTERESTING[Math.floor(r() * INTERESTING.length)]!
        break
      case 2:
        b.splice(i, 0, Math.floor(r() * 256))
        break
      case 3:
        b.splice(i, 1)
        break
      case 4:
        b = b.slice(0, i)
        break
      case 5:
        b.splice(i, 0, 0x84, 0xff, 0xff, 0xff, 0xff) // a lying 4 GiB length
        break
      default:
        b = b.concat(b.slice(i, i + 16))
    }
  }
  return Uint8Array.from(b)
}

function randomBytes(r: () => number): Uint8Array {
  const len = Math.floor(r() * 300)
  const out = new Uint8Array(len)
  for (let i = 0; i < len; i++) out[i] = r() < 0.2 ? INTERESTING[Math.floor(r() * INTERESTING.length)]! : Math.floor(r() * 256)
  return out
}

/** Number of values in a decoded tree: must stay within what `bytes` input bytes can describe. */
function size(d: DlmsData): number {
  if (d.type === 'array' || d.type === 'structure' || d.type === 'compact-array') return 1 + d.value.reduce((n, x) => n + size(x), 0)
  if (d.type === 'octet-string') return 1 + d.value.length
  if (d.type === 'visible-string' || d.type === 'utf8-string' || d.type === 'bit-string') return 1 + d.value.length / 8
  return 1
}

/**
 * Bytes a decoded value holds: typed arrays by their own length (a view into the input counts its
 * view, so sharing the input is fine), strings by length, everything else a few bytes per node.
 * A decoder that allocated from a length field it did not check would show here.
 */
function heldBytes(v: unknown, seen = new Set<object>()): number {
  if (v === null || typeof v !== 'object') return typeof v === 'string' ? v.length : 8
  if (seen.has(v)) return 0
  seen.add(v)
  if (ArrayBuffer.isView(v)) return v.byteLength
  if (v instanceof ArrayBuffer) return v.byteLength
  let n = 8
  for (const x of Array.isArray(v) ? v : Object.values(v)) n += heldBytes(x, seen)
  return n
}

function mustNotThrow(name: string, input: Uint8Array, fn: () => unknown): unknown {
  const t0 = performance.now()
  let out: unknown
  try {
    out = fn()
  } catch (e) {
    throw new Error(`${name} threw ${String(e)} on ${Buffer.from(input).toString('hex').slice(0, 200)}`)
  }
  // A hang (a length loop that never ends), not a speed check: inputs are at most a few KB and a
  // decode takes microseconds, so only a decoder stuck in a loop gets near 10 s, loaded or not.
  const ms = performance.now() - t0
  if (ms > 10_000) throw new Error(`${name} hung for ${ms.toFixed(0)} ms on ${Buffer.from(input).toString('hex').slice(0, 200)}`)
  return out
}

describe('fuzz (seeded)', () => {
  it('12,000 random and mutated inputs through every decoder', () => {
    const r = rng(20240615)
    const stats = {ok: 0, 'need-more': 0, malformed: 0}
    // heapUsed does not count typed-array backing stores: arrayBuffers does.
    const memBefore = process.memoryUsage()
    for (let iter = 0; iter < 12_000; iter++) {
      const input = r() < 0.3 ? randomBytes(r) : mutate(r, corpus[Math.floor(r() * corpus.length)]!)
      for (const [name, fn] of [
        ['decodeHdlcFrame', () => decodeHdlcFrame(input)],
        ['decodeWrapperFrame', () => decodeWrapperFrame(input)],
        ['decodeApdu', () => decodeApdu(input)],
        ['decodeApdu(wrapper body)', () => decodeApdu(input.subarray(8))],
        ['decodeData', () => decodeData(input)],
        ['decodeHdlcParams', () => decodeHdlcParams(input)],
        ['decodeDateTime', () => decodeDateTime(input.subarray(0, 12))],
      ] as const) {
        const res = mustNotThrow(name, input, fn) as {status: keyof typeof stats; value?: unknown}
        expect(['ok', 'need-more', 'malformed']).toContain(res.status)
        stats[res.status]++
        if (name === 'decodeData' && res.status === 'ok') expect(size(res.value as DlmsData)).toBeLessThanOrEqual(input.length * 8 + 256)
        // Every decoder: what it returns is bounded by what it was given (no buffer sized by an
        // unchecked length field), whatever the status.
        const held = heldBytes(res)
        if (held > input.length * 64 + 4096)
          throw new Error(`${name} returned ${held} bytes for a ${input.length}-byte input: ${Buffer.from(input).toString('hex').slice(0, 200)}`)
      }
      // the throwing API throws typed errors only
      try {
        parseData(input)
      } catch (e) {
        expect(isDlmsError(e)).toBe(true)
      }
    }
    expect(stats.ok).toBeGreaterThan(1000)
    expect(stats.malformed).toBeGreaterThan(1000)
    expect(stats['need-more']).toBeGreaterThan(1000)
    // bounded memory: 12k inputs of ≤ a few hundred bytes cannot justify more than a few tens of MB
    const memAfter = process.memoryUsage()
    expect(memAfter.heapUsed - memBefore.heapUsed).toBeLessThan(200 << 20)
    expect(memAfter.arrayBuffers - memBefore.arrayBuffers).toBeLessThan(64 << 20)
  })

  it('10,000 mutated frames streamed in random chunks into the stream decoders and link machines', () => {
    const r = rng(7)
    const hdlcStream = new HdlcStreamDecoder()
    const wrapperStream = new WrapperStreamDecoder()
    const client = new HdlcClientLink({clientAddress: 16, server: {logical: 1, size: 1}})
    client.connect()
    client.receive(hex('7ea01e210373c37a818012050180060180070400000001080400000001533b7e')) // UA → connected
    const server = new HdlcServerLink({logical: 1})
    const wclient = new WrapperClientLink({clientAddress: 16, serverAddress: 1})
    const session = new CosemServerSession(
      new MeterModel({index: 0, now: () => 1_718_451_296_000, offsetMinutes: 60, seed: 1, profileRows: 96, profilePeriodMinutes: 15, preset: 'default'}),
      {
        password: '12345678',
        maxPduSize: 512,
        conformance: SERVER_CONFORMANCE,
      },
    )
    session.handle(hex('601da109060760857405080101be10040e01000000065f1f0400401e5dffff'), 16) // associate so GETs get served
    let errors = 0
    let frameEvents = 0
    for (let iter = 0; iter < 10_000; iter++) {
      const input = r() < 0.2 ? randomBytes(r) : mutate(r, frames[Math.floor(r() * frames.length)]!)
      for (let i = 0; i < input.length; ) {
        const len = 1 + Math.floor(r() * 64)
        const chunk = input.subarray(i, i + len)
        i += len
        for (const ev of mustNotThrow('HdlcStreamDecoder', input, () => hdlcStream.push(chunk)) as Array<{type: string}>) {
          if (ev.type === 'frame') frameEvents++
          if (ev.type === 'error') errors++
        }
        mustNotThrow('WrapperStreamDecoder', input, () => wrapperStream.push(chunk))
        mustNotThrow('HdlcClientLink', input, () => client.receive(chunk))
        mustNotThrow('HdlcServerLink', input, () => server.receive(chunk))
        mustNotThrow('WrapperClientLink', input, () => wclient.receive(chunk))
      }
      if (iter % 50 === 0) wrapperStream.reset()
      mustNotThrow('CosemServerSession', input, () => session.handle(input.subarray(input[0] === 0x7e ? 11 : 8), 16))
      expect(hdlcStream.pending).toBeLessThanOrEqual(2049 + 64)
    }
    expect(frameEvents).toBeGreaterThan(200)
    expect(errors).toBeGreaterThan(200)
    // after all that, the stream decoder still recovers: a valid frame after some noise decodes
    const evs = hdlcStream.push(Uint8Array.from([...new Uint8Array(2100), ...hex('7ea0070321930f017e')]))
    expect(evs.some(e => e.type === 'frame')).toBe(true)
  })
})

/**
 * Robustness: 200,000 random and mutated datagrams (seeded, deterministic; bit flips, truncations,
 * length-field and count edits, spliced sets of the real vectors, random bytes behind real headers)
 * from a rotating set of exporter names into one TemplateCache with small caps. Nothing may throw,
 * no error may be an internal one, the cache stays within its caps, and afterwards the real vectors
 * still decode to the same records as on a fresh cache.
 */
import {describe, expect, it} from 'vitest'
import {decode, type FlowRecord, TemplateCache} from '../../../src/core/netflow/index.js'
import {fromHex, loadVector, vectorNames} from './vectors.js'

function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const corpus = vectorNames().flatMap(n => loadVector(n).datagrams.map(fromHex))
const ITERATIONS = Number(process.env.NETFLOW_FUZZ_ITERATIONS ?? 200_000)
const DEADLINE_MS = 20_000

function mutate(rand: () => number): Uint8Array {
  const int = (n: number) => Math.floor(rand() * n)
  const base = corpus[int(corpus.length)]
  const kind = int(8)
  let b = Uint8Array.from(base)
  switch (kind) {
    case 0: {
      // bit flips
      const flips = 1 + int(8)
      for (let i = 0; i < flips; i++) b[int(b.length)] ^= 1 << int(8)
      break
    }
    case 1: // truncation
      b = b.subarray(0, int(b.length))
      break
    case 2: {
      // a 16-bit length / count / id field edited (set headers sit at 4-byte boundaries)
      const at = int(b.length >> 1) * 2
      const v = [0, 1, 2, 3, 4, 255, 256, 0xffff, int(65536), base.length, base.length + 1][int(11)]
      b[at] = v >> 8
      b[at + 1] = v & 255
      break
    }
    case 3: {
      // random bytes behind a real header
      const hl = b[1] === 5 ? 24 : b[1] === 9 ? 20 : 16
      const n = int(1400)
      const c = new Uint8Array(hl + n)
      c.set(b.subarray(0, hl))
      for (let i = hl; i < c.length; i++) c[i] = int(256)
      if (c[1] === 10) {
        c[2] = c.length >> 8
        c[3] = c.length & 255
      }
      b = c
      break
    }
    case 4: {
      // splice two datagrams (sets of one behind the header of another)
      const other = corpus[int(corpus.length)]
      const c = new Uint8Array(b.length + other.length - 20)
      c.set(b)
      c.set(other.subarray(20), b.length)
      if (c[1] === 10) {
        c[2] = (c.length >> 8) & 255
        c[3] = c.length & 255
      }
      b = c
      break
    }
    case 5: {
      // pure noise, sometimes with a valid version
      b = new Uint8Array(int(300))
      for (let i = 0; i < b.length; i++) b[i] = int(256)
      if (b.length > 2 && rand() < 0.7) b[1] = [5, 9, 10][int(3)]
      if (b.length > 2) b[0] = 0
      break
    }
    case 6: {
      // template flood: a valid v9/IPFIX template set with a fresh id and random fields
      const ipfixMsg = rand() < 0.5
      const nf = 1 + int(20)
      const body: number[] = [0, ipfixMsg ? 2 : 0, ((8 + nf * 4) >> 8) & 255, (8 + nf * 4) & 255, 1 + int(254), int(256), 0, nf]
      for (let f = 0; f < nf; f++) body.push(0, 1 + int(200), 0, 1 + int(16))
      const hl = ipfixMsg ? 16 : 20
      b = new Uint8Array(hl + body.length)
      b.set([0, ipfixMsg ? 10 : 9])
      if (ipfixMsg) b.set([b.length >> 8, b.length & 255], 2)
      b.set(body, hl)
      break
    }
    default: {
      // many edits at once
      for (let i = 0; i < 1 + int(40); i++) b[int(b.length)] = int(256)
    }
  }
  return b
}

const strip = (rs: FlowRecord[]) => rs.map(r => ({...r}))

describe('netflow fuzz', () => {
  it(`${ITERATIONS} mutated datagrams: no throw, no internal error, caps hold, good datagrams decode after`, () => {
    const rand = rng(0x15f10)
    const cache = new TemplateCache({maxExporters: 8, maxTemplatesPerExporter: 32, maxDomainsPerExporter: 4})
    const reasons = new Map<string, number>()
    let ok = 0
    let records = 0
    const t0 = performance.now()
    let i = 0
    for (; i < ITERATIONS; i++) {
      if ((i & 1023) === 0 && performance.now() - t0 > DEADLINE_MS) break
      const b = mutate(rand)
      const exporter = `198.51.100.${i % 5 ? i % 3 : 10 + (i % 40)}`
      const r = decode(b, exporter, cache)
      if (r.ok) {
        ok++
        records += r.records.length
        // no record may claim more than its bytes could carry
        if (r.records.length > b.length) throw new Error(`${r.records.length} records from ${b.length} bytes`)
      } else {
        if (r.detail.startsWith('internal')) throw new Error(`internal error on ${Buffer.from(b).toString('hex')}: ${r.detail}`)
        reasons.set(r.reason, (reasons.get(r.reason) ?? 0) + 1)
      }
      if ((i & 255) === 0) {
        if (cache.exporterCount > 8) throw new Error(`${cache.exporterCount} exporters held, cap 8`)
        for (const e of cache.exporterNames()) if ((cache.stats(e)?.templates ?? 0) > 32) throw new Error(`${e}: over 32 templates`)
      }
    }
    const ms = performance.now() - t0
    // enough of the run happened, and both outcomes occurred
    expect(i).toBeGreaterThanOrEqual(Math.min(ITERATIONS, 20_000))
    expect(ok).toBeGreaterThan(100)
    expect(reasons.size).toBeGreaterThanOrEqual(6)
    expect(cache.templateCount).toBeLessThanOrEqual(8 * 32)
    expect(cache.totals.evictedExporters).toBeGreaterThan(0)
    expect(cache.totals.evictedTemplates).toBeGreaterThan(0)
    console.log(
      `netflow fuzz: ${i} datagrams in ${Math.round(ms)} ms, ${ok} decoded (${records} records), malformed by reason: ${JSON.stringify(Object.fromEntries(reasons))}; ` +
        `evictions: ${JSON.stringify(cache.totals)}`,
    )

    // Afterwards: each real vector decodes on the fuzzed cache (as a new exporter, and as one the fuzz used) exactly as on a fresh one.
    for (const name of vectorNames()) {
      const v = loadVector(name)
      for (const exporter of ['203.0.113.9', '198.51.100.3']) {
        if (exporter === '198.51.100.3') cache.delete(exporter)
        const fresh = new TemplateCache()
        for (const h of v.datagrams) {
          const a = decode(fromHex(h), exporter, cache)
          const want = decode(fromHex(h), exporter, fresh)
          expect(a.ok).toBe(true)
          expect(want.ok).toBe(true)
          if (a.ok && want.ok) expect(strip(a.records)).toEqual(strip(want.records))
        }
      }
    }
  })
})

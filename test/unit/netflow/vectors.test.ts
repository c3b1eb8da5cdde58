/**
 * Every recorded datagram (softflowd v5/v9/IPFIX from a pcap, pmacctd v9/IPFIX live, sampled and not)
 * decoded three ways: netmon's decoder, against (b) the transfer itself (per-5-tuple bytes and packets
 * and packet times from the pcap tcpdump recorded) and (c) nfdump's decode of the same datagrams.
 */
import {describe, expect, it} from 'vitest'
import {decode, type FlowRecord, TemplateCache} from '../../../src/core/netflow/index.js'
import {fromHex, loadVector, nfdumpMs, type Vector, vectorNames} from './vectors.js'

const WRAP = 2 ** 32

const key = (proto: number, src: string, sp: number, dst: string, dp: number) => `${proto}|${src}|${sp}|${dst}|${dp}`
const recKey = (r: FlowRecord) => key(r.protocol, r.src, r.srcPort, r.dst, r.dstPort)

function decodeAll(v: Vector): FlowRecord[] {
  const cache = new TemplateCache()
  const out: FlowRecord[] = []
  for (const h of v.datagrams) {
    const r = decode(fromHex(h), '127.0.0.1', cache)
    if (!r.ok) throw new Error(`${v.name}: ${r.reason} at ${r.offset}: ${r.detail}`)
    expect(r.version).toBe(v.netflowVersion)
    expect(r.unknownSets).toBe(0)
    out.push(...r.records)
  }
  return out
}

const names = vectorNames()

describe('netflow vectors', () => {
  it('covers v5, v9 and IPFIX from two exporters, sampled and unsampled', () => {
    const vs = names.map(loadVector)
    expect(new Set(vs.map(v => v.netflowVersion))).toEqual(new Set([5, 9, 10]))
    expect(vs.filter(v => v.exporter.startsWith('softflowd')).length).toBe(3)
    expect(vs.filter(v => v.exporter.startsWith('pmacctd')).length).toBe(4)
    expect(vs.some(v => (v.samplingRate ?? 1) > 1)).toBe(true)
  })

  for (const name of names) {
    describe(name, () => {
      const v = loadVector(name)
      const sampled = (v.samplingRate ?? 1) > 1
      const records = decodeAll(v)
      const byKey = new Map(records.map(r => [recKey(r), r]))

      it('one record per flow, no duplicates', () => {
        expect(byKey.size).toBe(records.length)
        expect(records.length).toBe(v.nfdump.records.length)
      })

      it('(b) bytes, packets and times equal the recorded transfer', () => {
        if (!sampled) expect(records.length).toBe(v.expected.length)
        for (const e of v.expected) {
          const r = byKey.get(key(e.protocol, e.src, e.srcPort, e.dst, e.dstPort))
          if (sampled) {
            // 1-in-N packet sampling: a flow may be missed; what was seen is a subset of the transfer.
            if (!r) continue
            expect(r.samplingInterval).toBe(v.samplingRate)
            expect(r.octets).toBeLessThanOrEqual(e.bytes)
            expect(r.packets).toBeLessThanOrEqual(e.packets)
            continue
          }
          expect(r, `${name}: flow ${e.src}:${e.srcPort} → ${e.dst}:${e.dstPort}`).toBeDefined()
          if (!r) continue
          expect(r.octets).toBe(e.bytes)
          expect(r.packets).toBe(e.packets)
          expect(r.samplingInterval).toBe(1)
          expect(r.ipVersion).toBe(e.src.includes(':') ? 6 : 4)
          // v9 headers carry whole seconds only, so v9 times are up to 1 s early; v5 (ns) and
          // IPFIX / pmacct's ms fields are exact to the millisecond.
          const slack = v.netflowVersion === 9 && v.exporter === 'softflowd' ? 1000 : 2
          expect(r.startMs).not.toBeNull()
          expect(r.startMs as number).toBeGreaterThanOrEqual(e.firstMs - slack)
          expect(r.startMs as number).toBeLessThanOrEqual(e.firstMs + 2)
          expect(r.endMs as number).toBeGreaterThanOrEqual(e.lastMs - slack)
          expect(r.endMs as number).toBeLessThanOrEqual(e.lastMs + 2)
        }
        if (sampled) expect(records.length).toBeGreaterThan(0)
      })

      it('(c) every field equals nfdump’s decode of the same datagrams', () => {
        for (const n of v.nfdump.records) {
          const src = n.src4_addr ?? n.src6_addr ?? ''
          const dst = n.dst4_addr ?? n.dst6_addr ?? ''
          const r = byKey.get(key(n.proto, src, n.src_port, dst, n.dst_port))
          expect(r, `${name}: nfdump flow ${src}:${n.src_port}`).toBeDefined()
          if (!r) continue
          // nfdump 1.7.1 does not apply pmacct's sampler options: in_bytes is the raw count too.
          expect(r.octets).toBe(n.in_bytes)
          expect(r.packets).toBe(n.in_packets)
          if (v.netflowVersion !== 5) expect(r.direction).toBe(n.direction)
          // softflowd reading a pcap exports uptime stamps 2^32 ms "in the future"; nfdump adds them
          // as unsigned (a date 49.7 days ahead), netmon takes the value nearest the export time.
          const nf = nfdumpMs(n.first)
          const delta = (r.startMs as number) - nf
          if (v.exporter === 'softflowd' && v.netflowVersion !== 5) expect(delta).toBe(-WRAP)
          else expect(delta).toBe(0)
          expect((r.endMs as number) - nfdumpMs(n.last)).toBe(delta)
        }
      })
    })
  }
})

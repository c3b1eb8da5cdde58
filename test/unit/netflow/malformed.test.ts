/**
 * Malformed and hostile datagrams, table-driven: each gives a typed error with its reason (counted
 * for the exporter), never a throw, and the next good datagram still decodes. Plus the template
 * semantics: unknown templates counted and skipped, refresh, IPFIX withdrawal, atomic datagrams,
 * sampling options, uptime wrap, 8-byte counters, the caps.
 */
import {describe, expect, it} from 'vitest'
import {decode, type DecodeResult, type MalformedReason, TemplateCache} from '../../../src/core/netflow/index.js'
import {be, FLOW4, flow4Record, fromHex, ipfix, loadVector, set, v9, v9Template} from './vectors.js'

const EXP = '192.0.2.1'
const softV9 = fromHex(loadVector('softflowd-v9.json').datagrams[0])
const softV10 = fromHex(loadVector('softflowd-v10.json').datagrams[0])
const softV5 = fromHex(loadVector('softflowd-v5.json').datagrams[0])

const rec1 = flow4Record([10, 77, 15, 2], [10, 77, 15, 3], 40000, 443, 6, 1500, 3)
const goodV9 = v9([set(0, v9Template(300, FLOW4)), set(300, rec1)])
const goodIpfix = ipfix([set(2, v9Template(300, FLOW4)), set(300, rec1)])

function patch(b: Uint8Array, at: number, bytes: number[]): Uint8Array {
  const c = Uint8Array.from(b)
  c.set(bytes, at)
  return c
}

function expectGood(r: DecodeResult) {
  expect(r.ok).toBe(true)
  if (!r.ok) return
  expect(r.records).toHaveLength(1)
  expect(r.records[0]).toMatchObject({src: '10.77.15.2', dst: '10.77.15.3', srcPort: 40000, dstPort: 443, protocol: 6, octets: 1500, packets: 3})
}

const cases: Array<{name: string; bytes: Uint8Array; reason: MalformedReason}> = [
  {name: 'empty datagram', bytes: new Uint8Array(0), reason: 'truncated-header'},
  {name: 'v5 header cut at 20 bytes', bytes: softV5.subarray(0, 20), reason: 'truncated-header'},
  {name: 'v9 header cut at 12 bytes', bytes: softV9.subarray(0, 12), reason: 'truncated-header'},
  {name: 'IPFIX header cut at 10 bytes', bytes: softV10.subarray(0, 10), reason: 'truncated-header'},
  {name: 'version 7', bytes: patch(softV9, 0, [0, 7]), reason: 'unknown-version'},
  {name: 'v5 count lies (29 records claimed)', bytes: patch(softV5, 2, [0, 29]), reason: 'length-mismatch'},
  {name: 'v5 truncated inside a record', bytes: softV5.subarray(0, softV5.length - 5), reason: 'length-mismatch'},
  {name: 'IPFIX message length lies', bytes: patch(softV10, 2, be(softV10.length + 40, 2)), reason: 'length-mismatch'},
  {name: 'IPFIX datagram truncated', bytes: softV10.subarray(0, softV10.length - 7), reason: 'length-mismatch'},
  {name: 'v9 datagram truncated inside a set', bytes: softV9.subarray(0, softV9.length - 7), reason: 'set-length'},
  {name: 'v9 set length beyond the datagram', bytes: patch(softV9, 22, be(0xfff0, 2)), reason: 'set-length'},
  {name: 'v9 set length 2 (shorter than its header)', bytes: patch(softV9, 22, [0, 2]), reason: 'set-length'},
  {name: 'v9 zero-length set', bytes: patch(softV9, 22, [0, 0]), reason: 'zero-length-set'},
  {name: 'IPFIX zero-length set', bytes: patch(softV10, 18, [0, 0]), reason: 'zero-length-set'},
  {
    name: 'template field list beyond its set (v9)',
    bytes: v9([set(0, [...be(300, 2), ...be(10, 2), 0, 8, 0, 4])]),
    reason: 'field-beyond-set',
  },
  {
    name: 'template field list beyond its set (IPFIX enterprise number cut)',
    bytes: ipfix([set(2, [...be(300, 2), ...be(1, 2), 0x80, 8, 0, 4, 0, 0])]),
    reason: 'field-beyond-set',
  },
  {
    name: 'absurd field count (60000)',
    bytes: v9([set(0, [...be(300, 2), ...be(60000, 2), 0, 8, 0, 4])]),
    reason: 'template-field-count',
  },
  {name: 'v9 template with no fields', bytes: v9([set(0, [...be(300, 2), 0, 0, 0, 0, 0, 0])]), reason: 'template-field-count'},
  {name: 'template id 0 (names the template set itself)', bytes: v9([set(0, v9Template(0, FLOW4))]), reason: 'template-loop'},
  {name: 'template id 255 (a set id, not a template)', bytes: ipfix([set(2, v9Template(255, FLOW4))]), reason: 'template-loop'},
  {
    name: 'template whose records are 0 bytes (data set would never advance)',
    bytes: v9([
      set(
        0,
        v9Template(300, [
          [8, 0],
          [12, 0],
        ]),
      ),
      set(300, [1, 2, 3, 4]),
    ]),
    reason: 'template-loop',
  },
  {name: 'v9 field of length 65535', bytes: v9([set(0, v9Template(300, [[8, 65535]]))]), reason: 'variable-length'},
  {
    name: 'IPFIX variable-length field longer than its set',
    bytes: ipfix([
      set(
        2,
        v9Template(300, [
          [8, 4],
          [82, 65535],
        ]),
      ),
      set(300, [10, 0, 0, 1, 200, 0x41, 0x42]),
    ]),
    reason: 'variable-length',
  },
  {
    name: 'IPFIX variable-length 3-byte prefix cut',
    bytes: ipfix([
      set(
        2,
        v9Template(300, [
          [8, 4],
          [82, 65535],
        ]),
      ),
      set(300, [10, 0, 0, 1, 255, 0]),
    ]),
    reason: 'variable-length',
  },
  {name: 'reserved set id 100', bytes: v9([set(100, [1, 2, 3, 4])]), reason: 'reserved-set-id'},
  {name: 'stray non-zero bytes after the last set', bytes: Uint8Array.from([...goodV9, 1, 2]), reason: 'set-length'},
]

describe('malformed datagrams', () => {
  for (const c of cases) {
    it(`${c.name} → ${c.reason}, counted, next good datagram decodes`, () => {
      const cache = new TemplateCache()
      expectGood(decode(goodV9, EXP, cache)) // the exporter is known, so its malformed counter exists
      const before = cache.stats(EXP)?.malformed ?? 0
      let r: DecodeResult | undefined
      expect(() => {
        r = decode(c.bytes, EXP, cache)
      }).not.toThrow()
      expect(r?.ok).toBe(false)
      if (r && !r.ok) {
        expect(r.reason).toBe(c.reason)
        expect(r.detail).not.toMatch(/^internal/)
        expect(r.offset).toBeGreaterThanOrEqual(0)
        expect(r.offset).toBeLessThanOrEqual(Math.max(c.bytes.length, 0))
      }
      expect(cache.stats(EXP)?.malformed).toBe(before + 1)
      expectGood(decode(goodV9, EXP, cache))
      expectGood(decode(goodIpfix, EXP, cache))
      expect(decode(softV5, EXP, cache).ok).toBe(true)
    })
  }

  it('a malformed datagram from an unknown source creates no exporter state (a spoofed flood cannot evict real exporters)', () => {
    const cache = new TemplateCache({maxExporters: 2})
    decode(goodV9, 'a', cache)
    for (let i = 0; i < 100; i++) decode(new Uint8Array([0, 9, 1]), `spoof${i}`, cache)
    expect(cache.exporterNames()).toEqual(['a'])
  })
})

describe('templates', () => {
  it('data before its template: counted per exporter and skipped; decodes once the template arrives', () => {
    const cache = new TemplateCache()
    const r = decode(v9([set(300, rec1)]), EXP, cache)
    expect(r).toMatchObject({ok: true, records: [], unknownSets: 1})
    expect(cache.stats(EXP)).toMatchObject({unknownSets: 1, unknownBytes: rec1.length + 4, malformed: 0})
    expect(decode(v9([set(0, v9Template(300, FLOW4))]), EXP, cache)).toMatchObject({ok: true, templates: 1})
    expectGood(decode(v9([set(300, rec1)]), EXP, cache))
  })

  it('templates are per exporter and per source id / observation domain', () => {
    const cache = new TemplateCache()
    decode(goodV9, EXP, cache)
    expect(decode(v9([set(300, rec1)], {sourceId: 8}), EXP, cache)).toMatchObject({unknownSets: 1})
    expect(decode(v9([set(300, rec1)]), '192.0.2.2', cache)).toMatchObject({unknownSets: 1})
    expectGood(decode(v9([set(300, rec1)]), EXP, cache))
  })

  it('a refreshed template replaces the old one', () => {
    const cache = new TemplateCache()
    decode(goodV9, EXP, cache)
    const swapped: Array<[number, number]> = [
      [12, 4],
      [8, 4],
      [11, 2],
      [7, 2],
      [4, 1],
      [1, 4],
      [2, 4],
    ]
    const r = decode(v9([set(0, v9Template(300, swapped)), set(300, rec1)]), EXP, cache)
    expect(r.ok && r.records[0]).toMatchObject({src: '10.77.15.3', dst: '10.77.15.2', srcPort: 443, dstPort: 40000})
    expect(cache.templateCount).toBe(1)
  })

  it('IPFIX withdrawal (field count 0) of one template and of all data templates (id 2)', () => {
    const cache = new TemplateCache()
    expectGood(decode(goodIpfix, EXP, cache))
    expect(decode(ipfix([set(2, [...be(300, 2), 0, 0])]), EXP, cache)).toMatchObject({ok: true, withdrawn: 1})
    expect(decode(ipfix([set(300, rec1)]), EXP, cache)).toMatchObject({ok: true, records: [], unknownSets: 1})
    decode(ipfix([set(2, [...v9Template(300, FLOW4), ...v9Template(301, FLOW4)])]), EXP, cache)
    expect(cache.templateCount).toBe(2)
    expect(decode(ipfix([set(2, [...be(2, 2), 0, 0])]), EXP, cache)).toMatchObject({ok: true, withdrawn: 1})
    expect(cache.templateCount).toBe(0)
    expect(cache.stats(EXP)?.withdrawn).toBe(3)
  })

  it('v9 has no withdrawal: a zero field count is malformed and the template stays', () => {
    const cache = new TemplateCache()
    decode(goodV9, EXP, cache)
    expect(decode(v9([set(0, [...be(300, 2), 0, 0])]), EXP, cache)).toMatchObject({ok: false, reason: 'template-field-count'})
    expectGood(decode(v9([set(300, rec1)]), EXP, cache))
  })

  it('a datagram is atomic: a good template before a bad set is not learned', () => {
    const cache = new TemplateCache()
    const r = decode(v9([set(0, v9Template(300, FLOW4)), set(300, rec1), [0x01, 0x2c, 0, 0]]), EXP, cache)
    expect(r).toMatchObject({ok: false, reason: 'zero-length-set'})
    expect(cache.templateCount).toBe(0)
  })

  it('caps: templates per exporter and exporters are bounded; evictions counted', () => {
    const cache = new TemplateCache({maxTemplatesPerExporter: 3, maxExporters: 2})
    for (let id = 300; id < 310; id++) decode(v9([set(0, v9Template(id, FLOW4))]), EXP, cache)
    expect(cache.templateCount).toBe(3)
    expect(cache.stats(EXP)?.evicted).toBe(7)
    // the newest survive
    expectGood(decode(v9([set(309, rec1)]), EXP, cache))
    expect(decode(v9([set(300, rec1)]), EXP, cache)).toMatchObject({unknownSets: 1})
    decode(goodV9, 'b', cache)
    decode(goodV9, 'c', cache)
    expect(cache.exporterCount).toBe(2)
    expect(cache.totals.evictedExporters).toBe(1)
  })
})

describe('fields and time', () => {
  it('v9 uptime stamps across the 32-bit uptime wrap become absolute ms', () => {
    const cache = new TemplateCache()
    const fields: Array<[number, number]> = [...FLOW4, [22, 4], [21, 4]]
    const r = decode(
      v9([set(0, v9Template(300, fields)), set(300, [...rec1, ...be(2 ** 32 - 1500, 4), ...be(500, 4)])], {uptime: 1000, unixSecs: 1_700_000_000}),
      EXP,
      cache,
    )
    expect(r.ok && r.records[0]).toMatchObject({startMs: 1_700_000_000_000 - 2500, endMs: 1_700_000_000_000 - 500})
  })

  it('v9 stamps slightly after the header sysUptime are taken as a small signed difference, not 49.7 days back', () => {
    const cache = new TemplateCache()
    const fields: Array<[number, number]> = [...FLOW4, [22, 4], [21, 4]]
    const r = decode(
      v9([set(0, v9Template(300, fields)), set(300, [...rec1, ...be(1200, 4), ...be(1500, 4)])], {uptime: 1000, unixSecs: 1_700_000_000}),
      EXP,
      cache,
    )
    expect(r.ok && r.records[0]).toMatchObject({startMs: 1_700_000_000_200, endMs: 1_700_000_000_500})
  })

  it('IPFIX seconds (150/151), 8-byte totals (85/86), IPv6 (27/28) and direction (61)', () => {
    const cache = new TemplateCache()
    const fields: Array<[number, number]> = [
      [27, 16],
      [28, 16],
      [7, 2],
      [11, 2],
      [4, 1],
      [85, 8],
      [86, 8],
      [150, 4],
      [151, 4],
      [61, 1],
    ]
    const v6a = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    const v6b = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55]
    const rec = [
      ...v6a,
      ...v6b,
      ...be(5353, 2),
      ...be(5353, 2),
      17,
      ...be(2 ** 40 + 7, 8),
      ...be(2 ** 33, 8),
      ...be(1_700_000_000, 4),
      ...be(1_700_000_010, 4),
      1,
    ]
    const r = decode(ipfix([set(2, v9Template(400, fields)), set(400, rec)]), EXP, cache)
    expect(r.ok && r.records[0]).toMatchObject({
      ipVersion: 6,
      src: '2001:db8::1',
      dst: 'fe80::211:22ff:fe33:4455',
      srcPort: 5353,
      protocol: 17,
      octets: 2 ** 40 + 7,
      packets: 2 ** 33,
      startMs: 1_700_000_000_000,
      endMs: 1_700_000_010_000,
      direction: 1,
    })
  })

  it('sampling: v9 options 34/35 domain-wide, IPFIX 305/306 and per-sampler 48/50 scale; v5 header interval', () => {
    const cache = new TemplateCache()
    // v9 options template 256: scope system (1, 4 bytes); options 34 (4) and 35 (1).
    const opt = [...be(256, 2), ...be(4, 2), ...be(8, 2), ...be(1, 2), ...be(4, 2), ...be(34, 2), ...be(4, 2), ...be(35, 2), ...be(1, 2)]
    const r1 = decode(v9([set(1, opt), set(256, [0, 0, 0, 1, ...be(100, 4), 2, 0, 0, 0]), set(0, v9Template(300, FLOW4)), set(300, rec1)]), EXP, cache)
    expect(r1).toMatchObject({ok: true, optionsRecords: 1})
    expect(r1.ok && r1.records[0].samplingInterval).toBe(100)
    expect(cache.domain(EXP, 7)?.sampling).toEqual({interval: 100, algorithm: 2, samplerId: null})

    // IPFIX options: scope observationDomainId (149), samplingPacketInterval 1, samplingPacketSpace 9 → 1 in 10.
    const iopt = [...be(500, 2), ...be(3, 2), ...be(1, 2), ...be(149, 2), ...be(4, 2), ...be(305, 2), ...be(4, 2), ...be(306, 2), ...be(4, 2)]
    const r2 = decode(ipfix([set(3, iopt), set(500, [...be(7, 4), ...be(1, 4), ...be(9, 4)]), set(2, v9Template(300, FLOW4)), set(300, rec1)]), 'x', cache)
    expect(r2.ok && r2.records[0].samplingInterval).toBe(10)

    // Per sampler id: records naming sampler 3 get its 1-in-50 (field 50), others the domain default.
    const sopt = [...be(501, 2), ...be(2, 2), ...be(1, 2), ...be(48, 2), ...be(1, 2), ...be(50, 2), ...be(4, 2)]
    const withSampler: Array<[number, number]> = [...FLOW4, [48, 1]]
    const r3 = decode(ipfix([set(3, sopt), set(501, [3, ...be(50, 4)]), set(2, v9Template(301, withSampler)), set(301, [...rec1, 3, ...rec1, 4])]), 'x', cache)
    expect(r3.ok && r3.records.map(r => r.samplingInterval)).toEqual([50, 10])

    const v5 = patch(softV5, 22, be(0x4000 | 64, 2))
    const r4 = decode(v5, 'y', cache)
    expect(r4.ok && r4.records.every(r => r.samplingInterval === 64)).toBe(true)
  })
})

/** NDJSON validation (issue 4: one bad line → exit 2 naming the line, nothing written). */
import {Readable} from 'node:stream'
import {describe, expect, it} from 'vitest'
import {joinBig, readNdjson, type SampleBatch} from '../../../src/core/bandwidth/input.js'
import {NetmonError} from '../../../src/core/errors.js'

// An injected fixed clock for the pure parser (nothing is stored, so it cannot age into a retention window).
const NOW = Date.UTC(2026, 10, 23, 12) // fixed clock
const read = (text: string | string[], mode: 'delta' | 'counter' = 'delta', spoolMemoryBytes?: number) =>
  readNdjson(Readable.from(Array.isArray(text) ? text : [text]), {mode, bits: 'auto', now: () => NOW, spoolMemoryBytes})

function records(b: SampleBatch): number[][] {
  const out: number[][] = []
  for (const c of b.spool.chunks()) for (let o = 0; o < c.length; o += b.spool.width) out.push([...c.subarray(o, o + b.spool.width)])
  return out
}

async function failure(text: string, mode: 'delta' | 'counter' = 'delta'): Promise<NetmonError> {
  try {
    await read(text, mode)
  } catch (e) {
    expect(e).toBeInstanceOf(NetmonError)
    expect((e as NetmonError).exitCode).toBe(2)
    return e as NetmonError
  }
  throw new Error('expected a failure')
}

describe('readNdjson', () => {
  it('reads both field spellings, ISO and epoch-ms times, and defaults ts to now', async () => {
    const b = await read(
      [
        '{"mac":"aa-bb-cc-dd-ee-01","sent":10,"received":20,"ts":1795000000000}\n',
        '{"mac":"AA:BB:CC:DD:EE:01","bytes_sent":1,"bytes_received":2,"ts":"2026-11-20T00:00:00Z"}\r\n',
        '\n',
        '{"received":5, "sent":4, "mac":"aabb.ccdd.ee02", "extra":true}',
      ].join(''),
    )
    expect(b.macs).toEqual(['AA:BB:CC:DD:EE:01', 'AA:BB:CC:DD:EE:02'])
    expect(b.firstLine).toEqual([1, 4])
    expect(records(b)).toEqual([
      [0, 1795000000000, 10, 20],
      [0, Date.parse('2026-11-20T00:00:00Z'), 1, 2],
      [1, NOW, 4, 5],
    ])
  })

  it('handles lines split across chunks', async () => {
    const line = '{"mac":"AA:BB:CC:DD:EE:01","sent":7,"received":8,"ts":1795000000000}\n'
    const b = await read([line.slice(0, 10), line.slice(10, 40), line.slice(40) + line])
    expect(records(b)).toEqual([
      [0, 1795000000000, 7, 8],
      [0, 1795000000000, 7, 8],
    ])
  })

  it('keeps ip/hostname hints for --auto-register', async () => {
    const b = await read('{"mac":"AA:BB:CC:DD:EE:01","sent":1,"received":2,"ip":"192.0.2.7","hostname":"cam"}\n')
    expect(b.hints[0]).toEqual({ip: '192.0.2.7', hostname: 'cam'})
  })

  const bad: [string, string, RegExp][] = [
    ['not JSON', '{"mac":', /line 2: not valid JSON/],
    ['an array', '[1,2]', /line 2: expected a JSON object/],
    ['malformed MAC', '{"mac":"AA:BB:CC:DD:EE","sent":1,"received":1}', /line 2: malformed MAC address "AA:BB:CC:DD:EE"/],
    ['mixed separators', '{"mac":"AA:BB-CC:DD:EE:01","sent":1,"received":1}', /line 2: malformed MAC/],
    ['negative bytes', '{"mac":"AA:BB:CC:DD:EE:01","sent":-1,"received":1}', /line 2: "sent" must be a non-negative integer/],
    ['fractional bytes', '{"mac":"AA:BB:CC:DD:EE:01","sent":1.5,"received":1}', /line 2: "sent" must be a non-negative integer/],
    ['bytes as string', '{"mac":"AA:BB:CC:DD:EE:01","sent":"1","received":1}', /line 2: "sent" must be a non-negative integer/],
    ['missing received', '{"mac":"AA:BB:CC:DD:EE:01","sent":1}', /line 2: "received" is missing/],
    ['both spellings', '{"mac":"AA:BB:CC:DD:EE:01","sent":1,"bytes_sent":1,"received":1}', /line 2: give "sent" or "bytes_sent", not both/],
    ['epoch seconds', '{"mac":"AA:BB:CC:DD:EE:01","sent":1,"received":1,"ts":1795000000}', /line 2: "ts" 1795000000 is before 2000-01-01; epoch seconds/],
    ['future ts', '{"mac":"AA:BB:CC:DD:EE:01","sent":1,"received":1,"ts":"2027-01-01T00:00:00Z"}', /line 2: "ts" 2027-01-01T00:00:00.000Z is in the future/],
    ['bad ts text', '{"mac":"AA:BB:CC:DD:EE:01","sent":1,"received":1,"ts":"yesterday"}', /line 2: invalid "ts"/],
    ['bad ip', '{"mac":"AA:BB:CC:DD:EE:01","sent":1,"received":1,"ip":"300.1.1.1"}', /line 2: malformed IP address/],
    // Issue 13: timestamps past the Date range or beyond 2^53, impossible dates, relative or empty strings.
    ['ts 1e20', '{"mac":"AA:BB:CC:DD:EE:01","sent":1,"received":1,"ts":1e20}', /line 2: invalid "ts" 100000000000000000000: is out of range/],
    ['ts above 2^53', '{"mac":"AA:BB:CC:DD:EE:01","sent":1,"received":1,"ts":9007199254740993}', /line 2: invalid "ts" 9007199254740992: is out of range/],
    [
      'ts 30 February',
      '{"mac":"AA:BB:CC:DD:EE:01","sent":1,"received":1,"ts":"2026-02-30T00:00:00Z"}',
      /line 2: invalid "ts" "2026-02-30T00:00:00Z": 2026-02 has no day 30/,
    ],
    ['ts ""', '{"mac":"AA:BB:CC:DD:EE:01","sent":1,"received":1,"ts":""}', /line 2: invalid "ts" "": not an ISO-8601 time/],
    ['ts "now"', '{"mac":"AA:BB:CC:DD:EE:01","sent":1,"received":1,"ts":"now"}', /line 2: invalid "ts" "now": not an ISO-8601 time/],
    ['ts "24h"', '{"mac":"AA:BB:CC:DD:EE:01","sent":1,"received":1,"ts":"24h"}', /line 2: invalid "ts" "24h": not an ISO-8601 time/],
    [
      'ts numeric string',
      '{"mac":"AA:BB:CC:DD:EE:01","sent":1,"received":1,"ts":"1795000000000"}',
      /line 2: invalid "ts" "1795000000000": not an ISO-8601 time/,
    ],
    ['ts without a zone', '{"mac":"AA:BB:CC:DD:EE:01","sent":1,"received":1,"ts":"2026-11-20T00:00:00"}', /line 2: invalid "ts" .*: has no zone/],
    ['mac ending in \\n', '{"mac":"AA:BB:CC:DD:EE:01\\n","sent":1,"received":1}', /line 2: malformed MAC address/],
    ['hostname lone surrogate', '{"mac":"AA:BB:CC:DD:EE:01","sent":1,"received":1,"hostname":"cam\\ud800"}', /line 2: hostname contains a lone surrogate/],
    ['hostname U+FFFD', '{"mac":"AA:BB:CC:DD:EE:01","sent":1,"received":1,"hostname":"cam\ufffd"}', /line 2: hostname is not valid UTF-8/],
    ['hostname C1 control', '{"mac":"AA:BB:CC:DD:EE:01","sent":1,"received":1,"hostname":"cam\\u0085"}', /line 2: hostname contains control characters/],
  ]
  for (const [name, line, re] of bad) {
    it(`rejects ${name}, naming the line`, async () => {
      const e = await failure('{"mac":"AA:BB:CC:DD:EE:01","sent":1,"received":1}\n' + line + '\n')
      expect(e.message).toMatch(re)
      expect(e.message).toMatch(/^NDJSON line 2: /)
    })
  }

  it('refuses a hostname of invalid UTF-8 bytes (decoded to U+FFFD)', async () => {
    const bytes = Buffer.concat([
      Buffer.from('{"mac":"AA:BB:CC:DD:EE:01","sent":1,"received":1,"hostname":"cam'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}\n'),
    ])
    await expect(readNdjson(Readable.from([bytes]), {mode: 'delta', bits: 'auto', now: () => NOW})).rejects.toThrow(/line 1: hostname is not valid UTF-8/)
  })

  it('counts blank lines in line numbers', async () => {
    const e = await failure('\n\n{"mac":"x","sent":1,"received":1}\n')
    expect(e.message).toMatch(/^NDJSON line 3: malformed MAC/)
  })

  it('counter mode reads exact 64-bit counters from strings and rejects unsafe numbers', async () => {
    const b = await read('{"mac":"AA:BB:CC:DD:EE:01","sent":"18446744073709551615","received":12,"ts":1795000000000}\n', 'counter')
    const [rec] = records(b)
    expect(joinBig(rec![2]!, rec![3]!)).toBe(18446744073709551615n)
    expect(joinBig(rec![4]!, rec![5]!)).toBe(12n)
    const e = await failure('{"mac":"AA:BB:CC:DD:EE:01","sent":18446744073709551615,"received":1}\n', 'counter')
    expect(e.message).toMatch(/line 1: counter "sent" is above 2\^53/)
  })

  it('spills to a temp file past its memory limit and reads back the same records', async () => {
    const lines: string[] = []
    for (let i = 0; i < 200_000; i++)
      lines.push(`{"mac":"02:00:00:00:00:${(i % 7).toString(16).padStart(2, '0')}","sent":${i},"received":${2 * i},"ts":${1795000000000 + i}}`)
    const b = await read(lines.join('\n'), 'delta', 1 << 20)
    expect(b.spool.count).toBe(200_000)
    let n = 0
    let sum = 0
    for (const c of b.spool.chunks()) for (let o = 0; o < c.length; o += 4) n++, (sum += c[o + 2]!)
    expect(n).toBe(200_000)
    expect(sum).toBe((199_999 * 200_000) / 2)
    expect(b.spool.spilled).toBe(true)
    b.spool.close()
  })
})

describe('readNdjson byte path (Buffer chunks, as from stdin)', () => {
  // The byte parser must accept, reject and number exactly what the string path does.
  const lines = [
    '{"mac":"AA:BB:CC:DD:EE:01","sent":10,"received":20,"ts":1795000000000}',
    '{"mac":"aa:bb:cc:dd:ee:02","bytes_sent":0,"bytes_received":7}',
    '{"mac":"AA:BB:CC:DD:EE:01","sent":0,"received":0}',
    '{"mac":"Aa:bB:cC:dD:eE:01","sent":999999999999999,"received":1,"ts":1795000060000}',
    '',
    '{"mac":"aa-bb-cc-dd-ee-03","sent":1,"received":2,"ts":"2026-11-20T00:00:00Z"}',
    '{"received":5, "sent":4, "mac":"aabb.ccdd.ee02"}',
    '{"mac":"AA:BB:CC:DD:EE:04","sent":1,"received":2,"ts":1795000000000,"ip":"192.0.2.9"}',
    '{"mac":"AA:BB:CC:DD:EE:01","sent":1234567890123456,"received":2,"ts":1795000120000}',
  ]
  const bad = [
    '{"mac":"AA:BB:CC:DD:EE:0G","sent":1,"received":2}',
    '{"mac":"AA:BB:CC:DD:EE:01","sent":01,"received":2}',
    '{"mac":"AA:BB:CC:DD:EE:01","sent":-1,"received":2}',
    '{"mac":"AA:BB:CC:DD:EE:01","sent":1,"received":2,"ts":0179500000000}',
    '{"mac":"AA:BB:CC:DD:EE:01","sent":1,"received":2,"ts":1795000000}',
    '{"mac":"AA:BB:CC:DD:EE:01","sent":1,"received":2,"ts":9795000000000}',
    '{"mac":"AA:BB:CC:DD:EE:01","sent":1,"received":2}x',
    '{"mac":"AA:BB:CC:DD:EE:01","sent":9007199254740993,"received":2}',
    '{"mac":"AA:BB:CC:DD:EE:01","sent":1,"received":2,"ts":1795000000000',
  ]
  const readBytes = (chunks: Buffer[]) => readNdjson(Readable.from(chunks), {mode: 'delta', bits: 'auto', now: () => NOW})
  const outcome = async (p: Promise<SampleBatch>) => {
    try {
      const b = await p
      return {macs: b.macs, firstLine: b.firstLine, hints: b.hints, records: records(b)}
    } catch (e) {
      return {error: (e as Error).message}
    }
  }
  // Cut the bytes at every few positions so lines (and CRLFs) straddle chunks.
  const cut = (bytes: Buffer, step: number): Buffer[] => {
    const out: Buffer[] = []
    for (let i = 0; i < bytes.length; i += step) out.push(bytes.subarray(i, i + step))
    return out
  }

  it('gives the same records, MACs and line numbers as the string path, however the bytes are cut', async () => {
    const text = lines.join('\n') + '\r\n' + lines.join('\r\n')
    const want = await outcome(read(text))
    expect(want).not.toHaveProperty('error')
    for (const step of [1, 7, 64, 1 << 20]) expect(await outcome(readBytes(cut(Buffer.from(text), step)))).toEqual(want)
    // Without a trailing newline, and with a UTF-8 BOM in front (dropped like TextDecoder does).
    expect(await outcome(readBytes([Buffer.from('\ufeff' + lines.join('\n'))]))).toEqual(await outcome(read(lines.join('\n'))))
  })

  it('rejects the same lines with the same message and line number', async () => {
    for (const b of bad) {
      const text = `${lines[0]}\n${lines[1]}\n${b}\n${lines[2]}\n`
      const want = await outcome(read(text))
      expect(want).toHaveProperty('error')
      expect(want.error).toContain('line 3')
      for (const step of [5, 1 << 20]) expect(await outcome(readBytes(cut(Buffer.from(text), step)))).toEqual(want)
    }
  })
})

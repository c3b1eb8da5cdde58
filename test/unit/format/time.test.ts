/** Issue 13: one strict time parser (impossible dates refused, not rolled over; stored stamps absolute only). */
import {describe, expect, it} from 'vitest'
import {NetmonError} from '../../../src/core/errors.js'
import {isoOf, parseIso, parseStamp, parseTime} from '../../../src/core/format/time.js'

const NOW = Date.now()

function refused(text: string): NetmonError {
  try {
    parseTime(text, NOW, '--since')
  } catch (e) {
    expect(e).toBeInstanceOf(NetmonError)
    expect((e as NetmonError).exitCode).toBe(2)
    return e as NetmonError
  }
  throw new Error(`"${text}" was accepted`)
}

describe('parseIso', () => {
  const good: [string, number][] = [
    ['2026-11-23T10:00:00Z', Date.UTC(2026, 10, 23, 10)],
    ['2026-11-23t10:00:00z', Date.UTC(2026, 10, 23, 10)],
    ['2026-11-23 10:00Z', Date.UTC(2026, 10, 23, 10)],
    ['2026-11-23T10:00:00.123456Z', Date.UTC(2026, 10, 23, 10, 0, 0, 123)],
    ['2026-11-23T10:00:00+01:00', Date.UTC(2026, 10, 23, 9)],
    ['2026-11-23T10:00:00-0230', Date.UTC(2026, 10, 23, 12, 30)],
    ['2028-02-29T00:00:00Z', Date.UTC(2028, 1, 29)],
    ['2000-02-29T00:00:00Z', Date.UTC(2000, 1, 29)],
  ]
  for (const [text, ms] of good) it(`reads ${text}`, () => expect(parseIso(text)).toBe(ms))

  const bad = [
    '2026-02-30T00:00:00Z',
    '2026-02-29T00:00:00Z',
    '2100-02-29T00:00:00Z',
    '2026-04-31T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-00-10T00:00:00Z',
    '2026-11-00T00:00:00Z',
    '2026-11-23T24:00:00Z',
    '2026-11-23T10:60:00Z',
    '2026-11-23T10:00:60Z',
    '2026-11-23T10:00:00+24:00',
    '2026-11-23T10:00:00',
    '2026-11-23',
    '1969-12-31T23:59:59Z',
    '2026-11-23T10:00:00Z ',
    '+002026-11-23T10:00:00Z',
  ]
  for (const text of bad) it(`refuses ${JSON.stringify(text)}`, () => expect(typeof parseIso(text)).toBe('object'))

  it('takes a date alone only when asked to', () => expect(parseIso('2026-11-23', {dateOnly: true})).toBe(Date.UTC(2026, 10, 23)))
})

describe('parseTime (command-line flags and queries)', () => {
  it('reads the documented forms', () => {
    expect(parseTime('now', NOW)).toBe(NOW)
    expect(parseTime('24h', NOW)).toBe(NOW - 86_400_000)
    expect(parseTime(String(NOW - 5), NOW)).toBe(NOW - 5)
    expect(parseTime('2026-11-23', NOW)).toBe(Date.UTC(2026, 10, 23))
    expect(parseTime(' 2026-11-23T10:00:00Z ', NOW)).toBe(Date.UTC(2026, 10, 23, 10))
  })

  const bad: [string, RegExp][] = [
    ['2026-02-30T00:00:00Z', /invalid --since "2026-02-30T00:00:00Z": 2026-02 has no day 30/],
    ['2026-11-23T10:00', /has no zone/],
    ['', /invalid --since ""/],
    ['1700000000', /epoch seconds\?/],
    ['9007199254740993', /out of range/],
    ['99999999999999999999', /out of range/],
    ['1e20', /invalid --since "1e20"/],
    ['100000000000d', /too far back/],
    ['tomorrow', /invalid --since "tomorrow"/],
  ]
  for (const [text, re] of bad) it(`refuses ${JSON.stringify(text)} in one line`, () => expect(refused(text).message).toMatch(re))
})

describe('parseStamp (NDJSON ts: stored data)', () => {
  it('takes a number of epoch ms or an ISO date-time with a zone', () => {
    expect(parseStamp(NOW)).toBe(NOW)
    expect(parseStamp('2026-11-23T10:00:00Z')).toBe(Date.UTC(2026, 10, 23, 10))
  })
  for (const raw of ['', 'now', '24h', String(NOW), '2026-11-23', '2026-02-30T00:00:00Z', 1e20, Number.NaN, true, {}]) {
    it(`refuses ${JSON.stringify(raw)}`, () => expect(typeof parseStamp(raw)).toBe('object'))
  }
})

describe('isoOf', () => {
  it('equals Date#toISOString for every kind of instant (day, month, leap-year and range edges, random)', () => {
    const day = 86_400_000
    const edges = [0, 1, 999, 1000, day - 1, day, Date.UTC(2000, 1, 29), Date.UTC(2000, 1, 29) + day - 1, Date.UTC(2100, 1, 28, 23, 59, 59, 999)]
    edges.push(Date.UTC(2100, 2, 1), Date.UTC(2024, 11, 31, 23, 59, 59, 999), Date.UTC(9999, 11, 31, 23, 59, 59, 999), 253_402_300_800_000, -1, -day, 8.64e15)
    edges.push(Date.now(), 1.5, -62_198_755_200_000)
    let seed = 12345
    const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31) * 253_402_300_800_000
    for (let i = 0; i < 20_000; i++) edges.push(Math.floor(rnd()))
    // Runs of nearby instants exercise the per-day cache (same day, then the next).
    for (let t = Date.UTC(2026, 0, 31, 23, 0); t < Date.UTC(2026, 1, 1, 1, 0); t += 61_001) edges.push(t)
    for (const ms of edges) expect(isoOf(ms), String(ms)).toBe(new Date(ms).toISOString())
  })
})

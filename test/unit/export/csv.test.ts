/**
 * The CSV encoder (issue 9: RFC 4180 through csv-stringify). Its fast path for rows that need
 * no quoting must emit exactly what csv-stringify emits, on hostile and random rows alike.
 */
import {describe, expect, it} from 'vitest'
import {CSV_OPTIONS, csvHeader, csvRecords, stringifyRows, type Cell} from '../../../src/core/export/csv.js'
import {HOSTILE, parseCsv} from './fixtures.js'

/** A small deterministic PRNG so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

const ALPHABET = ['a', 'Z', '0', ' ', ',', '"', "'", '\r', '\n', '=', '+', '-', '@', '\t', 'é', '東', '🚀', ';', '\\']

function randomCell(r: () => number): Cell {
  const k = r()
  if (k < 0.1) return null
  if (k < 0.15) return ''
  if (k < 0.3) return Math.round((r() - 0.5) * 1e6)
  if (k < 0.4) return (r() - 0.5) * 1e3
  let s = ''
  const len = 1 + Math.floor(r() * 8)
  // Mostly plain text (the fast path), sometimes anything.
  const hostile = r() < 0.3
  for (let i = 0; i < len; i++) s += hostile ? ALPHABET[Math.floor(r() * ALPHABET.length)] : ALPHABET[Math.floor(r() * 3)]
  return s
}

describe('csvRecords', () => {
  it('emits byte-for-byte what csv-stringify emits, for hostile values', () => {
    const rows: Cell[][] = HOSTILE.map((h, i) => [i, h, null, -i, h === '' ? null : 'plain'])
    expect(csvRecords(rows)).toBe(stringifyRows(rows))
  })

  it('emits byte-for-byte what csv-stringify emits, for 5000 random rows (mixed plain and quoted runs)', () => {
    const r = rng(42)
    const rows: Cell[][] = Array.from({length: 5000}, () => Array.from({length: 5}, () => randomCell(r)))
    const ours = csvRecords(rows)
    expect(ours).toBe(stringifyRows(rows))
    // Both paths were exercised.
    expect(rows.some(row => row.some(c => typeof c === 'string' && /[",\r\n]/.test(c)))).toBe(true)
    expect(rows.some(row => row.every(c => typeof c !== 'string' || !/[",\r\n]/.test(c)))).toBe(true)
  })

  it('writes numbers exactly as csv-stringify does (integers digit by digit, the rest as String(n))', () => {
    const nums = [
      0,
      -0,
      7,
      -7,
      10,
      99,
      100,
      1_700_000_000_000,
      2 ** 53 - 1,
      -(2 ** 53 - 1),
      2 ** 53,
      2 ** 64,
      1e21,
      -1e-7,
      0.1 + 0.2,
      1 / 3,
      5e-324,
      Number.MAX_VALUE,
    ]
    const rows: Cell[][] = nums.map(n => [n, 'x', n])
    expect(csvRecords(rows)).toBe(stringifyRows(rows))
    expect(csvRecords([[2 ** 53 - 1, -0, 1e21]])).toBe('9007199254740991,0,1e+21\r\n')
  })

  it('keeps the order when plain rows and rows that need quoting alternate', () => {
    const rows: Cell[][] = [['a'], ['b,c'], ['d'], ['e"f'], ['g\nh'], ['i'], ['j']]
    expect(csvRecords(rows)).toBe('a\r\n"b,c"\r\nd\r\n"e""f"\r\n"g\nh"\r\ni\r\nj\r\n')
  })

  it('is RFC 4180: CRLF records, quotes doubled, fields with comma/quote/line break quoted', () => {
    const out = csvRecords([['a,b', 'say "hi"', 'x\ny', 'plain', 7]])
    expect(out).toBe('"a,b","say ""hi""","x\ny",plain,7\r\n')
    expect(CSV_OPTIONS.record_delimiter).toBe('windows')
    expect(csvHeader(['ts', 'ts_ms'])).toBe('ts,ts_ms\r\n')
  })

  it('keeps NULL and the empty string apart: NULL is an empty field, "" is quoted', () => {
    const out = csvRecords([[null, '', 'x']])
    expect(out).toBe(',"",x\r\n')
    expect(parseCsv('a,b,c\r\n' + out).rows).toEqual([[null, '', 'x']])
  })

  it('round-trips through csv-parse (strings exact, numbers as their decimal text)', () => {
    const r = rng(7)
    const rows: Cell[][] = Array.from({length: 2000}, () => Array.from({length: 4}, () => randomCell(r)))
    const parsed = parseCsv('h1,h2,h3,h4\r\n' + csvRecords(rows)).rows
    expect(parsed).toEqual(rows.map(row => row.map(c => (typeof c === 'number' ? String(c) : c))))
  })
})

/**
 * --excel-safe (issue 9): text that a spreadsheet would run as a formula gets a leading
 * apostrophe; numbers are never altered; the rule is exactly reversible.
 */
import {describe, expect, it} from 'vitest'
import {excelSafe, undoExcelSafe} from '../../../src/core/export/excel.js'
import {createWriter} from '../../../src/core/export/writers.js'
import type {ColumnDef} from '../../../src/core/export/types.js'
import {HOSTILE, parseCsv} from './fixtures.js'

describe('excelSafe', () => {
  it.each([
    ['=1+2', "'=1+2"],
    ['+1', "'+1"],
    ['-1', "'-1"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\tx', "'\tx"],
    ['\rx', "'\rx"],
    ['＝1', "'＝1"],
    ['＋1', "'＋1"],
    ['－1', "'－1"],
    ['＠x', "'＠x"],
    ["'x", "''x"],
    ["=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"],
  ])('prefixes %j', (input, out) => {
    expect(excelSafe(input)).toBe(out)
  })

  it.each(['', 'router', ' =1', 'a=1', '1-2', '0.5', 'Ünïcødé', '"=x"'])('leaves %j alone', s => {
    expect(excelSafe(s)).toBe(s)
  })

  it('is reversible: undo(excelSafe(x)) === x for hostile and apostrophe-led values', () => {
    for (const s of [...HOSTILE, "''", "'", "'''=", 'x']) expect(undoExcelSafe(excelSafe(s))).toBe(s)
  })
})

const COLS: ColumnDef[] = [
  {name: 'n', type: 'integer', sql: 'n', description: ''},
  {name: 'r', type: 'real', sql: 'r', description: ''},
  {name: 's', type: 'text', sql: 's', description: ''},
  {name: 'j', type: 'json', sql: 'j', description: ''},
]

describe('writers and --excel-safe', () => {
  it('CSV: protects text and JSON-text fields, never numbers (a negative number stays a number)', () => {
    const w = createWriter('csv', COLS, {excelSafe: true})
    const text = w.start() + w.rows([[-5, '-2.5', '-5', '-1']]) + w.end()
    const {rows} = parseCsv(text)
    expect(rows).toEqual([['-5', '-2.5', "'-5", "'-1"]])
  })

  it('CSV with excel-safe off writes text exactly as stored', () => {
    const w = createWriter('csv', COLS, {excelSafe: false})
    const {rows} = parseCsv(w.start() + w.rows([[1, null, '=1+2', null]]) + w.end())
    expect(rows).toEqual([['1', null, '=1+2', null]])
  })

  it('JSON: text protected only when asked; numbers and embedded JSON values untouched', () => {
    const raw = [[-5, '-2.5', '=x', '{"a":-1}']]
    const plain = createWriter('ndjson', COLS, {excelSafe: false})
    expect(JSON.parse(String(plain.rows(raw)))).toEqual({n: -5, r: -2.5, s: '=x', j: {a: -1}})
    const safe = createWriter('ndjson', COLS, {excelSafe: true})
    expect(JSON.parse(String(safe.rows(raw)))).toEqual({n: -5, r: -2.5, s: "'=x", j: {a: -1}})
  })
})

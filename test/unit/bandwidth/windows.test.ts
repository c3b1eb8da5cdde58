/** Window planning for top --since / history: rollups for whole buckets, raw for the edges. */
import {describe, expect, it} from 'vitest'
import {planWindow} from '../../../src/core/bandwidth/windows.js'
import {utcDayStart} from '../../support/clock.js'

const H = 3_600_000
const M5 = 300_000
const D = 86_400_000
const none = {raw: 0, '5m': 0, '1h': 0, '1d': 0}
const day0 = utcDayStart(20)

describe('planWindow', () => {
  it('cuts an unaligned 24 h window into raw edges, 5m/1h buckets and a whole day where possible', () => {
    const since = day0 - 2 * H - 7 * M5 - 61_000 // 21:23:59 the day before
    const until = day0 + D + 3 * H + 2 * M5 + 1000
    const p = planWindow(since, until, none)
    expect(p.widened).toBe(false)
    // Contiguous and covering exactly [since, until).
    expect(p.segments[0]!.from).toBe(since)
    expect(p.segments.at(-1)!.to).toBe(until)
    for (let i = 1; i < p.segments.length; i++) expect(p.segments[i]!.from).toBe(p.segments[i - 1]!.to)
    expect(p.segments.map(s => s.level)).toEqual(['raw', '5m', '1h', '1d', '1h', '5m', 'raw'])
    expect(p.segments.find(s => s.level === '1d')).toEqual({level: '1d', from: day0, to: day0 + D})
  })

  it('uses raw only for a window shorter than a bucket', () => {
    const p = planWindow(day0 + 1000, day0 + 2000, none)
    expect(p.segments).toEqual([{level: 'raw', from: day0 + 1000, to: day0 + 2000}])
  })

  it('widens the start to a 5-minute edge where raw samples were pruned, and to the hour where 5m rollups were', () => {
    const wm = {raw: day0, '5m': day0 - 10 * H, '1h': 0, '1d': 0}
    const a = planWindow(day0 - 2 * H - 61_000, day0 + H, wm)
    expect(a.widened).toBe(true)
    expect(a.since).toBe(day0 - 2 * H - M5)
    expect(a.segments.some(s => s.level === 'raw' && s.from < day0)).toBe(false)
    const b = planWindow(day0 - 20 * H - 61_000, day0 + H, wm)
    expect(b.since).toBe(day0 - 21 * H)
    expect(b.segments.every(s => s.level !== '5m' || s.from >= wm['5m'])).toBe(true)
  })

  it('leaves an aligned window alone after pruning', () => {
    const wm = {raw: day0, '5m': day0 - 10 * H, '1h': 0, '1d': 0}
    const p = planWindow(day0 - 3 * H, day0 + H, wm)
    expect(p.widened).toBe(false)
    expect(p.segments).toEqual([{level: '1h', from: day0 - 3 * H, to: day0 + H}])
  })
})

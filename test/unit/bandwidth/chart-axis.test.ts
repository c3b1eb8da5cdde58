/**
 * Issue 17: `bandwidth history`'s chart time axis and the human time format it uses (pure
 * functions: fixed instants are fine here, nothing is stored), and the resolver's text rules.
 */
import {describe, expect, it} from 'vitest'
import {axisTimes, historySubject, timeAxis} from '../../../src/core/bandwidth/chart.js'
import type {HistoryResult} from '../../../src/core/bandwidth/query.js'
import {candidateLabel, classifyDeviceKey, looksLikeAddress} from '../../../src/core/devices/resolve.js'
import {humanTime} from '../../../src/core/format/time.js'

// 2026-03-29 is the EU spring change: 01:00 UTC is 02:00 CET → 03:00 CEST.
const BEFORE = Date.UTC(2026, 2, 29, 0, 30)
const AFTER = Date.UTC(2026, 2, 29, 1, 30)

describe('humanTime', () => {
  it('local time with the UTC offset then in force, across a DST change', () => {
    expect(humanTime(BEFORE, {tz: 'Europe/Vienna'})).toBe('2026-03-29 01:30 +01:00')
    expect(humanTime(AFTER, {tz: 'Europe/Vienna'})).toBe('2026-03-29 03:30 +02:00')
    expect(humanTime(AFTER, {tz: 'Asia/Kolkata'})).toBe('2026-03-29 07:00 +05:30')
    expect(humanTime(AFTER, {tz: 'America/New_York', seconds: true})).toBe('2026-03-28 21:30:00 -04:00')
  })
  it('UTC is written UTC; another zone at offset 0 keeps +00:00', () => {
    expect(humanTime(AFTER, {utc: true})).toBe('2026-03-29 01:30 UTC')
    expect(humanTime(AFTER, {tz: 'UTC'})).toBe('2026-03-29 01:30 UTC')
    expect(humanTime(Date.UTC(2026, 0, 10, 12), {tz: 'Europe/London'})).toBe('2026-01-10 12:00 +00:00')
  })
})

describe('timeAxis', () => {
  const t: [number, number, number] = [BEFORE, Date.UTC(2026, 2, 29, 1), AFTER]
  it('ticks and labels at the first, middle and last plotted column', () => {
    const [ticks, labels] = timeAxis(t, 5, 80, {utc: true}).split('\n') as [string, string]
    expect([...ticks].flatMap((c, i) => (c === '╵' ? [i] : []))).toEqual([5, 5 + 39, 5 + 79])
    expect(labels.indexOf('2026-03-29 00:30 UTC')).toBe(5)
    // The end label ends at the last column; the middle one is centred on the middle column.
    expect(labels.indexOf('2026-03-29 01:30 UTC') + '2026-03-29 01:30 UTC'.length - 1).toBe(5 + 79)
    const mid = labels.indexOf('2026-03-29 01:00 UTC')
    expect(Math.abs(mid + 10 - (5 + 39))).toBeLessThanOrEqual(1)
  })
  it('a narrow chart drops the middle label, then the end one, rather than overlap them', () => {
    const two = timeAxis(t, 0, 50, {utc: true}).split('\n')[1]!
    expect(two.trim().split(/\s{2,}/)).toEqual(['2026-03-29 00:30 UTC', '2026-03-29 01:30 UTC'])
    const one = timeAxis(t, 0, 30, {utc: true}).split('\n')[1]!
    expect(one.trim()).toBe('2026-03-29 00:30 UTC')
  })
  it('raw charts label their first, middle and last point; rollups the window', () => {
    const base = {since_ms: 0, until_ms: 3_600_000, device: null} as unknown as HistoryResult
    const pts = [10, 20, 30, 40, 50].map(ts_ms => ({ts_ms}))
    expect(axisTimes({...base, resolution: 'raw', points: pts} as unknown as HistoryResult)).toEqual([10, 30, 50])
    expect(axisTimes({...base, resolution: '5m', points: pts} as unknown as HistoryResult)).toEqual([0, 1_800_000, 3_600_000])
    expect(historySubject(base)).toBe('network total (all devices)')
    expect(historySubject({...base, device: {mac: 'AA:BB:CC:22:00:01', ip: null, hostname: 'nas', name: 'storage'}} as HistoryResult)).toBe(
      'storage (AA:BB:CC:22:00:01)',
    )
  })
})

describe('device text (resolve.ts)', () => {
  it('MAC forms, IPs and names', () => {
    expect(classifyDeviceKey('aabb.cc22.0001')).toEqual({kind: 'mac', mac: 'AA:BB:CC:22:00:01'})
    expect(classifyDeviceKey(' 10.77.22.10 ')).toEqual({kind: 'ip', ip: '10.77.22.10'})
    expect(classifyDeviceKey('::ffff:10.77.22.10')).toEqual({kind: 'ip', ip: '10.77.22.10'})
    // Digits and dots but no address: a typo, exit 2 (not a name to look up).
    expect(() => classifyDeviceKey('10.77.22.300')).toThrow(/malformed IP address "10.77.22.300"/)
    expect(classifyDeviceKey('2001:DB8::0:1')).toEqual({kind: 'ip', ip: '2001:db8::1'})
    expect(classifyDeviceKey('  office printer ')).toEqual({kind: 'name', name: 'office printer'})
    // Not quite a MAC (five octets), or colon groups that are no address: malformed, exit 2.
    expect(() => classifyDeviceKey('AA:BB:CC:DD:EE')).toThrow(/malformed MAC or IP address "AA:BB:CC:DD:EE"/)
    expect(() => classifyDeviceKey('zz:zz')).toThrow(/malformed MAC or IP address/)
    // A promoted name may hold a colon after a word: "Desk: left".
    expect(classifyDeviceKey('Desk: left')).toEqual({kind: 'name', name: 'Desk: left'})
    expect(() => classifyDeviceKey('   ')).toThrow(/no device given/)
    expect(looksLikeAddress('aa-bb-cc-dd-ee-01')).toBe(true)
    expect(looksLikeAddress('laptop')).toBe(false)
    expect(looksLikeAddress('zz:zz')).toBe(true)
    expect(looksLikeAddress('10.0.0.300')).toBe(true)
  })
  it('candidates read as MAC, IP, name (and the hostname when it differs)', () => {
    expect(candidateLabel({mac: 'AA:BB:CC:22:00:03', ip: '10.77.22.12', name: null, hostname: 'nas'})).toBe('AA:BB:CC:22:00:03 10.77.22.12 "nas"')
    expect(candidateLabel({mac: null, ip: '10.77.22.12', name: 'store', hostname: 'nas'})).toBe('- 10.77.22.12 "store" host nas')
  })
})

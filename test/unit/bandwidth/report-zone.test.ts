/**
 * Zone arithmetic of `bandwidth report` (src/core/bandwidth/report.ts): local midnights found
 * from Intl alone, over every day of the last 400 days (so every DST change of that span) in
 * zones east and west of UTC, with and without DST, and with a half-hour offset.
 */
import {describe, expect, it} from 'vitest'
import {localMidnight, zoneOffset, zoneParts} from '../../../src/core/bandwidth/report.js'

const DAY = 86_400_000
const ZONES = ['Europe/Vienna', 'America/New_York', 'Australia/Sydney', 'Asia/Kolkata', 'UTC']

describe('localMidnight', () => {
  for (const tz of ZONES) {
    it(`${tz}: each local day starts at 00:00 local, the instant before is the previous day, lengths 23–25 h`, () => {
      const today = zoneParts(Date.now(), tz)
      const lengths = new Set<number>()
      for (let k = 0; k < 400; k++) {
        const start = localMidnight(today.y, today.m, today.d - k, tz)
        const end = localMidnight(today.y, today.m, today.d - k + 1, tz)
        const p = zoneParts(start, tz)
        const want = new Date(Date.UTC(today.y, today.m - 1, today.d - k))
        expect([p.y, p.m, p.d, p.h, p.mi]).toEqual([want.getUTCFullYear(), want.getUTCMonth() + 1, want.getUTCDate(), 0, 0])
        expect(zoneParts(start - 1, tz).d).not.toBe(p.d)
        lengths.add((end - start) / 3_600_000)
      }
      const dst = tz !== 'UTC' && tz !== 'Asia/Kolkata'
      expect([...lengths].sort()).toEqual(dst ? [23, 24, 25] : [24])
    })
  }

  it('zoneOffset: Kolkata +05:30, Vienna +1 h or +2 h', () => {
    const now = Date.now()
    expect(zoneOffset(now, 'Asia/Kolkata')).toBe(5.5 * 3_600_000)
    expect([3_600_000, 7_200_000]).toContain(zoneOffset(now, 'Europe/Vienna'))
    expect(zoneOffset(now - 200 * DAY, 'UTC')).toBe(0)
  })
})

import {describe, expect, it} from 'vitest'
import {windowStart} from '../../../src/core/alerts/evaluate.js'
import {DAY, utcDayStart} from '../../support/clock.js'

describe('bandwidth_usage windows', () => {
  it('day and month start at UTC midnight, rolling_24h is 24 h back', () => {
    const now = utcDayStart(0) + 5 * 3_600_000 + 123
    expect(windowStart('day', now)).toBe(utcDayStart(0))
    expect(windowStart('day', utcDayStart(0))).toBe(utcDayStart(0))
    expect(windowStart('rolling_24h', now)).toBe(now - DAY)
    const d = new Date(now)
    const month = windowStart('month', now)
    expect(new Date(month).getUTCDate()).toBe(1)
    expect(new Date(month).getUTCMonth()).toBe(d.getUTCMonth())
    expect(month % DAY).toBe(0)
    expect(month).toBeLessThanOrEqual(now)
    expect(now - month).toBeLessThan(31 * DAY)
  })
})

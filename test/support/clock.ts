/**
 * Test times relative to the clock. A calendar date in test data ages: once it is older than a
 * retention window, auto-prune deletes the rows and the test fails on a later day. Tests that need
 * a round instant take it from here; pure functions get their clock injected instead.
 */
export const MINUTE = 60_000
export const HOUR = 3_600_000
export const DAY = 86_400_000

/** The start (00:00 UTC) of the day `daysAgo` days before today. */
export function utcDayStart(daysAgo: number, now = Date.now()): number {
  return Math.floor(now / DAY) * DAY - daysAgo * DAY
}

/** True when this process runs under libfaketime (issue 13's acceptance: the suite 60 days ahead). */
export const UNDER_FAKETIME = /faketime/i.test(process.env.LD_PRELOAD ?? '')

/**
 * This environment without libfaketime, for child processes that must run on the real clock
 * (Chromium crawls under it; Python's time.sleep fails with EINVAL).
 */
export function realClockEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'LD_PRELOAD' && !k.startsWith('FAKETIME')))
}

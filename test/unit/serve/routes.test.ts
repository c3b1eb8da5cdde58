/**
 * The routes' defaults mirror the commands': a route called without a parameter does what the
 * command does without the flag. These read the commands' own flag definitions, so a default
 * changed in a command fails here instead of drifting silently.
 */
import {describe, expect, it} from 'vitest'
import BandwidthHistory from '../../../src/commands/bandwidth/history.js'
import BandwidthTop from '../../../src/commands/bandwidth/top.js'
import DevicesTimeline from '../../../src/commands/devices/timeline.js'
import Latency from '../../../src/commands/latency/index.js'
import LatencyHistory from '../../../src/commands/latency/history.js'
import MetersReadings from '../../../src/commands/meters/readings.js'
import MetersStats from '../../../src/commands/meters/stats.js'
import Scan from '../../../src/commands/scan/index.js'
import {parseDuration} from '../../../src/core/format/time.js'
import {HISTORY_DEFAULTS, TOP_DEFAULTS} from '../../../src/core/serve/routes/bandwidth.js'
import {SCAN_DEFAULTS, TIMELINE_DEFAULTS} from '../../../src/core/serve/routes/inventory.js'
import {LATENCY_HISTORY_SINCE_MS, MEASURE_DEFAULTS} from '../../../src/core/serve/routes/latency.js'
import {METER_DEFAULTS} from '../../../src/core/serve/routes/meters.js'

type Cmd = {flags: Record<string, {default?: unknown}>}
const flag = (cmd: unknown, name: string) => (cmd as Cmd).flags[name]?.default

describe('route defaults = command flag defaults', () => {
  it('POST /api/network/scan ↔ netmon scan', () => {
    for (const [k, v] of Object.entries(SCAN_DEFAULTS)) expect(flag(Scan, k), `--${k}`).toEqual(v)
  })
  it('bandwidth top / history', () => {
    expect(flag(BandwidthTop, 'limit')).toBe(TOP_DEFAULTS.limit)
    expect(flag(BandwidthTop, 'sort')).toBe(TOP_DEFAULTS.sort)
    expect(parseDuration(String(flag(BandwidthHistory, 'since')))).toBe(HISTORY_DEFAULTS.sinceMs)
    expect(flag(BandwidthHistory, 'resolution')).toBe(HISTORY_DEFAULTS.resolution)
  })
  it('meters stats / readings', () => {
    expect(flag(MetersStats, 'limit')).toBe(METER_DEFAULTS.statsLimit)
    expect(flag(MetersReadings, 'limit')).toBe(METER_DEFAULTS.readingsLimit)
  })
  it('devices timeline', () => {
    expect(parseDuration(String(flag(DevicesTimeline, 'since')))).toBe(TIMELINE_DEFAULTS.sinceMs)
    expect(flag(DevicesTimeline, 'limit')).toBe(TIMELINE_DEFAULTS.limit)
  })
  it('latency / latency history', () => {
    expect(flag(Latency, 'count')).toBe(MEASURE_DEFAULTS.count)
    expect(parseDuration(String(flag(Latency, 'interval')))).toBe(MEASURE_DEFAULTS.intervalMs)
    expect(parseDuration(String(flag(Latency, 'timeout')))).toBe(MEASURE_DEFAULTS.timeoutMs)
    expect(flag(Latency, 'port')).toBe(MEASURE_DEFAULTS.port)
    expect(flag(Latency, 'method')).toBeUndefined() // the command's "no flag" = auto
    expect(parseDuration(String(flag(LatencyHistory, 'since')))).toBe(LATENCY_HISTORY_SINCE_MS)
  })
})

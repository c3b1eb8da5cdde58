/**
 * fping -q's summary line (issue 17): the format of Debian's fping 5.1, checked here on lines it
 * printed (`fping -q -c 3 127.0.0.1 127.0.0.2 127.0.0.100`, loopback) and on the rules of its
 * sprint_tm and loss arithmetic; the netns test compares netmon's lines with fping's on one LAN.
 */
import {describe, expect, it} from 'vitest'
import {fpingSummaryLines, fpingTime} from '../../../src/core/latency/fping-format.js'

describe('fping -q format', () => {
  it('reproduces lines fping 5.1 printed', () => {
    expect(
      fpingSummaryLines([
        {host: '127.0.0.1', sent: 3, received: 3, min_ms: 0.025, avg_ms: 0.312, max_ms: 0.882},
        {host: '127.0.0.2', sent: 3, received: 3, min_ms: 0.01, avg_ms: 0.458, max_ms: 1.34},
        {host: '127.0.0.100', sent: 3, received: 3, min_ms: 0.015, avg_ms: 0.346, max_ms: 1.01},
      ]),
    ).toEqual([
      '127.0.0.1   : xmt/rcv/%loss = 3/3/0%, min/avg/max = 0.025/0.312/0.882',
      '127.0.0.2   : xmt/rcv/%loss = 3/3/0%, min/avg/max = 0.010/0.458/1.34',
      '127.0.0.100 : xmt/rcv/%loss = 3/3/0%, min/avg/max = 0.015/0.346/1.01',
    ])
  })

  it('no reply: no min/avg/max; loss truncated as fping computes it', () => {
    expect(
      fpingSummaryLines([
        {host: 'a', sent: 3, received: 0, min_ms: null, avg_ms: null, max_ms: null},
        {host: 'bb', sent: 3, received: 2, min_ms: 12.34, avg_ms: 56.78, max_ms: 123.4},
        {host: 'c', sent: 0, received: 0, min_ms: null, avg_ms: null, max_ms: null},
      ]),
    ).toEqual(['a  : xmt/rcv/%loss = 3/0/100%', 'bb : xmt/rcv/%loss = 3/2/33%, min/avg/max = 12.3/56.8/123', 'c  : xmt/rcv/%loss = 0/0/0%'])
  })

  it.each([
    [0.0449, '0.045'],
    [0.999, '0.999'],
    [1, '1.00'],
    [9.994, '9.99'],
    [10, '10.0'],
    [99.94, '99.9'],
    [100, '100'],
    [1234.4, '1234'],
  ])('time %d ms prints as %s (sprint_tm)', (ms, text) => {
    expect(fpingTime(ms)).toBe(text)
  })
})

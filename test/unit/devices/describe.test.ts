/**
 * Issue 17 (dashboard review: "timeline details readable, not raw JSON"): every event type's detail
 * becomes one line of text for people. The details here are the shapes the writers record
 * (inventory/plan.ts, devices/repo.ts, inventory/queries.ts promote, bandwidth/counters.ts and
 * state.ts); the counter and rate events are produced by the real functions, not written by hand.
 */
import {describe, expect, it} from 'vitest'
import {stepCounter} from '../../../src/core/bandwidth/counters.js'
import {implausibleRate} from '../../../src/core/bandwidth/state.js'
import {describeEvent} from '../../../src/core/devices/describe.js'
import {EVENT_TYPES} from '../../../src/core/devices/events.js'

describe('describeEvent', () => {
  it.each([
    [
      'new',
      {ip: '10.0.0.5', mac: 'AA:BB:CC:00:00:01', vendor: 'Acme', hostname: 'nas', found_by: ['neighbor', 'tcp'], scan_id: 7},
      'first seen at 10.0.0.5, named nas, vendor Acme, found by neighbor, tcp (scan 7)',
    ],
    ['new', {ip: '10.88.0.5', mac: '0E:FB:EA:83:3F:46', hostname: null, by: 'bandwidth'}, 'first seen at 10.88.0.5, by bandwidth'],
    ['online', {ip: '10.0.0.5', scan_id: 8}, 'back online at 10.0.0.5 (scan 8)'],
    ['offline', {ip: '10.0.0.5', last_seen: 1_700_000_000_000, scan_id: 9}, 'not found by the scan; last seen 2023-11-14T22:13:20.000Z (scan 9)'],
    ['ip_changed', {from: '10.0.0.5', to: '10.0.0.6', mac: 'AA:BB:CC:00:00:01', by: 'register'}, 'address 10.0.0.5 → 10.0.0.6 (by register)'],
    ['ip_conflict', {ip: '10.0.0.7', macs: ['AA:BB:CC:00:00:01', 'AA:BB:CC:00:00:02']}, '10.0.0.7 answered by 2 MACs: AA:BB:CC:00:00:01, AA:BB:CC:00:00:02'],
    ['hostname_changed', {from: null, to: 'printer.lan'}, 'name – → printer.lan'],
    ['ports_changed', {opened: [22], closed: [], open: [22, 80]}, 'opened 22; closed none; open now 22, 80'],
    ['promoted', {name: 'office printer', previous_name: null, was_known: false}, 'named "office printer", now known'],
    ['merged', {from_device_id: 12, ip: '10.0.0.9'}, 'merged device #12 into this one (same address 10.0.0.9)'],
    ['bandwidth_reset', {purge: false}, 'accounting reset (history kept)'],
    ['bandwidth_reset', {purge: true}, 'accounting reset, history purged'],
  ])('%s %j', (type, detail, want) => expect(describeEvent(type, detail)).toBe(want))

  it('counter events from the real counter step read as text', () => {
    const t = Date.now()
    const prev = {ts: t - 10_000, sent: 4_294_967_000n, received: 100n}
    const wrap = stepCounter(prev, {ts: t, sent: 704n, received: 200n}, {bits: 32, maxRateBps: 10e9})
    expect(wrap.event?.type).toBe('counter_wrap')
    expect(describeEvent(wrap.event!.type, wrap.event!.detail)).toMatch(
      /^counter wrapped.*: counted 1000 B up, 100 B down; sent 4294967000 \/ received 100 → sent 704 \/ received 200$/,
    )
    const back = stepCounter(prev, {ts: t - 20_000, sent: 4_294_967_500n, received: 300n}, {bits: 64, maxRateBps: 10e9})
    expect(back.event?.type).toBe('clock_backwards')
    expect(describeEvent(back.event!.type, back.event!.detail)).toBe('source clock went backwards; not recorded: 500 B up, 200 B down')
    const rate = implausibleRate(37_000_000, 0, 10, 10e9)!
    expect(describeEvent(rate.type, rate.detail)).toBe(
      'implausible rate 29.60 Gbit/s up / 0 bit/s down over 10 ms (max 10.00 Gbit/s): bytes counted, not used as a rate or peak',
    )
  })

  it('every known type has its own text (no raw JSON, no generic fallback), and unknown ones fall back to pairs', () => {
    for (const type of EVENT_TYPES) {
      const text = describeEvent(type, {ip: '10.0.0.1', from: 'a', to: 'b', previous: {sent: '1', received: '2'}})
      expect(text, type).not.toMatch(/[{}"]:/)
      if (type !== 'registered')
        expect(text, type).not.toBe(describeEvent('no_such_type', {ip: '10.0.0.1', from: 'a', to: 'b', previous: {sent: '1', received: '2'}}))
    }
    expect(describeEvent('no_such_type', {some_key: 3, list: [1, 2], nested: {sent: 1, received: 2}, gone: null})).toBe(
      'some key 3 · list 1, 2 · nested sent 1 / received 2',
    )
    expect(describeEvent('new', null)).toBe('first seen')
  })
})

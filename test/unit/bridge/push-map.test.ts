/**
 * Mapping DataNotifications to meters and telemetry (src/core/bridge/push-map.ts), on the vectors of
 * test/vectors/dlms/data-notification.json and on the simulator's own pushes.
 */
import {describe, expect, it} from 'vitest'
import type {MeterConfig} from '../../../src/core/bridge/config.js'
import {mapPush, matchByName, sentObjectList} from '../../../src/core/bridge/push-map.js'
import {decodeDataNotification, type DataNotification} from '../../../src/core/dlms/codec/apdu/notification.js'
import {MeterModel} from '../../../src/core/dlms/simulator/objects.js'
import {buildPush, pushObjectList} from '../../../src/core/dlms/simulator/push.js'
import {hex, loadVector} from '../dlms/vectors.js'

type Any = any
const V: Any = loadVector('data-notification')
const vec = (name: string): DataNotification => {
  const r = decodeDataNotification(hex((V.plain as Any[]).find(p => p.name === name).hex))
  if (r.status !== 'ok') throw new Error(name)
  return r.value
}

const meter = (o: Partial<MeterConfig>): MeterConfig => ({
  id: 'm',
  name: 'm',
  host: '',
  port: 0,
  framing: 'wrapper',
  clientAddress: 16,
  serverAddress: 1,
  auth: {mechanism: 'none'},
  pollIntervalMs: 1000,
  timeoutMs: 1000,
  obis: [],
  reconnect: {minMs: 1, maxMs: 2},
  authFailureLimit: 3,
  poll: false,
  push: {require: 0, objectLists: {}, obis: [], logicalDeviceName: 'NTM12345678'},
  ...o,
})

const T = Date.UTC(2026, 0, 10, 9, 0, 0)
const model = () => new MeterModel({index: 0, now: () => T, offsetMinutes: 60, seed: 3, profileRows: 4, profilePeriodMinutes: 15, preset: 'default'})

describe('push mapping', () => {
  it('self-describing (the Aidon list-1 vector): OBIS, value and scaler_unit in the body', () => {
    const m = meter({obis: [{obis: '1.0.1.7.0.255', key: 'power_kw', classId: 3, unit: 'kW'}]})
    for (const [name, w] of [
      ['aidon-list1-self-describing', 1105],
      ['aidon-list1-self-describing-b', 4019],
    ] as const) {
      const r = mapPush(vec(name), m)
      expect(r.source).toBe('self-describing')
      expect(r.values).toEqual({power_kw: w / 1000})
      expect(r.ts).toBeUndefined()
    }
  })

  it('an opaque body (the u9n vector) maps to nothing and says why', () => {
    const r = mapPush(vec('u9n-octet-string-body'), meter({obis: [{obis: '1.0.1.8.0.255', key: 'e', classId: 3}]}))
    expect(r.values).toEqual({})
    expect(r.source).toBe('none')
    expect(r.notes.join()).toMatch(/no object list/)
  })

  it('the date-time of the notification is the capture time', () => {
    const r = mapPush(vec('constructed-with-date-time'), meter({}))
    expect(r.ts).toBe(Date.parse('2024-06-15T12:34:56+01:00'))
    // its logical device name is found among the body's texts
    expect(
      matchByName(vec('constructed-with-date-time'), [meter({id: 'x', push: {require: 0, objectLists: {}, obis: [], logicalDeviceName: 'NTM12345678'}})])?.id,
    ).toBe('x')
    expect(
      matchByName(vec('constructed-with-date-time'), [meter({id: 'y', push: {require: 0, objectLists: {}, obis: [], logicalDeviceName: 'other'}})]),
    ).toBeUndefined()
  })

  it('a sent object list describes every element: registers scaled by their pushed scaler_unit', () => {
    const mm = model()
    const n = buildPush(mm, 'periodic', {invokeId: 1, sent: true})
    const list = sentObjectList(n.body)!
    expect(list).toEqual(pushObjectList('periodic', true, mm))
    const m = meter({
      obis: [
        {obis: '1.0.1.8.0.255', key: 'e_kwh', classId: 3, unit: 'kWh'},
        {obis: '1.0.14.7.0.255', key: 'f_hz', classId: 3},
        {obis: '0.0.1.0.0.255', key: 'clock', classId: 8},
      ],
    })
    const r = mapPush(n, m)
    expect(r.source).toBe('sent')
    expect(r.pushSetup).toBe('0.0.25.9.0.255')
    expect(r.logicalDeviceName).toBe('NTM12345678')
    expect(r.ts).toBe(T)
    expect(r.values.e_kwh).toBe(mm.energyAt(T) / 1000)
    expect(r.values.f_hz).toBeGreaterThan(49.8)
    expect(r.values.f_hz).toBeLessThan(50.2)
    expect(new Date(r.values.clock as string).getTime()).toBe(T)
    expect(r.notes).toEqual([])
  })

  it('without attribute 3 the poller’s scaler is used, else the raw value with a note', () => {
    const mm = model()
    const n = buildPush(mm, 'periodic', {invokeId: 2, sent: false})
    const list = [
      {classId: 40, obis: '0.0.25.9.0.255', attribute: 1},
      {classId: 1, obis: '0.0.42.0.0.255', attribute: 2},
      {classId: 8, obis: '0.0.1.0.0.255', attribute: 2},
      {classId: 3, obis: '1.0.1.8.0.255', attribute: 2},
    ]
    const m = meter({obis: [{obis: '1.0.1.8.0.255', key: 'e', classId: 3}], push: {require: 0, objectLists: {'0.0.25.9.0.255': list}, obis: []}})
    const raw = mapPush(n, m)
    expect(raw.source).toBe('configured')
    expect(raw.notes.some(x => /no scaler_unit/.test(x))).toBe(true)
    expect(raw.notes.some(x => /object list 4/.test(x))).toBe(true) // the body is longer than the configured list
    expect(raw.values.e).toBe(mm.energyAt(T))
    const scaled = mapPush(n, m, {scalerFor: obis => (obis === '1.0.1.8.0.255' ? {scaler: -3, unit: 30} : undefined)})
    expect(scaled.values.e).toBe(mm.energyAt(T) / 1000)
    expect(scaled.notes.some(x => /no scaler_unit/.test(x))).toBe(false)
  })

  it('an alarm push maps the alarm register through its configured list', () => {
    const n = buildPush(model(), 'alarm', {invokeId: 3, sent: false, alarm: 0x80000001})
    const m = meter({
      push: {
        require: 0,
        objectLists: {'0.4.25.9.0.255': pushObjectList('alarm', false)},
        obis: [{obis: '0.0.97.98.0.255', key: 'alarm_register_1', classId: 1}],
      },
    })
    const r = mapPush(n, m)
    expect(r).toMatchObject({source: 'configured', pushSetup: '0.4.25.9.0.255', logicalDeviceName: 'NTM12345678', values: {alarm_register_1: 0x80000001}})
  })
})

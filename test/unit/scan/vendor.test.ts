import {describe, expect, it} from 'vitest'
import {lookupVendor, macKind, vendorLabel} from '../../../src/core/scan/vendor.js'

describe('MAC vendor', () => {
  it('kinds: universal, locally administered, multicast', () => {
    expect(macKind('B8:27:EB:00:00:01')).toBe('universal')
    expect(macKind('02:4E:4D:00:00:02')).toBe('local')
    expect(macKind('DA:A1:19:00:00:00')).toBe('local') // randomised phone MAC (x2/x6/xA/xE)
    expect(macKind('01:00:5E:00:00:FB')).toBe('multicast')
  })

  it('longest registered prefix wins: MA-S over MA-M over MA-L; first line of the entry', () => {
    const db = {'001122': 'Big Corp\nStreet 1', '0011223': 'Medium Co\nAddr', '001122334': 'Small Ltd\nAddr'}
    expect(lookupVendor('00:11:22:33:44:55', db)).toEqual({mac_kind: 'universal', vendor: 'Small Ltd'})
    expect(lookupVendor('00:11:22:3F:44:55', db)).toEqual({mac_kind: 'universal', vendor: 'Medium Co'})
    expect(lookupVendor('00:11:22:FF:44:55', db)).toEqual({mac_kind: 'universal', vendor: 'Big Corp'})
    expect(lookupVendor('00:99:99:00:00:00', db)).toEqual({mac_kind: 'universal', vendor: null})
  })

  it('locally administered MACs are reported as such, never looked up', () => {
    let loaded = false
    const r = lookupVendor('02:11:22:33:44:55', () => {
      loaded = true
      return {}
    })
    expect(r).toEqual({mac_kind: 'local', vendor: null})
    expect(loaded).toBe(false)
    expect(vendorLabel(r, '02:11:22:33:44:55')).toBe('(locally administered)')
    expect(vendorLabel({vendor: null}, '00:99:99:00:00:00')).toBe('(unregistered)')
  })

  it('the shipped IEEE registry (oui-data) names real prefixes', () => {
    expect(lookupVendor('B8:27:EB:12:34:56').vendor).toBe('Raspberry Pi Foundation')
    expect(lookupVendor('DC:A6:32:12:34:56').vendor).toBe('Raspberry Pi Trading Ltd')
    expect(lookupVendor('00:1A:11:00:00:01').vendor).toBe('Google, Inc.')
  })
})

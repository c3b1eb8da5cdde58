import {describe, expect, it} from 'vitest'
import {readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {indexRegistry, lookupVendor, macKind, registryLookup, vendorLabel} from '../../../src/core/scan/vendor.js'

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

describe('the registry searched in place', () => {
  const require = createRequire(import.meta.url)
  const buf = readFileSync(require.resolve('oui-data'))
  const parsed = JSON.parse(buf.toString('utf8')) as Record<string, string>

  it('indexes the installed registry (three sorted runs) and finds its entries exactly as the parsed map has them', () => {
    const r = indexRegistry(buf)
    expect(r).not.toBeNull()
    expect([...r!.runs.keys()].sort()).toEqual([6, 7, 9])
    const keys = Object.keys(parsed)
    expect(r!.lines.length).toBe(keys.length)
    // Every 5th entry, plus each run's first and last (the edges of each binary search).
    const sample = keys.filter((_, i) => i % 5 === 0)
    for (const len of [6, 7, 9]) {
      const run = keys.filter(k => k.length === len)
      sample.push(run[0]!, run.at(-1)!)
    }
    let wrong = 0
    for (const k of sample) if (registryLookup(r!, k) !== parsed[k]) wrong++
    expect(wrong).toBe(0)
  })

  it('answers misses, and lookupVendor agrees with the parsed map for random MACs (longest prefix wins)', () => {
    const r = indexRegistry(buf)!
    expect(registryLookup(r, 'ZZZZZZ')).toBeUndefined()
    expect(registryLookup(r, '12345')).toBeUndefined()
    let seed = 7
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) & 0xff
    for (let i = 0; i < 3000; i++) {
      // Universal unicast: clear the two low bits of the first octet.
      const bytes = [rnd() & 0xfc, rnd(), rnd(), rnd(), rnd(), rnd()]
      const mac = bytes.map(b => b.toString(16).padStart(2, '0').toUpperCase()).join(':')
      expect(lookupVendor(mac)).toEqual(lookupVendor(mac, parsed))
    }
    // Prefixes that are MA-M / MA-S registrations resolve to them, not to the MA-L block.
    const mam = Object.keys(parsed).find(k => k.length === 7)!
    const mac = `${mam}00000`.replace(/(..)(?=.)/g, '$1:')
    expect(lookupVendor(mac).vendor).toBe(parsed[mam]!.split('\n')[0]!.trim())
  })

  it('refuses a file that is not one sorted entry per line (the caller then parses it)', () => {
    expect(indexRegistry(Buffer.from('{\n "00000B": "b",\n "00000A": "a"\n}\n'))).toBeNull()
    expect(indexRegistry(Buffer.from('{"00000A": "a", "00000B": "b"}'))).toBeNull()
    expect(registryLookup(indexRegistry(Buffer.from('{\n "00000A": "a\\nstreet",\n "00000B": "b"\n}\n'))!, '00000A')).toBe('a\nstreet')
  })
})

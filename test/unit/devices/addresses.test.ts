/**
 * One device, one spelling: MAC and IP normalisation shared by bandwidth, scan, latency and the
 * inventory (issue 4: MACs in `:`, `-`, `.` and bare-hex forms; IPv4/IPv6 validated).
 */
import {describe, expect, it} from 'vitest'
import {ipVersion, normalizeIp} from '../../../src/core/devices/ip.js'
import {normalizeMac, tryNormalizeMac} from '../../../src/core/devices/mac.js'

describe('normalizeMac', () => {
  it.each([
    ['aa:bb:cc:dd:ee:01', 'AA:BB:CC:DD:EE:01'],
    ['AA-BB-CC-DD-EE-01', 'AA:BB:CC:DD:EE:01'],
    ['aabb.ccdd.ee01', 'AA:BB:CC:DD:EE:01'],
    ['aabbccddee01', 'AA:BB:CC:DD:EE:01'],
    [' aabbccddee01 ', 'AA:BB:CC:DD:EE:01'],
  ])('%j → %s', (input, out) => {
    expect(normalizeMac(input)).toBe(out)
  })

  it.each(['aa:bb:cc:dd:ee', 'aa:bb:cc:dd:ee:01:02', 'zz:bb:cc:dd:ee:01', 'aabbccddee0', 'aa:bb-cc:dd:ee:01', ''])(
    '%j is refused (exit 2) and not a MAC for lookups',
    bad => {
      expect(() => normalizeMac(bad)).toThrow(expect.objectContaining({exitCode: 2}))
      expect(tryNormalizeMac(bad)).toBeNull()
    },
  )
})

describe('normalizeIp', () => {
  it.each([
    ['192.0.2.10', '192.0.2.10'],
    [' 10.0.0.1 ', '10.0.0.1'],
    ['2001:DB8::0:1', '2001:db8::1'],
    ['2001:db8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::FFFF:192.0.2.1', '192.0.2.1'], // an IPv4 host, as the scanner sees it
    ['::ffff:c000:201', '192.0.2.1'],
    ['::192.0.2.1', '::c000:201'], // IPv4-compatible (deprecated) is not IPv4-mapped
    ['::c000:201', '::c000:201'],
    ['fe80::1%eth0', 'fe80::1%eth0'],
    ['::1', '::1'],
  ])('%j → %s', (input, out) => {
    expect(normalizeIp(input)).toBe(out)
  })

  it.each(['192.0.2.300', '10.0.0', '2001:db8:::1', 'host.lan', ''])('%j is refused (exit 2)', bad => {
    expect(() => normalizeIp(bad)).toThrow(expect.objectContaining({exitCode: 2}))
    expect(ipVersion(bad)).toBe(0)
  })
})

describe('one spelling across capabilities', () => {
  it('the scanner writes an address exactly as bandwidth register and latency store it', async () => {
    const {parseIpLiteral} = await import('../../../src/core/scan/targets.js')
    for (const s of [
      '2001:db8::1',
      '2001:DB8:0:0:1:0:0:1',
      '2001:db8:0:1:1:1:1:1',
      'fe80::1',
      '::1',
      '1:0:0:2:0:0:0:3',
      '::ffff:10.0.0.5',
      '::192.0.2.1',
      '10.0.0.5',
    ]) {
      expect(parseIpLiteral(s)?.text, s).toBe(normalizeIp(s))
    }
  })
})

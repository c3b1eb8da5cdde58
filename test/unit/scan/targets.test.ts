import {describe, expect, it} from 'vitest'
import {NetmonError} from '../../../src/core/errors.js'
import {
  checkRanges,
  compareIp,
  defaultTargets,
  expandRanges,
  parseTarget,
  parseTargets,
  resolveTargets,
  type InterfaceInfo,
} from '../../../src/core/scan/targets.js'

const ips = (specs: string[], opts = {}) => expandRanges(parseTargets(specs, opts)).map(x => x.ip)

function inputError(fn: () => unknown, re: RegExp): void {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(NetmonError)
    expect((e as NetmonError).exitCode).toBe(2)
    expect((e as NetmonError).message).toMatch(re)
    expect((e as NetmonError).message).not.toContain('\n')
    return
  }
  throw new Error('expected an input error')
}

describe('parseTarget / expandRanges', () => {
  it('a /24 is its 254 hosts (network and broadcast excluded)', () => {
    const list = ips(['10.77.0.0/24'])
    expect(list.length).toBe(254)
    expect(list[0]).toBe('10.77.0.1')
    expect(list.at(-1)).toBe('10.77.0.254')
  })
  it('a CIDR given with host bits set means its network', () => {
    expect(ips(['192.168.1.78/30'])).toEqual(['192.168.1.77', '192.168.1.78'])
  })
  it('/31 and /32 keep every address', () => {
    expect(ips(['10.0.0.4/31'])).toEqual(['10.0.0.4', '10.0.0.5'])
    expect(ips(['10.0.0.4/32'])).toEqual(['10.0.0.4'])
  })
  it('short ranges, full ranges, single hosts, comma-free lists, duplicates dropped in order', () => {
    expect(ips(['10.0.0.1-3'])).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3'])
    expect(ips(['10.0.0.254-10.0.1.1'])).toEqual(['10.0.0.254', '10.0.0.255', '10.0.1.0', '10.0.1.1'])
    expect(ips(['10.0.0.9', '10.0.0.8-9', '10.0.0.9'])).toEqual(['10.0.0.9', '10.0.0.8'])
  })
  it('IPv6: literals, ranges with a short end, CIDRs', () => {
    expect(ips(['fd00::1-3'])).toEqual(['fd00::1', 'fd00::2', 'fd00::3'])
    expect(ips(['FD00:0::0A'])).toEqual(['fd00::a'])
    expect(ips(['fd00::/126'])).toEqual(['fd00::', 'fd00::1', 'fd00::2', 'fd00::3'])
    expect(ips(['::1'])).toEqual(['::1'])
    expect(ips(['::ffff:10.0.0.1'])).toEqual(['10.0.0.1'])
  })
  it('host names are recognised (resolved later), numeric junk is not a host name', () => {
    expect(parseTarget('printer.lan')).toEqual({spec: 'printer.lan', hostname: 'printer.lan'})
    expect(parseTarget('localhost')).toEqual({spec: 'localhost', hostname: 'localhost'})
  })
  it.each([
    ['10.0.0.0/33', /prefix length must be 0–32/],
    ['fd00::/129', /prefix length must be 0–128/],
    ['10.0.0.0/x', /prefix length/],
    ['999.1.1.1', /"999\.1\.1\.1": not a valid IP address/],
    ['10.0.0.256', /not a valid IP address/],
    ['10.0.0.1/24/3', /more than one/],
    ['010.0.0.1', /not a valid IP address/],
    ['10.0.0.5-2', /ends before it starts/],
    ['10.0.0.5-300', /not an octet/],
    ['10.0.0.1-fd00::1', /mixes IPv4 and IPv6/],
    ['10.0.0.1-x', /not a range end/],
    ['foo_bar', /not an IP address, CIDR, range or host name/],
    ['1.2.3', /not a valid IP address/],
    ['', /a target is empty/],
    ['   ', /a target is empty/],
  ])('rejects %j', (spec, re) => inputError(() => parseTarget(spec), re))
})

describe('checkRanges: what may be scanned', () => {
  it('refuses public space unless allowed, naming the target', () => {
    inputError(() => parseTargets(['8.0.0.0/8']), /target 8\.0\.0\.0\/8 is a public address range/)
    inputError(() => parseTargets(['1.1.1.1']), /public/)
    inputError(() => parseTargets(['2001:db8::1']), /public/)
    // straddling a private block and public space is public
    inputError(() => parseTargets(['10.0.0.0/7'], {force: true}), /public/)
    expect(ips(['1.1.1.1'], {allowPublic: true})).toEqual(['1.1.1.1'])
  })
  it('allows private, loopback, link-local, CGNAT, ULA and IPv6 link-local', () => {
    for (const t of ['10.1.2.3', '172.16.5.5', '192.168.0.1', '127.0.0.1', '169.254.1.1', '100.64.0.1', 'fd12::1', 'fe80::1', '::1']) {
      expect(ips([t]), t).toHaveLength(1)
    }
  })
  it('never multicast, reserved, broadcast or 0/8, even with --allow-public', () => {
    inputError(() => parseTargets(['224.0.0.1'], {allowPublic: true}), /multicast/)
    inputError(() => parseTargets(['255.255.255.255'], {allowPublic: true}), /reserved/)
    inputError(() => parseTargets(['0.0.0.0/8'], {allowPublic: true, force: true}), /this network/)
    inputError(() => parseTargets(['ff02::1'], {allowPublic: true}), /multicast/)
  })
  it('more than a /22 needs --force, and a /16 is the ceiling', () => {
    expect(() => parseTargets(['10.0.0.0/22'])).not.toThrow()
    inputError(() => parseTargets(['10.0.0.0/21']), /2046 addresses, more than 1024/)
    inputError(() => parseTargets(['10.0.0.0/22', '10.0.4.0/24']), /more than 1024/)
    expect(() => parseTargets(['10.0.0.0/16'], {force: true})).not.toThrow()
    inputError(() => parseTargets(['10.0.0.0/15'], {force: true}), /more than 65536/)
  })
  it('an empty list is an error', () => {
    inputError(() => parseTargets([]), /no targets given/)
    inputError(() => checkRanges([]), /no targets given/)
  })
})

describe('resolveTargets', () => {
  it('resolves host names with the given lookup, then applies the same checks', async () => {
    const r = await resolveTargets(['localhost', '10.0.0.1'], {lookup: async () => '127.0.0.1'})
    expect(expandRanges(r.ranges)).toEqual([{ip: '127.0.0.1', hostname: 'localhost'}, {ip: '10.0.0.1'}])
    expect(r.count).toBe(2)
    await expect(resolveTargets(['example.test'], {lookup: async () => '93.184.216.34'})).rejects.toThrow(/example\.test \(93\.184\.216\.34\) is a public/)
    await expect(
      resolveTargets(['nope.invalid'], {
        lookup: async () => {
          throw Object.assign(new Error('x'), {code: 'ENOTFOUND'})
        },
      }),
    ).rejects.toThrow(/"nope\.invalid" does not resolve \(ENOTFOUND\)/)
  })
  it('checks literal targets before looking any name up', async () => {
    let looked = false
    await expect(
      resolveTargets(['printer.lan', '10.0.0.0/33'], {
        lookup: async () => {
          looked = true
          return '10.0.0.1'
        },
      }),
    ).rejects.toThrow(/\/33/)
    expect(looked).toBe(false)
  })
})

describe('defaultTargets (pure: fake interfaces, nothing is scanned)', () => {
  const itf = (name: string, address: string, netmask: string, up = true, internal = false): InterfaceInfo => ({
    name,
    up,
    addresses: [{address, netmask, family: 'IPv4', internal}],
  })

  it('the subnets of up, non-loopback IPv4 interfaces, once each', () => {
    const d = defaultTargets([
      itf('lo', '127.0.0.1', '255.0.0.0', true, true),
      itf('eth0', '192.168.1.23', '255.255.255.0'),
      itf('eth0:1', '192.168.1.40', '255.255.255.0'),
      itf('wlan0', '10.10.5.9', '255.255.254.0'),
      {name: 'eth1', up: true, addresses: [{address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', internal: false}]},
    ])
    expect(d.targets).toEqual(['192.168.1.0/24', '10.10.4.0/23'])
  })
  it('skips down interfaces, link-local and /31–/32 with a note', () => {
    const d = defaultTargets([
      itf('eth0', '192.168.1.23', '255.255.255.0', false),
      itf('eth1', '169.254.3.4', '255.255.0.0'),
      itf('tun0', '10.8.0.2', '255.255.255.255'),
    ])
    expect(d.targets).toEqual([])
    expect(d.notes.join('\n')).toMatch(/eth0: skipped \(down\)/)
    expect(d.notes.join('\n')).toMatch(/link-local/)
    expect(d.notes.join('\n')).toMatch(/tun0: skipped 10\.8\.0\.2\/32/)
  })
  it('narrows a subnet larger than a /22 to the /22 around the address; --force widens up to a /16', () => {
    const big = [itf('eth0', '10.20.30.40', '255.255.0.0')]
    const d = defaultTargets(big)
    expect(d.targets).toEqual(['10.20.28.0/22'])
    expect(d.notes[0]).toMatch(/10\.20\.0\.0\/16 is larger than a \/22; scanning 10\.20\.28\.0\/22 around 10\.20\.30\.40/)
    expect(defaultTargets(big, {force: true}).targets).toEqual(['10.20.0.0/16'])
    expect(defaultTargets([itf('eth0', '10.20.30.40', '255.0.0.0')], {force: true}).targets).toEqual(['10.20.0.0/16'])
    // and the result always passes the size check
    expect(() => parseTargets(d.targets)).not.toThrow()
  })
  it('skips public subnets unless allowed', () => {
    const pub = [itf('eth0', '203.0.113.7', '255.255.255.0')]
    expect(defaultTargets(pub).targets).toEqual([])
    expect(defaultTargets(pub).notes[0]).toMatch(/public address space/)
    expect(defaultTargets(pub, {allowPublic: true}).targets).toEqual(['203.0.113.0/24'])
  })
})

describe('compareIp', () => {
  it('orders numerically, IPv4 before IPv6', () => {
    const list = ['10.0.0.10', '10.0.0.9', 'fd00::1', '9.0.0.1', '10.0.0.100']
    expect([...list].sort(compareIp)).toEqual(['9.0.0.1', '10.0.0.9', '10.0.0.10', '10.0.0.100', 'fd00::1'])
  })
})

/**
 * Latency targets (issue 6 acceptance 4: bad host names → exit 2): syntax checked before anything,
 * names resolved once through an injected resolver (no DNS traffic from the test), an unknown name
 * is bad input (exit 2), a resolver failure a network error (exit 1).
 */
import {describe, expect, it} from 'vitest'
import {resolveTargets, type Resolver} from '../../../src/core/latency/targets.js'

const fail =
  (code: string): Resolver =>
  async () => {
    throw Object.assign(new Error(`getaddrinfo ${code}`), {code})
  }
const table: Resolver = async name => {
  if (name === 'router.lan')
    return [
      {address: 'fe80::1', family: 6},
      {address: '10.0.0.1', family: 4},
    ]
  if (name === 'v6only.lan') return [{address: '2001:DB8::0:1', family: 6}]
  if (name === 'empty.lan') return []
  throw Object.assign(new Error('getaddrinfo ENOTFOUND'), {code: 'ENOTFOUND'})
}

describe('resolveTargets', () => {
  it('addresses pass through canonical; names resolve once, IPv4 preferred', async () => {
    let calls = 0
    const counting: Resolver = async n => (calls++, table(n))
    const t = await resolveTargets(['10.0.0.9', 'router.lan', 'ROUTER.lan', 'v6only.lan'], counting)
    expect(t).toEqual([
      {host: '10.0.0.9', ip: '10.0.0.9', family: 4},
      {host: 'router.lan', ip: '10.0.0.1', family: 4},
      {host: 'v6only.lan', ip: '2001:db8::1', family: 6},
    ])
    expect(calls).toBe(2) // the duplicate (any case) is dropped before resolving
  })

  it.each(['ENOTFOUND', 'ENODATA', 'EAI_NONAME'])('a name that does not resolve (%s) is bad input: exit 2, naming it', async code => {
    await expect(resolveTargets(['nosuch.lan'], fail(code))).rejects.toMatchObject({exitCode: 2, message: `cannot resolve host "nosuch.lan" (${code})`})
  })

  it('a name with no address at all is bad input too', async () => {
    await expect(resolveTargets(['empty.lan'], table)).rejects.toMatchObject({exitCode: 2, message: 'cannot resolve host "empty.lan" (no address)'})
  })

  it('a resolver that fails (timeout, refused) is a network error: exit 1', async () => {
    await expect(resolveTargets(['router.lan'], fail('ETIMEOUT'))).rejects.toMatchObject({
      exitCode: 1,
      kind: 'network',
      message: 'resolving "router.lan" failed (ETIMEOUT)',
    })
  })

  it('malformed names are refused before any lookup', async () => {
    let called = false
    const spy: Resolver = async () => ((called = true), [])
    for (const bad of ['-f', 'a..b', 'host_name', 'x'.repeat(64) + '.lan', '']) {
      await expect(resolveTargets([bad], spy)).rejects.toMatchObject({exitCode: 2})
    }
    expect(called).toBe(false)
  })
})

// Issue 13: scan's target rules, imported (src/core/scan/targets.ts), decide what latency may probe.
describe('checked like scan targets', () => {
  const spy = () => {
    const calls: string[] = []
    const r: Resolver = async name => (calls.push(name), [{address: '127.0.0.1', family: 4}])
    return {calls, r}
  }

  it.each(['256.0.0.1', '127.1.2.3.4', '127.0.0.01', '1.2.3', '999.999.999.999'])('%s is a malformed address, refused without a lookup', async host => {
    const {calls, r} = spy()
    await expect(resolveTargets([host], r)).rejects.toMatchObject({exitCode: 2, message: `invalid host "${host}": not a valid IP address`})
    expect(calls).toEqual([])
  })

  it.each([
    ['0.0.0.0', /"this network" space/],
    ['0.1.2.3', /"this network" space/],
    ['255.255.255.255', /broadcast/],
    ['224.0.0.1', /multicast/],
    ['239.255.255.250', /multicast/],
    ['ff02::1', /IPv6 multicast/],
    ['::', /unspecified/],
  ])('%s is no host: refused like scan refuses it', async (host, why) => {
    const {calls, r} = spy()
    const e = await resolveTargets([host], r).catch(x => x)
    expect(e).toMatchObject({exitCode: 2, hint: 'latency probes unicast host addresses only'})
    expect(e.message).toMatch(why)
    expect(calls).toEqual([])
  })

  it('a name that resolves to such an address is refused too', async () => {
    const sink: Resolver = async () => [{address: '0.0.0.0', family: 4}]
    await expect(resolveTargets(['ads.example'], sink)).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringMatching(/^cannot probe "ads.example" \(0\.0\.0\.0\)/),
    })
  })

  it('a CIDR up to a /24 becomes its hosts; a range its addresses; duplicates once', async () => {
    const {r} = spy()
    const t = await resolveTargets(['10.9.8.0/30', '10.9.8.1-3', '10.9.8.1'], r)
    expect(t.map(x => x.ip)).toEqual(['10.9.8.1', '10.9.8.2', '10.9.8.3'])
    expect((await resolveTargets(['10.9.8.0/24'], r)).length).toBe(254)
    expect((await resolveTargets(['fd00::/120'], r)).length).toBe(256)
    expect(await resolveTargets(['10.9.8.7/32'], r)).toEqual([{host: '10.9.8.7', ip: '10.9.8.7', family: 4}])
  })

  it('a CIDR above the cap is refused with the fix in the hint; so is a total above it', async () => {
    const {r} = spy()
    await expect(resolveTargets(['10.9.8.0/23'], r)).rejects.toMatchObject({
      exitCode: 2,
      message: '"10.9.8.0/23" has 510 addresses, more than latency probes in one run (256)',
      hint: expect.stringMatching(/give a \/24 or smaller \(e\.g\. 10\.9\.8\.0\/24\), or find the live hosts first with `netmon scan 10\.9\.8\.0\/23`/),
    })
    await expect(resolveTargets(['10.9.8.0/24', '10.9.9.0/24'], r)).rejects.toMatchObject({exitCode: 2, message: 'too many hosts (more than 256)'})
  })

  it('a link-local address with a zone still passes (scan takes no zones)', async () => {
    const {r} = spy()
    expect(await resolveTargets(['fe80::1%lo'], r)).toEqual([{host: 'fe80::1%lo', ip: 'fe80::1%lo', family: 6}])
  })
})

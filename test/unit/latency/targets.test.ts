/**
 * Latency targets (issue 6 acceptance 4: bad host names → exit 2): syntax checked before anything,
 * names resolved once through an injected resolver (no DNS traffic from the test), an unknown name
 * is bad input (exit 2), a resolver failure a network error (exit 1).
 */
import {describe, expect, it} from 'vitest'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {
  checkHosts,
  generateSpecs,
  MAX_TARGETS_LIMIT,
  parseTargetFile,
  readTargetFile,
  resolveTargets,
  type Resolver,
} from '../../../src/core/latency/targets.js'
import {tempStore} from '../../support/cli.js'

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

  it('a CIDR becomes its hosts; a range its addresses; duplicates once', async () => {
    const {r} = spy()
    const t = await resolveTargets(['10.9.8.0/30', '10.9.8.1-3', '10.9.8.1'], r)
    expect(t.map(x => x.ip)).toEqual(['10.9.8.1', '10.9.8.2', '10.9.8.3'])
    expect((await resolveTargets(['10.9.8.0/24'], r)).length).toBe(254)
    expect((await resolveTargets(['10.9.8.0/22'], r)).length).toBe(1022)
    expect((await resolveTargets(['fd00::/120'], r)).length).toBe(256)
    expect(await resolveTargets(['10.9.8.7/32'], r)).toEqual([{host: '10.9.8.7', ip: '10.9.8.7', family: 4}])
  })

  // fping -g (fping.c add_cidr): network and broadcast addresses are skipped for prefixes below /31.
  it.each([
    ['10.9.8.0/30', ['10.9.8.1', '10.9.8.2']],
    ['10.9.8.0/31', ['10.9.8.0', '10.9.8.1']],
    ['10.9.8.5/32', ['10.9.8.5']],
    ['10.9.8.6/29', ['10.9.8.1', '10.9.8.2', '10.9.8.3', '10.9.8.4', '10.9.8.5', '10.9.8.6']],
  ])('%s expands as fping -g does', async (cidr, ips) => {
    expect((await resolveTargets([cidr], spy().r)).map(t => t.ip)).toEqual(ips)
  })

  it('a range above the cap is refused before it is expanded, with the fix in the hint', async () => {
    const {r, calls} = spy()
    await expect(resolveTargets(['10.9.8.0/21'], r)).rejects.toMatchObject({
      exitCode: 2,
      message: '"10.9.8.0/21" has 2,046 addresses, more than the cap of 1,024 targets per run',
      hint: 'raise the cap with --max-targets 2046, give a smaller range such as 10.9.8.0/22, or find the live hosts first with `netmon scan`',
    })
    // A /8 would be 16 million strings if it were expanded first: refused at once, beyond any --max-targets.
    await expect(resolveTargets(['10.0.0.0/8', 'router.lan'], r)).rejects.toMatchObject({
      exitCode: 2,
      message: '"10.0.0.0/8" has 16,777,214 addresses, more than the cap of 1,024 targets per run',
      hint: 'give a smaller range such as 10.0.0.0/22 (--max-targets goes up to 65,536), or find the live hosts first with `netmon scan`',
    })
    await expect(resolveTargets(['fd00::/64'], r)).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringMatching(/^"fd00::\/64" has 18,446,744,073,709,551,616 addresses/),
    })
    expect(calls).toEqual([])
  })

  it('the cap counts distinct targets over all arguments; --max-targets raises it', async () => {
    const {r} = spy()
    // Overlapping CIDRs count once: 1,022 distinct hosts fit under the default cap.
    expect((await resolveTargets(['10.9.8.0/22', '10.9.8.0/24', '10.9.9.7'], r)).length).toBe(1022)
    await expect(resolveTargets(['10.9.8.0/22', '10.9.12.0/24'], r)).rejects.toMatchObject({
      exitCode: 2,
      message: '1,276 targets, more than the cap of 1,024 per run',
      hint: expect.stringMatching(/^raise the cap with --max-targets 1276, /),
    })
    expect((await resolveTargets(['10.9.8.0/22', '10.9.12.0/24'], r, {maxTargets: 1276})).length).toBe(1276)
    await expect(resolveTargets(['10.9.8.1', '10.9.8.2', '10.9.8.3'], r, {maxTargets: 2})).rejects.toMatchObject({
      message: '3 targets, more than the cap of 2 per run',
    })
    expect(checkHosts(['10.9.0.0/16'], {maxTargets: MAX_TARGETS_LIMIT})).toHaveLength(65_534)
  })

  it('a name and the address it resolves to stay two targets (labelled apart, as fping probes both)', async () => {
    const r: Resolver = async () => [{address: '10.9.8.1', family: 4}]
    expect(await resolveTargets(['10.9.8.1', 'router.lan', '10.9.8.2', '10.9.8.1'], r)).toEqual([
      {host: '10.9.8.1', ip: '10.9.8.1', family: 4},
      {host: 'router.lan', ip: '10.9.8.1', family: 4},
      {host: '10.9.8.2', ip: '10.9.8.2', family: 4},
    ])
  })

  it('a link-local address with a zone still passes (scan takes no zones)', async () => {
    const {r} = spy()
    expect(await resolveTargets(['fe80::1%lo'], r)).toEqual([{host: 'fe80::1%lo', ip: 'fe80::1%lo', family: 6}])
  })
})

describe('fping -g: generateSpecs', () => {
  it('one CIDR, or START END (both included)', () => {
    expect(generateSpecs(['10.9.8.0/24'])).toEqual(['10.9.8.0/24'])
    expect(generateSpecs(['10.9.8.250', '10.9.9.2'])).toEqual(['10.9.8.250-10.9.9.2'])
    expect(checkHosts(generateSpecs(['10.9.8.254', '10.9.9.1'])).map(h => h.ip)).toEqual(['10.9.8.254', '10.9.8.255', '10.9.9.0', '10.9.9.1'])
    expect(generateSpecs(['fd00::1', 'fd00::3'])).toEqual(['fd00::1-fd00::3'])
  })

  it.each([
    [[], /-g takes one CIDR or two addresses, got 0 arguments/],
    [['10.9.8.1'], /-g 10\.9\.8\.1: not a CIDR/],
    [['a', 'b', 'c'], /got 3 arguments/],
    [['10.9.8.9', '10.9.8.1'], /the range ends before it starts/],
    [['10.9.8.1', 'fd00::1'], /mixes IPv4 and IPv6/],
    [['router.lan', '10.9.8.1'], /-g start "router\.lan" is not an IP address/],
    [['10.9.8.1', '10.9.8.256'], /-g end "10\.9\.8\.256" is not an IP address/],
    [['10.9.8.0/24', '10.9.9.0/24'], /give one CIDR, or a start and an end address/],
  ])('%j is refused (exit 2)', (args, why) => {
    let err: any
    try {
      generateSpecs(args)
    } catch (e) {
      err = e
    }
    expect(err).toMatchObject({exitCode: 2})
    expect(err.message).toMatch(why)
  })
})

describe('fping -f: target files', () => {
  it('one target per line (its first word), # comments, blank lines, CRLF, a BOM', () => {
    const text = '\uFEFF# office\r\n10.9.8.1 router\r\n\n   # indented comment\n  10.9.8.2\t# printer\n10.9.8.0/30\nnas.lan#x\n\n'
    expect(parseTargetFile(text)).toEqual(['10.9.8.1', '10.9.8.2', '10.9.8.0/30', 'nas.lan'])
  })

  it('-f - reads standard input; an unreadable or empty file is bad input', async () => {
    expect(await readTargetFile('-', async () => '10.9.8.3\n')).toEqual(['10.9.8.3'])
    const tmp = tempStore('netmon-latency-targets-')
    try {
      const f = join(tmp.dir, 'hosts.txt')
      writeFileSync(f, '# nothing here\n\n')
      await expect(readTargetFile(f)).rejects.toMatchObject({exitCode: 2, message: `-f ${f} names no target`})
      await expect(readTargetFile('-', async () => '')).rejects.toMatchObject({exitCode: 2, message: '-f - (standard input) names no target'})
      await expect(readTargetFile(join(tmp.dir, 'missing.txt'))).rejects.toMatchObject({
        exitCode: 2,
        message: expect.stringMatching(/cannot read it \(ENOENT\)/),
      })
    } finally {
      tmp.cleanup()
    }
  })
})

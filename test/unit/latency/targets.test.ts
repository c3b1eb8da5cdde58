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

/**
 * The start-up rule of `netmon serve` (issue 10, acceptance 4): loopback needs nothing, any other
 * address needs a token from --token-env, decided before anything is bound.
 */
import {describe, expect, it} from 'vitest'
import {NetmonError} from '../../../src/core/errors.js'
import {isLoopbackHost, resolveServeOptions} from '../../../src/core/serve/options.js'

const TOKEN = 'x'.repeat(32)

describe('isLoopbackHost', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['localhost', true],
    ['LOCALHOST', true],
    ['::1', true],
    ['[::1]', true],
    ['0:0:0:0:0:0:0:1', true],
    ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false],
    ['::', false],
    ['192.168.1.5', false],
    ['10.0.0.1', false],
    ['::ffff:10.0.0.1', false],
    ['fe80::1', false],
    ['128.0.0.1', false],
    ['localhost.example.com', false],
    ['myhost', false],
  ])('%s → %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected)
  })
})

function failure(fn: () => unknown): NetmonError {
  try {
    fn()
  } catch (e) {
    if (e instanceof NetmonError) return e
    throw e
  }
  throw new Error('expected a NetmonError')
}

describe('resolveServeOptions', () => {
  it('loopback without a token is fine and has no token', () => {
    const o = resolveServeOptions({host: '127.0.0.1', port: 8080}, {})
    expect(o).toMatchObject({host: '127.0.0.1', port: 8080, token: null, loopback: true})
  })

  it.each(['0.0.0.0', '::', '192.168.1.5', 'netmon.lan'])('refuses %s without a token (exit 2, says why and how)', host => {
    const e = failure(() => resolveServeOptions({host, port: 8080}, {}))
    expect(e.exitCode).toBe(2)
    expect(e.message).toContain('not a loopback address')
    expect(e.hint).toContain('--token-env')
  })

  it('accepts a non-loopback host with a token from the environment', () => {
    const o = resolveServeOptions({host: '0.0.0.0', port: 0, tokenEnv: 'MY_TOKEN'}, {MY_TOKEN: ` ${TOKEN} `})
    expect(o).toMatchObject({host: '0.0.0.0', port: 0, token: TOKEN, tokenSource: '$MY_TOKEN', loopback: false})
  })

  it('a named but unset or empty variable is an error, not "no token"', () => {
    for (const env of [{}, {T: ''}, {T: '   '}]) {
      const e = failure(() => resolveServeOptions({host: '0.0.0.0', port: 1, tokenEnv: 'T'}, env))
      expect(e.exitCode).toBe(2)
      expect(e.message).toContain('--token-env T')
    }
  })

  it('rejects short tokens, bad variable names, ports and hosts', () => {
    expect(failure(() => resolveServeOptions({host: '127.0.0.1', port: 1, tokenEnv: 'T'}, {T: 'short'})).message).toContain('shorter than 16')
    expect(failure(() => resolveServeOptions({host: '127.0.0.1', port: 1, tokenEnv: 'not a name'}, {})).message).toContain('environment variable name')
    expect(failure(() => resolveServeOptions({host: '127.0.0.1', port: 70000}, {})).message).toContain('0-65535')
    expect(failure(() => resolveServeOptions({host: '127.0.0.1', port: -1}, {})).exitCode).toBe(2)
    expect(failure(() => resolveServeOptions({host: 'bad host!', port: 1}, {})).exitCode).toBe(2)
    expect(failure(() => resolveServeOptions({host: '', port: 1}, {})).exitCode).toBe(2)
  })
})

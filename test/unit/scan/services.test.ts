import {describe, expect, it} from 'vitest'
import {DISCOVERY_PORTS, parsePorts, parseServices, serviceName, TOP100, TOP1000} from '../../../src/core/scan/services.js'

describe('port lists', () => {
  it('top100 and top1000 are that many distinct valid ports, top100 first', () => {
    expect(TOP100).toHaveLength(100)
    expect(new Set(TOP100).size).toBe(100)
    expect(TOP1000).toHaveLength(1000)
    expect(new Set(TOP1000).size).toBe(1000)
    expect(TOP1000.slice(0, 100)).toEqual(TOP100)
    for (const p of TOP1000) expect(p >= 1 && p <= 65535).toBe(true)
    for (const p of [22, 80, 443, 445, 3389, 1883, 8080]) expect(TOP100).toContain(p)
    for (const p of DISCOVERY_PORTS) expect(TOP100).toContain(p)
  })

  it('parsePorts: lists, ranges, keywords mixed, sorted and unique', () => {
    expect(parsePorts('80,22,80,8000-8002')).toEqual([22, 80, 8000, 8001, 8002])
    expect(parsePorts(' 443 ')).toEqual([443])
    expect(parsePorts('all')).toHaveLength(65535)
    expect(parsePorts('top100')).toEqual([...TOP100].sort((a, b) => a - b))
    const mixed = parsePorts('top100,31337')
    expect(mixed).toHaveLength(101)
    expect(mixed).toContain(31337)
  })

  it.each([
    ['', /--ports is empty/],
    ['0', /outside 1–65535/],
    ['65536', /outside 1–65535/],
    ['90-80', /ends before it starts/],
    ['http', /not a port or range/],
    ['22,,80', /not a port or range/],
    ['1-', /not a port or range/],
  ])('parsePorts rejects %j with exit 2', (spec, re) => {
    expect(() => parsePorts(spec)).toThrow(re)
    try {
      parsePorts(spec)
    } catch (e) {
      expect((e as {exitCode: number}).exitCode).toBe(2)
    }
  })
})

describe('service names', () => {
  it("netmon's own table names the common ports", () => {
    expect(serviceName(22)).toBe('ssh')
    expect(serviceName(443)).toBe('https')
    expect(serviceName(1883)).toBe('mqtt')
    expect(serviceName(4059)).toBe('dlms-cosem')
  })
  it('/etc/services format: first tcp name per port, comments and udp ignored', () => {
    const m = parseServices(`# comment
echo 7/tcp
echo 7/udp
foo 7777/udp
bar 7777/tcp barish # alias
baz 7777/tcp
`)
    expect(m.get(7)).toBe('echo')
    expect(m.get(7777)).toBe('bar')
    expect(m.size).toBe(2)
  })
})

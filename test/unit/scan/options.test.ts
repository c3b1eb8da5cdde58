import {describe, expect, it} from 'vitest'
import {buildScanRequest, parseMethods, type ScanFlags} from '../../../src/core/scan/options.js'
import {parseDnsServers} from '../../../src/core/scan/index.js'

const base: ScanFlags = {
  method: 'all',
  timeout: '1s',
  retries: 1,
  concurrency: 256,
  'port-timeout': '1s',
  'max-sockets': 4096,
  banners: false,
  'banner-timeout': '1s',
  rdns: true,
  'dns-timeout': '500ms',
  register: false,
  'allow-public': false,
  force: false,
}

describe('scan flags → request', () => {
  it('defaults; no targets means the local subnets; comma lists split', () => {
    const r = buildScanRequest([], base)
    expect(r).toMatchObject({targets: null, methods: ['neighbor', 'tcp', 'icmp'], timeoutMs: 1000, retries: 1, ports: null, rdnsTimeoutMs: 500})
    expect(buildScanRequest(['10.0.0.1,10.0.0.2', '10.0.0.9'], base).targets).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.9'])
  })
  it('an empty target is an error, not "scan the default subnets"', () => {
    expect(() => buildScanRequest([''], base)).toThrow(/a target is empty/)
  })
  it('methods: known names only, order normalised', () => {
    expect(parseMethods('icmp,tcp')).toEqual(['tcp', 'icmp'])
    expect(() => parseMethods('arp')).toThrow(/unknown method "arp"/)
    expect(() => parseMethods(',')).toThrow(/names no method/)
  })
  it.each([
    [{retries: -1}, /retries: must be 0–10/],
    [{concurrency: 0}, /concurrency: must be 1–4096/],
    [{'max-sockets': 100000}, /max-sockets: must be 1–16384/],
    [{timeout: 'soon'}, /invalid --timeout "soon"/],
    [{timeout: '10ms'}, /--timeout 10ms is out of range/],
    [{'port-timeout': '2h'}, /out of range/],
  ])('rejects %j', (patch, re) => {
    expect(() => buildScanRequest(['10.0.0.1'], {...base, ...(patch as Partial<ScanFlags>)})).toThrow(re)
  })
  it('--dns-server takes address[:port]', () => {
    expect(parseDnsServers(['127.0.0.1:5353', '10.0.0.1', '[::1]:53'])).toEqual(['127.0.0.1:5353', '10.0.0.1', '[::1]:53'])
    expect(() => parseDnsServers(['dns.example'])).toThrow(/not an address\[:port\]/)
    expect(() => parseDnsServers(['127.0.0.1:99999'])).toThrow(/not an address/)
  })
})

/**
 * IP conflicts (issue 13): iputils arping's reply lines → the distinct MACs for one address, and
 * which found hosts the check asks (only on-link IPv4, never this machine).
 */
import {describe, expect, it} from 'vitest'
import {checkConflicts, parseArpingReplies} from '../../../src/core/scan/conflict.js'
import type {HostResult} from '../../../src/core/scan/types.js'

const DUP = `ARPING 10.0.0.5 from 10.0.0.1 eth0
Unicast reply from 10.0.0.5 [02:4E:4D:00:04:02]  1.293ms
Unicast reply from 10.0.0.5 [02:4e:4d:00:04:01]  1.321ms
Unicast reply from 10.0.0.5 [02:4E:4D:00:04:02]  0.610ms
Sent 2 probes (1 broadcast(s))
Received 3 response(s)
`

function host(ip: string, extra: Partial<HostResult> = {}): HostResult {
  return {ip, mac: null, mac_kind: null, vendor: null, hostname: null, found_by: ['tcp'], rtt_ms: 1, interface: null, self: false, seen_ms: 0, ...extra}
}

describe('parseArpingReplies', () => {
  it('every distinct MAC that replied for the address, normalised and sorted', () => {
    expect(parseArpingReplies(DUP, '10.0.0.5')).toEqual(['02:4E:4D:00:04:01', '02:4E:4D:00:04:02'])
  })
  it('one replier, no reply, or replies for another address: fewer than two MACs', () => {
    expect(parseArpingReplies('Unicast reply from 10.0.0.6 [02:4E:4D:00:04:03]  0.5ms\n', '10.0.0.6')).toEqual(['02:4E:4D:00:04:03'])
    expect(parseArpingReplies('ARPING 10.0.0.7 from 10.0.0.1 eth0\nSent 2 probes (2 broadcast(s))\nReceived 0 response(s)\n', '10.0.0.7')).toEqual([])
    expect(parseArpingReplies(DUP, '10.0.0.50')).toEqual([])
  })
})

describe('checkConflicts', () => {
  it('asks no one when no found host is on-link IPv4 (this machine, IPv6, off-link): no arping, no warning', async () => {
    const hosts = [host('10.0.0.1', {self: true, interface: 'eth0'}), host('fd00::5', {interface: 'eth0'}), host('192.0.2.9')]
    const r = await checkConflicts(hosts, {linkOf: () => null, arping: '/nonexistent/arping'})
    expect(r).toEqual({conflicts: [], warnings: [], checked: 0})
  })
  it('an on-link host without arping installed: skipped with a stated warning', async () => {
    const r = await checkConflicts([host('10.0.0.5', {interface: 'eth0'})], {linkOf: () => null, arping: null})
    expect(r.conflicts).toEqual([])
    expect(r.warnings).toEqual([expect.stringMatching(/arping \(Debian package iputils-arping\) is not installed; skipped/)])
  })
})

import {describe, expect, it} from 'vitest'
import {parseFpingLine, parsePingReply} from '../../../src/core/scan/icmp.js'
import {isComplete, isConfirmed, parseIpNeighJson, parseProcArp} from '../../../src/core/scan/neighbor.js'

describe('neighbor table parsers', () => {
  it('ip -j neigh show (captured from iproute2 6.1)', () => {
    const text = `[{"dst":"10.77.0.10","dev":"nmtbr","lladdr":"b8:27:eb:00:00:01","state":["REACHABLE"]},{"dst":"10.77.0.99","dev":"nmtbr","state":["FAILED"]},{"dst":"10.77.0.14","dev":"nmtbr","lladdr":"dc:a6:32:00:00:04","state":["STALE"]},{"dst":"fe80::1","dev":"eth0","lladdr":"00:11:22:33:44:55","router":null,"state":["DELAY"]},{"dst":"10.77.0.12","dev":"nmtbr","state":["INCOMPLETE"]}]`
    const e = parseIpNeighJson(text)
    expect(e.map(x => [x.ip, x.mac, x.state[0]])).toEqual([
      ['10.77.0.10', 'B8:27:EB:00:00:01', 'REACHABLE'],
      ['10.77.0.99', null, 'FAILED'],
      ['10.77.0.14', 'DC:A6:32:00:00:04', 'STALE'],
      ['fe80::1', '00:11:22:33:44:55', 'DELAY'],
      ['10.77.0.12', null, 'INCOMPLETE'],
    ])
    expect(e.map(isComplete)).toEqual([true, false, true, true, false])
    // Only REACHABLE vouches for a host when the entry may predate the scan.
    expect(e.map(isConfirmed)).toEqual([true, false, false, false, false])
    expect(parseIpNeighJson('')).toEqual([])
  })

  it('/proc/net/arp: flags 0x2 complete, 0x0 incomplete, 0x6 permanent', () => {
    const text = `IP address       HW type     Flags       HW address            Mask     Device
10.77.0.10       0x1         0x2         b8:27:eb:00:00:01     *        nmtbr
10.77.0.99       0x1         0x0         00:00:00:00:00:00     *        nmtbr
192.168.1.1      0x1         0x6         00:11:22:33:44:55     *        eth0
`
    const e = parseProcArp(text)
    expect(e.map(x => [x.ip, x.mac, x.dev, x.state[0]])).toEqual([
      ['10.77.0.10', 'B8:27:EB:00:00:01', 'nmtbr', 'COMPLETE'],
      ['10.77.0.99', '00:00:00:00:00:00', 'nmtbr', 'INCOMPLETE'],
      ['192.168.1.1', '00:11:22:33:44:55', 'eth0', 'PERMANENT'],
    ])
    expect(e.map(isComplete)).toEqual([true, false, true])
    expect(isConfirmed(e[2]!)).toBe(true)
  })
})

describe('ICMP tool output', () => {
  it('fping -e lines', () => {
    expect(parseFpingLine('10.77.0.10 is alive (0.05 ms)')).toEqual({ip: '10.77.0.10', alive: true, rttMs: 0.05})
    expect(parseFpingLine('::1 is alive (0.037 ms)')).toEqual({ip: '::1', alive: true, rttMs: 0.037})
    expect(parseFpingLine('10.77.0.99 is unreachable')).toEqual({ip: '10.77.0.99', alive: false, rttMs: null})
    expect(parseFpingLine('ICMP Host Unreachable from 10.77.0.1 for ICMP Echo sent to 10.77.0.99')).toBeNull()
  })
  it('iputils ping reply', () => {
    expect(parsePingReply('64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.045 ms\n')).toBe(0.045)
    // A line still being written is not read yet (its number could be cut short).
    expect(parsePingReply('PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.\n64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.0')).toBeNull()
    expect(parsePingReply('64 Bytes von 10.0.0.1: icmp_seq=1 ttl=64 Zeit=0,250 ms\n')).toBe(0.25)
    expect(parsePingReply('64 bytes from 10.0.0.1: icmp_seq=1 ttl=64 time<1 ms\n')).toBe(0.5) // below the clock: half the bound, as netmon latency reads it
    expect(parsePingReply('From 10.0.0.1 icmp_seq=1 Destination Host Unreachable\n')).toBeNull()
    expect(parsePingReply('PING 10.0.0.9 (10.0.0.9) 56(84) bytes of data.\n')).toBeNull()
  })
})

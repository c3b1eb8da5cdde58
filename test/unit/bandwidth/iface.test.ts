/** /proc/net/dev parsing and how interfaces are keyed (loopback has MAC 00:00:00:00:00:00). */
import {describe, expect, it} from 'vitest'
import {keyInterfaces, parseBootTime, parseLinkSpeed, parseProcNetDev, syntheticMac} from '../../../src/core/bandwidth/iface.js'
import {isLocallyAdministered, isMulticast} from '../../../src/core/devices/mac.js'

const SAMPLE = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 249473247 4305475    0    0    0     0          0         0 249473247 4305475    0    0    0     0       0          0
  eth0: 18446744073709551615   13726    0    0    0     0          0         0  1369967    9207    0    0    0     0       0          0
wlan0:1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16
`

describe('parseProcNetDev', () => {
  it('reads rx bytes (field 1) and tx bytes (field 9) exactly, including 64-bit values', () => {
    expect(parseProcNetDev(SAMPLE).map(r => ({name: r.name, rxBytes: r.rxBytes, txBytes: r.txBytes}))).toEqual([
      {name: 'lo', rxBytes: 249473247n, txBytes: 249473247n},
      {name: 'eth0', rxBytes: 18446744073709551615n, txBytes: 1369967n},
      {name: 'wlan0', rxBytes: 1n, txBytes: 9n},
    ])
    // The same rows carry packets, errs and drop each way (the one parser, collect/procnetdev.ts).
    expect(parseProcNetDev(SAMPLE)[2]).toMatchObject({rxPackets: 2n, rxErrors: 3n, rxDrops: 4n, txPackets: 10n, txErrors: 11n, txDrops: 12n})
  })
})

describe('keyInterfaces', () => {
  const meta = (m: Record<string, string | null>) => (name: string) => ({mac: m[name] ?? null, ip: null, loopback: name === 'lo'})
  it('keys by MAC, and gives loopback, MAC-less and MAC-sharing interfaces a stable synthetic MAC', () => {
    const rows = ['lo', 'eth0', 'tun0', 'br0', 'veth1'].map(name => ({name, rx: 1n, tx: 2n}))
    const k = keyInterfaces(rows, meta({lo: '00:00:00:00:00:00', eth0: '02:FC:00:00:00:01', br0: '12:7D:1A:1B:2B:EB', veth1: '12:7D:1A:1B:2B:EB'}), 'hostA', 5)
    expect(k.map(x => [x.name, x.synthetic_mac])).toEqual([
      ['lo', true],
      ['eth0', false],
      ['tun0', true],
      ['br0', true],
      ['veth1', true],
    ])
    expect(k[1]!.mac).toBe('02:FC:00:00:00:01')
    expect(k[0]!.mac).toBe(syntheticMac('hostA', 'lo'))
    expect(new Set(k.map(x => x.mac)).size).toBe(5)
  })
  it('synthetic MACs are unicast, locally administered, stable per host and name', () => {
    const a = syntheticMac('hostA', 'lo')
    expect(a).toMatch(/^([0-9A-F]{2}:){5}[0-9A-F]{2}$/)
    expect(isLocallyAdministered(a)).toBe(true)
    expect(isMulticast(a)).toBe(false)
    expect(syntheticMac('hostA', 'lo')).toBe(a)
    expect(syntheticMac('hostB', 'lo')).not.toBe(a)
    expect(syntheticMac('hostA', 'lo0')).not.toBe(a)
  })
})

describe('link speed and boot time (counter wrap rules, issue 13)', () => {
  it('reads /sys/class/net/NAME/speed in Mbit/s; unknown speeds are null', () => {
    expect(parseLinkSpeed('1000\n')).toBe(1e9)
    expect(parseLinkSpeed('10000')).toBe(1e10)
    expect(parseLinkSpeed('-1\n')).toBeNull()
    expect(parseLinkSpeed('65535')).toBeNull()
    expect(parseLinkSpeed('4294967295')).toBeNull()
    expect(parseLinkSpeed('0')).toBeNull()
    expect(parseLinkSpeed('')).toBeNull()
  })
  it("reads /proc/stat's btime as epoch ms", () => {
    expect(parseBootTime('cpu  1 2 3\nintr 5\nbtime 1795000000\nprocesses 12\n')).toBe(1_795_000_000_000)
    expect(parseBootTime('cpu 1 2 3\n')).toBeNull()
  })
  it('keyInterfaces carries each link speed and the boot time', () => {
    const k = keyInterfaces([{name: 'eth0', rx: 1n, tx: 2n}], () => ({mac: '02:FC:00:00:00:01', ip: null, loopback: false, linkSpeedBps: 1e9}), 'h', 5, 1000)
    expect(k[0]).toMatchObject({link_speed_bps: 1e9, boot_time_ms: 1000})
  })
})

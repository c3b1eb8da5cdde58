/** The one /proc/net/dev parser (issue 14): bytes, packets, errs and drop each way, exactly. */
import {describe, expect, it} from 'vitest'
import {fromSystemInformation, parseProcNetDev} from '../../../src/core/collect/procnetdev.js'
import {ifCountersOf, procNetDevCounters} from '../../../src/core/netstats/index.js'

// Recorded on this project's test machine (kernel 6.18): a veth that sent while its peer was down
// (tx drop 9) and received pings larger than its MTU (rx drop 12), as the netns test does.
const RECORDED = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
nmtexpa:    1020      12    0   12    0     0          0         0      754       9    0    9    0     0       0          0
`
// A Wi-Fi link with receive errors and a 64-bit byte counter past 2^53, plus lines that are not rows.
const SYNTHETIC = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
 wlan0: 18446744073709551615 3902811  417   35    0   417          0     12088 9007199254740993 1983221    3    7    0     0       0          0
eth1:1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16
 short: 1 2 3 4 5 6 7 8 9 10 11
garbage line
`

describe('parseProcNetDev', () => {
  it('reads errs and drop each way from a recorded sample', () => {
    expect(parseProcNetDev(RECORDED)).toEqual([
      {name: 'lo', rxBytes: 0n, rxPackets: 0n, rxErrors: 0n, rxDrops: 0n, txBytes: 0n, txPackets: 0n, txErrors: 0n, txDrops: 0n},
      {name: 'nmtexpa', rxBytes: 1020n, rxPackets: 12n, rxErrors: 0n, rxDrops: 12n, txBytes: 754n, txPackets: 9n, txErrors: 0n, txDrops: 9n},
    ])
  })

  it('keeps 64-bit byte counters exact, reads every column in place, skips what is not a row', () => {
    const rows = parseProcNetDev(SYNTHETIC)
    expect(rows.map(r => r.name)).toEqual(['wlan0', 'eth1'])
    expect(rows[0]).toEqual({
      name: 'wlan0',
      rxBytes: 18446744073709551615n,
      rxPackets: 3902811n,
      rxErrors: 417n,
      rxDrops: 35n,
      txBytes: 9007199254740993n,
      txPackets: 1983221n,
      txErrors: 3n,
      txDrops: 7n,
    })
    expect(rows[1]).toMatchObject({rxBytes: 1n, rxPackets: 2n, rxErrors: 3n, rxDrops: 4n, txBytes: 9n, txPackets: 10n, txErrors: 11n, txDrops: 12n})
  })

  it('feeds the bridge sampler the same numbers (one parser)', () => {
    expect(procNetDevCounters(RECORDED).get('nmtexpa')).toEqual({
      rxBytes: 1020,
      rxPackets: 12,
      txBytes: 754,
      txPackets: 9,
      rxErrors: 0,
      rxDrops: 12,
      txErrors: 0,
      txDrops: 9,
    })
  })

  it('systeminformation rows (other platforms) fill what they have', () => {
    const r = fromSystemInformation({iface: 'en0', rx_bytes: 5000, tx_bytes: 7000, rx_errors: 2, tx_errors: 0, rx_dropped: 4, tx_dropped: 1})
    expect(r).toEqual({name: 'en0', rxBytes: 5000n, rxPackets: 0n, rxErrors: 2n, rxDrops: 4n, txBytes: 7000n, txPackets: 0n, txErrors: 0n, txDrops: 1n})
    // Missing or negative (systeminformation's "unknown") values read as 0.
    expect(fromSystemInformation({iface: 'x', rx_bytes: -1, tx_bytes: 3}).rxErrors).toBe(0n)
    expect(ifCountersOf([r]).get('en0')).toMatchObject({rxDrops: 4, txDrops: 1})
  })
})

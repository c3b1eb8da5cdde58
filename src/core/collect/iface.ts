/**
 * This machine's interfaces as a counter source (bandwidth/iface.ts reads them). Loopback is left
 * out unless named. Keyed by each interface's MAC (synthetic where it has none, iface.ts).
 */
import {platformCounterBits, readInterfaces, type InterfaceReading} from '../bandwidth/iface.js'
import type {CounterReadingIn, CounterSource} from './source.js'

export function interfaceReadings(list: InterfaceReading[]): CounterReadingIn[] {
  return list.map(r => ({
    key: {mac: r.mac},
    ts: r.ts,
    counters: {
      bytesSent: r.tx_bytes,
      bytesReceived: r.rx_bytes,
      ...(r.tx_packets === null ? {} : {packetsSent: r.tx_packets}),
      ...(r.rx_packets === null ? {} : {packetsReceived: r.rx_packets}),
      errorsSent: r.tx_errors,
      errorsReceived: r.rx_errors,
      dropsSent: r.tx_drops,
      dropsReceived: r.rx_drops,
    },
    ip: r.ip,
    label: r.name,
    counterId: `iface:${r.name}`,
    linkSpeedBps: r.link_speed_bps,
    bootTimeMs: r.boot_time_ms,
  }))
}

export interface IfaceSource extends CounterSource {
  /** The raw readings of the last read (shown by `bandwidth sample --json`). */
  last(): InterfaceReading[]
}

/** `name`: exactly that interface (exit 2 naming the available ones if missing); else all but loopback. */
export function ifaceSource(name?: string): IfaceSource {
  let last: InterfaceReading[] = []
  return {
    name: name ? `iface:${name}` : 'iface',
    kind: 'iface',
    bits: platformCounterBits(),
    last: () => last,
    async read() {
      last = await readInterfaces(name)
      return interfaceReadings(last)
    },
  }
}

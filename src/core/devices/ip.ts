import {isIP} from 'node:net'
import ipaddr from 'ipaddr.js'
import {invalidInput} from '../errors.js'

/**
 * Validates an IPv4/IPv6 address and returns it in canonical text form, so one address is one
 * string in the store: IPv4 dotted decimal; IPv6 as RFC 5952 (lower case, zeros compressed, so
 * `2001:DB8::0:1` and `2001:db8:0:0:0:0:0:1` are both `2001:db8::1`), IPv4-mapped as
 * `::ffff:192.0.2.1`, a zone kept (`fe80::1%eth0`).
 */
export function normalizeIp(text: string): string {
  const s = text.trim()
  const v = isIP(s)
  if (v === 4) return s.split('.').map((o) => String(Number(o))).join('.')
  if (v === 6) {
    const a = ipaddr.IPv6.parse(s)
    return a.isIPv4MappedAddress() ? `::ffff:${a.toIPv4Address().toString()}${a.zoneId ? `%${a.zoneId}` : ''}` : a.toRFC5952String()
  }
  throw invalidInput(`malformed IP address "${text}"`, 'use an IPv4 (192.0.2.10) or IPv6 (2001:db8::10) address')
}

export function ipVersion(text: string): 0 | 4 | 6 {
  return isIP(text.trim()) as 0 | 4 | 6
}

import {isIP} from 'node:net'
import {invalidInput} from '../errors.js'

/**
 * Validates an IPv4/IPv6 address and returns it in canonical text form, so one address is one
 * string in the store: IPv4 dotted decimal; IPv6 in the RFC 5952 form (lower case, the longest
 * zero run compressed: `2001:DB8::0:1` and `2001:db8:0:0:0:0:0:1` are both `2001:db8::1`; an
 * embedded dotted quad such as `::192.0.2.1` becomes hex, `::c000:201`); an IPv4-mapped address
 * (`::ffff:192.0.2.1`) is that IPv4 host, stored as `192.0.2.1`, as the scanner sees it; a zone is
 * kept (`fe80::1%eth0`).
 */
export function normalizeIp(text: string): string {
  const s = text.trim()
  const v = isIP(s)
  if (v === 4)
    return s
      .split('.')
      .map(o => String(Number(o)))
      .join('.')
  if (v === 6) {
    const pct = s.indexOf('%')
    const zone = pct >= 0 ? s.slice(pct) : ''
    // The WHATWG URL serializer implements RFC 5952's canonical IPv6 text.
    const canon = new URL(`http://[${pct >= 0 ? s.slice(0, pct) : s}]`).hostname.slice(1, -1)
    const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canon)
    if (mapped && !zone) {
      const hi = parseInt(mapped[1]!, 16)
      const lo = parseInt(mapped[2]!, 16)
      return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.')
    }
    return canon + zone
  }
  throw invalidInput(`malformed IP address "${text}"`, 'use an IPv4 (192.0.2.10) or IPv6 (2001:db8::10) address')
}

export function ipVersion(text: string): 0 | 4 | 6 {
  return isIP(text.trim()) as 0 | 4 | 6
}

import {isIP} from 'node:net'
import {invalidInput} from '../errors.js'

/** Validates an IPv4/IPv6 address and returns it in canonical text form (IPv6 lower-case). */
export function normalizeIp(text: string): string {
  const s = text.trim()
  const v = isIP(s)
  if (v === 4) return s.split('.').map((o) => String(Number(o))).join('.')
  if (v === 6) return s.toLowerCase()
  throw invalidInput(`malformed IP address "${text}"`, 'use an IPv4 (192.0.2.10) or IPv6 (2001:db8::10) address')
}

export function ipVersion(text: string): 0 | 4 | 6 {
  return isIP(text.trim()) as 0 | 4 | 6
}

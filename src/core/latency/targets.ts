/**
 * Latency targets: what the user typed (an IP or a host name), checked and resolved ONCE before
 * any probe, so a typo fails the whole command with exit 2 before anything is sent or stored.
 */
import {lookup} from 'node:dns/promises'
import {NetmonError, invalidInput} from '../errors.js'
import {ipVersion, normalizeIp} from '../devices/ip.js'

export interface Target {
  /** As the user typed it (the label in tables and the `host` column). */
  host: string
  /** The address probed: canonical text form. */
  ip: string
  family: 4 | 6
}

/** The most hosts one command probes: each ICMP host is one `ping` process. */
export const MAX_HOSTS = 256

// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens, ≤ 63 chars each,
// ≤ 253 in all, optional final dot. Rejects option-looking text ("-f") and shell junk early.
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i

export function isHostName(text: string): boolean {
  const s = text.endsWith('.') ? text.slice(0, -1) : text
  if (s.length === 0 || s.length > 253) return false
  return s.split('.').every(l => LABEL.test(l))
}

/** Checks every HOST argument (syntax only, no network). Throws exit-2 errors naming the bad one. */
export function checkHosts(hosts: readonly string[]): string[] {
  if (hosts.length === 0) throw invalidInput('no host given', 'name at least one host: netmon latency 192.0.2.10 router.lan')
  const out: string[] = []
  const seen = new Set<string>()
  for (const raw of hosts) {
    const h = raw.trim()
    if (!ipVersion(h) && !isHostName(h)) {
      throw invalidInput(`invalid host "${raw}"`, 'give an IPv4/IPv6 address or a host name (letters, digits, hyphens and dots)')
    }
    if (seen.has(h.toLowerCase())) continue
    seen.add(h.toLowerCase())
    out.push(h)
  }
  if (out.length > MAX_HOSTS) throw invalidInput(`too many hosts (${out.length})`, `probe at most ${MAX_HOSTS} hosts per run`)
  return out
}

export type Resolver = (name: string) => Promise<{address: string; family: number}[]>

const systemResolver: Resolver = name => lookup(name, {all: true})

/**
 * Resolves names once (IPv4 preferred: the device inventory is keyed by IPv4 addresses).
 * An unknown name is bad input (exit 2); a resolver failure is a network error (exit 1).
 */
export async function resolveTargets(hosts: readonly string[], resolver: Resolver = systemResolver): Promise<Target[]> {
  const checked = checkHosts(hosts)
  return Promise.all(
    checked.map(async (host): Promise<Target> => {
      const v = ipVersion(host)
      if (v) return {host, ip: normalizeIp(host), family: v}
      let addrs: {address: string; family: number}[]
      try {
        addrs = await resolver(host)
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? ''
        if (code === 'ENOTFOUND' || code === 'ENODATA' || code === 'EAI_NONAME') {
          throw invalidInput(`cannot resolve host "${host}" (${code})`, 'check the name, or give its IP address')
        }
        throw new NetmonError('network', `resolving "${host}" failed (${code || String(e)})`, {hint: 'check the DNS resolver, or give the IP address'})
      }
      const pick = addrs.find(a => a.family === 4) ?? addrs[0]
      if (!pick) throw invalidInput(`cannot resolve host "${host}" (no address)`, 'check the name, or give its IP address')
      return {host, ip: normalizeIp(pick.address), family: pick.family === 6 ? 6 : 4}
    }),
  )
}

/**
 * Latency targets: what the user typed (an IP or a host name), checked and resolved ONCE before
 * any probe, so a typo fails the whole command with exit 2 before anything is sent or stored.
 */
import {lookup} from 'node:dns/promises'
import {NetmonError, invalidInput, isNetmonError} from '../errors.js'
import {ipVersion, normalizeIp} from '../devices/ip.js'
import {bigToIp, checkRanges, expandRanges, parseIpLiteral, parseTarget, type ParsedTarget, type TargetRange} from '../scan/targets.js'

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

const HOST_HINT = 'give an IPv4/IPv6 address, a CIDR of up to 256 addresses (192.168.1.0/24), a range (192.168.1.1-20) or a host name'

/** One HOST argument after the syntax check: addresses to probe, or a name still to resolve. */
export type HostSpec = {host: string; ip: string; family: 4 | 6; name?: undefined} | {host: string; name: string; ip?: undefined}

/** Scan's checks of address classes (multicast, broadcast, 0.0.0.0/8 …): what scan refuses, latency refuses. */
function checkClass(range: TargetRange, label: string): void {
  try {
    // Public space is fair game for a latency probe (one host the user named), so only the classes.
    checkRanges([range], {allowPublic: true, force: true})
  } catch (e) {
    if (!isNetmonError(e)) throw e
    throw invalidInput(`cannot probe ${label}: it ${e.message.replace(/^target \S+ /, '')}`, 'latency probes unicast host addresses only')
  }
}

/**
 * Checks every HOST argument (syntax only, no network) with scan's target parser, so an address
 * that is malformed (256.0.0.1, 127.0.0.01, 127.1.2.3.4) is refused as such instead of being
 * looked up as a name. A CIDR or range becomes its addresses, up to MAX_HOSTS in all (a /24: the
 * network and broadcast addresses are not hosts). Throws exit-2 errors naming the bad one.
 */
export function checkHosts(hosts: readonly string[]): HostSpec[] {
  if (hosts.length === 0) throw invalidInput('no host given', 'name at least one host: netmon latency 192.0.2.10 router.lan')
  const out: HostSpec[] = []
  const seen = new Set<string>()
  const add = (key: string, spec: HostSpec) => {
    if (seen.has(key)) return
    seen.add(key)
    out.push(spec)
    if (out.length > MAX_HOSTS) {
      throw invalidInput(
        `too many hosts (more than ${MAX_HOSTS})`,
        `probe at most ${MAX_HOSTS} hosts per run (a /24), or find the live ones first with \`netmon scan\``,
      )
    }
  }
  for (const raw of hosts) {
    const h = raw.trim()
    // A link-local address with its zone (fe80::1%eth0): scan's parser takes no zones.
    if (ipVersion(h) === 6 && h.includes('%')) {
      const ip = normalizeIp(h)
      add(`ip:${ip}`, {host: h, ip, family: 6})
      continue
    }
    let parsed: ParsedTarget
    try {
      parsed = parseTarget(h)
    } catch (e) {
      if (!isNetmonError(e)) throw e
      const why = /^invalid target "[^"]*": (.*)$/.exec(e.message)?.[1]
      throw invalidInput(`invalid host "${raw}"${why ? `: ${why}` : ''}`, HOST_HINT)
    }
    if (parsed.version === undefined) {
      if (!isHostName(h)) throw invalidInput(`invalid host "${raw}"`, HOST_HINT)
      add(`name:${h.toLowerCase()}`, {host: h, name: h})
      continue
    }
    const size = parsed.last - parsed.first + 1n
    if (size > BigInt(MAX_HOSTS)) {
      throw invalidInput(
        `"${raw}" has ${size} addresses, more than latency probes in one run (${MAX_HOSTS})`,
        `give a /24 or smaller (e.g. ${bigToIp((parsed.first >> 8n) << 8n, parsed.version)}/${parsed.version === 4 ? 24 : 120}), or find the live hosts first with \`netmon scan ${h}\``,
      )
    }
    checkClass(parsed, `"${raw}"`)
    // An address is labelled as typed; the members of a CIDR or range by their address.
    const literal = parseIpLiteral(h) !== null
    for (const {ip} of expandRanges([parsed])) add(`ip:${ip}`, {host: literal ? h : ip, ip, family: parsed.version})
  }
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
    checked.map(async (spec): Promise<Target> => {
      if (spec.name === undefined) return {host: spec.host, ip: spec.ip, family: spec.family}
      const host = spec.name
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
      const ip = normalizeIp(pick.address)
      // A name that a blocklist resolves to 0.0.0.0 is no host either.
      const lit = parseIpLiteral(ip)
      if (lit) checkClass({spec: host, hostname: host, version: lit.version, first: lit.value, last: lit.value}, `"${host}" (${ip})`)
      return {host, ip, family: pick.family === 6 ? 6 : 4}
    }),
  )
}

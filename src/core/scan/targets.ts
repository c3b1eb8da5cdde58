/**
 * Scan targets (issue 5): CIDRs (`10.0.0.0/24`), ranges (`10.0.0.1-50`, `10.0.0.1-10.0.0.50`,
 * `fd00::1-fd00::20`), single addresses and host names. Pure except `resolveTargets`, which looks
 * host names up; every rule that protects other people's networks lives here:
 * - public ranges are refused unless `allowPublic` (only private, loopback, link-local, CGNAT and
 *   IPv6 unique-local space is fair game by default);
 * - a scan larger than a /22 (1024 addresses) needs `force`, and even then stops at a /16;
 * - multicast, broadcast-only and reserved space is never a target.
 * Everything is validated before anything is probed or written (docs/CONVENTIONS.md).
 */
import ipaddr from 'ipaddr.js'
import {invalidInput} from '../errors.js'
import {normalizeIp} from '../devices/ip.js'
import {isIP} from 'node:net'

export const MAX_ADDRESSES = 1024 // a /22
export const MAX_ADDRESSES_FORCED = 65_536 // a /16

export interface TargetRange {
  /** The text the user gave (or the resolved host name). */
  spec: string
  version: 4 | 6
  first: bigint
  last: bigint
  /** Set when the target was a host name. */
  hostname?: string
}

export interface TargetOptions {
  allowPublic?: boolean
  force?: boolean
}

const HINT = 'use a CIDR (192.168.1.0/24), a range (192.168.1.1-50), an address (192.168.1.7) or a host name'

// ---------------------------------------------------------------- address <-> bigint

export function ipToBig(ip: string): {version: 4 | 6; value: bigint} {
  const addr = ipaddr.parse(ip)
  const bytes = addr.toByteArray()
  let v = 0n
  for (const b of bytes) v = (v << 8n) | BigInt(b)
  return {version: addr.kind() === 'ipv4' ? 4 : 6, value: v}
}

export function bigToIp(value: bigint, version: 4 | 6): string {
  const n = version === 4 ? 4 : 16
  const bytes: number[] = new Array(n)
  let v = value
  for (let i = n - 1; i >= 0; i--) {
    bytes[i] = Number(v & 0xffn)
    v >>= 8n
  }
  const a = ipaddr.fromByteArray(bytes)
  return a.kind() === 'ipv6' ? (a as ipaddr.IPv6).toRFC5952String() : a.toString()
}

/** Numeric order of two address literals (IPv4 before IPv6). */
export function compareIp(a: string, b: string): number {
  const x = ipToBig(a)
  const y = ipToBig(b)
  if (x.version !== y.version) return x.version - y.version
  return x.value < y.value ? -1 : x.value > y.value ? 1 : 0
}

function isStrictIpv4(s: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(s) && s.split('.').every(o => /^(0|[1-9]\d{0,2})$/.test(o))
}

function isIpv6(s: string): boolean {
  return s.includes(':') && ipaddr.IPv6.isValid(s) && !s.includes('%')
}

/** Canonical text of an address literal, or null when it is not one (strict dotted quad for v4). */
export function parseIpLiteral(s: string): {version: 4 | 6; value: bigint; text: string} | null {
  if (isStrictIpv4(s)) {
    const r = ipToBig(s)
    return {...r, text: bigToIp(r.value, 4)}
  }
  if (isIpv6(s)) {
    // The same canonical text as everywhere else (devices/ip.ts): ::ffff:10.0.0.1 is an IPv4 host
    // in disguise and is scanned as IPv4.
    const canon = normalizeIp(s)
    if (isIP(canon) === 4) return {...ipToBig(canon), text: canon}
    const r = ipToBig(canon)
    return {...r, text: bigToIp(r.value, 6)}
  }
  return null
}

// ---------------------------------------------------------------- address classes

interface Block {
  version: 4 | 6
  first: bigint
  last: bigint
}

function block(cidr: string): Block {
  const [addr, len] = ipaddr.parseCIDR(cidr)
  const version = addr.kind() === 'ipv4' ? 4 : 6
  const bits = version === 4 ? 32 : 128
  const {value} = ipToBig(addr.kind() === 'ipv6' ? (addr as ipaddr.IPv6).toRFC5952String() : addr.toString())
  const size = 1n << BigInt(bits - len)
  const first = (value / size) * size
  return {version, first, last: first + size - 1n}
}

/** Space a LAN scanner may sweep without --allow-public. */
const PRIVATE: Block[] = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '100.64.0.0/10', // carrier-grade NAT (RFC 6598): behind the subscriber's own CPE
  '::1/128',
  'fe80::/10',
  'fc00::/7',
].map(block)

/** Never a host to probe. */
const NEVER: {b: Block; why: string}[] = [
  {b: block('0.0.0.0/8'), why: 'is "this network" space (0.0.0.0/8)'},
  {b: block('224.0.0.0/4'), why: 'is multicast space'},
  {b: block('240.0.0.0/4'), why: 'is reserved space (240.0.0.0/4, including the broadcast address)'},
  {b: block('ff00::/8'), why: 'is IPv6 multicast space'},
  {b: block('::/128'), why: 'is the unspecified address'},
]

const within = (r: {version: number; first: bigint; last: bigint}, b: Block) => r.version === b.version && r.first >= b.first && r.last <= b.last
const overlaps = (r: {version: number; first: bigint; last: bigint}, b: Block) => r.version === b.version && r.first <= b.last && r.last >= b.first

export function isPrivateRange(r: {version: 4 | 6; first: bigint; last: bigint}): boolean {
  return PRIVATE.some(b => within(r, b))
}

export function isLoopback(ip: string): boolean {
  const p = parseIpLiteral(ip)
  if (!p) return false
  return within({...p, first: p.value, last: p.value}, p.version === 4 ? PRIVATE[3]! : PRIVATE[6]!)
}

// ---------------------------------------------------------------- parsing one target

const HOSTNAME = /^(?=.{1,253}\.?$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i

/** A parsed target before host-name resolution. */
export type ParsedTarget = TargetRange | {spec: string; hostname: string; version?: undefined}

export function parseTarget(text: string): ParsedTarget {
  const spec = text.trim()
  if (spec === '') throw invalidInput('a target is empty', HINT)
  const bad = (why: string) => invalidInput(`invalid target "${spec}": ${why}`, HINT)

  if (spec.includes('/')) {
    const [addrText, lenText, ...rest] = spec.split('/')
    if (rest.length) throw bad('more than one "/"')
    const ip = parseIpLiteral(addrText!)
    if (!ip) throw bad(`"${addrText}" is not an IP address`)
    const bits = ip.version === 4 ? 32 : 128
    if (!/^\d{1,3}$/.test(lenText!) || Number(lenText) > bits) throw bad(`the prefix length must be 0–${bits} for IPv${ip.version}`)
    const len = Number(lenText)
    const size = 1n << BigInt(bits - len)
    let first = (ip.value / size) * size
    let last = first + size - 1n
    // The network and broadcast addresses of an IPv4 subnet are not hosts (/31 and /32 have none).
    if (ip.version === 4 && len <= 30) {
      first += 1n
      last -= 1n
    }
    return {spec, version: ip.version, first, last}
  }

  const dash = spec.indexOf('-')
  const maybeIp = dash > 0 ? spec.slice(0, dash) : ''
  if (dash > 0 && parseIpLiteral(maybeIp)) {
    const start = parseIpLiteral(maybeIp)!
    const endText = spec.slice(dash + 1)
    let end = parseIpLiteral(endText)
    if (!end && start.version === 4 && /^\d{1,3}$/.test(endText)) {
      // 10.0.0.1-50: the end replaces the last octet.
      if (Number(endText) > 255) throw bad(`the range end ${endText} is not an octet (0–255)`)
      end = parseIpLiteral(
        start.text
          .split('.')
          .slice(0, 3)
          .concat(String(Number(endText)))
          .join('.'),
      )
    } else if (!end && start.version === 6 && /^[0-9a-f]{1,4}$/i.test(endText)) {
      // fd00::1-20: the end replaces the last group.
      const groups = ipaddr.IPv6.parse(start.text).parts.slice()
      groups[7] = parseInt(endText, 16)
      end = parseIpLiteral(new ipaddr.IPv6(groups).toRFC5952String())
    }
    if (!end) throw bad(`"${endText}" is not a range end (use 10.0.0.1-50 or 10.0.0.1-10.0.0.50)`)
    if (end.version !== start.version) throw bad('the range mixes IPv4 and IPv6')
    if (end.value < start.value) throw bad('the range ends before it starts')
    return {spec, version: start.version, first: start.value, last: end.value}
  }

  const ip = parseIpLiteral(spec)
  if (ip) return {spec, version: ip.version, first: ip.value, last: ip.value}

  // Anything made of digits and dots only is a malformed address (999.1.1.1), never a host name.
  if (/^[\d.]+$/.test(spec) || spec.includes(':')) throw bad('not a valid IP address')
  if (!HOSTNAME.test(spec) || /^\d+$/.test(spec.replace(/\.$/, '').split('.').pop()!)) {
    throw bad('not an IP address, CIDR, range or host name')
  }
  return {spec, hostname: spec.replace(/\.$/, '').toLowerCase()}
}

/** Size, class and overlap checks over the whole target list (after host names resolve). */
export function checkRanges(ranges: TargetRange[], opts: TargetOptions = {}): number {
  if (ranges.length === 0) throw invalidInput('no targets given', HINT)
  let total = 0n
  for (const r of ranges) {
    for (const n of NEVER) {
      if (overlaps(r, n.b)) throw invalidInput(`target ${r.spec} ${n.why}`, 'scan unicast host addresses only')
    }
    if (!opts.allowPublic && !isPrivateRange(r)) {
      throw invalidInput(
        `target ${r.spec}${r.hostname ? ` (${bigToIp(r.first, r.version)})` : ''} is a public address range`,
        'netmon scans private, loopback and link-local space by default; add --allow-public only for networks you are authorised to scan',
      )
    }
    total += r.last - r.first + 1n
  }
  const limit = BigInt(opts.force ? MAX_ADDRESSES_FORCED : MAX_ADDRESSES)
  if (total > limit) {
    throw invalidInput(
      `the targets add up to ${total} addresses, more than ${limit}${opts.force ? ' (a /16, the limit even with --force)' : ' (a /22)'}`,
      opts.force ? 'split the scan into smaller targets' : 'narrow the targets, or add --force for up to 65536 addresses',
    )
  }
  return Number(total)
}

/** Parses and checks every target (host names must already be resolved by the caller). */
export function parseTargets(texts: string[], opts: TargetOptions = {}): TargetRange[] {
  if (texts.length === 0) throw invalidInput('no targets given', HINT)
  const parsed = texts.map(parseTarget)
  const ranges = parsed.filter((p): p is TargetRange => p.version !== undefined)
  if (ranges.length === parsed.length) checkRanges(ranges, opts)
  return ranges
}

/**
 * Parses, resolves host names (`lookup` is injectable for tests) and checks everything.
 * A name that does not resolve is bad input (exit 2), named in the message.
 */
export async function resolveTargets(
  texts: string[],
  opts: TargetOptions & {lookup?: (name: string) => Promise<string>} = {},
): Promise<{ranges: TargetRange[]; count: number}> {
  if (texts.length === 0) throw invalidInput('no targets given', HINT)
  const parsed = texts.map(parseTarget)
  // Check the literal targets first, so a bad CIDR is reported without any name lookup.
  const literal = parsed.filter((p): p is TargetRange => p.version !== undefined)
  if (literal.length) checkRanges(literal, opts)
  const lookup =
    opts.lookup ??
    (async (name: string) => {
      const {lookup: dnsLookup} = await import('node:dns/promises')
      return (await dnsLookup(name, {verbatim: false})).address
    })
  const ranges: TargetRange[] = []
  for (const p of parsed) {
    if (p.version !== undefined) {
      ranges.push(p)
      continue
    }
    let address: string
    try {
      address = await lookup(p.hostname)
    } catch (e) {
      throw invalidInput(`target "${p.spec}" does not resolve (${(e as NodeJS.ErrnoException).code ?? String(e)})`, HINT)
    }
    const ip = parseIpLiteral(address)
    if (!ip) throw invalidInput(`target "${p.spec}" resolved to "${address}", not an IP address`, HINT)
    ranges.push({spec: p.spec, hostname: p.hostname, version: ip.version, first: ip.value, last: ip.value})
  }
  return {ranges, count: checkRanges(ranges, opts)}
}

/** Every address once, in target order (duplicates across overlapping targets dropped). */
export function expandRanges(ranges: TargetRange[]): {ip: string; hostname?: string}[] {
  const seen = new Set<string>()
  const out: {ip: string; hostname?: string}[] = []
  for (const r of ranges) {
    for (let v = r.first; v <= r.last; v++) {
      const ip = bigToIp(v, r.version)
      if (seen.has(ip)) continue
      seen.add(ip)
      out.push(r.hostname ? {ip, hostname: r.hostname} : {ip})
    }
  }
  return out
}

// ---------------------------------------------------------------- default targets

export interface InterfaceInfo {
  name: string
  /** Link operationally up (/sys/class/net/NAME/operstate). */
  up: boolean
  addresses: {address: string; netmask: string; family: 'IPv4' | 'IPv6'; internal: boolean}[]
}

export interface DefaultTargets {
  targets: string[]
  /** Why an interface was skipped or narrowed: printed on stderr. */
  notes: string[]
}

function prefixFromMask(mask: string): number | null {
  try {
    return ipaddr.IPv4.parse(mask).prefixLengthFromSubnetMask()
  } catch {
    return null
  }
}

/**
 * The default scan: the IPv4 subnets of the up, non-loopback interfaces. Pure, so tests feed it
 * fake interfaces instead of scanning this machine's networks. A subnet larger than a /22 is
 * narrowed to the /22 around the interface address (to the /16 with --force); public subnets
 * are skipped unless allowPublic; link-local (169.254/16) and IPv6 are skipped (too large to sweep).
 */
export function defaultTargets(ifaces: InterfaceInfo[], opts: TargetOptions = {}): DefaultTargets {
  const targets: string[] = []
  const notes: string[] = []
  const maxLen = opts.force ? 16 : 22
  for (const itf of ifaces) {
    const v4 = itf.addresses.filter(a => a.family === 'IPv4' && !a.internal)
    if (v4.length === 0) continue
    if (!itf.up) {
      notes.push(`${itf.name}: skipped (down)`)
      continue
    }
    for (const a of v4) {
      const len = prefixFromMask(a.netmask)
      if (len === null) {
        notes.push(`${itf.name}: skipped ${a.address} (unusable netmask ${a.netmask})`)
        continue
      }
      const ip = parseIpLiteral(a.address)
      if (!ip) continue
      if (isLoopback(a.address)) continue
      if (within({version: 4, first: ip.value, last: ip.value}, block('169.254.0.0/16'))) {
        notes.push(`${itf.name}: skipped link-local ${a.address}/${len}`)
        continue
      }
      if (len >= 31) {
        notes.push(`${itf.name}: skipped ${a.address}/${len} (no other hosts on a /${len})`)
        continue
      }
      const useLen = Math.max(len, maxLen)
      const size = 1n << BigInt(32 - useLen)
      const net = bigToIp((ip.value / size) * size, 4)
      const cidr = `${net}/${useLen}`
      const r = parseTarget(cidr) as TargetRange
      if (!opts.allowPublic && !isPrivateRange(r)) {
        notes.push(`${itf.name}: skipped ${cidr} (public address space; add --allow-public if you are authorised to scan it)`)
        continue
      }
      if (useLen !== len) {
        notes.push(
          `${itf.name}: ${bigToIp((ip.value / (1n << BigInt(32 - len))) * (1n << BigInt(32 - len)), 4)}/${len} is larger than a /${maxLen}; scanning ${cidr} around ${a.address}${opts.force ? '' : ' (add --force for up to a /16)'}`,
        )
      }
      if (!targets.includes(cidr)) targets.push(cidr)
    }
  }
  return {targets, notes}
}

// ---------------------------------------------------------------- target lists and exclusions

/**
 * A target file (`-iL FILE`, `--exclude-file FILE`) as nmap reads it: entries separated by
 * spaces, tabs, commas or newlines; `#` starts a comment to the end of the line.
 */
export function parseTargetList(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map(line => line.replace(/#.*$/, ''))
    .flatMap(line => line.split(/[\s,]+/))
    .filter(Boolean)
}

/**
 * `--exclude` entries (addresses, CIDRs, ranges, host names) as ranges. Unlike targets they are
 * not size- or class-checked (excluding a public range or a /8 is harmless), and a CIDR keeps its
 * network and broadcast addresses. A host name that does not resolve is bad input.
 */
export async function resolveExcludes(texts: string[], lookup?: (name: string) => Promise<string>): Promise<TargetRange[]> {
  const out: TargetRange[] = []
  for (const text of texts) {
    const spec = text.trim()
    if (spec === '') throw invalidInput('an --exclude entry is empty', HINT)
    let p: ParsedTarget
    try {
      p = parseTarget(spec)
    } catch (e) {
      throw invalidInput(`invalid --exclude entry "${spec}": ${(e as Error).message.replace(/^invalid target "[^"]*": /, '')}`, HINT)
    }
    if (p.version !== undefined) {
      if (spec.includes('/')) {
        // The whole block: network and broadcast addresses included.
        const [addrText, lenText] = spec.split('/')
        const ip = parseIpLiteral(addrText!)!
        const bits = ip.version === 4 ? 32 : 128
        const size = 1n << BigInt(bits - Number(lenText))
        const first = (ip.value / size) * size
        out.push({spec, version: ip.version, first, last: first + size - 1n})
      } else out.push(p)
      continue
    }
    const resolved = await resolveTargets([spec], {allowPublic: true, force: true, lookup}).catch(e => {
      throw invalidInput(`--exclude ${(e as Error).message.replace(/^target /, '')}`, HINT)
    })
    out.push(...resolved.ranges)
  }
  return out
}

/** The addresses not inside any excluded range (order kept). */
export function excludeAddresses<T extends {ip: string}>(addresses: T[], excluded: TargetRange[]): T[] {
  if (excluded.length === 0) return addresses
  return addresses.filter(a => {
    const {version, value} = ipToBig(a.ip)
    return !excluded.some(r => r.version === version && value >= r.first && value <= r.last)
  })
}

/**
 * Latency targets: what the user typed (an IP or a host name), checked and resolved ONCE before
 * any probe, so a typo fails the whole command with exit 2 before anything is sent or stored.
 */
import {lookup} from 'node:dns/promises'
import {readFileSync} from 'node:fs'
import {NetmonError, invalidInput, isNetmonError} from '../errors.js'
import {ipVersion, normalizeIp} from '../devices/ip.js'
import {bigToIp, checkRanges, parseIpLiteral, parseTarget, type ParsedTarget, type TargetRange} from '../scan/targets.js'

export interface Target {
  /** As the user typed it (the label in tables and the `host` column). */
  host: string
  /** The address probed: canonical text form. */
  ip: string
  family: 4 | 6
}

/**
 * The cap on targets per run (issue 17): a /22 of hosts by default, as `netmon scan` allows without
 * --force; `--max-targets N` raises it up to MAX_TARGETS_LIMIT (a /16). Probing is bounded by
 * --concurrency, so the cap guards against a typo (`/8` for `/24`), not against memory.
 */
export const DEFAULT_MAX_TARGETS = 1024
export const MAX_TARGETS_LIMIT = 65_536

// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens, ≤ 63 chars each,
// ≤ 253 in all, optional final dot. Rejects option-looking text ("-f") and shell junk early.
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i

export function isHostName(text: string): boolean {
  const s = text.endsWith('.') ? text.slice(0, -1) : text
  if (s.length === 0 || s.length > 253) return false
  return s.split('.').every(l => LABEL.test(l))
}

const HOST_HINT = 'give an IPv4/IPv6 address, a CIDR (192.168.1.0/24), a range (192.168.1.1-20) or a host name'

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

const fmt = (n: number | bigint): string => n.toLocaleString('en-US')

/** The fix for a run above the cap: raise it (when that can work), or narrow the targets. */
function capHint(n: bigint, example: string | undefined, fixed: boolean): string {
  const smaller = example ? `give a smaller range such as ${example}` : 'narrow the targets'
  const scan = 'or find the live hosts first with `netmon scan`'
  if (fixed) return `${smaller}, split them over several runs, ${scan}`
  if (n <= BigInt(MAX_TARGETS_LIMIT)) return `raise the cap with --max-targets ${n}, ${smaller}, ${scan}`
  return `${smaller} (--max-targets goes up to ${fmt(MAX_TARGETS_LIMIT)}), ${scan}`
}

/** The largest subnet within the cap that starts the range which was too big (the default cap: a /22). */
function smallerExample(r: TargetRange, cap: number): string {
  const bits = r.version === 4 ? 32 : 128
  let hostBits = 0
  while (1n << BigInt(hostBits + 1) <= BigInt(cap) && hostBits + 1 < bits) hostBits++
  const base = (r.first >> BigInt(hostBits)) << BigInt(hostBits)
  return `${bigToIp(base, r.version)}/${bits - hostBits}`
}

export interface CheckHostsOptions {
  /** The most targets (after duplicates are dropped); default DEFAULT_MAX_TARGETS. */
  maxTargets?: number
  /** The caller cannot raise the cap (the HTTP API): the hint does not offer --max-targets. */
  fixedCap?: boolean
}

/**
 * Checks every HOST argument (syntax only, no network) with scan's target parser, so an address
 * that is malformed (256.0.0.1, 127.0.0.01, 127.1.2.3.4) is refused as such instead of being
 * looked up as a name. A CIDR or range becomes its addresses (an IPv4 subnet up to a /30 without
 * its network and broadcast addresses, as fping -g and scan do), duplicates once, up to
 * `maxTargets` in all; a range larger than the cap is refused before it is expanded. Throws exit-2
 * errors naming the bad one and the fix.
 */
export function checkHosts(hosts: readonly string[], opts: CheckHostsOptions = {}): HostSpec[] {
  const cap = opts.maxTargets ?? DEFAULT_MAX_TARGETS
  const fixed = opts.fixedCap === true
  if (hosts.length === 0)
    throw invalidInput(
      'no host given',
      'name hosts (netmon latency 192.0.2.10 router.lan), a range with -g 192.0.2.0/24, or a file with -f FILE (-f - reads standard input)',
    )
  const out: HostSpec[] = []
  const seen = new Set<string>()
  const add = (key: string, spec: HostSpec) => {
    if (seen.has(key)) return
    seen.add(key)
    out.push(spec)
    if (out.length > cap) throw new TooMany()
  }
  try {
    for (const raw of hosts) addHost(raw, cap, fixed, add)
  } catch (e) {
    if (!(e instanceof TooMany)) throw e
    // Count them all (up to the absolute limit), so the message can say how many.
    const total = countUnique(hosts)
    throw invalidInput(
      `${total > MAX_TARGETS_LIMIT ? `more than ${fmt(MAX_TARGETS_LIMIT)}` : fmt(total)} targets, more than the cap of ${fmt(cap)} per run`,
      capHint(BigInt(total), undefined, fixed),
    )
  }
  return out
}

class TooMany extends Error {}

/** How many distinct targets the list holds, counting no further than MAX_TARGETS_LIMIT + 1. */
function countUnique(hosts: readonly string[]): number {
  const seen = new Set<string>()
  try {
    for (const raw of hosts)
      addHost(raw, MAX_TARGETS_LIMIT, false, key => {
        seen.add(key)
        if (seen.size > MAX_TARGETS_LIMIT) throw new TooMany()
      })
  } catch (e) {
    if (!(e instanceof TooMany)) throw e
  }
  return seen.size
}

function addHost(raw: string, cap: number, fixed: boolean, add: (key: string, spec: HostSpec) => void): void {
  const h = raw.trim()
  // A link-local address with its zone (fe80::1%eth0): scan's parser takes no zones.
  if (ipVersion(h) === 6 && h.includes('%')) {
    const ip = normalizeIp(h)
    add(`ip:${ip}`, {host: h, ip, family: 6})
    return
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
    return
  }
  const size = parsed.last - parsed.first + 1n
  if (size > BigInt(cap)) {
    throw invalidInput(
      `"${raw}" has ${fmt(size)} addresses, more than the cap of ${fmt(cap)} targets per run`,
      capHint(size, smallerExample(parsed, cap), fixed),
    )
  }
  checkClass(parsed, `"${raw}"`)
  // An address is labelled as typed; the members of a CIDR or range by their address.
  const literal = parseIpLiteral(h) !== null
  for (let v = parsed.first; v <= parsed.last; v++) {
    const ip = bigToIp(v, parsed.version)
    add(`ip:${ip}`, {host: literal ? h : ip, ip, family: parsed.version})
  }
}

/**
 * fping's `-g`: one CIDR (`-g 192.168.1.0/24`), or a start and an end address
 * (`-g 192.168.1.1 192.168.1.20`, both included). Returns the HOST specs they stand for.
 */
export function generateSpecs(args: readonly string[]): string[] {
  const hint = 'use -g CIDR (-g 192.168.1.0/24) or -g START END (-g 192.168.1.1 192.168.1.20)'
  if (args.length === 1) {
    const a = args[0]!.trim()
    if (!a.includes('/')) throw invalidInput(`-g ${a}: not a CIDR`, hint)
    return [a]
  }
  if (args.length !== 2) throw invalidInput(`-g takes one CIDR or two addresses, got ${args.length} argument${args.length === 1 ? '' : 's'}`, hint)
  const [a, b] = args.map(x => x.trim()) as [string, string]
  if (a.includes('/') || b.includes('/')) throw invalidInput(`-g ${a} ${b}: give one CIDR, or a start and an end address`, hint)
  const start = parseIpLiteral(a)
  const end = parseIpLiteral(b)
  if (!start) throw invalidInput(`-g start "${a}" is not an IP address`, hint)
  if (!end) throw invalidInput(`-g end "${b}" is not an IP address`, hint)
  if (start.version !== end.version) throw invalidInput(`-g ${a} ${b}: the range mixes IPv4 and IPv6`, hint)
  if (end.value < start.value) throw invalidInput(`-g ${a} ${b}: the range ends before it starts`, `put the lower address first: -g ${b} ${a}`)
  return [`${start.text}-${end.text}`]
}

/**
 * A target file as fping -f reads it: one target per line, the first word of the line (so an
 * /etc/hosts-style "10.0.0.1 router" line is 10.0.0.1); `#` starts a comment (anywhere, unlike
 * fping, which only skips lines that start with it); blank lines are skipped. A line may hold any
 * HOST form (address, CIDR, range, name).
 */
export function parseTargetFile(text: string): string[] {
  return text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .map(line => line.replace(/#.*$/, '').trim().split(/\s+/)[0]!)
    .filter(Boolean)
}

/** Standard input, read to its end (a stream: a pipe may be non-blocking, where readFileSync(0) fails). */
async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer))
  return Buffer.concat(chunks).toString('utf8')
}

/** Reads `-f FILE` (`-` = standard input); unreadable or empty is bad input (exit 2). */
export async function readTargetFile(path: string, readStdin: () => Promise<string> = readAllStdin): Promise<string[]> {
  let text: string
  try {
    text = path === '-' ? await readStdin() : readFileSync(path, 'utf8')
  } catch (e) {
    throw invalidInput(
      `-f ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      'give a readable file with one target per line, or - for standard input',
    )
  }
  const entries = parseTargetFile(text)
  if (entries.length === 0)
    throw invalidInput(`-f ${path === '-' ? '- (standard input)' : path} names no target`, 'put one target per line; # starts a comment')
  return entries
}

export type Resolver = (name: string) => Promise<{address: string; family: number}[]>

const systemResolver: Resolver = name => lookup(name, {all: true})

/**
 * Resolves names once (IPv4 preferred: the device inventory is keyed by IPv4 addresses).
 * An unknown name is bad input (exit 2); a resolver failure is a network error (exit 1).
 * Duplicates are dropped as typed (the same address, or the same name in any case); a name and
 * the address it resolves to stay two targets, labelled apart (as fping probes both).
 */
export async function resolveTargets(hosts: readonly string[], resolver: Resolver = systemResolver, opts: CheckHostsOptions = {}): Promise<Target[]> {
  const checked = checkHosts(hosts, opts)
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

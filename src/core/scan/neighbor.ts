/**
 * The kernel neighbor table (ARP for IPv4, NDP for IPv6): how a host that answers nothing but
 * ARP is still found, and where every on-link host's MAC comes from (issue 5).
 *
 * Sources: `ip -j neigh show` (states, IPv6) and /proc/net/arp (IPv4, a cheap file read that
 * the scan polls while it waits). Parsers are pure and tested on captured text.
 *
 * Freshness matters: an entry may be left over from before the scan (a host unplugged a
 * minute ago stays REACHABLE for up to ~45 s and STALE for much longer). As root, the scan
 * deletes the target addresses' dynamic entries first (`flushNeighbors`), so every entry that
 * completes during the scan was answered now. Without root it cannot, and it counts only
 * entries that were absent/incomplete before the scan or are REACHABLE (docs/SCAN.md).
 */
import {execFile} from 'node:child_process'
import {readFileSync} from 'node:fs'

export interface NeighborEntry {
  ip: string
  mac: string | null
  dev: string
  /** Kernel NUD states, e.g. ["REACHABLE"], ["STALE"], ["FAILED"]; /proc/net/arp gives COMPLETE/INCOMPLETE/PERMANENT. */
  state: string[]
}

const DEAD = new Set(['FAILED', 'INCOMPLETE', 'NONE'])

/** An entry that carries a usable MAC. */
export function isComplete(e: NeighborEntry): boolean {
  return !!e.mac && e.mac !== '00:00:00:00:00:00' && !e.state.some(s => DEAD.has(s))
}

/** Proof of life on its own, without knowing whether the entry predates the scan. */
export function isConfirmed(e: NeighborEntry): boolean {
  return isComplete(e) && e.state.some(s => s === 'REACHABLE' || s === 'PERMANENT' || s === 'NOARP')
}

/** `ip -j neigh show` output. */
export function parseIpNeighJson(text: string): NeighborEntry[] {
  const t = text.trim()
  if (!t) return []
  const rows = JSON.parse(t) as {dst?: string; dev?: string; lladdr?: string; state?: string[]}[]
  return rows.filter(r => r.dst).map(r => ({ip: r.dst!, mac: r.lladdr ? r.lladdr.toUpperCase() : null, dev: r.dev ?? '', state: r.state ?? []}))
}

/** /proc/net/arp: `IP address  HW type  Flags  HW address  Mask  Device`; flag 0x2 complete, 0x4 permanent. */
export function parseProcArp(text: string): NeighborEntry[] {
  const out: NeighborEntry[] = []
  const lines = text.split('\n')
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i]!.trim().split(/\s+/)
    if (f.length < 6) continue
    const flags = parseInt(f[2]!, 16)
    const state = flags & 0x4 ? ['PERMANENT'] : flags & 0x2 ? ['COMPLETE'] : ['INCOMPLETE']
    const mac = f[3]!.toUpperCase()
    out.push({ip: f[0]!, mac: /^([0-9A-F]{2}:){5}[0-9A-F]{2}$/.test(mac) ? mac : null, dev: f[5]!, state})
  }
  return out
}

function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, {encoding: 'utf8', timeout: 5000, maxBuffer: 64 * 1024 * 1024}, (err, stdout) => (err ? reject(err) : resolve(stdout)))
    if (input !== undefined) child.stdin?.end(input)
  })
}

/** The whole table (IPv4 + IPv6) via iproute2, else IPv4 from /proc/net/arp, else nothing. */
export async function readNeighbors(): Promise<NeighborEntry[]> {
  if (process.platform !== 'linux') return []
  try {
    return parseIpNeighJson(await run('ip', ['-j', 'neigh', 'show']))
  } catch {
    return readProcArp()
  }
}

/** IPv4 entries from /proc/net/arp: microseconds, fine to poll. */
export function readProcArp(): NeighborEntry[] {
  try {
    return parseProcArp(readFileSync('/proc/net/arp', 'utf8'))
  } catch {
    return []
  }
}

/** IPv6 entries (NDP) via iproute2; empty when unavailable. */
export async function readNeighbors6(): Promise<NeighborEntry[]> {
  if (process.platform !== 'linux') return []
  try {
    return parseIpNeighJson(await run('ip', ['-6', '-j', 'neigh', 'show']))
  } catch {
    return []
  }
}

/**
 * Deletes the dynamic entries of the given addresses (root only), in one `ip -batch` process,
 * so stale entries cannot vouch for hosts that are gone. Permanent/NOARP entries are kept.
 * Returns the number deleted, or -1 when it could not (not root, no iproute2).
 */
export async function flushNeighbors(entries: NeighborEntry[], targets: Set<string>): Promise<number> {
  if (process.platform !== 'linux' || typeof process.getuid !== 'function' || process.getuid() !== 0) return -1
  const doomed = entries.filter(e => targets.has(e.ip) && e.dev && !e.state.some(s => s === 'PERMANENT' || s === 'NOARP'))
  if (doomed.length === 0) return 0
  const script = doomed.map(e => `neigh del ${e.ip} dev ${e.dev}`).join('\n') + '\n'
  try {
    await run('ip', ['-force', '-batch', '-'], script)
    return doomed.length
  } catch {
    // -force keeps going past entries that vanished meanwhile; a non-zero exit then is harmless.
    return doomed.length
  }
}

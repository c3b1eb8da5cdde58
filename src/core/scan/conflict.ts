/**
 * IP conflicts (issue 13): two MACs answering ARP for one address, what arp-scan prints as DUP.
 *
 * The kernel neighbor table keeps one MAC per address, so the discovery cannot see a second
 * answer. After discovery, every live on-link IPv4 host of the scan is asked once more with
 * iputils `arping -w 1` (its own ARP requests, every reply printed as
 * `Unicast reply from IP [MAC]`); two or more distinct MACs are a conflict. Bounded: at most
 * `concurrency` arpings at once, each ends after its one-second deadline (killed after a few
 * more). Only the scan's found hosts are asked (they are among the user's targets), never this
 * machine's own addresses, never IPv6 (NDP duplicates are not checked).
 *
 * arping needs a raw socket: root, or CAP_NET_RAW (Debian ships it with that file capability).
 * Without either, the first arping fails, and the check is skipped with a warning. A missing or
 * different arping (Thomas Habets' `arping` package prints other lines) is skipped the same way.
 */
import {execFile, execFileSync} from 'node:child_process'
import {accessSync, constants} from 'node:fs'
import {delimiter, join} from 'node:path'
import {tryNormalizeMac} from '../devices/mac.js'
import {compareIp} from './targets.js'
import type {HostResult} from './types.js'

export interface IpConflict {
  ip: string
  /** Every MAC that answered for `ip`, sorted. */
  macs: string[]
}

export interface ConflictCheck {
  conflicts: IpConflict[]
  warnings: string[]
  /** Addresses asked. */
  checked: number
}

export interface ConflictOptions {
  /** Interface an on-link address is reached through (null: not on-link, not asked). */
  linkOf: (ip: string) => string | null
  concurrency?: number
  /** arping's -w deadline, whole seconds (default 1). */
  deadlineS?: number
  signal?: AbortSignal
  /** For tests: the arping binary (default: found on PATH, /usr/sbin, /sbin). */
  arping?: string | null
}

/** The distinct MACs in arping's `Unicast reply from IP [MAC]` lines for `ip`, sorted. */
export function parseArpingReplies(text: string, ip: string): string[] {
  const macs = new Set<string>()
  for (const m of text.matchAll(/^Unicast reply from (\S+) \[([0-9A-Fa-f:]+)\]/gm)) {
    if (m[1] !== ip) continue
    const mac = tryNormalizeMac(m[2]!)
    if (mac) macs.add(mac)
  }
  return [...macs].sort()
}

function findArping(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/sbin', '/sbin']
  for (const d of dirs) {
    const p = join(d, 'arping')
    try {
      accessSync(p, constants.X_OK)
      return p
    } catch {
      /* not here */
    }
  }
  return null
}

/** iputils arping says so in `-V` (the other arping answers differently and prints other lines). */
function isIputils(bin: string): boolean {
  try {
    return /iputils/i.test(execFileSync(bin, ['-V'], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000}))
  } catch (e) {
    const err = e as {stdout?: string; stderr?: string}
    return /iputils/i.test(`${err.stdout ?? ''}${err.stderr ?? ''}`)
  }
}

interface ArpingRun {
  code: number | null
  stdout: string
  stderr: string
}

function arping(bin: string, iface: string, ip: string, deadlineS: number, signal?: AbortSignal): Promise<ArpingRun> {
  return new Promise(resolve => {
    const child = execFile(
      bin,
      ['-I', iface, '-w', String(deadlineS), ip],
      {encoding: 'utf8', timeout: (deadlineS + 4) * 1000, killSignal: 'SIGKILL', signal},
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as NodeJS.ErrnoException & {code?: unknown}).code === 'number' ? Number(err.code) : null) : 0
        resolve({code, stdout: String(stdout ?? ''), stderr: String(stderr ?? '')})
      },
    )
    child.stdin?.end()
  })
}

/** Asks every live on-link IPv4 host once more with arping; conflicts are addresses with ≥ 2 MACs. */
export async function checkConflicts(hosts: readonly HostResult[], opts: ConflictOptions): Promise<ConflictCheck> {
  const out: ConflictCheck = {conflicts: [], warnings: [], checked: 0}
  const todo: {ip: string; iface: string}[] = []
  for (const h of hosts) {
    if (h.self || h.ip.includes(':')) continue
    const iface = h.interface ?? opts.linkOf(h.ip)
    if (iface && iface !== 'lo') todo.push({ip: h.ip, iface})
  }
  if (todo.length === 0 || opts.signal?.aborted) return out
  if (process.platform !== 'linux') {
    out.warnings.push('IP conflict check: needs Linux (iputils arping); skipped')
    return out
  }
  const bin = opts.arping === undefined ? findArping() : opts.arping
  if (!bin) {
    out.warnings.push('IP conflict check: arping (Debian package iputils-arping) is not installed; skipped')
    return out
  }
  if (!isIputils(bin)) {
    out.warnings.push(`IP conflict check: ${bin} is not the iputils arping (Debian package iputils-arping); skipped`)
    return out
  }
  const deadlineS = Math.max(1, Math.round(opts.deadlineS ?? 1))
  let denied: string | null = null
  const one = async (t: {ip: string; iface: string}) => {
    const r = await arping(bin, t.iface, t.ip, deadlineS, opts.signal)
    // Exit 1 is "no (or not enough) replies"; 2 is an error such as a socket it may not open.
    if (r.code !== 0 && r.code !== 1) {
      const msg = r.stderr.trim().split('\n')[0] ?? ''
      if (/not permitted|permission denied/i.test(msg)) denied = msg
      else if (!opts.signal?.aborted) out.warnings.push(`IP conflict check of ${t.ip}: arping ${msg || `exited ${r.code}`}`)
      return
    }
    out.checked++
    const macs = parseArpingReplies(r.stdout, t.ip)
    if (macs.length >= 2) out.conflicts.push({ip: t.ip, macs})
  }
  // Not root: the first arping alone says whether it may open its raw socket (file capability).
  let next = 0
  if (typeof process.getuid === 'function' && process.getuid() !== 0) await one(todo[next++]!)
  const worker = async () => {
    while (next < todo.length && !denied && !opts.signal?.aborted) await one(todo[next++]!)
  }
  if (!denied) await Promise.all(Array.from({length: Math.min(opts.concurrency ?? 32, todo.length - next)}, worker))
  if (opts.signal?.aborted) out.warnings.push('IP conflict check: interrupted; not every host was asked')
  if (denied) out.warnings.push(`IP conflict check: arping cannot open its raw socket (${denied}): needs root or CAP_NET_RAW; skipped`)
  out.conflicts.sort((a, b) => compareIp(a.ip, b.ip))
  return out
}

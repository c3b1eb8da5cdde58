/**
 * `netmon scan` flags → a validated ScanRequest (pure; the command stays thin). Limits are
 * there to keep a typo from becoming a flood: at most 4096 addresses in flight, 16384 sockets.
 */
import {readFileSync} from 'node:fs'
import {z} from 'zod'
import {invalidInput} from '../errors.js'
import {parseDuration} from '../format/time.js'
import {validate} from '../validate.js'
import type {ScanRequest} from './index.js'
import {parseTargetList} from './targets.js'
import {METHODS, type Method} from './types.js'

export interface ScanFlags {
  method: string
  timeout: string
  retries: number
  concurrency: number
  ports?: string
  'port-timeout': string
  'max-sockets': number
  banners: boolean
  'banner-timeout': string
  rdns: boolean
  'dns-server'?: string[]
  'dns-timeout': string
  /** Default 2.5s (callers other than the command, e.g. the API, need not pass it). */
  'arp-wait'?: string
  register: boolean
  /** Default true: arping the live on-link hosts for IP conflicts (conflict.ts). */
  'conflict-check'?: boolean
  'allow-public': boolean
  force: boolean
  /** `-iL FILE`: targets read from a file (nmap's format, targets.ts parseTargetList). */
  'input-list'?: string
  /** `--exclude LIST` (repeatable, comma separated). */
  exclude?: string[]
  /** `--exclude-file FILE`. */
  'exclude-file'?: string
}

/** A target file's entries; an unreadable file is bad input (exit 2). */
export function readListFile(path: string, flag: string): string[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw invalidInput(
      `${flag} ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      'give a readable file with one target per line',
    )
  }
  return parseTargetList(text)
}

const numbers = z.object({
  retries: z.number().int().min(0, 'must be 0–10').max(10, 'must be 0–10'),
  concurrency: z.number().int().min(1, 'must be 1–4096').max(4096, 'must be 1–4096'),
  'max-sockets': z.number().int().min(1, 'must be 1–16384').max(16384, 'must be 1–16384'),
})

function duration(text: string, flag: string, min: number, max: number): number {
  const ms = parseDuration(text, `--${flag}`)
  if (ms < min || ms > max) throw invalidInput(`--${flag} ${text} is out of range`, `use ${min} ms to ${max / 1000} s`)
  return ms
}

/**
 * arp-scan waits ~2.4 s in all (500 ms, ×1.5 per retry): hosts whose ARP stack is slow (sleeping
 * Wi-Fi clients, busy embedded devices) answer after 1–2 s and were missed by an 800 ms window.
 */
export const DEFAULT_ARP_WAIT = '2.5s'

function arpWait(text: string): number {
  if (/^\s*0+\s*$/.test(text)) return 0
  return duration(text, 'arp-wait', 0, 30_000)
}

export function parseMethods(text: string): Method[] {
  const list = text
    .split(',')
    .map(s => s.trim().toLowerCase())
    .filter(Boolean)
  if (list.includes('all')) return [...METHODS]
  for (const m of list) {
    if (!(METHODS as readonly string[]).includes(m)) throw invalidInput(`--method: unknown method "${m}"`, 'use neighbor, tcp, icmp (comma separated) or all')
  }
  if (list.length === 0) throw invalidInput('--method names no method', 'use neighbor, tcp, icmp (comma separated) or all')
  return METHODS.filter(m => list.includes(m))
}

/** `argv` are the positional targets as typed: none → default targets; an empty string is an error. */
export function buildScanRequest(argv: string[], flags: ScanFlags): ScanRequest {
  const n = validate(numbers, {retries: flags.retries, concurrency: flags.concurrency, 'max-sockets': flags['max-sockets']})
  for (const t of argv)
    if (t.trim() === '') throw invalidInput('a target is empty', 'give CIDRs, ranges, addresses or host names, or no target for the local subnets')
  const typed = argv.flatMap(a => a.split(',')).map(s => s.trim())
  // -iL adds its targets to the typed ones; a list that names none is an error, never "scan the
  // local subnets" (which is what no target at all means).
  const listed = flags['input-list'] !== undefined ? readListFile(flags['input-list'], '-iL') : []
  if (flags['input-list'] !== undefined && listed.length === 0)
    throw invalidInput(`-iL ${flags['input-list']} names no target`, 'put one target per line (# starts a comment)')
  const exclude = (flags.exclude ?? []).flatMap(e => e.split(',')).map(s => s.trim())
  if (exclude.some(e => e === '')) throw invalidInput('an --exclude entry is empty', 'give addresses, CIDRs or ranges, comma separated')
  if (flags['exclude-file'] !== undefined) exclude.push(...readListFile(flags['exclude-file'], '--exclude-file'))
  const targets = [...typed, ...listed]
  return {
    targets: targets.length ? targets : null,
    exclude,
    allowPublic: flags['allow-public'],
    force: flags.force,
    methods: parseMethods(flags.method),
    timeoutMs: duration(flags.timeout, 'timeout', 50, 60_000),
    retries: n.retries,
    concurrency: n.concurrency,
    ports: flags.ports ?? null,
    portTimeoutMs: duration(flags['port-timeout'], 'port-timeout', 50, 60_000),
    maxSockets: n['max-sockets'],
    banners: flags.banners,
    bannerTimeoutMs: duration(flags['banner-timeout'], 'banner-timeout', 50, 30_000),
    rdns: flags.rdns,
    dnsServers: flags['dns-server'] ?? [],
    rdnsTimeoutMs: duration(flags['dns-timeout'], 'dns-timeout', 50, 10_000),
    register: flags.register,
    arpWaitMs: arpWait(flags['arp-wait'] ?? DEFAULT_ARP_WAIT),
    conflictCheck: flags['conflict-check'] ?? true,
  }
}

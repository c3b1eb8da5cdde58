/**
 * `netmon scan` flags → a validated ScanRequest (pure; the command stays thin). Limits are
 * there to keep a typo from becoming a flood: at most 4096 addresses in flight, 16384 sockets.
 */
import {z} from 'zod'
import {invalidInput} from '../errors.js'
import {parseDuration} from '../format/time.js'
import {validate} from '../validate.js'
import type {ScanRequest} from './index.js'
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
  return {
    targets: argv.length ? argv.flatMap(a => a.split(',')).map(s => s.trim()) : null,
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

/**
 * Pure parts of the nftables source (nft.ts): the LAN prefixes it is given, the ruleset it
 * installs (`table inet netmon`), and `nft -j list table inet netmon` → per-address counters.
 * No process is spawned here (test/unit/collect/nft-parse.test.ts runs on recorded output,
 * test/vectors/nft/).
 *
 *   parsePrefix('10.77.11.0/24')            → {version: 4, text: '10.77.11.0/24', …}
 *   parseNftTable(json).hosts               → Map('10.77.11.2' → {txBytes, txPackets, rxBytes, rxPackets})
 */
import {ipToBig, bigToIp} from '../scan/targets.js'
import {invalidInput} from '../errors.js'
import {normalizeIp} from '../devices/ip.js'
import type {CounterReadingIn} from './source.js'

export const NFT_TABLE = 'netmon'
export const NFT_FAMILY = 'inet'
/** The forward hook's priority: after the usual filter chains (priority filter = 0), so a packet they drop is not counted. */
export const NFT_PRIORITY = 'filter + 10'
/** Most addresses one set holds (per direction and family); a full set stops adding new hosts. */
export const NFT_SET_SIZE = 65535

export interface LanPrefix {
  version: 4 | 6
  /** Canonical CIDR: the network address and its length (`10.77.11.0/24`, `fd77:11::/64`). */
  text: string
  first: bigint
  last: bigint
}

/** A LAN prefix: an IPv4 or IPv6 CIDR; the host bits are cleared (10.77.11.9/24 is 10.77.11.0/24). */
export function parsePrefix(text: string): LanPrefix {
  const t = text.trim()
  const m = /^([^/]+)\/(\d{1,3})$/.exec(t)
  const bad = () => invalidInput(`--lan "${text}" is not a CIDR prefix`, 'e.g. --lan 192.168.1.0/24,fd00:1::/64')
  if (!m) throw bad()
  let addr: {version: 4 | 6; value: bigint}
  try {
    addr = ipToBig(normalizeIp(m[1]!))
  } catch {
    throw bad()
  }
  if (m[1]!.includes('%')) throw bad()
  const bits = addr.version === 4 ? 32 : 128
  const len = Number(m[2])
  if (len > bits) throw bad()
  if (len < (addr.version === 4 ? 8 : 16))
    throw invalidInput(`--lan "${text}": a /${len} is not a LAN`, `use the LAN's own prefix, at least /${addr.version === 4 ? 8 : 16}`)
  const hostBits = BigInt(bits - len)
  const first = (addr.value >> hostBits) << hostBits
  const last = first | ((1n << hostBits) - 1n)
  return {version: addr.version, text: `${bigToIp(first, addr.version)}/${len}`, first, last}
}

/** `--lan a,b` and repeated flags: every prefix, de-duplicated, in the order given. */
export function parsePrefixes(texts: string[]): LanPrefix[] {
  const out: LanPrefix[] = []
  for (const t of texts.flatMap(x => x.split(',')).filter(x => x.trim() !== '')) {
    const p = parsePrefix(t)
    if (!out.some(o => o.text === p.text)) out.push(p)
  }
  return out
}

export function inPrefixes(ip: string, prefixes: LanPrefix[]): boolean {
  let a: {version: 4 | 6; value: bigint}
  try {
    a = ipToBig(ip)
  } catch {
    return false
  }
  return prefixes.some(p => p.version === a.version && a.value >= p.first && a.value <= p.last)
}

/** The per-host sets: sent (saddr) and received (daddr) per family. */
export const NFT_SETS = {tx4: 'tx4', rx4: 'rx4', tx6: 'tx6', rx6: 'rx6'} as const

/** The forward chain's rules, exactly as `nft list` prints them (the chain is flushed and refilled on install). */
export const NFT_RULES = [
  'ip saddr @lan4 update @tx4 { ip saddr }',
  'ip daddr @lan4 update @rx4 { ip daddr }',
  'ip6 saddr @lan6 update @tx6 { ip6 saddr }',
  'ip6 daddr @lan6 update @rx6 { ip6 daddr }',
]

export interface InstallPlan {
  /** Prefixes to add to lan4/lan6 (missing ones). */
  add: LanPrefix[]
  /** The table is new: stamp its creation time and seed known hosts. */
  create: boolean
  /** Epoch seconds the table was created (the `created` set), for a new table. */
  createdSec: number
  /** Addresses to add with zero counters (hosts the neighbor table knows, new table only). */
  seed: string[]
}

/**
 * The `nft -f -` script of one install. Idempotent: `add table/set/chain` leave what exists, the
 * chain is flushed and refilled in the same transaction (atomic: no packet sees half a chain),
 * and only missing prefixes are added. Nothing outside `table inet netmon` is named.
 */
export function installScript(plan: InstallPlan): string {
  const t = `${NFT_FAMILY} ${NFT_TABLE}`
  const lines = [
    `add table ${t}`,
    `add set ${t} lan4 { type ipv4_addr; flags interval; }`,
    `add set ${t} lan6 { type ipv6_addr; flags interval; }`,
    `add set ${t} created { type mark; }`,
  ]
  for (const [name, type] of [
    ['tx4', 'ipv4_addr'],
    ['rx4', 'ipv4_addr'],
    ['tx6', 'ipv6_addr'],
    ['rx6', 'ipv6_addr'],
  ] as const) {
    lines.push(`add set ${t} ${name} { type ${type}; size ${NFT_SET_SIZE}; flags dynamic; counter; }`)
  }
  lines.push(`add chain ${t} forward { type filter hook forward priority ${NFT_PRIORITY}; policy accept; }`)
  lines.push(`flush chain ${t} forward`)
  for (const r of NFT_RULES) lines.push(`add rule ${t} forward ${r}`)
  const v4 = plan.add.filter(p => p.version === 4).map(p => p.text)
  const v6 = plan.add.filter(p => p.version === 6).map(p => p.text)
  if (v4.length) lines.push(`add element ${t} lan4 { ${v4.join(', ')} }`)
  if (v6.length) lines.push(`add element ${t} lan6 { ${v6.join(', ')} }`)
  if (plan.create) {
    lines.push(`add element ${t} created { ${plan.createdSec} }`)
    const s4 = plan.seed.filter(a => !a.includes(':'))
    const s6 = plan.seed.filter(a => a.includes(':'))
    const zero = (a: string) => `${a} counter packets 0 bytes 0`
    if (s4.length) {
      lines.push(`add element ${t} tx4 { ${s4.map(zero).join(', ')} }`)
      lines.push(`add element ${t} rx4 { ${s4.map(zero).join(', ')} }`)
    }
    if (s6.length) {
      lines.push(`add element ${t} tx6 { ${s6.map(zero).join(', ')} }`)
      lines.push(`add element ${t} rx6 { ${s6.map(zero).join(', ')} }`)
    }
  }
  return lines.join('\n') + '\n'
}

export interface HostCounters {
  txBytes: bigint
  txPackets: bigint
  rxBytes: bigint
  rxPackets: bigint
}

export interface NftTable {
  /** The table handle (a recreated table gets a new one). */
  handle: number | null
  /** When netmon created the table (epoch ms), from its `created` set; null if missing. */
  createdMs: number | null
  /** The LAN prefixes in lan4/lan6 (canonical CIDR text). */
  lan: string[]
  /** The forward chain's rule count (4 when installed as netmon installs it). */
  rules: number
  /** Which of the per-host sets exist. */
  sets: string[]
  /** Per canonical address: bytes/packets it sent (saddr) and received (daddr). */
  hosts: Map<string, HostCounters>
}

type Json = Record<string, unknown>

const big = (v: unknown): bigint => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : 0n)

function elemAddr(e: unknown): {addr: string; counter: Json | null} | null {
  // {"elem": {"val": "10.0.0.1", "counter": {...}}} or a bare "10.0.0.1" (no counter yet)
  if (typeof e === 'string') return {addr: e, counter: null}
  const inner = (e as Json | null)?.elem as Json | undefined
  if (inner && typeof inner.val === 'string') return {addr: inner.val, counter: (inner.counter as Json) ?? null}
  return null
}

function prefixText(e: unknown): string | null {
  if (typeof e === 'string') return e.includes('/') ? e : `${e}/${e.includes(':') ? 128 : 32}`
  const p = (e as Json | null)?.prefix as Json | undefined
  if (p && typeof p.addr === 'string' && typeof p.len === 'number') return `${p.addr}/${p.len}`
  const r = (e as Json | null)?.range as unknown[] | undefined
  if (Array.isArray(r) && typeof r[0] === 'string') return `${r[0]}-${r[1]}`
  return null
}

/**
 * `nft -j list table inet netmon` (or `list set`) → counters per address. Counters are JSON
 * numbers: exact up to 2^53 bytes (8 PiB per host since the table was created).
 */
export function parseNftTable(text: string): NftTable {
  let doc: {nftables?: Json[]}
  try {
    doc = JSON.parse(text)
  } catch {
    throw new Error('nft -j printed something that is not JSON')
  }
  if (!Array.isArray(doc.nftables)) throw new Error('nft -j output has no "nftables" array')
  const out: NftTable = {handle: null, createdMs: null, lan: [], rules: 0, sets: [], hosts: new Map()}
  const host = (addr: string): HostCounters => {
    let h = out.hosts.get(addr)
    if (!h) {
      h = {txBytes: 0n, txPackets: 0n, rxBytes: 0n, rxPackets: 0n}
      out.hosts.set(addr, h)
    }
    return h
  }
  for (const item of doc.nftables) {
    const table = item.table as Json | undefined
    if (table && table.name === NFT_TABLE && table.family === NFT_FAMILY && typeof table.handle === 'number') out.handle = table.handle
    const rule = item.rule as Json | undefined
    if (rule && rule.table === NFT_TABLE && rule.chain === 'forward') out.rules++
    const set = item.set as Json | undefined
    if (!set || set.table !== NFT_TABLE || set.family !== NFT_FAMILY) continue
    const name = String(set.name)
    const elems = Array.isArray(set.elem) ? set.elem : []
    if (name === 'created') {
      const v = elems.find(e => typeof e === 'number')
      if (typeof v === 'number') out.createdMs = v * 1000
      continue
    }
    if (name === 'lan4' || name === 'lan6') {
      for (const e of elems) {
        const p = prefixText(e)
        if (p) out.lan.push(p)
      }
      continue
    }
    if (!(name in NFT_SETS)) continue
    out.sets.push(name)
    const tx = name.startsWith('tx')
    for (const e of elems) {
      const a = elemAddr(e)
      if (!a) continue
      let addr: string
      try {
        addr = normalizeIp(a.addr)
      } catch {
        continue
      }
      const h = host(addr)
      const bytes = big(a.counter?.bytes)
      const packets = big(a.counter?.packets)
      if (tx) {
        h.txBytes += bytes
        h.txPackets += packets
      } else {
        h.rxBytes += bytes
        h.rxPackets += packets
      }
    }
  }
  return out
}

/** `ip -j neigh show` → IP → MAC for entries that have a link-layer address (not FAILED/INCOMPLETE). */
export function parseNeighbors(text: string): Map<string, string> {
  const out = new Map<string, string>()
  let list: unknown
  try {
    list = JSON.parse(text)
  } catch {
    return out
  }
  if (!Array.isArray(list)) return out
  for (const n of list as Json[]) {
    const ip = n.dst
    const mac = n.lladdr
    const state = Array.isArray(n.state) ? (n.state as string[]) : []
    if (typeof ip !== 'string' || typeof mac !== 'string') continue
    if (state.includes('FAILED') || state.includes('INCOMPLETE')) continue
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac) || mac === '00:00:00:00:00:00') continue
    try {
      out.set(normalizeIp(ip), mac.toUpperCase())
    } catch {
      /* not an address */
    }
  }
  return out
}

export interface HostReading {
  /** Resolved MAC (upper case) or null: the reading is keyed by address. */
  mac: string | null
  /** The host's addresses in the table, sorted (IPv4 first). */
  addrs: string[]
  counters: HostCounters
}

/**
 * Per device: every address of one MAC summed (a host with an IPv4 and two IPv6 addresses is one
 * device with one counter), an address never resolved on its own.
 */
export function hostReadings(table: NftTable, macOf: (ip: string) => string | undefined): HostReading[] {
  const byKey = new Map<string, HostReading>()
  const addrs = [...table.hosts.keys()].sort((a, b) => (a.includes(':') === b.includes(':') ? (a < b ? -1 : a > b ? 1 : 0) : a.includes(':') ? 1 : -1))
  for (const addr of addrs) {
    const c = table.hosts.get(addr)!
    const mac = macOf(addr) ?? null
    const key = mac ?? `ip:${addr}`
    let r = byKey.get(key)
    if (!r) {
      r = {mac, addrs: [], counters: {txBytes: 0n, txPackets: 0n, rxBytes: 0n, rxPackets: 0n}}
      byKey.set(key, r)
    }
    r.addrs.push(addr)
    r.counters.txBytes += c.txBytes
    r.counters.txPackets += c.txPackets
    r.counters.rxBytes += c.rxBytes
    r.counters.rxPackets += c.rxPackets
  }
  return [...byKey.values()]
}

/**
 * The counter readings of one table read: one per device, counter mode, sent = what the host sent
 * (saddr), the table's creation time as the counters' boot time (a recreated table is a reset).
 */
export function tableReadings(table: NftTable, macOf: (ip: string) => string | undefined, ts: number): CounterReadingIn[] {
  return hostReadings(table, macOf).map(h => ({
    key: h.mac ? {mac: h.mac} : {ip: h.addrs[0]!},
    ts,
    counters: {bytesSent: h.counters.txBytes, bytesReceived: h.counters.rxBytes, packetsSent: h.counters.txPackets, packetsReceived: h.counters.rxPackets},
    ip: h.addrs[0]!,
    counterId: `nft:${h.addrs.join(',')}`,
    bootTimeMs: table.createdMs,
  }))
}

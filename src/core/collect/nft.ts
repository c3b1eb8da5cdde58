/**
 * Per-host accounting on a Linux router (issue 14, `source: nftables`). netmon creates and owns
 * one table, `table inet netmon`: two interval sets with the LAN prefixes it is given (lan4,
 * lan6), four dynamic sets with a counter per element (tx4/rx4/tx6/rx6: bytes and packets each
 * LAN address sent and received), a `created` set holding the table's creation time (epoch
 * seconds), and one base chain on the forward hook (priority filter + 10, policy accept) whose
 * four rules only update those sets. Nothing else in the ruleset is read or changed; uninstall
 * deletes that table and nothing else. docs/NFTABLES.md lists it all.
 *
 *   const src = nftSource({lan: ['192.168.1.0/24', 'fd00:1::/64']})
 *   await new CollectorRunner({sources: [src], store, maxRateBps}).tick()
 *
 * Readings: per device (addresses mapped to MACs through the neighbor table of the same
 * namespace, a last-known cache kept; an address never resolved is keyed by {ip}), counter mode
 * with the table's creation time as the counter's boot time: a table deleted and recreated (its
 * counters restart from zero) is a reset, never a spike.
 */
import {execFile} from 'node:child_process'
import {accessSync, constants, readFileSync} from 'node:fs'
import {delimiter, join} from 'node:path'
import {NetmonError} from '../errors.js'
import {
  NFT_FAMILY,
  NFT_RULES,
  NFT_TABLE,
  inPrefixes,
  installScript,
  parseNeighbors,
  parseNftTable,
  parsePrefixes,
  tableReadings,
  type LanPrefix,
  type NftTable,
} from './nft-parse.js'
import type {CounterSource} from './source.js'

export interface NftOptions {
  /** LAN prefixes (IPv4/IPv6 CIDR). Required to create the table; added to it when missing. */
  lan?: string[]
  /** Run nft/ip inside this network namespace (`ip netns exec NS`); default: the current one. */
  netns?: string
  /** Create/complete the table when a read finds it missing (default true). */
  ensure?: boolean
  /** Instance name (default "nft"). */
  name?: string
  now?: () => number
}

function which(bin: string): string | null {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean)
  for (const d of dirs) {
    const p = join(d, bin)
    try {
      accessSync(p, constants.X_OK)
      return p
    } catch {
      /* next */
    }
  }
  return null
}

/** CAP_NET_ADMIN (bit 12) in this process's effective set, or root. */
function hasNetAdmin(): boolean {
  if (typeof process.getuid === 'function' && process.getuid() === 0) return true
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))
    return m ? (BigInt(`0x${m[1]}`) & (1n << 12n)) !== 0n : false
  } catch {
    return false
  }
}

const unavailable = (message: string, hint?: string) => new NetmonError('internal', message, {hint, code: 'NFT_UNAVAILABLE'})

/** The nft binary, or one error naming what is missing (nft itself, or the privilege). */
export function nftRequirements(): string {
  if (process.platform !== 'linux') throw unavailable('nft source needs Linux (nftables)')
  const nft = which('nft')
  if (!nft) {
    if (which('iptables')) {
      throw unavailable('nft not found (iptables is installed, but the nft source needs nftables); install nftables', 'e.g. apt install nftables')
    }
    throw unavailable('nft not found; install nftables', 'e.g. apt install nftables')
  }
  if (!hasNetAdmin()) throw unavailable('nft source needs root (CAP_NET_ADMIN)', 'run as root, or give the process CAP_NET_ADMIN')
  return nft
}

function run(argv: string[], input: string | undefined, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(argv[0]!, argv.slice(1), {encoding: 'utf8', maxBuffer: 256 << 20, signal}, (err, stdout, stderr) => {
      if (err) {
        const msg = (stderr || err.message).trim().split('\n')[0]!
        const e = Object.assign(new Error(msg), {stderr: stderr ?? ''})
        reject(e)
      } else resolve(stdout)
    })
    if (input !== undefined) child.stdin!.end(input)
  })
}

export interface NftStatus {
  installed: boolean
  table: string
  netns: string | null
  created_at: string | null
  lan: string[]
  rules: number
  hosts: number
}

export class Nft {
  private readonly nft: string
  private readonly prefix: string[]

  constructor(readonly netns?: string) {
    this.nft = nftRequirements()
    this.prefix = netns ? ['ip', 'netns', 'exec', netns] : []
  }

  private async exec(args: string[], input?: string, signal?: AbortSignal): Promise<string> {
    try {
      return await run([...this.prefix, this.nft, ...args], input, signal)
    } catch (e) {
      const msg = (e as Error).message
      if (/Operation not permitted|Permission denied/i.test(msg)) throw unavailable('nft source needs root (CAP_NET_ADMIN)', msg)
      if ((e as Error).name === 'AbortError') throw e
      throw new NetmonError('internal', `nft ${args.join(' ')}: ${msg}`)
    }
  }

  /** The table parsed, or null when it does not exist. */
  async list(signal?: AbortSignal): Promise<NftTable | null> {
    try {
      return parseNftTable(await this.exec(['-j', 'list', 'table', NFT_FAMILY, NFT_TABLE], undefined, signal))
    } catch (e) {
      if (/No such file or directory|does not exist/i.test((e as Error).message)) return null
      throw e
    }
  }

  /** IP → MAC from the neighbor table of the same namespace. */
  async neighbors(signal?: AbortSignal): Promise<Map<string, string>> {
    try {
      return parseNeighbors(await run([...this.prefix, 'ip', '-j', 'neigh', 'show'], undefined, signal))
    } catch {
      return new Map()
    }
  }

  /**
   * Ensures the table, its sets and rules exist and holds every given prefix (idempotent). A new
   * table is stamped with its creation time and seeded with the LAN hosts the neighbor table
   * knows (zero counters), so their first traffic is counted from the first reading.
   */
  async install(lan: LanPrefix[], now = Date.now()): Promise<{created: boolean; added: string[]; table: NftTable}> {
    const before = await this.list()
    if (!before && lan.length === 0) {
      throw new NetmonError('usage', 'table inet netmon does not exist: give the LAN prefixes to count (--lan)', {
        hint: 'e.g. --lan 192.168.1.0/24,fd00:1::/64',
      })
    }
    const have = new Set(before?.lan ?? [])
    const add = lan.filter(p => !have.has(p.text))
    const create = !before || before.createdMs === null
    let seed: string[] = []
    if (create) {
      const all = [...(before?.lan ?? []).flatMap(t => parsePrefixes([t])), ...lan]
      seed = [...(await this.neighbors()).keys()].filter(ip => inPrefixes(ip, all))
    }
    await this.exec(['-f', '-'], installScript({add, create, createdSec: Math.floor(now / 1000), seed}))
    const table = await this.list()
    if (!table) throw new NetmonError('internal', 'nft accepted the table but it is not there')
    return {created: !before, added: add.map(p => p.text), table}
  }

  /** Removes addresses from the per-host sets (their counters restart at their next packet). */
  async forget(addrs: string[], signal?: AbortSignal): Promise<void> {
    const v4 = addrs.filter(a => !a.includes(':'))
    const v6 = addrs.filter(a => a.includes(':'))
    const t = `${NFT_FAMILY} ${NFT_TABLE}`
    const lines: string[] = []
    // `add` first: deleting an element that one set lacks would fail the whole transaction.
    for (const [list, sets] of [
      [v4, ['tx4', 'rx4']],
      [v6, ['tx6', 'rx6']],
    ] as const) {
      if (!list.length) continue
      for (const set of sets) lines.push(`add element ${t} ${set} { ${list.join(', ')} }`, `delete element ${t} ${set} { ${list.join(', ')} }`)
    }
    if (lines.length) await this.exec(['-f', '-'], lines.join('\n') + '\n', signal)
  }

  /** Deletes `table inet netmon` (and only it). False when it was not there. */
  async uninstall(): Promise<boolean> {
    if (!(await this.list())) return false
    await this.exec(['delete', 'table', NFT_FAMILY, NFT_TABLE])
    return true
  }

  async status(): Promise<NftStatus> {
    const t = await this.list()
    return {
      installed: t !== null,
      table: `${NFT_FAMILY} ${NFT_TABLE}`,
      netns: this.netns ?? null,
      created_at: t?.createdMs ? new Date(t.createdMs).toISOString() : null,
      lan: t?.lan ?? [],
      rules: t?.rules ?? 0,
      hosts: t?.hosts.size ?? 0,
    }
  }
}

export interface NftSource extends CounterSource {
  /** The table as the last read saw it. */
  lastTable(): NftTable | null
}

/** The nftables counter source (`source: nftables` in the agent's config, `bandwidth sample --from nft`). */
export function nftSource(opts: NftOptions = {}): NftSource {
  const lan = parsePrefixes(opts.lan ?? [])
  const now = opts.now ?? Date.now
  let nft: Nft | undefined
  let last: NftTable | null = null
  /** Last-known IP → MAC: a host whose neighbor entry expired keeps its device. */
  const cache = new Map<string, string>()
  return {
    name: opts.name ?? 'nft',
    kind: 'nft',
    bits: 64,
    lastTable: () => last,
    async read(signal) {
      nft ??= new Nft(opts.netns)
      // The table and the neighbor table are two processes (nft, ip): read them side by side.
      const [listed, neighbors] = await Promise.all([nft.list(signal), nft.neighbors(signal)])
      let table = listed
      if (!table && (opts.ensure === false || lan.length === 0)) {
        throw new NetmonError('not_found', 'table inet netmon does not exist', {
          hint: 'create it with `netmon collect nft --install --lan PREFIX` or give --lan',
        })
      }
      // Missing, or changed under us (rules flushed, a prefix missing): put it back as installed.
      const incomplete = !table || table.rules !== NFT_RULES.length || table.createdMs === null || lan.some(p => !table!.lan.includes(p.text))
      if (incomplete && opts.ensure !== false) table = (await nft.install(lan, now())).table
      const ts = now()
      // An address now answered by another MAC (a DHCP lease handed to a new device) must not
      // carry its counter to the new owner: its elements are removed (they restart from zero at
      // the next packet) and left out of this reading (the old owner's sum drops: a reset).
      const moved: string[] = []
      for (const [ip, mac] of neighbors) {
        const was = cache.get(ip)
        if (was !== undefined && was !== mac && table!.hosts.has(ip)) moved.push(ip)
        cache.set(ip, mac)
      }
      if (moved.length) {
        await nft.forget(moved, signal)
        for (const ip of moved) table!.hosts.delete(ip)
      }
      last = table
      return tableReadings(table!, ip => cache.get(ip), ts)
    },
  }
}

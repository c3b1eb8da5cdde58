/**
 * MAC vendor from the IEEE registry (issue 5), via the `oui-data` package: a JSON map from
 * upper-case hex prefix (6 digits for MA-L, 7 for MA-M, 9 for MA-S) to the registrant's name and
 * address. It is 5.6 MB, so it is read only when a scan actually has a universal MAC to name,
 * and searched in place (below), never parsed into an object.
 *
 * A locally administered MAC (the U/L bit set: phones' and laptops' per-network random MACs,
 * VMs, containers) has no registrant: it is reported as such (`mac_kind: "local"`), never as an
 * "unknown" vendor.
 */
import {readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {isLocallyAdministered, isMulticast} from '../devices/mac.js'

export type MacKind = 'universal' | 'local' | 'multicast'

export interface VendorInfo {
  mac_kind: MacKind
  /** Registrant's name (first line of the registry entry); null for local/multicast or unregistered. */
  vendor: string | null
}

/**
 * The registry file itself, searched in place: it lists one `"PREFIX": "name\naddress…"` entry per
 * line in three sorted runs (MA-L 6 digits, MA-M 7, MA-S 9). A binary search over a line index
 * (215 KB) of the raw bytes (5.6 MB, outside the JS heap) answers a lookup in microseconds without
 * parsing the JSON into an object of 53,000 strings (~35 MB RSS that a long-running agent would
 * keep: V8 seldom gives heap back to the system).
 */
interface Registry {
  buf: Buffer
  /** Byte offset of each entry line. */
  lines: Uint32Array
  /** Line index range [from, to) of each prefix length's sorted run. */
  runs: Map<number, [number, number]>
}

/** A registry or, when the file is not in the expected shape, the parsed map (the slow old way). */
type Table = {kind: 'registry'; r: Registry} | {kind: 'map'; m: Record<string, string>}

let table: Table | null = null

const ENTRY = /^ "([0-9A-F]{6,9})": "/

/** Indexes the raw registry; null when a line is not an entry or a run is not sorted. */
export function indexRegistry(buf: Buffer): Registry | null {
  const offsets: number[] = []
  const runs = new Map<number, [number, number]>()
  let prevKey = ''
  let pos = 0
  while (pos < buf.length) {
    let end = buf.indexOf(10, pos)
    if (end < 0) end = buf.length
    // `{` and `}` lines (and a trailing newline) carry no entry.
    if (end - pos > 2) {
      const head = buf.toString('latin1', pos, Math.min(end, pos + 16))
      const m = ENTRY.exec(head)
      if (!m) return null
      const key = m[1]!
      const n = offsets.length
      const run = runs.get(key.length)
      if (!run) runs.set(key.length, [n, n + 1])
      else {
        if (run[1] !== n || key <= prevKey) return null
        run[1] = n + 1
      }
      prevKey = key
      offsets.push(pos)
    }
    pos = end + 1
  }
  return offsets.length ? {buf, lines: Uint32Array.from(offsets), runs} : null
}

function keyAt(r: Registry, i: number, len: number): string {
  const at = r.lines[i]!
  return r.buf.toString('latin1', at + 2, at + 2 + len)
}

/** The registrant name (first line of the entry) for an exact prefix, or undefined. */
export function registryLookup(r: Registry, prefix: string): string | undefined {
  const run = r.runs.get(prefix.length)
  if (!run) return undefined
  let lo = run[0]
  let hi = run[1] - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const k = keyAt(r, mid, prefix.length)
    if (k === prefix) {
      const at = r.lines[mid]!
      let end = r.buf.indexOf(10, at)
      if (end < 0) end = r.buf.length
      const line = r.buf.toString('utf8', at, end).replace(/,\s*$/, '')
      return (JSON.parse(`{${line}}`) as Record<string, string>)[prefix]
    }
    if (k < prefix) lo = mid + 1
    else hi = mid - 1
  }
  return undefined
}

function loadTable(): Table {
  if (table) return table
  try {
    const require = createRequire(import.meta.url)
    const buf = readFileSync(require.resolve('oui-data'))
    const r = indexRegistry(buf)
    table = r ? {kind: 'registry', r} : {kind: 'map', m: JSON.parse(buf.toString('utf8')) as Record<string, string>}
  } catch {
    table = {kind: 'map', m: {}}
  }
  return table
}

/**
 * Drops the loaded registry: a long-running process (the agent's scan job) calls this after each
 * scan; the next lookup loads it again (~20 ms).
 */
export function releaseVendorTable(): void {
  table = null
}

export function macKind(mac: string): MacKind {
  if (isMulticast(mac)) return 'multicast'
  return isLocallyAdministered(mac) ? 'local' : 'universal'
}

/** `mac` normalised (AA:BB:CC:DD:EE:FF). Longest registered prefix wins (MA-S, MA-M, MA-L). */
export function lookupVendor(mac: string, db?: Record<string, string> | (() => Record<string, string>)): VendorInfo {
  const kind = macKind(mac)
  if (kind !== 'universal') return {mac_kind: kind, vendor: null}
  const t: Table = db === undefined ? loadTable() : {kind: 'map', m: typeof db === 'function' ? db() : db}
  const hex = mac.replace(/:/g, '').toUpperCase()
  for (const len of [9, 7, 6]) {
    const entry = t.kind === 'registry' ? registryLookup(t.r, hex.slice(0, len)) : t.m[hex.slice(0, len)]
    if (entry) return {mac_kind: kind, vendor: entry.split('\n')[0]!.trim() || null}
  }
  return {mac_kind: kind, vendor: null}
}

/** Human text for tables: the vendor, or why there is none. */
export function vendorLabel(info: {mac_kind?: MacKind | null; vendor?: string | null}, mac: string | null): string {
  if (!mac) return ''
  const kind = info.mac_kind ?? macKind(mac)
  if (kind === 'local') return '(locally administered)'
  if (kind === 'multicast') return '(multicast)'
  return info.vendor ?? '(unregistered)'
}

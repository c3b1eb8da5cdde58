/**
 * MAC vendor from the IEEE registry (issue 5), via the `oui-data` package: a JSON map from
 * upper-case hex prefix (6 digits for MA-L, 7 for MA-M, 9 for MA-S) to the registrant's name and
 * address. It is 5.6 MB, so it is read only when a scan actually has a universal MAC to name,
 * and at most once per process.
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

let table: Record<string, string> | null = null

function loadTable(): Record<string, string> {
  if (table) return table
  try {
    const require = createRequire(import.meta.url)
    table = JSON.parse(readFileSync(require.resolve('oui-data'), 'utf8')) as Record<string, string>
  } catch {
    table = {}
  }
  return table
}

/**
 * Drops the parsed registry (~35 MB RSS, 26 MB heap): a long-running process (the agent's scan
 * job) calls this after each scan; the next lookup reads it again (~100 ms).
 */
export function releaseVendorTable(): void {
  table = null
}

export function macKind(mac: string): MacKind {
  if (isMulticast(mac)) return 'multicast'
  return isLocallyAdministered(mac) ? 'local' : 'universal'
}

/** `mac` normalised (AA:BB:CC:DD:EE:FF). Longest registered prefix wins (MA-S, MA-M, MA-L). */
export function lookupVendor(mac: string, db: Record<string, string> | (() => Record<string, string>) = loadTable): VendorInfo {
  const kind = macKind(mac)
  if (kind !== 'universal') return {mac_kind: kind, vendor: null}
  const t = typeof db === 'function' ? db() : db
  const hex = mac.replace(/:/g, '').toUpperCase()
  for (const len of [9, 7, 6]) {
    const entry = t[hex.slice(0, len)]
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

/**
 * The one device resolver (issue 17): every command, API route and filter that takes a device
 * turns the user's text into a device row here, so `devices show "office printer"`,
 * `bandwidth stats --device laptop` and `GET /api/devices/192.168.1.20` follow one rule
 * (docs/SCAN.md "Naming a device"):
 *
 * 1. A MAC in any common notation (aa:bb:…, aa-bb-…, aabb.ccdd.eeff, bare hex) is that MAC.
 * 2. An IP address is the device there now (the most recently seen one if several claim it);
 *    else, from the IP history, the device that held it last (a former address).
 *    Digits and dots that are no IPv4 address (10.0.0.300), and colon-separated groups that are
 *    no MAC or IPv6 address (zz:zz), are malformed: exit 2.
 * 3. Anything else is a name: the promoted name (`devices promote --name`), compared
 *    case-insensitively and exactly; when no device has that name, the hostname (the same way);
 *    when no hostname matches exactly, the hostname's first label (`laptop` for `laptop.lan`).
 *    Two or more devices matching at the step that matched is ambiguous: exit 2, listing them.
 *
 * Not found is exit 1 (valid input, failed lookup), with `devices list` as the hint.
 */
import {NetmonError, invalidInput, notFound} from '../errors.js'
import type {Store, Tx} from '../store/index.js'
import {ipHolders} from './ip-history.js'
import {ipVersion, normalizeIp} from './ip.js'
import {tryNormalizeMac} from './mac.js'
import type {DeviceRow} from './repo.js'

type Reader = Pick<Store, 'get' | 'query'> | Pick<Tx, 'get' | 'query'>

/** How the text found the device. */
export type MatchedBy = 'mac' | 'ip' | 'former_ip' | 'name' | 'hostname'

export interface Resolved {
  device: DeviceRow
  matched_by: MatchedBy
}

/** What the text is, before the store is asked (pure). */
export type DeviceKey = {kind: 'mac'; mac: string} | {kind: 'ip'; ip: string} | {kind: 'name'; name: string}

export function classifyDeviceKey(text: string): DeviceKey {
  const s = text.trim()
  if (s === '') throw invalidInput('no device given', 'give a MAC, an IP address, a hostname or a promoted name')
  const mac = tryNormalizeMac(s)
  if (mac) return {kind: 'mac', mac}
  if (ipVersion(s)) return {kind: 'ip', ip: normalizeIp(s)}
  // Digits and dots only is a mistyped IPv4 address (10.0.0.300), not a host name (RFC 1123
  // names do not end in an all-numeric label): normalizeIp says what is wrong, exit 2.
  if (/^[\d.]+$/.test(s)) normalizeIp(s)
  // Colon-separated groups with no space (`zz:zz`, `AA:BB:CC:DD:EE`) are a mistyped MAC or IPv6
  // address: no host name has a colon, and a promoted name reading so could not be found anyway.
  if (/^[0-9a-z]{0,4}(:[0-9a-z]{0,4})+$/i.test(s)) {
    throw invalidInput(`malformed MAC or IP address "${s}"`, 'use six hex octets (AA:BB:CC:DD:EE:01, aa-bb-cc-dd-ee-01, aabb.ccdd.ee01) or an IP address')
  }
  return {kind: 'name', name: s}
}

/** True when promoting a device to this name would make the name unreachable (it reads as a MAC or IP). */
export function looksLikeAddress(name: string): boolean {
  try {
    return classifyDeviceKey(name).kind !== 'name'
  } catch {
    // A malformed address (10.0.0.300, zz:zz) reads as one all the same.
    return name.trim() !== ''
  }
}

/** One candidate for an error message: `AA:BB:CC:DD:EE:01 192.168.1.10 "laptop"`. */
export function candidateLabel(d: Pick<DeviceRow, 'mac' | 'ip' | 'name' | 'hostname'>): string {
  const who = d.name ?? d.hostname
  const host = d.name && d.hostname && d.hostname !== d.name ? `host ${d.hostname}` : ''
  return [d.mac ?? '-', d.ip ?? '-', who ? JSON.stringify(who) : '', host].filter(Boolean).join(' ')
}

export function ambiguous(text: string, candidates: readonly DeviceRow[]): NetmonError {
  const list = candidates.map(candidateLabel).join('; ')
  return new NetmonError('input', `"${text.trim()}" matches ${candidates.length} devices: ${list}`, {
    code: 'AMBIGUOUS_DEVICE',
    hint: 'give the MAC or IP address instead, or promote one of them with a name of its own',
  })
}

const fold = (s: string): string => s.normalize('NFC').toLowerCase()

/** Devices in a stable order for messages: by MAC, then id. */
const stable = (rows: DeviceRow[]): DeviceRow[] =>
  [...rows].sort((a, b) => String(a.mac ?? '~').localeCompare(String(b.mac ?? '~')) || Number(a.id) - Number(b.id))

/** Devices whose promoted name is `name` (case-insensitive, exact; surrounding spaces ignored). */
export async function devicesNamed(db: Reader, name: string): Promise<DeviceRow[]> {
  const want = fold(name.trim())
  // Promoted names are few (a person typed each one): compared in JS, so case folding is Unicode's.
  return (await db.query<DeviceRow>('SELECT * FROM devices WHERE name IS NOT NULL')).filter(d => fold(String(d.name).trim()) === want)
}

/**
 * Resolves `text` by the rule above; undefined when no device matches. Throws (exit 2) when it
 * is empty or ambiguous.
 */
export async function lookupDevice(db: Reader, text: string): Promise<Resolved | undefined> {
  const key = classifyDeviceKey(text)
  if (key.kind === 'mac') {
    const d = await db.get<DeviceRow>('SELECT * FROM devices WHERE mac = ?', [key.mac])
    return d ? {device: d, matched_by: 'mac'} : undefined
  }
  if (key.kind === 'ip') {
    const now = await db.get<DeviceRow>('SELECT * FROM devices WHERE ip = ? ORDER BY last_seen DESC, id DESC LIMIT 1', [key.ip])
    if (now) return {device: now, matched_by: 'ip'}
    const held = await ipHolders(db, key.ip)
    if (!held.length) return undefined
    const last = [...held].sort((a, b) => b.last_seen - a.last_seen || b.device_id - a.device_id)[0]!
    const d = await db.get<DeviceRow>('SELECT * FROM devices WHERE id = ?', [last.device_id])
    return d ? {device: d, matched_by: 'former_ip'} : undefined
  }
  const want = fold(key.name)
  const named = await devicesNamed(db, key.name)
  if (named.length === 1) return {device: named[0]!, matched_by: 'name'}
  if (named.length > 1) throw ambiguous(text, stable(named))
  let hosts = (await db.query<DeviceRow>('SELECT * FROM devices WHERE hostname = ? COLLATE NOCASE', [key.name])).filter(d => fold(String(d.hostname)) === want)
  if (!hosts.length && !key.name.includes('.')) {
    // `laptop` for `laptop.lan` / `laptop.fritz.box`: the short name people type.
    const like = `${key.name.replace(/[\\%_]/g, c => '\\' + c)}.%`
    hosts = (await db.query<DeviceRow>(`SELECT * FROM devices WHERE hostname LIKE ? ESCAPE '\\'`, [like])).filter(
      d => fold(String(d.hostname).split('.')[0]!) === want,
    )
  }
  if (hosts.length === 1) return {device: hosts[0]!, matched_by: 'hostname'}
  if (hosts.length > 1) throw ambiguous(text, stable(hosts))
  return undefined
}

export const NOT_FOUND_HINT = 'list devices with `netmon devices list`; a device is named by its MAC, IP, hostname or promoted name'

/** lookupDevice, with not found as an error (exit 1). */
export async function resolveDevice(db: Reader, text: string, hint = NOT_FOUND_HINT): Promise<Resolved> {
  const r = await lookupDevice(db, text)
  if (!r) {
    const s = text.trim()
    throw notFound(`no device ${classifyDeviceKey(s).kind === 'name' ? JSON.stringify(s) : s} in the store`, hint)
  }
  return r
}

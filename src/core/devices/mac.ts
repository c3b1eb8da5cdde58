import {invalidInput} from '../errors.js'

/**
 * MAC addresses are stored normalised as `AA:BB:CC:DD:EE:01`. Accepted input forms:
 * `aa:bb:cc:dd:ee:01`, `aa-bb-cc-dd-ee-01`, `aabb.ccdd.ee01` (Cisco), `aabbccddee01` (bare hex).
 */
const FORMS = [
  /^([0-9a-f]{2})[:]([0-9a-f]{2})[:]([0-9a-f]{2})[:]([0-9a-f]{2})[:]([0-9a-f]{2})[:]([0-9a-f]{2})$/i,
  /^([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})$/i,
  /^([0-9a-f]{2})([0-9a-f]{2})\.([0-9a-f]{2})([0-9a-f]{2})\.([0-9a-f]{2})([0-9a-f]{2})$/i,
  /^([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i,
]

export function tryNormalizeMac(text: string): string | null {
  // Spaces around a pasted address are forgiven; a newline or other control character is not
  // (`"AA:BB:CC:DD:EE:01\n"` in an NDJSON line is a broken producer, not a MAC).
  const s = text.replace(/^[ \t]+|[ \t]+$/g, '')
  for (const re of FORMS) {
    const m = re.exec(s)
    if (m) return m.slice(1, 7).join(':').toUpperCase()
  }
  return null
}

export function normalizeMac(text: string): string {
  const mac = tryNormalizeMac(text)
  if (mac === null) {
    throw invalidInput(`malformed MAC address "${text}"`, 'use six hex octets: AA:BB:CC:DD:EE:01, aa-bb-cc-dd-ee-01, aabb.ccdd.ee01 or aabbccddee01')
  }
  return mac
}

/** Second-least-significant bit of the first octet: locally administered (often randomised). */
export function isLocallyAdministered(mac: string): boolean {
  return (parseInt(mac.slice(0, 2), 16) & 0x02) !== 0
}

export function isMulticast(mac: string): boolean {
  return (parseInt(mac.slice(0, 2), 16) & 0x01) !== 0
}

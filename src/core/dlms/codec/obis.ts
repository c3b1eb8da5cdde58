/**
 * OBIS codes (IEC 62056-6-1): six value groups A..F, each 0..255, carried as the 6-byte COSEM
 * logical_name. Two text forms are accepted and printed:
 *   dotted  "1.0.1.8.0.255"   (what Gurux and most tools print)
 *   IEC     "1-0:1.8.0*255"   (the 62056-6-1 reduced form; "*F" may be omitted → F = 255, "&" is accepted for "*")
 */
import {NetmonError} from '../../errors.js'

export type Obis = Uint8Array

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/
const IEC = /^(\d{1,3})-(\d{1,3}):(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:[*&](\d{1,3}))?$/
const HEX = /^[0-9a-fA-F]{12}$/

export function tryParseObis(text: string): Obis | undefined {
  const t = text.trim()
  if (HEX.test(t)) return Uint8Array.from(Buffer.from(t, 'hex'))
  const m = DOTTED.exec(t) ?? IEC.exec(t)
  if (!m) return undefined
  const parts = m.slice(1, 7).map(g => (g === undefined ? 255 : Number(g)))
  if (parts.some(p => p > 255)) return undefined
  return Uint8Array.from(parts)
}

/** Parses an OBIS code or passes 6 bytes through. Throws an `input` NetmonError (exit 2) on bad text. */
export function parseObis(text: string | Uint8Array): Obis {
  if (typeof text !== 'string') {
    if (text.length !== 6) throw new NetmonError('input', `an OBIS code has 6 bytes, got ${text.length}`)
    return Uint8Array.from(text)
  }
  const o = tryParseObis(text)
  if (!o)
    throw new NetmonError('input', `invalid OBIS code "${text}"`, {
      hint: 'write it as A.B.C.D.E.F (1.0.1.8.0.255) or A-B:C.D.E*F (1-0:1.8.0*255), each group 0..255',
    })
  return o
}

export type ObisStyle = 'dotted' | 'iec'

export function formatObis(o: Uint8Array, style: ObisStyle = 'dotted'): string {
  if (o.length !== 6) return Buffer.from(o).toString('hex')
  const [a, b, c, d, e, f] = o
  return style === 'iec' ? `${a}-${b}:${c}.${d}.${e}*${f}` : `${a}.${b}.${c}.${d}.${e}.${f}`
}

export function obisEquals(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === 6 && b.length === 6 && a.every((v, i) => v === b[i])
}

/** Canonical map key. */
export function obisKey(o: Uint8Array): string {
  return formatObis(o)
}

/**
 * The first packet a MySQL/MariaDB server sends (issue 13: a banner grab printed "J", the length
 * byte of the greeting). Pure: bytes in, value out, no sockets.
 *
 * Every MySQL packet is a 4-byte header (3-byte little-endian payload length, 1-byte sequence id)
 * and its payload. The server speaks first with sequence id 0 and either
 * - the Initial Handshake Packet (Protocol::HandshakeV10): 0x0a, the server version (NUL
 *   terminated), the connection id (4 bytes LE), auth-plugin-data part 1 (8 bytes), a 0x00
 *   filler, capability flags… and the auth plugin name; or
 * - an ERR packet when it refuses the client before any handshake (host not allowed, too many
 *   connections): 0xff, the error code (2 bytes LE), an optional `#` + 5-character SQLSTATE, and
 *   the message.
 *
 * Only bytes that pass every check below are taken for MySQL, so other protocols are not misread:
 * sequence id 0, a payload length that fits a greeting (at most 1 KiB), protocol 10, a printable
 * version starting with "digits.digits", its NUL within the payload, the 0x00 filler after the
 * scramble; for an ERR packet a server error code (1000–9999, not a client one) and a message filling the
 * packet that reads as a sentence (starts with a letter, 8+ characters with a space, nearly all
 * ASCII, no control characters, valid UTF-8).
 */

/** A greeting longer than this is not a MySQL greeting (real ones are ~80–130 bytes). */
const MAX_PAYLOAD = 1024
const HEADER = 4
const PROTOCOL_10 = 0x0a
const ERR = 0xff
const CLIENT_SECURE_CONNECTION = 0x8000
const CLIENT_PLUGIN_AUTH = 0x80000

export interface MysqlHandshake {
  kind: 'handshake'
  /** MariaDB when the version says so, else MySQL (and servers that speak its protocol). */
  product: 'MySQL' | 'MariaDB'
  /** The version without MariaDB's "5.5.5-" compatibility prefix. */
  version: string
  /** The version string exactly as sent. */
  rawVersion: string
  connectionId: number
  /** The default auth plugin, when the packet names one. */
  authPlugin: string | null
}

export interface MysqlError {
  kind: 'error'
  product: 'MySQL' | 'MariaDB'
  code: number
  sqlState: string | null
  message: string
}

export type MysqlGreeting = MysqlHandshake | MysqlError

function payloadLength(b: Uint8Array): number {
  return b[0]! | (b[1]! << 8) | (b[2]! << 16)
}

/** Every byte printable ASCII (what a version string is made of). */
function printableAscii(b: Uint8Array): boolean {
  for (const x of b) if (x < 0x20 || x > 0x7e) return false
  return true
}

const isLetter = (x: number | undefined) => x !== undefined && ((x >= 0x41 && x <= 0x5a) || (x >= 0x61 && x <= 0x7a))

/** No control characters (an error message may be UTF-8: bytes ≥ 0x80 pass, DEL does not). */
function noControls(b: Uint8Array): boolean {
  for (const x of b) if ((x < 0x20 && x !== 0x09) || x === 0x7f) return false
  return true
}

/**
 * Whether `b` (what a server has said so far) starts like a MySQL greeting or ERR packet:
 * `complete` when the whole packet is there, `partial` when more is due (a banner grab waits for
 * it), null when these bytes are not MySQL's.
 */
export function mysqlPacketStatus(b: Uint8Array): 'complete' | 'partial' | null {
  // Header bytes so far must fit: length ≤ MAX_PAYLOAD (so byte 1 ≤ 4, byte 2 = 0), sequence id 0.
  if ((b.length > 1 && b[1]! > MAX_PAYLOAD >> 8) || (b.length > 2 && b[2] !== 0) || (b.length > 3 && b[3] !== 0)) return null
  if (b.length < HEADER + 1) return 'partial'
  const len = payloadLength(b)
  if (len < 4 || len > MAX_PAYLOAD || (b[4] !== PROTOCOL_10 && b[4] !== ERR)) return null
  return b.length >= HEADER + len ? 'complete' : 'partial'
}

/** Decodes a server's first packet; null when the bytes are not a MySQL greeting or ERR packet. */
export function decodeMysqlGreeting(b: Uint8Array): MysqlGreeting | null {
  if (b.length < HEADER + 1) return null
  const len = payloadLength(b)
  if (b[3] !== 0 || len < 4 || len > MAX_PAYLOAD) return null
  const end = Math.min(b.length, HEADER + len)
  const p = b.subarray(HEADER, end)
  if (p[0] === PROTOCOL_10) return decodeHandshake(p, len)
  if (p[0] === ERR && end === HEADER + len) return decodeError(p)
  return null
}

function decodeHandshake(p: Uint8Array, len: number): MysqlHandshake | null {
  const nul = p.indexOf(0, 1)
  if (nul < 0) return null
  const ver = p.subarray(1, nul)
  if (ver.length < 3 || ver.length > 100 || !printableAscii(ver)) return null
  const rawVersion = Buffer.from(ver).toString('latin1')
  if (!/^\d{1,3}\.\d{1,3}/.test(rawVersion)) return null
  // connection id (4), auth-plugin-data part 1 (8), filler 0x00 (1): within the declared length.
  const filler = nul + 1 + 4 + 8
  if (filler >= len || filler >= p.length || p[filler] !== 0) return null
  const connectionId = (p[nul + 1]! | (p[nul + 2]! << 8) | (p[nul + 3]! << 16) | (p[nul + 4]! << 24)) >>> 0
  const mariadb = /mariadb/i.test(rawVersion)
  const version = mariadb ? rawVersion.replace(/^5\.5\.5-(?=\d)/, '') : rawVersion
  return {kind: 'handshake', product: mariadb ? 'MariaDB' : 'MySQL', version, rawVersion, connectionId, authPlugin: authPlugin(p, filler + 1)}
}

/** The auth plugin name after the capability flags, scramble part 2 and reserved bytes, if sent. */
function authPlugin(p: Uint8Array, at: number): string | null {
  // capability flags low (2), charset (1), status (2), capability flags high (2), auth data length (1), reserved (10)
  if (p.length < at + 18) return null
  const caps = (p[at]! | (p[at + 1]! << 8) | (p[at + 5]! << 16) | (p[at + 6]! << 24)) >>> 0
  if (!(caps & CLIENT_PLUGIN_AUTH)) return null
  let i = at + 18
  if (caps & CLIENT_SECURE_CONNECTION) i += Math.max(13, p[at + 7]! - 8)
  if (i >= p.length) return null
  const stop = p.indexOf(0, i)
  const name = p.subarray(i, stop < 0 ? p.length : stop)
  return name.length > 0 && name.length <= 64 && printableAscii(name) ? Buffer.from(name).toString('latin1') : null
}

function decodeError(p: Uint8Array): MysqlError | null {
  if (p.length < 4) return null
  const code = p[1]! | (p[2]! << 8)
  // Server errors are 1000–1999 and 3000–4999 (MySQL 8 adds some above 6000); 2000–2999 and
  // 5000–5999 are client-side codes no server sends.
  if (code < 1000 || code > 9999 || (code >= 2000 && code < 3000) || (code >= 5000 && code < 6000)) return null
  let rest = p.subarray(3)
  let sqlState: string | null = null
  if (rest[0] === 0x23 /* # */ && rest.length >= 6 && /^[0-9A-Z]{5}$/.test(Buffer.from(rest.subarray(1, 6)).toString('latin1'))) {
    sqlState = Buffer.from(rest.subarray(1, 6)).toString('latin1')
    rest = rest.subarray(6)
  }
  // A message is text: it starts with a letter, has no control characters and is valid UTF-8.
  if (!isLetter(rest[0]) || !noControls(rest)) return null
  let message: string
  try {
    message = new TextDecoder('utf-8', {fatal: true}).decode(rest).trim()
  } catch {
    return null
  }
  // …and reads as a sentence: 8 characters or more with a space, nearly all of them ASCII.
  const ascii = message.replace(/[^\x20-\x7e]/g, '').length
  if (message.length < 8 || !message.includes(' ') || ascii < message.length * 0.9) return null
  return {kind: 'error', product: /mariadb/i.test(message) ? 'MariaDB' : 'MySQL', code, sqlState, message}
}

/**
 * The banner of a greeting: `MySQL 8.0.32`, `MariaDB 10.11.19-MariaDB-0+deb12u1` (without the
 * "5.5.5-" prefix), or for a refusal `MariaDB error 1130: Host '…' is not allowed to connect to
 * this MariaDB server` (with ` (SQLSTATE)` after the code when the server sent one).
 */
export function mysqlBannerText(g: MysqlGreeting): string {
  if (g.kind === 'handshake') return `${g.product} ${g.version}`
  return `${g.product} error ${g.code}${g.sqlState ? ` (${g.sqlState})` : ''}: ${g.message}`
}

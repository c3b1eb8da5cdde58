/**
 * DLMS/COSEM security suite 0 (AES-GCM-128) and HLS mechanism 5 (GMAC), pure: bytes in, bytes out,
 * node:crypto's AES-GCM, no I/O, no timers, no hidden state. The only state (the last invocation counter
 * accepted from a peer, the next one to send) lives in explicit objects the caller owns and passes in:
 * `FrameCounterGuard` (receive) and `InvocationCounter` (send).
 *
 * Green Book 9.2.3.3 / 9.2.7.2 (see test/vectors/dlms/codec-security.json for the worked values):
 *   security header = SC || IC (4 octets, big-endian)
 *   SC: bits 0-3 suite (0), bit 4 authentication, bit 5 encryption, bit 6 broadcast key, bit 7 compression
 *   IV  = originator's system title (8) || IC (4)
 *   AAD = SC || AK            (SC 0x30, authenticated encryption)
 *         SC || AK || APDU    (SC 0x10, authentication only: the APDU travels in clear)
 *         none                (SC 0x20, encryption only: no tag)
 *   tag = the first 12 octets of the GCM tag
 *   glo-xxx APDU          = tag || A-XDR length || SC || IC || information || tag(12)
 *   general-glo-ciphering = 0xDB || 08 || system title || A-XDR length || SC || IC || information || tag(12)
 *   HLS-GMAC f(challenge) = 0x10 || IC || GMAC(IV = own system title || IC, AAD = 0x10 || AK || challenge)
 *
 * Every received tag is verified (Gurux 1.0.197 does not for SC 0x30; a conformant receiver must), and
 * every failure is a DlmsError 'SECURITY' with a machine-readable `securityReason`. Keys never appear in
 * error messages.
 */
import {createCipheriv, createDecipheriv, timingSafeEqual} from 'node:crypto'
import {DlmsError} from '../errors.js'
import {Reader, Writer, toHex} from './bytes.js'

export const SC_AUTHENTICATION = 0x10
export const SC_ENCRYPTION = 0x20
export const SC_AUTHENTICATED_ENCRYPTION = 0x30
export type SecurityControl = 0x10 | 0x20 | 0x30

export const TAG_LENGTH = 12
export const SYSTEM_TITLE_LENGTH = 8
export const KEY_LENGTH = 16

/** Plain xDLMS tag → its glo-ciphering tag (IEC 62056-5-3 xDLMS APDU ASN.1). */
export const GLO_TAGS: Readonly<Record<number, number>> = {
  1: 0x21, // InitiateRequest → glo-initiate-request [33]
  8: 0x28, // InitiateResponse → glo-initiate-response [40]
  192: 0xc8, // get-request → glo-get-request [200]
  193: 0xc9, // set-request → glo-set-request [201]
  194: 0xca, // event-notification-request → glo-event-notification-request [202]
  195: 0xcb, // action-request → glo-action-request [203]
  196: 0xcc, // get-response → glo-get-response [204]
  197: 0xcd, // set-response → glo-set-response [205]
  199: 0xcf, // action-response → glo-action-response [207]
}
export const GENERAL_GLO_CIPHERING = 0xdb

const PLAIN_OF_GLO: Readonly<Record<number, number>> = Object.fromEntries(Object.entries(GLO_TAGS).map(([p, g]) => [g, Number(p)]))

export function isGloTag(tag: number): boolean {
  return PLAIN_OF_GLO[tag] !== undefined
}

/** Tags this module can unprotect: the glo-* forms above and general-glo-ciphering. */
export function isProtectedTag(tag: number): boolean {
  return tag === GENERAL_GLO_CIPHERING || isGloTag(tag)
}

export type SecurityReason =
  | 'tag-mismatch' // GCM tag / GMAC does not verify (tampered, wrong key, wrong system title)
  | 'truncated' // shorter than its header / length says
  | 'malformed' // bytes that cannot be a protected APDU
  | 'replay' // invocation counter not greater than the last accepted one
  | 'counter-exhausted' // our own invocation counter reached 2^32 - 1
  | 'system-title' // general-glo-ciphering carries another system title than expected
  | 'unsupported' // another suite, broadcast key, compression, a tag we do not protect
  | 'policy' // weaker protection than required
  | 'key' // a key / system title of the wrong length

export function securityError(reason: SecurityReason, message: string, hint?: string): DlmsError {
  return new DlmsError('SECURITY', message, {securityReason: reason, ...(hint ? {hint} : {})})
}

export interface SecurityKeys {
  /** Global unicast encryption key (block cipher key), 16 octets. */
  ek: Uint8Array
  /** Authentication key, 16 octets. */
  ak: Uint8Array
}

function checkKeys(k: SecurityKeys): void {
  if (k.ek.length !== KEY_LENGTH) throw securityError('key', `the encryption key must be ${KEY_LENGTH} octets, got ${k.ek.length}`)
  if (k.ak.length !== KEY_LENGTH) throw securityError('key', `the authentication key must be ${KEY_LENGTH} octets, got ${k.ak.length}`)
}

function checkSystemTitle(st: Uint8Array, whose: string): void {
  if (st.length !== SYSTEM_TITLE_LENGTH) throw securityError('key', `the ${whose} system title must be ${SYSTEM_TITLE_LENGTH} octets, got ${st.length}`)
}

function checkCounter(ic: number): void {
  if (!Number.isInteger(ic) || ic < 0 || ic > 0xffffffff) throw securityError('key', `invocation counter ${ic} is out of range 0..2^32-1`)
}

function iv(systemTitle: Uint8Array, ic: number): Buffer {
  const b = Buffer.allocUnsafe(12)
  b.set(systemTitle, 0)
  b.writeUInt32BE(ic, 8)
  return b
}

/** SC || AK (|| extra), the GCM additional authenticated data. */
function aad(sc: number, ak: Uint8Array, extra?: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(1 + ak.length + (extra?.length ?? 0))
  b[0] = sc
  b.set(ak, 1)
  if (extra) b.set(extra, 1 + ak.length)
  return b
}

/** AES-CTR counter block of GCM's first data block: IV || 00000002. */
function ctrIv(nonce: Buffer): Buffer {
  const b = Buffer.allocUnsafe(16)
  b.set(nonce, 0)
  b.writeUInt32BE(2, 12)
  return b
}

// ---------- frame counters (explicit state, owned by the caller) ----------

/**
 * Receive side: remembers the last invocation counter accepted from one peer (one system title) and refuses
 * a counter that is not greater. `check()` before verifying, `accept()` only after the tag verified, so a
 * forged frame can never move the counter.
 */
export class FrameCounterGuard {
  constructor(public last: number | undefined = undefined) {}

  check(ic: number): void {
    if (this.last !== undefined && ic <= this.last)
      throw securityError('replay', `invocation counter ${ic} is not greater than the last accepted ${this.last}: replayed or out-of-order frame refused`)
  }

  accept(ic: number): void {
    this.check(ic)
    this.last = ic
  }
}

/** Send side: the next invocation counter to use; never hands out the same value twice. */
export class InvocationCounter {
  constructor(public next: number = 0) {
    checkCounter(next)
  }

  /** Returns the counter to use now and advances it. */
  take(): number {
    if (this.next > 0xffffffff) throw securityError('counter-exhausted', 'the invocation counter is exhausted (2^32 frames): new keys are needed')
    const ic = this.next
    this.next++
    return ic
  }
}

// ---------- the AES-GCM primitive with DLMS's IV / AAD rules ----------

export interface GcmInput extends SecurityKeys {
  sc: number
  /** Originator's system title (8 octets). */
  systemTitle: Uint8Array
  invocationCounter: number
}

function checkSc(sc: number): SecurityControl {
  if ((sc & 0x0f) !== 0) throw securityError('unsupported', `security suite ${sc & 0x0f} is not supported (only suite 0, AES-GCM-128)`)
  if (sc & 0x40) throw securityError('unsupported', 'the broadcast key (SC bit 6) is not supported')
  if (sc & 0x80) throw securityError('unsupported', 'compression (SC bit 7) is not supported')
  const s = sc & 0x30
  if (s === 0) throw securityError('unsupported', `security control 0x${sc.toString(16).padStart(2, '0')} protects nothing`)
  return s as SecurityControl
}

/** Encrypts / authenticates; returns the information field and the 12-octet tag (empty for SC 0x20). */
function seal(p: GcmInput, plaintext: Uint8Array): {info: Uint8Array; tag: Uint8Array} {
  checkKeys(p)
  checkSystemTitle(p.systemTitle, 'originator')
  checkCounter(p.invocationCounter)
  const sc = checkSc(p.sc)
  const nonce = iv(p.systemTitle, p.invocationCounter)
  if (sc === SC_ENCRYPTION) {
    // GCM without a tag = AES-CTR starting at counter block IV || 00000002
    const c = createCipheriv('aes-128-ctr', p.ek, ctrIv(nonce))
    const out = c.update(plaintext)
    c.final()
    return {info: out, tag: EMPTY}
  }
  const c = createCipheriv('aes-128-gcm', p.ek, nonce, {authTagLength: TAG_LENGTH})
  if (sc === SC_AUTHENTICATION) {
    c.setAAD(aad(sc, p.ak, plaintext))
    c.final()
    return {info: plaintext, tag: c.getAuthTag()}
  }
  c.setAAD(aad(sc, p.ak))
  const ct = c.update(plaintext)
  c.final()
  return {info: ct, tag: c.getAuthTag()}
}

const EMPTY = new Uint8Array(0)

/** Returns the information field (ciphertext or the APDU in clear) followed by the 12-octet tag (none for SC 0x20). */
export function gcmProtect(p: GcmInput, plaintext: Uint8Array): Uint8Array {
  const {info, tag} = seal(p, plaintext)
  const out = new Uint8Array(info.length + tag.length)
  out.set(info, 0)
  out.set(tag, info.length)
  return out
}

/** Inverse of gcmProtect: verifies the tag (SC 0x10 / 0x30) and returns the plaintext APDU. */
export function gcmUnprotect(p: GcmInput, body: Uint8Array): Uint8Array {
  checkKeys(p)
  checkSystemTitle(p.systemTitle, 'originator')
  checkCounter(p.invocationCounter)
  const sc = checkSc(p.sc)
  const nonce = iv(p.systemTitle, p.invocationCounter)
  if (sc === SC_ENCRYPTION) {
    const d = createDecipheriv('aes-128-ctr', p.ek, ctrIv(nonce))
    const out = d.update(body)
    d.final()
    return out
  }
  if (body.length < TAG_LENGTH) throw securityError('truncated', `protected APDU shorter than its ${TAG_LENGTH}-octet authentication tag`)
  const info = body.subarray(0, body.length - TAG_LENGTH)
  const d = createDecipheriv('aes-128-gcm', p.ek, nonce, {authTagLength: TAG_LENGTH})
  d.setAuthTag(body.subarray(body.length - TAG_LENGTH))
  try {
    if (sc === SC_AUTHENTICATION) {
      d.setAAD(aad(sc, p.ak, info))
      d.final()
      return info.slice()
    }
    d.setAAD(aad(sc, p.ak))
    const pt = d.update(info)
    d.final()
    return pt
  } catch {
    throw securityError(
      'tag-mismatch',
      `authentication tag of the protected APDU does not verify (IC ${p.invocationCounter}): tampered frame, wrong key or wrong system title`,
      'check the encryption and authentication keys and the meter system title',
    )
  }
}

// ---------- protected APDUs ----------

export interface ProtectOptions extends SecurityKeys {
  sc: number
  /** The originator's (our) system title. */
  systemTitle: Uint8Array
  invocationCounter: number
  /** general-glo-ciphering (0xDB, carries the system title) instead of the glo-* tag of the APDU. */
  general?: boolean
}

/** Protects one plain xDLMS APDU (its first octet selects the glo-* tag). */
export function protectApdu(apdu: Uint8Array, o: ProtectOptions): Uint8Array {
  if (apdu.length === 0) throw securityError('malformed', 'cannot protect an empty APDU')
  const tag = o.general ? GENERAL_GLO_CIPHERING : GLO_TAGS[apdu[0]!]
  if (tag === undefined) throw securityError('unsupported', `APDU tag 0x${apdu[0]!.toString(16)} has no glo-ciphering form`)
  const {info, tag: auth} = seal(o, apdu)
  const contentLength = 5 + info.length + auth.length
  const lenBytes = contentLength < 0x80 ? 1 : contentLength <= 0xff ? 2 : contentLength <= 0xffff ? 3 : contentLength <= 0xffffff ? 4 : 5
  const head = 1 + (o.general ? 1 + SYSTEM_TITLE_LENGTH : 0)
  const out = new Uint8Array(head + lenBytes + contentLength)
  out[0] = tag
  let at = 1
  if (o.general) {
    out[1] = SYSTEM_TITLE_LENGTH
    out.set(o.systemTitle, 2)
    at = head
  }
  if (lenBytes === 1) out[at++] = contentLength
  else {
    out[at++] = 0x80 | (lenBytes - 1)
    for (let i = lenBytes - 2; i >= 0; i--) out[at++] = (contentLength >>> (8 * i)) & 0xff
  }
  out[at++] = o.sc
  out[at++] = (o.invocationCounter >>> 24) & 0xff
  out[at++] = (o.invocationCounter >>> 16) & 0xff
  out[at++] = (o.invocationCounter >>> 8) & 0xff
  out[at++] = o.invocationCounter & 0xff
  out.set(info, at)
  out.set(auth, at + info.length)
  return out
}

export interface ParsedProtectedApdu {
  tag: number
  /** The plain tag a glo-* tag stands for (undefined for general-glo-ciphering: known only after decryption). */
  plainTag?: number
  /** general-glo-ciphering only. */
  systemTitle?: Uint8Array
  sc: number
  invocationCounter: number
  /** Information (ciphertext or APDU in clear) || tag. */
  body: Uint8Array
}

/** Splits a protected APDU into its fields; refuses truncated or overlong units. No cryptography. */
export function parseProtectedApdu(bytes: Uint8Array): ParsedProtectedApdu {
  const r = new Reader(bytes)
  const short = (what: string): never => {
    throw securityError('truncated', `protected APDU truncated: ${what} (${bytes.length} octet(s))`)
  }
  if (bytes.length < 1) short('empty')
  const tag = r.u8()
  if (!isProtectedTag(tag)) throw securityError('unsupported', `tag 0x${tag.toString(16).padStart(2, '0')} is not a glo-ciphering APDU`)
  let systemTitle: Uint8Array | undefined
  try {
    if (tag === GENERAL_GLO_CIPHERING) {
      const stLen = r.berLength()
      if (stLen !== SYSTEM_TITLE_LENGTH) throw securityError('malformed', `general-glo-ciphering system title of ${stLen} octets (expected 8)`)
      if (r.remaining < stLen) short('in the system title')
      systemTitle = r.bytes(stLen).slice()
    }
    const len = r.berLength()
    if (r.remaining < len) short(`length says ${len} octets, ${r.remaining} present`)
    if (r.remaining > len) throw securityError('malformed', `${r.remaining - len} octet(s) after the protected APDU`)
    if (len < 5) short('shorter than the 5-octet security header')
    const sc = r.u8()
    const invocationCounter = r.u32()
    const body = r.bytes(len - 5)
    return {tag, ...(PLAIN_OF_GLO[tag] === undefined ? {} : {plainTag: PLAIN_OF_GLO[tag]}), ...(systemTitle ? {systemTitle} : {}), sc, invocationCounter, body}
  } catch (e) {
    if (e instanceof DlmsError) throw e
    return short('in the header')
  }
}

export interface UnprotectOptions extends SecurityKeys {
  /** The originator's (peer's) system title: the IV for glo-*, and what general-glo-ciphering must carry. */
  systemTitle: Uint8Array
  /** Replay protection for this peer; checked before and advanced only after the tag verified. */
  guard?: FrameCounterGuard
  /** Security bits the APDU must at least have (e.g. 0x30). Default: any of 0x10 / 0x20 / 0x30. */
  require?: number
}

export interface UnprotectedApdu {
  apdu: Uint8Array
  tag: number
  sc: number
  invocationCounter: number
  general: boolean
}

/** Verifies and deciphers one protected APDU. Throws DlmsError 'SECURITY' on every failure. */
export function unprotectApdu(bytes: Uint8Array, o: UnprotectOptions): UnprotectedApdu {
  checkSystemTitle(o.systemTitle, 'peer')
  const p = parseProtectedApdu(bytes)
  const sc = checkSc(p.sc)
  if (o.require !== undefined && (sc & o.require) !== (o.require & 0x30))
    throw securityError('policy', `protected APDU with security control 0x${p.sc.toString(16)} is weaker than the required 0x${o.require.toString(16)}`)
  if (p.systemTitle && !timingSafeEqual(p.systemTitle, o.systemTitle))
    throw securityError(
      'system-title',
      `general-glo-ciphering from system title ${toHex(p.systemTitle)}, expected ${toHex(o.systemTitle)}`,
      'check the meter system title',
    )
  o.guard?.check(p.invocationCounter)
  const apdu = gcmUnprotect({sc: p.sc, systemTitle: o.systemTitle, invocationCounter: p.invocationCounter, ek: o.ek, ak: o.ak}, p.body)
  if (p.plainTag !== undefined && apdu.length > 0 && sc !== SC_ENCRYPTION && apdu[0] !== p.plainTag)
    throw securityError('malformed', `glo tag 0x${p.tag.toString(16)} carries an APDU with tag 0x${apdu[0]!.toString(16)}`)
  o.guard?.accept(p.invocationCounter)
  return {apdu, tag: p.tag, sc: p.sc, invocationCounter: p.invocationCounter, general: p.tag === GENERAL_GLO_CIPHERING}
}

// ---------- HLS mechanism 5 (GMAC) ----------

export interface HlsGmacInput extends SecurityKeys {
  /** System title of the party computing f (client for f(StoC), server for f(CtoS)). */
  systemTitle: Uint8Array
  invocationCounter: number
  /** The other party's challenge (StoC for the client, CtoS for the server). */
  challenge: Uint8Array
}

/** f(challenge) = 0x10 || IC || GMAC tag (17 octets). */
export function hlsGmac(p: HlsGmacInput): Uint8Array {
  const tag = gcmProtect({sc: SC_AUTHENTICATION, systemTitle: p.systemTitle, invocationCounter: p.invocationCounter, ek: p.ek, ak: p.ak}, p.challenge).subarray(
    p.challenge.length,
  )
  const w = new Writer(5 + TAG_LENGTH).u8(SC_AUTHENTICATION).u32(p.invocationCounter).bytes(tag)
  return w.finish()
}

/**
 * Checks f(challenge) received from the peer: recomputes it with the peer's system title and the IC it carries.
 * Returns that IC. Throws SECURITY 'tag-mismatch' when it does not verify.
 */
export function verifyHlsGmac(f: Uint8Array, p: Omit<HlsGmacInput, 'invocationCounter'>, who = 'peer'): number {
  if (f.length !== 5 + TAG_LENGTH) throw securityError('truncated', `HLS-GMAC proof from the ${who} is ${f.length} octets (expected 17)`)
  if (f[0] !== SC_AUTHENTICATION) throw securityError('unsupported', `HLS-GMAC proof with security control 0x${f[0]!.toString(16)} (expected 0x10)`)
  const ic = ((f[1]! << 24) | (f[2]! << 16) | (f[3]! << 8) | f[4]!) >>> 0
  const expected = hlsGmac({...p, invocationCounter: ic})
  if (!timingSafeEqual(expected, f))
    throw securityError(
      'tag-mismatch',
      `HLS-GMAC authentication failed: the ${who}'s proof f(challenge) does not verify`,
      'check the authentication and encryption keys and the system titles on both sides',
    )
  return ic
}

/** Parses a hex / file key or system title; the value is never echoed in errors. */
export function parseKeyHex(text: string, what: string, length: number): Uint8Array {
  const clean = text.trim().replace(/[\s:]/g, '')
  if (!/^[0-9a-fA-F]*$/.test(clean) || clean.length !== length * 2)
    throw new DlmsError('ENCODE', `${what} must be ${length} octets as ${length * 2} hex digits (got ${clean.length} characters; value not shown)`)
  return new Uint8Array(Buffer.from(clean, 'hex'))
}

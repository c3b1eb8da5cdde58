/**
 * The per-association security state of one side (client or simulated meter), pure: keys, own and peer
 * system titles, the send counter, the receive guard and which protected form to use. DlmsClient and the
 * simulator's CosemServerSession each own one; the codec (codec/security.ts) stays stateless.
 */
import {randomBytes} from 'node:crypto'
import {DlmsError} from './errors.js'
import {
  FrameCounterGuard,
  InvocationCounter,
  KEY_LENGTH,
  SYSTEM_TITLE_LENGTH,
  isProtectedTag,
  protectApdu,
  securityError,
  unprotectApdu,
  type SecurityControl,
} from './codec/security.js'
import {toHex} from './codec/bytes.js'

export interface HlsGmacSecurity {
  level: 'hls-gmac'
  /** Our system title (8 octets): the client's for DlmsClient, the meter's for the simulator. */
  systemTitle: Uint8Array
  /** Global unicast encryption key (16 octets). */
  ek: Uint8Array
  /** Authentication key (16 octets). */
  ak: Uint8Array
  /**
   * Protection of the xDLMS APDUs (including the InitiateRequest/Response in the AARQ/AARE): 0x30 authenticated
   * encryption (default), 0x10 authentication only, 0x20 encryption only, 0 = none (HLS authenticates the
   * association but the APDUs travel in clear).
   */
  securityControl?: 0 | SecurityControl
  /**
   * glo-* (default when general-protection is not negotiated), general-glo-ciphering (0xDB, with system title),
   * or 'auto': general-glo once HLS succeeded when the meter negotiated general-protection (what Gurux does).
   * Default 'auto'.
   */
  ciphering?: 'auto' | 'glo' | 'general-glo'
  /** The peer's system title we expect (client: the meter's). Absent = learnt from the AARE / AARQ. */
  peerSystemTitle?: Uint8Array
  /** First invocation counter we send. Default 1. Persist `nextInvocationCounter` across restarts (see onInvocationCounter). */
  invocationCounter?: number
  /** First counter NOT to use (end of a reservation, see counters.ts); reaching it fails with counter-exhausted. */
  invocationCounterLimit?: number
  /** Called with the next unused invocation counter each time one is used (to persist it). */
  onInvocationCounter?: (next: number) => void
  /** Last invocation counter accepted from the peer (replay protection across associations). */
  lastPeerInvocationCounter?: number
  /** Our HLS challenge (CtoS for the client, StoC for the meter). Default: 16 random octets each association. */
  challenge?: () => Uint8Array
}

export function validateSecurity(s: HlsGmacSecurity): void {
  if (s.level !== 'hls-gmac') throw new DlmsError('ENCODE', `security level "${String(s.level)}" is not supported (only hls-gmac)`)
  if (!(s.systemTitle instanceof Uint8Array) || s.systemTitle.length !== SYSTEM_TITLE_LENGTH)
    throw new DlmsError('ENCODE', `system title must be ${SYSTEM_TITLE_LENGTH} octets`)
  if (s.peerSystemTitle && s.peerSystemTitle.length !== SYSTEM_TITLE_LENGTH)
    throw new DlmsError('ENCODE', `meter system title must be ${SYSTEM_TITLE_LENGTH} octets`)
  if (!(s.ek instanceof Uint8Array) || s.ek.length !== KEY_LENGTH)
    throw new DlmsError('ENCODE', `encryption key must be ${KEY_LENGTH} octets (value not shown)`)
  if (!(s.ak instanceof Uint8Array) || s.ak.length !== KEY_LENGTH)
    throw new DlmsError('ENCODE', `authentication key must be ${KEY_LENGTH} octets (value not shown)`)
  const sc = s.securityControl ?? 0x30
  if (![0, 0x10, 0x20, 0x30].includes(sc)) throw new DlmsError('ENCODE', `security control 0x${sc.toString(16)} (expected 0, 0x10, 0x20 or 0x30)`)
}

export class SecurityContext {
  readonly sc: 0 | SecurityControl
  readonly send: InvocationCounter
  /** Receive guard of the current peer (replaced when the peer changes). */
  guard: FrameCounterGuard
  peer: Uint8Array | undefined
  /** Use general-glo-ciphering for the next protected APDUs. */
  general: boolean

  /** `shared` lets a meter keep one send counter (and per-client guards) across associations. */
  constructor(
    readonly config: HlsGmacSecurity,
    shared: {send?: InvocationCounter; guard?: FrameCounterGuard} = {},
  ) {
    validateSecurity(config)
    this.sc = config.securityControl ?? 0x30
    this.send = shared.send ?? new InvocationCounter(config.invocationCounter ?? 1)
    this.guard = shared.guard ?? new FrameCounterGuard(config.lastPeerInvocationCounter)
    this.peer = config.peerSystemTitle
    this.general = config.ciphering === 'general-glo'
  }

  get systemTitle(): Uint8Array {
    return this.config.systemTitle
  }

  get keys(): {ek: Uint8Array; ak: Uint8Array} {
    return {ek: this.config.ek, ak: this.config.ak}
  }

  get protecting(): boolean {
    return this.sc !== 0
  }

  challenge(): Uint8Array {
    return this.config.challenge ? this.config.challenge() : new Uint8Array(randomBytes(16))
  }

  /** Takes the next invocation counter (and reports the one after it for persistence). */
  takeCounter(): number {
    const limit = this.config.invocationCounterLimit
    if (limit !== undefined && this.send.next >= limit)
      throw securityError('counter-exhausted', 'the reserved invocation counters are used up: reconnect to reserve more')
    const ic = this.send.take()
    if (this.config.onInvocationCounter) this.report(this.send.next)
    return ic
  }

  private report(next: number): void {
    try {
      this.config.onInvocationCounter?.(next)
    } catch {
      // persistence errors are the caller's to report; never break the exchange here
    }
  }

  /** Sets / checks the peer system title announced in the AARE (client) or AARQ (meter). */
  learnPeer(st: Uint8Array | undefined, who: string): void {
    if (!st || st.length !== SYSTEM_TITLE_LENGTH)
      throw securityError('system-title', `the ${who} sent no ${SYSTEM_TITLE_LENGTH}-octet system title (AP title)`, 'is HLS-GMAC configured on the meter?')
    if (this.peer && toHex(this.peer) !== toHex(st))
      throw securityError('system-title', `the ${who} system title is ${toHex(st)}, expected ${toHex(this.peer)}`, 'check the configured meter system title')
    this.peer = st.slice()
  }

  /** Protects a plain APDU with our system title and the next counter. */
  protect(apdu: Uint8Array, general = this.general): Uint8Array {
    if (this.sc === 0) return apdu
    const c = this.config
    return protectApdu(apdu, {ek: c.ek, ak: c.ak, sc: this.sc, systemTitle: c.systemTitle, invocationCounter: this.takeCounter(), general})
  }

  /** Verifies and deciphers a protected APDU from the peer (guarded against replay). */
  unprotect(bytes: Uint8Array): {apdu: Uint8Array; general: boolean} {
    if (!this.peer) throw securityError('system-title', 'protected APDU before the peer system title is known')
    const c = this.config
    const u = unprotectApdu(bytes, {ek: c.ek, ak: c.ak, systemTitle: this.peer, guard: this.guard, require: this.sc === 0 ? undefined : this.sc})
    return {apdu: u.apdu, general: u.general}
  }

  static isProtected(bytes: Uint8Array): boolean {
    return bytes.length > 0 && isProtectedTag(bytes[0]!)
  }
}

/**
 * HDLC link state machines (IEC 62056-46 clause 6.4) for the client (primary station) and the server
 * (secondary station), sans-IO. Only what DLMS uses: normal response mode, window 1, I-frames with
 * N(S)/N(R) modulo 8, RR to ask for / acknowledge segments, SNRM/UA with parameter negotiation, DISC/UA|DM.
 *
 * Segmentation (cl. 6.4.4.4.3.1, S bit of the format field): an APDU longer than the negotiated maximum
 * information field is sent as several I-frames; every one but the last has S = 1 and is acknowledged by
 * an RR from the receiver, which is also how the receiver asks for the next one.
 * The LLC header (E6 E6 00 from client, E6 E7 00 from server) travels only in the first segment.
 */
import {DlmsError, malformed} from '../errors.js'
import {concatBytes} from '../codec/bytes.js'
import {
  addressEquals,
  clientAddress as mkClientAddress,
  decodeHdlcParams,
  encodeHdlcFrame,
  encodeHdlcParams,
  formatAddress,
  HDLC_DEFAULT_MAX_INFO,
  HDLC_DEFAULT_WINDOW,
  HdlcStreamDecoder,
  LLC_REQUEST,
  LLC_RESPONSE,
  type DecodedHdlcFrame,
  type HdlcAddress,
  type HdlcControl,
  type HdlcParams,
} from '../codec/hdlc.js'
import type {DlmsFrameEvent, LinkEvent} from './types.js'

export const DEFAULT_MAX_APDU = 1 << 20

export interface NegotiatedHdlc {
  /** Our maximum information field when sending. */
  maxInfoTx: number
  /** Our maximum information field when receiving. */
  maxInfoRx: number
  windowTx: number
  windowRx: number
}

function stripLlc(info: Uint8Array): Uint8Array {
  // Real meters always send the LLC header; Gurux's RLRE frame comes without it, so it is optional here.
  if (info.length >= 3 && info[0] === 0xe6 && (info[1] === 0xe7 || info[1] === 0xe6) && info[2] === 0x00) return info.subarray(3)
  return info
}

function frameEvent(direction: 'sent' | 'received', bytes: number, payloadBytes: number, kind: DlmsFrameEvent['kind'], apduComplete: boolean): DlmsFrameEvent {
  return {direction, bytes, payloadBytes, kind, framing: 'hdlc', apduComplete}
}

/** Shared by both stations: sequence numbers, segmentation out, reassembly in. */
abstract class HdlcStation {
  protected vs = 0
  protected vr = 0
  protected readonly decoder = new HdlcStreamDecoder()
  private rxParts: Uint8Array[] = []
  private rxSize = 0
  private txQueue: Uint8Array[] = []
  negotiated: NegotiatedHdlc = {
    maxInfoTx: HDLC_DEFAULT_MAX_INFO,
    maxInfoRx: HDLC_DEFAULT_MAX_INFO,
    windowTx: HDLC_DEFAULT_WINDOW,
    windowRx: HDLC_DEFAULT_WINDOW,
  }

  protected abstract readonly isClient: boolean
  protected abstract local(): HdlcAddress
  protected abstract remote(): HdlcAddress

  constructor(protected readonly maxApdu: number) {}

  protected resetSequence(): void {
    this.vs = 0
    this.vr = 0
    this.rxParts = []
    this.rxSize = 0
    this.txQueue = []
  }

  protected frame(control: HdlcControl, info: Uint8Array = new Uint8Array(0), segmented = false): Uint8Array {
    return encodeHdlcFrame({segmented, dest: this.remote(), src: this.local(), control, info})
  }

  protected sendControl(control: HdlcControl, info?: Uint8Array): LinkEvent {
    const bytes = this.frame(control, info)
    return {type: 'send', bytes, frame: frameEvent('sent', bytes.length, 0, 'control', false)}
  }

  /** True while a segmented APDU of ours waits for the peer's RR. */
  get sending(): boolean {
    return this.txQueue.length > 0
  }

  /** Queues an APDU: LLC + APDU cut into information fields of at most maxInfoTx bytes; returns the first I-frame. */
  sendApdu(apdu: Uint8Array): LinkEvent[] {
    const data = concatBytes([this.isClient ? LLC_REQUEST : LLC_RESPONSE, apdu])
    const size = Math.max(1, this.negotiated.maxInfoTx)
    this.txQueue = []
    for (let i = 0; i < data.length; i += size) this.txQueue.push(data.subarray(i, i + size))
    return [this.nextSegment(true)]
  }

  private nextSegment(first: boolean): LinkEvent {
    const info = this.txQueue.shift()!
    const more = this.txQueue.length > 0
    const bytes = this.frame({type: 'I', ns: this.vs, nr: this.vr, pf: true}, info, more)
    this.vs = (this.vs + 1) & 7
    const payload = first ? info.length - 3 : info.length
    return {type: 'send', bytes, frame: frameEvent('sent', bytes.length, payload, this.isClient ? 'request' : 'response', !more)}
  }

  /** An I-frame addressed to us: check N(S), reassemble, acknowledge segments with RR. */
  protected onIFrame(f: DecodedHdlcFrame, ns: number, wire: number): LinkEvent[] {
    const events: LinkEvent[] = []
    if (ns !== this.vr) return [{type: 'error', error: new DlmsError('MALFORMED_FRAME', `HDLC sequence error: expected N(S)=${this.vr}, received ${ns}`)}]
    this.vr = (this.vr + 1) & 7
    const first = this.rxParts.length === 0
    const info = first ? stripLlc(f.info) : f.info
    this.rxSize += info.length
    if (this.rxSize > this.maxApdu) {
      this.rxParts = []
      this.rxSize = 0
      return [{type: 'error', error: malformed(`reassembled APDU exceeds ${this.maxApdu} bytes`)}]
    }
    this.rxParts.push(info)
    events.push({type: 'received', frame: frameEvent('received', wire, info.length, this.isClient ? 'response' : 'request', !f.segmented)})
    if (f.segmented) {
      events.push(this.sendControl({type: 'RR', nr: this.vr, pf: true}))
      return events
    }
    const apdu = this.rxParts.length === 1 ? this.rxParts[0]! : concatBytes(this.rxParts)
    this.rxParts = []
    this.rxSize = 0
    events.push({type: 'apdu', apdu: apdu.slice()})
    return events
  }

  /** RR from the peer: acknowledges our segment and asks for the next one. */
  protected onRR(): LinkEvent[] {
    if (this.txQueue.length > 0) return [this.nextSegment(false)]
    return []
  }

  protected decode(chunk: Uint8Array): Array<{frame: DecodedHdlcFrame; bytes: number} | {error: DlmsError}> {
    const out: Array<{frame: DecodedHdlcFrame; bytes: number} | {error: DlmsError}> = []
    for (const ev of this.decoder.push(chunk)) {
      if (ev.type === 'frame') out.push({frame: ev.frame, bytes: ev.bytes})
      else if (ev.type === 'error') out.push({error: malformed(`invalid HDLC frame: ${ev.reason}`, ev.offset)})
    }
    return out
  }

  /** Bytes of a frame that started arriving but is not complete. */
  get pendingBytes(): number {
    return this.decoder.pending
  }
}

export interface HdlcClientOptions {
  clientAddress: number
  server: HdlcAddress
  /** Parameters proposed in SNRM. None → a plain SNRM (what Gurux sends by default; the meter answers with its own). */
  propose?: HdlcParams
  maxApduSize?: number
}

export class HdlcClientLink extends HdlcStation {
  state: 'idle' | 'connecting' | 'connected' | 'disconnecting' | 'closed' = 'idle'
  protected readonly isClient = true
  private readonly me: HdlcAddress
  /** Parameters the meter's UA carried, as sent (its own point of view). */
  uaParams: HdlcParams | undefined

  constructor(private readonly opts: HdlcClientOptions) {
    super(opts.maxApduSize ?? DEFAULT_MAX_APDU)
    this.me = mkClientAddress(opts.clientAddress)
  }

  protected local(): HdlcAddress {
    return this.me
  }

  protected remote(): HdlcAddress {
    return this.opts.server
  }

  /** SNRM (set normal response mode) — opens the link. */
  connect(): LinkEvent[] {
    this.state = 'connecting'
    this.resetSequence()
    return [this.sendControl({type: 'SNRM', pf: true}, encodeHdlcParams(this.opts.propose ?? {}))]
  }

  disconnect(): LinkEvent[] {
    if (this.state === 'idle' || this.state === 'closed') return [{type: 'disconnected'}]
    this.state = 'disconnecting'
    return [this.sendControl({type: 'DISC', pf: true})]
  }

  receive(chunk: Uint8Array): LinkEvent[] {
    const events: LinkEvent[] = []
    for (const item of this.decode(chunk)) {
      if ('error' in item) {
        events.push({type: 'error', error: item.error})
        continue
      }
      const f = item.frame
      // frames for another client or from another server on a shared line are not ours
      if (f.dest.size !== 1 || f.dest.logical !== this.opts.clientAddress || !addressEquals(f.src, this.opts.server)) continue
      events.push(...this.onFrame(f, item.bytes))
    }
    return events
  }

  private onFrame(f: DecodedHdlcFrame, wire: number): LinkEvent[] {
    const c = f.control
    const received = (): LinkEvent => ({type: 'received', frame: frameEvent('received', wire, 0, 'control', false)})
    switch (c.type) {
      case 'UA':
        if (this.state === 'connecting') {
          const p = decodeHdlcParams(f.info)
          if (p.status !== 'ok') return [received(), {type: 'error', error: malformed(`UA parameters: ${p.status === 'malformed' ? p.reason : 'truncated'}`)}]
          this.uaParams = p.value
          // the meter's transmit limits are our receive limits and vice versa (ISO/IEC 13239 5.5.3.2)
          this.negotiated = {
            maxInfoTx: p.value.maxInfoRx ?? HDLC_DEFAULT_MAX_INFO,
            maxInfoRx: p.value.maxInfoTx ?? HDLC_DEFAULT_MAX_INFO,
            windowTx: p.value.windowRx ?? HDLC_DEFAULT_WINDOW,
            windowRx: p.value.windowTx ?? HDLC_DEFAULT_WINDOW,
          }
          this.state = 'connected'
          return [received(), {type: 'connected'}]
        }
        if (this.state === 'disconnecting') {
          this.state = 'closed'
          return [received(), {type: 'disconnected'}]
        }
        return [received()]
      case 'DM': {
        if (this.state === 'disconnecting') {
          this.state = 'closed'
          return [received(), {type: 'disconnected'}]
        }
        const wasConnecting = this.state === 'connecting'
        this.state = 'closed'
        return [
          received(),
          {
            type: 'error',
            error: new DlmsError(
              'CONNECTION_CLOSED',
              wasConnecting ? `meter ${formatAddress(this.opts.server)} refused the HDLC connection (DM)` : 'meter answered DM: the HDLC link is not connected',
            ),
          },
        ]
      }
      case 'FRMR':
        this.state = 'closed'
        return [received(), {type: 'error', error: new DlmsError('MALFORMED_FRAME', 'meter rejected a frame (FRMR)')}]
      case 'RR':
        return [received(), ...this.onRR()]
      case 'RNR':
        return [received()]
      case 'I':
        if (this.state !== 'connected') return [received()]
        return this.onIFrame(f, c.ns, wire)
      default:
        return [received()]
    }
  }
}

export interface HdlcServerOptions {
  /** Our logical device address (1 = management logical device) and optional physical address. */
  logical: number
  physical?: number
  /** Largest information field we send / accept (before negotiation). Default 128. */
  maxInfoTx?: number
  maxInfoRx?: number
  maxApduSize?: number
}

export class HdlcServerLink extends HdlcStation {
  state: 'disconnected' | 'connected' = 'disconnected'
  protected readonly isClient = false
  /** The client address of the current link (learnt from SNRM). */
  client: HdlcAddress | undefined
  /** Our address in the form the client used (1, 2 or 4 bytes): replies use the same. */
  private addressed: HdlcAddress | undefined

  constructor(private readonly opts: HdlcServerOptions) {
    super(opts.maxApduSize ?? DEFAULT_MAX_APDU)
  }

  protected local(): HdlcAddress {
    return this.addressed ?? {logical: this.opts.logical, size: 1}
  }

  protected remote(): HdlcAddress {
    return this.client ?? {logical: 0x10, size: 1}
  }

  get clientAddress(): number | undefined {
    return this.client?.logical
  }

  private isForUs(a: HdlcAddress): boolean {
    if (a.logical !== this.opts.logical) return false
    if (a.size === 1 || this.opts.physical === undefined) return true
    return (a.physical ?? 0) === this.opts.physical
  }

  receive(chunk: Uint8Array): LinkEvent[] {
    const events: LinkEvent[] = []
    for (const item of this.decode(chunk)) {
      if ('error' in item) {
        events.push({type: 'error', error: item.error})
        continue
      }
      const f = item.frame
      if (f.src.size !== 1 || !this.isForUs(f.dest)) continue
      if (
        this.state === 'connected' &&
        f.control.type !== 'SNRM' &&
        (this.client?.logical !== f.src.logical || !this.addressed || !addressEquals(this.addressed, f.dest))
      )
        continue
      events.push(...this.onFrame(f, item.bytes))
    }
    return events
  }

  private onFrame(f: DecodedHdlcFrame, wire: number): LinkEvent[] {
    const c = f.control
    const received = (): LinkEvent => ({type: 'received', frame: frameEvent('received', wire, 0, 'control', false)})
    switch (c.type) {
      case 'SNRM': {
        this.client = f.src
        this.addressed = f.dest
        const p = decodeHdlcParams(f.info)
        if (p.status !== 'ok') return [received(), this.sendControl({type: 'FRMR', pf: true})]
        const ourTx = this.opts.maxInfoTx ?? HDLC_DEFAULT_MAX_INFO
        const ourRx = this.opts.maxInfoRx ?? HDLC_DEFAULT_MAX_INFO
        this.resetSequence()
        this.negotiated = {
          maxInfoTx: Math.min(ourTx, p.value.maxInfoRx ?? HDLC_DEFAULT_MAX_INFO),
          maxInfoRx: Math.min(ourRx, p.value.maxInfoTx ?? HDLC_DEFAULT_MAX_INFO),
          windowTx: 1,
          windowRx: 1,
        }
        this.state = 'connected'
        const ua = encodeHdlcParams({maxInfoTx: this.negotiated.maxInfoTx, maxInfoRx: this.negotiated.maxInfoRx, windowTx: 1, windowRx: 1})
        return [received(), this.sendControl({type: 'UA', pf: true}, ua), {type: 'connected'}]
      }
      case 'DISC': {
        const was = this.state
        this.state = 'disconnected'
        this.resetSequence()
        const reply = this.sendControl(was === 'connected' ? {type: 'UA', pf: true} : {type: 'DM', pf: true})
        return [received(), reply, {type: 'disconnected'}]
      }
      case 'I':
        if (this.state !== 'connected') {
          this.client = f.src
          this.addressed = f.dest
          return [received(), this.sendControl({type: 'DM', pf: true})]
        }
        return this.onIFrame(f, c.ns, wire)
      case 'RR':
        if (this.state !== 'connected') return [received(), this.sendControl({type: 'DM', pf: true})]
        if (this.sending) return [received(), ...this.onRR()]
        // a poll with nothing to send: answer RR with our N(R)
        return [received(), this.sendControl({type: 'RR', nr: this.vr, pf: true})]
      default:
        return [received()]
    }
  }
}

/**
 * Sans-IO link layers: state machines that turn "bytes arrived" and "send this APDU" into "write these
 * bytes" and "this APDU arrived". No sockets, no timers — transport.ts (client) and simulator/server.ts
 * (server) own those — so the machines can be driven byte-exact from the recorded vectors.
 */
import type {DlmsError} from '../errors.js'

export type Framing = 'wrapper' | 'hdlc'

/** What the counter hook receives for every frame sent or received (see docs/DLMS.md). */
export interface DlmsFrameEvent {
  direction: 'sent' | 'received'
  /** Bytes of the whole frame on the wire (HDLC: flags included; wrapper: header included). */
  bytes: number
  /** APDU bytes carried by this frame (HDLC: information field without the LLC header). */
  payloadBytes: number
  /** request/response = carries (part of) an APDU; control = SNRM, UA, RR, DISC, DM… */
  kind: 'request' | 'response' | 'control'
  framing: Framing
  /** True on the frame that completes an APDU (always for wrapper; last segment for HDLC). Count requests/responses with it. */
  apduComplete: boolean
}

export type LinkEvent =
  | {type: 'send'; bytes: Uint8Array; frame: DlmsFrameEvent}
  | {type: 'received'; frame: DlmsFrameEvent}
  | {type: 'apdu'; apdu: Uint8Array}
  | {type: 'connected'}
  | {type: 'disconnected'}
  | {type: 'error'; error: DlmsError}

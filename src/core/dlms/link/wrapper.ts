/**
 * Wrapper "link" (IEC 62056-47): no connection phase, one frame per APDU, the wPorts name the client SAP
 * and the logical device. Same sans-IO shape as the HDLC machines so the transports do not care.
 */
import {DlmsError, malformed} from '../errors.js'
import {encodeWrapperFrame, WRAPPER_HEADER_LENGTH, WrapperStreamDecoder} from '../codec/wrapper.js'
import type {DlmsFrameEvent, LinkEvent} from './types.js'

const ev = (direction: 'sent' | 'received', bytes: number, kind: 'request' | 'response'): DlmsFrameEvent => ({
  direction,
  bytes,
  payloadBytes: bytes - WRAPPER_HEADER_LENGTH,
  kind,
  framing: 'wrapper',
  apduComplete: true,
})

export class WrapperClientLink {
  private readonly decoder: WrapperStreamDecoder

  constructor(private readonly opts: {clientAddress: number; serverAddress: number; maxApduSize?: number}) {
    this.decoder = new WrapperStreamDecoder(opts.maxApduSize ?? 0xffff)
  }

  connect(): LinkEvent[] {
    return [{type: 'connected'}]
  }

  disconnect(): LinkEvent[] {
    return [{type: 'disconnected'}]
  }

  sendApdu(apdu: Uint8Array): LinkEvent[] {
    const bytes = encodeWrapperFrame({src: this.opts.clientAddress, dst: this.opts.serverAddress, apdu})
    return [{type: 'send', bytes, frame: ev('sent', bytes.length, 'request')}]
  }

  receive(chunk: Uint8Array): LinkEvent[] {
    const out: LinkEvent[] = []
    for (const e of this.decoder.push(chunk)) {
      if (e.type === 'error') {
        out.push({type: 'error', error: malformed(`invalid wrapper frame: ${e.reason}`, e.offset)})
        continue
      }
      const f = e.frame
      if (f.dst !== this.opts.clientAddress || f.src !== this.opts.serverAddress) {
        out.push({
          type: 'error',
          error: new DlmsError('MALFORMED_FRAME', `wrapper frame for wPorts ${f.src}→${f.dst}, expected ${this.opts.serverAddress}→${this.opts.clientAddress}`),
        })
        continue
      }
      out.push({type: 'received', frame: ev('received', e.bytes, 'response')}, {type: 'apdu', apdu: f.apdu})
    }
    return out
  }

  get pendingBytes(): number {
    return this.decoder.pending
  }
}

export class WrapperServerLink {
  private readonly decoder: WrapperStreamDecoder
  /** Client wPort of the last request (replies go there). */
  clientAddress: number | undefined
  private serverWPort: number

  constructor(private readonly opts: {logical: number; maxApduSize?: number}) {
    this.decoder = new WrapperStreamDecoder(opts.maxApduSize ?? 0xffff)
    this.serverWPort = opts.logical
  }

  sendApdu(apdu: Uint8Array): LinkEvent[] {
    const bytes = encodeWrapperFrame({src: this.serverWPort, dst: this.clientAddress ?? 0x10, apdu})
    return [{type: 'send', bytes, frame: ev('sent', bytes.length, 'response')}]
  }

  receive(chunk: Uint8Array): LinkEvent[] {
    const out: LinkEvent[] = []
    for (const e of this.decoder.push(chunk)) {
      if (e.type === 'error') {
        out.push({type: 'error', error: malformed(`invalid wrapper frame: ${e.reason}`, e.offset)})
        continue
      }
      // a request for another logical device of this physical device: not served by this meter
      if (e.frame.dst !== this.opts.logical) continue
      this.clientAddress = e.frame.src
      this.serverWPort = e.frame.dst
      out.push({type: 'received', frame: ev('received', e.bytes, 'request')}, {type: 'apdu', apdu: e.frame.apdu})
    }
    return out
  }
}

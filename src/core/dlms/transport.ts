/**
 * Client transport: a TCP socket glued to a sans-IO link machine (wrapper or HDLC), with the timeouts and
 * the error mapping. One request in flight at a time (DLMS is request/response; the client serialises).
 *
 * After any timeout or malformed frame the stream state is unknown (half a frame may still arrive), so the
 * transport closes itself: the next call fails fast with CONNECTION_CLOSED and the caller reconnects.
 */
import net from 'node:net'
import {DlmsError, isDlmsError} from './errors.js'
import {HdlcClientLink} from './link/hdlc.js'
import type {DlmsFrameEvent, LinkEvent} from './link/types.js'
import type {WrapperClientLink} from './link/wrapper.js'

export type ClientLink = HdlcClientLink | WrapperClientLink

export interface TransportOptions {
  host: string
  port: number
  connectTimeoutMs: number
  onFrame?: (ev: DlmsFrameEvent) => void
}

interface Waiter {
  kind: 'apdu' | 'connected' | 'disconnected'
  what: string
  resolve: (apdu: Uint8Array | undefined) => void
  reject: (e: DlmsError) => void
  timer: NodeJS.Timeout
}

export class ClientTransport {
  private socket: net.Socket | undefined
  private waiter: Waiter | undefined
  private closedWith: DlmsError | undefined
  /** APDUs that arrived with no request waiting (e.g. event notifications). */
  unsolicited = 0

  constructor(
    private readonly link: ClientLink,
    private readonly opts: TransportOptions,
  ) {}

  get endpoint(): string {
    return `${this.opts.host}:${this.opts.port}`
  }

  get isOpen(): boolean {
    return this.socket !== undefined && this.closedWith === undefined
  }

  /** TCP connect, then the link's own connection phase (HDLC SNRM/UA). */
  async open(responseTimeoutMs: number): Promise<void> {
    await this.connectTcp()
    const events = this.link.connect()
    const done = this.wait('connected', 'HDLC UA (answer to SNRM)', responseTimeoutMs)
    this.handle(events)
    await done
  }

  private connectTcp(): Promise<void> {
    return new Promise((resolve, reject) => {
      const {host, port, connectTimeoutMs} = this.opts
      const socket = net.connect({host, port})
      socket.setNoDelay(true)
      let settled = false
      const timer = setTimeout(() => {
        if (settled) return
        settled = true
        socket.destroy()
        reject(
          new DlmsError('TIMEOUT', `cannot connect to ${host}:${port}: no answer within ${connectTimeoutMs} ms`, {
            hint: 'check the address, the port and that the meter (or its TCP gateway) is reachable',
          }),
        )
      }, connectTimeoutMs)
      socket.once('connect', () => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        this.socket = socket
        socket.on('data', (chunk: Buffer) => this.onData(chunk))
        socket.on('close', () => this.onClose())
        resolve()
      })
      // an 'error' listener is always attached: an unhandled socket error would crash the process
      socket.on('error', (err: NodeJS.ErrnoException) => {
        if (!settled) {
          settled = true
          clearTimeout(timer)
          reject(connectError(host, port, err))
          return
        }
        this.fail(new DlmsError('CONNECTION_CLOSED', `connection to ${host}:${port} failed: ${err.code ?? err.message}`, {cause: err}))
      })
    })
  }

  /** Sends one APDU and resolves with the next APDU the link delivers. */
  async request(apdu: Uint8Array, timeoutMs: number, what: string): Promise<Uint8Array> {
    this.ensureOpen(what)
    const p = this.wait('apdu', what, timeoutMs)
    this.handle(this.link.sendApdu(apdu))
    return (await p)!
  }

  /** Sends an APDU without waiting for an answer. */
  send(apdu: Uint8Array): void {
    this.ensureOpen('send')
    this.handle(this.link.sendApdu(apdu))
  }

  /** Closes the link (HDLC DISC, waiting briefly for UA/DM), then the socket. Never throws. */
  async close(graceMs: number): Promise<void> {
    if (this.socket === undefined) return
    if (this.closedWith === undefined && this.link instanceof HdlcClientLink && this.link.state === 'connected') {
      try {
        const p = this.wait('disconnected', 'HDLC UA (answer to DISC)', graceMs)
        this.handle(this.link.disconnect())
        await p
      } catch {
        // the meter did not confirm: close anyway
      }
    }
    const socket = this.socket
    this.fail(new DlmsError('CONNECTION_CLOSED', 'connection closed by the client'), false)
    await new Promise<void>(resolve => {
      if (socket.destroyed) return resolve()
      socket.once('close', () => resolve())
      socket.end()
      setTimeout(() => socket.destroy(), Math.min(graceMs, 500)).unref()
    })
  }

  private ensureOpen(what: string): void {
    if (this.socket === undefined) throw new DlmsError('NOT_CONNECTED', `cannot ${what}: not connected`, {hint: 'call connect() first'})
    if (this.closedWith !== undefined)
      throw new DlmsError('CONNECTION_CLOSED', `cannot ${what}: the connection to ${this.endpoint} is closed (${this.closedWith.message})`, {
        hint: 'reconnect',
        cause: this.closedWith,
      })
    if (this.waiter) throw new DlmsError('NOT_CONNECTED', `cannot ${what}: another request is in progress`)
  }

  private wait(kind: Waiter['kind'], what: string, timeoutMs: number): Promise<Uint8Array | undefined> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.waiter?.timer !== timer) return
        this.waiter = undefined
        const pending = this.link.pendingBytes
        const err = new DlmsError(
          'TIMEOUT',
          `timeout: no ${pending > 0 ? 'complete ' : ''}answer from ${this.endpoint} within ${timeoutMs} ms (waiting for ${what}${pending > 0 ? `; ${pending} byte(s) of an unfinished frame received` : ''})`,
          {
            hint: 'the meter may be busy, on another client address, or unreachable; try a longer --timeout',
          },
        )
        reject(err)
        this.fail(err)
      }, timeoutMs)
      this.waiter = {kind, what, resolve, reject, timer}
    })
  }

  private onData(chunk: Buffer): void {
    let events: LinkEvent[]
    try {
      events = this.link.receive(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
    } catch (e) {
      // the link machines do not throw by design; if one ever does, fail the request instead of the process
      this.fail(isDlmsError(e) ? e : new DlmsError('MALFORMED_FRAME', `cannot process data from ${this.endpoint}: ${(e as Error).message}`, {cause: e}))
      return
    }
    this.handle(events)
  }

  private handle(events: LinkEvent[]): void {
    for (const ev of events) {
      switch (ev.type) {
        case 'send':
          if (this.socket && !this.socket.destroyed) this.socket.write(ev.bytes)
          this.report(ev.frame)
          break
        case 'received':
          this.report(ev.frame)
          break
        case 'apdu':
          this.settle('apdu', ev.apdu)
          break
        case 'connected':
          this.settle('connected')
          break
        case 'disconnected':
          this.settle('disconnected')
          break
        case 'error':
          this.fail(ev.error)
          return
      }
    }
  }

  private settle(kind: Waiter['kind'], apdu?: Uint8Array): void {
    const w = this.waiter
    if (!w || w.kind !== kind) {
      if (kind === 'apdu') this.unsolicited++
      return
    }
    this.waiter = undefined
    clearTimeout(w.timer)
    w.resolve(apdu)
  }

  private report(frame: DlmsFrameEvent): void {
    if (!this.opts.onFrame) return
    try {
      this.opts.onFrame(frame)
    } catch {
      // a faulty counter hook must not break the protocol
    }
  }

  private onClose(): void {
    const w = this.waiter
    this.fail(
      new DlmsError('CONNECTION_CLOSED', `connection closed by ${this.endpoint}${w ? ` while waiting for ${w.what}` : ''}`, {
        hint: 'the meter dropped the connection; reconnect',
      }),
    )
  }

  /** Marks the transport unusable, rejects the pending request and destroys the socket. */
  private fail(err: DlmsError, destroy = true): void {
    if (this.closedWith === undefined) this.closedWith = err
    const w = this.waiter
    if (w) {
      this.waiter = undefined
      clearTimeout(w.timer)
      w.reject(err)
    }
    if (destroy && this.socket && !this.socket.destroyed) this.socket.destroy()
  }
}

function connectError(host: string, port: number, err: NodeJS.ErrnoException): DlmsError {
  const why: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    ETIMEDOUT: 'timed out',
    ENOTFOUND: 'host not found',
    EADDRNOTAVAIL: 'address not available',
  }
  const reason = (err.code && why[err.code]) ?? err.message
  return new DlmsError(err.code === 'ETIMEDOUT' ? 'TIMEOUT' : 'CONNECTION_FAILED', `cannot connect to ${host}:${port}: ${reason}`, {
    hint: err.code === 'ECONNREFUSED' ? 'nothing listens there: check the port (4059 is the DLMS/COSEM default) or start `netmon meters simulate`' : undefined,
    cause: err,
  })
}

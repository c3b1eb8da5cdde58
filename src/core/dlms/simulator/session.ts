/**
 * The server side of one COSEM association, pure (APDU in → APDU out): AARQ/AARE with none/LLS/HLS-GMAC,
 * GET normal, with-list and block transfer, SET normal, ACTION reply_to_HLS_authentication, RLRQ/RLRE,
 * exception-responses for the rest. With `security`, protected requests (glo-* / general-glo-ciphering) are
 * verified and answered in the same form; a bad tag or a replayed counter gets an EXCEPTION-Response
 * (deciphering-error / invocation-counter-error), as a meter does.
 */
import {D, encodeData} from '../codec/axdr.js'
import {concatBytes, Reader, toHex} from '../codec/bytes.js'
import {FrameCounterGuard, hlsGmac, verifyHlsGmac, type InvocationCounter} from '../codec/security.js'
import {isDlmsError} from '../errors.js'
import {SecurityContext, type HlsGmacSecurity} from '../security-context.js'
import {
  APPLICATION_CONTEXTS,
  contextName,
  conformanceFromNames,
  DataAccessResult,
  datablockOverhead,
  decodeApdu,
  encodeAare,
  encodeActionResponse,
  encodeExceptionResponse,
  encodeInitiateResponse,
  readInitiateRequest,
  encodeGetDataResultList,
  encodeGetResponse,
  encodeRlre,
  encodeSetResponse,
  hasConformance,
  mechanismName,
  type Aarq,
  type ActionRequest,
  type GetDataResult,
  type InitiateRequest,
  type GetRequest,
  type GetItem,
} from '../codec/apdu/index.js'
import {formatObis} from '../codec/obis.js'
import type {MeterModel} from './objects.js'

/** What this server implements (and so may grant): block-transfer-with-get, multiple-references, get, set, selective-access. */
export const SERVER_CONFORMANCE = conformanceFromNames(['block-transfer-with-get-or-read', 'multiple-references', 'get', 'set', 'selective-access', 'action'])

export interface SessionOptions {
  password: string
  /** Server max receive PDU size advertised in the AARE and upper bound of our APDUs. Default 512. */
  maxPduSize: number
  /** Conformance the server grants (ANDed with the client's proposal). */
  conformance: number
  /** Reject every association with authentication-failure (fault injection). */
  rejectAll?: () => boolean
  /** HLS-GMAC: the meter's system title and keys, one send counter and per-client receive guards kept by the meter. */
  security?: ServerSecurity
  /** Fault injection: the OBIS whose attribute 2 is answered with an undecodable value (taken per request). */
  badValue?: () => string | null
  /** Fault injection on protected answers: 'tamper' flips a tag bit, 'replay' resends with the previous counter. */
  cipherFault?: () => 'tamper' | 'replay' | null
}

export interface ServerSecurity {
  config: HlsGmacSecurity
  counter: InvocationCounter
  /** Last counter accepted per client system title (hex). */
  guards: Map<string, FrameCounterGuard>
}

interface HlsState {
  ctx: SecurityContext
  ctos: Uint8Array
  stoc: Uint8Array
  ciphered: boolean
  pending: boolean
  clientAddress: number
}

const ASSOCIATION_LN = '0000280000ff'

interface BlockTransfer {
  data: Uint8Array
  offset: number
  blockNumber: number
  invokeId: number
  blockSize: number
}

export type SessionEvent =
  | {type: 'associated'; clientAddress: number; mechanism: string}
  | {type: 'rejected'; clientAddress: number; diagnostic: number}
  | {type: 'released'}
  | {type: 'request'; kind: string}

/** The bad-value fault: an octet-string with this content is sent with its tag (0x09) replaced by 0xff. */
const BAD_VALUE_MARK = new Uint8Array([0xba, 0xd0, 0xba, 0xd0, 0x5e, 0x5e, 0xba, 0xd0])

function spoil(bytes: Uint8Array): Uint8Array {
  const n = BAD_VALUE_MARK.length
  for (let i = 0; i + n + 2 <= bytes.length; i++) {
    if (bytes[i] !== 0x09 || bytes[i + 1] !== n) continue
    let hit = true
    for (let j = 0; j < n && hit; j++) hit = bytes[i + 2 + j] === BAD_VALUE_MARK[j]
    if (hit) bytes[i] = 0xff
  }
  return bytes
}

export class CosemServerSession {
  associated = false
  authenticated = false
  private maxPdu = 0
  private conformance = 0
  private block: BlockTransfer | undefined
  private hls: HlsState | undefined
  readonly events: SessionEvent[] = []

  constructor(
    private readonly meter: MeterModel,
    private readonly opts: SessionOptions,
  ) {}

  /** Handles one request APDU from `clientAddress`; returns the answer APDU (undefined = no answer). */
  handle(apdu: Uint8Array, clientAddress: number): Uint8Array | undefined {
    const hls = this.hls
    if (SecurityContext.isProtected(apdu)) {
      if (!hls?.ciphered) return encodeExceptionResponse({stateError: 1, serviceError: 5})
      let plain: {apdu: Uint8Array; general: boolean}
      try {
        plain = hls.ctx.unprotect(apdu)
      } catch (e) {
        const reason = isDlmsError(e) ? e.details.securityReason : undefined
        this.events.push({type: 'request', kind: `refused-protected:${reason ?? 'error'}`})
        if (reason === 'replay') return encodeExceptionResponse({stateError: 1, serviceError: 6, invocationCounter: hls.ctx.guard.last ?? 0})
        return encodeExceptionResponse({stateError: 1, serviceError: 5})
      }
      const answer = this.handlePlain(plain.apdu, clientAddress, true)
      return answer ? this.protectAnswer(hls.ctx, answer, plain.general) : answer
    }
    return this.handlePlain(apdu, clientAddress, false)
  }

  private protectAnswer(ctx: SecurityContext, answer: Uint8Array, general: boolean): Uint8Array {
    if (answer[0] === 0xd8) return answer // exception-responses stay in clear
    const fault = this.opts.cipherFault?.() ?? null
    if (fault === 'replay') ctx.send.next = Math.max(0, ctx.send.next - 1)
    const out = ctx.protect(answer, general)
    if (fault === 'tamper') out[out.length - 1]! ^= 0x01
    return out
  }

  private handlePlain(apdu: Uint8Array, clientAddress: number, wasProtected: boolean): Uint8Array | undefined {
    const res = decodeApdu(apdu)
    if (res.status !== 'ok') return encodeExceptionResponse({stateError: 2, serviceError: 3})
    const a = res.value
    this.events.push({type: 'request', kind: a.kind})
    // in a ciphered association the xDLMS services must come protected
    if (this.hls?.ciphered && !wasProtected && (a.kind === 'get-request' || a.kind === 'set-request' || a.kind === 'action-request'))
      return encodeExceptionResponse({stateError: 1, serviceError: 5})
    switch (a.kind) {
      case 'aarq':
        return this.associate(a.apdu, clientAddress)
      case 'rlrq':
        this.associated = false
        this.authenticated = false
        this.block = undefined
        this.hls = undefined
        this.events.push({type: 'released'})
        return encodeRlre({reason: 0})
      case 'get-request':
        if (!this.associated) return encodeExceptionResponse({stateError: 1, serviceError: 1})
        return this.get(a.apdu)
      case 'set-request': {
        if (!this.associated) return encodeExceptionResponse({stateError: 1, serviceError: 1})
        this.block = undefined
        const r = a.apdu
        return encodeSetResponse({type: 'normal', invokeId: r.invokeId, result: this.meter.set(r.descriptor, r.value, {authenticated: this.authenticated})})
      }
      case 'action-request':
        return this.action(a.apdu)
      default:
        return encodeExceptionResponse({stateError: 2, serviceError: 2}) // service-unknown, service-not-supported
    }
  }

  /** reply_to_HLS_authentication (HLS pass 3), and the methods of the meter's objects (disconnect control). */
  private action(req: ActionRequest): Uint8Array {
    const d = req.descriptor
    const isHlsReply = d.classId === 15 && toHex(d.obis) === ASSOCIATION_LN && d.method === 1
    const hls = this.hls
    if (isHlsReply && hls?.pending) {
      const f = req.parameters?.type === 'octet-string' ? req.parameters.value : undefined
      try {
        if (!f) throw new Error('no octet-string')
        verifyHlsGmac(f, {...hls.ctx.keys, systemTitle: hls.ctx.peer!, challenge: hls.stoc}, 'client')
      } catch {
        // f(StoC) does not verify: no f(CtoS), the association stays non-associated
        this.hls = undefined
        this.events.push({type: 'rejected', clientAddress: hls.clientAddress, diagnostic: 13})
        return encodeActionResponse({type: 'normal', invokeId: req.invokeId, result: 250})
      }
      const fCtoS = hlsGmac({...hls.ctx.keys, systemTitle: hls.ctx.systemTitle, invocationCounter: hls.ctx.takeCounter(), challenge: hls.ctos})
      hls.pending = false
      this.associated = true
      this.authenticated = true
      this.events.push({type: 'associated', clientAddress: hls.clientAddress, mechanism: 'high-gmac'})
      return encodeActionResponse({type: 'normal', invokeId: req.invokeId, result: 0, returnParameters: {ok: true, data: D.octets(fCtoS)}})
    }
    if (!this.associated) return encodeExceptionResponse({stateError: 1, serviceError: 1})
    if (isHlsReply) return encodeActionResponse({type: 'normal', invokeId: req.invokeId, result: 3})
    this.block = undefined
    return encodeActionResponse({type: 'normal', invokeId: req.invokeId, result: this.meter.action(d, req.parameters, {authenticated: this.authenticated})})
  }

  /** AARQ with mechanism 5: check the client system title and (ciphered) InitiateRequest, answer StoC. */
  private associateHls(aarq: Aarq, clientAddress: number, reject: (d: number, ie?: number) => Uint8Array): Uint8Array {
    const sec = this.opts.security
    if (!sec) return reject(11) // mechanism not recognised
    const ciphered = contextName(aarq.applicationContext) === 'ln-ciphered'
    const wantCiphered = (sec.config.securityControl ?? 0x30) !== 0
    if (ciphered !== wantCiphered) return reject(2) // application-context-name-not-supported
    const st = aarq.callingApTitle
    if (st?.length !== 8 || !st) return reject(3) // calling-AP-title-not-recognized
    const key = toHex(st)
    let guard = sec.guards.get(key)
    if (!guard) {
      guard = new FrameCounterGuard()
      sec.guards.set(key, guard)
    }
    const ctx = new SecurityContext({...sec.config, peerSystemTitle: st}, {send: sec.counter, guard})
    const ctos = aarq.authenticationValue
    if (!ctos || ctos.length < 8 || ctos.length > 64) return reject(13)
    if (this.opts.rejectAll?.()) return reject(13)
    let ir: InitiateRequest | undefined = aarq.initiateRequest
    if (ciphered) {
      if (!aarq.userInformation || !SecurityContext.isProtected(aarq.userInformation)) return reject(1)
      try {
        ir = readInitiateRequest(new Reader(ctx.unprotect(aarq.userInformation).apdu))
      } catch {
        return reject(13) // cannot decipher the InitiateRequest: wrong keys / system title, or a replay
      }
    }
    if (!ir) return reject(1)
    if (ir.dlmsVersion < 6) return reject(1, 1)
    if (ir.maxReceivePduSize !== 0 && ir.maxReceivePduSize < 16) return reject(1, 3)
    this.conformance = (ir.conformance & this.opts.conformance) >>> 0
    this.maxPdu = Math.min(this.opts.maxPduSize, ir.maxReceivePduSize === 0 ? 0xffff : ir.maxReceivePduSize) - (ciphered ? 32 : 0)
    this.associated = false
    this.authenticated = false
    this.block = undefined
    const stoc = ctx.challenge()
    const initiateResponse = {dlmsVersion: 6, conformance: this.conformance, maxReceivePduSize: this.opts.maxPduSize, vaaName: 0x0007}
    this.hls = {ctx, ctos, stoc, ciphered, pending: true, clientAddress}
    return encodeAare({
      applicationContext: aarq.applicationContext,
      result: 0,
      diagnostic: {source: 'user', value: 14}, // authentication-required: pass 3/4 follow
      respondingApTitle: sec.config.systemTitle,
      mechanism: aarq.mechanism,
      respondingAuthenticationValue: stoc,
      ...(ciphered ? {userInformation: ctx.protect(encodeInitiateResponse(initiateResponse), false)} : {initiateResponse}),
    })
  }

  private associate(aarq: Aarq, clientAddress: number): Uint8Array {
    const reject = (diagnostic: number, initiateError?: number): Uint8Array => {
      this.associated = false
      this.events.push({type: 'rejected', clientAddress, diagnostic})
      return encodeAare({
        applicationContext: aarq.applicationContext,
        result: 1,
        diagnostic: {source: 'user', value: diagnostic},
        ...(initiateError === undefined ? {} : {initiateError: {service: 1, errorClass: 6, value: initiateError, name: ''}}),
      })
    }
    this.hls = undefined
    const mech = aarq.mechanism ? mechanismName(aarq.mechanism) : 'none'
    // client SAPs as in the vectors: 16 public (no authentication), 17 and 1 need LLS; with security, 1 needs HLS-GMAC
    const needsLls = clientAddress === 17 || clientAddress === 1
    if (clientAddress !== 16 && !needsLls) return reject(1)
    if (mech === 'high-gmac') return this.associateHls(aarq, clientAddress, reject)
    if (contextName(aarq.applicationContext) !== 'ln') return reject(2) // application-context-name-not-supported
    if (mech === undefined || (mech !== 'none' && mech !== 'low')) return reject(11) // mechanism not recognised
    if (clientAddress === 1 && this.opts.security) return reject(14) // authentication-required (HLS)
    if (needsLls && mech !== 'low') return reject(14) // authentication-required
    if (this.opts.rejectAll?.()) return reject(13)
    if (mech === 'low') {
      const given = Buffer.from(aarq.authenticationValue ?? new Uint8Array(0)).toString('latin1')
      if (given !== this.opts.password) return reject(13) // authentication-failure
    }
    const ir = aarq.initiateRequest
    if (!ir) return reject(1)
    if (ir.dlmsVersion < 6) return reject(1, 1) // dlms-version-too-low
    if (ir.maxReceivePduSize !== 0 && ir.maxReceivePduSize < 16) return reject(1, 3) // pdu-size-too-short
    this.conformance = (ir.conformance & this.opts.conformance) >>> 0
    // 0 means "no limit" on the client side (Green Book 9.5)
    this.maxPdu = Math.min(this.opts.maxPduSize, ir.maxReceivePduSize === 0 ? 0xffff : ir.maxReceivePduSize)
    this.associated = true
    this.authenticated = mech === 'low'
    this.block = undefined
    this.events.push({type: 'associated', clientAddress, mechanism: mech})
    return encodeAare({
      applicationContext: APPLICATION_CONTEXTS.ln,
      result: 0,
      diagnostic: {source: 'user', value: 0},
      initiateResponse: {dlmsVersion: 6, conformance: this.conformance, maxReceivePduSize: this.opts.maxPduSize, vaaName: 0x0007},
    })
  }

  private get(req: GetRequest): Uint8Array {
    const ctx = {authenticated: this.authenticated}
    if (req.type === 'next') {
      const b = this.block
      if (!b)
        return encodeGetResponse({
          type: 'with-datablock',
          invokeId: req.invokeId,
          lastBlock: true,
          blockNumber: req.blockNumber,
          result: {ok: false, error: DataAccessResult.NO_LONG_GET_IN_PROGRESS},
        })
      if (req.blockNumber !== b.blockNumber) {
        this.block = undefined
        return encodeGetResponse({
          type: 'with-datablock',
          invokeId: req.invokeId,
          lastBlock: true,
          blockNumber: req.blockNumber,
          result: {ok: false, error: DataAccessResult.DATA_BLOCK_NUMBER_INVALID},
        })
      }
      return this.nextBlock()
    }
    this.block = undefined // a new request abandons an unfinished block transfer
    const items: GetItem[] = req.type === 'normal' ? [req] : req.items
    const bad = items.some(it => it.descriptor.attribute === 2) ? (this.opts.badValue?.() ?? null) : null
    const answer = (it: GetItem): GetDataResult =>
      bad !== null && it.descriptor.attribute === 2 && formatObis(it.descriptor.obis) === bad
        ? {ok: true, data: D.octets(BAD_VALUE_MARK)}
        : this.meter.get(it.descriptor, ctx, it.access)
    if (req.type === 'normal') {
      const result = answer(req)
      const apdu = spoil(encodeGetResponse({type: 'normal', invokeId: req.invokeId, result}))
      if (apdu.length <= this.maxPdu || !result.ok) return apdu
      return this.startBlocks(spoil(encodeData(result.data)), req.invokeId)
    }
    if (!hasConformance(this.conformance, 'multiple-references')) return encodeExceptionResponse({stateError: 1, serviceError: 2})
    const results: GetDataResult[] = req.items.map(answer)
    const apdu = spoil(encodeGetResponse({type: 'with-list', invokeId: req.invokeId, results}))
    if (apdu.length <= this.maxPdu) return apdu
    return this.startBlocks(spoil(encodeGetDataResultList(results)), req.invokeId)
  }

  private startBlocks(data: Uint8Array, invokeId: number): Uint8Array {
    if (!hasConformance(this.conformance, 'block-transfer-with-get-or-read'))
      return encodeGetResponse({type: 'normal', invokeId, result: {ok: false, error: DataAccessResult.OTHER_REASON}})
    // largest raw-data that keeps the whole Get-Response-With-Datablock within the PDU (Gurux: 500 at 512)
    const blockSize = Math.max(1, this.maxPdu - datablockOverhead(this.maxPdu))
    this.block = {data, offset: 0, blockNumber: 0, invokeId, blockSize}
    return this.nextBlock()
  }

  private nextBlock(): Uint8Array {
    const b = this.block!
    const raw = b.data.subarray(b.offset, b.offset + b.blockSize)
    b.offset += raw.length
    b.blockNumber++
    const last = b.offset >= b.data.length
    const apdu = encodeGetResponse({
      type: 'with-datablock',
      invokeId: b.invokeId,
      lastBlock: last,
      blockNumber: b.blockNumber,
      result: {ok: true, raw: concatBytes([raw])},
    })
    if (last) this.block = undefined
    return apdu
  }
}

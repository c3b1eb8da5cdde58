/**
 * The server side of one COSEM association, pure (APDU in → APDU out): AARQ/AARE with none/LLS, GET normal,
 * with-list and block transfer, SET normal, RLRQ/RLRE, exception-responses for the rest.
 */
import {encodeData} from '../codec/axdr.js'
import {concatBytes} from '../codec/bytes.js'
import {
  APPLICATION_CONTEXTS,
  contextName,
  conformanceFromNames,
  DataAccessResult,
  datablockOverhead,
  decodeApdu,
  encodeAare,
  encodeExceptionResponse,
  encodeGetDataResultList,
  encodeGetResponse,
  encodeRlre,
  encodeSetResponse,
  hasConformance,
  mechanismName,
  type Aarq,
  type GetDataResult,
  type GetRequest,
} from '../codec/apdu/index.js'
import type {MeterModel} from './objects.js'

/** What this server implements (and so may grant): block-transfer-with-get, multiple-references, get, set, selective-access. */
export const SERVER_CONFORMANCE = conformanceFromNames(['block-transfer-with-get-or-read', 'multiple-references', 'get', 'set', 'selective-access'])

export interface SessionOptions {
  password: string
  /** Server max receive PDU size advertised in the AARE and upper bound of our APDUs. Default 512. */
  maxPduSize: number
  /** Conformance the server grants (ANDed with the client's proposal). */
  conformance: number
  /** Reject every association with authentication-failure (fault injection). */
  rejectAll?: () => boolean
}

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

export class CosemServerSession {
  associated = false
  authenticated = false
  private maxPdu = 0
  private conformance = 0
  private block: BlockTransfer | undefined
  readonly events: SessionEvent[] = []

  constructor(
    private readonly meter: MeterModel,
    private readonly opts: SessionOptions,
  ) {}

  /** Handles one request APDU from `clientAddress`; returns the answer APDU (undefined = no answer). */
  handle(apdu: Uint8Array, clientAddress: number): Uint8Array | undefined {
    const res = decodeApdu(apdu)
    if (res.status !== 'ok') return encodeExceptionResponse({stateError: 2, serviceError: 3})
    const a = res.value
    this.events.push({type: 'request', kind: a.kind})
    switch (a.kind) {
      case 'aarq':
        return this.associate(a.apdu, clientAddress)
      case 'rlrq':
        this.associated = false
        this.authenticated = false
        this.block = undefined
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
      default:
        return encodeExceptionResponse({stateError: 2, serviceError: 2}) // service-unknown, service-not-supported
    }
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
    if (contextName(aarq.applicationContext) !== 'ln') return reject(2) // application-context-name-not-supported
    const mech = aarq.mechanism ? mechanismName(aarq.mechanism) : 'none'
    if (mech === undefined || (mech !== 'none' && mech !== 'low')) return reject(11) // mechanism not recognised
    // client SAPs as in the vectors: 16 public (no authentication), 17 and 1 need LLS
    const needsLls = clientAddress === 17 || clientAddress === 1
    if (clientAddress !== 16 && !needsLls) return reject(1)
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
    if (req.type === 'normal') {
      const result = this.meter.get(req.descriptor, ctx, req.access)
      const apdu = encodeGetResponse({type: 'normal', invokeId: req.invokeId, result})
      if (apdu.length <= this.maxPdu || !result.ok) return apdu
      return this.startBlocks(encodeData(result.data), req.invokeId)
    }
    if (!hasConformance(this.conformance, 'multiple-references')) return encodeExceptionResponse({stateError: 1, serviceError: 2})
    const results: GetDataResult[] = req.items.map(it => this.meter.get(it.descriptor, ctx, it.access))
    const apdu = encodeGetResponse({type: 'with-list', invokeId: req.invokeId, results})
    if (apdu.length <= this.maxPdu) return apdu
    return this.startBlocks(encodeGetDataResultList(results), req.invokeId)
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

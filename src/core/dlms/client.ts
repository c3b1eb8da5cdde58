/**
 * DlmsClient: a COSEM client (logical name referencing) over TCP with the wrapper or HDLC; no security, LLS,
 * or HLS-GMAC with security suite 0 (`security: {level: 'hls-gmac', systemTitle, ek, ak}`): the AARQ carries
 * the client system title and CtoS (and a glo-initiate-request), pass 3/4 run reply_to_HLS_authentication,
 * then every GET/SET/ACTION travels as glo-* or general-glo-ciphering and every answer's tag is verified.
 *
 *   const c = new DlmsClient({host: '127.0.0.1', port: 4061, framing: 'hdlc', auth: {mechanism: 'low', password}})
 *   await c.open()                       // TCP + SNRM/UA (HDLC) + AARQ/AARE
 *   await c.readRegister('1.0.1.8.0.255') // → {value, scaler, unit, raw, …}
 *   await c.close()                      // RLRQ/RLRE if associated, DISC/UA, socket end; never throws
 *
 * Requests are serialised (one in flight). Every error is a DlmsError; none escapes as anything else.
 */
import {D, dataToNumber, parseData, toPlain, type DlmsData, type PlainValue} from './codec/axdr.js'
import {concatBytes, Reader, run, unwrap} from './codec/bytes.js'
import {dateTimeFromDate, dateTimeFromIso, dateTimeToDate, dateTimeToIso, clockStatusNames, type CosemDateTime} from './codec/datetime.js'
import {serverAddress, type HdlcParams} from './codec/hdlc.js'
import {formatObis, parseObis} from './codec/obis.js'
import {applyScaler, unitSymbol} from './codec/units.js'
import {
  associationResultName,
  buildAarq,
  DATA_ACCESS_EXPLANATIONS,
  dataAccessResultName,
  decodeApdu,
  DEFAULT_INVOKE_ID,
  describeException,
  describeServiceError,
  diagnosticName,
  encodeAarq,
  encodeActionRequest,
  encodeGetRequest,
  encodeRlrq,
  encodeSetRequest,
  conformanceNames,
  hasConformance,
  readGetDataResultList,
  readInitiateResponse,
  mechanismName,
  type AccessSelection,
  type InitiateResponse,
  type Apdu,
  type AttributeDescriptor,
  type GetDataResult,
  type GetItem,
  type ConformanceName,
} from './codec/apdu/index.js'
import {
  Attr,
  ClassId,
  dataToDateTime,
  isClockColumn,
  parseCaptureObjects,
  parseScalerUnit,
  entryDescriptor,
  rangeDescriptor,
  rowValue,
  type CaptureObject,
  type ScalerUnit,
} from './cosem.js'
import {DlmsError, isDlmsError} from './errors.js'
import {hlsGmac, securityError, verifyHlsGmac} from './codec/security.js'
import {SecurityContext, type HlsGmacSecurity} from './security-context.js'
import {HdlcClientLink} from './link/hdlc.js'
import type {DlmsFrameEvent, Framing} from './link/types.js'
import {WrapperClientLink} from './link/wrapper.js'
import {ClientTransport} from './transport.js'

export type DlmsAuth = {mechanism: 'none'} | {mechanism: 'low'; password: string | Uint8Array}
export type {HlsGmacSecurity} from './security-context.js'

/** Association LN object and its method 1 (reply_to_HLS_authentication). */
const ASSOCIATION_LN = Uint8Array.of(0, 0, 40, 0, 0, 255)

export interface DlmsClientOptions {
  host: string
  port: number
  framing?: Framing
  /** Client SAP: 16 = public client (no authentication), 17 = LLS in the vectors and the simulator. Default 16. */
  clientAddress?: number
  /** Server logical device (upper HDLC address / destination wPort). Default 1. */
  serverAddress?: number
  /** HDLC only: physical device address (lower HDLC address). */
  physicalAddress?: number
  /** HDLC only: server address size on the wire (default: 1 without physical address, else 2 or 4 as needed). */
  addressSize?: 1 | 2 | 4
  auth?: DlmsAuth
  /** HLS-GMAC (mechanism 5) with security suite 0; overrides `auth`. Keys never appear in errors or logs. */
  security?: HlsGmacSecurity
  /** Per-response timeout. Default 5000 ms. */
  timeoutMs?: number
  /** TCP connect timeout. Default: timeoutMs. */
  connectTimeoutMs?: number
  /** client-max-receive-pdu-size proposed in the AARQ. Default 0xFFFF (as Gurux). */
  maxPduSize?: number
  /** Proposed conformance block (24-bit). Default 0x401E5D (as Gurux). */
  conformance?: number
  /** HDLC parameters proposed in SNRM; none → plain SNRM, the meter's defaults apply. */
  hdlc?: HdlcParams
  /** Invoke-Id-And-Priority byte. Default 0xC1 (id 1, confirmed, high priority — what Gurux sends). */
  invokeIdAndPriority?: number
  /** Upper bound for a reassembled response (block transfer / HDLC segments). Default 16 MiB. */
  maxResponseBytes?: number
  /** Called for every frame sent and received (counters). Exceptions from it are ignored. */
  onFrame?: (ev: DlmsFrameEvent) => void
}

export interface AssociationInfo {
  maxPduSize: number
  conformance: number
  conformanceNames: ConformanceName[]
  dlmsVersion: number
  /** HLS only: the meter's system title and the protection in use. */
  security?: {level: 'hls-gmac'; meterSystemTitle: string; securityControl: number; ciphering: 'none' | 'glo' | 'general-glo'}
}

export interface RegisterReading {
  obis: string
  classId: number
  /** raw × 10^scaler; null when the value is not numeric. */
  value: number | null
  scaler: number
  unitCode: number
  /** Unit symbol from the DLMS unit table ("Wh", "V"…); empty for a count. */
  unit: string
  /** The raw attribute-2 value as a plain JS value. */
  rawValue: PlainValue
  raw: DlmsData
  /** Extended register (class 4): status and capture time. */
  status?: PlainValue
  captureTime?: string | null
}

export interface ClockReading {
  obis: string
  iso: string | null
  date: Date | null
  dateTime: CosemDateTime
  /** Deviation on the wire in minutes (UTC+01:00 → -60). */
  deviation: number | null
  clockStatus: number | null
  clockStatusNames: string[]
  raw: DlmsData
}

export interface ProfileReading {
  obis: string
  captureObjects: CaptureObject[]
  /** One label per column: "<obis>:<attribute>". */
  columns: string[]
  rows: PlainValue[][]
  raw: DlmsData
}

export interface ProfileOptions {
  /** Only rows from this time (range_descriptor on the first capture object, normally the clock). */
  from?: Date | string
  to?: Date | string
  /** UTC offset (minutes) used to write from/to when given as Date. Default 0. */
  offsetMinutes?: number
  /** Only entries `from`..`to` (1-based, oldest first; to 0 = the last): entry_descriptor (selector 2). Not with from/to times. */
  entries?: {from: number; to: number}
  /** The profile's capture objects when already known (saves a GET of attribute 3 per read). */
  captureObjects?: CaptureObject[]
}

type State = 'closed' | 'connected' | 'associated'

export class DlmsClient {
  private transport: ClientTransport | undefined
  private queue: Promise<unknown> = Promise.resolve()
  private _state: State = 'closed'
  private readonly scalerCache = new Map<string, ScalerUnit>()
  readonly options: Required<
    Pick<
      DlmsClientOptions,
      | 'framing'
      | 'clientAddress'
      | 'serverAddress'
      | 'timeoutMs'
      | 'connectTimeoutMs'
      | 'maxPduSize'
      | 'conformance'
      | 'invokeIdAndPriority'
      | 'maxResponseBytes'
    >
  > &
    DlmsClientOptions
  association: AssociationInfo | undefined
  /** HLS security state (keys, counters); undefined without `security`. */
  readonly security: SecurityContext | undefined
  /** True while the xDLMS APDUs must be protected (after an HLS AARE). */
  private ciphering = false

  constructor(opts: DlmsClientOptions) {
    const timeoutMs = opts.timeoutMs ?? 5000
    this.options = {
      ...opts,
      framing: opts.framing ?? 'wrapper',
      clientAddress: opts.clientAddress ?? 16,
      serverAddress: opts.serverAddress ?? 1,
      timeoutMs,
      connectTimeoutMs: opts.connectTimeoutMs ?? timeoutMs,
      maxPduSize: opts.maxPduSize ?? 0xffff,
      conformance: opts.conformance ?? 0x401e5d,
      invokeIdAndPriority: opts.invokeIdAndPriority ?? DEFAULT_INVOKE_ID,
      maxResponseBytes: opts.maxResponseBytes ?? 16 << 20,
    }
    this.security = opts.security ? new SecurityContext(opts.security) : undefined
  }

  /** The next invocation counter this client will send (persist it to never reuse one after a restart). */
  get nextInvocationCounter(): number | undefined {
    return this.security?.send.next
  }

  get state(): State {
    if (this._state !== 'closed' && !this.transport?.isOpen) this._state = 'closed'
    return this._state
  }

  get endpoint(): string {
    return `${this.options.host}:${this.options.port}`
  }

  /** Runs operations one at a time, in call order. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn)
    this.queue = p.catch(() => undefined)
    return p
  }

  /** TCP connect and, for HDLC, SNRM/UA. */
  connect(): Promise<void> {
    return this.serial(async () => {
      if (this.state !== 'closed') return
      const o = this.options
      const link =
        o.framing === 'hdlc'
          ? new HdlcClientLink({
              clientAddress: o.clientAddress,
              server: serverAddress(o.serverAddress, o.physicalAddress, o.addressSize),
              propose: o.hdlc,
              maxApduSize: o.maxResponseBytes,
            })
          : new WrapperClientLink({clientAddress: o.clientAddress, serverAddress: o.serverAddress})
      const t = new ClientTransport(link, {host: o.host, port: o.port, connectTimeoutMs: o.connectTimeoutMs, onFrame: o.onFrame})
      this.transport = t
      this.scalerCache.clear()
      await t.open(o.timeoutMs)
      this._state = 'connected'
    })
  }

  /** AARQ → AARE. Throws ASSOCIATION_REJECTED with the meter's diagnostic. */
  associate(): Promise<AssociationInfo> {
    return this.serial(async () => {
      if (this.state === 'associated') return this.association!
      if (this.security) return this.associateHls(this.security)
      const o = this.options
      const auth = o.auth ?? {mechanism: 'none'}
      const password =
        auth.mechanism === 'low' ? (typeof auth.password === 'string' ? new Uint8Array(Buffer.from(auth.password, 'latin1')) : auth.password) : undefined
      const aarq = encodeAarq(buildAarq({mechanism: auth.mechanism, password, conformance: o.conformance, maxReceivePduSize: o.maxPduSize}))
      const apdu = await this.exchange(aarq, 'AARE (answer to AARQ)')
      if (apdu.kind !== 'aare') throw unexpected(apdu, 'AARE')
      const aare = apdu.apdu
      if (aare.result !== 0 || aare.initiateError) {
        const resultName = associationResultName(aare.result)
        const diag = aare.initiateError ? aare.initiateError.name : diagnosticName(aare.diagnostic)
        const accepted = aare.result === 0
        const reason = diag === 'null' || diag === 'no-reason-given' ? resultName : diag.replace(/-/g, ' ')
        throw new DlmsError('ASSOCIATION_REJECTED', `association rejected: ${accepted ? `xDLMS initiate error: ${diag}` : reason}`, {
          result: aare.result,
          resultName,
          diagnostic: aare.diagnostic.value,
          diagnosticName: diag,
          hint:
            aare.diagnostic.value === 13
              ? 'wrong password: check it, and that the client address matches the authentication (16 = none, 17 = LLS on most meters)'
              : aare.diagnostic.value === 12 || aare.diagnostic.value === 14
                ? 'this client address needs authentication: use --auth low with a password'
                : undefined,
        })
      }
      const ir = aare.initiateResponse
      if (!ir) throw new DlmsError('MALFORMED_FRAME', 'AARE accepted the association but carries no xDLMS InitiateResponse')
      this.association = {
        maxPduSize: ir.maxReceivePduSize,
        conformance: ir.conformance,
        conformanceNames: conformanceNames(ir.conformance),
        dlmsVersion: ir.dlmsVersion,
      }
      this._state = 'associated'
      return this.association
    })
  }

  /** HLS-GMAC: AARQ (CtoS, client system title) → AARE (StoC, meter system title) → pass 3/4. */
  private async associateHls(sec: SecurityContext): Promise<AssociationInfo> {
    const o = this.options
    this.ciphering = false
    const ctos = sec.challenge()
    const aarq = encodeAarq(
      buildAarq({
        mechanism: 'high-gmac',
        challenge: ctos,
        callingApTitle: sec.systemTitle,
        conformance: o.conformance,
        maxReceivePduSize: o.maxPduSize,
        ...(sec.protecting ? {protectInitiate: (ir: Uint8Array) => sec.protect(ir, false)} : {}),
      }),
    )
    const apdu = await this.exchange(aarq, 'AARE (answer to AARQ)')
    if (apdu.kind !== 'aare') throw unexpected(apdu, 'AARE')
    const aare = apdu.apdu
    if (aare.result !== 0 || aare.initiateError) {
      const diag = aare.initiateError ? aare.initiateError.name : diagnosticName(aare.diagnostic)
      throw new DlmsError('ASSOCIATION_REJECTED', `HLS association rejected: ${diag.replace(/-/g, ' ')}`, {
        result: aare.result,
        resultName: associationResultName(aare.result),
        diagnostic: aare.diagnostic.value,
        diagnosticName: diag,
        hint:
          aare.diagnostic.value === 13
            ? 'the meter could not verify the AARQ: check the keys, the client system title and the client address'
            : aare.diagnostic.value === 11 || aare.diagnostic.value === 2
              ? 'the meter does not offer HLS-GMAC / ciphering on this client address'
              : undefined,
      })
    }
    if (aare.mechanism && mechanismName(aare.mechanism) !== 'high-gmac')
      throw securityError('policy', `the meter answered HLS-GMAC with mechanism ${mechanismName(aare.mechanism) ?? aare.mechanism.join('.')}`)
    sec.learnPeer(aare.respondingApTitle, 'meter')
    const stoc = aare.respondingAuthenticationValue
    if (!stoc || stoc.length < 8 || stoc.length > 64)
      throw securityError('malformed', `the AARE carries ${stoc ? `a ${stoc.length}-octet` : 'no'} StoC challenge (expected 8..64 octets)`)
    let ir: InitiateResponse | undefined = aare.initiateResponse
    if (sec.protecting) {
      if (ir || !aare.userInformation || !SecurityContext.isProtected(aare.userInformation))
        throw securityError('policy', 'the meter answered the ciphered InitiateRequest with an InitiateResponse in clear')
      ir = unwrap(
        run(new Reader(sec.unprotect(aare.userInformation).apdu), r => {
          const v = readInitiateResponse(r)
          if (r.remaining) r.fail('bytes after the InitiateResponse')
          return v
        }),
        'ciphered InitiateResponse',
      )
    }
    if (!ir) throw new DlmsError('MALFORMED_FRAME', 'AARE accepted the association but carries no xDLMS InitiateResponse')
    this.ciphering = sec.protecting
    // pass 3: f(StoC) to reply_to_HLS_authentication; pass 4: the meter's f(CtoS)
    const fStoC = hlsGmac({...sec.keys, systemTitle: sec.systemTitle, invocationCounter: sec.takeCounter(), challenge: stoc})
    const reply = await this.exchange(
      encodeActionRequest({
        type: 'normal',
        invokeId: o.invokeIdAndPriority,
        descriptor: {classId: ClassId.ASSOCIATION_LN, obis: ASSOCIATION_LN, method: 1},
        parameters: D.octets(fStoC),
      }),
      'answer to reply_to_HLS_authentication',
      false,
    )
    if (reply.kind !== 'action-response') throw unexpected(reply, 'ACTION response (HLS pass 4)')
    this.checkInvokeId(reply.apdu.invokeId)
    const rp = reply.apdu.returnParameters
    if (reply.apdu.result !== 0 || !rp || !rp.ok || rp.data.type !== 'octet-string') {
      this.ciphering = false
      throw new DlmsError('ASSOCIATION_REJECTED', 'HLS authentication failed: the meter refused our proof f(StoC)', {
        hint: 'check the authentication key (AK), the encryption key (EK) and the client system title',
        result: reply.apdu.result,
      })
    }
    try {
      verifyHlsGmac(rp.data.value, {...sec.keys, systemTitle: sec.peer!, challenge: ctos}, 'meter')
    } catch (e) {
      this.ciphering = false
      throw e
    }
    const general =
      sec.config.ciphering === 'general-glo' || ((sec.config.ciphering ?? 'auto') === 'auto' && hasConformance(ir.conformance, 'general-protection'))
    sec.general = general
    this.association = {
      maxPduSize: ir.maxReceivePduSize,
      conformance: ir.conformance,
      conformanceNames: conformanceNames(ir.conformance),
      dlmsVersion: ir.dlmsVersion,
      security: {
        level: 'hls-gmac',
        meterSystemTitle: Buffer.from(sec.peer!).toString('hex'),
        securityControl: sec.sc,
        ciphering: sec.protecting ? (general ? 'general-glo' : 'glo') : 'none',
      },
    }
    this._state = 'associated'
    return this.association
  }

  /** connect() + associate(). */
  async open(): Promise<AssociationInfo> {
    await this.connect()
    return this.associate()
  }

  /** Sends one APDU, waits for the answer, decodes it. */
  private async exchange(apdu: Uint8Array, what: string, general?: boolean): Promise<Apdu> {
    if (!this.transport) throw new DlmsError('NOT_CONNECTED', `cannot send ${what.replace(/ \(.*/, '')}: not connected`, {hint: 'call connect() first'})
    const sec = this.security
    const protect = this.ciphering && sec !== undefined
    let bytes = await this.transport.request(protect ? sec.protect(apdu, general ?? sec.general) : apdu, this.options.timeoutMs, what)
    if (sec && SecurityContext.isProtected(bytes)) {
      try {
        bytes = sec.unprotect(bytes).apdu
      } catch (e) {
        if (isDlmsError(e) && e.dlmsCode === 'SECURITY') e.message = `${e.message} (${what} from ${this.endpoint})`
        throw e
      }
    } else if (protect && bytes.length > 0 && bytes[0] !== 0xd8 && bytes[0] !== 0x0e)
      throw securityError('policy', `the meter answered a ciphered request in clear (${what}): refused`)
    const res = decodeApdu(bytes)
    if (res.status !== 'ok') {
      const err =
        res.status === 'need-more'
          ? new DlmsError('MALFORMED_FRAME', `truncated APDU from the meter (${what})`, {apduOnly: true})
          : new DlmsError('MALFORMED_FRAME', `malformed APDU from the meter at byte ${res.offset}: ${res.reason}`, {offset: res.offset, apduOnly: true})
      throw err
    }
    const a = res.value
    if (a.kind === 'exception-response') {
      if (a.apdu.serviceError === 5)
        throw securityError(
          'tag-mismatch',
          `the meter could not decipher our request (${describeException(a.apdu)})`,
          'check the encryption and authentication keys and the client system title',
        )
      if (a.apdu.serviceError === 6)
        throw securityError(
          'replay',
          `the meter refused our invocation counter (${describeException(a.apdu)}${a.apdu.invocationCounter === undefined ? '' : `; it expects more than ${a.apdu.invocationCounter}`})`,
          'the client frame counter went backwards: restore the persisted counter or raise it',
        )
      throw new DlmsError('EXCEPTION_RESPONSE', `meter answered with an exception: ${describeException(a.apdu)}`)
    }
    if (a.kind === 'confirmed-service-error') throw new DlmsError('SERVICE_ERROR', `meter answered with a service error: ${describeServiceError(a.apdu)}`)
    if (a.kind === 'unsupported')
      throw new DlmsError(
        'UNSUPPORTED',
        a.ciphered
          ? `meter answered with a ciphered APDU (tag 0x${a.tag.toString(16)}) but no security is configured`
          : `meter answered with unsupported APDU tag 0x${a.tag.toString(16)}`,
        a.ciphered ? {hint: 'configure HLS-GMAC security (system title, encryption and authentication keys)'} : {},
      )
    return a
  }

  private requireAssociated(what: string): void {
    if (this.state !== 'associated')
      throw new DlmsError('NOT_CONNECTED', `cannot ${what}: no association with ${this.endpoint}`, {hint: 'call open() (connect + associate) first'})
  }

  private checkInvokeId(got: number): void {
    if ((got & 0x0f) !== (this.options.invokeIdAndPriority & 0x0f))
      throw new DlmsError('MALFORMED_FRAME', `response invoke-id ${got & 0x0f} does not match the request's ${this.options.invokeIdAndPriority & 0x0f}`)
  }

  /**
   * GET one attribute; follows block transfer (Get-Request-Next until last-block) and returns the Data.
   * A data-access-result becomes ACCESS_DENIED (read-write-denied, scope-of-access-violated) or DATA_ACCESS.
   */
  get(descriptor: AttributeDescriptor, access?: AccessSelection): Promise<DlmsData> {
    return this.serial(async () => {
      const what = describe(descriptor)
      this.requireAssociated(`read ${what}`)
      const iid = this.options.invokeIdAndPriority
      const first = await this.exchange(
        encodeGetRequest(access ? {type: 'normal', invokeId: iid, descriptor, access} : {type: 'normal', invokeId: iid, descriptor}),
        `GET response for ${what}`,
      )
      const raw = await this.collect(first, what)
      if (raw.kind === 'data') return raw.data
      if (raw.kind !== 'result') throw new DlmsError('MALFORMED_FRAME', `unexpected raw block data for ${what}`)
      if (!raw.result.ok) throw dataAccessError(raw.result.error, `cannot read ${what}`)
      return raw.result.data
    })
  }

  /**
   * Reassembles a Get-Response (normal or with-datablock). Returns the Data for normal/list-less responses,
   * or the raw block bytes when `list` is set.
   */
  private async collect(
    first: Apdu,
    what: string,
    list = false,
  ): Promise<{kind: 'data'; data: DlmsData} | {kind: 'result'; result: GetDataResult} | {kind: 'raw'; raw: Uint8Array}> {
    if (first.kind !== 'get-response') throw unexpected(first, 'GET response')
    let resp = first.apdu
    this.checkInvokeId(resp.invokeId)
    if (resp.type === 'normal') return {kind: 'result', result: resp.result}
    if (resp.type === 'with-list') throw new DlmsError('MALFORMED_FRAME', 'meter answered a single GET with a list response')
    const parts: Uint8Array[] = []
    let size = 0
    let expected = 1
    for (;;) {
      if (resp.type !== 'with-datablock') throw new DlmsError('MALFORMED_FRAME', `expected a data block of ${what}, got a ${resp.type} GET response`)
      if (!resp.result.ok) throw dataAccessError(resp.result.error, `cannot read ${what} (block ${resp.blockNumber})`)
      if (resp.blockNumber !== expected)
        throw new DlmsError('MALFORMED_FRAME', `block transfer of ${what}: expected block ${expected}, got ${resp.blockNumber}`)
      size += resp.result.raw.length
      if (size > this.options.maxResponseBytes)
        throw new DlmsError('MALFORMED_FRAME', `block transfer of ${what} exceeds ${this.options.maxResponseBytes} bytes`)
      parts.push(resp.result.raw)
      if (resp.lastBlock) break
      const next = await this.exchange(
        encodeGetRequest({type: 'next', invokeId: this.options.invokeIdAndPriority, blockNumber: resp.blockNumber}),
        `block ${expected + 1} of ${what}`,
      )
      if (next.kind !== 'get-response') throw unexpected(next, 'GET response')
      this.checkInvokeId(next.apdu.invokeId)
      resp = next.apdu
      expected++
    }
    const all = concatBytes(parts)
    if (list) return {kind: 'raw', raw: all}
    try {
      return {kind: 'data', data: parseData(all)}
    } catch (e) {
      if (isDlmsError(e) && e.dlmsCode === 'MALFORMED_FRAME') e.details.apduOnly = true
      throw e
    }
  }

  /**
   * GET several attributes: one Get-Request-With-List when the meter negotiated multiple-references,
   * otherwise one GET each. Results keep the order; failures are per item ({ok:false, error}).
   */
  getMany(items: GetItem[]): Promise<GetDataResult[]> {
    return this.serial(async () => {
      this.requireAssociated('read a list of attributes')
      if (items.length === 0) return []
      const iid = this.options.invokeIdAndPriority
      if (items.length > 1 && this.association && hasConformance(this.association.conformance, 'multiple-references')) {
        const what = `${items.length} attributes`
        const first = await this.exchange(encodeGetRequest({type: 'with-list', invokeId: iid, items}), `GET response for ${what}`)
        if (first.kind === 'get-response' && first.apdu.type === 'with-list') {
          this.checkInvokeId(first.apdu.invokeId)
          if (first.apdu.results.length !== items.length)
            throw new DlmsError('MALFORMED_FRAME', `meter returned ${first.apdu.results.length} results for ${items.length} attributes`)
          return first.apdu.results
        }
        const raw = await this.collect(first, what, true)
        if (raw.kind !== 'raw') throw new DlmsError('MALFORMED_FRAME', 'meter answered a list GET with a single result')
        let results: GetDataResult[]
        try {
          results = unwrap(
            run(new Reader(raw.raw), r => {
              const list = readGetDataResultList(r)
              if (r.remaining) r.fail('bytes after the result list')
              return list
            }),
            'GET list result',
          )
        } catch (e) {
          if (isDlmsError(e)) e.details.apduOnly = true
          throw e
        }
        if (results.length !== items.length) throw new DlmsError('MALFORMED_FRAME', `meter returned ${results.length} results for ${items.length} attributes`)
        return results
      }
      const out: GetDataResult[] = []
      for (const it of items) {
        const what = describe(it.descriptor)
        const first = await this.exchange(encodeGetRequest({type: 'normal', invokeId: iid, ...it}), `GET response for ${what}`)
        const raw = await this.collect(first, what)
        out.push(raw.kind === 'data' ? {ok: true, data: raw.data} : raw.kind === 'result' ? raw.result : {ok: false, error: 250})
      }
      return out
    })
  }

  /** GET attribute `attribute` of object `obis` (class `classId`). */
  read(obis: string | Uint8Array, classId: number, attribute: number, access?: AccessSelection): Promise<DlmsData> {
    return this.get({classId, obis: parseObis(obis), attribute}, access)
  }

  /** SET (normal) one attribute. */
  write(obis: string | Uint8Array, classId: number, attribute: number, value: DlmsData): Promise<void> {
    return this.serial(async () => {
      const descriptor = {classId, obis: parseObis(obis), attribute}
      const what = describe(descriptor)
      this.requireAssociated(`write ${what}`)
      const a = await this.exchange(
        encodeSetRequest({type: 'normal', invokeId: this.options.invokeIdAndPriority, descriptor, value}),
        `SET response for ${what}`,
      )
      if (a.kind !== 'set-response') throw unexpected(a, 'SET response')
      this.checkInvokeId(a.apdu.invokeId)
      if (a.apdu.result !== 0) throw dataAccessError(a.apdu.result, `cannot write ${what}`)
    })
  }

  /**
   * ACTION (normal) on method `method` of object `obis` (class `classId`), e.g. class 70 disconnect
   * control method 1 remote_disconnect with integer(0) (Blue Book 4.5.8). Resolves to the return
   * parameters (undefined when the meter returns none); an Action-Result other than success(0) throws
   * ACCESS_DENIED (read-write-denied / scope-of-access-violated) or DATA_ACCESS with the result's name.
   */
  action(obis: string | Uint8Array, classId: number, method: number, parameters?: DlmsData): Promise<DlmsData | undefined> {
    return this.serial(async () => {
      const ln = parseObis(obis)
      const what = `${formatObis(ln)} method ${method} (class ${classId})`
      this.requireAssociated(`invoke ${what}`)
      const a = await this.exchange(
        encodeActionRequest({
          type: 'normal',
          invokeId: this.options.invokeIdAndPriority,
          descriptor: {classId, obis: ln, method},
          ...(parameters ? {parameters} : {}),
        }),
        `ACTION response for ${what}`,
      )
      if (a.kind !== 'action-response') throw unexpected(a, 'ACTION response')
      this.checkInvokeId(a.apdu.invokeId)
      if (a.apdu.result !== 0) throw dataAccessError(a.apdu.result, `cannot invoke ${what}`)
      const rp = a.apdu.returnParameters
      if (rp && !rp.ok) throw dataAccessError(rp.error, `cannot invoke ${what}`)
      return rp?.ok ? rp.data : undefined
    })
  }

  /**
   * A register (class 3) or extended register (class 4): scaler_unit (attribute 3, cached per association)
   * then value (attribute 2); class 4 also reads status (4) and capture_time (5).
   */
  async readRegister(obis: string | Uint8Array, opts: {classId?: number; refreshScaler?: boolean} = {}): Promise<RegisterReading> {
    const ln = parseObis(obis)
    const key = formatObis(ln)
    const classId = opts.classId ?? ClassId.REGISTER
    let su = opts.refreshScaler ? undefined : this.scalerCache.get(`${classId}:${key}`)
    if (!su) {
      su = parseScalerUnit(await this.read(ln, classId, Attr.REGISTER_SCALER_UNIT))
      this.scalerCache.set(`${classId}:${key}`, su)
    }
    const raw = await this.read(ln, classId, Attr.REGISTER_VALUE)
    const n = dataToNumber(raw)
    const reading: RegisterReading = {
      obis: key,
      classId,
      value: n === undefined || raw.type === 'boolean' ? null : applyScaler(raw.type === 'int64' || raw.type === 'uint64' ? raw.value : n, su.scaler),
      scaler: su.scaler,
      unitCode: su.unit,
      unit: unitSymbol(su.unit),
      rawValue: toPlain(raw),
      raw,
    }
    if (classId === ClassId.EXTENDED_REGISTER) {
      reading.status = toPlain(await this.read(ln, classId, Attr.EXT_REGISTER_STATUS))
      const ct = dataToDateTime(await this.read(ln, classId, Attr.EXT_REGISTER_CAPTURE_TIME))
      reading.captureTime = ct ? dateTimeToIso(ct) : null
    }
    return reading
  }

  /** Class 8 clock, attribute 2 (time). */
  async readClock(obis: string | Uint8Array = '0.0.1.0.0.255'): Promise<ClockReading> {
    const ln = parseObis(obis)
    const raw = await this.read(ln, ClassId.CLOCK, Attr.CLOCK_TIME)
    const dt = dataToDateTime(raw)
    if (!dt) throw new DlmsError('MALFORMED_FRAME', `clock ${formatObis(ln)} time is not a 12-byte date-time (got ${raw.type})`)
    return {
      obis: formatObis(ln),
      iso: dateTimeToIso(dt),
      date: dateTimeToDate(dt),
      dateTime: dt,
      deviation: dt.deviation,
      clockStatus: dt.clockStatus,
      clockStatusNames: clockStatusNames(dt.clockStatus),
      raw,
    }
  }

  /** Class 7 profile generic: capture_objects (3) then buffer (2), optionally restricted to [from, to] by range_descriptor. */
  async readProfile(obis: string | Uint8Array, opts: ProfileOptions = {}): Promise<ProfileReading> {
    const ln = parseObis(obis)
    const captureObjects = opts.captureObjects ?? parseCaptureObjects(await this.read(ln, ClassId.PROFILE_GENERIC, Attr.PROFILE_CAPTURE_OBJECTS))
    let access: AccessSelection | undefined
    if (opts.entries) {
      if (opts.from !== undefined || opts.to !== undefined) throw new DlmsError('ENCODE', 'select a profile by time or by entries, not both')
      access = {selector: 2, parameters: entryDescriptor(opts.entries.from, opts.entries.to)}
    } else if (opts.from !== undefined || opts.to !== undefined) {
      const restricting = captureObjects[0]
      if (!restricting || !isClockColumn(restricting))
        throw new DlmsError('UNSUPPORTED', `profile ${formatObis(ln)} is not sorted by a clock column: cannot select by time`)
      const toDt = (v: Date | string | undefined, dflt: Date): CosemDateTime => {
        if (typeof v === 'string') {
          const dt = dateTimeFromIso(v)
          if (!dt) throw new DlmsError('ENCODE', `invalid date-time "${v}" (expected ISO 8601, e.g. 2024-01-01T00:00:00+01:00)`)
          return dt
        }
        return dateTimeFromDate(v ?? dflt, {offsetMinutes: opts.offsetMinutes ?? 0})
      }
      access = {selector: 1, parameters: rangeDescriptor(restricting, toDt(opts.from, new Date(0)), toDt(opts.to, new Date(Date.UTC(2099, 11, 31))))}
    }
    const raw = await this.read(ln, ClassId.PROFILE_GENERIC, Attr.PROFILE_BUFFER, access)
    if (raw.type !== 'array') throw new DlmsError('MALFORMED_FRAME', `profile ${formatObis(ln)} buffer is not an array`)
    const rows = raw.value.map((row, i) => {
      if (row.type !== 'structure') throw new DlmsError('MALFORMED_FRAME', `profile ${formatObis(ln)} row ${i} is not a structure`)
      return row.value.map((v, j) => rowValue(v, captureObjects[j]))
    })
    return {obis: formatObis(ln), captureObjects, columns: captureObjects.map(c => `${c.obis}:${c.attribute}`), rows, raw}
  }

  /** RLRQ → RLRE. The link (and socket) stay open; associate() may be called again. */
  release(): Promise<void> {
    return this.serial(async () => {
      if (this.state !== 'associated') return
      this._state = 'connected'
      this.association = undefined
      this.ciphering = false
      const a = await this.exchange(encodeRlrq({reason: 0}), 'RLRE (answer to RLRQ)')
      if (a.kind !== 'rlre') throw unexpected(a, 'RLRE')
    })
  }

  /** Releases the association if any (best effort), disconnects the link, closes the socket. Never throws. */
  close(): Promise<void> {
    return this.serial(async () => {
      const t = this.transport
      if (!t) return
      if (this._state === 'associated' && t.isOpen) {
        try {
          const a = await t.request(encodeRlrq({reason: 0}), Math.min(this.options.timeoutMs, 2000), 'RLRE (answer to RLRQ)')
          void a
        } catch {
          // closing anyway
        }
      }
      this._state = 'closed'
      this.association = undefined
      this.ciphering = false
      await t.close(Math.min(this.options.timeoutMs, 2000))
      this.transport = undefined
    })
  }
}

function describe(d: AttributeDescriptor): string {
  return `${formatObis(d.obis)} attribute ${d.attribute} (class ${d.classId})`
}

function unexpected(a: Apdu, wanted: string): DlmsError {
  return new DlmsError('MALFORMED_FRAME', `expected ${wanted}, meter sent ${a.kind}`)
}

export function dataAccessError(code: number, what: string): DlmsError {
  const name = dataAccessResultName(code)
  const why = DATA_ACCESS_EXPLANATIONS[code]
  return new DlmsError(code === 3 || code === 13 ? 'ACCESS_DENIED' : 'DATA_ACCESS', `${what}: ${name}${why ? ` (${why})` : ''}`, {
    dataAccessResult: code,
    dataAccessResultName: name,
    hint:
      code === 3
        ? 'this client address / authentication may not read it: try the LLS client (17) with a password'
        : code === 4
          ? 'check the OBIS code and class id'
          : undefined,
  })
}

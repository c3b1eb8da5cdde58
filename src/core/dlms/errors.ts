/**
 * Typed DLMS/COSEM errors. Everything the DLMS layers throw at a caller is a DlmsError (a NetmonError),
 * so the CLI and the bridge can print one clear line and pick an exit code without guessing.
 */
import {NetmonError, type ErrorKind} from '../errors.js'

export type DlmsErrorCode =
  | 'TIMEOUT' // no (complete) answer in time
  | 'CONNECTION_FAILED' // TCP connect refused / unreachable
  | 'CONNECTION_CLOSED' // the peer closed the connection or it was closed locally
  | 'NOT_CONNECTED' // an operation needed an open connection / association
  | 'ASSOCIATION_REJECTED' // AARE result != accepted
  | 'ACCESS_DENIED' // data-access-result read-write-denied (and scope-of-access-violated)
  | 'DATA_ACCESS' // any other data-access-result
  | 'EXCEPTION_RESPONSE' // EXCEPTION-Response APDU
  | 'SERVICE_ERROR' // Confirmed-ServiceError APDU
  | 'MALFORMED_FRAME' // bytes that do not parse (framing or APDU)
  | 'UNSUPPORTED' // a valid but unsupported APDU/feature (ciphering, SN referencing…)
  | 'ENCODE' // a value that cannot be encoded (caller's mistake)
  | 'SECURITY' // a protected APDU or HLS proof that fails a check (tag, key, system title, counter, truncation)

const KIND: Record<DlmsErrorCode, ErrorKind> = {
  TIMEOUT: 'network',
  CONNECTION_FAILED: 'network',
  CONNECTION_CLOSED: 'network',
  NOT_CONNECTED: 'usage',
  ASSOCIATION_REJECTED: 'protocol',
  ACCESS_DENIED: 'protocol',
  DATA_ACCESS: 'protocol',
  EXCEPTION_RESPONSE: 'protocol',
  SERVICE_ERROR: 'protocol',
  MALFORMED_FRAME: 'protocol',
  UNSUPPORTED: 'protocol',
  ENCODE: 'input',
  SECURITY: 'protocol',
}

export interface DlmsErrorDetails {
  hint?: string
  cause?: unknown
  /** Byte offset where a decoder gave up (MALFORMED_FRAME). */
  offset?: number
  /**
   * MALFORMED_FRAME: the frame arrived whole and in order, only the APDU in it does not decode (a meter's
   * bad value); the link and the association are still usable, so other objects can still be read.
   */
  apduOnly?: boolean
  /** Association result / diagnostic (ASSOCIATION_REJECTED). */
  result?: number
  resultName?: string
  diagnostic?: number
  diagnosticName?: string
  /** data-access-result code and name (ACCESS_DENIED / DATA_ACCESS). */
  dataAccessResult?: number
  dataAccessResultName?: string
  /** Why a SECURITY check failed (see codec/security.ts SecurityReason). */
  securityReason?: string
}

export class DlmsError extends NetmonError {
  readonly dlmsCode: DlmsErrorCode
  readonly details: DlmsErrorDetails

  constructor(dlmsCode: DlmsErrorCode, message: string, details: DlmsErrorDetails = {}) {
    // NOT_CONNECTED is a programming/usage mistake but must still exit 1 (not 2): it is not bad user input.
    super(KIND[dlmsCode], message, {hint: details.hint, cause: details.cause, code: `DLMS_${dlmsCode}`, exitCode: dlmsCode === 'ENCODE' ? 2 : 1})
    this.name = 'DlmsError'
    this.dlmsCode = dlmsCode
    this.details = details
  }
}

export function isDlmsError(e: unknown): e is DlmsError {
  return e instanceof DlmsError
}

/** A whole answer whose APDU (e.g. one value in it) does not decode: the association survives it. */
export const isUndecodableAnswer = (e: unknown): e is DlmsError => isDlmsError(e) && e.dlmsCode === 'MALFORMED_FRAME' && e.details.apduOnly === true

export const malformed = (message: string, offset?: number): DlmsError =>
  new DlmsError('MALFORMED_FRAME', offset === undefined ? message : `${message} (at byte ${offset})`, {offset})

export const encodeError = (message: string): DlmsError => new DlmsError('ENCODE', message)

/**
 * One entry point for "what APDU is this?": dispatch on the first byte (the COSEMpdu tag), decode the
 * whole unit and insist that nothing is left over (a complete APDU comes from a frame, so leftovers mean
 * the lengths lie).
 */
import {Reader, run, type DecodeResult} from '../bytes.js'
import {readActionRequest, readActionResponse, encodeActionRequest, encodeActionResponse, type ActionRequest, type ActionResponse} from './action.js'
import {readAare, readAarq, readRlre, readRlrq, encodeAare, encodeAarq, encodeRlre, encodeRlrq, type Aare, type Aarq, type Release} from './association.js'
import {ApduTag, CIPHERED_TAGS} from './common.js'
import {
  readConfirmedServiceError,
  readExceptionResponse,
  encodeConfirmedServiceError,
  encodeExceptionResponse,
  type ConfirmedServiceError,
  type ExceptionResponse,
} from './errors.js'
import {readGetRequest, readGetResponse, encodeGetRequest, encodeGetResponse, type GetRequest, type GetResponse} from './get.js'
import {readSetRequest, readSetResponse, encodeSetRequest, encodeSetResponse, type SetRequest, type SetResponse} from './set.js'

export type Apdu =
  | {kind: 'aarq'; apdu: Aarq}
  | {kind: 'aare'; apdu: Aare}
  | {kind: 'rlrq'; apdu: Release}
  | {kind: 'rlre'; apdu: Release}
  | {kind: 'get-request'; apdu: GetRequest}
  | {kind: 'get-response'; apdu: GetResponse}
  | {kind: 'set-request'; apdu: SetRequest}
  | {kind: 'set-response'; apdu: SetResponse}
  | {kind: 'action-request'; apdu: ActionRequest}
  | {kind: 'action-response'; apdu: ActionResponse}
  | {kind: 'exception-response'; apdu: ExceptionResponse}
  | {kind: 'confirmed-service-error'; apdu: ConfirmedServiceError}
  /** A well-formed tag we do not implement (ciphered, SN, ACTION, notifications…). */
  | {kind: 'unsupported'; tag: number; ciphered: boolean; raw: Uint8Array}

function readApdu(r: Reader): Apdu {
  const tag = r.peek()
  switch (tag) {
    case ApduTag.AARQ:
      return {kind: 'aarq', apdu: readAarq(r)}
    case ApduTag.AARE:
      return {kind: 'aare', apdu: readAare(r)}
    case ApduTag.RLRQ:
      return {kind: 'rlrq', apdu: readRlrq(r)}
    case ApduTag.RLRE:
      return {kind: 'rlre', apdu: readRlre(r)}
    case ApduTag.GET_REQUEST:
      return {kind: 'get-request', apdu: readGetRequest(r)}
    case ApduTag.GET_RESPONSE:
      return {kind: 'get-response', apdu: readGetResponse(r)}
    case ApduTag.SET_REQUEST:
      return {kind: 'set-request', apdu: readSetRequest(r)}
    case ApduTag.SET_RESPONSE:
      return {kind: 'set-response', apdu: readSetResponse(r)}
    case ApduTag.EXCEPTION_RESPONSE:
      return {kind: 'exception-response', apdu: readExceptionResponse(r)}
    case ApduTag.CONFIRMED_SERVICE_ERROR:
      return {kind: 'confirmed-service-error', apdu: readConfirmedServiceError(r)}
    case ApduTag.ACTION_REQUEST:
      return {kind: 'action-request', apdu: readActionRequest(r)}
    case ApduTag.ACTION_RESPONSE:
      return {kind: 'action-response', apdu: readActionResponse(r)}
    case ApduTag.DATA_NOTIFICATION:
    case ApduTag.EVENT_NOTIFICATION:
      return {kind: 'unsupported', tag, ciphered: false, raw: r.bytes(r.remaining).slice()}
    default:
      if (CIPHERED_TAGS.has(tag)) return {kind: 'unsupported', tag, ciphered: true, raw: r.bytes(r.remaining).slice()}
      return r.fail(`unknown APDU tag 0x${tag.toString(16).padStart(2, '0')}`)
  }
}

/** Decodes one complete APDU; bytes left after it make it malformed. */
export function decodeApdu(bytes: Uint8Array): DecodeResult<Apdu> {
  return run(new Reader(bytes), r => {
    if (r.remaining === 0) r.fail('empty APDU')
    const apdu = readApdu(r)
    if (r.remaining !== 0) r.fail(`${r.remaining} byte(s) after the ${apdu.kind} APDU`)
    return apdu
  })
}

export function encodeApdu(a: Exclude<Apdu, {kind: 'unsupported'}>): Uint8Array {
  switch (a.kind) {
    case 'aarq':
      return encodeAarq(a.apdu)
    case 'aare':
      return encodeAare(a.apdu)
    case 'rlrq':
      return encodeRlrq(a.apdu)
    case 'rlre':
      return encodeRlre(a.apdu)
    case 'get-request':
      return encodeGetRequest(a.apdu)
    case 'get-response':
      return encodeGetResponse(a.apdu)
    case 'set-request':
      return encodeSetRequest(a.apdu)
    case 'set-response':
      return encodeSetResponse(a.apdu)
    case 'action-request':
      return encodeActionRequest(a.apdu)
    case 'action-response':
      return encodeActionResponse(a.apdu)
    case 'exception-response':
      return encodeExceptionResponse(a.apdu)
    case 'confirmed-service-error':
      return encodeConfirmedServiceError(a.apdu)
  }
}

export * from './action.js'
export * from './association.js'
export * from './common.js'
export * from './errors.js'
export * from './get.js'
export * from './set.js'
export * from './notification.js'

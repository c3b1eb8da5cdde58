/**
 * Error APDUs a server may send instead of the expected response (Green Book 9.5):
 *
 *   D8 state-error service-error [u32]   EXCEPTION-Response (the request could not even be processed)
 *   0E service error-class value         Confirmed-ServiceError (e.g. initiate refused, unknown service)
 */
import {Reader, run, Writer, type DecodeResult} from '../bytes.js'
import {ApduTag} from './common.js'

export const EXCEPTION_STATE_ERRORS: Record<number, string> = {1: 'service-not-allowed', 2: 'service-unknown'}
export const EXCEPTION_SERVICE_ERRORS: Record<number, string> = {
  1: 'operation-not-possible',
  2: 'service-not-supported',
  3: 'other-reason',
  4: 'pdu-too-long',
  5: 'deciphering-error',
  6: 'invocation-counter-error',
}

export interface ExceptionResponse {
  stateError: number
  serviceError: number
  /** Present with invocation-counter-error: the counter the server expects. */
  invocationCounter?: number
}

export function encodeExceptionResponse(e: ExceptionResponse): Uint8Array {
  const w = new Writer(8).u8(ApduTag.EXCEPTION_RESPONSE).u8(e.stateError).u8(e.serviceError)
  if (e.serviceError === 6 && e.invocationCounter !== undefined) w.u32(e.invocationCounter)
  return w.finish()
}

export function readExceptionResponse(r: Reader): ExceptionResponse {
  const at = r.pos
  if (r.u8() !== ApduTag.EXCEPTION_RESPONSE) r.fail('not an EXCEPTION-Response', at)
  const stateError = r.u8()
  const serviceError = r.u8()
  if (serviceError === 6 && r.remaining >= 4) return {stateError, serviceError, invocationCounter: r.u32()}
  return {stateError, serviceError}
}

export function describeException(e: ExceptionResponse): string {
  return `${EXCEPTION_STATE_ERRORS[e.stateError] ?? `state-error-${e.stateError}`}, ${EXCEPTION_SERVICE_ERRORS[e.serviceError] ?? `service-error-${e.serviceError}`}`
}

/** ConfirmedServiceError service CHOICE (which request failed). */
export const CONFIRMED_SERVICES: Record<number, string> = {
  1: 'initiate',
  2: 'getStatus',
  3: 'getNameList',
  4: 'getVariableAttribute',
  5: 'read',
  6: 'write',
  7: 'getDataSetAttribute',
  8: 'getTIAttribute',
  9: 'changeScope',
  10: 'start',
  11: 'stop',
  12: 'resume',
  13: 'makeUsable',
  14: 'initiateLoad',
  15: 'loadSegment',
  16: 'terminateLoad',
  17: 'initiateUpLoad',
  18: 'upLoadSegment',
  19: 'terminateUpLoad',
}

/** ServiceError CHOICE (error class) and, for the common classes, the enum names. */
export const SERVICE_ERROR_CLASSES: Record<number, string> = {
  0: 'application-reference',
  1: 'hardware-resource',
  2: 'vde-state-error',
  3: 'service',
  4: 'definition',
  5: 'access',
  6: 'initiate',
  7: 'load-data-set',
  8: 'change-scope',
  9: 'task',
  10: 'other',
}

export interface ConfirmedServiceError {
  service: number
  errorClass: number
  value: number
}

export function encodeConfirmedServiceError(e: ConfirmedServiceError): Uint8Array {
  return Uint8Array.of(ApduTag.CONFIRMED_SERVICE_ERROR, e.service, e.errorClass, e.value)
}

export function readConfirmedServiceError(r: Reader): ConfirmedServiceError {
  const at = r.pos
  if (r.u8() !== ApduTag.CONFIRMED_SERVICE_ERROR) r.fail('not a Confirmed-ServiceError', at)
  return {service: r.u8(), errorClass: r.u8(), value: r.u8()}
}

export function describeServiceError(e: ConfirmedServiceError): string {
  return `${CONFIRMED_SERVICES[e.service] ?? `service-${e.service}`}: ${SERVICE_ERROR_CLASSES[e.errorClass] ?? `class-${e.errorClass}`} ${e.value}`
}

export const decodeExceptionResponse = (bytes: Uint8Array): DecodeResult<ExceptionResponse> => run(new Reader(bytes), readExceptionResponse)
export const decodeConfirmedServiceError = (bytes: Uint8Array): DecodeResult<ConfirmedServiceError> => run(new Reader(bytes), readConfirmedServiceError)

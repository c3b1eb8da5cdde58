/**
 * SET service, normal form only (Green Book 9.5, Set-Request-Normal / Set-Response-Normal):
 *
 *   C1 01 iid descriptor access? Data    Set-Request-Normal
 *   C5 01 iid Data-Access-Result         Set-Response-Normal
 *
 * Block-transferred and with-list SETs are not implemented (the client never proposes needing them for
 * writes it makes, and the simulator answers them with an exception-response).
 */
import {readData, writeData, type DlmsData} from '../axdr.js'
import {Reader, run, Writer, type DecodeResult} from '../bytes.js'
import {ApduTag, readAccess, readDescriptor, writeAccess, writeDescriptor, type AccessSelection, type AttributeDescriptor} from './common.js'

export interface SetRequest {
  type: 'normal'
  invokeId: number
  descriptor: AttributeDescriptor
  access?: AccessSelection
  value: DlmsData
}

export interface SetResponse {
  type: 'normal'
  invokeId: number
  /** Data-Access-Result, 0 = success. */
  result: number
}

export function encodeSetRequest(req: SetRequest): Uint8Array {
  const w = new Writer(32).u8(ApduTag.SET_REQUEST).u8(1).u8(req.invokeId)
  writeDescriptor(w, req.descriptor)
  writeAccess(w, req.access)
  writeData(w, req.value)
  return w.finish()
}

export function readSetRequest(r: Reader): SetRequest {
  const at = r.pos
  if (r.u8() !== ApduTag.SET_REQUEST) r.fail('not a Set-Request', at)
  const choiceAt = r.pos
  const choice = r.u8()
  if (choice !== 1) r.fail(`Set-Request choice ${choice} is not supported (only normal)`, choiceAt)
  const invokeId = r.u8()
  const descriptor = readDescriptor(r)
  const access = readAccess(r)
  const value = readData(r)
  return access ? {type: 'normal', invokeId, descriptor, access, value} : {type: 'normal', invokeId, descriptor, value}
}

export function encodeSetResponse(res: SetResponse): Uint8Array {
  return new Writer(4).u8(ApduTag.SET_RESPONSE).u8(1).u8(res.invokeId).u8(res.result).finish()
}

export function readSetResponse(r: Reader): SetResponse {
  const at = r.pos
  if (r.u8() !== ApduTag.SET_RESPONSE) r.fail('not a Set-Response', at)
  const choiceAt = r.pos
  const choice = r.u8()
  if (choice !== 1) r.fail(`Set-Response choice ${choice} is not supported (only normal)`, choiceAt)
  return {type: 'normal', invokeId: r.u8(), result: r.u8()}
}

export const decodeSetRequest = (bytes: Uint8Array): DecodeResult<SetRequest> => run(new Reader(bytes), readSetRequest)
export const decodeSetResponse = (bytes: Uint8Array): DecodeResult<SetResponse> => run(new Reader(bytes), readSetResponse)

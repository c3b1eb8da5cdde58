/**
 * ACTION service, normal form only (Green Book 9.5, Action-Request-Normal / Action-Response-Normal), as
 * needed for HLS pass 3/4 (association LN, class 15, method 1 reply_to_HLS_authentication):
 *
 *   C3 01 iid class(2) obis(6) method(1) [00 | 01 Data]                          Action-Request-Normal
 *   C7 01 iid Action-Result [00 | 01 (00 Data | 01 Data-Access-Result)]          Action-Response-Normal
 */
import {readData, writeData, type DlmsData} from '../axdr.js'
import {Reader, run, Writer, type DecodeResult} from '../bytes.js'
import {ApduTag} from './common.js'
import {encodeError} from '../../errors.js'

export interface MethodDescriptor {
  classId: number
  obis: Uint8Array
  method: number
}

export interface ActionRequest {
  type: 'normal'
  invokeId: number
  descriptor: MethodDescriptor
  parameters?: DlmsData
}

export interface ActionResponse {
  type: 'normal'
  invokeId: number
  /** Action-Result: 0 success, 1 hardware-fault, 2 temporary-failure, 3 read-write-denied, 4 object-undefined, … 250 other-reason. */
  result: number
  returnParameters?: {ok: true; data: DlmsData} | {ok: false; error: number}
}

export function encodeActionRequest(req: ActionRequest): Uint8Array {
  const d = req.descriptor
  if (d.obis.length !== 6) throw encodeError('logical name must be 6 bytes')
  const w = new Writer(32).u8(ApduTag.ACTION_REQUEST).u8(1).u8(req.invokeId).u16(d.classId).bytes(d.obis).u8(d.method)
  if (req.parameters) {
    w.u8(1)
    writeData(w, req.parameters)
  } else w.u8(0)
  return w.finish()
}

export function readActionRequest(r: Reader): ActionRequest {
  const at = r.pos
  if (r.u8() !== ApduTag.ACTION_REQUEST) r.fail('not an Action-Request', at)
  const choiceAt = r.pos
  const choice = r.u8()
  if (choice !== 1) r.fail(`Action-Request choice ${choice} is not supported (only normal)`, choiceAt)
  const invokeId = r.u8()
  const classId = r.u16()
  const obis = r.bytes(6).slice()
  const method = r.u8()
  const flagAt = r.pos
  const present = r.u8()
  if (present > 1) r.fail(`OPTIONAL marker ${present} (expected 0 or 1)`, flagAt)
  const req: ActionRequest = {type: 'normal', invokeId, descriptor: {classId, obis, method}}
  if (present) req.parameters = readData(r)
  return req
}

export function encodeActionResponse(res: ActionResponse): Uint8Array {
  const w = new Writer(32).u8(ApduTag.ACTION_RESPONSE).u8(1).u8(res.invokeId).u8(res.result)
  const rp = res.returnParameters
  if (!rp) w.u8(0)
  else if (rp.ok) {
    w.u8(1).u8(0)
    writeData(w, rp.data)
  } else w.u8(1).u8(1).u8(rp.error)
  return w.finish()
}

export function readActionResponse(r: Reader): ActionResponse {
  const at = r.pos
  if (r.u8() !== ApduTag.ACTION_RESPONSE) r.fail('not an Action-Response', at)
  const choiceAt = r.pos
  const choice = r.u8()
  if (choice !== 1) r.fail(`Action-Response choice ${choice} is not supported (only normal)`, choiceAt)
  const invokeId = r.u8()
  const result = r.u8()
  const flagAt = r.pos
  const present = r.u8()
  if (present > 1) r.fail(`OPTIONAL marker ${present} (expected 0 or 1)`, flagAt)
  const res: ActionResponse = {type: 'normal', invokeId, result}
  if (present) {
    const cAt = r.pos
    const c = r.u8()
    if (c === 0) res.returnParameters = {ok: true, data: readData(r)}
    else if (c === 1) res.returnParameters = {ok: false, error: r.u8()}
    else r.fail(`Get-Data-Result choice ${c}`, cAt)
  }
  return res
}

export const decodeActionRequest = (bytes: Uint8Array): DecodeResult<ActionRequest> => run(new Reader(bytes), readActionRequest)
export const decodeActionResponse = (bytes: Uint8Array): DecodeResult<ActionResponse> => run(new Reader(bytes), readActionResponse)

/**
 * GET service APDUs, logical name referencing (Green Book 9.5, Get-Request / Get-Response):
 *
 *   C0 01 iid descriptor access?          Get-Request-Normal
 *   C0 02 iid block-number(u32)           Get-Request-Next (ask for the next block of a long response)
 *   C0 03 iid count {descriptor access?}* Get-Request-With-List
 *   C4 01 iid Get-Data-Result             Get-Response-Normal
 *   C4 02 iid DataBlock-G                 Get-Response-With-Datablock
 *   C4 03 iid count Get-Data-Result*      Get-Response-With-List
 *
 * Get-Data-Result ::= CHOICE { data [0] Data, data-access-result [1] enum }.
 * DataBlock-G ::= { last-block BOOLEAN, block-number u32, result CHOICE { raw-data [0] OCTET STRING, data-access-result [1] enum } }.
 */
import {readData, writeData, type DlmsData} from '../axdr.js'
import {Reader, run, Writer, type DecodeResult} from '../bytes.js'
import {ApduTag, readAccess, readDescriptor, writeAccess, writeDescriptor, type AccessSelection, type AttributeDescriptor} from './common.js'

export interface GetItem {
  descriptor: AttributeDescriptor
  access?: AccessSelection
}

export type GetRequest =
  | ({type: 'normal'; invokeId: number} & GetItem)
  | {type: 'next'; invokeId: number; blockNumber: number}
  | {type: 'with-list'; invokeId: number; items: GetItem[]}

export type GetDataResult = {ok: true; data: DlmsData} | {ok: false; error: number}

export type GetResponse =
  | {type: 'normal'; invokeId: number; result: GetDataResult}
  | {type: 'with-datablock'; invokeId: number; lastBlock: boolean; blockNumber: number; result: {ok: true; raw: Uint8Array} | {ok: false; error: number}}
  | {type: 'with-list'; invokeId: number; results: GetDataResult[]}

export function encodeGetRequest(req: GetRequest): Uint8Array {
  const w = new Writer(32).u8(ApduTag.GET_REQUEST)
  switch (req.type) {
    case 'normal':
      w.u8(1).u8(req.invokeId)
      writeDescriptor(w, req.descriptor)
      writeAccess(w, req.access)
      break
    case 'next':
      w.u8(2).u8(req.invokeId).u32(req.blockNumber)
      break
    case 'with-list':
      w.u8(3).u8(req.invokeId).berLength(req.items.length)
      for (const it of req.items) {
        writeDescriptor(w, it.descriptor)
        writeAccess(w, it.access)
      }
      break
  }
  return w.finish()
}

export function readGetRequest(r: Reader): GetRequest {
  const at = r.pos
  if (r.u8() !== ApduTag.GET_REQUEST) r.fail('not a Get-Request', at)
  const choiceAt = r.pos
  const choice = r.u8()
  const invokeId = r.u8()
  switch (choice) {
    case 1: {
      const descriptor = readDescriptor(r)
      const access = readAccess(r)
      return access ? {type: 'normal', invokeId, descriptor, access} : {type: 'normal', invokeId, descriptor}
    }
    case 2:
      return {type: 'next', invokeId, blockNumber: r.u32()}
    case 3: {
      const n = r.berLengthWithin(10) // a descriptor alone is 9 bytes + the access marker
      const items: GetItem[] = []
      for (let i = 0; i < n; i++) {
        const descriptor = readDescriptor(r)
        const access = readAccess(r)
        items.push(access ? {descriptor, access} : {descriptor})
      }
      return {type: 'with-list', invokeId, items}
    }
    default:
      return r.fail(`unknown Get-Request choice ${choice}`, choiceAt)
  }
}

function writeGetDataResult(w: Writer, res: GetDataResult): void {
  if (res.ok) {
    w.u8(0)
    writeData(w, res.data)
  } else w.u8(1).u8(res.error)
}

function readGetDataResult(r: Reader): GetDataResult {
  const at = r.pos
  const choice = r.u8()
  if (choice === 0) return {ok: true, data: readData(r)}
  if (choice === 1) return {ok: false, error: r.u8()}
  return r.fail(`Get-Data-Result choice ${choice} (expected 0 data or 1 data-access-result)`, at)
}

export function encodeGetResponse(res: GetResponse): Uint8Array {
  const w = new Writer(64).u8(ApduTag.GET_RESPONSE)
  switch (res.type) {
    case 'normal':
      w.u8(1).u8(res.invokeId)
      writeGetDataResult(w, res.result)
      break
    case 'with-datablock':
      w.u8(2)
        .u8(res.invokeId)
        .u8(res.lastBlock ? 1 : 0)
        .u32(res.blockNumber)
      if (res.result.ok) w.u8(0).berLength(res.result.raw.length).bytes(res.result.raw)
      else w.u8(1).u8(res.result.error)
      break
    case 'with-list':
      w.u8(3).u8(res.invokeId).berLength(res.results.length)
      for (const it of res.results) writeGetDataResult(w, it)
      break
  }
  return w.finish()
}

/** Bytes a Get-Response-With-Datablock header takes before `raw` bytes of data (for sizing blocks to a PDU). */
export function datablockOverhead(rawLength: number): number {
  const lenBytes = rawLength < 0x80 ? 1 : rawLength <= 0xff ? 2 : rawLength <= 0xffff ? 3 : rawLength <= 0xffffff ? 4 : 5
  return 1 + 1 + 1 + 1 + 4 + 1 + lenBytes
}

export function readGetResponse(r: Reader): GetResponse {
  const at = r.pos
  if (r.u8() !== ApduTag.GET_RESPONSE) r.fail('not a Get-Response', at)
  const choiceAt = r.pos
  const choice = r.u8()
  const invokeId = r.u8()
  switch (choice) {
    case 1:
      return {type: 'normal', invokeId, result: readGetDataResult(r)}
    case 2: {
      const lastAt = r.pos
      const last = r.u8()
      if (last > 1) r.fail(`last-block BOOLEAN ${last}`, lastAt)
      const blockNumber = r.u32()
      const resAt = r.pos
      const c = r.u8()
      if (c === 0) return {type: 'with-datablock', invokeId, lastBlock: last === 1, blockNumber, result: {ok: true, raw: r.bytes(r.berLength()).slice()}}
      if (c === 1) return {type: 'with-datablock', invokeId, lastBlock: last === 1, blockNumber, result: {ok: false, error: r.u8()}}
      return r.fail(`DataBlock-G result choice ${c}`, resAt)
    }
    case 3: {
      const n = r.berLengthWithin(2)
      const results: GetDataResult[] = []
      for (let i = 0; i < n; i++) results.push(readGetDataResult(r))
      return {type: 'with-list', invokeId, results}
    }
    default:
      return r.fail(`unknown Get-Response choice ${choice}`, choiceAt)
  }
}

/**
 * The reassembled raw data of a block transfer answering a Get-Request-With-List is a
 * SEQUENCE OF Get-Data-Result (count + items), not a single Data.
 */
export function readGetDataResultList(r: Reader): GetDataResult[] {
  const n = r.berLengthWithin(2)
  const out: GetDataResult[] = []
  for (let i = 0; i < n; i++) out.push(readGetDataResult(r))
  return out
}

export function encodeGetDataResultList(results: GetDataResult[]): Uint8Array {
  const w = new Writer().berLength(results.length)
  for (const res of results) writeGetDataResult(w, res)
  return w.finish()
}

export const decodeGetRequest = (bytes: Uint8Array): DecodeResult<GetRequest> => run(new Reader(bytes), readGetRequest)
export const decodeGetResponse = (bytes: Uint8Array): DecodeResult<GetResponse> => run(new Reader(bytes), readGetResponse)

/**
 * ThingsBoard downlink, the message shapes (issue 18 item 3, docs/BRIDGE.md "Downlink"): what the
 * bridge subscribes to, how an inbound RPC / shared-attribute message is read, and what a reply or an
 * attribute request looks like. Pure: no sockets, no timers (rpc.ts runs the methods).
 *
 * Gateway API (one connection for every meter, the device named in the payload):
 *   v1/gateway/rpc                  ← {"device":"m1","data":{"id":7,"method":"read","params":{…}}}
 *                                   → {"device":"m1","id":7,"data":<reply>}            (same topic)
 *   v1/gateway/attributes           ← {"device":"m1","data":{"poll_interval":10}}
 *   v1/gateway/attributes/request   → {"id":3,"device":"m1","client":false,"keys":["poll_interval"]}
 *   v1/gateway/attributes/response  ← {"id":3,"device":"m1","value":10}   (several keys: "values":{…})
 * Device API (one connection per meter, its token):
 *   v1/devices/me/rpc/request/{id}  ← {"method":"read","params":{…}}
 *   v1/devices/me/rpc/response/{id} → <reply>
 *   v1/devices/me/attributes        ← {"poll_interval":10}     (a deletion: {"deleted":["poll_interval"]})
 *   v1/devices/me/attributes/request/{id} → {"sharedKeys":"poll_interval"}
 *   v1/devices/me/attributes/response/{id} ← {"shared":{"poll_interval":10}}
 * The gateway request field names follow ThingsBoard's own transport (GatewaySessionHandler: "id",
 * "device", "client" as a boolean scope, "key" or "keys"; its response: "value" for one key, "values").
 */
import type {Format, Message} from '../mqtt/formats.js'

export const GATEWAY_RPC = 'v1/gateway/rpc'
export const GATEWAY_ATTRIBUTES = 'v1/gateway/attributes'
export const GATEWAY_ATTRIBUTES_REQUEST = 'v1/gateway/attributes/request'
export const GATEWAY_ATTRIBUTES_RESPONSE = 'v1/gateway/attributes/response'
export const DEVICE_RPC_REQUEST = 'v1/devices/me/rpc/request/'
export const DEVICE_RPC_RESPONSE = 'v1/devices/me/rpc/response/'
export const DEVICE_ATTRIBUTES = 'v1/devices/me/attributes'
export const DEVICE_ATTRIBUTES_REQUEST = 'v1/devices/me/attributes/request/'
export const DEVICE_ATTRIBUTES_RESPONSE = 'v1/devices/me/attributes/response/'

/** The shared attributes netmon acts on (anything else is logged and ignored). */
export const SHARED_KEYS = ['poll_interval'] as const

export function subscriptions(format: Format): string[] {
  if (format === 'thingsboard-gateway') return [GATEWAY_RPC, GATEWAY_ATTRIBUTES, GATEWAY_ATTRIBUTES_RESPONSE]
  if (format === 'thingsboard-device') return [`${DEVICE_RPC_REQUEST}+`, DEVICE_ATTRIBUTES, `${DEVICE_ATTRIBUTES_RESPONSE}+`]
  return []
}

export type RpcId = number | string

export type Inbound =
  /** device: the gateway payload's device name (undefined in the device API: the connection says which meter). */
  | {kind: 'rpc'; device?: string; id: RpcId; method: string; params: unknown}
  /** An RPC we cannot run but can answer (it has an id): the reply is BAD_REQUEST. */
  | {kind: 'bad-rpc'; device?: string; id: RpcId; reason: string}
  | {kind: 'attributes'; device?: string; values: Record<string, unknown>; deleted: string[]}
  | {kind: 'attributes-response'; device?: string; id: RpcId; values: Record<string, unknown>}
  /** Nothing to do (our own RPC replies echoed by the broker on v1/gateway/rpc) or not answerable. */
  | {kind: 'ignored'; reason: string}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isId = (v: unknown): v is RpcId => (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && v.length > 0 && v.length <= 64)

function parseJson(payload: Buffer | string): unknown {
  try {
    return JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'))
  } catch {
    return undefined
  }
}

/**
 * ThingsBoard passes `params` as sent by the caller: an object, or the JSON text of one (dashboards'
 * RPC widgets send text). Absent or null → {}.
 */
export function normaliseParams(p: unknown): unknown {
  if (p === undefined || p === null || p === '') return {}
  if (typeof p === 'string') {
    const t = p.trim()
    if (t.startsWith('{')) {
      const v = parseJson(t)
      if (v !== undefined) return v
    }
  }
  return p
}

/** Reads one inbound message of the downlink; never throws. */
export function parseInbound(format: Format, topic: string, payload: Buffer | string): Inbound {
  const body = parseJson(payload)
  if (format === 'thingsboard-gateway') {
    if (!isObject(body)) return {kind: 'ignored', reason: `${topic}: not a JSON object`}
    const device = typeof body.device === 'string' ? body.device : undefined
    if (topic === GATEWAY_RPC) {
      const data = body.data
      // Our own replies come back on the same topic: {"device","id","data"}, the id outside data.
      if (body.id !== undefined) return {kind: 'ignored', reason: 'an RPC reply'}
      if (!isObject(data)) return {kind: 'ignored', reason: 'RPC without data'}
      if (device === undefined) return {kind: 'ignored', reason: 'RPC without a device name'}
      if (!isId(data.id)) return {kind: 'ignored', reason: `RPC for ${device} without an id`}
      if (typeof data.method !== 'string' || data.method === '') return {kind: 'bad-rpc', device, id: data.id, reason: 'the request names no method'}
      return {kind: 'rpc', device, id: data.id, method: data.method, params: normaliseParams(data.params)}
    }
    if (topic === GATEWAY_ATTRIBUTES) {
      // Shared attribute updates: {"device","data"}; a client-attribute publish ({"<name>":{…}}) has no "device".
      if (device === undefined || !isObject(body.data)) return {kind: 'ignored', reason: 'not a shared attribute update'}
      const {deleted, ...values} = body.data
      return {kind: 'attributes', device, values, deleted: Array.isArray(deleted) ? deleted.filter(d => typeof d === 'string') : []}
    }
    if (topic === GATEWAY_ATTRIBUTES_RESPONSE) {
      if (device === undefined || !isId(body.id)) return {kind: 'ignored', reason: 'attribute response without device or id'}
      const values: Record<string, unknown> = isObject(body.values) ? {...body.values} : {}
      if ('value' in body) values[''] = body.value // one key: ThingsBoard sends "value"; the caller knows which key it asked for
      return {kind: 'attributes-response', device, id: body.id, values}
    }
    return {kind: 'ignored', reason: `unexpected topic ${topic}`}
  }
  if (format === 'thingsboard-device') {
    if (topic.startsWith(DEVICE_RPC_REQUEST)) {
      const id = topic.slice(DEVICE_RPC_REQUEST.length)
      if (!/^[0-9A-Za-z_-]{1,64}$/.test(id)) return {kind: 'ignored', reason: `RPC topic ${topic} has no request id`}
      const rid: RpcId = /^\d{1,15}$/.test(id) ? Number(id) : id
      if (!isObject(body)) return {kind: 'bad-rpc', id: rid, reason: 'the request is not a JSON object'}
      if (typeof body.method !== 'string' || body.method === '') return {kind: 'bad-rpc', id: rid, reason: 'the request names no method'}
      return {kind: 'rpc', id: rid, method: body.method, params: normaliseParams(body.params)}
    }
    if (topic === DEVICE_ATTRIBUTES) {
      if (!isObject(body)) return {kind: 'ignored', reason: `${topic}: not a JSON object`}
      const {deleted, ...values} = body
      return {kind: 'attributes', values, deleted: Array.isArray(deleted) ? deleted.filter(d => typeof d === 'string') : []}
    }
    if (topic.startsWith(DEVICE_ATTRIBUTES_RESPONSE)) {
      const id = topic.slice(DEVICE_ATTRIBUTES_RESPONSE.length)
      if (!isObject(body) || !/^\d{1,15}$/.test(id)) return {kind: 'ignored', reason: 'attribute response without id'}
      return {kind: 'attributes-response', id: Number(id), values: isObject(body.shared) ? {...body.shared} : {}}
    }
    return {kind: 'ignored', reason: `unexpected topic ${topic}`}
  }
  return {kind: 'ignored', reason: 'the plain format has no downlink'}
}

export const RPC_ERROR_CODES = [
  'BAD_REQUEST',
  'UNKNOWN_DEVICE',
  'UNKNOWN_METHOD',
  'BAD_PARAMS',
  'WRITE_NOT_ALLOWED',
  'METER_UNREACHABLE',
  'TIMEOUT',
  'ACCESS_DENIED',
  'DATA_ACCESS',
  'DLMS_ERROR',
] as const
export type RpcErrorCode = (typeof RPC_ERROR_CODES)[number]

export type RpcReply =
  | {success: true; method: string; result: Record<string, unknown>}
  | {success: false; method: string | null; error: {code: RpcErrorCode; message: string; dlms_code?: string}}

/** The reply to an RPC: gateway → v1/gateway/rpc {"device","id","data"}; device → v1/devices/me/rpc/response/{id}. */
export function rpcReplyMessage(format: Format, device: string | undefined, id: RpcId, reply: RpcReply): Message {
  if (format === 'thingsboard-gateway') return {topic: GATEWAY_RPC, payload: JSON.stringify({device, id, data: reply})}
  return {topic: `${DEVICE_RPC_RESPONSE}${id}`, payload: JSON.stringify(reply)}
}

/** Asks ThingsBoard for the shared attributes netmon acts on (sent after each connect). */
export function attributeRequestMessage(format: Format, device: string, id: number): Message {
  if (format === 'thingsboard-gateway') return {topic: GATEWAY_ATTRIBUTES_REQUEST, payload: JSON.stringify({id, device, client: false, keys: [...SHARED_KEYS]})}
  return {topic: `${DEVICE_ATTRIBUTES_REQUEST}${id}`, payload: JSON.stringify({sharedKeys: SHARED_KEYS.join(',')})}
}

/** Shared attribute poll_interval: seconds (number) or a duration text ("15s", "1m"); 100 ms … 1 d. */
export function parsePollInterval(v: unknown, parse: (text: string) => number): {ms: number} | {error: string} {
  let ms: number
  if (typeof v === 'number') ms = Math.round(v * 1000)
  else if (typeof v === 'string') {
    try {
      ms = /^\d+(\.\d+)?$/.test(v.trim()) ? Math.round(Number(v) * 1000) : parse(v.trim())
    } catch {
      return {error: `"${v}" is not a duration (use seconds or e.g. 15s, 1m)`}
    }
  } else return {error: `expected seconds or a duration text, got ${v === null ? 'null' : typeof v}`}
  if (!Number.isFinite(ms) || ms < 100 || ms > 86_400_000) return {error: `${JSON.stringify(v)} is outside 100ms … 1d`}
  return {ms}
}

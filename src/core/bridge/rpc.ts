/**
 * ThingsBoard downlink, the behaviour (issue 18 item 3, docs/BRIDGE.md "Downlink"): the RPC methods run
 * on the meter's own association (MeterWorker.withClient), every request gets exactly one reply (a
 * result or an error with a code), and the shared attributes netmon understands are applied to the
 * worker. The message shapes are in downlink.ts.
 *
 *   read          {obis?: code | key | [...], class?}   → {ts, values: {name: value}, errors?}
 *   read_profile  {obis?, from, to?, limit?}             → {obis, columns, rows, count, truncated}
 *   set_clock     {time?, obis?}                          → {obis, before, written, after}     (allow_write)
 *   disconnect    {obis?}                                 → {obis, output_state, control_state} (allow_write)
 *   reconnect     {obis?}                                 → {obis, output_state, control_state} (allow_write)
 */
import {z} from 'zod'
import {D, toPlain} from '../dlms/codec/axdr.js'
import type {GetDataResult} from '../dlms/codec/apdu/index.js'
import {dataAccessResultName, hasConformance} from '../dlms/codec/apdu/index.js'
import {dateTimeFromDate, dateTimeToIso} from '../dlms/codec/datetime.js'
import {formatObis, parseObis, tryParseObis} from '../dlms/codec/obis.js'
import {
  Attr,
  ClassId,
  DISCONNECT_CONTROL_OBIS,
  DISCONNECT_CONTROL_STATES,
  DisconnectMethod,
  dateTimeData,
  isClockColumn,
  parseScalerUnit,
  type ScalerUnit,
} from '../dlms/cosem.js'
import {isDlmsError} from '../dlms/errors.js'
import {NetmonError} from '../errors.js'
import {parseDuration} from '../format/time.js'
import type {Logger} from '../log.js'
import type {Format, Message} from '../mqtt/formats.js'
import {redact} from '../secrets.js'
import {validate} from '../validate.js'
import type {ObisSpec} from './config.js'
import {attributeRequestMessage, parseInbound, parsePollInterval, rpcReplyMessage, SHARED_KEYS, type RpcErrorCode, type RpcReply} from './downlink.js'
import {MeterUnreachableError, type MeterWorker} from './worker.js'

export const RPC_METHODS = ['read', 'read_profile', 'set_clock', 'disconnect', 'reconnect'] as const
export type RpcMethod = (typeof RPC_METHODS)[number]
/** Methods that change the meter: refused unless the meter has allow_write: true. */
export const WRITE_METHODS: ReadonlySet<string> = new Set(['set_clock', 'disconnect', 'reconnect'])

export class RpcError extends Error {
  constructor(
    readonly code: RpcErrorCode,
    message: string,
    readonly dlmsCode?: string,
  ) {
    super(message)
    this.name = 'RpcError'
  }
}

// ---------- params ----------

const obisText = z.string().refine(s => tryParseObis(s) !== undefined, {message: 'expected an OBIS code like 1.0.1.8.0.255 or 1-0:1.8.0*255'})
const classId = z.number().int().min(1).max(0xffff, {message: 'expected a COSEM class id 1-65535'})
/** A time: ISO 8601 with an offset ("2026-12-01T00:00:00Z") or epoch milliseconds. */
const timeArg = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v : /(Z|[+-]\d{2}:?\d{2})$/.test(v.trim()) ? Date.parse(v) : Number.NaN
  if (!Number.isFinite(ms)) {
    ctx.addIssue({code: 'custom', message: 'expected ISO 8601 with an offset (2026-12-01T00:00:00Z) or epoch milliseconds'})
    return z.NEVER
  }
  return new Date(ms)
})

const readParams = z.strictObject({
  obis: z
    .union([
      z.string(),
      z
        .array(z.union([z.string(), z.strictObject({obis: obisText, class: classId.optional()})]))
        .min(1, {message: 'expected at least one OBIS code or key'})
        .max(64, {message: 'at most 64 objects per read'}),
    ])
    .optional(),
  /** Class of OBIS codes that are not configured (default 3, register). */
  class: classId.optional(),
})
const profileParams = z.strictObject({
  obis: obisText.optional(),
  from: timeArg,
  to: timeArg.optional(),
  limit: z.number().int().min(1).max(10_000, {message: 'expected 1-10000 rows'}).optional(),
})
const clockParams = z.strictObject({time: timeArg.optional(), obis: obisText.optional()})
const disconnectParams = z.strictObject({obis: obisText.optional()})

function params<S extends z.ZodType>(schema: S, p: unknown): z.infer<S> {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new RpcError('BAD_PARAMS', 'params: expected a JSON object')
  try {
    return validate(schema, p, 'params')
  } catch (e) {
    throw new RpcError('BAD_PARAMS', (e as Error).message)
  }
}

// ---------- methods ----------

interface Target {
  name: string
  /** Telemetry key, or the OBIS code as asked. */
  spec: ObisSpec
  configured: boolean
}

function readTargets(worker: MeterWorker, p: z.infer<typeof readParams>): Target[] {
  const list = worker.cfg.obis
  if (p.obis === undefined) return list.map(spec => ({name: spec.key, spec, configured: true}))
  const entries = Array.isArray(p.obis) ? p.obis : [p.obis]
  return entries.map((e, i) => {
    const text = typeof e === 'string' ? e : e.obis
    const cls = typeof e === 'string' ? p.class : (e.class ?? p.class)
    const byKey = typeof e === 'string' ? list.find(o => o.key === e) : undefined
    if (byKey) return {name: byKey.key, spec: byKey, configured: true}
    const ln = tryParseObis(text)
    if (!ln) throw new RpcError('BAD_PARAMS', `params.obis[${i}]: "${text}" is neither a configured telemetry key nor an OBIS code`)
    const obis = formatObis(ln)
    const conf = list.find(o => o.obis === obis && (cls === undefined || o.classId === cls))
    if (conf) return {name: obis, spec: conf, configured: true}
    return {name: obis, spec: {obis, key: obis, classId: (cls ?? ClassId.REGISTER) as ObisSpec['classId']}, configured: false}
  })
}

async function read(worker: MeterWorker, p: z.infer<typeof readParams>): Promise<Record<string, unknown>> {
  const targets = readTargets(worker, p)
  return worker.withClient(async c => {
    // Registers the poll does not read have no cached scaler_unit: read it first (one request).
    const adhoc = targets.filter(t => !t.configured && (t.spec.classId === 3 || t.spec.classId === 4))
    const scalers = new Map<string, ScalerUnit>()
    if (adhoc.length > 0) {
      const su = await c.getMany(adhoc.map(t => ({descriptor: {classId: t.spec.classId, obis: parseObis(t.spec.obis), attribute: Attr.REGISTER_SCALER_UNIT}})))
      su.forEach((r, i) => {
        if (!r.ok) return
        try {
          scalers.set(adhoc[i]!.name, parseScalerUnit(r.data))
        } catch {
          // not a scaler_unit: the raw value is returned
        }
      })
    }
    const ts = Date.now()
    const results: GetDataResult[] = await c.getMany(targets.map(t => ({descriptor: {classId: t.spec.classId, obis: parseObis(t.spec.obis), attribute: 2}})))
    const values: Record<string, unknown> = {}
    const errors: Record<string, string> = {}
    results.forEach((r, i) => {
      const t = targets[i]!
      if (!r.ok) {
        values[t.name] = null
        errors[t.name] = dataAccessResultName(r.error)
        return
      }
      values[t.name] = t.configured ? worker.convert(t.spec, r.data) : worker.convert(t.spec, r.data, scalers.get(t.name))
    })
    return {ts, values, ...(Object.keys(errors).length > 0 ? {errors} : {})}
  })
}

async function readProfile(worker: MeterWorker, p: z.infer<typeof profileParams>): Promise<Record<string, unknown>> {
  const obis = p.obis ? formatObis(parseObis(p.obis)) : '1.0.99.1.0.255'
  const to = p.to ?? new Date()
  if (to.getTime() < p.from.getTime()) throw new RpcError('BAD_PARAMS', 'params.to: must not be before params.from')
  const limit = p.limit ?? 1000
  const {prof, selection, fallback} = await worker.withClient(async c => {
    // Range selection (selector 1) when the meter granted selective-access; a meter that refuses it
    // (a data-access-result) or a profile not sorted by its clock gets a full read filtered here.
    let fallback = 'the meter did not grant selective-access'
    if (!c.association || hasConformance(c.association.conformance, 'selective-access')) {
      try {
        return {prof: await c.readProfile(obis, {from: p.from, to}), selection: 'range', fallback: null}
      } catch (e) {
        if (!isDlmsError(e) || (e.dlmsCode !== 'DATA_ACCESS' && e.dlmsCode !== 'UNSUPPORTED')) throw e
        fallback = `range selection refused: ${redact(e.message)}`
      }
    }
    const all = await c.readProfile(obis)
    const ci = all.captureObjects.findIndex(isClockColumn)
    if (ci < 0) throw new RpcError('DLMS_ERROR', `profile ${obis} has no clock column: cannot select rows by time`)
    const inRange = (v: unknown): boolean => {
      const t = typeof v === 'string' ? Date.parse(v) : Number.NaN
      return t >= p.from.getTime() && t <= to.getTime()
    }
    return {prof: {...all, rows: all.rows.filter(r => inRange(r[ci]))}, selection: 'full', fallback}
  })
  return {
    obis,
    columns: prof.columns,
    rows: prof.rows.slice(0, limit),
    count: prof.rows.length,
    truncated: prof.rows.length > limit,
    selection,
    ...(fallback ? {fallback} : {}),
  }
}

async function setClock(worker: MeterWorker, p: z.infer<typeof clockParams>): Promise<Record<string, unknown>> {
  const obis = p.obis ? formatObis(parseObis(p.obis)) : '0.0.1.0.0.255'
  return worker.withClient(async c => {
    // Written in the meter's own UTC offset (its deviation), so its local wall clock stays right.
    const before = await c.readClock(obis)
    const offsetMinutes = before.deviation === null ? 0 : -before.deviation
    const dt = dateTimeFromDate(p.time ?? new Date(), {offsetMinutes, dayOfWeek: true})
    await c.write(obis, ClassId.CLOCK, Attr.CLOCK_TIME, dateTimeData(dt))
    const after = await c.readClock(obis)
    return {obis, before: before.iso, written: dateTimeToIso(dt), after: after.iso}
  })
}

async function disconnectControl(worker: MeterWorker, method: 1 | 2, p: z.infer<typeof disconnectParams>): Promise<Record<string, unknown>> {
  const obis = p.obis ? formatObis(parseObis(p.obis)) : DISCONNECT_CONTROL_OBIS
  return worker.withClient(async c => {
    await c.action(obis, ClassId.DISCONNECT_CONTROL, method, D.int8(0))
    const ln = parseObis(obis)
    const [out, state] = await c.getMany([
      {descriptor: {classId: ClassId.DISCONNECT_CONTROL, obis: ln, attribute: Attr.DISCONNECT_OUTPUT_STATE}},
      {descriptor: {classId: ClassId.DISCONNECT_CONTROL, obis: ln, attribute: Attr.DISCONNECT_CONTROL_STATE}},
    ])
    const plain = (r: GetDataResult | undefined): unknown => (r?.ok ? toPlain(r.data) : null)
    const cs = plain(state)
    return {obis, output_state: plain(out), control_state: typeof cs === 'number' ? (DISCONNECT_CONTROL_STATES[cs] ?? cs) : cs}
  })
}

/** Why an RPC failed, as a reply error code. */
export function rpcErrorOf(e: unknown): RpcError {
  if (e instanceof RpcError) return e
  const msg = redact(String((e as Error)?.message ?? e))
  if (e instanceof MeterUnreachableError) return new RpcError('METER_UNREACHABLE', msg)
  if (isDlmsError(e)) {
    switch (e.dlmsCode) {
      case 'TIMEOUT':
        return new RpcError('TIMEOUT', msg, e.dlmsCode)
      case 'CONNECTION_FAILED':
      case 'CONNECTION_CLOSED':
      case 'NOT_CONNECTED':
        return new RpcError('METER_UNREACHABLE', msg, e.dlmsCode)
      case 'ACCESS_DENIED':
        return new RpcError('ACCESS_DENIED', msg, e.dlmsCode)
      case 'DATA_ACCESS':
        return new RpcError('DATA_ACCESS', msg, e.dlmsCode)
      case 'ENCODE':
        return new RpcError('BAD_PARAMS', msg, e.dlmsCode)
      default:
        return new RpcError('DLMS_ERROR', msg, e.dlmsCode)
    }
  }
  if (e instanceof NetmonError && e.kind === 'input') return new RpcError('BAD_PARAMS', msg)
  return new RpcError('DLMS_ERROR', msg)
}

/**
 * Runs one RPC method on a meter and returns its reply (never throws). `timeoutMs` bounds the whole
 * call (ThingsBoard gives up on an RPC after its own timeout: a late reply is useless).
 */
export async function runRpc(worker: MeterWorker, method: string, p: unknown, timeoutMs: number): Promise<RpcReply> {
  const known = (RPC_METHODS as readonly string[]).includes(method)
  let timer: NodeJS.Timeout | undefined
  try {
    if (!known) throw new RpcError('UNKNOWN_METHOD', `unknown method "${method}" (netmon answers ${RPC_METHODS.join(', ')})`)
    if (WRITE_METHODS.has(method) && worker.cfg.allowWrite !== true)
      throw new RpcError(
        'WRITE_NOT_ALLOWED',
        `${method} changes the meter: refused because meter ${worker.cfg.id} does not have allow_write: true in the bridge config`,
      )
    const run = (): Promise<Record<string, unknown>> => {
      switch (method as RpcMethod) {
        case 'read':
          return read(worker, params(readParams, p))
        case 'read_profile':
          return readProfile(worker, params(profileParams, p))
        case 'set_clock':
          return setClock(worker, params(clockParams, p))
        case 'disconnect':
          return disconnectControl(worker, DisconnectMethod.REMOTE_DISCONNECT, params(disconnectParams, p))
        case 'reconnect':
          return disconnectControl(worker, DisconnectMethod.REMOTE_RECONNECT, params(disconnectParams, p))
      }
    }
    const result = await Promise.race([
      run(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new RpcError('TIMEOUT', `no result within the RPC timeout (${timeoutMs} ms, downlink.rpc_timeout)`)), timeoutMs)
      }),
    ])
    return {success: true, method, result}
  } catch (e) {
    const err = rpcErrorOf(e)
    return {
      success: false,
      method: known ? method : method || null,
      error: {code: err.code, message: err.message, ...(err.dlmsCode ? {dlms_code: err.dlmsCode} : {})},
    }
  } finally {
    clearTimeout(timer)
  }
}

// ---------- the handler the daemon feeds ----------

export interface DownlinkDeps {
  format: Format
  log: Logger
  /** Read at each RPC, so a reload applies it. */
  rpcTimeoutMs: () => number
  /** The running worker of a meter, by ThingsBoard device name (gateway) or by meter id (device API). */
  byName: (name: string) => MeterWorker | undefined
  byId: (id: string) => MeterWorker | undefined
  /** Publishes on a connection ('' = the shared one, else a meter id); `meterId` for the counters. */
  publish: (connection: string, msg: Message, meterId: string | undefined) => void
}

export interface DownlinkStats {
  rpcRequests: number
  rpcErrors: number
  attributeUpdates: number
}

export class Downlink {
  readonly stats: DownlinkStats = {rpcRequests: 0, rpcErrors: 0, attributeUpdates: 0}
  /** poll_interval set by ThingsBoard, by meter id: outlives a worker restart (reload). */
  private readonly pollOverrides = new Map<string, number>()
  private nextRequestId = 1
  /** Attribute requests awaiting their response: request id → meter id. */
  private readonly pending = new Map<number, string>()

  constructor(private readonly deps: DownlinkDeps) {}

  /** A new worker takes the poll interval ThingsBoard set for its meter before. */
  adopt(worker: MeterWorker): void {
    const ms = this.pollOverrides.get(worker.cfg.id)
    if (ms !== undefined) worker.setPollInterval(ms)
  }

  /** After a (re)connect: asks ThingsBoard for the shared attributes netmon acts on. */
  requestAttributes(connection: string, meters: {id: string; name: string}[]): void {
    for (const m of meters) {
      const id = this.nextRequestId++
      if (this.pending.size > 10_000) this.pending.clear() // responses that never came
      this.pending.set(id, m.id)
      this.deps.publish(connection, attributeRequestMessage(this.deps.format, m.name, id), m.id)
    }
  }

  /** One inbound message on `connection` ('' = shared gateway connection, else the meter id). */
  handle(connection: string, topic: string, payload: Buffer): void {
    const {format, log} = this.deps
    const m = parseInbound(format, topic, payload)
    if (m.kind === 'ignored') {
      if (m.reason !== 'an RPC reply') log.debug(`downlink: ignored a message on ${topic}: ${m.reason}`)
      return
    }
    const worker = m.device !== undefined ? this.deps.byName(m.device) : this.deps.byId(connection)
    const meterId = worker?.cfg.id ?? (connection === '' ? undefined : connection)
    if (m.kind === 'rpc' || m.kind === 'bad-rpc') {
      this.stats.rpcRequests++
      const reply = (r: RpcReply): void => {
        if (!r.success) this.stats.rpcErrors++
        this.deps.publish(connection, rpcReplyMessage(format, m.device, m.id, r), meterId)
      }
      const method = m.kind === 'rpc' ? m.method : null
      if (m.kind === 'bad-rpc') {
        log.warn(`downlink: RPC ${m.id}${m.device ? ` for ${m.device}` : ''} refused: ${m.reason}`)
        reply({success: false, method, error: {code: 'BAD_REQUEST', message: m.reason}})
        return
      }
      if (!worker) {
        log.warn(`downlink: RPC ${m.method} (id ${m.id}) for unknown device ${JSON.stringify(m.device ?? connection)}`)
        reply({success: false, method, error: {code: 'UNKNOWN_DEVICE', message: `no meter of this bridge is named ${JSON.stringify(m.device)}`}})
        return
      }
      const started = Date.now()
      void runRpc(worker, m.method, m.params, this.deps.rpcTimeoutMs()).then(r => {
        const took = Date.now() - started
        if (r.success) log.info(`meter ${worker.cfg.id}: RPC ${m.method} (id ${m.id}) answered in ${took} ms`, {meter: worker.cfg.id, rpc: m.method, id: m.id})
        else
          log.warn(`meter ${worker.cfg.id}: RPC ${m.method} (id ${m.id}) failed: ${r.error.code}: ${r.error.message}`, {
            meter: worker.cfg.id,
            rpc: m.method,
            id: m.id,
            code: r.error.code,
          })
        reply(r)
      })
      return
    }
    if (!worker) {
      log.debug(`downlink: attributes for unknown device ${JSON.stringify(m.device ?? connection)} ignored`)
      return
    }
    if (m.kind === 'attributes-response') {
      const asked = typeof m.id === 'number' ? this.pending.get(m.id) : undefined
      if (asked === undefined) return
      this.pending.delete(m.id as number)
      const values = {...m.values}
      // One key asked → ThingsBoard answers "value" (parsed as key ''): it is the one key we ask for.
      if ('' in values) {
        values[SHARED_KEYS[0]] = values['']
        delete values['']
      }
      this.applyShared(worker, values, [], 'attribute response')
      return
    }
    this.stats.attributeUpdates++
    this.applyShared(worker, m.values, m.deleted, 'shared attribute update')
  }

  private applyShared(worker: MeterWorker, values: Record<string, unknown>, deleted: string[], source: string): void {
    const {log} = this.deps
    const id = worker.cfg.id
    for (const [key, v] of Object.entries(values)) {
      if (key !== 'poll_interval') {
        log.info(`meter ${id}: ${source}: attribute "${key}" ignored (netmon acts on ${SHARED_KEYS.join(', ')})`, {meter: id, attribute: key})
        continue
      }
      const r = parsePollInterval(v, parseDuration)
      if ('error' in r) {
        log.warn(`meter ${id}: ${source}: poll_interval ignored: ${r.error}`, {meter: id})
        continue
      }
      this.pollOverrides.set(id, r.ms)
      worker.setPollInterval(r.ms)
      log.info(`meter ${id}: poll interval ${r.ms} ms from ThingsBoard (${source}; the config says ${worker.cfg.pollIntervalMs} ms)`, {
        meter: id,
        poll_interval_ms: r.ms,
      })
    }
    if (deleted.includes('poll_interval')) {
      this.pollOverrides.delete(id)
      worker.setPollInterval(undefined)
      log.info(`meter ${id}: poll_interval deleted in ThingsBoard: back to the config's ${worker.cfg.pollIntervalMs} ms`, {meter: id})
    }
  }
}

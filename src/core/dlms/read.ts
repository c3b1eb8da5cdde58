/**
 * One-shot meter read, the core of `netmon meters read`: connect, associate, read each requested object
 * by what its class says (register → scaled value with unit, clock → time, profile → rows, data → value),
 * release, close. Per-object failures (data-access-results, an answer that does not decode) are reported per reading; connection and
 * association failures throw.
 */
import {toPlain, type PlainValue} from './codec/axdr.js'
import {formatObis, parseObis} from './codec/obis.js'
import {DlmsClient, type DlmsClientOptions} from './client.js'
import {ClassId, obisName} from './cosem.js'
import {isDlmsError, isUndecodableAnswer} from './errors.js'
import type {InvocationCounterStore, CounterReservation} from './counters.js'
import {NetmonError} from '../errors.js'

export interface ReadTarget {
  obis: string
  /** Class id; guessed from the OBIS code when absent (see guessClass). */
  classId?: number
}

export type ReadingKind = 'register' | 'extended-register' | 'clock' | 'profile' | 'data'

export interface MeterReading {
  obis: string
  name: string | null
  class_id: number
  kind: ReadingKind
  ok: boolean
  /** Scaled number (registers), ISO text (clock), rows count (profile), plain value (data). */
  value?: PlainValue
  unit?: string
  unit_code?: number
  scaler?: number
  /** The raw attribute value as transmitted (plain JS form). */
  raw?: PlainValue
  /** Clock: the instant in UTC, deviation and status. */
  utc?: string | null
  deviation?: number | null
  clock_status?: number | null
  /** Extended register. */
  status?: PlainValue
  capture_time?: string | null
  /** Profile. */
  columns?: string[]
  rows?: PlainValue[][]
  error?: {code: string; message: string}
}

export interface MeterReadResult {
  meter: {host: string; port: number; framing: string; client_address: number; server_address: number; auth: string}
  association: {
    max_pdu_size: number
    dlms_version: number
    conformance: string[]
    /** HLS-GMAC: meter system title, security control, glo / general-glo, the next invocation counter. */
    security?: {meter_system_title: string; security_control: number; ciphering: string; next_invocation_counter: number}
  }
  readings: MeterReading[]
  read_at: string
  read_at_ms: number
  duration_ms: number
}

export const DEFAULT_TARGETS: ReadTarget[] = [
  {obis: '0.0.1.0.0.255'},
  {obis: '1.0.1.8.0.255'},
  {obis: '1.0.32.7.0.255'},
  {obis: '1.0.31.7.0.255'},
  {obis: '1.0.1.7.0.255'},
]

/**
 * The class a plain OBIS code most likely has (IEC 62056-6-1 value groups): C=1 D=0 on abstract objects is
 * the clock, C=98/99 are profiles, electricity (A=1) quantities are registers, the rest data objects.
 */
export function guessClass(obis: Uint8Array): number {
  const [a, , c, d] = obis
  if (a === 0 && c === 1 && d === 0) return ClassId.CLOCK
  if (c === 98 || c === 99) return ClassId.PROFILE_GENERIC
  if (a !== 0 && c !== 0 && c !== 96 && c !== 97) return ClassId.REGISTER
  return ClassId.DATA
}

/** "1.0.1.8.0.255", "1-0:1.8.0*255", optionally with ":<class>" ("1.0.1.6.0.255:4"). */
export function parseTarget(text: string): ReadTarget {
  const t = text.trim()
  // the IEC form has a ':' of its own, so a class suffix counts only when what precedes it is a whole code
  const m = /^(.+):(\d{1,5})$/.exec(t)
  if (m) {
    let head: Uint8Array | undefined
    try {
      head = parseObis(m[1]!)
    } catch {
      head = undefined
    }
    if (head) {
      const classId = Number(m[2])
      if (classId < 1 || classId > 0xffff) throw new NetmonError('input', `invalid class id ${classId} in "${text}"`)
      return {obis: formatObis(head), classId}
    }
  }
  return {obis: formatObis(parseObis(t))}
}

const kindOf = (classId: number): ReadingKind =>
  classId === ClassId.REGISTER || classId === ClassId.DEMAND_REGISTER
    ? 'register'
    : classId === ClassId.EXTENDED_REGISTER
      ? 'extended-register'
      : classId === ClassId.CLOCK
        ? 'clock'
        : classId === ClassId.PROFILE_GENERIC
          ? 'profile'
          : 'data'

async function readOne(c: DlmsClient, t: ReadTarget, profileRange: {from?: string; to?: string}): Promise<MeterReading> {
  const ln = parseObis(t.obis)
  const classId = t.classId ?? guessClass(ln)
  const base = {obis: t.obis, name: obisName(ln) ?? null, class_id: classId, kind: kindOf(classId)}
  switch (base.kind) {
    case 'register':
    case 'extended-register': {
      const r = await c.readRegister(ln, {classId})
      return {
        ...base,
        ok: true,
        value: r.value,
        unit: r.unit,
        unit_code: r.unitCode,
        scaler: r.scaler,
        raw: r.rawValue,
        ...(r.status !== undefined ? {status: r.status, capture_time: r.captureTime ?? null} : {}),
      }
    }
    case 'clock': {
      const r = await c.readClock(ln)
      return {
        ...base,
        ok: true,
        value: r.iso,
        raw: toPlain(r.raw),
        utc: r.date ? r.date.toISOString() : null,
        deviation: r.deviation,
        clock_status: r.clockStatus,
      }
    }
    case 'profile': {
      const p = await c.readProfile(ln, profileRange)
      return {...base, ok: true, value: p.rows.length, columns: p.columns, rows: p.rows}
    }
    default: {
      const d = await c.read(ln, classId, 2)
      const plain = toPlain(d)
      return {...base, ok: true, value: plain, raw: plain}
    }
  }
}

export interface ReadMeterOptions extends DlmsClientOptions {
  profileFrom?: string
  profileTo?: string
  /** HLS: persist the client invocation counter per meter (reserve-ahead, see counters.ts). */
  counters?: {store: InvocationCounterStore; meter: string}
}

export async function readMeter(opts: ReadMeterOptions, targets: ReadTarget[] = DEFAULT_TARGETS): Promise<MeterReadResult> {
  const started = Date.now()
  let reservation: CounterReservation | undefined
  let clientOpts: DlmsClientOptions = opts
  if (opts.security && opts.counters) {
    reservation = await opts.counters.store.reserve(opts.counters.meter, opts.security.systemTitle, undefined, opts.security.invocationCounter ?? 1)
    clientOpts = {...opts, security: {...opts.security, invocationCounter: reservation.start, invocationCounterLimit: reservation.limit}}
  }
  const client = new DlmsClient(clientOpts)
  try {
    const assoc = await client.open()
    const readings: MeterReading[] = []
    for (const t of targets) {
      try {
        readings.push(await readOne(client, t, {from: opts.profileFrom, to: opts.profileTo}))
      } catch (e) {
        // a per-object refusal or an undecodable value in a whole answer keeps the association; anything
        // else (timeout, closed, a malformed frame) ends the read
        if (!isDlmsError(e) || !(['DATA_ACCESS', 'ACCESS_DENIED'].includes(e.dlmsCode) || isUndecodableAnswer(e))) throw e
        const classId = t.classId ?? guessClass(parseObis(t.obis))
        readings.push({
          obis: t.obis,
          name: obisName(t.obis) ?? null,
          class_id: classId,
          kind: kindOf(classId),
          ok: false,
          error: {code: e.code, message: e.message},
        })
      }
    }
    return {
      meter: {
        host: opts.host,
        port: opts.port,
        framing: client.options.framing,
        client_address: client.options.clientAddress,
        server_address: client.options.serverAddress,
        auth: opts.security ? 'hls-gmac' : (opts.auth?.mechanism ?? 'none'),
      },
      association: {
        max_pdu_size: assoc.maxPduSize,
        dlms_version: assoc.dlmsVersion,
        conformance: assoc.conformanceNames,
        ...(assoc.security
          ? {
              security: {
                meter_system_title: assoc.security.meterSystemTitle,
                security_control: assoc.security.securityControl,
                ciphering: assoc.security.ciphering,
                next_invocation_counter: client.nextInvocationCounter!,
              },
            }
          : {}),
      },
      readings,
      read_at: new Date(started).toISOString(),
      read_at_ms: started,
      duration_ms: Date.now() - started,
    }
  } finally {
    await client.close()
    if (reservation && opts.counters) {
      const next = client.nextInvocationCounter
      if (next !== undefined) await opts.counters.store.release(reservation, next, client.security?.peer).catch(() => undefined)
    }
  }
}

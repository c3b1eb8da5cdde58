/**
 * The simulated meter's COSEM object model: which objects exist, what their attributes hold, who may read
 * them. Values change plausibly with time: active energy is the exact integral of a daily power curve
 * (so it only increases, and the load profile rows agree with the register), voltage wanders around 230 V
 * with seeded noise, the clock follows the host clock (or a fixed/injected one).
 *
 * The 'gurux' preset reproduces the fixed values of the recorded Gurux meter (test/vectors/dlms), so the
 * simulator's answers can be compared byte for byte with Gurux's.
 */
import {D, type DlmsData} from '../codec/axdr.js'
import {dateTimeFromDate, dateTimeFromIso, dateTimeToDate, type CosemDateTime} from '../codec/datetime.js'
import {formatObis} from '../codec/obis.js'
import {DataAccessResult, type AccessSelection, type AttributeDescriptor} from '../codec/apdu/common.js'
import type {GetDataResult} from '../codec/apdu/get.js'
import {
  Attr,
  captureObjectData,
  ClassId,
  dataToDateTime,
  dateTimeData,
  DISCONNECT_CONTROL_OBIS,
  DisconnectMethod,
  parseCaptureObjects,
  scalerUnitData,
  type CaptureObject,
} from '../cosem.js'

export type MeterPreset = 'default' | 'gurux'

export interface MeterOptions {
  index: number
  /** Clock source in ms since the epoch. */
  now: () => number
  /** UTC offset of the meter's local time, minutes (+60 = UTC+01:00). */
  offsetMinutes: number
  seed: number
  profileRows: number
  profilePeriodMinutes: number
  /** Access selectors the profile buffer accepts (1 range, 2 entry); default both. */
  profileSelectors?: ReadonlyArray<number>
  preset: MeterPreset
}

export interface AccessContext {
  /** The association used LLS (or better): may read restricted objects and write. */
  authenticated: boolean
}

interface SimObject {
  classId: number
  obis: string
  /** Minimum association to read; 'lls' = restricted. */
  read: 'public' | 'lls'
  attributes: Record<number, (access?: AccessSelection) => DlmsData | number>
  /** Writable attributes: return a data-access-result. */
  write?: Record<number, (v: DlmsData) => number>
  /** Methods (ACTION): return an Action-Result (0 success). Need an authenticated association, like writes. */
  methods?: Record<number, (params: DlmsData | undefined) => number>
}

/** Mulberry32: small seeded PRNG, deterministic per meter. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const OBIS = (s: string): Uint8Array => Uint8Array.from(s.split('.').map(Number))
const ln = (obis: string): DlmsData => D.octets(OBIS(obis))

// Energy model: P(t) = P0 + A·sin(ω t + φ) watts, E(t) = E0 + ∫ P dt from T0 — closed form, so every reader
// (register now, profile rows in the past) sees the same monotonic curve.
const T0 = Date.UTC(2024, 0, 1)
const DAY_MS = 86_400_000
const OMEGA = (2 * Math.PI) / DAY_MS
const PHI = -Math.PI / 2 - OMEGA * 3 * 3_600_000 // minimum around 03:00 UTC, maximum around 15:00

export class MeterModel {
  readonly index: number
  readonly serial: string
  private readonly objects = new Map<string, SimObject>()
  private readonly rnd: () => number
  /** Added to the host clock after a SET of the clock time. */
  private clockSkewMs = 0
  /** Disconnect control (class 70) control_state: 0 disconnected, 1 connected, 2 ready_for_reconnection. */
  controlState = 1
  private readonly p0: number
  private readonly amp: number
  private readonly e0: number

  constructor(private readonly opts: MeterOptions) {
    this.index = opts.index
    this.serial = String(12345678 + opts.index).padStart(8, '0')
    this.rnd = prng(opts.seed * 7919 + opts.index)
    this.p0 = 1200 + 150 * opts.index
    this.amp = 600
    this.e0 = 12_000_000 + 1_000_000 * opts.index
    if (opts.preset === 'gurux') this.defineGurux()
    else this.defineDefault()
  }

  now(): number {
    return this.opts.now() + this.clockSkewMs
  }

  /** Active power (W) at t. */
  powerAt(t: number): number {
    return this.p0 + this.amp * Math.sin(OMEGA * (t - T0) + PHI)
  }

  /** Active energy import (Wh) at t: E0 + ∫ P dt. */
  energyAt(t: number): number {
    const dt = t - T0
    const integral = this.p0 * dt - (this.amp / OMEGA) * (Math.cos(OMEGA * dt + PHI) - Math.cos(PHI))
    return Math.floor(this.e0 + integral / 3_600_000)
  }

  private clockNow(): CosemDateTime {
    return dateTimeFromDate(new Date(this.now()), {offsetMinutes: this.opts.offsetMinutes, dayOfWeek: true, hundredths: true})
  }

  private add(o: SimObject): void {
    this.objects.set(o.obis, o)
  }

  private register(obis: string, scaler: number, unit: number, value: () => DlmsData, classId: number = ClassId.REGISTER): void {
    this.add({classId, obis, read: 'public', attributes: {[Attr.REGISTER_VALUE]: value, [Attr.REGISTER_SCALER_UNIT]: () => scalerUnitData({scaler, unit})}})
  }

  private defineDefault(): void {
    const offset = this.opts.offsetMinutes
    const noise = (amp: number): number => (this.rnd() + this.rnd() + this.rnd() - 1.5) * amp
    this.add({
      classId: ClassId.CLOCK,
      obis: '0.0.1.0.0.255',
      read: 'public',
      attributes: {
        [Attr.CLOCK_TIME]: () => dateTimeData(this.clockNow()),
        [Attr.CLOCK_TIME_ZONE]: () => D.int16(-offset),
        [Attr.CLOCK_STATUS]: () => D.uint8(0),
        [Attr.CLOCK_DST_BEGIN]: () =>
          dateTimeData({
            year: null,
            month: 3,
            dayOfMonth: 0xfe,
            dayOfWeek: 7,
            hour: 2,
            minute: 0,
            second: 0,
            hundredths: 0,
            deviation: null,
            clockStatus: null,
          }),
        [Attr.CLOCK_DST_END]: () =>
          dateTimeData({
            year: null,
            month: 10,
            dayOfMonth: 0xfe,
            dayOfWeek: 7,
            hour: 3,
            minute: 0,
            second: 0,
            hundredths: 0,
            deviation: null,
            clockStatus: null,
          }),
        [Attr.CLOCK_DST_DEVIATION]: () => D.int8(60),
        [Attr.CLOCK_DST_ENABLED]: () => D.bool(false),
        [Attr.CLOCK_BASE]: () => D.enum(1), // internal crystal
      },
      write: {
        [Attr.CLOCK_TIME]: v => {
          const dt = dataToDateTime(v)
          const when = dt ? dateTimeToDate(dt) : null
          if (!when) return DataAccessResult.TYPE_UNMATCHED
          this.clockSkewMs = when.getTime() - this.opts.now()
          return DataAccessResult.SUCCESS
        },
      },
    })
    this.disconnectControl()
    this.add({classId: ClassId.DATA, obis: '0.0.42.0.0.255', read: 'public', attributes: {2: () => D.octets(Buffer.from(`NTM${this.serial}`, 'latin1'))}})
    this.add({classId: ClassId.DATA, obis: '0.0.96.1.0.255', read: 'public', attributes: {2: () => D.visible(this.serial)}})
    this.add({classId: ClassId.DATA, obis: '1.0.0.2.0.255', read: 'public', attributes: {2: () => D.visible('netmon-sim 1.0')}})
    this.add({
      classId: ClassId.DATA,
      obis: '0.0.96.1.1.255',
      read: 'lls',
      attributes: {2: () => D.visible(`config of meter ${this.serial}: tariff T1, CT ratio 1`)},
    })
    this.register('1.0.1.8.0.255', 0, 30, () => D.uint32(this.energyAt(this.now()) >>> 0))
    this.register('1.0.2.8.0.255', 0, 30, () => D.uint32(Math.floor((this.now() - T0) / 3_600_000) * 3 + 5000 * this.index))
    this.register('1.0.3.8.0.255', 0, 32, () => D.uint32(Math.floor((this.energyAt(this.now()) - this.e0) * 0.2) >>> 0))
    this.register('1.0.1.7.0.255', 0, 27, () => D.int32(Math.round(this.powerAt(this.now()) + noise(40))))
    this.register('1.0.32.7.0.255', -1, 35, () => D.uint16(Math.round((230 + noise(3)) * 10)))
    this.register('1.0.31.7.0.255', -2, 33, () => D.int16(Math.round(((this.powerAt(this.now()) + noise(40)) / 230) * 100)))
    this.register('1.0.14.7.0.255', -2, 44, () => D.uint16(Math.round((50 + noise(0.05)) * 100)))
    // extended register: maximum demand of the day, with its capture time
    this.add({
      classId: ClassId.EXTENDED_REGISTER,
      obis: '1.0.1.6.0.255',
      read: 'public',
      attributes: {
        [Attr.REGISTER_VALUE]: () => D.uint32(Math.round(this.p0 + this.amp)),
        [Attr.REGISTER_SCALER_UNIT]: () => scalerUnitData({scaler: 0, unit: 27}),
        [Attr.EXT_REGISTER_STATUS]: () => D.uint8(0),
        [Attr.EXT_REGISTER_CAPTURE_TIME]: () => {
          const day = Math.floor((this.now() + offset * 60_000) / DAY_MS) * DAY_MS - offset * 60_000
          return dateTimeData(dateTimeFromDate(new Date(day + 15 * 3_600_000), {offsetMinutes: offset, dayOfWeek: true}))
        },
      },
    })
    this.profile(
      () => {
        const period = this.opts.profilePeriodMinutes * 60_000
        const last = Math.floor(this.now() / period) * period
        return Array.from({length: this.opts.profileRows}, (_, i) => last - (this.opts.profileRows - 1 - i) * period)
      },
      t => dateTimeFromDate(new Date(t), {offsetMinutes: offset, dayOfWeek: true}),
      t => D.uint32(this.energyAt(t) >>> 0),
    )
  }

  /**
   * Disconnect control 0-0:96.3.10.255 (class 70, Blue Book 4.5.8) in control_mode 1: remote_disconnect
   * (method 1) takes connected or ready_for_reconnection to disconnected (transitions b, c);
   * remote_reconnect (method 2) takes disconnected straight to connected (d). A method called in the
   * state it leads to changes nothing and succeeds. Both take integer(0) as their parameter.
   */
  private disconnectControl(): void {
    const param = (p: DlmsData | undefined): boolean => p === undefined || p.type === 'int8'
    this.add({
      classId: ClassId.DISCONNECT_CONTROL,
      obis: DISCONNECT_CONTROL_OBIS,
      read: 'public',
      attributes: {
        [Attr.DISCONNECT_OUTPUT_STATE]: () => D.bool(this.controlState === 1),
        [Attr.DISCONNECT_CONTROL_STATE]: () => D.enum(this.controlState),
        [Attr.DISCONNECT_CONTROL_MODE]: () => D.enum(1),
      },
      methods: {
        [DisconnectMethod.REMOTE_DISCONNECT]: p => {
          if (!param(p)) return DataAccessResult.TYPE_UNMATCHED
          this.controlState = 0
          return DataAccessResult.SUCCESS
        },
        [DisconnectMethod.REMOTE_RECONNECT]: p => {
          if (!param(p)) return DataAccessResult.TYPE_UNMATCHED
          this.controlState = 1
          return DataAccessResult.SUCCESS
        },
      },
    })
  }

  /** The Gurux meter of the vectors: fixed clock and values (see test/vectors/dlms/README.md). */
  private defineGurux(): void {
    const clock = dateTimeFromIso('2024-06-15T12:34:56+01:00')!
    this.add({classId: ClassId.CLOCK, obis: '0.0.1.0.0.255', read: 'public', attributes: {[Attr.CLOCK_TIME]: () => dateTimeData(clock)}})
    this.register('1.0.1.8.0.255', 0, 30, () => D.uint32(12345678))
    this.register('1.0.32.7.0.255', -1, 35, () => D.uint16(2301))
    this.register('1.0.31.7.0.255', -2, 33, () => D.int16(523))
    this.register('1.0.1.7.0.255', 1, 27, () => D.uint32(1203))
    const start = Date.parse('2024-01-01T00:00:00+01:00')
    const times = Array.from({length: this.opts.profileRows}, (_, i) => start + i * 15 * 60_000)
    const index = new Map(times.map((t, i) => [t, i]))
    this.profile(
      () => times,
      t => dateTimeFromDate(new Date(t), {offsetMinutes: 60}),
      t => D.uint32(12000000 + 25 * index.get(t)!),
    )
  }

  /** Load profile 1.0.99.1.0.255 (class 7): capture objects clock + active energy, optional range/entry selection. */
  private profile(times: () => number[], stamp: (t: number) => CosemDateTime, energy: (t: number) => DlmsData): void {
    const columns: CaptureObject[] = [
      {classId: ClassId.CLOCK, obis: '0.0.1.0.0.255', attribute: Attr.CLOCK_TIME, dataIndex: 0},
      {classId: ClassId.REGISTER, obis: '1.0.1.8.0.255', attribute: Attr.REGISTER_VALUE, dataIndex: 0},
    ]
    const rows = (access?: AccessSelection): DlmsData | number => {
      let ts = times()
      let cols = [0, 1]
      if (access) {
        if (!(this.opts.profileSelectors ?? [1, 2]).includes(access.selector)) return DataAccessResult.OTHER_REASON
        const sel = selectRows(access, ts, columns)
        if (typeof sel === 'number') return sel
        ts = sel.times
        cols = sel.columns
      }
      return D.array(ts.map(t => D.struct(...cols.map(c => (c === 0 ? dateTimeData(stamp(t)) : energy(t))))))
    }
    this.add({
      classId: ClassId.PROFILE_GENERIC,
      obis: '1.0.99.1.0.255',
      read: 'public',
      attributes: {
        [Attr.PROFILE_BUFFER]: rows,
        [Attr.PROFILE_CAPTURE_OBJECTS]: () => D.array(columns.map(captureObjectData)),
        [Attr.PROFILE_CAPTURE_PERIOD]: () => D.uint32(this.opts.profilePeriodMinutes * 60),
        [Attr.PROFILE_SORT_METHOD]: () => D.enum(1), // fifo
        [Attr.PROFILE_SORT_OBJECT]: () => captureObjectData(columns[0]!),
        [Attr.PROFILE_ENTRIES_IN_USE]: () => D.uint32(times().length),
        [Attr.PROFILE_ENTRIES]: () => D.uint32(this.opts.profileRows),
      },
    })
  }

  has(obis: string): boolean {
    return this.objects.has(obis)
  }

  list(): Array<{obis: string; classId: number; read: 'public' | 'lls'}> {
    return [...this.objects.values()].map(o => ({obis: o.obis, classId: o.classId, read: o.read}))
  }

  get(d: AttributeDescriptor, ctx: AccessContext, access?: AccessSelection): GetDataResult {
    const o = this.objects.get(formatObis(d.obis))
    if (!o) return {ok: false, error: DataAccessResult.OBJECT_UNDEFINED}
    if (o.classId !== d.classId) return {ok: false, error: DataAccessResult.OBJECT_CLASS_INCONSISTENT}
    if (o.read === 'lls' && !ctx.authenticated) return {ok: false, error: DataAccessResult.READ_WRITE_DENIED}
    if (d.attribute === Attr.LOGICAL_NAME) return {ok: true, data: ln(o.obis)}
    const attr = o.attributes[d.attribute]
    if (!attr) return {ok: false, error: DataAccessResult.OBJECT_UNDEFINED}
    if (access && !(o.classId === ClassId.PROFILE_GENERIC && d.attribute === Attr.PROFILE_BUFFER)) return {ok: false, error: DataAccessResult.OTHER_REASON}
    const v = attr(access)
    return typeof v === 'number' ? {ok: false, error: v} : {ok: true, data: v}
  }

  /** ACTION: an Action-Result (0 success, 3 read-write-denied without authentication, 4 no such object or method). */
  action(d: {classId: number; obis: Uint8Array; method: number}, params: DlmsData | undefined, ctx: AccessContext): number {
    const o = this.objects.get(formatObis(d.obis))
    if (!o) return DataAccessResult.OBJECT_UNDEFINED
    if (o.classId !== d.classId) return DataAccessResult.OBJECT_CLASS_INCONSISTENT
    const m = o.methods?.[d.method]
    if (!m) return DataAccessResult.OBJECT_UNDEFINED
    if (!ctx.authenticated) return DataAccessResult.READ_WRITE_DENIED
    return m(params)
  }

  set(d: AttributeDescriptor, value: DlmsData, ctx: AccessContext): number {
    const o = this.objects.get(formatObis(d.obis))
    if (!o) return DataAccessResult.OBJECT_UNDEFINED
    if (o.classId !== d.classId) return DataAccessResult.OBJECT_CLASS_INCONSISTENT
    const w = o.write?.[d.attribute]
    if (!w || !ctx.authenticated) return DataAccessResult.READ_WRITE_DENIED
    return w(value)
  }
}

/** Applies a profile access selection (Blue Book 4.3.6: selector 1 range_descriptor, 2 entry_descriptor). */
function selectRows(access: AccessSelection, times: number[], columns: CaptureObject[]): {times: number[]; columns: number[]} | number {
  const p = access.parameters
  if (p.type !== 'structure') return DataAccessResult.TYPE_UNMATCHED
  const all = columns.map((_, i) => i)
  if (access.selector === 1) {
    if (p.value.length !== 4) return DataAccessResult.TYPE_UNMATCHED
    const [restricting, fromV, toV, selected] = p.value as [DlmsData, DlmsData, DlmsData, DlmsData]
    let restrict: CaptureObject[]
    let chosen: CaptureObject[]
    try {
      restrict = parseCaptureObjects(D.array([restricting]))
      chosen = selected.type === 'array' ? parseCaptureObjects(selected) : []
    } catch {
      return DataAccessResult.TYPE_UNMATCHED
    }
    const r = restrict[0]!
    if (r.classId !== ClassId.CLOCK || r.obis !== '0.0.1.0.0.255' || r.attribute !== Attr.CLOCK_TIME) return DataAccessResult.OBJECT_UNAVAILABLE
    const from = dataToDateTime(fromV)
    const to = dataToDateTime(toV)
    const fromMs = from ? dateTimeToDate(from)?.getTime() : undefined
    const toMs = to ? dateTimeToDate(to)?.getTime() : undefined
    if (fromMs === undefined || toMs === undefined) return DataAccessResult.TYPE_UNMATCHED
    const cols = chosen.length === 0 ? all : chosen.map(c => columns.findIndex(x => x.obis === c.obis && x.attribute === c.attribute))
    if (cols.some(c => c < 0)) return DataAccessResult.OBJECT_UNAVAILABLE
    return {times: times.filter(t => t >= fromMs && t <= toMs), columns: cols}
  }
  if (access.selector === 2) {
    const [fe, te, fv, tv] = p.value.map(x => (x.type === 'uint32' || x.type === 'uint16' ? x.value : -1))
    if (fe === undefined || te === undefined || fv === undefined || tv === undefined || [fe, te, fv, tv].some(x => x < 0))
      return DataAccessResult.TYPE_UNMATCHED
    const first = Math.max(1, fe)
    const last = te === 0 ? times.length : Math.min(te, times.length)
    const c0 = Math.max(1, fv) - 1
    const c1 = tv === 0 ? columns.length : Math.min(tv, columns.length)
    return {times: times.slice(first - 1, last), columns: all.slice(c0, c1)}
  }
  return DataAccessResult.OTHER_REASON
}

/**
 * Load-profile catch-up (issue 18 item 2): one job per configured profile generic object (class 7,
 * e.g. 1.0.99.1.0.255) of a meter, run by the meter's worker on its association, between polls.
 *
 * - A catch-up cycle starts after every (re)association and then every `every`: it reads the meter's
 *   clock (its "now" and UTC deviation), then the rows captured after the last stored capture time
 *   (profile_rows, migration 19), `max_rows` at a time, until it reaches the meter's now. After a
 *   bridge restart the last capture comes from the store, so an outage of the bridge or of the meter
 *   link is back-filled; with nothing stored the first cycle goes back `backfill` (default 7 d).
 * - Exactly once: only rows strictly after the last capture are handed on (the job is the only
 *   producer for its (meter, profile), the daemon the only writer of the store); each goes to the
 *   store and the outbox in one transaction and is published with its own capture time as `ts`.
 *   The table's primary key (meter, profile, capture time) refuses a duplicate anyway.
 * - Selective access (Blue Book 4.3.6): `range` = range_descriptor by the clock column (selector 1),
 *   windows of max_rows capture periods; `entry` = entry_descriptor (selector 2) from an estimate of
 *   the entry index, checked by overlap with the last stored row; `full` = the whole buffer, filtered
 *   here. `auto` starts with range (or full when the meter did not grant selective-access) and falls
 *   back one step each time the meter refuses the selection with a data-access-result; the mode in
 *   use and why are in `bridge status`.
 */
import {dataToNumber} from '../dlms/codec/axdr.js'
import {dateTimeToDate} from '../dlms/codec/datetime.js'
import {hasConformance} from '../dlms/codec/apdu/index.js'
import {parseObis} from '../dlms/codec/obis.js'
import {applyScaler, unitSymbol} from '../dlms/codec/units.js'
import type {DlmsClient, ProfileReading} from '../dlms/client.js'
import {Attr, ClassId, dataToDateTime, isClockColumn, parseCaptureObjects, parseScalerUnit, type CaptureObject, type ScalerUnit} from '../dlms/cosem.js'
import {DlmsError, isDlmsError} from '../dlms/errors.js'
import type {Logger} from '../log.js'
import {redact} from '../secrets.js'
import type {ProfileMode, ProfileSpec} from './config.js'
import {convertUnit} from './worker.js'

export interface ProfileRowOut {
  meterId: string
  profile: string
  /** Capture time, epoch ms. */
  ts: number
  values: Record<string, number | string | boolean | null>
}

export interface ProfileJobStatus {
  obis: string
  /** The selection in use (null before the first read). */
  mode: ProfileMode | null
  /** Why the mode is not range (a refusal, or no selective-access in the conformance), else null. */
  fallback: string | null
  /** Newest capture time stored (epoch ms), from the store at start. */
  lastCaptureTs: number | null
  /** Rows handed to the store and outbox since the daemon started. */
  rowsCaughtUp: number
  /** Catch-up cycles completed since the daemon started. */
  cycles: number
  /** True while a cycle has more to read. */
  catchingUp: boolean
  lastCycleAt: number | null
  lastError: string | null
}

export interface ProfileJobDeps {
  meterId: string
  log: Logger
  /** The newest stored capture time of this profile (null: none). Called once, before the first read. */
  lastCapture: () => Promise<number | null>
  submit: (rows: ProfileRowOut[]) => void
  /** True while too many of the rows handed on await their PUBACK: pause reading (backpressure). */
  throttled?: (inCycle: boolean) => boolean
  /** Told when a cycle starts (true) and ends or is abandoned (false): the daemon caps how many run at once. */
  cycling?: (active: boolean) => void
  now?: () => number
}

/** A data-access-result refusing the access selection (not a broken link). */
const isRefusal = (e: unknown): boolean => isDlmsError(e) && (e.dlmsCode === 'DATA_ACCESS' || e.dlmsCode === 'ACCESS_DENIED')

/** Default telemetry key of a profile column nobody named: obis_1_0_1_8_0_255 (a key must not start with a digit). */
const defaultKey = (c: CaptureObject): string => `obis_${c.obis.replaceAll('.', '_')}${c.attribute === 2 ? '' : `_a${c.attribute}`}`

interface Prepared {
  columns: CaptureObject[]
  clockIndex: number
  periodMs: number
  /** Buffer capacity (attribute 8) × period: older rows cannot exist on the meter. */
  spanMs: number | null
  scalers: Map<number, ScalerUnit>
}

interface Cycle {
  meterNow: number
  /** Minutes to add to UTC for the meter's local time (from its clock's deviation). */
  offsetMinutes: number
  /** range: start of the next window (inclusive). */
  cursor: number
  /** entry: the next entry index to read from (overlapping the last row read), or undefined = estimate. */
  entry?: number
}

export class ProfileJob {
  readonly status: ProfileJobStatus
  private prepared: Prepared | undefined
  private cycle: Cycle | undefined
  private last: number | null | undefined
  private dueAt = 0
  private cycleStartedAt = 0
  private mode: ProfileMode | undefined
  private readonly now: () => number

  constructor(
    readonly spec: ProfileSpec,
    private readonly deps: ProfileJobDeps,
  ) {
    this.now = deps.now ?? Date.now
    this.status = {
      obis: spec.obis,
      mode: null,
      fallback: null,
      lastCaptureTs: null,
      rowsCaughtUp: 0,
      cycles: 0,
      catchingUp: false,
      lastCycleAt: null,
      lastError: null,
    }
  }

  /** A new association: catch up at once (rows captured while the link was down). */
  associated(): void {
    this.prepared = undefined
    this.release()
    this.cycle = undefined
    this.status.catchingUp = false
    this.dueAt = 0
  }

  /** Holds one of the daemon's catch-up turns (taken before the first await of a cycle, so no race). */
  private turn = false

  private release(): void {
    if (this.turn) this.deps.cycling?.(false)
    this.turn = false
  }

  /**
   * The association is gone (link error, backoff, stop): give up the cycle in progress, so a dead
   * meter never holds one of the daemon's catch-up turns; the next association starts a new one.
   */
  suspend(): void {
    this.release()
    this.cycle = undefined
    this.status.catchingUp = false
  }

  /** Work to do now (a cycle in progress, or one due). */
  pending(): boolean {
    if (this.deps.throttled?.(this.turn)) return false
    return this.cycle !== undefined || this.now() >= this.dueAt
  }

  get nextDueAt(): number {
    return this.cycle ? 0 : this.dueAt
  }

  /**
   * One read of the catch-up. Connection-level errors are thrown (the worker re-associates);
   * a refusal of the object itself is recorded and retried at the next `every`.
   */
  async step(client: DlmsClient): Promise<void> {
    if (!this.turn) {
      this.turn = true
      this.deps.cycling?.(true)
    }
    try {
      if (this.last === undefined) {
        this.last = await this.deps.lastCapture()
        this.status.lastCaptureTs = this.last
      }
      if (!this.prepared) this.prepared = await this.prepare(client)
      if (!this.cycle) this.cycle = await this.startCycle(client, this.prepared)
      this.status.catchingUp = true
      const done = await this.read(client, this.prepared, this.cycle)
      this.status.lastError = null
      if (done) this.endCycle()
    } catch (e) {
      if (!isDlmsError(e) || !['DATA_ACCESS', 'ACCESS_DENIED', 'UNSUPPORTED', 'ENCODE'].includes(e.dlmsCode)) throw e
      // The object itself is not readable (wrong OBIS, no rights, not sorted by time): say so, retry later.
      const msg = redact(e.message)
      if (this.status.lastError !== msg) this.deps.log.warn(`meter ${this.deps.meterId}: profile ${this.spec.obis}: ${msg}`, {meter: this.deps.meterId})
      this.status.lastError = msg
      this.prepared = undefined
      this.endCycle()
    }
  }

  private endCycle(): void {
    this.release()
    this.cycle = undefined
    this.status.catchingUp = false
    this.status.cycles++
    this.status.lastCycleAt = this.now()
    const next = this.cycleStartedAt + this.spec.everyMs
    this.dueAt = next > this.now() ? next : this.now() + this.spec.everyMs
  }

  private async prepare(client: DlmsClient): Promise<Prepared> {
    const ln = parseObis(this.spec.obis)
    const cls = ClassId.PROFILE_GENERIC
    const columns = parseCaptureObjects(await client.read(ln, cls, Attr.PROFILE_CAPTURE_OBJECTS))
    const clockIndex = columns.findIndex(isClockColumn)
    if (clockIndex < 0) throw new DlmsError('UNSUPPORTED', `profile ${this.spec.obis} has no clock column: its rows cannot be caught up by time`)
    const num = async (attr: number): Promise<number | null> => {
      try {
        const v = dataToNumber(await client.read(ln, cls, attr))
        return v === undefined ? null : Number(v)
      } catch (e) {
        if (isRefusal(e)) return null
        throw e
      }
    }
    const periodS = await num(Attr.PROFILE_CAPTURE_PERIOD)
    const entries = await num(Attr.PROFILE_ENTRIES)
    const periodMs = (periodS ?? 0) * 1000
    const scalers = new Map<number, ScalerUnit>()
    for (const [i, c] of columns.entries()) {
      if ((c.classId !== ClassId.REGISTER && c.classId !== ClassId.EXTENDED_REGISTER) || c.attribute !== Attr.REGISTER_VALUE) continue
      try {
        scalers.set(i, parseScalerUnit(await client.read(parseObis(c.obis), c.classId, Attr.REGISTER_SCALER_UNIT)))
      } catch (e) {
        if (!isRefusal(e) && !(isDlmsError(e) && e.dlmsCode === 'MALFORMED_FRAME' && e.details.apduOnly)) throw e
      }
    }
    if (!this.mode) {
      if (this.spec.mode !== 'auto') this.mode = this.spec.mode
      else if (client.association && !hasConformance(client.association.conformance, 'selective-access')) {
        this.mode = 'full'
        this.setFallback('full', 'the meter did not grant selective-access (conformance)')
      } else this.mode = 'range'
    }
    this.status.mode = this.mode
    return {columns, clockIndex, periodMs, spanMs: periodMs > 0 && entries ? entries * periodMs : null, scalers}
  }

  private async startCycle(client: DlmsClient, p: Prepared): Promise<Cycle> {
    this.cycleStartedAt = this.now()
    const clock = await client.readClock()
    const meterNow = clock.date?.getTime() ?? this.now()
    const offsetMinutes = clock.deviation === null ? 0 : -clock.deviation
    if (this.last === null || this.last === undefined) this.last = meterNow - this.spec.backfillMs - 1
    // Nothing older than the buffer's capacity can still be on the meter: do not walk empty windows.
    let cursor = this.last
    if (p.spanMs !== null) cursor = Math.max(cursor, meterNow - p.spanMs - p.periodMs)
    return {meterNow, offsetMinutes, cursor}
  }

  private setFallback(mode: ProfileMode, why: string): void {
    this.mode = mode
    this.status.mode = mode
    this.status.fallback = why
    this.deps.log.warn(
      `meter ${this.deps.meterId}: profile ${this.spec.obis}: ${why}; reading by ${mode === 'entry' ? 'entry range' : 'full read, filtered here'}`,
      {
        meter: this.deps.meterId,
      },
    )
  }

  /** One read in the current mode; true when the cycle is complete. */
  private async read(client: DlmsClient, p: Prepared, c: Cycle): Promise<boolean> {
    const ln = this.spec.obis
    for (;;) {
      try {
        if (this.mode === 'range') {
          const win = p.periodMs > 0 ? this.spec.maxRows * p.periodMs : Number.POSITIVE_INFINITY
          const to = c.cursor + win
          const r = await client.readProfile(ln, {
            captureObjects: p.columns,
            from: new Date(c.cursor),
            to: Number.isFinite(to) ? new Date(to - 1000) : undefined,
            offsetMinutes: c.offsetMinutes,
          })
          this.take(r, p, c)
          c.cursor = to
          return !(to <= c.meterNow)
        }
        if (this.mode === 'entry') {
          const inUse = Number(dataToNumber(await client.read(parseObis(ln), ClassId.PROFILE_GENERIC, Attr.PROFILE_ENTRIES_IN_USE)) ?? 0)
          if (inUse === 0) return true
          let start = c.entry
          if (start === undefined) {
            const behind = p.periodMs > 0 ? Math.ceil((c.meterNow - (this.last ?? 0)) / p.periodMs) + 1 : this.spec.maxRows
            start = Math.max(1, inUse - Math.min(behind, inUse) + 1)
          }
          start = Math.min(start, inUse)
          const end = Math.min(inUse, start + this.spec.maxRows - 1)
          const r = await client.readProfile(ln, {captureObjects: p.columns, entries: {from: start, to: end}})
          const first = r.rows.length ? this.rowTime(r, 0, p, c) : null
          if (start > 1 && first !== null && first > (this.last ?? 0)) {
            // The estimate started after the last stored row (rows closer together than the period):
            // step back until the read overlaps it, so nothing in between is skipped.
            c.entry = Math.max(1, start - this.spec.maxRows)
            continue
          }
          this.take(r, p, c)
          if (end >= inUse) return true
          c.entry = end // overlap by one row: it must come back as already stored
          return false
        }
        const r = await client.readProfile(ln, {captureObjects: p.columns})
        this.take(r, p, c)
        return true
      } catch (e) {
        if (this.spec.mode !== 'auto' || !isRefusal(e) || this.mode === 'full') throw e
        const why = `the meter refused ${this.mode === 'range' ? 'selective access by date range' : 'selective access by entry'} (${(e as Error).message.replace(/^.*?: /, '')})`
        this.setFallback(this.mode === 'range' ? 'entry' : 'full', why)
        c.entry = undefined
      }
    }
  }

  private rowTime(r: ProfileReading, i: number, p: Prepared, c: Cycle): number | null {
    const row = r.raw.type === 'array' ? r.raw.value[i] : undefined
    const cell = row?.type === 'structure' ? row.value[p.clockIndex] : undefined
    const dt = cell ? dataToDateTime(cell) : undefined
    if (!dt) return null
    // A clock without deviation is the meter's local time: use the deviation its clock reported.
    const d = dateTimeToDate(dt.deviation === null ? {...dt, deviation: -c.offsetMinutes} : dt)
    return d ? d.getTime() : null
  }

  /** Hands on the rows strictly after the last capture, oldest first. */
  private take(r: ProfileReading, p: Prepared, c: Cycle): void {
    const out: ProfileRowOut[] = []
    const last = this.last ?? Number.NEGATIVE_INFINITY
    const rows = r.rows.map((row, i) => ({row, ts: this.rowTime(r, i, p, c)})).filter((x): x is {row: (typeof r.rows)[number]; ts: number} => x.ts !== null)
    rows.sort((a, b) => a.ts - b.ts)
    let newest = last
    for (const {row, ts} of rows) {
      if (ts <= newest) continue
      newest = ts
      const values: ProfileRowOut['values'] = {}
      p.columns.forEach((col, j) => {
        if (j === p.clockIndex) return
        const named = this.spec.columns[col.obis]
        values[named?.key ?? defaultKey(col)] = this.value(row[j], j, p, named?.unit)
      })
      out.push({meterId: this.deps.meterId, profile: this.spec.obis, ts, values})
    }
    if (out.length === 0) return
    this.last = newest
    this.status.lastCaptureTs = newest
    this.status.rowsCaughtUp += out.length
    this.deps.submit(out)
  }

  private value(v: unknown, j: number, p: Prepared, unit: string | undefined): number | string | boolean | null {
    if (v === null || v === undefined) return null
    const su = p.scalers.get(j)
    if (typeof v === 'number' || typeof v === 'bigint' || (typeof v === 'string' && su && /^-?\d+$/.test(v))) {
      let n = su ? applyScaler(typeof v === 'string' ? BigInt(v) : v, su.scaler) : Number(v)
      if (unit && su) {
        const conv = convertUnit(n, unitSymbol(su.unit), unit)
        if (conv !== undefined) n = conv
      }
      return Number.isInteger(n) ? n : Number(n.toPrecision(12))
    }
    if (typeof v === 'string' || typeof v === 'boolean') return v
    return JSON.stringify(v)
  }
}

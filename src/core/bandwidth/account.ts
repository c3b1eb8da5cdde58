/**
 * The accounting itself (issue 14's split of ingest.ts), pure: no SQL, no store. Per-device state
 * (state.ts) goes in, every record of a batch is stepped through it — counter readings through
 * the one counter rule (counters.ts stepCounter), samples into the device's interval, rate,
 * peaks and open 5m/1h/1d buckets — and rows come out through a `RowOut` the caller provides
 * (ingest.ts writes them as bulk statements; tests collect them in arrays).
 *
 *   const acc = new Accountant(out, {maxRateBps, newAfter, wantDetail: true})
 *   for (const chunk of batch.spool.chunks()) acc.feed(chunk, batch, states)
 *   for (let i = 0; i < 3; i++) for (const st of states) acc.close(i, st)
 *
 * Samples at or before a device's latest one in this batch's view are not placed here: they are
 * `late` (returned as JSON rows) and merged afterwards with set-based SQL (late.ts).
 */
import {stepCounter, type CounterEvent, type CounterOptions, type CounterReading, type Outcome} from './counters.js'
import {joinBig, type SampleBatch} from './input.js'
import {intBps, rateBps} from './rates.js'
import {implausibleRate, RESOLUTIONS, updatePeaks, type Acc, type DevState, type RateEvent} from './state.js'

export interface SampleDetail {
  mac: string
  ts: string
  ts_ms: number
  bytes_sent: number
  bytes_received: number
  /** null when the sample has no measured interval (first sample, out of order, or an impossible rate). */
  interval_ms: number | null
  upload_bps: number | null
  download_bps: number | null
  total_bps: number | null
  late: boolean
}

export interface CounterDetail {
  mac: string
  ts: string
  ts_ms: number
  counter_sent: string
  counter_received: string
  outcome: Outcome
  bytes_sent: number | null
  bytes_received: number | null
}

/** Where the accountant's rows go. */
export interface RowOut {
  /** A raw sample row; `fresh`: after the device's latest sample, so no row exists (plain INSERT). */
  raw(st: DevState, ts: number, sent: number, received: number, interval: number | null, fresh: boolean): void
  /** A closed bucket of RESOLUTIONS[level]; `fresh`: no row can exist for it yet (plain INSERT). */
  rollup(level: number, st: DevState, a: Acc, fresh: boolean): void
}

export interface AccountOptions {
  maxRateBps: number
  /** Counter mode: the counter rule's options (per-device context is merged in from the batch). */
  counter?: CounterOptions
  /** By device slot: rollup buckets starting after this time hold no row yet (totals' cur_ts). */
  newAfter: number[]
  /** Keep per-record detail (small batches). */
  wantDetail: boolean
}

export interface AccountEvent {
  ts: number
  deviceId: number
  mac: string
  event: CounterEvent | RateEvent
}

export class Accountant {
  /** Late samples as JSON rows `[device_id, ts, sent, received]` for late.ts. */
  readonly late: string[] = []
  readonly events: AccountEvent[] = []
  readonly outcomes: Partial<Record<Outcome, number>> = {}
  readonly details: SampleDetail[] = []
  readonly counterDetails: CounterDetail[] = []
  recorded = 0
  lateCount = 0
  sumSent = 0
  sumReceived = 0

  constructor(
    private readonly out: RowOut,
    private readonly opts: AccountOptions,
  ) {}

  flag(st: DevState, ts: number, event: RateEvent): void {
    this.events.push({ts, deviceId: st.id, mac: st.mac, event})
  }

  /** Closes the open bucket of `level` for `st` (end of batch). */
  close(level: number, st: DevState): void {
    const a = st.acc[level]
    if (a) this.out.rollup(level, st, a, a.bucket > this.opts.newAfter[st.slot]!)
    st.acc[level] = null
  }

  private accAdd(st: DevState, ts: number, sent: number, received: number, peak: number | null): void {
    for (let i = 0; i < 3; i++) {
      const size = RESOLUTIONS[i]!.ms
      const bucket = ts - (((ts % size) + size) % size)
      let a = st.acc[i]!
      if (a === null) {
        a = {bucket, sent: 0, received: 0, n: 0, peak: null}
        st.acc[i] = a
      } else if (a.bucket !== bucket) {
        // The closed bucket's values are copied out: the object is reused for the next one.
        this.out.rollup(i, st, a, a.bucket > this.opts.newAfter[st.slot]!)
        a.bucket = bucket
        a.sent = 0
        a.received = 0
        a.n = 0
        a.peak = null
      }
      a.sent += sent
      a.received += received
      a.n += 1
      if (peak !== null && (a.peak === null || peak > a.peak)) a.peak = peak
    }
  }

  /** One sample (bytes since the device's previous one). */
  sample(st: DevState, ts: number, sent: number, received: number): void {
    const maxRateBps = this.opts.maxRateBps
    this.recorded++
    this.sumSent += sent
    this.sumReceived += received
    st.touched = true
    st.bytesSent += sent
    st.bytesReceived += received
    st.sampleCount += 1
    if (st.firstTs === null || ts < st.firstTs) st.firstTs = ts
    if (st.lastTs === null || ts > st.lastTs) st.lastTs = ts
    let interval: number | null
    let isLate = false
    if (st.curTs === null || ts > st.curTs) {
      // No interval from the registration/reset time: that is no measurement (issue 13).
      interval = st.curTs === null ? null : ts - st.curTs
      const bad = interval === null ? null : implausibleRate(sent, received, interval, maxRateBps)
      if (bad) {
        this.flag(st, ts, bad)
        interval = null
      }
      this.out.raw(st, ts, sent, received, interval, true)
      st.curTs = ts
      st.curSent = sent
      st.curReceived = received
      st.curInterval = interval
      updatePeaks(st, ts, sent, received, interval)
      this.accAdd(st, ts, sent, received, intBps(rateBps(sent + received, interval)))
    } else if (ts === st.curTs) {
      // Same (device, ts) as the latest sample: summed into it (the upsert adds), same interval.
      interval = st.curInterval
      st.curSent += sent
      st.curReceived += received
      const bad = interval === null ? null : implausibleRate(st.curSent, st.curReceived, interval, maxRateBps)
      if (bad) {
        this.flag(st, ts, bad)
        interval = null
        st.curInterval = null
      }
      this.out.raw(st, ts, sent, received, interval, false)
      updatePeaks(st, ts, st.curSent, st.curReceived, interval)
      this.accAdd(st, ts, sent, received, intBps(rateBps(st.curSent + st.curReceived, interval)))
    } else {
      isLate = true
      interval = null
      this.lateCount++
      this.late.push('[' + st.id + ',' + ts + ',' + sent + ',' + received + ']')
    }
    if (this.opts.wantDetail) {
      const up = isLate ? null : rateBps(ts === st.curTs ? st.curSent : sent, interval)
      const down = isLate ? null : rateBps(ts === st.curTs ? st.curReceived : received, interval)
      this.details.push({
        mac: st.mac,
        ts: new Date(ts).toISOString(),
        ts_ms: ts,
        bytes_sent: sent,
        bytes_received: received,
        interval_ms: interval,
        upload_bps: intBps(up),
        download_bps: intBps(down),
        total_bps: up === null || down === null ? null : Math.round(up + down),
        late: isLate,
      })
    }
  }

  /** One counter reading: the counter rule decides what, if anything, it records. */
  reading(st: DevState, reading: CounterReading, opts: CounterOptions, source: string | undefined): void {
    const step = stepCounter(st.counter, reading, opts)
    this.outcomes[step.outcome] = (this.outcomes[step.outcome] ?? 0) + 1
    st.counter = step.next
    st.counterTouched = true
    st.touched = true
    if (source) st.counterSource = source
    if (step.event) this.events.push({ts: reading.ts, deviceId: st.id, mac: st.mac, event: step.event})
    if (step.record) this.sample(st, reading.ts, step.record.sent, step.record.received)
    if (this.opts.wantDetail) {
      this.counterDetails.push({
        mac: st.mac,
        ts: new Date(reading.ts).toISOString(),
        ts_ms: reading.ts,
        counter_sent: reading.sent.toString(),
        counter_received: reading.received.toString(),
        outcome: step.outcome,
        bytes_sent: step.record?.sent ?? null,
        bytes_received: step.record?.received ?? null,
      })
    }
  }

  /** Every record of one spool chunk; `states[k]` is the state of the batch's MAC k. */
  feed(chunk: Float64Array, batch: SampleBatch, states: DevState[]): void {
    const w = batch.spool.width
    if (batch.mode !== 'counter') {
      for (let o = 0; o < chunk.length; o += w) this.sample(states[chunk[o]!]!, chunk[o + 1]!, chunk[o + 2]!, chunk[o + 3]!)
      return
    }
    const base = this.opts.counter!
    for (let o = 0; o < chunk.length; o += w) {
      const k = chunk[o]!
      const reading: CounterReading = {ts: chunk[o + 1]!, sent: joinBig(chunk[o + 2]!, chunk[o + 3]!), received: joinBig(chunk[o + 4]!, chunk[o + 5]!)}
      const ctx = batch.counterContext?.[k]
      this.reading(states[k]!, reading, ctx ? {...base, ...ctx} : base, batch.sources?.[k])
    }
  }
}

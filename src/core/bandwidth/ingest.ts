/**
 * The bandwidth write path (issue 4): one SampleBatch → one write transaction that updates raw
 * samples, the 5m/1h/1d rollups, the per-device running totals, counter state and events
 * together, so a reader never sees one without the others and totals stay exact under
 * concurrent writers (read-then-write inside BEGIN IMMEDIATE).
 *
 * How it stays fast on a million-line stream (bench/bandwidth-ingest.bench.js):
 *  - the client re-prepares every statement (shared/FACTS.md §2), so rows go in 50,000 per
 *    statement, as one blob of fixed-width decimal fields (bulk.ts), grouped by device;
 *  - per-device state (previous sample, current rate, peaks, the open 5m/1h/1d buckets, totals)
 *    lives in JS for the batch (state.ts), so each raw row is written once with its interval
 *    already known and rollups get one upsert per bucket, not per sample;
 *  - samples older than the device's latest one ("late", out of order) are rare; they are merged
 *    afterwards with set-based SQL (late.ts) — so out-of-order input is placed exactly.
 *
 * Remote stores (issue 13, docs/STORE.md "Remote ingest"): every request stays under libSQL's
 * 1 MiB body limit (bulk.ts); a big batch is one interactive transaction over several bounded
 * requests (atomic: nothing is visible before COMMIT, a failure rolls all of it back); a small batch
 * of known devices is one read plus ONE write request (BEGIN IMMEDIATE … COMMIT in a single
 * pipeline) guarded by a snapshot check, so no lock is held across network round trips.
 *
 * Rate rule: a sample's interval is ts − the device's previous sample (by ts). The first sample of
 * a device has no interval (no rate, bytes still counted): the registration time is no
 * measurement (issue 13: 17 ms after register gave 29.6 Gbit/s). An interval whose rate exceeds
 * `--max-rate` in either direction is not a rate either: the bytes count, the sample gets no
 * interval, current and peaks ignore it, and a `rate_implausible` event says so.
 * Two samples with the same (device, ts) are summed into one (bytes are never dropped).
 */
import {invalidInput, NetmonError} from '../errors.js'
import {writeEvents, type BulkRows} from '../devices/events.js'
import {ensureDevicesByMac, refreshAddresses, refreshHostnames, registerDevice, touchLastSeen} from '../devices/repo.js'
import type {Stmt, Store, Tx} from '../store/index.js'
import {BatchingSink, CollectingSink, DirectSink, FixedWidthRows, jsonChunks, REMOTE_REQUEST_BYTES, statementBytes, writeJsonRows, type Sink} from './bulk.js'
import {DEFAULT_MAX_RATE_BPS, stepCounter, type CounterBits, type CounterEvent, type CounterReading, type Outcome} from './counters.js'
import {joinBig, type SampleBatch} from './input.js'
import {mergeLate, ROLLUP_TAIL, rollupHead} from './late.js'
import {intBps, rateBps} from './rates.js'
import {SPOOL_CHUNK_RECORDS} from './spool.js'
import {
  implausibleRate,
  RESOLUTIONS,
  stateFrom,
  TOTALS_COLUMNS,
  totalsRow,
  updatePeaks,
  type Acc,
  type DevState,
  type RateEvent,
  type TotalsRow,
} from './state.js'

export {RESOLUTIONS, type Resolution} from './state.js'
export {rollupUpsert} from './late.js'

const RAW_ROWS_PER_STATEMENT = 50_000
const DETAIL_LIMIT = 100
/** Batches up to this many records on a remote store try the one-request write first. */
const ONE_REQUEST_RECORDS = 2_000
/** How long a one-request write keeps retrying when other writers changed its devices meanwhile. */
const CONFLICT_BUDGET_MS = 60_000

export interface IngestOptions {
  autoRegister: boolean
  /** `maxRateBps` bounds delta-mode rates too (default 10 Gbit/s). */
  counter?: {maxRateBps: number; bits: CounterBits}
  now?: number
  /** Local file store: per-connection cache tuning applies, statements are not packed. */
  local?: boolean
}

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

export interface IngestResult {
  success: true
  message: string
  mode: 'delta' | 'counter'
  /** Records read (lines, flag samples, interface readings). */
  samples_in: number
  /** Samples written (counter mode: readings that produced a sample). */
  samples_recorded: number
  /** Of those, placed before the device's latest sample (out of order). */
  samples_late: number
  bytes_sent: number
  bytes_received: number
  devices: number
  registered: string[]
  events: {type: string; mac: string; ts: string; ts_ms: number}[]
  counter_outcomes?: Partial<Record<Outcome, number>>
  /** Per-sample detail for small batches (≤ 100 records). */
  samples?: SampleDetail[]
  counters?: CounterDetail[]
}

const RAW_HEAD = 'INSERT INTO bw_samples(device_id, ts, sent, received, interval_ms)'
// interval_ms from excluded: a same-(device, ts) sample carries the interval already stored, or
// NULL when the sum made the rate impossible.
const RAW_TAIL =
  'ON CONFLICT(device_id, ts) DO UPDATE SET sent = sent + excluded.sent, received = received + excluded.received, interval_ms = excluded.interval_ms'

function pushAcc(rows: FixedWidthRows, st: DevState, a: Acc): void {
  const o = rows.add(st.slot)
  const v = rows.values
  v[o] = st.id
  v[o + 1] = a.bucket
  v[o + 2] = a.sent
  v[o + 3] = a.received
  v[o + 4] = a.n
  v[o + 5] = a.peak === null ? -1 : a.peak
}

/**
 * One device's stored state as one text value, computed by SQL from the same joins in the read and
 * in the one-request write's guard: equal strings = nothing changed in between.
 */
const FINGERPRINT = `(${['device_id', ...TOTALS_COLUMNS.slice(1)].map(c => `quote(t.${c})`).join(" || ',' || ")}
  || '|' || quote(c.ts) || ',' || quote(c.sent) || ',' || quote(c.received) || ',' || quote(c.source))`

/** A device with its totals and counter state, looked up by MAC. */
interface Loaded extends Omit<TotalsRow, 'device_id'> {
  id: number
  mac: string
  t_id: number | null
  c_ts: number | null
  c_sent: string | null
  c_received: string | null
  c_source: string | null
  fp: string
}

const LOOKUP_SQL = `SELECT d.id, d.mac, t.device_id AS t_id, ${TOTALS_COLUMNS.slice(1)
  .map(c => `t.${c}`)
  .join(', ')},
    c.ts AS c_ts, c.sent AS c_sent, c.received AS c_received, c.source AS c_source, ${FINGERPRINT} AS fp
  FROM json_each(?) j JOIN devices d ON d.mac = j.value LEFT JOIN bw_totals t ON t.device_id = d.id LEFT JOIN bw_counters c ON c.device_id = d.id`

async function lookup(tx: Pick<Tx, 'query'>, macs: readonly string[], maxBytes: number): Promise<Map<string, Loaded>> {
  const out = new Map<string, Loaded>()
  for (const chunk of jsonChunks(
    macs.map(m => JSON.stringify(m)),
    LOOKUP_SQL,
    maxBytes,
  )) {
    for (const r of await tx.query<Loaded>(LOOKUP_SQL, [chunk])) out.set(String(r.mac), r)
  }
  return out
}

/** The devices module's bulk writes over this batch's sink (chunked under its request budget). */
function bulkRows(sink: Sink, tx: Pick<Tx, 'query'> | null): BulkRows {
  return {
    write: (sql, rows) => writeJsonRows(sink, sql, rows),
    query: async <T>(sql: string, rows: readonly string[]) => {
      if (!tx) throw new Error('bulk query needs a transaction')
      const out: T[] = []
      for (const chunk of jsonChunks(rows, sql, sink.maxBytes)) out.push(...(await tx.query<T>(sql, [chunk])))
      return out
    },
  }
}

/**
 * Resolves the batch's MACs to device ids inside the transaction: unknown MACs are registered
 * with --auto-register, else rejected (exit 2, naming where the MAC first appeared). ip/hostname
 * given with the samples refresh the device (like re-registering). Set-based: a constant number of
 * statements whatever the number of devices, except a MAC whose hinted address belongs to a
 * device the scanner knew by IP only (that one is merged by registerDevice, one by one).
 */
async function resolveDevices(
  tx: Tx,
  sink: Sink,
  batch: SampleBatch,
  opts: IngestOptions,
  now: number,
): Promise<{ids: number[]; registered: string[]; loaded: Map<string, Loaded>}> {
  const loaded = await lookup(tx, batch.macs, sink.maxBytes)
  if (!opts.autoRegister) {
    const k = batch.macs.findIndex(m => !loaded.has(m))
    if (k >= 0) {
      const where = batch.firstLine[k] ? ` (first on line ${batch.firstLine[k]})` : ''
      throw invalidInput(
        `unknown device ${batch.macs[k]}${where}`,
        'register it first with `netmon bandwidth register --ip IP --mac MAC`, or pass --auto-register',
      )
    }
  }
  const hintedIps = [...new Set(batch.hints.flatMap(h => (h?.ip ? [JSON.stringify(h.ip)] : [])))]
  const ipOnly = new Set<string>()
  const ipOnlySql = `SELECT ip FROM devices WHERE mac IS NULL AND ip IN (SELECT value FROM json_each(?))`
  for (const chunk of jsonChunks(hintedIps, ipOnlySql, sink.maxBytes)) {
    for (const r of await tx.query<{ip: string}>(ipOnlySql, [chunk])) ipOnly.add(String(r.ip))
  }
  const ids: number[] = new Array(batch.macs.length)
  const registered: string[] = []
  const merged: string[] = []
  const newRows: string[] = []
  const ipRows: string[] = []
  const hostRows: string[] = []
  for (let k = 0; k < batch.macs.length; k++) {
    const mac = batch.macs[k]!
    const hint = batch.hints[k]
    const found = loaded.get(mac)
    if (hint?.ip && ipOnly.has(hint.ip)) {
      ipOnly.delete(hint.ip)
      const r = await registerDevice(tx, {mac, ip: hint.ip, hostname: found ? (hint.hostname ?? null) : (hint.hostname ?? hint.label ?? null), now})
      ids[k] = r.device.id
      if (r.created) registered.push(mac)
      merged.push(mac)
    } else if (found) {
      ids[k] = Number(found.id)
      if (hint?.ip) ipRows.push(JSON.stringify([ids[k], hint.ip, hint.hostname ?? null, now]))
      else if (hint?.hostname) hostRows.push(JSON.stringify([ids[k], hint.hostname]))
    } else {
      newRows.push(JSON.stringify([mac, hint?.ip ?? null, hint?.hostname ?? hint?.label ?? null, now]))
    }
  }
  const bulk = bulkRows(sink, tx)
  await refreshAddresses(bulk, ipRows)
  await refreshHostnames(bulk, hostRows)
  if (newRows.length) {
    // Created devices raise `new` like those a scan finds (devices/repo.ts, in bulk).
    const created = await ensureDevicesByMac(bulk, newRows, now, 'bandwidth')
    for (let k = 0; k < batch.macs.length; k++) {
      const id = created.get(batch.macs[k]!)
      if (id === undefined) continue
      ids[k] = id
      registered.push(batch.macs[k]!)
    }
  }
  // A merged device may bring accounting of its own: read its state as it is now.
  if (merged.length) for (const [mac, row] of await lookup(tx, merged, sink.maxBytes)) loaded.set(mac, row)
  return {ids, registered, loaded}
}

/** Writes final totals for the touched devices (the values were computed in this batch). */
async function writeTotals(sink: Sink, states: DevState[]): Promise<void> {
  const rows = states.filter(s => s.touched).map(s => JSON.stringify(totalsRow(s)))
  if (rows.length === 0) return
  const cols = TOTALS_COLUMNS.join(', ')
  const sel = TOTALS_COLUMNS.map((_, i) => `value->>${i}`).join(', ')
  const set = TOTALS_COLUMNS.slice(1)
    .map(c => `${c} = excluded.${c}`)
    .join(', ')
  await writeJsonRows(sink, `INSERT INTO bw_totals(${cols}) SELECT ${sel} FROM json_each(?) WHERE true ON CONFLICT(device_id) DO UPDATE SET ${set}`, rows)
}

/**
 * Applies a batch inside `tx` (an interactive write transaction). May run more than once (store
 * retries on BUSY): it derives everything from `tx` and the (re-readable) spool.
 */
export async function applyBatch(tx: Tx, batch: SampleBatch, opts: IngestOptions): Promise<IngestResult> {
  const now = opts.now ?? Date.now()
  const sink: Sink = opts.local ? new DirectSink(tx) : new BatchingSink(tx)
  const {ids, registered, loaded} = await resolveDevices(tx, sink, batch, opts, now)
  const result = await account(batch, opts, now, ids, loaded, sink, tx)
  await sink.flush()
  result!.registered = registered
  return result!
}

/**
 * The accounting itself: per-device state from `loaded`, every record of the spool, then the
 * writes into `sink`. Without `tx` (the one-request path) late samples cannot be merged (that needs
 * reads): then it returns null and the caller takes the transaction path.
 */
async function account(
  batch: SampleBatch,
  opts: IngestOptions,
  now: number,
  ids: number[],
  loaded: Map<string, Loaded>,
  sink: Sink,
  tx: Tx | null,
): Promise<IngestResult | null> {
  const maxRateBps = opts.counter?.maxRateBps ?? DEFAULT_MAX_RATE_BPS
  const stateById = new Map<number, DevState>()
  const states: DevState[] = new Array(batch.macs.length)
  // Per device slot: rollup buckets starting after this time hold no row yet (see newBucketsAfter).
  const newAfter: number[] = []
  for (let k = 0; k < batch.macs.length; k++) {
    const id = ids[k]!
    let st = stateById.get(id)
    if (!st) {
      const row = loaded.get(batch.macs[k]!)
      newAfter.push(newBucketsAfter(row, id))
      const t = row && Number(row.id) === id && row.t_id !== null ? ({...row, device_id: id} as TotalsRow) : undefined
      st = stateFrom(id, stateById.size, batch.macs[k]!, t)
      if (row && Number(row.id) === id && row.c_ts !== null) {
        st.counter = {ts: Number(row.c_ts), sent: BigInt(String(row.c_sent)), received: BigInt(String(row.c_received))}
        st.counterSource = row.c_source
      }
      stateById.set(id, st)
    }
    states[k] = st
  }
  const counterMode = batch.mode === 'counter'

  const big = batch.spool.count > 50_000
  if (big && opts.local && tx) {
    // The raw table is clustered by device; a long stream interleaves 1000s of devices, so keep
    // their insertion pages in cache (bounded: 16 MiB) instead of re-reading them per row.
    await tx.execute('PRAGMA cache_size = -16384')
  }

  // Flushed after each spool chunk once past the threshold, so a chunk always fits (a record
  // adds at most one raw row and one row per rollup level).
  const cap = RAW_ROWS_PER_STATEMENT + SPOOL_CHUNK_RECORDS
  // Two raw buffers: samples after the device's latest one are new rows for sure (plain INSERT,
  // ~20 % cheaper than an upsert); only same-(device, ts) samples need the upsert, flushed after.
  const rawNew = new FixedWidthRows(sink, RAW_HEAD, '', [false, false, false, false, true], stateById.size, cap, [null, 1])
  const raw = new FixedWidthRows(sink, RAW_HEAD, RAW_TAIL, [false, false, false, false, true], stateById.size, cap, [null, 1])
  const rollups = RESOLUTIONS.map(
    r => new FixedWidthRows(sink, rollupHead(r.table), ROLLUP_TAIL, [false, false, false, false, false, true], stateById.size, cap, [null, r.ms]),
  )
  // Buckets known to be new (newBucketsAfter): plain INSERT.
  const rollupsNew = RESOLUTIONS.map(
    r => new FixedWidthRows(sink, rollupHead(r.table), '', [false, false, false, false, false, true], stateById.size, cap, [null, r.ms]),
  )
  const closeAcc = (i: number, st: DevState, a: Acc) => pushAcc(a.bucket > newAfter[st.slot]! ? rollupsNew[i]! : rollups[i]!, st, a)
  const addRaw = (st: DevState, ts: number, sent: number, received: number, interval: number | null, rows = raw) => {
    const o = rows.add(st.slot)
    const v = rows.values
    v[o] = st.id
    v[o + 1] = ts
    v[o + 2] = sent
    v[o + 3] = received
    v[o + 4] = interval === null ? -1 : interval
  }
  const late: string[] = []
  const events: {ts: number; deviceId: number; mac: string; event: CounterEvent | RateEvent}[] = []
  const flag = (st: DevState, ts: number, event: RateEvent) => events.push({ts, deviceId: st.id, mac: st.mac, event})
  const outcomes: Partial<Record<Outcome, number>> = {}
  const wantDetail = batch.spool.count <= DETAIL_LIMIT
  const details: SampleDetail[] = []
  const counterDetails: CounterDetail[] = []
  let recorded = 0
  let lateCount = 0
  let sumSent = 0
  let sumReceived = 0

  // Per-row work is synchronous (no promise per sample); buffers are flushed between chunks.
  const accAdd = (st: DevState, ts: number, sent: number, received: number, peak: number | null) => {
    for (let i = 0; i < 3; i++) {
      const size = RESOLUTIONS[i]!.ms
      const bucket = ts - (((ts % size) + size) % size)
      let a = st.acc[i]!
      if (a === null) {
        a = {bucket, sent: 0, received: 0, n: 0, peak: null}
        st.acc[i] = a
      } else if (a.bucket !== bucket) {
        // pushAcc copied the closed bucket's values: the object is reused for the next one.
        closeAcc(i, st, a)
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

  const record = (st: DevState, ts: number, sent: number, received: number) => {
    recorded++
    sumSent += sent
    sumReceived += received
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
        flag(st, ts, bad)
        interval = null
      }
      addRaw(st, ts, sent, received, interval, rawNew)
      st.curTs = ts
      st.curSent = sent
      st.curReceived = received
      st.curInterval = interval
      updatePeaks(st, ts, sent, received, interval)
      accAdd(st, ts, sent, received, intBps(rateBps(sent + received, interval)))
    } else if (ts === st.curTs) {
      // Same (device, ts) as the latest sample: summed into it (the upsert adds), same interval.
      interval = st.curInterval
      st.curSent += sent
      st.curReceived += received
      const bad = interval === null ? null : implausibleRate(st.curSent, st.curReceived, interval, maxRateBps)
      if (bad) {
        flag(st, ts, bad)
        interval = null
        st.curInterval = null
      }
      addRaw(st, ts, sent, received, interval)
      updatePeaks(st, ts, st.curSent, st.curReceived, interval)
      accAdd(st, ts, sent, received, intBps(rateBps(st.curSent + st.curReceived, interval)))
    } else {
      isLate = true
      interval = null
      lateCount++
      late.push('[' + st.id + ',' + ts + ',' + sent + ',' + received + ']')
    }
    if (wantDetail) {
      const up = isLate ? null : rateBps(ts === st.curTs ? st.curSent : sent, interval)
      const down = isLate ? null : rateBps(ts === st.curTs ? st.curReceived : received, interval)
      details.push({
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

  const w = batch.spool.width
  for (const chunk of batch.spool.chunks()) {
    for (let o = 0; o < chunk.length; o += w) {
      const st = states[chunk[o]!]!
      const ts = chunk[o + 1]!
      if (!counterMode) {
        record(st, ts, chunk[o + 2]!, chunk[o + 3]!)
        continue
      }
      const reading: CounterReading = {ts, sent: joinBig(chunk[o + 2]!, chunk[o + 3]!), received: joinBig(chunk[o + 4]!, chunk[o + 5]!)}
      const ctx = batch.counterContext?.[chunk[o]!]
      const step = stepCounter(st.counter, reading, ctx ? {...opts.counter!, ...ctx} : opts.counter!)
      outcomes[step.outcome] = (outcomes[step.outcome] ?? 0) + 1
      st.counter = step.next
      st.counterTouched = true
      st.touched = true
      const src = batch.sources?.[chunk[o]!]
      if (src) st.counterSource = src
      if (step.event) events.push({ts, deviceId: st.id, mac: st.mac, event: step.event})
      if (step.record) record(st, ts, step.record.sent, step.record.received)
      if (wantDetail) {
        counterDetails.push({
          mac: st.mac,
          ts: new Date(ts).toISOString(),
          ts_ms: ts,
          counter_sent: reading.sent.toString(),
          counter_received: reading.received.toString(),
          outcome: step.outcome,
          bytes_sent: step.record?.sent ?? null,
          bytes_received: step.record?.received ?? null,
        })
      }
    }
    if (rawNew.length + raw.length >= RAW_ROWS_PER_STATEMENT) {
      await rawNew.flush()
      await raw.flush()
    }
    for (const r of rollups) if (r.length >= RAW_ROWS_PER_STATEMENT) await r.flush()
    for (const r of rollupsNew) if (r.length >= RAW_ROWS_PER_STATEMENT) await r.flush()
  }
  await rawNew.flush()
  await raw.flush()
  // Close the open buckets.
  for (let i = 0; i < 3; i++) {
    const r = rollups[i]!
    const rn = rollupsNew[i]!
    await r.flush()
    await rn.flush()
    for (const st of stateById.values()) {
      const a = st.acc[i]
      if (a) closeAcc(i, st, a)
      st.acc[i] = null
      if (r.length >= RAW_ROWS_PER_STATEMENT) await r.flush()
      if (rn.length >= RAW_ROWS_PER_STATEMENT) await rn.flush()
    }
    await r.flush()
    await rn.flush()
  }

  if (late.length) {
    if (!tx) return null
    await mergeLate(tx, sink, late, stateById, maxRateBps, flag)
  }

  await writeTotals(sink, [...stateById.values()])

  if (counterMode) {
    const rows = [...stateById.values()]
      .filter(s => s.counterTouched && s.counter)
      .map(s => [s.id, s.counter!.ts, s.counter!.sent.toString(), s.counter!.received.toString(), s.counterSource])
    await writeJsonRows(
      sink,
      `INSERT INTO bw_counters(device_id, ts, sent, received, source)
         SELECT value->>0, value->>1, value->>2, value->>3, value->>4 FROM json_each(?) WHERE true
         ON CONFLICT(device_id) DO UPDATE SET ts = excluded.ts, sent = excluded.sent, received = excluded.received, source = excluded.source`,
      rows.map(r => JSON.stringify(r)),
    )
  }
  const bulk = bulkRows(sink, tx)
  await writeEvents(
    bulk,
    events.map(e => ({ts: e.ts, deviceId: e.deviceId, type: e.event.type, detail: JSON.stringify(e.event.detail)})),
  )
  // Traffic is evidence the device is there: keep the shared last_seen moving.
  const seen = [...stateById.values()].filter(s => s.touched && s.lastTs !== null).map(s => `[${s.id},${Math.min(s.lastTs!, now)}]`)
  await touchLastSeen(bulk, seen)
  if (big && opts.local && tx) await tx.execute('PRAGMA cache_size = -2000')

  const result: IngestResult = {
    success: true,
    message: recorded === 1 ? 'Sample recorded' : `${recorded} samples recorded`,
    mode: batch.mode,
    samples_in: batch.spool.count,
    samples_recorded: recorded,
    samples_late: lateCount,
    bytes_sent: sumSent,
    bytes_received: sumReceived,
    devices: stateById.size,
    registered: [],
    events: events.map(e => ({type: e.event.type, mac: e.mac, ts: new Date(e.ts).toISOString(), ts_ms: e.ts})),
  }
  if (counterMode) result.counter_outcomes = outcomes
  if (wantDetail) {
    if (counterMode) result.counters = counterDetails
    result.samples = details
  }
  return result
}

/**
 * The time after which a device's rollup buckets are known to hold no row, so a closed bucket there
 * is a plain INSERT (cheaper than the upsert; ~200k 5-minute rows in the 1M-line bench): a device
 * registered by this batch has no rows at all; a known device none after its latest sample
 * (bw_totals.cur_ts: every raw sample and rollup row comes from a sample at or before it, late
 * ones included). Anything else (no totals row, cur_ts cleared, a merged device) takes the upsert.
 */
function newBucketsAfter(row: Loaded | undefined, id: number): number {
  if (!row) return Number.NEGATIVE_INFINITY
  if (Number(row.id) === id && row.t_id !== null && row.cur_ts !== null) return Number(row.cur_ts)
  return Number.POSITIVE_INFINITY
}

const GUARD_TABLE = 'CREATE TEMP TABLE IF NOT EXISTS netmon_guard (ok INTEGER CONSTRAINT netmon_snapshot_changed CHECK (ok = 1))'
// Fails the whole write batch (CHECK constraint) unless every device is still as it was read.
const GUARD_SQL = `INSERT INTO temp.netmon_guard(ok)
  SELECT count(*) = 0 FROM json_each(?) g
  LEFT JOIN devices d ON d.mac = g.value->>0 LEFT JOIN bw_totals t ON t.device_id = d.id LEFT JOIN bw_counters c ON c.device_id = d.id
  WHERE d.id IS NOT g.value->>1 OR ${FINGERPRINT} IS NOT g.value->>2`

const snapshotChanged = (e: unknown): boolean => /netmon_snapshot_changed/.test(`${(e as Error)?.message} ${((e as Error)?.cause as Error)?.message}`)
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

/**
 * The remote one-request write (issue 13): read the devices' state (one request, no lock), do the
 * accounting in memory, then send every write as ONE write batch — BEGIN IMMEDIATE, a guard that
 * fails unless the state is still what was read, the writes, COMMIT — so the server's write lock is
 * held for one request, never across round trips. A guard failure (another writer got there
 * first) rolls the batch back whole; it is then redone from a fresh read. Returns null when the
 * batch needs the transaction path: unknown MACs, addresses to register, late samples, or more
 * than one request's worth of statements.
 */
async function ingestOneRequest(store: Store, batch: SampleBatch, opts: IngestOptions): Promise<IngestResult | null> {
  if (batch.hints.some(h => h?.ip)) return null
  const macs = JSON.stringify(batch.macs)
  if (statementBytes(LOOKUP_SQL, [macs]) > REMOTE_REQUEST_BYTES / 2) return null
  const deadline = Date.now() + CONFLICT_BUDGET_MS
  for (let attempt = 1; ; attempt++) {
    const now = opts.now ?? Date.now()
    const loaded = new Map((await store.query<Loaded>(LOOKUP_SQL, [macs])).map(r => [String(r.mac), r]))
    if (batch.macs.some(m => !loaded.has(m))) return null
    const ids = batch.macs.map(m => Number(loaded.get(m)!.id))
    const sink = new CollectingSink()
    await refreshHostnames(
      bulkRows(sink, null),
      batch.hints.flatMap((h, k) => (h?.hostname ? [JSON.stringify([ids[k], h.hostname])] : [])),
    )
    const result = await account(batch, opts, now, ids, loaded, sink, null)
    if (!result) return null
    const guard = JSON.stringify([...loaded.values()].map(r => [String(r.mac), Number(r.id), String(r.fp)]))
    const stmts: Stmt[] = [GUARD_TABLE, {sql: GUARD_SQL, args: [guard]}, ...sink.statements]
    if (sink.bytes + statementBytes(GUARD_SQL, [guard]) + 1024 > REMOTE_REQUEST_BYTES) return null
    try {
      await store.batch(stmts)
      return result
    } catch (e) {
      if (!snapshotChanged(e)) throw e
      if (Date.now() >= deadline) {
        throw new NetmonError(
          'store',
          `the store ${store.location.display} kept changing under this write (${attempt} attempts in ${CONFLICT_BUDGET_MS / 1000} s)`,
          {
            hint: 'other writers keep updating the same devices; try again',
            cause: e,
          },
        )
      }
      // Jittered, growing back-off: concurrent writers of the same devices spread out.
      await sleep(Math.min(1000, 10 * 2 ** Math.min(attempt, 7)) * (0.5 + Math.random()))
    }
  }
}

/**
 * Writes one batch atomically: the one-request path for small remote batches, else one write
 * transaction (local files, and remote batches that need it).
 */
export async function ingestBatch(store: Store, batch: SampleBatch, opts: IngestOptions): Promise<IngestResult> {
  const local = store.isLocal
  if (!local && batch.spool.count <= ONE_REQUEST_RECORDS) {
    const r = await ingestOneRequest(store, batch, {...opts, local})
    if (r) return r
  }
  return store.writeTx(tx => applyBatch(tx, batch, {...opts, local}))
}

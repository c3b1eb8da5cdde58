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
import {NetmonError} from '../errors.js'
import {writeEvents} from '../devices/events.js'
import {refreshHostnames, touchLastSeen} from '../devices/repo.js'
import type {Stmt, Store, Tx} from '../store/index.js'
import {BatchingSink, CollectingSink, DirectSink, FixedWidthRows, REMOTE_REQUEST_BYTES, statementBytes, type Sink} from './bulk.js'
import {bulkRows, resolveDevices} from './resolve.js'
import {FINGERPRINT, LOOKUP_SQL, newBucketsAfter, writeCounters, writeTotals, type Loaded} from './totals-repo.js'
import {Accountant, type CounterDetail, type RowOut, type SampleDetail} from './account.js'
import {DEFAULT_MAX_RATE_BPS, type CounterBits, type Outcome} from './counters.js'
import type {SampleBatch} from './input.js'
import {mergeLate, ROLLUP_TAIL, rollupHead} from './late.js'
import {SPOOL_CHUNK_RECORDS} from './spool.js'
import {RESOLUTIONS, stateFrom, type Acc, type DevState, type RateEvent, type TotalsRow} from './state.js'

export type {CounterDetail, SampleDetail} from './account.js'
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
  const out: RowOut = {
    raw(st, ts, sent, received, interval, fresh) {
      const rows = fresh ? rawNew : raw
      const o = rows.add(st.slot)
      const v = rows.values
      v[o] = st.id
      v[o + 1] = ts
      v[o + 2] = sent
      v[o + 3] = received
      v[o + 4] = interval === null ? -1 : interval
    },
    rollup: (level, st, a, fresh) => pushAcc(fresh ? rollupsNew[level]! : rollups[level]!, st, a),
  }
  const wantDetail = batch.spool.count <= DETAIL_LIMIT
  const acc = new Accountant(out, {maxRateBps, ...(opts.counter ? {counter: opts.counter} : {}), newAfter, wantDetail})

  // Per-row work is synchronous (no promise per sample); buffers are flushed between chunks.
  for (const chunk of batch.spool.chunks()) {
    acc.feed(chunk, batch, states)
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
      acc.close(i, st)
      if (r.length >= RAW_ROWS_PER_STATEMENT) await r.flush()
      if (rn.length >= RAW_ROWS_PER_STATEMENT) await rn.flush()
    }
    await r.flush()
    await rn.flush()
  }
  const {late, events, outcomes, details, counterDetails} = acc
  const flag = (st: DevState, ts: number, event: RateEvent) => acc.flag(st, ts, event)

  if (late.length) {
    if (!tx) return null
    await mergeLate(tx, sink, late, stateById, maxRateBps, flag)
  }

  await writeTotals(sink, [...stateById.values()])

  if (counterMode) await writeCounters(sink, [...stateById.values()])
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
    message: acc.recorded === 1 ? 'Sample recorded' : `${acc.recorded} samples recorded`,
    mode: batch.mode,
    samples_in: batch.spool.count,
    samples_recorded: acc.recorded,
    samples_late: acc.lateCount,
    bytes_sent: acc.sumSent,
    bytes_received: acc.sumReceived,
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

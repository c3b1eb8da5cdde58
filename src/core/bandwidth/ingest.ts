/**
 * The bandwidth write path (issue 4): one SampleBatch → one write transaction that updates raw
 * samples, the 5m/1h/1d rollups, the per-device running totals, counter state and events
 * together, so a reader never sees one without the others and totals stay exact under
 * concurrent writers (read-then-write inside BEGIN IMMEDIATE).
 *
 * How it stays fast on a million-line stream (bench/bandwidth-ingest.bench.js):
 *  - the client re-prepares every statement (shared/FACTS.md §2), so rows go in 50,000 per
 *    statement, as one blob of fixed-width decimal fields (FixedWidthRows), grouped by device;
 *  - per-device state (previous sample, current rate, peaks, the open 5m/1h/1d buckets, totals)
 *    lives in JS for the batch, so each raw row is written once with its interval already known
 *    and rollups get one upsert per bucket, not per sample;
 *  - samples older than the device's latest one ("late", out of order) are rare; they are merged
 *    afterwards with set-based SQL that also re-derives the interval of the sample after each
 *    (whose previous sample changed) — so out-of-order input is placed exactly.
 *
 * Rate rule: a sample's interval is ts − the device's previous sample (by ts); for the first
 * sample of a device it is ts − the accounting start (`bandwidth register`/`reset` time) when
 * that is earlier, else there is no interval (no rate, bytes still counted).
 * Two samples with the same (device, ts) are summed into one (bytes are never dropped).
 */
import {invalidInput} from '../errors.js'
import {registerDevice} from '../devices/repo.js'
import type {Tx} from '../store/index.js'
import {stepCounter, type CounterBits, type CounterEvent, type CounterReading, type Outcome} from './counters.js'
import {joinBig, type SampleBatch} from './input.js'
import {SPOOL_CHUNK_RECORDS} from './spool.js'
import {intBps, rateBps} from './rates.js'

export const RESOLUTIONS = [
  {name: '5m', table: 'bw_rollup_5m', ms: 300_000},
  {name: '1h', table: 'bw_rollup_1h', ms: 3_600_000},
  {name: '1d', table: 'bw_rollup_1d', ms: 86_400_000},
] as const
export type Resolution = (typeof RESOLUTIONS)[number]['name']

const ROWS_PER_STATEMENT = 20_000
const RAW_ROWS_PER_STATEMENT = 50_000
const DETAIL_LIMIT = 100

export interface IngestOptions {
  autoRegister: boolean
  counter?: {maxRateBps: number; bits: CounterBits}
  now?: number
  /** Local file store: per-connection cache tuning applies. */
  local?: boolean
}

export interface SampleDetail {
  mac: string
  ts: string
  ts_ms: number
  bytes_sent: number
  bytes_received: number
  /** null when the sample has no previous one (no rate yet) or was placed out of order. */
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

interface Acc {
  bucket: number
  sent: number
  received: number
  n: number
  peak: number | null
}

interface DevState {
  id: number
  /** Dense index of the device within this batch. */
  slot: number
  mac: string
  sinceTs: number | null
  resetTs: number | null
  firstTs: number | null
  lastTs: number | null
  bytesSent: number
  bytesReceived: number
  sampleCount: number
  curTs: number | null
  curSent: number
  curReceived: number
  curInterval: number | null
  peakBps: number | null
  peakTs: number | null
  peakUpBps: number | null
  peakUpTs: number | null
  peakDownBps: number | null
  peakDownTs: number | null
  acc: (Acc | null)[]
  counter: CounterReading | null
  counterSource: string | null
  counterTouched: boolean
  touched: boolean
}

interface TotalsRow {
  device_id: number
  since_ts: number | null
  reset_ts: number | null
  first_ts: number | null
  last_ts: number | null
  bytes_sent: number
  bytes_received: number
  sample_count: number
  cur_ts: number | null
  cur_sent: number | null
  cur_received: number | null
  cur_interval_ms: number | null
  peak_bps: number | null
  peak_ts: number | null
  peak_up_bps: number | null
  peak_up_ts: number | null
  peak_down_bps: number | null
  peak_down_ts: number | null
}

const n = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))

function stateFrom(id: number, slot: number, mac: string, t: TotalsRow | undefined): DevState {
  return {
    id,
    slot,
    mac,
    sinceTs: n(t?.since_ts),
    resetTs: n(t?.reset_ts),
    firstTs: n(t?.first_ts),
    lastTs: n(t?.last_ts),
    bytesSent: Number(t?.bytes_sent ?? 0),
    bytesReceived: Number(t?.bytes_received ?? 0),
    sampleCount: Number(t?.sample_count ?? 0),
    curTs: n(t?.cur_ts),
    curSent: Number(t?.cur_sent ?? 0),
    curReceived: Number(t?.cur_received ?? 0),
    curInterval: n(t?.cur_interval_ms),
    peakBps: n(t?.peak_bps),
    peakTs: n(t?.peak_ts),
    peakUpBps: n(t?.peak_up_bps),
    peakUpTs: n(t?.peak_up_ts),
    peakDownBps: n(t?.peak_down_bps),
    peakDownTs: n(t?.peak_down_ts),
    acc: [null, null, null],
    counter: null,
    counterSource: null,
    counterTouched: false,
    touched: false,
  }
}

function updatePeaks(st: DevState, ts: number, sent: number, received: number, interval: number | null): void {
  if (interval === null || interval <= 0) return
  const up = Math.round((sent * 8000) / interval)
  const down = Math.round((received * 8000) / interval)
  const total = Math.round(((sent + received) * 8000) / interval)
  if (st.peakBps === null || total > st.peakBps) {
    st.peakBps = total
    st.peakTs = ts
  }
  if (st.peakUpBps === null || up > st.peakUpBps) {
    st.peakUpBps = up
    st.peakUpTs = ts
  }
  if (st.peakDownBps === null || down > st.peakDownBps) {
    st.peakDownBps = down
    st.peakDownTs = ts
  }
}

/**
 * Bulk rows for one INSERT … SELECT. Measured on this client (shared/FACTS.md §2 and
 * bench/bandwidth-ingest): extracting values with `json_each(?)` + `->>` costs more than the
 * B-tree insert itself, so rows travel as one blob of fixed-width decimal fields (width = the
 * widest value of each column in this flush), cut apart with substr() over a row counter:
 * ~1.8× faster than JSON, and still plain SQL for remote stores.
 */
export class FixedWidthRows {
  private n = 0
  private readonly slot: Int32Array
  private readonly cols: Float64Array
  private readonly start: Int32Array
  private readonly order: Int32Array

  /**
   * @param head `INSERT INTO t(a, b, …)`; @param tail e.g. `ON CONFLICT … DO UPDATE …`.
   * `nullable[c]`: column c is NULL when its value is negative.
   */
  constructor(
    private readonly tx: Tx,
    private readonly head: string,
    private readonly tail: string,
    private readonly nullable: boolean[],
    private readonly slotCount: number,
    private readonly capacity: number,
  ) {
    this.slot = new Int32Array(capacity)
    this.cols = new Float64Array(capacity * nullable.length)
    this.start = new Int32Array(slotCount + 1)
    this.order = new Int32Array(capacity)
  }

  get length(): number {
    return this.n
  }

  get values(): Float64Array {
    return this.cols
  }

  /** Reserves a row for device `slot`; returns the offset of its first column in `values`. */
  add(slot: number): number {
    if (this.n === this.capacity) throw new Error('row buffer overflow')
    const i = this.n++
    this.slot[i] = slot
    return i * this.nullable.length
  }

  async flush(): Promise<void> {
    const n = this.n
    if (n === 0) return
    const width = this.nullable.length
    const cols = this.cols
    // Group rows by device (stable counting sort): the target tables are clustered by
    // (device_id, …) and a stream interleaves devices; within a device, arrival order is kept.
    const start = this.start
    start.fill(0)
    for (let i = 0; i < n; i++) start[this.slot[i]! + 1]!++
    for (let d = 0; d < this.slotCount; d++) start[d + 1]! += start[d]!
    for (let i = 0; i < n; i++) this.order[start[this.slot[i]!]!++] = i
    // Column widths: the longest decimal in this flush.
    const w: number[] = new Array(width).fill(1)
    for (let i = 0; i < n; i++) {
      const o = i * width
      for (let c = 0; c < width; c++) {
        const v = cols[o + c]!
        const len = v < 0 ? 2 : v < 10 ? 1 : Math.floor(Math.log10(v)) + 1
        if (len > w[c]!) w[c] = len
      }
    }
    // log10 can be off by one at exact powers of ten; one spare column is cheaper than a check.
    for (let c = 0; c < width; c++) w[c]! += 1
    const rowWidth = w.reduce((a, x) => a + x, 0)
    // A fresh buffer each flush, on purpose: see releaseNativeMemory().
    const buf = Buffer.allocUnsafe(rowWidth * n)
    let pos = 0
    for (let j = 0; j < n; j++) {
      const o = this.order[j]! * width
      for (let c = 0; c < width; c++) {
        let v = cols[o + c]!
        const end = pos + w[c]!
        let p = end
        if (v < 0) {
          buf[--p] = 49 // "1"
          buf[--p] = 45 // "-"
        } else if (v === 0) {
          buf[--p] = 48
        } else {
          while (v > 0) {
            const q = Math.floor(v / 10)
            buf[--p] = 48 + (v - q * 10)
            v = q
          }
        }
        while (p > pos) buf[--p] = 32 // left-pad with spaces (CAST ignores them)
        pos = end
      }
    }
    let off = 1
    const fields = w.map((wc, c) => {
      const f = `CAST(substr(?1, n * ${rowWidth} + ${off}, ${wc}) AS INTEGER)`
      off += wc
      return this.nullable[c] ? `NULLIF(${f}, -1)` : f
    })
    this.n = 0
    await this.tx.execute(
      `WITH RECURSIVE r(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM r WHERE n + 1 < ?2)
       ${this.head} SELECT ${fields.join(', ')} FROM r WHERE true ${this.tail}`,
      [buf.subarray(0, pos), n],
    )
    await releaseNativeMemory()
  }
}

/**
 * Keeps RSS flat during a long write (issue 4: "RSS must stay flat"). Measured with libsql 0.5.29
 * (the driver under @libsql/client): every execute prepares a new native statement, which keeps a
 * copy of its bound arguments until a napi finalizer frees it — and those finalizers only run after
 * a V8 garbage collection *and* a turn of the event loop. A transaction that runs statement after
 * statement never yields, so a 1M-row import grew RSS by the size of everything it sent (~100 MB
 * per million rows). Two things fix it: each flush's blob is a fresh Buffer (V8 counts it as
 * external memory, which triggers collections), and we yield here so the finalizers run.
 */
function releaseNativeMemory(): Promise<void> {
  return new Promise(resolve => setImmediate(resolve))
}

const RAW_HEAD = 'INSERT INTO bw_samples(device_id, ts, sent, received, interval_ms)'
const RAW_TAIL = 'ON CONFLICT(device_id, ts) DO UPDATE SET sent = sent + excluded.sent, received = received + excluded.received'
const ROLLUP_TAIL = `ON CONFLICT(device_id, bucket) DO UPDATE SET sent = sent + excluded.sent, received = received + excluded.received,
    samples = samples + excluded.samples,
    peak_bps = CASE WHEN excluded.peak_bps > coalesce(peak_bps, -1) THEN excluded.peak_bps ELSE peak_bps END`
const rollupHead = (table: string) => `INSERT INTO ${table}(device_id, bucket, sent, received, samples, peak_bps)`

/** JSON-array form of the rollup upsert (the late-sample path, a few rows). */
export const rollupUpsert = (table: string) => `${rollupHead(table)}
  SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5 FROM json_each(?) WHERE true
  ${ROLLUP_TAIL}`

const accRow = (id: number, a: Acc): string => `[${id},${a.bucket},${a.sent},${a.received},${a.n},${a.peak === null ? 'null' : a.peak}]`

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
 * Resolves the batch's MACs to device ids inside the transaction: unknown MACs are registered
 * with --auto-register, else rejected (exit 2, naming where the MAC first appeared). ip/hostname
 * given with the samples refresh the device (like re-registering).
 */
async function resolveDevices(tx: Tx, batch: SampleBatch, opts: IngestOptions, now: number): Promise<{ids: number[]; registered: string[]}> {
  const found = await tx.query<{id: number; mac: string}>(`SELECT d.id, d.mac FROM json_each(?) j JOIN devices d ON d.mac = j.value`, [
    JSON.stringify(batch.macs),
  ])
  const byMac = new Map(found.map(r => [String(r.mac), Number(r.id)]))
  const ids: number[] = new Array(batch.macs.length)
  const registered: string[] = []
  for (let k = 0; k < batch.macs.length; k++) {
    const mac = batch.macs[k]!
    const hint = batch.hints[k]
    let id = byMac.get(mac)
    if (id === undefined) {
      if (!opts.autoRegister) {
        const where = batch.firstLine[k] ? ` (first on line ${batch.firstLine[k]})` : ''
        throw invalidInput(`unknown device ${mac}${where}`, 'register it first with `netmon bandwidth register --ip IP --mac MAC`, or pass --auto-register')
      }
      const hostname = hint?.hostname ?? hint?.label ?? null
      if (hint?.ip) {
        id = (await registerDevice(tx, {mac, ip: hint.ip, hostname, now})).device.id
      } else {
        const r = await tx.execute('INSERT INTO devices(mac, hostname, first_seen, last_seen) VALUES (?, ?, ?, ?)', [mac, hostname, now, now])
        id = Number(r.lastInsertRowid)
      }
      registered.push(mac)
    } else if (hint?.ip) {
      await registerDevice(tx, {mac, ip: hint.ip, hostname: hint.hostname ?? null, now})
    } else if (hint?.hostname) {
      await tx.execute('UPDATE devices SET hostname = ? WHERE id = ?', [hint.hostname, id])
    }
    ids[k] = id
  }
  return {ids, registered}
}

const TOTALS_COLUMNS = [
  'device_id',
  'since_ts',
  'reset_ts',
  'first_ts',
  'last_ts',
  'bytes_sent',
  'bytes_received',
  'sample_count',
  'cur_ts',
  'cur_sent',
  'cur_received',
  'cur_interval_ms',
  'peak_bps',
  'peak_ts',
  'peak_up_bps',
  'peak_up_ts',
  'peak_down_bps',
  'peak_down_ts',
] as const

function totalsRow(s: DevState): (number | null)[] {
  return [
    s.id,
    s.sinceTs,
    s.resetTs,
    s.firstTs,
    s.lastTs,
    s.bytesSent,
    s.bytesReceived,
    s.sampleCount,
    s.curTs,
    s.curTs === null ? null : s.curSent,
    s.curTs === null ? null : s.curReceived,
    s.curInterval,
    s.peakBps,
    s.peakTs,
    s.peakUpBps,
    s.peakUpTs,
    s.peakDownBps,
    s.peakDownTs,
  ]
}

/** Writes final totals for the touched devices (one statement; the values were computed in this tx). */
async function writeTotals(tx: Tx, states: DevState[]): Promise<void> {
  const rows = states.filter(s => s.touched).map(totalsRow)
  if (rows.length === 0) return
  const cols = TOTALS_COLUMNS.join(', ')
  const sel = TOTALS_COLUMNS.map((_, i) => `value->>${i}`).join(', ')
  const set = TOTALS_COLUMNS.slice(1)
    .map(c => `${c} = excluded.${c}`)
    .join(', ')
  await tx.execute(`INSERT INTO bw_totals(${cols}) SELECT ${sel} FROM json_each(?) WHERE true ON CONFLICT(device_id) DO UPDATE SET ${set}`, [
    JSON.stringify(rows),
  ])
}

/**
 * Applies a batch inside `tx`. May run more than once (store retries on BUSY): it derives
 * everything from `tx` and the (re-readable) spool.
 */
export async function applyBatch(tx: Tx, batch: SampleBatch, opts: IngestOptions): Promise<IngestResult> {
  const now = opts.now ?? Date.now()
  const {ids, registered} = await resolveDevices(tx, batch, opts, now)

  // Per-device state from the running totals (one row per device).
  const distinctIds = [...new Set(ids)]
  const totals = await tx.query<TotalsRow>(`SELECT t.* FROM json_each(?) j JOIN bw_totals t ON t.device_id = j.value`, [JSON.stringify(distinctIds)])
  const totalsById = new Map(totals.map(t => [Number(t.device_id), t]))
  const stateById = new Map<number, DevState>()
  const states: DevState[] = new Array(batch.macs.length)
  for (let k = 0; k < batch.macs.length; k++) {
    const id = ids[k]!
    let st = stateById.get(id)
    if (!st) {
      st = stateFrom(id, stateById.size, batch.macs[k]!, totalsById.get(id))
      stateById.set(id, st)
    }
    states[k] = st
  }
  // Late samples look up the accounting start in bw_totals, so every device needs its row now.
  const missing = distinctIds.filter(id => !totalsById.has(id))
  if (missing.length) {
    await tx.execute(`INSERT OR IGNORE INTO bw_totals(device_id) SELECT value FROM json_each(?)`, [JSON.stringify(missing)])
  }

  const counterMode = batch.mode === 'counter'
  if (counterMode) {
    const rows = await tx.query<{device_id: number; ts: number; sent: string; received: string; source: string | null}>(
      `SELECT c.* FROM json_each(?) j JOIN bw_counters c ON c.device_id = j.value`,
      [JSON.stringify(distinctIds)],
    )
    for (const r of rows) {
      const st = stateById.get(Number(r.device_id))!
      st.counter = {ts: Number(r.ts), sent: BigInt(String(r.sent)), received: BigInt(String(r.received))}
      st.counterSource = r.source
    }
  }

  const big = batch.spool.count > 50_000
  if (big && opts.local) {
    // The raw table is clustered by device; a long stream interleaves 1000s of devices, so keep
    // their insertion pages in cache (bounded: 16 MiB) instead of re-reading them per row.
    await tx.execute('PRAGMA cache_size = -16384')
  }

  // Flushed after each spool chunk once past the threshold, so a chunk always fits (a record
  // adds at most one raw row and one row per rollup level).
  const cap = RAW_ROWS_PER_STATEMENT + SPOOL_CHUNK_RECORDS
  const raw = new FixedWidthRows(tx, RAW_HEAD, RAW_TAIL, [false, false, false, false, true], stateById.size, cap)
  const rollups = RESOLUTIONS.map(r => new FixedWidthRows(tx, rollupHead(r.table), ROLLUP_TAIL, [false, false, false, false, false, true], stateById.size, cap))
  const addRaw = (st: DevState, ts: number, sent: number, received: number, interval: number | null) => {
    const o = raw.add(st.slot)
    const v = raw.values
    v[o] = st.id
    v[o + 1] = ts
    v[o + 2] = sent
    v[o + 3] = received
    v[o + 4] = interval === null ? -1 : interval
  }
  const late: string[] = []
  const events: {ts: number; deviceId: number; mac: string; event: CounterEvent}[] = []
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
      if (a === null || a.bucket !== bucket) {
        if (a !== null) pushAcc(rollups[i]!, st, a)
        a = {bucket, sent: 0, received: 0, n: 0, peak: null}
        st.acc[i] = a
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
      const prev = st.curTs ?? (st.sinceTs !== null && st.sinceTs < ts ? st.sinceTs : null)
      interval = prev === null ? null : ts - prev
      addRaw(st, ts, sent, received, interval)
      st.curTs = ts
      st.curSent = sent
      st.curReceived = received
      st.curInterval = interval
      updatePeaks(st, ts, sent, received, interval)
      accAdd(st, ts, sent, received, intBps(rateBps(sent + received, interval)))
    } else if (ts === st.curTs) {
      // Same (device, ts) as the latest sample: summed into it (the upsert adds), same interval.
      interval = st.curInterval
      addRaw(st, ts, sent, received, interval)
      st.curSent += sent
      st.curReceived += received
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
    if (raw.length >= RAW_ROWS_PER_STATEMENT) await raw.flush()
    for (const r of rollups) if (r.length >= RAW_ROWS_PER_STATEMENT) await r.flush()
  }
  await raw.flush()
  // Close the open buckets.
  for (let i = 0; i < 3; i++) {
    const r = rollups[i]!
    await r.flush()
    for (const st of stateById.values()) {
      const a = st.acc[i]
      if (a) pushAcc(r, st, a)
      st.acc[i] = null
      if (r.length >= RAW_ROWS_PER_STATEMENT) await r.flush()
    }
    await r.flush()
  }

  if (late.length) await mergeLate(tx, late, stateById)

  await writeTotals(tx, [...stateById.values()])

  if (counterMode) {
    const rows = [...stateById.values()]
      .filter(s => s.counterTouched && s.counter)
      .map(s => [s.id, s.counter!.ts, s.counter!.sent.toString(), s.counter!.received.toString(), s.counterSource])
    if (rows.length) {
      await tx.execute(
        `INSERT INTO bw_counters(device_id, ts, sent, received, source)
         SELECT value->>0, value->>1, value->>2, value->>3, value->>4 FROM json_each(?) WHERE true
         ON CONFLICT(device_id) DO UPDATE SET ts = excluded.ts, sent = excluded.sent, received = excluded.received, source = excluded.source`,
        [JSON.stringify(rows)],
      )
    }
  }
  if (events.length) {
    await tx.execute(`INSERT INTO events(ts, device_id, type, detail) SELECT value->>0, value->>1, value->>2, value->>3 FROM json_each(?)`, [
      JSON.stringify(events.map(e => [e.ts, e.deviceId, e.event.type, JSON.stringify(e.event.detail)])),
    ])
  }
  // Traffic is evidence the device is there: keep the shared last_seen moving.
  const seen = [...stateById.values()].filter(s => s.touched && s.lastTs !== null).map(s => [s.id, Math.min(s.lastTs!, now)])
  if (seen.length) {
    await tx.execute(`UPDATE devices SET last_seen = max(last_seen, j.value->>1) FROM json_each(?) j WHERE devices.id = j.value->>0`, [JSON.stringify(seen)])
  }
  if (big && opts.local) await tx.execute('PRAGMA cache_size = -2000')

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
    registered,
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
 * Out-of-order samples: merged with set-based SQL, then the interval of each merged sample and of
 * the sample right after it (whose previous sample changed) is re-derived from the raw table.
 * Rates only go up in that step (a shorter interval, or more bytes at the same time), so peaks
 * and rollup peaks are maintained with max().
 */
async function mergeLate(tx: Tx, late: string[], stateById: Map<number, DevState>): Promise<void> {
  await tx.execute(`CREATE TEMP TABLE IF NOT EXISTS bw_late (
    device_id INTEGER NOT NULL, ts INTEGER NOT NULL, sent INTEGER NOT NULL, received INTEGER NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (device_id, ts)) WITHOUT ROWID`)
  await tx.execute(`CREATE TEMP TABLE IF NOT EXISTS bw_affected (device_id INTEGER NOT NULL, ts INTEGER NOT NULL, PRIMARY KEY (device_id, ts)) WITHOUT ROWID`)
  await tx.execute('DELETE FROM temp.bw_late')
  await tx.execute('DELETE FROM temp.bw_affected')
  for (let i = 0; i < late.length; i += ROWS_PER_STATEMENT) {
    await tx.execute(
      `INSERT INTO temp.bw_late(device_id, ts, sent, received, n) SELECT value->>0, value->>1, value->>2, value->>3, 1 FROM json_each(?) WHERE true
       ON CONFLICT(device_id, ts) DO UPDATE SET sent = sent + excluded.sent, received = received + excluded.received, n = n + 1`,
      ['[' + late.slice(i, i + ROWS_PER_STATEMENT).join(',') + ']'],
    )
  }
  await tx.execute(`INSERT INTO bw_samples(device_id, ts, sent, received, interval_ms)
    SELECT device_id, ts, sent, received, NULL FROM temp.bw_late WHERE true
    ON CONFLICT(device_id, ts) DO UPDATE SET sent = sent + excluded.sent, received = received + excluded.received`)
  await tx.execute(`INSERT OR IGNORE INTO temp.bw_affected SELECT device_id, ts FROM temp.bw_late`)
  await tx.execute(`INSERT OR IGNORE INTO temp.bw_affected
    SELECT device_id, nx FROM (
      SELECT l.device_id, (SELECT s.ts FROM bw_samples s WHERE s.device_id = l.device_id AND s.ts > l.ts ORDER BY s.ts LIMIT 1) AS nx
      FROM temp.bw_late l) WHERE nx IS NOT NULL`)
  await tx.execute(`UPDATE bw_samples SET interval_ms = bw_samples.ts - coalesce(
      (SELECT p.ts FROM bw_samples p WHERE p.device_id = bw_samples.device_id AND p.ts < bw_samples.ts ORDER BY p.ts DESC LIMIT 1),
      (SELECT CASE WHEN t.since_ts < bw_samples.ts THEN t.since_ts END FROM bw_totals t WHERE t.device_id = bw_samples.device_id))
    FROM temp.bw_affected a WHERE bw_samples.device_id = a.device_id AND bw_samples.ts = a.ts`)

  // Read back the affected samples (keyset pages, bounded memory) for peaks and rollups.
  const maps = RESOLUTIONS.map(() => new Map<string, Acc & {id: number}>())
  let lastDev = -1
  let lastTs = -1
  for (;;) {
    const rows = await tx.query<{
      device_id: number
      ts: number
      sent: number
      received: number
      interval_ms: number | null
      add_sent: number
      add_received: number
      n: number
    }>(
      `SELECT a.device_id, a.ts, s.sent, s.received, s.interval_ms,
              coalesce(l.sent, 0) AS add_sent, coalesce(l.received, 0) AS add_received, coalesce(l.n, 0) AS n
       FROM temp.bw_affected a
       JOIN bw_samples s ON s.device_id = a.device_id AND s.ts = a.ts
       LEFT JOIN temp.bw_late l ON l.device_id = a.device_id AND l.ts = a.ts
       WHERE (a.device_id, a.ts) > (?, ?)
       ORDER BY a.device_id, a.ts LIMIT 5000`,
      [lastDev, lastTs],
    )
    if (rows.length === 0) break
    for (const r of rows) {
      const id = Number(r.device_id)
      const ts = Number(r.ts)
      const st = stateById.get(id)!
      const iv = n(r.interval_ms)
      const sent = Number(r.sent)
      const received = Number(r.received)
      updatePeaks(st, ts, sent, received, iv)
      if (ts === st.curTs) st.curInterval = iv
      const peak = intBps(rateBps(sent + received, iv))
      for (let i = 0; i < 3; i++) {
        const size = RESOLUTIONS[i]!.ms
        const bucket = ts - (((ts % size) + size) % size)
        const key = `${id}:${bucket}`
        let a = maps[i]!.get(key)
        if (!a) {
          a = {id, bucket, sent: 0, received: 0, n: 0, peak: null}
          maps[i]!.set(key, a)
        }
        a.sent += Number(r.add_sent)
        a.received += Number(r.add_received)
        a.n += Number(r.n)
        if (peak !== null && (a.peak === null || peak > a.peak)) a.peak = peak
      }
      lastDev = id
      lastTs = ts
    }
    // Flush rollup deltas page by page so memory stays bounded for a fully reversed stream.
    for (let i = 0; i < 3; i++) {
      const rows2 = [...maps[i]!.values()].map(a => accRow(a.id, a))
      maps[i]!.clear()
      for (let j = 0; j < rows2.length; j += ROWS_PER_STATEMENT) {
        await tx.execute(rollupUpsert(RESOLUTIONS[i]!.table), ['[' + rows2.slice(j, j + ROWS_PER_STATEMENT).join(',') + ']'])
      }
    }
  }
  await tx.execute('DELETE FROM temp.bw_late')
  await tx.execute('DELETE FROM temp.bw_affected')
}

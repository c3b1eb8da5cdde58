/**
 * Delivery, nothing lost (issue 8): a reading is written to the store (readings + outbox) first and
 * only then published with QoS 1; its outbox row is deleted only after the PUBACK. The outbox table
 * is the source of truth; memory holds at most `memLimit` entries per meter as a fast path.
 *
 * - Writes are grouped: every `flushMs` one BEGIN IMMEDIATE transaction inserts the new readings and
 *   outbox rows (INSERT … SELECT FROM json_each, shared/FACTS.md) and deletes the acknowledged rows,
 *   so short CLI commands sharing the store see short write locks at a bounded rate.
 * - Order per meter: outbox ids are assigned in memory in poll order (this daemon is the only writer
 *   of the outbox, see the single-instance check in daemon.ts); each meter's entries are published in
 *   id order on one connection, and MQTT keeps the order of a connection's QoS 1 publishes.
 * - In-flight is capped (`maxInflight`, 16-bit packet ids). Meters take turns (round robin), so a
 *   meter with a long backlog does not hold up the live readings of the others.
 * - A failed publish (connection lost) resets that meter: its memory queue is dropped and re-read
 *   from the outbox from the start, so every unacknowledged reading is sent again, in order
 *   (at-least-once: a reading whose PUBACK was lost arrives twice).
 * - Bounded: above `maxRows` rows the OLDEST rows are dropped, and rows older than `maxAgeMs` too
 *   (drop-oldest keeps the freshest data, which is what a dashboard needs after a long outage);
 *   each drop is logged and counted per meter (`dropped` in bridge status).
 */
import type {Logger} from '../log.js'
import type {Store} from '../store/index.js'

export interface ReadingIn {
  meterId: string
  /** Reading time (poll start), epoch ms. */
  ts: number
  /** JSON object text of the values. */
  values: string
  pollMs: number
  /** A load-profile row (OBIS of its profile): stored in profile_rows (migration 19), `ts` = capture time. */
  profile?: string
}

export interface OutboxEntry {
  id: number
  meterId: string
  ts: number
  values: string
  /** Set for a load-profile row (its profile's OBIS). */
  profile?: string
}

export interface DeliveryOptions {
  maxInflight: number
  maxRows: number
  maxAgeMs: number
  /** Outbox rows read per page when draining a backlog. */
  pageSize?: number
  /** Entries kept in memory per meter before it falls back to paging from the store. */
  memLimit?: number
  flushMs?: number
  /** How often the size/age bound is enforced. */
  enforceMs?: number
  log?: Logger
  /** Publishes one entry; resolves on PUBACK. */
  send: (e: OutboxEntry) => Promise<void>
  /** Whether the meter's connection is up. */
  canSend: (meterId: string) => boolean
  onAcked?: (e: OutboxEntry) => void
  onDropped?: (meterId: string, n: number) => void
  onStoreError?: (e: unknown) => void
  now?: () => number
}

interface MeterQueue {
  meterId: string
  queue: OutboxEntry[]
  /** The store may hold rows for this meter that are not in `queue`. */
  overflow: boolean
  loading: boolean
  /** A reading arrived while loading: keep `overflow` after the load. */
  dirty: boolean
  /** Highest id placed in `queue` (load from id > cursor). */
  cursor: number
  inflight: number
  /** Bumped on reset; results of older epochs are ignored. */
  epoch: number
}

export interface DeliveryStats {
  stored: number
  published: number
  dropped: number
  inflight: number
  storeErrors: number
  flushes: number
}

export class Delivery {
  readonly stats: DeliveryStats = {stored: 0, published: 0, dropped: 0, inflight: 0, storeErrors: 0, flushes: 0}
  private readonly meters = new Map<string, MeterQueue>()
  private readonly ready = new Set<MeterQueue>()
  private readonly blocked = new Set<MeterQueue>()
  /** Outstanding publishes by outbox id (a re-sent id may briefly be in flight twice). */
  private readonly inflightIds = new Map<number, number>()
  private outstanding = 0
  /** Acknowledged, delete not committed yet: never re-send these. */
  private readonly acked = new Set<number>()
  private pendingReadings: {r: ReadingIn; id: number}[] = []
  private pendingDeletes: number[] = []
  private nextId = 1
  private approxDepth = 0
  private flushTimer: NodeJS.Timeout | undefined
  private enforceTimer: NodeJS.Timeout | undefined
  private flushing: Promise<void> | undefined
  private pumping = false
  private closed = false
  private readonly pageSize: number
  private readonly memLimit: number
  private readonly flushMs: number
  private readonly now: () => number
  private flushWaiters: (() => void)[] = []
  private enforceRuns = 0

  constructor(
    private readonly store: Store,
    private readonly opts: DeliveryOptions,
  ) {
    this.pageSize = opts.pageSize ?? 500
    this.memLimit = opts.memLimit ?? 1000
    this.flushMs = opts.flushMs ?? 50
    this.now = opts.now ?? Date.now
  }

  /** Reads where the outbox stands (after a restart: a backlog to resume). */
  async init(): Promise<{backlog: number; byMeter: Record<string, number>}> {
    const [maxRows, byMeter] = await this.store.readBatch([
      'SELECT coalesce(max(id), 0) AS m FROM outbox',
      'SELECT meter_id, count(*) AS n FROM outbox GROUP BY meter_id',
    ])
    this.nextId = Number(maxRows![0]!.m) + 1
    const counts: Record<string, number> = {}
    for (const r of byMeter!) {
      counts[String(r.meter_id)] = Number(r.n)
      this.approxDepth += Number(r.n)
      const q = this.meter(String(r.meter_id))
      q.overflow = true
      this.ready.add(q)
    }
    this.enforceTimer = setInterval(() => void this.enforceBounds().catch(e => this.opts.onStoreError?.(e)), this.opts.enforceMs ?? 10_000)
    this.enforceTimer.unref()
    await this.enforceBounds()
    return {backlog: this.approxDepth, byMeter: counts}
  }

  private meter(id: string): MeterQueue {
    let q = this.meters.get(id)
    if (!q) {
      q = {meterId: id, queue: [], overflow: false, loading: false, dirty: false, cursor: 0, inflight: 0, epoch: 0}
      this.meters.set(id, q)
    }
    return q
  }

  /** Queues a reading for the next store write; published after it is committed. */
  submit(r: ReadingIn): void {
    if (this.closed) return
    this.pendingReadings.push({r, id: this.nextId++})
    this.scheduleFlush()
  }

  get depth(): number {
    return this.approxDepth
  }

  get inflight(): number {
    return this.outstanding
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.closed) return
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined
      void this.flush()
    }, this.flushMs)
  }

  /** Writes pending readings and deletes in one transaction. Resolves when done (also when nothing to do). */
  flush(): Promise<void> {
    if (this.flushing) {
      return new Promise<void>(resolve => this.flushWaiters.push(resolve)).then(() =>
        this.pendingReadings.length || this.pendingDeletes.length ? this.flush() : undefined,
      )
    }
    const readings = this.pendingReadings
    const deletes = this.pendingDeletes
    if (readings.length === 0 && deletes.length === 0) return Promise.resolve()
    this.pendingReadings = []
    this.pendingDeletes = []
    const created = this.now()
    const stmts = []
    if (readings.length) {
      const polled = readings.filter(x => x.r.profile === undefined)
      const profiled = readings.filter(x => x.r.profile !== undefined)
      if (polled.length) {
        stmts.push({
          sql: `INSERT OR IGNORE INTO readings(meter_id, ts, "values", poll_ms)
              SELECT value->>0, value->>1, value->>2, value->>3 FROM json_each(?)`,
          args: [JSON.stringify(polled.map(({r}) => [r.meterId, r.ts, r.values, r.pollMs]))],
        })
      }
      if (profiled.length) {
        // The dedup key (meter, profile, capture time) is the primary key (migration 19).
        stmts.push({
          sql: `INSERT OR IGNORE INTO profile_rows(meter_id, profile, capture_ts, "values", read_at)
              SELECT value->>0, value->>1, value->>2, value->>3, ? FROM json_each(?)`,
          args: [created, JSON.stringify(profiled.map(({r}) => [r.meterId, r.profile, r.ts, r.values]))],
        })
      }
      stmts.push({
        sql: `INSERT INTO outbox(id, meter_id, ts, "values", created_at, profile)
              SELECT value->>3, value->>0, value->>1, value->>2, ?, value->>4 FROM json_each(?)`,
        args: [created, JSON.stringify(readings.map(({r, id}) => [r.meterId, r.ts, r.values, id, r.profile ?? null]))],
      })
    }
    if (deletes.length) stmts.push({sql: 'DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?))', args: [JSON.stringify(deletes)]})
    this.flushing = this.store
      .batch(stmts)
      .then(
        () => {
          this.stats.flushes++
          this.stats.stored += readings.length
          this.approxDepth += readings.length - deletes.length
          for (const id of deletes) this.acked.delete(id)
          for (const {r, id} of readings) this.enqueueLive({id, meterId: r.meterId, ts: r.ts, values: r.values, ...(r.profile ? {profile: r.profile} : {})})
          this.pump()
        },
        (e: unknown) => {
          // Keep everything for the next attempt: nothing is lost while the store is briefly unavailable.
          this.stats.storeErrors++
          this.pendingReadings = readings.concat(this.pendingReadings)
          this.pendingDeletes = deletes.concat(this.pendingDeletes)
          this.opts.onStoreError?.(e)
          if (!this.closed) setTimeout(() => this.scheduleFlush(), 500).unref()
        },
      )
      .finally(() => {
        this.flushing = undefined
        const w = this.flushWaiters
        this.flushWaiters = []
        for (const f of w) f()
        if (this.pendingReadings.length || this.pendingDeletes.length) this.scheduleFlush()
      })
    return this.flushing
  }

  private enqueueLive(e: OutboxEntry): void {
    const q = this.meter(e.meterId)
    if (q.overflow || q.loading) q.dirty = true
    else if (q.queue.length >= this.memLimit) q.overflow = true
    else {
      q.queue.push(e)
      q.cursor = e.id
    }
    this.ready.add(q)
  }

  /** Called when a connection comes up: its meters may publish again. */
  resume(meterIds?: Iterable<string>): void {
    const ids = meterIds ? new Set(meterIds) : undefined
    for (const q of [...this.blocked]) {
      if (!ids || ids.has(q.meterId)) {
        this.blocked.delete(q)
        this.ready.add(q)
      }
    }
    this.pump()
  }

  /** Publishes as much as the in-flight cap allows, one entry per meter per turn. */
  pump(): void {
    if (this.pumping || this.closed) return
    this.pumping = true
    try {
      while (this.outstanding < this.opts.maxInflight) {
        const it = this.ready.values().next()
        if (it.done) break
        const q = it.value
        this.ready.delete(q)
        if (!this.opts.canSend(q.meterId)) {
          this.blocked.add(q)
          continue
        }
        const e = q.queue.shift()
        if (e) {
          this.send(q, e)
          if (q.queue.length > 0 || q.overflow) this.ready.add(q)
        } else if (q.overflow && !q.loading) {
          void this.load(q)
        }
      }
    } finally {
      this.pumping = false
    }
  }

  private settle(id: number): void {
    this.outstanding--
    const n = (this.inflightIds.get(id) ?? 1) - 1
    if (n <= 0) this.inflightIds.delete(id)
    else this.inflightIds.set(id, n)
  }

  private send(q: MeterQueue, e: OutboxEntry): void {
    if (this.acked.has(e.id)) return
    const epoch = q.epoch
    this.inflightIds.set(e.id, (this.inflightIds.get(e.id) ?? 0) + 1)
    this.outstanding++
    q.inflight++
    this.stats.inflight = this.outstanding
    this.opts.send(e).then(
      () => {
        this.settle(e.id)
        if (epoch === q.epoch) q.inflight--
        if (this.acked.has(e.id)) return // a duplicate of an already acknowledged entry
        this.acked.add(e.id)
        this.pendingDeletes.push(e.id)
        this.stats.published++
        this.opts.onAcked?.(e)
        this.scheduleFlush()
        this.pump()
      },
      () => {
        this.settle(e.id)
        // The first failure of an epoch re-reads the meter's unacknowledged rows; later failures of the
        // same epoch are covered by that re-read (it does not skip ids still in flight).
        if (epoch === q.epoch) this.reset(q)
        this.pump()
      },
    )
  }

  /** Forget what is in memory for this meter and re-read its unacknowledged rows from the store. */
  private reset(q: MeterQueue): void {
    q.epoch++
    q.queue = []
    q.inflight = 0
    q.cursor = 0
    q.overflow = true
    q.loading = false
    q.dirty = false
    this.ready.add(q)
  }

  private async load(q: MeterQueue): Promise<void> {
    q.loading = true
    q.dirty = false
    const epoch = q.epoch
    try {
      const rows = await this.store.query<{id: number; ts: number; values: string; profile: string | null}>(
        'SELECT id, ts, "values", profile FROM outbox WHERE meter_id = ? AND id > ? ORDER BY id LIMIT ?',
        [q.meterId, q.cursor, this.pageSize],
      )
      if (epoch !== q.epoch) return
      q.loading = false
      for (const r of rows) {
        const id = Number(r.id)
        q.cursor = id
        if (this.acked.has(id)) continue
        q.queue.push({id, meterId: q.meterId, ts: Number(r.ts), values: String(r.values), ...(r.profile ? {profile: String(r.profile)} : {})})
      }
      if (rows.length < this.pageSize && !q.dirty) q.overflow = false
      q.dirty = false
      if (q.queue.length > 0 || q.overflow) this.ready.add(q)
    } catch (e) {
      if (epoch === q.epoch) {
        q.loading = false
        this.opts.onStoreError?.(e)
        setTimeout(() => {
          this.ready.add(q)
          this.pump()
        }, 500).unref()
      }
      return
    }
    this.pump()
  }

  /** Applies the size and age bound: drops the oldest rows (never in-flight ones), counted per meter. */
  async enforceBounds(): Promise<number> {
    if (this.closed) return 0
    const {maxRows, maxAgeMs} = this.opts
    const cutoff = this.now() - maxAgeMs
    // Cheap check first (ids follow creation order, so the oldest row is the first by id): no write
    // transaction while within bounds. The exact count is re-read every 10th time to correct drift.
    if (++this.enforceRuns % 10 !== 1 && this.approxDepth <= maxRows) {
      const oldest = await this.store.get<{c: number}>('SELECT created_at AS c FROM outbox ORDER BY id LIMIT 1')
      if (!oldest || Number(oldest.c) >= cutoff) return 0
    }
    const dropped = await this.store.writeTx(async tx => {
      const n = Number((await tx.get<{n: number}>('SELECT count(*) AS n FROM outbox'))?.n ?? 0)
      const excess = Math.max(0, n - maxRows)
      const old = await tx.get<{n: number}>('SELECT count(*) AS n FROM outbox WHERE created_at < ?', [cutoff])
      if (excess === 0 && Number(old?.n ?? 0) === 0) return {n, rows: [] as {id: number; meter_id: string}[]}
      const rows = await tx.query<{id: number; meter_id: string}>(
        `DELETE FROM outbox WHERE id IN (
           SELECT id FROM outbox WHERE (created_at < ? OR id IN (SELECT id FROM outbox ORDER BY id LIMIT ?))
             AND id NOT IN (SELECT value FROM json_each(?)))
         RETURNING id, meter_id`,
        [cutoff, excess, JSON.stringify([...this.inflightIds.keys()])],
      )
      return {n: n - rows.length, rows}
    })
    this.approxDepth = dropped.n
    if (dropped.rows.length === 0) return 0
    const ids = new Set(dropped.rows.map(r => Number(r.id)))
    const perMeter = new Map<string, number>()
    for (const r of dropped.rows) perMeter.set(String(r.meter_id), (perMeter.get(String(r.meter_id)) ?? 0) + 1)
    for (const [meterId, n] of perMeter) {
      const q = this.meters.get(meterId)
      if (q) q.queue = q.queue.filter(e => !ids.has(e.id))
      this.opts.onDropped?.(meterId, n)
    }
    this.stats.dropped += ids.size
    this.opts.log?.warn(`outbox over its bound: dropped the ${ids.size} oldest unpublished reading(s)`, {max_rows: maxRows, max_age_ms: maxAgeMs})
    return ids.size
  }

  /** Stops accepting readings, writes what is pending, waits (bounded) for in-flight PUBACKs. */
  async drain(timeoutMs: number): Promise<{inflightLeft: number}> {
    const deadline = this.now() + timeoutMs
    await this.flush()
    while (this.outstanding > 0 && this.now() < deadline) await new Promise(r => setTimeout(r, 10))
    await this.flush()
    return {inflightLeft: this.outstanding}
  }

  async close(): Promise<void> {
    if (this.enforceTimer) clearInterval(this.enforceTimer)
    // Deletes of PUBACKs that arrived during the drain: written, so the next start does not re-send them.
    await this.flush()
    this.closed = true
    if (this.flushTimer) clearTimeout(this.flushTimer)
    this.flushTimer = undefined
    if (this.flushing) await this.flushing
  }
}

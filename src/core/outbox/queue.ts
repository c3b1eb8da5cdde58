/**
 * A store-backed outbox keyed by channel (issue 16): rows are written in the same transaction as
 * whatever produced them, delivered per channel in id order, and deleted only after the channel
 * accepted them, so a notification survives restarts and is never lost while a channel is down.
 *
 * The design is the bridge outbox's (src/core/bridge/outbox.ts: the table is the source of truth,
 * order per key, a row goes only after its acknowledgement), without its MQTT specifics (in-memory
 * queues, QoS 1 in-flight windows, drop-oldest bounds). The bridge keeps its own: it is the hot
 * path of a daemon publishing every poll and was not moved onto this (see docs/ALERTS.md).
 *
 * - Channels are drained concurrently; a failing or slow channel stops only itself (its head row
 *   gets `next_at` = now + backoff), never the others.
 * - After `maxAttempts` failures a row becomes `dead` (dead letter): kept for inspection, and the
 *   channel moves on to its next row.
 * - At-least-once: a delivery whose acknowledgement is lost (crash between send and delete) is
 *   sent again; receivers de-duplicate by the delivery id.
 */
import {backoffDelay} from '../bridge/backoff.js'
import type {Store, Tx} from '../store/index.js'

export interface QueuedRow {
  id: number
  channel: string
  payload: string
  attempts: number
  created_at: number
}

export interface Sender {
  send(row: QueuedRow): Promise<void>
  maxAttempts: number
  backoff: {minMs: number; maxMs: number}
  /** Called once after a drain of its channel (e.g. to disconnect). */
  close?(): Promise<void>
}

export interface ChannelReport {
  channel: string
  delivered: number
  failed: number
  dead: number
  /** Rows still waiting (for a retry time or after a failure). */
  waiting: number
  last_error: string | null
}

const IDENT = /^[a-z_][a-z0-9_]*$/

export class ChannelOutbox {
  constructor(
    private readonly store: Store,
    private readonly table: string,
    private readonly opts: {now?: () => number; random?: () => number} = {},
  ) {
    if (!IDENT.test(table)) throw new Error(`bad outbox table name ${table}`)
  }

  private now(): number {
    return (this.opts.now ?? Date.now)()
  }

  /** Queues a row inside the caller's transaction. */
  async enqueue(tx: Tx, channel: string, payload: string, now: number): Promise<number> {
    const r = await tx.execute(`INSERT INTO ${this.table}(channel, payload, created_at, next_at) VALUES (?, ?, ?, ?)`, [channel, payload, now, now])
    return Number(r.lastInsertRowid)
  }

  async depth(): Promise<{channel: string; pending: number; dead: number}[]> {
    return this.store.query(
      `SELECT channel, sum(state = 'pending') AS pending, sum(state = 'dead') AS dead FROM ${this.table} GROUP BY channel ORDER BY channel`,
    )
  }

  /**
   * Delivers what is due on every channel that has a sender, each channel in id order until it is
   * empty, a row is not due yet, or a send fails. `maxPerChannel` bounds one drain.
   */
  async drain(senders: Map<string, Sender>, maxPerChannel = 1000): Promise<ChannelReport[]> {
    const channels = await this.channelsWithPending()
    return Promise.all(channels.filter(c => senders.has(c)).map(c => this.drainOne(c, senders.get(c)!, maxPerChannel)))
  }

  /** Channels that have rows waiting (due or not). */
  async channelsWithPending(): Promise<string[]> {
    const rows = await this.store.query<{channel: string}>(`SELECT DISTINCT channel FROM ${this.table} WHERE state = 'pending' ORDER BY channel`)
    return rows.map(r => r.channel)
  }

  /**
   * Drains one channel (as drain does for each). The caller keeps at most one drain per channel in
   * flight: two at once could send the same head row twice.
   */
  drainChannel(channel: string, sender: Sender, maxPerChannel = 1000): Promise<ChannelReport> {
    return this.drainOne(channel, sender, maxPerChannel)
  }

  private async drainOne(channel: string, sender: Sender, max: number): Promise<ChannelReport> {
    try {
      return await this.drainRows(channel, sender, max)
    } finally {
      await sender.close?.().catch(() => undefined)
    }
  }

  private async drainRows(channel: string, sender: Sender, max: number): Promise<ChannelReport> {
    const rep: ChannelReport = {channel, delivered: 0, failed: 0, dead: 0, waiting: 0, last_error: null}
    for (let n = 0; n < max; n++) {
      const row = await this.store.get<QueuedRow & {next_at: number}>(
        `SELECT id, channel, payload, attempts, created_at, next_at FROM ${this.table} WHERE channel = ? AND state = 'pending' ORDER BY id LIMIT 1`,
        [channel],
      )
      if (!row) break
      if (Number(row.next_at) > this.now()) break
      try {
        await sender.send(row)
        await this.store.batch([{sql: `DELETE FROM ${this.table} WHERE id = ?`, args: [row.id]}])
        rep.delivered++
      } catch (e) {
        const attempts = Number(row.attempts) + 1
        const msg = String((e as Error)?.message ?? e).slice(0, 500)
        rep.failed++
        rep.last_error = msg
        if (attempts >= sender.maxAttempts) {
          await this.store.batch([{sql: `UPDATE ${this.table} SET attempts = ?, state = 'dead', last_error = ? WHERE id = ?`, args: [attempts, msg, row.id]}])
          rep.dead++
          continue
        }
        const next = this.now() + backoffDelay(attempts, sender.backoff, this.opts.random)
        await this.store.batch([{sql: `UPDATE ${this.table} SET attempts = ?, next_at = ?, last_error = ? WHERE id = ?`, args: [attempts, next, msg, row.id]}])
        break
      }
    }
    const w = await this.store.get<{n: number}>(`SELECT count(*) AS n FROM ${this.table} WHERE channel = ? AND state = 'pending'`, [channel])
    rep.waiting = Number(w?.n ?? 0)
    return rep
  }
}

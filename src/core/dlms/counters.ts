/**
 * Persistent HLS-GMAC invocation counters (migration 013, table dlms_invocation_counters; only this module
 * writes it). Reserve-ahead: `reserve()` moves the stored next counter past a block before the client
 * uses any counter of it, so a crash, a kill or a restart never reuses one; `release()` gives back the
 * unused tail only when no other process reserved after us.
 */
import type {Store} from '../store/index.js'
import {toHex} from './codec/bytes.js'
import {DlmsError} from './errors.js'

export const DEFAULT_COUNTER_BLOCK = 10_000
const MAX = 0x1_0000_0000 // 2^32: no counter left

export interface CounterReservation {
  meter: string
  clientSystemTitle: string
  /** First counter to use. */
  start: number
  /** First counter NOT reserved (use start .. limit-1). */
  limit: number
}

export class InvocationCounterStore {
  constructor(private readonly store: Store) {}

  /** The stored next counter (undefined before the first association). */
  async peek(meter: string, clientSystemTitle: Uint8Array): Promise<number | undefined> {
    const row = await this.store.get<{next_ic: number}>('SELECT next_ic FROM dlms_invocation_counters WHERE meter = ? AND client_system_title = ?', [
      meter,
      toHex(clientSystemTitle),
    ])
    return row === undefined ? undefined : Number(row.next_ic)
  }

  /** Reserves `block` counters, starting at the stored next one (or `initial` for a new meter). */
  async reserve(meter: string, clientSystemTitle: Uint8Array, block = DEFAULT_COUNTER_BLOCK, initial = 1): Promise<CounterReservation> {
    const st = toHex(clientSystemTitle)
    return this.store.writeTx(async tx => {
      const rows = await tx.query<{next_ic: number}>('SELECT next_ic FROM dlms_invocation_counters WHERE meter = ? AND client_system_title = ?', [meter, st])
      const start = rows[0] === undefined ? initial : Math.max(Number(rows[0].next_ic), initial)
      if (start >= MAX)
        throw new DlmsError('SECURITY', `the invocation counters of ${meter} for client system title ${st} are used up`, {
          securityReason: 'counter-exhausted',
          hint: 'the meter needs new keys (key change), then reset the counter',
        })
      const limit = Math.min(MAX, start + block)
      await tx.execute(
        `INSERT INTO dlms_invocation_counters(meter, client_system_title, next_ic, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(meter, client_system_title) DO UPDATE SET next_ic = excluded.next_ic, updated_at = excluded.updated_at`,
        [meter, st, limit, Date.now()],
      )
      return {meter, clientSystemTitle: st, start, limit}
    })
  }

  /** Gives back the counters from `next` on, if the stored value is still our reservation's limit. */
  async release(r: CounterReservation, next: number, meterSystemTitle?: Uint8Array): Promise<void> {
    if (next < r.start || next > r.limit) return
    await this.store.batch([
      {
        sql: `UPDATE dlms_invocation_counters SET next_ic = ?, meter_system_title = COALESCE(?, meter_system_title), updated_at = ?
              WHERE meter = ? AND client_system_title = ? AND next_ic = ?`,
        args: [next, meterSystemTitle ? toHex(meterSystemTitle) : null, Date.now(), r.meter, r.clientSystemTitle, r.limit],
      },
    ])
  }
}

/**
 * Out-of-order ("late") samples: merged after the in-order ones with set-based SQL, inside the
 * batch's transaction. The interval of each merged sample and of the sample right after it (whose
 * previous sample changed) is re-derived from the raw table. Rates only go up in that step (a
 * shorter interval, or more bytes at the same time), so peaks and rollup peaks are kept with max().
 */
import type {Tx} from '../store/index.js'
import {jsonChunks, type Sink} from './bulk.js'
import {intBps, rateBps} from './rates.js'
import {implausibleRate, num, RESOLUTIONS, updatePeaks, type Acc, type DevState, type RateEvent} from './state.js'

const ROWS_PER_STATEMENT = 20_000

const ROLLUP_TAIL = `ON CONFLICT(device_id, bucket) DO UPDATE SET sent = sent + excluded.sent, received = received + excluded.received,
    samples = samples + excluded.samples,
    peak_bps = CASE WHEN excluded.peak_bps > coalesce(peak_bps, -1) THEN excluded.peak_bps ELSE peak_bps END`
export const rollupHead = (table: string) => `INSERT INTO ${table}(device_id, bucket, sent, received, samples, peak_bps)`
export {ROLLUP_TAIL}

/** JSON-array form of the rollup upsert (the late-sample path, a few rows). */
export const rollupUpsert = (table: string) => `${rollupHead(table)}
  SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5 FROM json_each(?) WHERE true
  ${ROLLUP_TAIL}`

const accRow = (id: number, a: Acc): string => `[${id},${a.bucket},${a.sent},${a.received},${a.n},${a.peak === null ? 'null' : a.peak}]`

/** Statements of at most ROWS_PER_STATEMENT rows, and within the sink's byte bound. */
function chunks(items: string[], sql: string, sink: Sink): string[] {
  const out: string[] = []
  for (let i = 0; i < items.length; i += ROWS_PER_STATEMENT) out.push(...jsonChunks(items.slice(i, i + ROWS_PER_STATEMENT), sql, sink.maxBytes))
  return out
}

/**
 * `late` holds `[device_id, ts, sent, received]` JSON rows. A re-derived interval that makes a
 * rate impossible (faster than `maxRateBps`) is dropped (NULL) and reported through `flag`.
 */
export async function mergeLate(
  tx: Tx,
  sink: Sink,
  late: string[],
  stateById: Map<number, DevState>,
  maxRateBps: number,
  flag: (st: DevState, ts: number, event: RateEvent) => void,
): Promise<void> {
  await sink.flush()
  await tx.execute(`CREATE TEMP TABLE IF NOT EXISTS bw_late (
    device_id INTEGER NOT NULL, ts INTEGER NOT NULL, sent INTEGER NOT NULL, received INTEGER NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (device_id, ts)) WITHOUT ROWID`)
  await tx.execute(`CREATE TEMP TABLE IF NOT EXISTS bw_affected (device_id INTEGER NOT NULL, ts INTEGER NOT NULL, PRIMARY KEY (device_id, ts)) WITHOUT ROWID`)
  await tx.execute('DELETE FROM temp.bw_late')
  await tx.execute('DELETE FROM temp.bw_affected')
  const insertLate = `INSERT INTO temp.bw_late(device_id, ts, sent, received, n) SELECT value->>0, value->>1, value->>2, value->>3, 1 FROM json_each(?) WHERE true
       ON CONFLICT(device_id, ts) DO UPDATE SET sent = sent + excluded.sent, received = received + excluded.received, n = n + 1`
  for (const chunk of chunks(late, insertLate, sink)) await tx.execute(insertLate, [chunk])
  await tx.execute(`INSERT INTO bw_samples(device_id, ts, sent, received, interval_ms)
    SELECT device_id, ts, sent, received, NULL FROM temp.bw_late WHERE true
    ON CONFLICT(device_id, ts) DO UPDATE SET sent = sent + excluded.sent, received = received + excluded.received`)
  await tx.execute(`INSERT OR IGNORE INTO temp.bw_affected SELECT device_id, ts FROM temp.bw_late`)
  await tx.execute(`INSERT OR IGNORE INTO temp.bw_affected
    SELECT device_id, nx FROM (
      SELECT l.device_id, (SELECT s.ts FROM bw_samples s WHERE s.device_id = l.device_id AND s.ts > l.ts ORDER BY s.ts LIMIT 1) AS nx
      FROM temp.bw_late l) WHERE nx IS NOT NULL`)
  // The first sample of a device has no interval: registration is no measurement (issue 13).
  await tx.execute(`UPDATE bw_samples SET interval_ms = bw_samples.ts -
      (SELECT p.ts FROM bw_samples p WHERE p.device_id = bw_samples.device_id AND p.ts < bw_samples.ts ORDER BY p.ts DESC LIMIT 1)
    FROM temp.bw_affected a WHERE bw_samples.device_id = a.device_id AND bw_samples.ts = a.ts`)

  // Read back the affected samples (keyset pages, bounded memory) for peaks and rollups.
  const maps = RESOLUTIONS.map(() => new Map<string, Acc & {id: number}>())
  const implausible: string[] = []
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
      let iv = num(r.interval_ms)
      const sent = Number(r.sent)
      const received = Number(r.received)
      const bad = iv === null ? null : implausibleRate(sent, received, iv, maxRateBps)
      if (bad) {
        flag(st, ts, bad)
        implausible.push(`[${id},${ts}]`)
        iv = null
      }
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
      const sql = rollupUpsert(RESOLUTIONS[i]!.table)
      for (const chunk of chunks(rows2, sql, sink)) await tx.execute(sql, [chunk])
    }
  }
  const unset = `UPDATE bw_samples SET interval_ms = NULL FROM json_each(?) j WHERE bw_samples.device_id = j.value->>0 AND bw_samples.ts = j.value->>1`
  for (const chunk of chunks(implausible, unset, sink)) await tx.execute(unset, [chunk])
  await tx.execute('DELETE FROM temp.bw_late')
  await tx.execute('DELETE FROM temp.bw_affected')
}

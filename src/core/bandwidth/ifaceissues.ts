/**
 * Interface errors and drops (issue 14): the kernel's cumulative rx/tx errs and drop counters of
 * an interface device, turned into per-interval counts with the same wrap/reset/late rules as its
 * bytes (counters.ts stepCounter), stored in bw_iface_errors (migration 007) and read back by
 * `bandwidth history` (per point) and `bandwidth stats` (totals since the accounting start).
 *
 * The collector runner calls recordInterfaceIssues after a source's bytes are written, for the
 * readings that carry errors/drops (collect/runner.ts); bandwidth ingest's NDJSON path never sees it.
 */
import type {Store, Tx} from '../store/index.js'
import {stepCounter, type CounterBits, type CounterReading, type Outcome} from './counters.js'

export interface IssueReading {
  /** The device (its MAC, as the bytes were written under). */
  mac: string
  ts: number
  /** The counter's identity (iface:eth0): a different source is a new counter, so a new baseline. */
  source: string
  txErrors: bigint
  rxErrors: bigint
  txDrops: bigint
  rxDrops: bigint
  bootTimeMs?: number | null
}

/** What one reading counted (null: nothing recorded for it, e.g. the baseline, a late reading). */
export interface IssueDetail {
  mac: string
  outcome: Outcome
  tx_errors: number | null
  rx_errors: number | null
  tx_drops: number | null
  rx_drops: number | null
}

export interface IssueTotals {
  tx_errors: number
  rx_errors: number
  tx_drops: number
  rx_drops: number
}

interface Prev {
  id: number
  mac: string
  ts: number | null
  rx_errors: string | null
  tx_errors: string | null
  rx_drops: string | null
  tx_drops: string | null
  source: string | null
}

/** Counts are packets: allow a packet per byte of --max-rate (never the limit that matters). */
const stepOpts = (bits: CounterBits, maxRateBps: number, bootTimeMs: number | null | undefined) => ({
  maxRateBps: maxRateBps * 8,
  bits,
  ...(bootTimeMs == null ? {} : {bootTimeMs}),
})

/** Pure: one device's step for both pairs (errors tx/rx as sent/received, drops likewise). */
export function stepIssues(prev: Prev | undefined, r: IssueReading, bits: CounterBits, maxRateBps: number) {
  const known = prev && prev.ts !== null && prev.source === r.source
  const pe: CounterReading | null = known ? {ts: prev.ts!, sent: BigInt(prev.tx_errors!), received: BigInt(prev.rx_errors!)} : null
  const pd: CounterReading | null = known ? {ts: prev.ts!, sent: BigInt(prev.tx_drops!), received: BigInt(prev.rx_drops!)} : null
  const o = stepOpts(bits, maxRateBps, r.bootTimeMs)
  const errors = stepCounter(pe, {ts: r.ts, sent: r.txErrors, received: r.rxErrors}, o)
  const drops = stepCounter(pd, {ts: r.ts, sent: r.txDrops, received: r.rxDrops}, o)
  return {errors, drops}
}

/**
 * Records the readings' errors/drops in one transaction: the per-interval counts (rows only for
 * intervals that counted something) and the new cumulative reference. Readings of devices not
 * in the store are skipped (the bytes write creates them first).
 */
export async function recordInterfaceIssues(store: Store, readings: IssueReading[], opts: {bits: CounterBits; maxRateBps: number}): Promise<IssueDetail[]> {
  if (readings.length === 0) return []
  return store.writeTx(async (tx: Tx) => {
    const prevs = await tx.query<Prev>(
      `SELECT d.id, d.mac, c.ts, c.rx_errors, c.tx_errors, c.rx_drops, c.tx_drops, c.source
         FROM json_each(?) j JOIN devices d ON d.mac = j.value LEFT JOIN bw_iface_counters c ON c.device_id = d.id`,
      [JSON.stringify(readings.map(r => r.mac))],
    )
    const byMac = new Map(prevs.map(p => [String(p.mac), p]))
    const rows: (number | string)[][] = []
    const refs: (number | string)[][] = []
    const out: IssueDetail[] = []
    for (const r of readings) {
      const p = byMac.get(r.mac)
      if (!p) continue
      const {errors, drops} = stepIssues(p, r, opts.bits, opts.maxRateBps)
      const e = errors.record
      const d = drops.record
      out.push({
        mac: r.mac,
        outcome: errors.outcome === 'delta' || errors.outcome === 'baseline' ? drops.outcome : errors.outcome,
        tx_errors: e ? e.sent : null,
        rx_errors: e ? e.received : null,
        tx_drops: d ? d.sent : null,
        rx_drops: d ? d.received : null,
      })
      if ((e && (e.sent || e.received)) || (d && (d.sent || d.received))) {
        rows.push([Number(p.id), r.ts, e?.received ?? 0, e?.sent ?? 0, d?.received ?? 0, d?.sent ?? 0])
      }
      const en = errors.next
      const dn = drops.next
      refs.push([Number(p.id), Math.max(en.ts, dn.ts), en.received.toString(), en.sent.toString(), dn.received.toString(), dn.sent.toString(), r.source])
    }
    const stmts = []
    if (rows.length) {
      stmts.push({
        sql: `INSERT INTO bw_iface_errors(device_id, ts, rx_errors, tx_errors, rx_drops, tx_drops)
              SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5 FROM json_each(?) WHERE true
              ON CONFLICT(device_id, ts) DO UPDATE SET rx_errors = rx_errors + excluded.rx_errors, tx_errors = tx_errors + excluded.tx_errors,
                rx_drops = rx_drops + excluded.rx_drops, tx_drops = tx_drops + excluded.tx_drops`,
        args: [JSON.stringify(rows)],
      })
    }
    if (refs.length) {
      stmts.push({
        sql: `INSERT INTO bw_iface_counters(device_id, ts, rx_errors, tx_errors, rx_drops, tx_drops, source)
              SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6 FROM json_each(?) WHERE true
              ON CONFLICT(device_id) DO UPDATE SET ts = excluded.ts, rx_errors = excluded.rx_errors, tx_errors = excluded.tx_errors,
                rx_drops = excluded.rx_drops, tx_drops = excluded.tx_drops, source = excluded.source`,
        args: [JSON.stringify(refs)],
      })
    }
    await tx.batch(stmts)
    return out
  })
}

/** Device ids (of `ids`) that have interface errors/drops data at all. */
export async function devicesWithIssues(store: Pick<Store, 'query'>, ids: number[]): Promise<Set<number>> {
  if (ids.length === 0) return new Set()
  const rows = await store.query<{device_id: number}>(`SELECT device_id FROM bw_iface_counters WHERE device_id IN (SELECT value FROM json_each(?))`, [
    JSON.stringify(ids),
  ])
  return new Set(rows.map(r => Number(r.device_id)))
}

/** Totals per device since its accounting start (bw_totals.since_ts: register/reset), for the devices with such data. */
export async function issueTotals(store: Pick<Store, 'query'>, ids?: number[]): Promise<Map<number, IssueTotals>> {
  const rows = await store.query<{device_id: number; tx_errors: number; rx_errors: number; tx_drops: number; rx_drops: number}>(
    `SELECT c.device_id,
            coalesce(sum(e.tx_errors), 0) AS tx_errors, coalesce(sum(e.rx_errors), 0) AS rx_errors,
            coalesce(sum(e.tx_drops), 0) AS tx_drops, coalesce(sum(e.rx_drops), 0) AS rx_drops
       FROM bw_iface_counters c
       LEFT JOIN bw_totals t ON t.device_id = c.device_id
       LEFT JOIN bw_iface_errors e ON e.device_id = c.device_id AND e.ts >= coalesce(t.since_ts, 0)
      ${ids ? 'WHERE c.device_id IN (SELECT value FROM json_each(?))' : ''}
      GROUP BY c.device_id`,
    ids ? [JSON.stringify(ids)] : [],
  )
  return new Map(
    rows.map(r => [
      Number(r.device_id),
      {tx_errors: Number(r.tx_errors), rx_errors: Number(r.rx_errors), tx_drops: Number(r.tx_drops), rx_drops: Number(r.rx_drops)},
    ]),
  )
}

/** A device's per-interval rows in [since, until), oldest first. */
export async function issueRows(store: Pick<Store, 'query'>, deviceId: number, since: number, until: number) {
  const rows = await store.query<{ts: number; tx_errors: number; rx_errors: number; tx_drops: number; rx_drops: number}>(
    `SELECT ts, tx_errors, rx_errors, tx_drops, rx_drops FROM bw_iface_errors WHERE device_id = ? AND ts >= ? AND ts < ? ORDER BY ts`,
    [deviceId, since, until],
  )
  return rows.map(r => ({
    ts: Number(r.ts),
    tx_errors: Number(r.tx_errors),
    rx_errors: Number(r.rx_errors),
    tx_drops: Number(r.tx_drops),
    rx_drops: Number(r.rx_drops),
  }))
}

export interface WindowIssues extends IssueTotals {
  device_id: number
  mac: string | null
  ip: string | null
  hostname: string | null
  name: string | null
  vendor: string | null
  known: number
  /** The counter's source (iface:eth0, snmp:core-sw:3 …) as last read. */
  source: string | null
  /** Stored intervals in the window that counted something. */
  intervals: number
  last_ts: number
}

/**
 * Errors/drops per device in (since, until], for the devices with interface counters, with the
 * device's columns (alias `d`, so a caller can add a filter on devices, e.g. an alert rule's
 * scope). One statement; each device is a range of the (device_id, ts) key, not a table scan.
 */
export async function issuesInWindow(
  store: Pick<Store, 'query'>,
  since: number,
  until: number,
  where: {sql: string; args: (string | number)[]} = {sql: '1', args: []},
): Promise<WindowIssues[]> {
  const rows = await store.query<Record<string, unknown>>(
    `SELECT d.id AS device_id, d.mac, d.ip, d.hostname, d.name, d.vendor, d.known, c.source,
            sum(e.tx_errors) AS tx_errors, sum(e.rx_errors) AS rx_errors, sum(e.tx_drops) AS tx_drops, sum(e.rx_drops) AS rx_drops,
            count(*) AS intervals, max(e.ts) AS last_ts
       FROM bw_iface_counters c JOIN devices d ON d.id = c.device_id
       JOIN bw_iface_errors e ON e.device_id = c.device_id AND e.ts > ? AND e.ts <= ?
      WHERE ${where.sql}
      GROUP BY d.id`,
    [since, until, ...where.args],
  )
  return rows.map(r => ({
    device_id: Number(r.device_id),
    mac: (r.mac as string | null) ?? null,
    ip: (r.ip as string | null) ?? null,
    hostname: (r.hostname as string | null) ?? null,
    name: (r.name as string | null) ?? null,
    vendor: (r.vendor as string | null) ?? null,
    known: Number(r.known),
    source: (r.source as string | null) ?? null,
    tx_errors: Number(r.tx_errors),
    rx_errors: Number(r.rx_errors),
    tx_drops: Number(r.tx_drops),
    rx_drops: Number(r.rx_drops),
    intervals: Number(r.intervals),
    last_ts: Number(r.last_ts),
  }))
}

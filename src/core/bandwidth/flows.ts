/**
 * Flow traffic (NetFlow v5 / v9 / IPFIX, the agent's netflow job) into bandwidth accounting, and
 * the per-(protocol, port) reads over bw_ports (migration 012). See docs/SOURCES.md (NetFlow) and
 * docs/BANDWIDTH.md (`top --by port|protocol`, `stats --mac … by_port`).
 *
 * - One drain of the listener (its interval buckets, keyed by the flows' end times) is ONE delta-mode
 *   batch through writeBatch (auto-register): each (host, bucket) is a sample stamped at the bucket's
 *   END (the bytes of (start, end], like a counter read at the end), so a late flow's bucket lands
 *   where it belongs (ingest merges late samples into their rollups; the same (device, ts) twice is
 *   summed).
 * - A host is the device keyed `keyedMac('ip', ip)` (collect/runner.ts): the key the counter
 *   sources (nftables) use for a host known by address, so nft and NetFlow views of one host are one
 *   device. Flows carry no MACs and an address → MAC guess from the devices table would move
 *   traffic between devices when DHCP hands the address on, so it is not attempted.
 * - bw_ports rows (hourly: the bucket's start floored to the hour) are written in the SAME
 *   transaction, after the samples (whose devices exist by then): bytes and ports never disagree.
 */
import {normalizeIp} from '../devices/ip.js'
import {requireDevice} from '../devices/repo.js'
import {isoOf} from '../format/time.js'
import {keyedMac} from '../collect/runner.js'
import type {Bucket} from '../netflow/listener.js'
import type {Store, Tx} from '../store/index.js'
import {BatchBuilder, MAX_FUTURE_MS} from './input.js'
import {writeBatch} from './write.js'

type Reader = Pick<Store, 'query'> | Pick<Tx, 'query'>

const HOUR = 3_600_000
/** Epoch ms of 2000-01-01: a bucket before it comes from an exporter with no clock. */
const MIN_TS = 946_684_800_000
const PORT_ROWS_PER_STATEMENT = 5000

export const PROTOCOL_NAMES: Record<number, string> = {
  1: 'icmp',
  2: 'igmp',
  4: 'ipip',
  6: 'tcp',
  17: 'udp',
  33: 'dccp',
  41: 'ipv6',
  47: 'gre',
  50: 'esp',
  51: 'ah',
  58: 'ipv6-icmp',
  89: 'ospf',
  112: 'vrrp',
  132: 'sctp',
  136: 'udplite',
}
export const protocolName = (p: number): string => PROTOCOL_NAMES[p] ?? String(p)

export interface FlowWriteResult {
  /** Buckets written, and host samples (one per host per bucket). */
  buckets: number
  samples: number
  hosts: number
  bytes_sent: number
  bytes_received: number
  /** bw_ports rows upserted (host × hour × protocol × port). */
  port_rows: number
  registered: number
  /** Buckets not written: stamped before 2000 or more than 5 min ahead (an exporter's clock), with their flows. */
  skipped_buckets: number
  skipped_flows: number
}

/**
 * Writes drained listener buckets: one atomic batch (samples + bw_ports). `intervalMs` is the
 * listener's bucket width (a sample is stamped at bucket start + intervalMs). Nothing is written
 * when no bucket holds a host.
 */
export async function writeFlowBuckets(store: Store, buckets: Bucket[], opts: {intervalMs: number; now?: number}): Promise<FlowWriteResult> {
  const now = opts.now ?? Date.now()
  const r: FlowWriteResult = {
    buckets: 0,
    samples: 0,
    hosts: 0,
    bytes_sent: 0,
    bytes_received: 0,
    port_rows: 0,
    registered: 0,
    skipped_buckets: 0,
    skipped_flows: 0,
  }
  const b = new BatchBuilder('delta')
  const macOf = new Map<string, string>()
  // mac|hour|proto|port → [sent, received, flows]
  const ports = new Map<string, [number, number, number]>()
  for (const bucket of buckets) {
    const ts = bucket.startMs + opts.intervalMs
    if (ts < MIN_TS || ts > now + MAX_FUTURE_MS) {
      r.skipped_buckets++
      for (const h of bucket.hosts.values()) r.skipped_flows += h.flows
      continue
    }
    r.buckets++
    const hour = Math.floor(bucket.startMs / HOUR) * HOUR
    for (const [rawIp, h] of bucket.hosts) {
      let mac = macOf.get(rawIp)
      const ip = normalizeIp(rawIp)
      if (mac === undefined) {
        mac = keyedMac('ip', ip)
        macOf.set(rawIp, mac)
      }
      const k = b.index(mac, 0)
      b.hint(k, {ip})
      b.addDelta(k, ts, h.bytesUp, h.bytesDown)
      r.samples++
      r.bytes_sent += h.bytesUp
      r.bytes_received += h.bytesDown
      for (const p of h.ports.values()) {
        const key = `${mac}|${hour}|${p.protocol}|${p.port}`
        const acc = ports.get(key)
        if (acc) {
          acc[0] += p.bytesUp
          acc[1] += p.bytesDown
          acc[2] += p.flows
        } else ports.set(key, [p.bytesUp, p.bytesDown, p.flows])
      }
    }
  }
  r.hosts = macOf.size
  const batch = b.finish()
  if (r.samples === 0) {
    batch.spool.close()
    return r
  }
  const rows = [...ports].map(([key, v]) => {
    const [mac, hour, proto, port] = key.split('|')
    return [mac, Number(hour), Number(proto), Number(port), v[0], v[1], v[2]]
  })
  r.port_rows = rows.length
  const written = await writeBatch(store, batch, {autoRegister: true, alsoInTx: tx => upsertPorts(tx, rows)})
  r.registered = written.registered.length
  return r
}

const UPSERT_PORTS = `INSERT INTO bw_ports(device_id, bucket_ts, proto, port, bytes_sent, bytes_received, flows)
  SELECT d.id, j.value->>1, j.value->>2, j.value->>3, j.value->>4, j.value->>5, j.value->>6
  FROM json_each(?) j JOIN devices d ON d.mac = j.value->>0 WHERE true
  ON CONFLICT(device_id, bucket_ts, proto, port) DO UPDATE SET bytes_sent = bytes_sent + excluded.bytes_sent,
    bytes_received = bytes_received + excluded.bytes_received, flows = flows + excluded.flows`

async function upsertPorts(tx: Tx, rows: unknown[][]): Promise<void> {
  for (let i = 0; i < rows.length; i += PORT_ROWS_PER_STATEMENT) await tx.execute(UPSERT_PORTS, [JSON.stringify(rows.slice(i, i + PORT_ROWS_PER_STATEMENT))])
}

// ---------- reads ----------

export type PortGrouping = 'port' | 'protocol'

export interface PortTraffic {
  rank: number
  protocol: number
  protocol_name: string
  /** Absent with --by protocol. 0: no ports (icmp …) or beyond the per-host cap. */
  port?: number
  bytes_sent: number
  bytes_received: number
  total_bytes: number
  flows: number
  /** Devices with traffic on it (with --mac: 1). */
  devices: number
}

export interface PortTop {
  by: PortGrouping
  /** Whole hours: since is floored to its hour (bw_ports is hourly). */
  window: {since: string | null; since_ms: number | null; until: string | null; until_ms: number | null}
  device: {mac: string | null; ip: string | null; hostname: string | null; name: string | null} | null
  count: number
  top: PortTraffic[]
}

interface Agg {
  proto: number
  port: number | null
  sent: number
  received: number
  flows: number
  devices: number
}

async function aggregate(db: Reader, by: PortGrouping, where: {deviceId?: number; sinceMs?: number; untilMs?: number}, limit: number): Promise<PortTraffic[]> {
  const cond: string[] = []
  const args: (number | string)[] = []
  if (where.deviceId !== undefined) {
    cond.push('p.device_id = ?')
    args.push(where.deviceId)
  }
  if (where.sinceMs !== undefined) {
    cond.push('p.bucket_ts >= ?')
    args.push(Math.floor(where.sinceMs / HOUR) * HOUR)
  }
  if (where.untilMs !== undefined) {
    cond.push('p.bucket_ts < ?')
    args.push(where.untilMs)
  }
  const group = by === 'port' ? 'p.proto, p.port' : 'p.proto'
  // Drives from bw_totals and seeks each device's key range (as query.ts does).
  const from = where.deviceId !== undefined ? 'bw_ports p' : 'bw_totals t CROSS JOIN bw_ports p ON p.device_id = t.device_id'
  const rows = await db.query<Agg>(
    `SELECT p.proto AS proto, ${by === 'port' ? 'p.port' : 'NULL'} AS port, sum(p.bytes_sent) AS sent, sum(p.bytes_received) AS received,
       sum(p.flows) AS flows, count(DISTINCT p.device_id) AS devices
     FROM ${from} ${cond.length ? `WHERE ${cond.join(' AND ')}` : ''}
     GROUP BY ${group} ORDER BY sum(p.bytes_sent) + sum(p.bytes_received) DESC, ${group} LIMIT ?`,
    [...args, limit],
  )
  return rows.map((x, i) => {
    const sent = Number(x.sent)
    const received = Number(x.received)
    return {
      rank: i + 1,
      protocol: Number(x.proto),
      protocol_name: protocolName(Number(x.proto)),
      ...(by === 'port' ? {port: Number(x.port)} : {}),
      bytes_sent: sent,
      bytes_received: received,
      total_bytes: sent + received,
      flows: Number(x.flows),
      devices: Number(x.devices),
    }
  })
}

/** `bandwidth top --by port|protocol [--mac] [--since] [--until]`. */
export async function topPorts(store: Store, opts: {by: PortGrouping; limit: number; macOrIp?: string; sinceMs?: number; untilMs?: number}): Promise<PortTop> {
  let device: PortTop['device'] = null
  let deviceId: number | undefined
  if (opts.macOrIp !== undefined) {
    const d = await requireDevice(store, opts.macOrIp)
    deviceId = d.id
    device = {mac: d.mac, ip: d.ip, hostname: d.hostname, name: d.name ?? null}
  }
  const since = opts.sinceMs === undefined ? null : Math.floor(opts.sinceMs / HOUR) * HOUR
  const top = await aggregate(
    store,
    opts.by,
    {
      ...(deviceId !== undefined ? {deviceId} : {}),
      ...(since !== null ? {sinceMs: since} : {}),
      ...(opts.untilMs !== undefined ? {untilMs: opts.untilMs} : {}),
    },
    opts.limit,
  )
  return {
    by: opts.by,
    window: {
      since: since === null ? null : isoOf(since),
      since_ms: since,
      until: opts.untilMs === undefined ? null : isoOf(opts.untilMs),
      until_ms: opts.untilMs ?? null,
    },
    device,
    count: top.length,
    top,
  }
}

/** A device's top ports over the retained hourly buckets (`bandwidth stats --mac` by_port). */
export async function devicePorts(db: Reader, deviceId: number, limit = 10): Promise<PortTraffic[]> {
  return aggregate(db, 'port', {deviceId}, limit)
}

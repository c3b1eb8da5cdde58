/**
 * The bridge's meters (issue 8), under the seed bridge's own paths: GET /meters,
 * /meters/{id}/network_stats, /meters/{id}/readings; plus /api/bridge/status for the dashboard.
 * Each calls the core query of the matching command (src/core/bridge/queries.ts).
 */
import {z} from 'zod'
import {bridgeStatus, listMeters, meterNetworkStats, meterReadings} from '../../bridge/queries.js'
import {resolveSeedMeter} from '../queries.js'
import {isoTime, nullableIso, query, queryBool, queryInt, queryTime, route, type RouteDef} from '../route.js'

/** `meters stats --limit 100`, `meters readings --limit 50`. */
export const METER_DEFAULTS = {statsLimit: 100, readingsLimit: 50} as const

const meterId = z.strictObject({
  id: z
    .string()
    .trim()
    .min(1, {message: 'empty meter id'})
    .max(200)
    .meta({description: "Meter id or name, or the seed's meter number (1 = the first meter registered)", example: 'm1'}),
})

const num = z.number()
const int = z.number().int()

export const meterListItem = z.object({
  id: z.string(),
  name: z.string(),
  host: z.string(),
  port: int,
  framing: z.string(),
  poll_interval_ms: int,
  obis: z.array(z.object({obis: z.string(), key: z.string(), class: int, unit: z.string().optional()})),
  active: z.boolean(),
  state: z.string().nullable(),
  last_success_at: nullableIso,
  last_success_at_ms: int.nullable(),
  last_error: z.string().nullable(),
  consecutive_failures: int,
  readings: int,
  last_reading_at: nullableIso,
  last_reading_at_ms: int.nullable(),
  pending: int,
})

export const networkStatsSchema = z.object({
  meter_id: z.union([z.string(), int]).meta({description: "The meter's id; the number when it was asked for by the seed's meter number"}),
  meter_name: z.string(),
  timestamp: nullableIso,
  timestamp_ms: int.nullable(),
  current: z.object({bandwidth_tx_kbps: num, bandwidth_rx_kbps: num, bandwidth_total_kbps: num, packets_tx_ps: num, packets_rx_ps: num}),
  application: z.object({
    dlms_requests_sent: int,
    dlms_responses_recv: int,
    dlms_avg_payload_size: num,
    dlms_total_bytes_sent: int,
    dlms_total_bytes_recv: int,
    mqtt_messages_sent: int,
    mqtt_total_bytes_sent: int,
  }),
  averages: z.object({bandwidth_tx_mbps: num, bandwidth_rx_mbps: num}),
  peaks: z.object({bandwidth_tx_mbps: num, bandwidth_rx_mbps: num, packets_tx_ps: num, packets_rx_ps: num}),
  issues: z.object({network_errors: int, packet_drops: int, tx_errors: int, rx_errors: int, tx_drops: int, rx_drops: int}).meta({
    description: "Interface errors and drops over the rows (the seed dashboard's section E): network_errors = tx + rx errors, packet_drops = tx + rx drops",
  }),
  history: z.object({
    timestamp: z.array(isoTime),
    timestamp_ms: z.array(int),
    bandwidth_tx_mbps: z.array(num),
    bandwidth_rx_mbps: z.array(num),
    packets_tx_ps: z.array(num),
    packets_rx_ps: z.array(num),
  }),
  rows: int,
})

export const readingsSchema = z.object({
  meter_id: z.string(),
  meter_name: z.string(),
  keys: z.array(z.string()),
  readings: z.array(z.object({ts: isoTime, ts_ms: int, values: z.record(z.string(), z.unknown()), poll_ms: int})),
})

export const bridgeStatusSchema = z.object({
  running: z.boolean(),
  state: z.enum(['running', 'stopped', 'stale', 'never-started']),
  pid: int.nullable(),
  hostname: z.string().nullable(),
  started_at: nullableIso,
  uptime_seconds: num.nullable(),
  heartbeat_at: nullableIso,
  broker: z.object({url: z.string().nullable(), connected: z.boolean(), format: z.string().nullable()}),
  outbox: z.object({depth: int, dropped: int}),
  published: int,
  pending: int,
  network: z.object({tx_bps: num, rx_bps: num, packets_tx_ps: num, packets_rx_ps: num}).nullable(),
  meters: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      endpoint: z.string(),
      state: z.string().nullable(),
      last_success_at: nullableIso,
      last_error: z.string().nullable(),
      consecutive_failures: int,
      polls: int,
      failures: int,
      overruns: int,
      published: int,
      pending: int,
      dropped: int,
    }),
  ),
})

export function meterRoutes(): RouteDef[] {
  return [
    route({
      method: 'GET',
      path: '/meters',
      operationId: 'listMeters',
      summary: 'The meters the bridge polls, with their last reading and state',
      capability: 'bridge',
      cli: 'netmon meters list [--all]',
      query: query({all: queryBool('Include meters no longer in the bridge config').optional()}),
      response: z.object({meters: z.array(meterListItem)}),
      cacheable: () => true,
      run: async ({store}, {query}) => ({meters: await listMeters(store, {all: query.all ?? false})}),
    }),
    route({
      method: 'GET',
      path: '/meters/{id}/network_stats',
      operationId: 'meterNetworkStats',
      summary: "A meter's network self-metrics (the seed bridge's network_stats)",
      capability: 'bridge',
      cli: 'netmon meters stats METER [--since] [--limit]',
      params: meterId,
      query: query({
        since: queryTime('Only rows from this time: ISO-8601, epoch ms, or a duration back from now').optional(),
        limit: queryInt(1, 100_000, 'At most this many (newest) rows; default 100').optional(),
      }),
      response: networkStatsSchema,
      cacheable: ({query}) => query.since === undefined,
      run: async ({store}, {params, query}) => {
        const m = await resolveSeedMeter(store, params.id)
        const r = await meterNetworkStats(store, m.ref, {sinceMs: query.since, limit: query.limit ?? METER_DEFAULTS.statsLimit})
        return m.number === null ? r : {...r, meter_id: m.number}
      },
    }),
    route({
      method: 'GET',
      path: '/meters/{id}/readings',
      operationId: 'meterReadings',
      summary: 'The readings the bridge stored for a meter (newest `limit` in the range, oldest first)',
      capability: 'bridge',
      cli: 'netmon meters readings METER [--since] [--until] [--limit]',
      params: meterId,
      query: query({
        since: queryTime('Start (inclusive)').optional(),
        until: queryTime('End (exclusive)').optional(),
        limit: queryInt(1, 1_000_000, 'At most this many (newest) readings; default 50').optional(),
      }),
      response: readingsSchema,
      cacheable: ({query}) => query.since === undefined && query.until === undefined,
      run: async ({store}, {params, query}) =>
        meterReadings(store, (await resolveSeedMeter(store, params.id)).ref, {
          sinceMs: query.since,
          untilMs: query.until,
          limit: query.limit ?? METER_DEFAULTS.readingsLimit,
        }),
    }),
    route({
      method: 'GET',
      path: '/api/bridge/status',
      operationId: 'bridgeStatus',
      summary: 'The bridge daemon: alive, broker, outbox depth, per-meter state and counters',
      capability: 'bridge',
      cli: 'netmon bridge status',
      response: bridgeStatusSchema,
      run: async ({store}) => bridgeStatus(store),
    }),
  ]
}

/**
 * Latency (issue 6): GET /api/network/latency/{ip} = `netmon latency history`, POST
 * /api/network/latency/measure = `netmon latency HOST...` (same core functions, same JSON), and
 * GET /api/network/latency, the list of measured targets the dashboard shows with their grade.
 */
import {z} from 'zod'
import {invalidInput} from '../../errors.js'
import {RESOLUTIONS, latencyHistory} from '../../latency/history.js'
import {measureLatency, planLatency} from '../../latency/measure.js'
import {DEFAULT_CONCURRENCY} from '../../latency/options.js'
import {latencyTargets} from '../queries.js'
import {body, bodyDuration, isoTime, query, queryInt, queryTime, route, stampSchema, type RouteDef} from '../route.js'

/** An HTTP request should end: longer measurements belong to `netmon latency --watch`. */
export const MAX_MEASURE_MS = 300_000

/** `netmon latency` defaults (--count 10 --interval 1s --timeout 1s --port 443, method auto); `latency history --since 24h`. */
export const MEASURE_DEFAULTS = {count: 10, intervalMs: 1000, timeoutMs: 1000, port: 443, method: 'auto'} as const
export const LATENCY_HISTORY_SINCE_MS = 86_400_000

const num = z.number()
const int = z.number().int()
const grade = z.enum(['excellent', 'good', 'fair', 'poor', 'bad']).nullable()
const statsShape = {
  sent: int,
  received: int,
  lost: int,
  loss_pct: num,
  min_ms: num.nullable(),
  avg_ms: num.nullable(),
  max_ms: num.nullable(),
  median_ms: num.nullable(),
  stddev_ms: num.nullable(),
  jitter_ms: num.nullable(),
  grade,
}
const deviceRef = z.object({id: int, mac: z.string().nullable(), name: z.string().nullable(), hostname: z.string().nullable()}).nullable()

export const latencyResultSchema = z.object({
  method: z.enum(['icmp', 'tcp']),
  method_note: z.string().nullable(),
  count: int,
  interval_ms: num,
  timeout_ms: num,
  port: int.nullable(),
  watch: z.boolean(),
  concurrency: int,
  started: stampSchema,
  ended: stampSchema,
  interrupted: z.boolean(),
  hosts: z.array(
    z.object({
      ...statsShape,
      host: z.string(),
      ip: z.string(),
      method: z.enum(['icmp', 'tcp']),
      port: int.nullable(),
      device: deviceRef,
      run_id: int.nullable(),
      duplicates: int,
      error: z.string().nullable(),
      started: stampSchema.nullable(),
      ended: stampSchema.nullable(),
      rtts_ms: z.array(num.nullable()).optional(),
    }),
  ),
  alive: z.array(z.string()),
  unreachable: z.array(z.string()),
})

export const latencyHistorySchema = z.object({
  query: z.string(),
  matched_by: z.enum(['ip', 'mac', 'device', 'host']),
  ip: z.string().nullable(),
  device: z.object({id: int, mac: z.string().nullable(), ip: z.string().nullable(), name: z.string().nullable(), hostname: z.string().nullable()}).nullable(),
  since: stampSchema,
  until: stampSchema,
  method: z.enum(['icmp', 'tcp']).nullable(),
  resolution: z.enum(['raw', '1m', '5m', '1h']),
  bucket_ms: int.nullable(),
  summary: z.object(statsShape),
  runs: z.array(
    z.object({
      id: int,
      host: z.string(),
      ip: z.string(),
      method: z.enum(['icmp', 'tcp']),
      port: int.nullable(),
      started: stampSchema,
      ended: stampSchema,
      sent: int,
      received: int,
      loss_pct: num,
      avg_ms: num.nullable(),
      median_ms: num.nullable(),
      jitter_ms: num.nullable(),
      grade,
    }),
  ),
  points: z.array(z.object({ts: isoTime, ts_ms: int}).loose()),
})

export const latencyTargetsSchema = z.object({
  since: stampSchema,
  targets: z.array(
    z.object({
      ip: z.string(),
      host: z.string(),
      method: z.enum(['icmp', 'tcp']),
      port: int.nullable(),
      device: deviceRef,
      runs: int,
      last: z.object({run_id: int, ended_at: isoTime, ended_at_ms: int, ...statsShape, grade: z.string().nullable()}),
    }),
  ),
})

const measureBody = body({
  hosts: z
    .array(z.string())
    .min(1, {message: 'name at least one host'})
    .optional()
    .meta({description: 'IP addresses or host names (like the HOST... arguments)'}),
  ip: z.string().optional().meta({description: "One address (the seed API's field); same as hosts: [ip]"}),
  host: z.string().optional().meta({description: 'One address or host name'}),
  count: z.number().int().optional().meta({description: 'Probes per host (default 10)'}),
  interval: bodyDuration('Time between probes: "1s", "200ms" or milliseconds (default 1s)').optional(),
  timeout: bodyDuration('A probe without an answer within this time is lost (default 1s)').optional(),
  method: z.enum(['icmp', 'tcp', 'auto']).optional().meta({description: 'icmp (system ping), tcp (connect time) or auto (icmp when ping works; default)'}),
  port: z.number().int().optional().meta({description: 'TCP port for method tcp (default 443)'}),
})

export function latencyRoutes(): RouteDef[] {
  return [
    route({
      method: 'GET',
      path: '/api/network/latency',
      operationId: 'latencyTargets',
      summary: 'Every measured address with its latest run and grade (dashboard)',
      description:
        'Serve-only listing: the latest run per address that ended since `since` (default 7 days). The history of one address is GET /api/network/latency/{ip}.',
      capability: 'latency',
      cli: 'netmon latency history HOST (per address)',
      query: query({
        since: queryTime('Runs that ended since (default 7d)').optional(),
        limit: queryInt(1, 5000, 'At most this many addresses (default 500)').optional(),
      }),
      response: latencyTargetsSchema,
      run: async ({store}, {query}) => {
        const since = query.since ?? Date.now() - 7 * 86_400_000
        return {since: {iso: new Date(since).toISOString(), ms: since}, targets: await latencyTargets(store, {sinceMs: since, limit: query.limit})}
      },
    }),
    route({
      method: 'GET',
      path: '/api/network/latency/{ip}',
      operationId: 'latencyHistory',
      summary: 'Stored latency of an address (or a device by MAC, or a measured host name) over time',
      capability: 'latency',
      cli: 'netmon latency history HOST [--since] [--until] [--resolution] [--method]',
      params: z.strictObject({
        ip: z
          .string()
          .trim()
          .min(1)
          .max(253)
          .meta({description: 'IP address, MAC address, device name (hostname or promoted name), or the host name used when measuring', example: '192.0.2.10'}),
      }),
      query: query({
        since: queryTime('Start (inclusive); default 24h').optional(),
        until: queryTime('End (exclusive); default now').optional(),
        resolution: z.enum(RESOLUTIONS).optional().meta({description: 'raw probes, 1m/5m/1h buckets, or auto (default)'}),
        method: z.enum(['icmp', 'tcp']).optional().meta({description: 'Only runs measured with this method'}),
      }),
      response: latencyHistorySchema,
      run: async ({store}, {params, query}) => {
        const now = Date.now()
        return latencyHistory(store, {
          target: params.ip,
          since: query.since ?? now - LATENCY_HISTORY_SINCE_MS,
          until: query.until ?? now,
          resolution: query.resolution ?? 'auto',
          method: query.method,
        })
      },
    }),
    route({
      method: 'POST',
      path: '/api/network/latency/measure',
      operationId: 'measureLatency',
      summary: 'Probe hosts now (RTT, loss, jitter, grade) and store the runs; answers when done',
      description: `The request lasts count × interval (+ timeout); at most ${MAX_MEASURE_MS / 1000} s per request (use \`netmon latency --watch\` for longer). Unreachable hosts are a result (100 % loss), not an error.`,
      capability: 'latency',
      cli: 'netmon latency HOST... [--count] [--interval] [--timeout] [--method] [--port]',
      body: measureBody,
      response: latencyResultSchema,
      run: async ({store, signal, log}, {body}) => {
        const hosts = [...(body.hosts ?? []), ...(body.ip !== undefined ? [body.ip] : []), ...(body.host !== undefined ? [body.host] : [])]
        if (hosts.length === 0) throw invalidInput('body: give "hosts" (an array), "ip" or "host"', 'e.g. {"hosts": ["192.0.2.10"], "count": 5}')
        const opts = {
          hosts,
          method: body.method ?? MEASURE_DEFAULTS.method,
          count: body.count ?? MEASURE_DEFAULTS.count,
          interval: body.interval ?? MEASURE_DEFAULTS.intervalMs,
          timeout: body.timeout ?? MEASURE_DEFAULTS.timeoutMs,
          port: body.port ?? MEASURE_DEFAULTS.port,
          watch: false,
          // One wave: every host probed at once, so count × interval bounds the request's time.
          maxTargets: DEFAULT_CONCURRENCY,
          concurrency: DEFAULT_CONCURRENCY,
        }
        if (opts.count * opts.interval > MAX_MEASURE_MS) {
          throw invalidInput(
            `body: count × interval is ${Math.round((opts.count * opts.interval) / 1000)} s, more than one request may take (${MAX_MEASURE_MS / 1000} s)`,
            'lower count or interval, or run `netmon latency --watch`',
          )
        }
        // As the command: hosts, names and ping are checked (planLatency) before anything is stored.
        const plan = await planLatency(opts, {fixedCap: true})
        return measureLatency(store, plan, {signal, onNote: t => log.warn(`latency: ${t}`)})
      },
    }),
  ]
}

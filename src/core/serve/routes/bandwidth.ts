/**
 * Bandwidth accounting (issue 4) under the seed LAN hub's paths. Each route calls the core
 * function of its command (src/core/bandwidth/query.ts, admin.ts, sample.ts), so the JSON is
 * the command's `--json` and a POSTed sample goes through the very validation and write path
 * of `bandwidth sample --from -` (one atomic batch; a bad record writes nothing).
 */
import {z} from 'zod'
import {DEFAULT_MAX_RATE_BPS} from '../../bandwidth/counters.js'
import {registerBandwidthDevice} from '../../bandwidth/admin.js'
import {checkHostname} from '../../bandwidth/input.js'
import {deviceStats, history, networkStats, topTalkers, type DeviceStats} from '../../bandwidth/query.js'
import {runSample} from '../../bandwidth/sample.js'
import {NetmonError, invalidInput} from '../../errors.js'
import {body, ip, isoTime, mac, nullableIso, query, queryInt, queryTime, route, type RouteDef} from '../route.js'

const num = z.number()
const int = z.number().int()
const rateTriple = {upload_mbps: num, download_mbps: num, total_mbps: num, upload_bps: int, download_bps: int, total_bps: int}
/** The seed's device peak: `timestamp` in epoch seconds (a float), the ISO form alongside. */
const seedPeak = z.object({
  mbps: num,
  bps: int,
  timestamp: num.nullable().meta({description: "Epoch seconds, fractional (the seed's field); the CLI gives ISO here"}),
  timestamp_iso: nullableIso,
  timestamp_ms: int.nullable(),
})

/** Interface devices only (bandwidth sample --from iface): kernel errors/drops since the accounting start. */
const interfaceIssues = z
  .object({tx_errors: int, rx_errors: int, tx_drops: int, rx_drops: int})
  .optional()
  .meta({description: "Interface devices only: the kernel's errors/drops each way since the accounting start (absent for other devices)"})

export const networkStatsSchema = z.object({
  network: z.object({
    ...rateTriple,
    bytes_sent: int,
    bytes_received: int,
    total_bytes: int,
    total_mb: num,
    stale_devices: int.meta({description: 'Devices whose latest sample is too old to count as current (they add 0 to the rates)'}),
    current_as_of: nullableIso,
    current_as_of_ms: int.nullable(),
    interface_issues: interfaceIssues,
  }),
  devices_count: int,
  devices: z.array(
    z.object({
      ip: z.string().nullable(),
      mac: z.string().nullable(),
      hostname: z.string().nullable(),
      name: z.string().nullable().meta({description: 'The promoted name (devices promote --name), null when none'}),
      current_mbps: num,
      current_bps: int,
      stale: z.boolean(),
      current_as_of: nullableIso,
      current_as_of_ms: int.nullable(),
      total_mb: num,
      bytes_sent: int,
      bytes_received: int,
      total_bytes: int,
      last_update: nullableIso,
      last_update_ms: int.nullable(),
      interface_issues: interfaceIssues,
    }),
  ),
})

export const deviceStatsSchema = z.object({
  device: z.object({
    ip: z.string().nullable(),
    mac: z.string().nullable(),
    hostname: z.string().nullable(),
    name: z.string().nullable().meta({description: 'The promoted name (devices promote --name), null when none'}),
    current: z.object({
      ...rateTriple,
      sample_ts: nullableIso,
      sample_ts_ms: int.nullable(),
      stale: z.boolean().meta({description: 'The latest sample is older than stale_after_ms: current is 0'}),
      stale_after_ms: int.meta({description: 'max(2 × the latest interval, 60 s)'}),
    }),
    current_as_of: nullableIso,
    current_as_of_ms: int.nullable(),
    total: z.object({bytes_sent: int, bytes_received: int, total_bytes: int, total_mb: num}),
    average: z.object(rateTriple),
    peak: seedPeak.extend({upload: seedPeak, download: seedPeak}),
    uptime_seconds: num,
    sample_count: int,
    first_seen: nullableIso,
    last_update: nullableIso,
    interface_issues: interfaceIssues,
  }),
})

export const topSchema = z.object({
  sort_by: z.enum(['total', 'upload', 'download', 'current']),
  count: int,
  window: z
    .object({since: isoTime, since_ms: int, until: isoTime, until_ms: int, requested_since_ms: int, requested_until_ms: int, widened: z.boolean()})
    .optional(),
  top_talkers: z.array(
    z.object({
      rank: int,
      ip: z.string().nullable(),
      mac: z.string().nullable(),
      hostname: z.string().nullable(),
      name: z.string().nullable().meta({description: 'The promoted name (devices promote --name), null when none'}),
      current_mbps: num,
      current_bps: int,
      stale: z.boolean(),
      current_as_of: nullableIso,
      current_as_of_ms: int.nullable(),
      total_mb: num,
      total_bytes_sent: int,
      total_bytes_received: int,
      total_bytes: int,
      peak_mbps: num,
      peak_bps: int,
    }),
  ),
})

/** Interface devices only: errors/drops counted in the point (absent for other devices). */
const issueCounts = {tx_errors: int.optional(), rx_errors: int.optional(), tx_drops: int.optional(), rx_drops: int.optional()}

export const historySchema = z.object({
  device: z
    .object({ip: z.string().nullable(), mac: z.string().nullable(), hostname: z.string().nullable(), name: z.string().nullable()})
    .nullable()
    .meta({description: 'null: the network total (every device summed per point)'}),
  resolution: z.enum(['raw', '5m', '1h', '1d']),
  since: isoTime,
  since_ms: int,
  until: isoTime,
  until_ms: int,
  widened: z.boolean(),
  points: z.array(
    z.object({
      ts: isoTime,
      ts_ms: int,
      bytes_sent: int,
      bytes_received: int,
      total_bytes: int,
      upload_bps: int.nullable(),
      download_bps: int.nullable(),
      total_bps: int.nullable(),
      total_mbps: num.nullable(),
      samples: int,
      peak_bps: int.nullable(),
      interval_ms: int.nullable(),
      ...issueCounts,
    }),
  ),
  totals: z.object({bytes_sent: int, bytes_received: int, total_bytes: int, total_mb: num, samples: int, ...issueCounts}),
})

export const registerSchema = z.object({
  success: z.literal(true),
  message: z.string(),
  device: z.object({ip: z.string().nullable(), mac: z.string().nullable(), hostname: z.string().nullable()}),
  created: z.boolean(),
  first_seen: isoTime,
  first_seen_ms: int,
})

export const sampleResultSchema = z.object({
  success: z.literal(true),
  message: z.string(),
  mode: z.enum(['delta', 'counter']),
  samples_in: int,
  samples_recorded: int,
  samples_late: int,
  bytes_sent: int,
  bytes_received: int,
  devices: int,
  registered: z.array(z.string()),
  events: z.array(z.object({type: z.string(), mac: z.string(), ts: isoTime, ts_ms: int})),
  counter_outcomes: z.record(z.string(), int).optional(),
  samples: z.array(z.object({mac: z.string(), ts: isoTime, ts_ms: int, bytes_sent: int, bytes_received: int}).loose()).optional(),
})

const counterValue = z.union([z.number(), z.string()])
const sampleRecord = z
  .object({
    mac: z.string(),
    sent: counterValue.optional(),
    received: counterValue.optional(),
    bytes_sent: counterValue.optional(),
    bytes_received: counterValue.optional(),
    ts: z.union([z.number(), z.string()]).optional(),
    ip: z.string().optional(),
    hostname: z.string().optional(),
  })
  .meta({
    description:
      'One sample, as an NDJSON line of `bandwidth sample --from -`: bytes since the previous sample (delta) or cumulative counters (counter mode); ts = epoch ms or ISO-8601 (default now)',
  })

const sampleBody = body({
  samples: z
    .array(sampleRecord.loose())
    .min(1, {message: 'give at least one sample'})
    .optional()
    .meta({description: 'Many samples, written in ONE transaction (all or nothing)'}),
  mac: z.string().optional(),
  sent: counterValue.optional(),
  received: counterValue.optional(),
  bytes_sent: counterValue.optional(),
  bytes_received: counterValue.optional(),
  ts: z.union([z.number(), z.string()]).optional(),
  ip: z.string().optional(),
  hostname: z.string().optional(),
  mode: z
    .enum(['delta', 'counter'])
    .optional()
    .meta({description: 'delta (default): bytes since the previous sample; counter: cumulative counters (wraps and resets handled)'}),
  auto_register: z.boolean().optional().meta({description: 'Register unknown MACs instead of rejecting them (--auto-register)'}),
  max_rate_bps: z
    .number()
    .positive()
    .optional()
    .meta({description: 'Counter mode: the highest plausible rate, to tell a wrap from a reset (default 10 Gbit/s)'}),
})

/** `bandwidth top` defaults (--limit 10, --sort total) and `bandwidth history` (--since 24h, --resolution auto). */
export const TOP_DEFAULTS = {limit: 10, sort: 'total'} as const
export const HISTORY_DEFAULTS = {sinceMs: 86_400_000, resolution: 'auto'} as const

export const SEED_SAMPLE_MESSAGE = 'Sample added'

const SINGLE_KEYS = ['mac', 'sent', 'received', 'bytes_sent', 'bytes_received', 'ts', 'ip', 'hostname'] as const

export function bandwidthRoutes(): RouteDef[] {
  return [
    route({
      method: 'GET',
      path: '/api/network/bandwidth/stats',
      operationId: 'bandwidthStats',
      summary: 'Network totals and every device (or one device with ?mac=): current, average and peak rates, byte totals',
      capability: 'bandwidth',
      cli: 'netmon bandwidth stats [--device DEVICE]',
      query: query({
        mac: z
          .string()
          .trim()
          .min(1)
          .max(120)
          .optional()
          .meta({description: "One device by MAC, IP, hostname or promoted name: the seed's device shape", example: 'AA:BB:CC:DD:EE:01'}),
        device: z
          .string()
          .trim()
          .min(1)
          .max(120)
          .optional()
          .meta({description: 'The same as mac (a MAC, IP, hostname or promoted name)', example: 'office printer'}),
      }),
      response: z.union([networkStatsSchema, deviceStatsSchema]),
      cacheable: () => true,
      run: async ({store}, {query}) => {
        if (query.mac !== undefined && query.device !== undefined) throw invalidInput('query mac and device: give one of them')
        const one = query.device ?? query.mac
        return one === undefined ? networkStats(store) : seedDeviceStats(await deviceStats(store, one))
      },
    }),
    route({
      method: 'GET',
      path: '/api/network/bandwidth/top-talkers',
      operationId: 'bandwidthTop',
      summary: 'Top talkers by total, upload, download or current rate (optionally inside a time window)',
      capability: 'bandwidth',
      cli: 'netmon bandwidth top [--limit] [--sort] [--since]',
      query: query({
        limit: queryInt(1, 50, 'How many devices (1-50, default 10)').optional(),
        sort_by: z.enum(['total', 'upload', 'download', 'current']).optional().meta({description: 'Ranking (default total)'}),
        since: queryTime('Rank by traffic since this time (rollups + raw samples)').optional(),
        until: queryTime('Window end (exclusive; default now), with since').optional(),
      }),
      response: topSchema,
      cacheable: ({query}) => query.since === undefined && query.until === undefined,
      run: async ({store}, {query}) => {
        const now = Date.now()
        // The command's own checks (src/commands/bandwidth/top.ts), in the API's words.
        if (query.until !== undefined && query.since === undefined) throw invalidInput('query until: needs since')
        if (query.since !== undefined && query.since >= (query.until ?? now)) throw invalidInput('query since: must be before until (and before now)')
        return topTalkers(store, {
          limit: query.limit ?? TOP_DEFAULTS.limit,
          sort: query.sort_by ?? TOP_DEFAULTS.sort,
          since: query.since,
          until: query.until,
          now,
        })
      },
    }),
    route({
      method: 'GET',
      path: '/api/network/bandwidth/history',
      operationId: 'bandwidthNetworkHistory',
      summary: 'The network total over time: every device summed per 5m/1h/1d bucket',
      capability: 'bandwidth',
      cli: 'netmon bandwidth history [--since] [--until] [--resolution]',
      query: query({
        since: queryTime('Start (inclusive); default 24h').optional(),
        until: queryTime('End (exclusive); default now').optional(),
        resolution: z.enum(['auto', '5m', '1h', '1d']).optional().meta({description: 'Default auto: the finest rollup with a few hundred points'}),
      }),
      response: historySchema,
      run: async ({store}, {query}) => {
        const now = Date.now()
        const since = query.since ?? now - HISTORY_DEFAULTS.sinceMs
        const until = query.until ?? now
        if (!(until > since)) throw invalidInput('query until: must be later than since', 'e.g. ?since=24h&until=now')
        return history(store, undefined, {since, until, resolution: query.resolution ?? HISTORY_DEFAULTS.resolution})
      },
    }),
    route({
      method: 'GET',
      path: '/api/network/bandwidth/history/{mac}',
      operationId: 'bandwidthHistory',
      summary: "A device's bytes and rates over time (raw samples or 5m/1h/1d rollups)",
      capability: 'bandwidth',
      cli: 'netmon bandwidth history --mac MAC [--since] [--until] [--resolution]',
      params: z.strictObject({
        mac: z.string().trim().min(1).max(120).meta({description: 'The device: MAC, IP, hostname or promoted name', example: 'AA:BB:CC:DD:EE:01'}),
      }),
      query: query({
        since: queryTime('Start (inclusive); default 24h').optional(),
        until: queryTime('End (exclusive); default now').optional(),
        resolution: z.enum(['auto', 'raw', '5m', '1h', '1d']).optional().meta({description: 'Default auto: the finest level with a few hundred points'}),
      }),
      response: historySchema,
      run: async ({store}, {params, query}) => {
        const now = Date.now()
        const since = query.since ?? now - HISTORY_DEFAULTS.sinceMs
        const until = query.until ?? now
        if (!(until > since)) throw invalidInput('query until: must be later than since', 'e.g. ?since=24h&until=now')
        return history(store, params.mac, {since, until, resolution: query.resolution ?? HISTORY_DEFAULTS.resolution})
      },
    }),
    route({
      method: 'POST',
      path: '/api/network/bandwidth/register',
      operationId: 'bandwidthRegister',
      summary: 'Register (or update) a device for bandwidth accounting; totals are kept on re-register',
      capability: 'bandwidth',
      cli: 'netmon bandwidth register --ip IP --mac MAC [--hostname NAME]',
      body: body({
        ip,
        mac,
        hostname: z
          .string()
          .optional()
          .superRefine((v, ctx) => {
            if (v === undefined) return
            const h = checkHostname(v)
            if (typeof h !== 'string') ctx.addIssue({code: 'custom', message: h.error})
          }),
      }),
      status: 200,
      response: registerSchema,
      run: async ({store}, {body}) =>
        registerBandwidthDevice(store, {mac: body.mac, ip: body.ip, hostname: body.hostname === undefined ? null : (checkHostname(body.hostname) as string)}),
    }),
    route({
      method: 'POST',
      path: '/api/network/bandwidth/sample',
      operationId: 'bandwidthSample',
      summary: 'Record one sample ({mac, bytes_sent, bytes_received}) or many ({samples:[…]}) in one atomic batch',
      description:
        'Every record is validated exactly like an NDJSON line of `netmon bandwidth sample --from -` before anything is written; one bad record → 400 naming it, nothing written. Unknown MACs are rejected unless auto_register is true.',
      capability: 'bandwidth',
      cli: 'netmon bandwidth sample --from - [--mode] [--auto-register]',
      body: sampleBody,
      response: sampleResultSchema,
      run: async ({store}, {body}) => {
        const single = SINGLE_KEYS.some(k => body[k] !== undefined)
        if (single && body.samples !== undefined) throw invalidInput('body: give either one sample (mac, bytes_sent, bytes_received) or "samples", not both')
        const records: unknown[] = body.samples ?? (single ? [Object.fromEntries(SINGLE_KEYS.filter(k => body[k] !== undefined).map(k => [k, body[k]]))] : [])
        if (records.length === 0) throw invalidInput('body: no sample given', 'send {"mac","bytes_sent","bytes_received"} or {"samples":[…]}')
        // The records become the NDJSON stream `bandwidth sample --from -` reads: same parser, same checks.
        const lines = records.map(r => JSON.stringify(r)).join('\n')
        try {
          const r = await runSample(store, {
            source: {kind: 'ndjson', input: oneChunk(lines)},
            mode: body.mode ?? 'delta',
            autoRegister: body.auto_register ?? false,
            maxRateBps: body.max_rate_bps ?? DEFAULT_MAX_RATE_BPS,
          })
          // The seed's add_sample answered exactly {"success": true, "message": "Sample added"}.
          return single ? {...r, message: SEED_SAMPLE_MESSAGE} : r
        } catch (e) {
          throw renameLine(e, single)
        }
      },
    }),
  ]
}

type Peak = DeviceStats['peak']['upload']

/** A peak as the seed's clients read it: epoch seconds in `timestamp`, ISO in `timestamp_iso`. */
function toSeedPeak(p: Peak): Omit<Peak, 'timestamp'> & {timestamp: number | null; timestamp_iso: string | null} {
  return {...p, timestamp: p.timestamp_ms === null ? null : p.timestamp_ms / 1000, timestamp_iso: p.timestamp}
}

/** `bandwidth stats --mac` with the seed's peak timestamps (docs/SERVE.md "Differences from the seeds"). */
export function seedDeviceStats(r: {device: DeviceStats}) {
  const p = r.device.peak
  return {device: {...r.device, peak: {...toSeedPeak(p), upload: toSeedPeak(p.upload), download: toSeedPeak(p.download)}}}
}

async function* oneChunk(text: string): AsyncIterable<string> {
  yield text
}

/** "NDJSON line 3: …" means samples[2] here (or the body itself for a single sample). */
function renameLine(e: unknown, single: boolean): unknown {
  if (!(e instanceof NetmonError) || e.kind !== 'input') return e
  const m = /^NDJSON line (\d+): ([\s\S]*)$/.exec(e.message)
  if (!m) return e
  const where = single ? 'body' : `body samples[${Number(m[1]) - 1}]`
  return invalidInput(`${where}: ${m[2]}`, 'nothing was written; fix the record and send the batch again')
}

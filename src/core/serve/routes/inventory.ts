/**
 * Discovery and inventory (issue 5) under the seed LAN hub's paths: POST /api/network/scan,
 * GET /api/network/scan/status, /devices, /history/{mac}, /timeline, /stats and
 * POST /devices/{mac}/promote (plus /devices/{mac} = `devices show` for the dashboard). Each
 * calls the core function of its command (src/core/inventory/queries.ts, src/core/scan).
 */
import {z} from 'zod'
import {invalidInput} from '../../errors.js'
import {deviceHistory, inventoryStats, listDevices, promoteDevice, scanStatus, showDevice, timeline} from '../../inventory/queries.js'
import {scan, type ScanReport} from '../../scan/index.js'
import {buildScanRequest, type ScanFlags} from '../../scan/options.js'
import {HttpError} from '../http.js'
import {body, isoTime, nullableIso, query, queryBool, queryInt, queryTime, route, type RouteDef} from '../route.js'

/**
 * The defaults of `netmon scan`'s flags (src/commands/scan/index.ts); a request body overrides
 * each. test/unit/serve/routes.test.ts fails when the command's defaults change without these.
 */
export const SCAN_DEFAULTS: ScanFlags = {
  method: 'all',
  timeout: '800ms',
  retries: 1,
  concurrency: 256,
  'port-timeout': '1s',
  'max-sockets': 4096,
  banners: false,
  'banner-timeout': '1s',
  rdns: true,
  'dns-timeout': '500ms',
  register: false,
  'allow-public': false,
  force: false,
}

/** `devices timeline` defaults: --since 7d, --limit 1000. */
export const TIMELINE_DEFAULTS = {sinceMs: 7 * 86_400_000, limit: 1000} as const

const int = z.number().int()
const deviceRef = z.strictObject({
  mac: z.string().trim().min(1).max(120).meta({description: 'MAC (any common form), IP address, hostname or promoted name', example: 'AA:BB:CC:DD:EE:01'}),
})

export const deviceViewSchema = z.object({
  id: int,
  mac: z.string().nullable(),
  mac_kind: z.enum(['universal', 'local', 'multicast']).nullable(),
  ip: z.string().nullable(),
  name: z.string().nullable(),
  hostname: z.string().nullable(),
  vendor: z.string().nullable(),
  known: z.boolean(),
  status: z.enum(['online', 'offline', 'unknown']),
  first_seen: isoTime,
  first_seen_ms: int,
  last_seen: isoTime,
  last_seen_ms: int,
  open_ports: z.array(int),
})
const eventSchema = z.object({
  id: int,
  ts: isoTime,
  ts_ms: int,
  type: z.string(),
  device_id: int.nullable(),
  mac: z.string().nullable(),
  ip: z.string().nullable().meta({description: "The device's address at the time of the event (ip_changed: the new one)"}),
  ip_from: z.string().nullable().meta({description: 'ip_changed: the address it moved from; null for other events'}),
  current_ip: z.string().nullable().meta({description: "The device's address now"}),
  name: z.string().nullable(),
  detail: z.record(z.string(), z.unknown()).nullable(),
})
const ipHistorySchema = z.object({ip: z.string(), current: z.boolean(), first_seen: isoTime, first_seen_ms: int, last_seen: isoTime, last_seen_ms: int})
const deviceEventsSchema = z.object({device: deviceViewSchema, ips: z.array(ipHistorySchema), events: z.array(eventSchema)})
const ipHolderSchema = z.object({
  device_id: int,
  mac: z.string().nullable(),
  name: z.string().nullable(),
  ip: z.string().nullable(),
  current: z.boolean(),
  first_seen: isoTime,
  first_seen_ms: int,
  last_seen: isoTime,
  last_seen_ms: int,
})
export const deviceHistorySchema = deviceEventsSchema.extend({
  ip_holders: z
    .array(ipHolderSchema)
    .nullable()
    .meta({description: 'Looked up by IP: every device that held the address (first/last seen there), oldest first; null when looked up by MAC'}),
})
export const deviceDetailSchema = deviceEventsSchema.extend({
  ports: z.array(
    z.object({port: int, proto: z.string(), service: z.string().nullable(), banner: z.string().nullable(), first_seen: isoTime, last_seen: isoTime}).loose(),
  ),
  ports_scanned: nullableIso,
  last_scan: z.object({scan_id: int, ts: isoTime, ts_ms: int, found_by: z.array(z.string()), rtt_ms: z.number().nullable()}).nullable(),
  latency: z.record(z.string(), z.unknown()).nullable(),
  bandwidth: z.record(z.string(), z.unknown()).nullable(),
})
export const scanViewSchema = z.object({
  id: int,
  status: z.enum(['running', 'done', 'interrupted', 'failed']),
  stale: z.boolean(),
  started: isoTime,
  started_ms: int,
  finished: nullableIso,
  elapsed_ms: int,
  targets: z.array(z.string()),
  methods: z.array(z.string()),
  ports: z.string().nullable(),
  hosts_total: int,
  hosts_done: int,
  found: int,
  ports_total: int,
  ports_done: int,
  percent: z.number(),
  error: z.string().nullable(),
  summary: z.record(z.string(), z.number()).nullable(),
})
export const timelineSchema = z.object({
  since: nullableIso,
  since_ms: int.nullable(),
  until: nullableIso,
  until_ms: int.nullable(),
  count: int,
  truncated: z.boolean(),
  events: z.array(eventSchema),
})
export const inventoryStatsSchema = z.object({
  devices: z.object({total: int, online: int, offline: int, unknown_status: int, known: int, unknown: int, new_24h: int}),
  events_24h: z.record(z.string(), int),
  last_scan: scanViewSchema.nullable(),
  generated: isoTime,
  generated_ms: int,
})
export const scanStatusSchema = z.object({
  scan: scanViewSchema.nullable(),
  running: z.array(scanViewSchema),
  hosts: z
    .array(
      z.object({ip: z.string(), mac: z.string().nullable(), found_by: z.array(z.string()), rtt_ms: z.number().nullable(), hostname: z.string().nullable()}),
    )
    .optional(),
})
const scanAccepted = z.object({
  accepted: z.literal(true),
  scan_id: int.nullable(),
  status: z.string(),
  status_url: z.string(),
  targets: z.array(z.string()).nullable(),
})
const scanReportSchema = z.object({
  scan: z
    .object({
      id: int,
      status: z.enum(['done', 'interrupted']),
      started: isoTime,
      finished: isoTime,
      duration_ms: int,
      targets: z.array(z.string()),
      addresses: int,
      methods: z.array(z.string()),
    })
    .loose(),
  summary: z.object({found: int, registered: int}).loose(),
  hosts: z.array(
    z.object({ip: z.string(), mac: z.string().nullable(), found_by: z.array(z.string()), device_id: int.nullable(), new: z.boolean(), seen: isoTime}).loose(),
  ),
})

const scanBody = body({
  targets: z.array(z.string()).optional().meta({description: "CIDRs, ranges (10.0.0.1-50), addresses or host names; omitted = the machine's own subnets"}),
  methods: z.string().optional().meta({description: 'neighbor,tcp,icmp (comma list) or all (default)'}),
  ports: z.string().optional().meta({description: 'TCP ports to scan on live hosts: a list/ranges, top100, top1000 or all'}),
  timeout: z.string().optional().meta({description: 'Per-address answer time (default 1s)'}),
  retries: z.number().int().optional(),
  concurrency: z.number().int().optional(),
  port_timeout: z.string().optional(),
  max_sockets: z.number().int().optional(),
  banners: z.boolean().optional(),
  banner_timeout: z.string().optional(),
  rdns: z.boolean().optional(),
  dns_servers: z.array(z.string()).optional(),
  dns_timeout: z.string().optional(),
  register: z.boolean().optional().meta({description: 'Also register every found device for bandwidth accounting'}),
  allow_public: z.boolean().optional(),
  force: z.boolean().optional(),
  wait: z.boolean().optional().meta({description: 'Answer with the full scan report when done (= `netmon scan --json`) instead of 202 at once'}),
})

export function inventoryRoutes(): RouteDef[] {
  // One scan at a time per server (each app builds its own routes).
  let running: Promise<ScanReport> | null = null
  return [
    route({
      method: 'POST',
      path: '/api/network/scan',
      operationId: 'scan',
      summary: 'Start a discovery scan: 202 at once (follow GET /api/network/scan/status), or with wait=true 200 and the full report',
      description: 'Targets and options are validated before anything is written (400). One scan at a time per server (409 while one runs).',
      capability: 'inventory',
      cli: 'netmon scan [TARGET...] [--method] [--ports] [--register]',
      body: scanBody,
      status: 202,
      // wait=true answers when the scan is over: the finished report is a 200, not "accepted".
      statusOf: r => ((r as {accepted?: boolean}).accepted ? 202 : 200),
      response: z.union([scanAccepted, scanReportSchema]),
      run: async ({store, background, log, signal}, {body}) => {
        const b = body
        const flags: ScanFlags = {
          ...SCAN_DEFAULTS,
          ...(b.methods !== undefined && {method: b.methods}),
          ...(b.timeout !== undefined && {timeout: b.timeout}),
          ...(b.retries !== undefined && {retries: b.retries}),
          ...(b.concurrency !== undefined && {concurrency: b.concurrency}),
          ...(b.ports !== undefined && {ports: b.ports}),
          ...(b.port_timeout !== undefined && {'port-timeout': b.port_timeout}),
          ...(b.max_sockets !== undefined && {'max-sockets': b.max_sockets}),
          ...(b.banners !== undefined && {banners: b.banners}),
          ...(b.banner_timeout !== undefined && {'banner-timeout': b.banner_timeout}),
          ...(b.rdns !== undefined && {rdns: b.rdns}),
          ...(b.dns_servers !== undefined && {'dns-server': b.dns_servers}),
          ...(b.dns_timeout !== undefined && {'dns-timeout': b.dns_timeout}),
          ...(b.register !== undefined && {register: b.register}),
          ...(b.allow_public !== undefined && {'allow-public': b.allow_public}),
          ...(b.force !== undefined && {force: b.force}),
        }
        if (b.targets && b.targets.length === 0) throw invalidInput('body targets: empty list', 'name targets, or leave "targets" out for the local subnets')
        const req = buildScanRequest(b.targets ?? [], flags)
        if (running) throw new HttpError(409, 'CONFLICT', 'a scan started through this server is still running', 'follow it with GET /api/network/scan/status')
        // scan() validates every target before it asks for the store, records the scan row, then
        // reports progress: the first progress report means "valid and under way".
        let underway!: () => void
        const started = new Promise<void>(r => (underway = r))
        const job = scan(req, {
          openStore: async () => store,
          signal,
          onProgress: () => underway(),
          onNote: t => log.info(`scan: ${t}`),
        })
        if (b.wait) return job
        running = job
        try {
          await Promise.race([started, job])
        } catch (e) {
          running = null
          throw e
        }
        background('scan', async () => {
          try {
            await job
          } finally {
            running = null
          }
        })
        const st = await scanStatus(store)
        const mine = st.running.find(s => s.pid === process.pid) ?? st.scan
        const id = mine?.id ?? null
        return {
          accepted: true as const,
          scan_id: id,
          status: mine?.status ?? 'running',
          status_url: id === null ? '/api/network/scan/status' : `/api/network/scan/status?id=${id}`,
          targets: req.targets,
        }
      },
    }),
    route({
      method: 'GET',
      path: '/api/network/scan/status',
      operationId: 'scanStatus',
      summary: 'The running scan (else the last one, or ?id=N): started, progress, hosts found',
      capability: 'inventory',
      cli: 'netmon scan status [ID] [--hosts]',
      query: query({
        id: queryInt(1, Number.MAX_SAFE_INTEGER, 'Scan number (default: the running one, else the last)').optional(),
        hosts: queryBool('Also list the hosts the scan found').optional(),
      }),
      response: scanStatusSchema,
      run: async ({store}, {query}) => scanStatus(store, {id: query.id, hosts: query.hosts ?? false}),
    }),
    route({
      method: 'GET',
      path: '/api/network/devices',
      operationId: 'listDevices',
      summary: 'Every device ever seen: online/offline, vendor, known flag, open ports',
      capability: 'inventory',
      cli: 'netmon devices list [--online|--offline] [--known|--unknown] [--vendor]',
      query: query({
        online: queryBool('Only devices online at the last scan').optional(),
        offline: queryBool('Only devices offline at the last scan').optional(),
        known: queryBool('Only promoted devices').optional(),
        unknown: queryBool('Only devices not promoted yet').optional(),
        vendor: z.string().trim().min(1).max(200).optional().meta({description: 'Vendor contains this text (case-insensitive)'}),
      }),
      response: z.object({count: int, devices: z.array(deviceViewSchema)}),
      cacheable: () => true,
      run: async ({store}, {query}) => {
        // The command declares these pairs exclusive; say so the same way.
        if (query.online && query.offline) throw invalidInput('query: online and offline cannot both be given')
        if (query.known && query.unknown) throw invalidInput('query: known and unknown cannot both be given')
        const devices = await listDevices(store, query)
        return {count: devices.length, devices}
      },
    }),
    route({
      method: 'GET',
      path: '/api/network/devices/{mac}',
      operationId: 'showDevice',
      summary: 'Everything known about one device: ports, IP history, events, last latency and bandwidth',
      capability: 'inventory',
      cli: 'netmon devices show MAC|IP',
      params: deviceRef,
      response: deviceDetailSchema,
      run: async ({store}, {params}) => showDevice(store, params.mac),
    }),
    route({
      method: 'GET',
      path: '/api/network/history/{mac}',
      operationId: 'deviceHistory',
      summary: 'IP history and events of one device (an IP finds its current or any former holder; all holders listed)',
      capability: 'inventory',
      cli: 'netmon devices history MAC|IP',
      params: deviceRef,
      response: deviceHistorySchema,
      cacheable: () => true,
      run: async ({store}, {params}) => deviceHistory(store, params.mac),
    }),
    route({
      method: 'GET',
      path: '/api/network/timeline',
      operationId: 'timeline',
      summary: 'Inventory events over time (new, online, offline, ip_changed, ip_conflict, hostname_changed, ports_changed, promoted, merged)',
      capability: 'inventory',
      cli: 'netmon devices timeline [--since] [--until] [--type] [--device] [--limit]',
      query: query({
        since: queryTime('From (default 7d)').optional(),
        until: queryTime('Until (exclusive)').optional(),
        type: z.string().optional().meta({description: 'Only these event types (comma separated)'}),
        device: z.string().trim().min(1).max(120).optional().meta({description: 'Only events of this device (MAC, IP, hostname or promoted name)'}),
        limit: queryInt(1, 100_000, 'At most this many (newest) events; default 1000').optional(),
      }),
      response: timelineSchema,
      run: async ({store}, {query}) =>
        timeline(store, {
          since: query.since ?? Date.now() - TIMELINE_DEFAULTS.sinceMs,
          until: query.until,
          types: query.type?.split(','),
          device: query.device,
          limit: query.limit ?? TIMELINE_DEFAULTS.limit,
        }),
    }),
    route({
      method: 'GET',
      path: '/api/network/stats',
      operationId: 'inventoryStats',
      summary: 'Devices total/online/offline/known/new in the last 24 h, events in 24 h, last scan',
      capability: 'inventory',
      cli: 'netmon stats',
      response: inventoryStatsSchema,
      run: async ({store}) => inventoryStats(store),
    }),
    route({
      method: 'POST',
      path: '/api/network/devices/{mac}/promote',
      operationId: 'promoteDevice',
      summary: 'Mark a device as known, optionally with a friendly name (a promoted event records it)',
      capability: 'inventory',
      cli: 'netmon devices promote MAC|IP [--name]',
      params: deviceRef,
      body: body({name: z.string().optional().meta({description: 'Friendly name, 1–100 characters'})}),
      response: z.object({device: deviceViewSchema, changed: z.boolean()}),
      run: async ({store}, {params, body}) => promoteDevice(store, params.mac, body.name),
    }),
  ]
}

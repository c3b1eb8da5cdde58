/**
 * Discovery and inventory (issue 5) under the seed LAN hub's paths: POST /api/network/scan,
 * GET /api/network/scan/status, /devices, /history/{mac}, /timeline, /stats and
 * POST /devices/{mac}/promote. Each calls the core function of its command.
 */
import {z} from 'zod'
import {scan, type ScanReport} from '../../scan/index.js'
import {buildScanRequest, type ScanFlags} from '../../scan/options.js'
import {HttpError, notImplemented} from '../http.js'
import {body, query, route, type RouteDef} from '../route.js'

const NOT_YET = 'the device inventory (issue 5) is not wired into netmon serve yet'
const pending = (what: string) => async (): Promise<never> => {
  throw notImplemented(what, NOT_YET)
}

/** The CLI's scan flag defaults (src/commands/scan.ts); the body may override each. */
const SCAN_DEFAULTS: ScanFlags = {
  method: 'neighbor,tcp,icmp',
  timeout: '1s',
  retries: 1,
  concurrency: 256,
  'port-timeout': '1s',
  'max-sockets': 1024,
  banners: false,
  'banner-timeout': '2s',
  rdns: true,
  'dns-timeout': '1s',
  register: false,
  'allow-public': false,
  force: false,
}

const scanBody = body({
  targets: z.array(z.string()).optional().meta({description: 'CIDRs, ranges (10.0.0.1-50), addresses or host names; omitted = the machine\'s own subnets'}),
  methods: z.string().optional().meta({description: 'neighbor,tcp,icmp (comma list) or all'}),
  ports: z.string().optional().meta({description: 'TCP ports to scan: a list/ranges, top100, top1000 or all'}),
  timeout: z.string().optional(),
  retries: z.number().int().optional(),
  concurrency: z.number().int().optional(),
  banners: z.boolean().optional(),
  rdns: z.boolean().optional(),
  register: z.boolean().optional().meta({description: 'Also register every found device for bandwidth accounting'}),
  allow_public: z.boolean().optional(),
  force: z.boolean().optional(),
  wait: z.boolean().optional().meta({description: 'Answer with the full scan report when done (like `netmon scan --json`) instead of 202 at once'}),
})

export function inventoryRoutes(): RouteDef[] {
  // One scan at a time per server (each app builds its own routes).
  let running: Promise<ScanReport> | null = null
  return [
    route({
      method: 'POST',
      path: '/api/network/scan',
      operationId: 'scan',
      summary: 'Start a discovery scan (202 at once; follow it with GET /api/network/scan/status), or wait for its report',
      description: 'Targets and options are validated before anything is written (400). One scan at a time per server (409 while one runs).',
      capability: 'inventory',
      cli: 'netmon scan [TARGET...] [--method] [--ports] [--register]',
      body: scanBody,
      status: 202,
      response: z.union([
        z.object({accepted: z.literal(true), status: z.literal('running'), status_url: z.string(), targets: z.array(z.string()).nullable()}),
        z.object({scan: z.object({id: z.number().int(), status: z.string()}).loose(), summary: z.object({}).loose(), hosts: z.array(z.object({ip: z.string()}).loose())}),
      ]),
      run: async ({store, background, log}, {body}) => {
        const flags: ScanFlags = {
          ...SCAN_DEFAULTS,
          ...(body.methods !== undefined ? {method: body.methods} : {}),
          ...(body.timeout !== undefined ? {timeout: body.timeout} : {}),
          ...(body.retries !== undefined ? {retries: body.retries} : {}),
          ...(body.concurrency !== undefined ? {concurrency: body.concurrency} : {}),
          ...(body.ports !== undefined ? {ports: body.ports} : {}),
          ...(body.banners !== undefined ? {banners: body.banners} : {}),
          ...(body.rdns !== undefined ? {rdns: body.rdns} : {}),
          ...(body.register !== undefined ? {register: body.register} : {}),
          ...(body.allow_public !== undefined ? {'allow-public': body.allow_public} : {}),
          ...(body.force !== undefined ? {force: body.force} : {}),
        }
        const req = buildScanRequest(body.targets ?? [], flags)
        if (running) throw new HttpError(409, 'CONFLICT', 'a scan started through this server is still running', 'follow it with GET /api/network/scan/status')
        // scan() validates every target before it asks for the store: the moment it does, the
        // input was good and the scan is under way, so that is when the 202 can go out.
        let accepted!: () => void
        const validated = new Promise<void>((r) => (accepted = r))
        const job = scan(req, {
          openStore: async () => {
            accepted()
            return store
          },
          onNote: (t) => log.info(`scan: ${t}`),
        })
        if (body.wait) return job
        await Promise.race([validated, job])
        running = job
        background('scan', async (signal) => {
          void signal
          try {
            await job
          } finally {
            running = null
          }
        })
        return {accepted: true as const, status: 'running' as const, status_url: '/api/network/scan/status', targets: req.targets}
      },
    }),
    route({
      method: 'GET',
      path: '/api/network/scan/status',
      operationId: 'scanStatus',
      summary: 'The running or last scan: started, progress, hosts found',
      capability: 'inventory',
      cli: 'netmon scan status',
      response: z.object({}).loose(),
      ready: false,
      run: pending('GET /api/network/scan/status'),
    }),
    route({
      method: 'GET',
      path: '/api/network/devices',
      operationId: 'listDevices',
      summary: 'Every device ever seen, with online/offline, vendor, known flag',
      capability: 'inventory',
      cli: 'netmon devices list',
      query: query({}),
      response: z.object({}).loose(),
      ready: false,
      run: pending('GET /api/network/devices'),
    }),
    route({
      method: 'GET',
      path: '/api/network/history/{mac}',
      operationId: 'deviceHistory',
      summary: 'IP history and events of one device',
      capability: 'inventory',
      cli: 'netmon devices history MAC',
      params: z.strictObject({mac: z.string()}),
      response: z.object({}).loose(),
      ready: false,
      run: pending('GET /api/network/history/{mac}'),
    }),
    route({
      method: 'GET',
      path: '/api/network/timeline',
      operationId: 'timeline',
      summary: 'Inventory events over time (new, online, offline, ip_changed, …)',
      capability: 'inventory',
      cli: 'netmon devices timeline',
      query: query({}),
      response: z.object({}).loose(),
      ready: false,
      run: pending('GET /api/network/timeline'),
    }),
    route({
      method: 'GET',
      path: '/api/network/stats',
      operationId: 'inventoryStats',
      summary: 'Devices total/online/offline/known/new in the last 24 h, last scan',
      capability: 'inventory',
      cli: 'netmon stats',
      response: z.object({}).loose(),
      ready: false,
      run: pending('GET /api/network/stats'),
    }),
    route({
      method: 'POST',
      path: '/api/network/devices/{mac}/promote',
      operationId: 'promoteDevice',
      summary: 'Mark a device as known, optionally with a friendly name',
      capability: 'inventory',
      cli: 'netmon devices promote MAC [--name]',
      params: z.strictObject({mac: z.string()}),
      body: body({name: z.string().optional()}),
      response: z.object({}).loose(),
      ready: false,
      run: pending('POST /api/network/devices/{mac}/promote'),
    }),
  ]
}

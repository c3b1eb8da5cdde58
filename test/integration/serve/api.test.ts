/**
 * Issue 10, acceptance 1 and 2: a real `netmon serve` process over a seeded store. Every route
 * answers with its documented shape (the route's zod response schema) and the same JSON as the
 * CLI command it mirrors, run as a separate process on the same store; POSTs write through the
 * same code as the CLI (the same writes via HTTP and via the CLI on twin stores give equal
 * results); /metrics parses as Prometheus text and its numbers equal `bandwidth stats --json`.
 * Network traffic: loopback only (127.0.0.1).
 */
import {writeFileSync} from 'node:fs'
import net from 'node:net'
import {join} from 'node:path'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {z} from 'zod'
import {seedDeviceStats} from '../../../src/core/serve/routes/bandwidth.js'
import {allRoutes} from '../../../src/core/serve/routes/index.js'
import {runCli, tempStore} from '../../support/cli.js'
import {http, startServe, type ServeProc} from './harness.js'
import {DEVICES, seedStore} from './seed.js'

const tmp = tempStore('netmon-serve-api-')
const db = join(tmp.dir, 'netmon.db')
let srv: ServeProc
let now: number
const routes = allRoutes()
const covered = new Set<string>()

beforeAll(async () => {
  ;({now} = await seedStore(db))
  srv = await startServe(db)
}, 60_000)

afterAll(async () => {
  const r = await srv?.stop()
  // Graceful stop on SIGTERM: exit 0.
  expect(r?.code).toBe(0)
  tmp.cleanup()
})

/** The route definition for METHOD PATH-PATTERN; marks it covered. */
function def(method: string, pattern: string) {
  const d = routes.find(r => r.method === method && r.path === pattern)
  if (!d) throw new Error(`no route ${method} ${pattern}`)
  covered.add(`${method} ${pattern}`)
  return d
}

function expectShape(schema: z.ZodType, value: unknown, what: string) {
  const r = schema.safeParse(value)
  if (!r.success) throw new Error(`${what}: response does not match its documented shape: ${JSON.stringify(r.error.issues.slice(0, 3))}`)
}

/** Drops keys whose value depends on the moment of the call (ages, uptimes, "generated"). */
function stable(v: unknown, drop: string[]): unknown {
  if (Array.isArray(v)) return v.map(x => stable(x, drop))
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v)
        .filter(([k]) => !drop.includes(k))
        .map(([k, x]) => [k, stable(x, drop)]),
    )
  return v
}

/** Key structure of a JSON value (types of leaves), for answers that differ only in measured values. */
function shapeOf(v: unknown): unknown {
  if (Array.isArray(v)) return v.length ? [shapeOf(v[0])] : []
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map(k => [k, shapeOf((v as Record<string, unknown>)[k])]),
    )
  return v === null ? 'null' : typeof v
}

const iso = (ms: number) => new Date(ms).toISOString()

describe('GET routes equal the CLI --json on the same store', () => {
  // fromCli: a documented difference from the command's JSON (docs/SERVE.md, differences from the seeds).
  const cases: {method: 'GET'; pattern: string; path: () => string; cli: () => string[]; drop?: string[]; fromCli?: (j: any) => unknown}[] = [
    {method: 'GET', pattern: '/api/network/bandwidth/stats', path: () => '/api/network/bandwidth/stats', cli: () => ['bandwidth', 'stats']},
    {
      method: 'GET',
      pattern: '/api/network/bandwidth/stats',
      path: () => `/api/network/bandwidth/stats?mac=${encodeURIComponent('aa-bb-cc-dd-ee-02')}`,
      cli: () => ['bandwidth', 'stats', '--mac', 'aa-bb-cc-dd-ee-02'],
      // The seed's peak.timestamp is epoch seconds; the ISO form moves to timestamp_iso.
      fromCli: seedDeviceStats,
    },
    {method: 'GET', pattern: '/api/network/bandwidth/top-talkers', path: () => '/api/network/bandwidth/top-talkers', cli: () => ['bandwidth', 'top']},
    {
      method: 'GET',
      pattern: '/api/network/bandwidth/top-talkers',
      path: () => `/api/network/bandwidth/top-talkers?limit=2&sort_by=upload&since=${iso(now - 6 * 3_600_000)}&until=${iso(now - 3_600_000)}`,
      cli: () => ['bandwidth', 'top', '--limit', '2', '--sort', 'upload', '--since', iso(now - 6 * 3_600_000), '--until', iso(now - 3_600_000)],
    },
    {
      method: 'GET',
      pattern: '/api/network/bandwidth/history/{mac}',
      path: () => `/api/network/bandwidth/history/AA:BB:CC:DD:EE:01?since=${now - 30 * 3_600_000}&until=${now}&resolution=1h`,
      cli: () => ['bandwidth', 'history', '--mac', 'AA:BB:CC:DD:EE:01', '--since', String(now - 30 * 3_600_000), '--until', String(now), '--resolution', '1h'],
    },
    {
      method: 'GET',
      pattern: '/api/network/bandwidth/history',
      path: () => `/api/network/bandwidth/history?since=${now - 30 * 3_600_000}&until=${now}&resolution=1h`,
      cli: () => ['bandwidth', 'history', '--since', String(now - 30 * 3_600_000), '--until', String(now), '--resolution', '1h'],
    },
    {method: 'GET', pattern: '/api/network/devices', path: () => '/api/network/devices', cli: () => ['devices', 'list']},
    {method: 'GET', pattern: '/api/network/devices', path: () => '/api/network/devices?known=true', cli: () => ['devices', 'list', '--known']},
    {method: 'GET', pattern: '/api/network/devices/{mac}', path: () => '/api/network/devices/127.0.0.1', cli: () => ['devices', 'show', '127.0.0.1']},
    {method: 'GET', pattern: '/api/network/history/{mac}', path: () => '/api/network/history/127.0.0.1', cli: () => ['devices', 'history', '127.0.0.1']},
    {
      method: 'GET',
      pattern: '/api/network/timeline',
      path: () => `/api/network/timeline?since=${iso(now - 86_400_000)}`,
      cli: () => ['devices', 'timeline', '--since', iso(now - 86_400_000)],
    },
    {method: 'GET', pattern: '/api/network/stats', path: () => '/api/network/stats', cli: () => ['stats'], drop: ['generated', 'generated_ms']},
    {method: 'GET', pattern: '/api/network/scan/status', path: () => '/api/network/scan/status?hosts=true', cli: () => ['scan', 'status', '--hosts']},
    // The map reads this machine's routes and neighbor table too: the same machine answers both.
    {method: 'GET', pattern: '/api/network/map', path: () => '/api/network/map', cli: () => ['devices', 'map'], drop: ['generated', 'generated_ms']},
    {
      method: 'GET',
      pattern: '/api/network/latency/{ip}',
      path: () => `/api/network/latency/127.0.0.1?since=${now - 86_400_000}&until=${now}&resolution=raw`,
      cli: () => ['latency', 'history', '127.0.0.1', '--since', String(now - 86_400_000), '--until', String(now), '--resolution', 'raw'],
    },
    {method: 'GET', pattern: '/meters', path: () => '/meters', cli: () => ['meters', 'list']},
    {method: 'GET', pattern: '/meters/{id}/network_stats', path: () => '/meters/m1/network_stats', cli: () => ['meters', 'stats', 'm1']},
    {
      method: 'GET',
      pattern: '/meters/{id}/network_stats',
      path: () => `/meters/${encodeURIComponent('Meter 2')}/network_stats?limit=5`,
      cli: () => ['meters', 'stats', 'Meter 2', '--limit', '5'],
    },
    {
      method: 'GET',
      pattern: '/meters/{id}/readings',
      path: () => `/meters/m2/readings?limit=7&since=${now - 600_000}`,
      cli: () => ['meters', 'readings', 'm2', '--limit', '7', '--since', String(now - 600_000)],
    },
    {
      method: 'GET',
      pattern: '/api/bridge/status',
      path: () => '/api/bridge/status',
      cli: () => ['bridge', 'status'],
      drop: ['heartbeat_age_ms', 'uptime_seconds'],
    },
  ]

  it('every case: same JSON as the command, and the documented shape', async () => {
    // The CLI processes run two at a time (2-core machines); HTTP answers are fetched alongside.
    const results: {name: string; cli: unknown; api: unknown; status: number}[] = []
    for (let i = 0; i < cases.length; i += 2) {
      await Promise.all(
        cases.slice(i, i + 2).map(async c => {
          const d = def(c.method, c.pattern)
          const [cli, api] = await Promise.all([runCli([...c.cli(), '--json'], {db}), http(srv.url + c.path())])
          expect(cli.code, `${c.cli().join(' ')}: ${cli.stderr}`).toBe(0)
          expectShape(d.response, api.json, c.path())
          const expected = c.fromCli ? c.fromCli(cli.json) : cli.json
          results.push({name: c.path(), cli: stable(expected, c.drop ?? []), api: stable(api.json, c.drop ?? []), status: api.status})
        }),
      )
    }
    for (const r of results) {
      expect(r.status, r.name).toBe(200)
      expect(r.api, r.name).toEqual(r.cli)
    }
    // The seed's acceptance example survives the trip: desktop, laptop, phone by total.
    const top = results.find(r => r.name === '/api/network/bandwidth/top-talkers')!.api as {top_talkers: {hostname: string}[]}
    expect(top.top_talkers.map(t => t.hostname)).toEqual(['desktop', 'laptop', 'phone'])
  }, 120_000)

  it('GET /api/network/latency lists each measured address with its latest run', async () => {
    const d = def('GET', '/api/network/latency')
    const r = await http(`${srv.url}/api/network/latency`)
    expect(r.status).toBe(200)
    expectShape(d.response, r.json, '/api/network/latency')
    expect(r.json.targets.map((t: {ip: string}) => t.ip)).toEqual(['127.0.0.2', '127.0.0.1'])
    // The latest run of 127.0.0.1 is the one with a lost probe (seed.ts).
    const lo = r.json.targets.find((t: {ip: string}) => t.ip === '127.0.0.1')
    expect(lo).toMatchObject({runs: 3, last: {sent: 5, received: 4, loss_pct: 20}})
    expect(lo.device).toMatchObject({name: 'this machine'})
  })

  it("unknown things are 404 with the command's message", async () => {
    for (const [path, text] of [
      ['/api/network/bandwidth/stats?mac=AA:BB:CC:DD:EE:99', 'no device AA:BB:CC:DD:EE:99'],
      ['/api/network/history/AA:BB:CC:DD:EE:99', 'AA:BB:CC:DD:EE:99'],
      ['/meters/nosuch/network_stats', 'no meter "nosuch"'],
      ['/api/network/scan/status?id=999', 'no scan #999'],
    ]) {
      const r = await http(srv.url + path)
      expect(r.status, path).toBe(404)
      expect(r.json.error.message, path).toContain(text)
    }
  })
})

describe('POST routes write through the same code as the CLI', () => {
  const twin = tempStore('netmon-serve-twin-')
  afterAll(() => twin.cleanup())
  const mac = 'AA:BB:CC:DD:EE:0F'
  const samples = [
    {mac, sent: 1000, received: 5000, ts: Date.now() - 120_000},
    {mac, sent: 3000, received: 7000, ts: Date.now() - 60_000},
    {mac: 'aa-bb-cc-dd-ee-10', bytes_sent: 10, bytes_received: 20, ts: Date.now() - 30_000},
  ]
  const drop = ['first_seen', 'first_seen_ms', 'last_seen', 'last_seen_ms', 'since_ts']

  it('register and sample: HTTP on the served store = CLI on a twin store', async () => {
    const reg = await http(`${srv.url}/api/network/bandwidth/register`, {method: 'POST', json: {ip: '10.9.0.15', mac: 'aa:bb:cc:dd:ee:0f', hostname: 'tv'}})
    expect(reg.status).toBe(200)
    expectShape(def('POST', '/api/network/bandwidth/register').response, reg.json, 'register')
    const regCli = await runCli(['bandwidth', 'register', '--ip', '10.9.0.15', '--mac', 'aa:bb:cc:dd:ee:0f', '--hostname', 'tv', '--json'], {db: twin.db})
    expect(regCli.code, regCli.stderr).toBe(0)
    expect(stable(reg.json, drop)).toEqual(stable(regCli.json, drop))

    const smp = await http(`${srv.url}/api/network/bandwidth/sample`, {method: 'POST', json: {samples, auto_register: true}})
    expect(smp.status, smp.text).toBe(200)
    expectShape(def('POST', '/api/network/bandwidth/sample').response, smp.json, 'sample')
    const smpCli = await runCli(['bandwidth', 'sample', '--from', '-', '--auto-register', '--json'], {
      db: twin.db,
      input: samples.map(s => JSON.stringify(s)).join('\n') + '\n',
    })
    expect(smpCli.code, smpCli.stderr).toBe(0)
    // auto_pruned says whether this write also ran the hourly retention pass: store history, not the sample.
    expect(stable(smp.json, ['auto_pruned'])).toEqual(stable(smpCli.json, ['auto_pruned']))
    expect(smp.json).toMatchObject({samples_recorded: 3, bytes_sent: 4010, bytes_received: 12020, registered: ['AA:BB:CC:DD:EE:10']})

    // Single-sample form (the seed's add_sample body).
    const one = await http(`${srv.url}/api/network/bandwidth/sample`, {method: 'POST', json: {mac, bytes_sent: 1, bytes_received: 2}})
    expect(one.status).toBe(200)
    expect(one.json).toMatchObject({samples_recorded: 1, bytes_sent: 1, bytes_received: 2})

    // What the CLI reads back from the served store includes every byte.
    const after = await runCli(['bandwidth', 'stats', '--mac', mac, '--json'], {db})
    expect(after.json.device.total).toMatchObject({bytes_sent: 4001, bytes_received: 12002})
  }, 60_000)

  it("promote: HTTP answer = the command's, and the CLI sees the change", async () => {
    const d = def('POST', '/api/network/devices/{mac}/promote')
    const r = await http(`${srv.url}/api/network/devices/${encodeURIComponent('aa-bb-cc-dd-ee-01')}/promote`, {method: 'POST', json: {name: 'Laptop'}})
    expect(r.status, r.text).toBe(200)
    expectShape(d.response, r.json, 'promote')
    expect(r.json).toMatchObject({changed: true, device: {mac: 'AA:BB:CC:DD:EE:01', name: 'Laptop', known: true}})
    // Same request again through the CLI: nothing changes, same JSON otherwise.
    const cli = await runCli(['devices', 'promote', 'AA:BB:CC:DD:EE:01', '--name', 'Laptop', '--json'], {db})
    expect(cli.code, cli.stderr).toBe(0)
    expect({...cli.json, changed: true}).toEqual(r.json)
    const bad = await http(`${srv.url}/api/network/devices/AA:BB:CC:DD:EE:01/promote`, {method: 'POST', json: {name: ''}})
    expect(bad.status).toBe(400)
  })

  it('latency measure: a TCP run to a local listener, stored and read back by the CLI', async () => {
    const d = def('POST', '/api/network/latency/measure')
    const server = net.createServer(s => s.destroy())
    await new Promise<void>(r => server.listen(0, '127.0.0.1', () => r()))
    const port = (server.address() as net.AddressInfo).port
    try {
      const r = await http(`${srv.url}/api/network/latency/measure`, {
        method: 'POST',
        json: {hosts: ['127.0.0.1'], method: 'tcp', port, count: 3, interval: '50ms', timeout: 500},
      })
      expect(r.status, r.text).toBe(200)
      expectShape(d.response, r.json, 'measure')
      expect(r.json.hosts[0]).toMatchObject({host: '127.0.0.1', sent: 3, received: 3, loss_pct: 0, method: 'tcp', port})
      const runId = r.json.hosts[0].run_id
      expect(runId).toBeGreaterThan(0)
      const [hist, cli] = await Promise.all([
        runCli(['latency', 'history', '127.0.0.1', '--json'], {db}),
        runCli(['latency', '127.0.0.1', '--method', 'tcp', '--port', String(port), '--count', '3', '--interval', '50ms', '--timeout', '500ms', '--json'], {db}),
      ])
      expect(hist.json.runs.map((x: {id: number}) => x.id)).toContain(runId)
      // Same command, same shape (the RTTs differ, being measured twice).
      expect(cli.code, cli.stderr).toBe(0)
      expect(shapeOf(r.json)).toEqual(shapeOf(cli.json))
    } finally {
      server.close()
    }
  }, 60_000)

  it('scan: wait=true returns the report of `scan --json`; without it 202 and the status route follows it', async () => {
    const d = def('POST', '/api/network/scan')
    const body = {targets: ['127.0.0.1'], methods: 'tcp', rdns: false}
    const r = await http(`${srv.url}/api/network/scan`, {method: 'POST', json: {...body, wait: true}})
    expect(r.status, r.text).toBe(200) // finished, not merely accepted
    expectShape(d.response, r.json, 'scan wait')
    expect(r.json.hosts.map((h: {ip: string}) => h.ip)).toEqual(['127.0.0.1'])
    const cli = await runCli(['scan', '127.0.0.1', '--method', 'tcp', '--no-rdns', '--json'], {db})
    expect(cli.code, cli.stderr).toBe(0)
    expect(shapeOf(stable(r.json, ['warnings']))).toEqual(shapeOf(stable(cli.json, ['warnings'])))

    const a = await http(`${srv.url}/api/network/scan`, {method: 'POST', json: body})
    expect(a.status, a.text).toBe(202)
    expect(a.json).toMatchObject({accepted: true, status_url: expect.stringContaining('/api/network/scan/status')})
    expect(a.json.scan_id).toBeGreaterThan(cli.json.scan.id)
    let st: {scan: {id: number; status: string}}
    for (let i = 0; ; i++) {
      st = (await http(srv.url + a.json.status_url)).json
      if (st.scan.status !== 'running' || i > 100) break
      await new Promise(res => setTimeout(res, 100))
    }
    expect(st.scan).toMatchObject({id: a.json.scan_id, status: 'done'})
  }, 60_000)

  it('bad scan targets → 400 and no scan row', async () => {
    const before = (await http(`${srv.url}/api/network/scan/status`)).json.scan.id
    for (const targets of [['10.0.0.0/33'], ['999.1.1.1'], ['8.0.0.0/8'], []]) {
      const r = await http(`${srv.url}/api/network/scan`, {method: 'POST', json: {targets, methods: 'tcp'}})
      expect(r.status, JSON.stringify(targets)).toBe(400)
    }
    expect((await http(`${srv.url}/api/network/scan/status`)).json.scan.id).toBe(before)
  })
})

describe('/metrics', () => {
  it('parses as Prometheus text and equals `bandwidth stats --json`', async () => {
    const [m, cli] = await Promise.all([http(`${srv.url}/metrics`), runCli(['bandwidth', 'stats', '--json'], {db})])
    expect(m.status).toBe(200)
    expect(m.headers.get('content-type')).toContain('text/plain')
    const families = parsePrometheusTextFormat(m.text) as {
      name: string
      type: string
      metrics: {value?: string; labels?: Record<string, string>; quantiles?: Record<string, string>; count?: string; sum?: string}[]
    }[]
    const fam = (name: string) => {
      const f = families.find(x => x.name === name)
      if (!f) throw new Error(`no metric family ${name}`)
      return f
    }
    const one = (name: string) => Number(fam(name).metrics[0]!.value)
    const s = cli.json
    expect(fam('netmon_device_sent_bytes_total').type).toBe('COUNTER')
    expect(fam('netmon_network_total_bits_per_second').type).toBe('GAUGE')
    expect(one('netmon_bandwidth_devices')).toBe(s.devices_count)
    expect(one('netmon_network_sent_bytes_total')).toBe(s.network.bytes_sent)
    expect(one('netmon_network_received_bytes_total')).toBe(s.network.bytes_received)
    expect(one('netmon_network_upload_bits_per_second')).toBe(s.network.upload_bps)
    expect(one('netmon_network_download_bits_per_second')).toBe(s.network.download_bps)
    expect(one('netmon_network_total_bits_per_second')).toBe(s.network.total_bps)
    for (const d of s.devices as {mac: string; bytes_sent: number; bytes_received: number; current_bps: number}[]) {
      const by = (name: string) => Number(fam(name).metrics.find(x => x.labels?.mac === d.mac)?.value)
      expect(by('netmon_device_sent_bytes_total'), d.mac).toBe(d.bytes_sent)
      expect(by('netmon_device_received_bytes_total'), d.mac).toBe(d.bytes_received)
      expect(by('netmon_device_current_bits_per_second'), d.mac).toBe(d.current_bps)
    }
    expect(fam('netmon_device_sent_bytes_total').metrics.length).toBe(s.devices.length)
    // The seeded devices are among them, with their labels.
    expect(fam('netmon_device_sent_bytes_total').metrics.map(x => x.labels?.hostname)).toEqual(expect.arrayContaining(DEVICES.map(d => d.hostname)))

    // Latency summary of 127.0.0.2's latest run (seed: 12.5, 14.1, 13.2, 40.3, 12.9 ms).
    expect(fam('netmon_latency_rtt_seconds').type).toBe('SUMMARY')
    // parse-prometheus-text-format folds every series of a summary family into one and keeps the
    // labels of none, so one target's series is parsed on its own, its identifying labels removed.
    const target = m.text
      .split('\n')
      .filter(l => l.startsWith('# TYPE netmon_latency_rtt_seconds ') || (l.startsWith('netmon_latency_rtt_seconds') && l.includes('ip="127.0.0.2"')))
      .map(l => l.replace(/ip="127\.0\.0\.2",method="tcp",?/, '').replace('{}', ''))
    expect(target.length).toBe(6)
    const l2 = (parsePrometheusTextFormat(target.join('\n') + '\n') as typeof families)[0]!.metrics[0]!
    expect(Number(l2.quantiles!['0'])).toBe(0.0125)
    expect(Number(l2.quantiles!['0.5'])).toBe(0.0132)
    expect(Number(l2.quantiles!['1'])).toBe(0.0403)
    expect(Number(l2.count)).toBe(5)
    expect(Number(l2.sum)).toBeCloseTo((12.5 + 14.1 + 13.2 + 40.3 + 12.9) / 1000, 6)
    // Loss and grade per address = the latest run the latency listing shows.
    const targets = (await http(`${srv.url}/api/network/latency`)).json.targets as {ip: string; last: {loss_pct: number; grade: string}}[]
    expect(targets.length).toBe(2)
    for (const t of targets) {
      expect(Number(fam('netmon_latency_loss_ratio').metrics.find(x => x.labels?.ip === t.ip)?.value), t.ip).toBe(t.last.loss_pct / 100)
      expect(fam('netmon_latency_grade').metrics.find(x => x.labels?.ip === t.ip)?.labels?.grade, t.ip).toBe(t.last.grade)
    }

    // Bridge counters and outbox depth, as `bridge status` has them.
    const b = await runCli(['bridge', 'status', '--json'], {db})
    expect(one('netmon_bridge_outbox_depth')).toBe(b.json.outbox.depth)
    expect(one('netmon_bridge_up')).toBe(b.json.running ? 1 : 0)
    const polls = fam('netmon_meter_polls_total').metrics
    for (const mtr of b.json.meters as {id: string; polls: number}[]) expect(Number(polls.find(x => x.labels?.meter === mtr.id)?.value)).toBe(mtr.polls)
    const dlms = fam('netmon_meter_dlms_requests_total').metrics.find(x => x.labels?.meter === 'm1')
    expect(Number(dlms?.value)).toBe(30 * 60) // 30 rows × 60 requests (seed.ts)
    expect(families.find(x => x.name === 'netmon_scrape_error')).toBeUndefined()
  }, 60_000)
})

describe('the OpenAPI document', () => {
  it('describes every route, generated from the zod schemas', async () => {
    const r = await http(`${srv.url}/openapi.json`)
    expect(r.status).toBe(200)
    expect(r.json.openapi).toBe('3.1.0')
    for (const d of routes) {
      const op = r.json.paths[d.path]?.[d.method.toLowerCase()]
      expect(op, `${d.method} ${d.path}`).toBeDefined()
      expect(op.responses[String(d.status ?? 200)].content['application/json'].schema).toBeTypeOf('object')
    }
    const top = r.json.paths['/api/network/bandwidth/top-talkers'].get
    expect(top.parameters.map((p: {name: string}) => p.name)).toEqual(['limit', 'sort_by', 'since', 'until'])
    expect(top.parameters.find((p: {name: string}) => p.name === 'sort_by').schema.enum).toEqual(['total', 'upload', 'download', 'current'])
    expect(r.json.paths['/api/network/bandwidth/register'].post.requestBody.content['application/json'].schema.required).toEqual(['ip', 'mac'])
  })
})

describe('alerts (issue 16)', () => {
  /** Alerts written by `alerts check` (a separate process, the served store): firing, pending, resolved. */
  const check = async (rules: string) => {
    const f = join(tmp.dir, `rules-${Math.random().toString(36).slice(2)}.yaml`)
    writeFileSync(f, rules)
    const r = await runCli(['alerts', 'check', '--rules', f, '--json'], {db})
    expect(r.json, r.stderr).toBeDefined()
    return r.json
  }

  it('GET /api/alerts?state= equals `alerts list --json`; POST ack = `alerts ack`; /metrics netmon_alerts_firing', async () => {
    const first = await check(`rules:
  - {name: busy, kind: bandwidth_usage, window: rolling_24h, above: 1B, severity: critical}
  - {name: slow-burn, kind: bandwidth_usage, window: rolling_24h, above: 1B, for: 1h, severity: info}
  - {name: gone, kind: bandwidth_usage, window: rolling_24h, above: 1B, severity: warning}
`)
    // Every device with traffic in the last 24 h (the seed's, and those the tests above registered).
    const n = first.firing_count / 2
    expect(n).toBeGreaterThanOrEqual(DEVICES.length)
    expect(first.rules.map((x: {rule: string; matching: number}) => [x.rule, x.matching])).toEqual([
      ['busy', n],
      ['slow-burn', n],
      ['gone', n],
    ])
    // gone's condition no longer holds: its alerts resolve.
    expect((await check('rules: [{name: gone, kind: bandwidth_usage, window: rolling_24h, above: 1000TB, severity: warning}]\n')).firing_count).toBe(0)

    const list = def('GET', '/api/alerts')
    const byState: Record<string, any[]> = {}
    for (const state of [undefined, 'firing', 'pending', 'resolved']) {
      const [h, c] = await Promise.all([
        http(`${srv.url}/api/alerts${state ? `?state=${state}` : ''}`),
        runCli(['alerts', 'list', '--json', ...(state ? ['--state', state] : [])], {db}),
      ])
      expect(h.status, h.text).toBe(200)
      expectShape(list.response, h.json, `GET /api/alerts?state=${state}`)
      expect(h.json, String(state)).toEqual(c.json)
      byState[state ?? 'all'] = h.json.alerts
    }
    expect(byState.all).toHaveLength(3 * n)
    expect(new Set(byState.firing!.map(a => `${a.rule}/${a.state}`))).toEqual(new Set(['busy/firing']))
    expect(new Set(byState.pending!.map(a => `${a.rule}/${a.state}`))).toEqual(new Set(['slow-burn/pending']))
    expect(new Set(byState.resolved!.map(a => `${a.rule}/${a.state}`))).toEqual(new Set(['gone/resolved']))
    expect(byState.firing).toHaveLength(n)
    const bad = await http(`${srv.url}/api/alerts?state=open`)
    expect(bad.status).toBe(400)
    expect(bad.json.error.message).toMatch(/state.*expected one of pending, firing, resolved/)

    // /metrics: one gauge per rule and severity; 0 where nothing fires.
    const m = await http(`${srv.url}/metrics`)
    const fam = (parsePrometheusTextFormat(m.text) as {name: string; type: string; metrics: {value: string; labels: Record<string, string>}[]}[]).find(
      f => f.name === 'netmon_alerts_firing',
    )
    expect(fam?.type).toBe('GAUGE')
    expect(Object.fromEntries(fam!.metrics.map(x => [`${x.labels.rule}/${x.labels.severity}`, Number(x.value)]))).toEqual({
      'busy/critical': n,
      'slow-burn/info': 0,
      'gone/warning': 0,
    })

    // Ack through HTTP: the command's JSON, the history shows it (alerts show), the CLI list agrees.
    const ack = def('POST', '/api/alerts/{id}/ack')
    const id = byState.firing![0]!.id
    const r = await http(`${srv.url}/api/alerts/${id}/ack`, {method: 'POST', json: {comment: 'on it'}})
    expect(r.status, r.text).toBe(200)
    expectShape(ack.response, r.json, 'POST ack')
    expect(r.json).toMatchObject({id, state: 'firing', acked: true, ack_comment: 'on it'})
    const shown = await runCli(['alerts', 'show', String(id), '--json'], {db})
    expect(stable(shown.json, ['events'])).toEqual(r.json)
    expect(shown.json.events.at(-1)).toMatchObject({kind: 'ack', note: 'on it'})
    // An empty body is fine; an unknown id is 404; a malformed one or an unknown field 400.
    expect((await http(`${srv.url}/api/alerts/${id}/ack`, {method: 'POST'})).status).toBe(200)
    const missing = await http(`${srv.url}/api/alerts/999999/ack`, {method: 'POST', json: {}})
    expect(missing.status).toBe(404)
    expect(missing.json.error.message).toBe('no alert with id 999999')
    expect((await http(`${srv.url}/api/alerts/x1/ack`, {method: 'POST', json: {}})).status).toBe(400)
    expect((await http(`${srv.url}/api/alerts/${id}/ack`, {method: 'POST', json: {coment: 'typo'}})).status).toBe(400)
  })
})

describe('coverage of this file', () => {
  it('every route of the server was exercised above', () => {
    const missing = routes.map(r => `${r.method} ${r.path}`).filter(k => !covered.has(k))
    expect(missing).toEqual([])
  })
})

/**
 * Issue 17 "Time zones and names": one device resolver behind every command that takes a device
 * (devices/resolve.ts). A real store file, the built CLI spawned as a user runs it, a real
 * `netmon serve` for the API and /metrics. Data are hand-built NDJSON samples on whole 5-minute
 * buckets a few hours back from the clock (test/support/clock.ts), so nothing ages out.
 *
 * Devices (MACs in this helper's own 10.77.22.0/24 plan; no traffic is sent anywhere):
 *   A  AA:BB:CC:22:00:01  laptop.lan  10.77.22.10 → moved to 10.77.22.20 (10.77.22.10 is a former IP)
 *   B  AA:BB:CC:22:00:02  printer     10.77.22.11, promoted as "office printer"
 *   C  AA:BB:CC:22:00:03  nas         10.77.22.12 ┐ one hostname, two devices: "nas" is ambiguous
 *   D  AA:BB:CC:22:00:04  nas         10.77.22.13 ┘
 *   E  AA:BB:CC:22:00:05  tv          10.77.22.14, promoted as `Bob's "big" TV \ den` (label escaping)
 */
import {createServer, type AddressInfo} from 'node:net'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {HOUR, MINUTE} from '../../support/clock.js'
import {http, startServe, type ServeProc} from '../serve/harness.js'

const t = tempStore('netmon-resolve-')
afterAll(() => t.cleanup())

const A = 'AA:BB:CC:22:00:01'
const B = 'AA:BB:CC:22:00:02'
const C = 'AA:BB:CC:22:00:03'
const D = 'AA:BB:CC:22:00:04'
const E = 'AA:BB:CC:22:00:05'
const TV = 'Bob\'s "big" TV \\ den'
const HOSTS: Record<string, [string, string]> = {
  [A]: ['10.77.22.10', 'laptop.lan'],
  [B]: ['10.77.22.11', 'printer'],
  [C]: ['10.77.22.12', 'nas'],
  [D]: ['10.77.22.13', 'nas'],
  [E]: ['10.77.22.14', 'tv'],
}

// Three hours of samples ending at a 5-minute edge an hour back: each device reports every 5
// minutes at its own offset inside the bucket (devices never sample at the same instant).
const STEP = 5 * MINUTE
const END = Math.floor((Date.now() - HOUR) / STEP) * STEP
const START = END - 3 * HOUR
interface Sample {
  mac: string
  ts: number
  sent: number
  received: number
}
const samples: Sample[] = []
Object.keys(HOSTS).forEach((mac, i) => {
  for (let ts = START + (i + 1) * 17_000; ts < END; ts += STEP) {
    const k = Math.floor((ts - START) / STEP)
    samples.push({mac, ts, sent: 1000 * (i + 1) + 37 * k, received: 5000 * (i + 1) + ((k * 7919) % 3000)})
  }
})

let json: (args: string[]) => Promise<any>
beforeAll(async () => {
  json = async args => {
    const r = await runCli([...args, '--json'], {db: t.db})
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
    return r.json
  }
  const lines = samples.map(s => JSON.stringify({mac: s.mac, ip: HOSTS[s.mac]![0], hostname: HOSTS[s.mac]![1], ts: s.ts, sent: s.sent, received: s.received}))
  const r = await runCli(['bandwidth', 'sample', '--from', '-', '--auto-register', '--json'], {db: t.db, input: lines.join('\n') + '\n', timeoutMs: 120_000})
  expect(r.code, r.stderr).toBe(0)
  // A moves: 10.77.22.10 becomes its former address.
  expect((await runCli(['bandwidth', 'register', '--mac', A, '--ip', '10.77.22.20'], {db: t.db})).code).toBe(0)
  expect((await runCli(['devices', 'promote', B, '--name', 'office printer'], {db: t.db})).code).toBe(0)
  expect((await runCli(['devices', 'promote', E, '--name', TV], {db: t.db})).code).toBe(0)
}, 180_000)

describe('one resolver: a MAC, an IP, a former IP, a hostname or the promoted name', () => {
  const forms: [string, string, string][] = [
    ['MAC with colons, lower case', 'aa:bb:cc:22:00:02', B],
    ['MAC with dashes', 'AA-BB-CC-22-00-02', B],
    ['Cisco dotted MAC', 'aabb.cc22.0002', B],
    ['bare hex MAC', 'aabbcc220002', B],
    ['current IP', '10.77.22.11', B],
    ['IPv4-mapped IPv6 of the current IP', '::ffff:10.77.22.11', B],
    ['a former IP (IP history)', '10.77.22.10', A],
    ['the IP it moved to', '10.77.22.20', A],
    ['hostname', 'printer', B],
    ['hostname, other case', 'PRINTER', B],
    ['full hostname', 'laptop.lan', A],
    ['short hostname (first label)', 'laptop', A],
    ['promoted name with a space', 'office printer', B],
    ['promoted name, other case and spaces around', '  Office Printer ', B],
    ['promoted name with quotes and a backslash', TV, E],
  ]
  for (const [what, text, mac] of forms) {
    it(`${what}: ${JSON.stringify(text)} → ${mac}`, async () => {
      expect((await json(['devices', 'show', text])).device.mac).toBe(mac)
    })
  }

  it('the same rule in every command that takes a device', async () => {
    expect((await json(['devices', 'history', 'office printer'])).device.mac).toBe(B)
    expect((await json(['devices', 'history', 'laptop'])).device.mac).toBe(A)
    const tl = await json(['devices', 'timeline', '--device', 'office printer', '--since', '30d'])
    expect(tl.count).toBeGreaterThan(0)
    expect(new Set(tl.events.map((e: any) => e.mac))).toEqual(new Set([B]))
    expect((await json(['bandwidth', 'stats', '--device', 'office printer'])).device.mac).toBe(B)
    // --mac is an alias of --device: the same rule, names too.
    expect((await json(['bandwidth', 'stats', '--mac', 'laptop'])).device.mac).toBe(A)
    expect((await json(['bandwidth', 'stats', '--device', '10.77.22.10'])).device.mac).toBe(A)
    const h = await json(['bandwidth', 'history', '--device', 'office printer', '--since', '5h', '--resolution', '5m'])
    expect(h.device).toMatchObject({mac: B, name: 'office printer'})
    const rep = await json(['bandwidth', 'report', '--hourly', '--device', 'office printer'])
    expect(rep.series).toHaveLength(1)
    expect(rep.series[0].device).toMatchObject({mac: B, name: 'office printer'})
    const top = await json(['bandwidth', 'top', '--by', 'port', '--device', 'office printer'])
    expect(top.device).toMatchObject({mac: B, name: 'office printer'})
    const ex = await runCli(['metrics', 'export', '--what', 'bandwidth', '--device', 'office printer', '--format', 'ndjson'], {db: t.db})
    expect(ex.code, ex.stderr).toBe(0)
    const rows = ex.stdout
      .trim()
      .split('\n')
      .map(l => JSON.parse(l))
    expect(rows.length).toBe(samples.filter(s => s.mac === B).length)
    expect(new Set(rows.map(r => r.mac))).toEqual(new Set([B]))
  })

  it('--device and --mac together are a usage error', async () => {
    const r = await runCli(['bandwidth', 'stats', '--device', 'laptop', '--mac', A], {db: t.db})
    expect(r.code).toBe(2)
  })

  it('an ambiguous hostname exits 2 with one line listing both devices (MAC, IP, name), and writes nothing', async () => {
    const before = await json(['devices', 'list'])
    for (const args of [
      ['devices', 'show', 'nas'],
      ['devices', 'promote', 'nas', '--name', 'storage'],
      ['bandwidth', 'stats', '--device', 'NAS'],
      ['bandwidth', 'reset', '--device', 'nas', '--yes'],
      ['metrics', 'export', '--what', 'bandwidth', '--device', 'nas'],
    ]) {
      const r = await runCli(args, {db: t.db})
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2)
      expect(r.stdout).toBe('')
      const lines = r.stderr.trim().split('\n')
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(/^Error: "(nas|NAS)" matches 2 devices: /)
      expect(lines[0]).toContain(`${C} 10.77.22.12 "nas"`)
      expect(lines[0]).toContain(`${D} 10.77.22.13 "nas"`)
    }
    const j = await runCli(['devices', 'show', 'nas', '--json'], {db: t.db})
    expect(j.code).toBe(2)
    expect(j.json.error.code).toBe('AMBIGUOUS_DEVICE')
    expect(await json(['devices', 'list'])).toEqual(before)
  })

  it('not found exits 1 with the devices list hint', async () => {
    for (const args of [
      ['devices', 'show', 'kitchen radio'],
      ['bandwidth', 'stats', '--device', 'kitchen radio'],
      ['bandwidth', 'history', '--device', 'AA:BB:CC:22:00:99'],
      ['devices', 'show', '10.77.22.99'],
    ]) {
      const r = await runCli(args, {db: t.db})
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(1)
      expect(r.stderr).toMatch(/^Error: no device .* in the store \(list devices with `netmon devices list`/)
    }
  })

  it('promote keeps one name to one device, and refuses a name that reads as an address', async () => {
    const taken = await runCli(['devices', 'promote', C, '--name', 'OFFICE PRINTER'], {db: t.db})
    expect(taken.code).toBe(2)
    expect(taken.stderr).toMatch(/the name "OFFICE PRINTER" is already given to AA:BB:CC:22:00:02 10\.77\.22\.11 "office printer"/)
    const addr = await runCli(['devices', 'promote', C, '--name', '10.77.22.50'], {db: t.db})
    expect(addr.code).toBe(2)
    expect((await json(['devices', 'show', C])).device.name).toBeNull()
    // Renaming a device to its own name in another case is allowed (it is the same device).
    const same = await json(['devices', 'promote', 'office printer', '--name', 'Office Printer'])
    expect(same.device.name).toBe('Office Printer')
    expect((await json(['devices', 'promote', B, '--name', 'office printer'])).device.name).toBe('office printer')
  })
})

describe('latency history by a device name', () => {
  it('runs linked to the device a promoted name finds (matched_by device); no runs yet: an empty series', async () => {
    // A device at 127.0.0.1 (loopback only) measured with TCP connects to a local listener.
    const srv = createServer(sock => sock.destroy())
    await new Promise<void>(r => srv.listen(0, '127.0.0.1', r))
    const port = (srv.address() as AddressInfo).port
    try {
      expect((await runCli(['bandwidth', 'register', '--mac', 'AA:BB:CC:22:00:06', '--ip', '127.0.0.1', '--hostname', 'loopy'], {db: t.db})).code).toBe(0)
      expect((await runCli(['devices', 'promote', '127.0.0.1', '--name', 'local box'], {db: t.db})).code).toBe(0)
      const empty = await json(['latency', 'history', 'local box'])
      expect(empty.matched_by).toBe('device')
      expect(empty.runs).toEqual([])
      const m = await runCli(['latency', '127.0.0.1', '--method', 'tcp', '--port', String(port), '-c', '2', '-i', '10ms', '--json'], {db: t.db})
      expect(m.code, m.stderr).toBe(0)
      for (const q of ['local box', 'LOOPY']) {
        const h = await json(['latency', 'history', q])
        expect(h.matched_by).toBe('device')
        expect(h.device.mac).toBe('AA:BB:CC:22:00:06')
        expect(h.runs).toHaveLength(1)
        expect(h.summary.sent).toBe(2)
      }
      const amb = await runCli(['latency', 'history', 'nas'], {db: t.db})
      expect(amb.code).toBe(2)
      expect(amb.stderr).toMatch(/"nas" matches 2 devices/)
    } finally {
      srv.close()
    }
  })
})

describe('promoted names in the output', () => {
  it('bandwidth top and stats: a name field in JSON, a name column in the tables', async () => {
    const top = await json(['bandwidth', 'top', '--limit', '10'])
    const byMac = new Map(top.top_talkers.map((x: any) => [x.mac, x]))
    expect((byMac.get(B) as any).name).toBe('office printer')
    expect((byMac.get(A) as any).name).toBeNull()
    const human = await runCli(['bandwidth', 'top'], {db: t.db})
    expect(human.stdout).toMatch(/│ name\s+│ hostname/)
    expect(human.stdout).toContain('office printer')
    const stats = await json(['bandwidth', 'stats'])
    expect(stats.devices.find((d: any) => d.mac === B).name).toBe('office printer')
    expect((await runCli(['bandwidth', 'stats'], {db: t.db})).stdout).toContain('office printer')
    expect((await json(['bandwidth', 'stats', '--device', B])).device.name).toBe('office printer')
    expect((await runCli(['bandwidth', 'stats', '--device', B], {db: t.db})).stdout).toContain('office printer')
  })

  it('metrics export: a name column in the bandwidth and bandwidth-totals datasets', async () => {
    for (const what of ['bandwidth', 'bandwidth-totals']) {
      const r = await runCli(['metrics', 'export', '--what', what, '--format', 'csv'], {db: t.db})
      expect(r.code, r.stderr).toBe(0)
      const [head, ...rows] = r.stdout.trim().split(/\r?\n/)
      const cols = head!.replace(/^\uFEFF/, '').split(',')
      expect(cols).toContain('name')
      const named = rows.filter(l => l.includes(B))
      expect(named.length).toBeGreaterThan(0)
      for (const l of named) expect(l).toContain('office printer')
    }
  })

  describe('netmon serve', () => {
    let srv: ServeProc
    beforeAll(async () => {
      srv = await startServe(t.db)
    }, 30_000)
    afterAll(async () => {
      await srv?.stop()
    })

    it('/metrics: a name label on device series, escaped per the exposition format', async () => {
      const r = await http(`${srv.url}/metrics`)
      expect(r.status).toBe(200)
      // Raw text: the quote and the backslash are escaped.
      expect(r.text).toContain(`name="Bob's \\"big\\" TV \\\\ den"`)
      const fams = parsePrometheusTextFormat(r.text) as {name: string; metrics: {labels?: Record<string, string>; value: string}[]}[]
      const sent = fams.find(f => f.name === 'netmon_device_sent_bytes_total')!.metrics
      expect(sent.find(m => m.labels?.mac === B)!.labels!.name).toBe('office printer')
      expect(sent.find(m => m.labels?.mac === E)!.labels!.name).toBe(TV)
      // No name: no empty label.
      expect(sent.find(m => m.labels?.mac === A)!.labels!.name).toBeUndefined()
    })

    it('API routes that take a device resolve names too', async () => {
      const show = await http(`${srv.url}/api/network/devices/${encodeURIComponent('office printer')}`)
      expect(show.status, show.text).toBe(200)
      expect(show.json.device.mac).toBe(B)
      const stats = await http(`${srv.url}/api/network/bandwidth/stats?device=laptop`)
      expect(stats.status, stats.text).toBe(200)
      expect(stats.json.device.mac).toBe(A)
      const amb = await http(`${srv.url}/api/network/devices/nas`)
      expect(amb.status).toBe(400)
      expect(JSON.stringify(amb.json)).toContain('matches 2 devices')
      const hist = await http(`${srv.url}/api/network/bandwidth/history?since=${START}&until=${END}&resolution=1h`)
      expect(hist.status, hist.text).toBe(200)
      expect(hist.json.device).toBeNull()
    })
  })
})

describe('bandwidth history without a device: the network total', () => {
  for (const resolution of ['5m', '1h']) {
    it(`${resolution}: each bucket is the sum of the per-device buckets, and of the samples in it`, async () => {
      const args = ['--since', String(START), '--until', String(END), '--resolution', resolution]
      const net = await json(['bandwidth', 'history', ...args])
      expect(net.device).toBeNull()
      expect(net.resolution).toBe(resolution)
      const sum = new Map<number, {sent: number; received: number; samples: number}>()
      for (const mac of Object.keys(HOSTS)) {
        const h = await json(['bandwidth', 'history', '--device', mac, ...args])
        for (const p of h.points) {
          const s = sum.get(p.ts_ms) ?? {sent: 0, received: 0, samples: 0}
          sum.set(p.ts_ms, {sent: s.sent + p.bytes_sent, received: s.received + p.bytes_received, samples: s.samples + p.samples})
        }
      }
      // The hand-built samples, bucketed here: an oracle independent of the store's rollups.
      const size = resolution === '5m' ? STEP : HOUR
      const hand = new Map<number, {sent: number; received: number; samples: number}>()
      for (const s of samples) {
        const b = Math.floor(s.ts / size) * size
        const x = hand.get(b) ?? {sent: 0, received: 0, samples: 0}
        hand.set(b, {sent: x.sent + s.sent, received: x.received + s.received, samples: x.samples + 1})
      }
      const got = new Map<number, {sent: number; received: number; samples: number}>(
        net.points.map((p: any) => [p.ts_ms, {sent: p.bytes_sent, received: p.bytes_received, samples: p.samples}]),
      )
      // 36 five-minute buckets; 3 hours not on hour edges: 4 hourly buckets.
      expect(got.size).toBe(resolution === '5m' ? 36 : START % HOUR === 0 ? 3 : 4)
      expect(got).toEqual(sum)
      expect(got).toEqual(hand)
      for (const p of net.points) {
        expect(p.total_bytes).toBe(p.bytes_sent + p.bytes_received)
        expect(p.total_bps).toBe(Math.round(((p.bytes_sent + p.bytes_received) * 8000) / size))
        expect(p.peak_bps).toBeNull()
      }
      expect(net.totals.total_bytes).toBe(samples.reduce((a, s) => a + s.sent + s.received, 0))
    })
  }

  it('auto picks 5m where a device would get raw; --resolution raw needs a device (exit 2)', async () => {
    const net = await json(['bandwidth', 'history', '--since', String(START), '--until', String(START + 2 * HOUR)])
    expect(net.resolution).toBe('5m')
    const raw = await runCli(['bandwidth', 'history', '--resolution', 'raw'], {db: t.db})
    expect(raw.code).toBe(2)
    expect(raw.stderr).toMatch(/^Error: the network total has no raw resolution/)
  })

  it('the chart has start, middle and end labels in local time with the offset, or UTC with --utc', async () => {
    const args = ['bandwidth', 'history', '--since', String(START), '--until', String(END), '--resolution', '5m']
    const local = await runCli(args, {db: t.db, env: {TZ: 'Asia/Kolkata'}})
    expect(local.code, local.stderr).toBe(0)
    expect(local.stdout).toMatch(/^network total \(all devices\) · 5m · /)
    const label = (ms: number, off: number, zone: string) => {
      const d = new Date(ms + off)
      const p = (n: number) => String(n).padStart(2, '0')
      return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())} ${zone}`
    }
    const axis = (out: string) => out.trimEnd().split('\n').at(-1)!
    const ist = 5.5 * HOUR
    const mid = Math.round((START + END) / 2)
    const line = axis(local.stdout)
    expect(line.trim().split(/\s{2,}/)).toEqual([label(START, ist, '+05:30'), label(mid, ist, '+05:30'), label(END, ist, '+05:30')])
    // The labels sit under the chart: the first at the first plotted column (after the y axis).
    const rows = local.stdout.split('\n')
    const yAxis = rows.find(r => /[┤┼]/.test(r))!
    expect(line.indexOf(label(START, ist, '+05:30'))).toBe(Math.max(yAxis.indexOf('┤'), yAxis.indexOf('┼')) + 1)
    const utc = await runCli([...args, '--utc'], {db: t.db, env: {TZ: 'Asia/Kolkata'}})
    expect(
      axis(utc.stdout)
        .trim()
        .split(/\s{2,}/),
    ).toEqual([label(START, 0, 'UTC'), label(mid, 0, 'UTC'), label(END, 0, 'UTC')])
  })
})

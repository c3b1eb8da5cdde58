/**
 * Issue 5 acceptance on a real (namespaced) LAN: 10.77.0.0/24 on a bridge, five hosts with their
 * own MACs, some listening on TCP ports, one that drops everything but ARP. The built CLI scans
 * only that subnet (and the test's own DNS server on 127.0.0.1 for reverse lookups).
 *
 *   .1  the bridge (this machine's side)
 *   .10 h1 B8:27:EB:…  Raspberry Pi Foundation   listens 22 (SSH banner), 8080
 *   .11 h2 02:4E:4D:…  locally administered      listens 1883, 31337
 *   .12 h3 00:1A:11:…  Google                    nothing (RSTs) → moves to .13
 *   .14 h4 DC:A6:32:…  Raspberry Pi Trading      nothing → removed
 *   .15 h5 06:4E:4D:…  locally administered      drops all IP traffic (ARP only)
 */
import {execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {openStore} from '../../../src/core/store/index.js'
import {runCli, tempStore} from '../../support/cli.js'
import {NETNS_SKIP, createLan, type Lan, type LanHost} from '../../support/netns.js'
import {startFakeDns, type FakeDns} from './dns-server.js'

if (NETNS_SKIP) console.warn(`skipping netns scan tests: ${NETNS_SKIP}`)

const SUBNET = '10.77.0.0/24'
const MAC = {
  h1: 'B8:27:EB:00:00:01',
  h2: '02:4E:4D:00:00:02',
  h3: '00:1A:11:00:00:03',
  h4: 'DC:A6:32:00:00:04',
  h5: '06:4E:4D:00:00:05',
}

describe.skipIf(NETNS_SKIP)('scan on a netns LAN (10.77.0.0/24)', () => {
  const t = tempStore('netmon-scan-lan-')
  let lan: Lan
  let dns: FakeDns
  const hosts: Record<string, LanHost> = {}
  let h2Mqtt: ChildProcess
  let bridgeMac: string
  const dnsFlags = () => ['--dns-server', `127.0.0.1:${dns.port}`]
  const byIp = (json: any) => new Map<string, any>(json.hosts.map((h: any) => [h.ip, h]))
  /** Runs the CLI and insists on success, showing its stderr when it fails. */
  const ok = async (args: string[]) => {
    const r = await runCli(args, {db: t.db, timeoutMs: 90_000})
    expect(r.code, `netmon ${args.join(' ')}: ${r.stderr}`).toBe(0)
    return r
  }

  beforeAll(async () => {
    dns = await startFakeDns({'10.77.0.10': 'pi.test.lan', '10.77.0.11': 'broker.test.lan'})
    lan = await createLan({subnet: SUBNET})
    hosts.h1 = lan.addHost({ip: '10.77.0.10', mac: MAC.h1})
    hosts.h2 = lan.addHost({ip: '10.77.0.11', mac: MAC.h2})
    hosts.h3 = lan.addHost({ip: '10.77.0.12', mac: MAC.h3})
    hosts.h4 = lan.addHost({ip: '10.77.0.14', mac: MAC.h4})
    hosts.h5 = lan.addHost({ip: '10.77.0.15', mac: MAC.h5})
    lan.dropAll(hosts.h5)
    await lan.listen(hosts.h1, [{port: 22, banner: 'SSH-2.0-netmon-test\r\n'}, 8080])
    h2Mqtt = await lan.listen(hosts.h2, [1883])
    await lan.listen(hosts.h2, [31337])
    bridgeMac = (JSON.parse(execFileSync('ip', ['-j', 'link', 'show', lan.bridge], {encoding: 'utf8'}))[0].address as string).toUpperCase()
  })

  afterAll(async () => {
    lan?.destroy()
    await dns?.close()
    t.cleanup()
  })

  it('a /24 sweep finds every host with its MAC and vendor flag, the silent one through the neighbor table, and invents none', async () => {
    const r = await ok(['scan', SUBNET, ...dnsFlags(), '--json'])
    expect(r.stderr).toBe('')
    const found = byIp(r.json)
    expect([...found.keys()].sort()).toEqual(['10.77.0.1', '10.77.0.10', '10.77.0.11', '10.77.0.12', '10.77.0.14', '10.77.0.15'])
    expect(r.json.scan.addresses).toBe(254)

    const h = (ip: string) => found.get(ip)
    expect(h('10.77.0.10')).toMatchObject({mac: MAC.h1, mac_kind: 'universal', vendor: 'Raspberry Pi Foundation', hostname: 'pi.test.lan', new: true})
    expect(h('10.77.0.11')).toMatchObject({mac: MAC.h2, mac_kind: 'local', vendor: null, hostname: 'broker.test.lan'})
    expect(h('10.77.0.12')).toMatchObject({mac: MAC.h3, mac_kind: 'universal', vendor: 'Google, Inc.'})
    expect(h('10.77.0.14')).toMatchObject({mac: MAC.h4, mac_kind: 'universal', vendor: 'Raspberry Pi Trading Ltd'})
    expect(h('10.77.0.15')).toMatchObject({mac: MAC.h5, mac_kind: 'local', vendor: null})
    expect(h('10.77.0.1')).toMatchObject({self: true, mac: bridgeMac, interface: lan.bridge})

    // How each was found: the silent host only through the neighbor table; the others by all three.
    expect(h('10.77.0.15').found_by).toEqual(['neighbor'])
    for (const ip of ['10.77.0.10', '10.77.0.11', '10.77.0.12', '10.77.0.14']) expect(h(ip).found_by, ip).toEqual(['neighbor', 'tcp', 'icmp'])
    expect(r.json.summary).toMatchObject({found: 6, new: 6, offline: 0})
    expect(r.json.hosts.every((x: any) => x.ports === undefined)).toBe(true)
    // Reverse lookups went to the test's DNS server (and only for addresses that answered).
    expect(dns.queries).toContain('10.0.77.10.in-addr.arpa')
    expect(dns.queries.some(q => q.startsWith('100.0.77.10'))).toBe(false)
  })

  it('ports: exactly the listeners the test opened, with service names and banners', async () => {
    // The LAN hosts only: .1 is this machine, whose listeners belong to other processes.
    const r = await ok([
      'scan',
      '10.77.0.10-15',
      '--ports',
      'top100,31337',
      '--port-timeout',
      '1s',
      '--banners',
      '--banner-timeout',
      '3s',
      ...dnsFlags(),
      '--json',
    ])
    const found = byIp(r.json)
    const h = (ip: string) => found.get(ip)
    const ports = (ip: string) => h(ip).ports.map((p: any) => p.port)
    expect([...found.keys()]).toEqual(['10.77.0.10', '10.77.0.11', '10.77.0.12', '10.77.0.14', '10.77.0.15'])
    expect(ports('10.77.0.10')).toEqual([22, 8080])
    expect(ports('10.77.0.11')).toEqual([1883, 31337])
    for (const ip of ['10.77.0.12', '10.77.0.14', '10.77.0.15']) expect(ports(ip), ip).toEqual([])
    expect(h('10.77.0.10').ports).toEqual([
      {port: 22, proto: 'tcp', service: 'ssh', banner: 'SSH-2.0-netmon-test'},
      {port: 8080, proto: 'tcp', service: 'http-alt', banner: null},
    ])
    expect(h('10.77.0.11').ports[0]).toMatchObject({port: 1883, service: 'mqtt'})
    expect(r.json.scan.ports_per_host).toBe(101)
    // Stored: devices show lists them.
    const show = await ok(['devices', 'show', MAC.h1, '--json'])
    expect(show.json.ports.map((p: any) => [p.port, p.service, p.banner])).toEqual([
      [22, 'ssh', 'SSH-2.0-netmon-test'],
      [8080, 'http-alt', null],
    ])
  })

  it('the neighbor method alone finds the silent host; tcp alone does not', async () => {
    const n = await ok(['scan', '10.77.0.10-16', '--method', 'neighbor', '--no-rdns', '--json'])
    expect(n.code).toBe(0)
    expect(n.json.hosts.map((x: any) => [x.ip, x.found_by.join()])).toEqual([
      ['10.77.0.10', 'neighbor'],
      ['10.77.0.11', 'neighbor'],
      ['10.77.0.12', 'neighbor'],
      ['10.77.0.14', 'neighbor'],
      ['10.77.0.15', 'neighbor'],
    ])
    // For the tcp-only scan .15 stops answering ARP too and its neighbor entry is dropped: a
    // REACHABLE entry would keep it online (one miss is not enough, discovery-edges.test.ts).
    const arpIgnore = (v: number) => {
      for (const dev of ['all', 'eth0']) lan.exec(hosts.h5!, ['sysctl', '-qw', `net.ipv4.conf.${dev}.arp_ignore=${v}`])
    }
    arpIgnore(8)
    execFileSync('ip', ['neigh', 'flush', 'to', '10.77.0.15', 'dev', lan.bridge])
    const tcp = await ok(['scan', '10.77.0.10-16', '--method', 'tcp', '--no-rdns', '--json']).finally(() => arpIgnore(0))
    expect(tcp.code).toBe(0)
    expect(tcp.json.hosts.map((x: any) => x.ip)).toEqual(['10.77.0.10', '10.77.0.11', '10.77.0.12', '10.77.0.14'])
    // MACs still come from the neighbor table (enrichment), even when it is not a discovery method.
    expect(tcp.json.hosts.map((x: any) => x.mac)).toEqual([MAC.h1, MAC.h2, MAC.h3, MAC.h4])
    // A tcp-only scan that covered .15 without finding it marks the silent host offline.
    const list = await ok(['devices', 'list', '--offline', '--json'])
    expect(list.json.devices.map((d: any) => d.mac)).toEqual([MAC.h5])
  })

  it('after a host is removed and another changes IP: offline and ip_changed events, history keeps the old IP', async () => {
    lan.removeHost(hosts.h4)
    lan.changeIp(hosts.h3, '10.77.0.13')
    dns.names.set('10.77.0.11', 'mqtt.test.lan')
    h2Mqtt.kill('SIGKILL')
    await new Promise(r => h2Mqtt.once('exit', r))
    await lan.listen(hosts.h2, [1884])

    const r = await ok(['scan', '10.77.0.2-254', '--ports', 'top100,31337,1884', '--port-timeout', '1s', ...dnsFlags(), '--json'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.json.hosts.map((x: any) => x.ip).sort()).toEqual(['10.77.0.10', '10.77.0.11', '10.77.0.13', '10.77.0.15'])
    // .15 was offline after the tcp-only scan and is back: online.
    expect(r.json.summary).toMatchObject({new: 0, offline: 1, ip_changed: 1, hostname_changed: 1, ports_changed: 1, online: 1})

    const scanId = r.json.scan.id
    const tl = await ok(['devices', 'timeline', '--since', '1h', '--json'])
    const mine = tl.json.events.filter((e: any) => e.detail?.scan_id === scanId)
    const ev = (type: string) => mine.filter((e: any) => e.type === type)
    expect(ev('offline').map((e: any) => [e.mac, e.detail.ip])).toEqual([[MAC.h4, '10.77.0.14']])
    expect(ev('ip_changed').map((e: any) => [e.mac, e.detail.from, e.detail.to])).toEqual([[MAC.h3, '10.77.0.12', '10.77.0.13']])
    expect(ev('hostname_changed').map((e: any) => [e.mac, e.detail.from, e.detail.to])).toEqual([[MAC.h2, 'broker.test.lan', 'mqtt.test.lan']])
    expect(ev('ports_changed').map((e: any) => [e.mac, e.detail.opened, e.detail.closed])).toEqual([[MAC.h2, [1884], [1883]]])
    expect(ev('online').map((e: any) => e.mac)).toEqual([MAC.h5])
    expect(ev('new')).toEqual([])

    const hist = await ok(['devices', 'history', MAC.h3.toLowerCase().replace(/:/g, '-'), '--json'])
    expect(hist.code).toBe(0)
    expect(hist.json.ips.map((i: any) => [i.ip, i.current])).toEqual([
      ['10.77.0.12', false],
      ['10.77.0.13', true],
    ])
    expect(hist.json.events.map((e: any) => e.type)).toEqual(['new', 'ip_changed'])
    const human = await ok(['devices', 'history', MAC.h3])
    expect(human.stdout).toContain('10.77.0.12')
    expect(human.stdout).toContain('ip_changed')

    const show = await ok(['devices', 'show', MAC.h2, '--json'])
    expect(show.json.ports.map((p: any) => p.port)).toEqual([1884, 31337])
    expect(show.json.device).toMatchObject({hostname: 'mqtt.test.lan', status: 'online'})
  })

  it('promote persists (name, known, event) and stats counts match the device list', async () => {
    const p = await ok(['devices', 'promote', MAC.h1, '--name', 'Kitchen Pi', '--json'])
    expect(p.code).toBe(0)
    expect(p.json).toMatchObject({changed: true, device: {mac: MAC.h1, name: 'Kitchen Pi', known: true}})
    const again = await ok(['devices', 'promote', MAC.h1, '--name', 'Kitchen Pi', '--json'])
    expect(again.json.changed).toBe(false)

    // A fresh process reads it back.
    const show = await ok(['devices', 'show', MAC.h1, '--json'])
    expect(show.json.device).toMatchObject({name: 'Kitchen Pi', known: true, vendor: 'Raspberry Pi Foundation'})
    expect(show.json.events.map((e: any) => e.type)).toContain('promoted')
    const known = await ok(['devices', 'list', '--known', '--json'])
    expect(known.json.devices.map((d: any) => d.mac)).toEqual([MAC.h1])

    const all = (await ok(['devices', 'list', '--json'])).json.devices
    const s = await ok(['stats', '--json'])
    expect(s.code).toBe(0)
    expect(s.json.devices).toEqual({
      total: all.length,
      online: all.filter((d: any) => d.status === 'online').length,
      offline: all.filter((d: any) => d.status === 'offline').length,
      unknown_status: 0,
      known: all.filter((d: any) => d.known).length,
      unknown: all.filter((d: any) => !d.known).length,
      new_24h: all.length,
    })
    expect(s.json.devices).toMatchObject({total: 6, online: 5, offline: 1, known: 1})
    expect(s.json.last_scan).toMatchObject({status: 'done'})
    const vendor = await ok(['devices', 'list', '--vendor', 'raspberry', '--json'])
    expect(vendor.json.devices.map((d: any) => d.mac)).toEqual([MAC.h1, MAC.h4])
  })

  it('scan status from a second process shows a slow scan in progress', async () => {
    // 24 unused addresses, one at a time, 250 ms each: ~6 s of scanning to watch.
    const args = ['scan', '10.77.0.100-123', '--method', 'tcp', '--concurrency', '1', '--timeout', '250ms', '--retries', '0', '--no-rdns', '--json']
    const slow = runCli(args, {db: t.db})
    const seen: {status: string; done: number; total: number}[] = []
    const deadline = Date.now() + 20_000
    while (Date.now() < deadline) {
      const st = await ok(['scan', 'status', '--json'])
      const s = st.json?.scan
      if (s && s.targets[0] === '10.77.0.100-123') {
        seen.push({status: s.status, done: s.hosts_done, total: s.hosts_total})
        if (s.status !== 'running') break
      }
      await new Promise(r => setTimeout(r, 300))
    }
    const r = await slow
    expect(r.code).toBe(0)
    const running = seen.filter(x => x.status === 'running')
    expect(running.length).toBeGreaterThanOrEqual(2)
    expect(running.every(x => x.total === 24)).toBe(true)
    // Progress moved while it ran, and partial progress was visible.
    expect(running.some(x => x.done > 0 && x.done < 24)).toBe(true)
    expect(running[running.length - 1]!.done).toBeGreaterThan(running[0]!.done)
    const fin = await ok(['scan', 'status', '--json'])
    expect(fin.json.scan).toMatchObject({status: 'done', hosts_done: 24, hosts_total: 24, found: 0, percent: 100})
    const human = await ok(['scan', 'status'])
    expect(human.stdout).toMatch(/24\/24 probed/)
  })

  it('--register opens bandwidth accounting for every found device with a MAC, in the same write', async () => {
    const r = await ok(['scan', '10.77.0.10-11', '--method', 'neighbor', '--register', '--no-rdns', '--json'])
    expect(r.code).toBe(0)
    expect(r.json.summary.registered).toBe(2)
    const store = await openStore({db: t.db})
    try {
      const rows = await store.query<{mac: string}>(`SELECT d.mac FROM bw_totals b JOIN devices d ON d.id = b.device_id ORDER BY d.mac`)
      expect(rows.map(x => x.mac)).toEqual([MAC.h2, MAC.h1].sort())
    } finally {
      await store.close()
    }
  })

  it('--json --stream prints one NDJSON line per host as it answers, then a summary line', async () => {
    // "Streamed as they answer": when the first host line comes out, the store (read from this
    // process, as another shell would) shows the scan still running. The test's DNS server holds
    // back .15's reverse lookup until then, so the scan cannot have finished however slow the
    // machine is (a CLI spawned to ask took longer under load than a --timeout margin lasted).
    const release = dns.hold('10.77.0.15')
    const spawnedAt = Date.now()
    const reader = await openStore({db: t.db})
    const args = ['bin/run.js', 'scan', '10.77.0.10-15', ...dnsFlags(), '--dns-timeout', '10s', '--json', '--stream', '--db', t.db]
    const child = spawn(process.execPath, args, {
      cwd: new URL('../../..', import.meta.url).pathname,
      env: {...process.env, NETMON_NO_PROGRESS: '1'},
    })
    const lines: {obj: any}[] = []
    let buf = ''
    let rowAtFirstHost: Promise<{status: string; running: number} | undefined> | undefined
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        lines.push({obj: JSON.parse(buf.slice(0, nl))})
        buf = buf.slice(nl + 1)
        // The scan's row is written while discovery runs (the store opens in parallel), so a host
        // may be printed before the row exists: read until it does.
        rowAtFirstHost ??= (async () => {
          try {
            for (let i = 0; i < 200; i++) {
              const row = await reader.get<{status: string; running: number}>(
                `SELECT status, (SELECT count(*) FROM scans WHERE status = 'running') AS running FROM scans WHERE started_at >= ? ORDER BY id DESC LIMIT 1`,
                [spawnedAt],
              )
              if (row) return row
              await new Promise(r => setTimeout(r, 50))
            }
            return undefined
          } finally {
            release()
          }
        })()
      }
    })
    const code = await new Promise(r => child.on('close', r))
    await reader.close()
    expect(code).toBe(0)
    expect(await rowAtFirstHost!).toEqual({status: 'running', running: 1})
    const types = lines.map(l => l.obj.type)
    expect(types.slice(0, -1).every(x => x === 'host')).toBe(true)
    expect(types.at(-1)).toBe('summary')
    expect(
      lines
        .slice(0, -1)
        .map(l => l.obj.ip)
        .sort(),
    ).toEqual(['10.77.0.10', '10.77.0.11', '10.77.0.13', '10.77.0.15'])
    expect(lines.at(-1)!.obj.summary).toMatchObject({found: 4})
  })
})

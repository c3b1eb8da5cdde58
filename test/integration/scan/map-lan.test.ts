/**
 * Issue 17, acceptance 4 and 5, on a real (namespaced) LAN: 10.77.25.0/24 on a bridge, a router
 * and six more hosts with real vendors' MACs and TCP listeners that give them away. netmon runs
 * in its own namespace on that LAN (`.50`, default route via the router), as on a laptop, so
 * its default gateway is the test's router and nothing it does leaves the test's namespaces.
 *
 *   .1   router   50:C7:BF (TP-Link)    53, 80         (the default gateway of .50)
 *   .10  printer  3C:D9:2B (HP)         631, 9100
 *   .11  nas      00:11:32 (Synology)   445, 2049
 *   .12  camera   C0:56:E3 (Hikvision)  554            (removed later: offline)
 *   .13  phone    F0:D1:A9 (Apple)      62078
 *   .14  server   02:4E:4D (local)      22, 80
 *   .50  netmon   02:4E:4D (local)      — scans, `devices map`, `serve` and Chromium run here
 *   .254 the bridge (the root namespace's side), excluded from every scan: the root namespace's
 *        own listeners are not the test's to know
 *
 * The built CLI scans only that subnet; `devices map --json` is checked (gateway, subnet, types,
 * edges, sizes), then the dashboard in headless Chromium (playwright-core + Debian's chromium,
 * started inside the same namespace): the Map page draws every node with its status colour and
 * traffic size, a click opens the device page, and the Scan page starts a scan of the LAN, shows
 * its progress and its result, and measures latency on demand. Screenshots: test-artifacts/map/.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {chromium, type Browser, type Page} from 'playwright-core'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {BIN, ROOT, runCli, tempStore} from '../../support/cli.js'
import {realClockEnv, UNDER_FAKETIME} from '../../support/clock.js'
import {NETNS_SKIP, createLan, testMac, type Lan, type LanHost} from '../../support/netns.js'
import {SNMPD_SKIP, startSnmpd, type Snmpd} from '../../support/snmpd.js'

if (NETNS_SKIP) console.warn(`skipping the network map LAN test: ${NETNS_SKIP}`)

const SUBNET = '10.77.25.0/24'
const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = join(ROOT, 'test-artifacts', 'map')
const PORTS = '22,53,80,445,554,631,2049,9100,62078'

const SPEC = {
  router: {ip: '10.77.25.1', mac: '50:C7:BF:00:25:01', listen: [53, 80]},
  printer: {ip: '10.77.25.10', mac: '3C:D9:2B:00:25:10', listen: [631, 9100]},
  nas: {ip: '10.77.25.11', mac: '00:11:32:00:25:11', listen: [445, 2049]},
  camera: {ip: '10.77.25.12', mac: 'C0:56:E3:00:25:12', listen: [554]},
  phone: {ip: '10.77.25.13', mac: 'F0:D1:A9:00:25:13', listen: [62078]},
  server: {ip: '10.77.25.14', mac: testMac(0x2514).toUpperCase(), listen: [22, 80]},
} as const
const SELF = {ip: '10.77.25.50', mac: testMac(0x2550).toUpperCase()}
const SCAN_FLAGS = ['--ports', PORTS, '--no-rdns', '--exclude', '10.77.25.254', '--json']

describe.skipIf(NETNS_SKIP)('network map of a netns LAN (10.77.25.0/24)', () => {
  const t = tempStore('netmon-map-lan-')
  let lan: Lan
  let me: LanHost
  const hosts: Record<string, LanHost> = {}
  const inNs = () => ['ip', 'netns', 'exec', me.ns]
  const ok = async (args: string[], input?: string) => {
    const r = await runCli(args, {db: t.db, wrap: inNs(), timeoutMs: 120_000, input})
    expect(r.code, `netmon ${args.join(' ')}: ${r.stderr}`).toBe(0)
    return r
  }

  beforeAll(async () => {
    lan = await createLan({subnet: SUBNET, gatewayIp: '10.77.25.254', prefix: 'map'})
    for (const [label, s] of Object.entries(SPEC)) {
      hosts[label] = lan.addHost({ip: s.ip, mac: s.mac, label})
      await lan.listen(hosts[label]!, [...s.listen])
    }
    me = lan.addHost({ip: SELF.ip, mac: SELF.mac, label: 'netmon'})
    // netmon's machine routes through the test's router, not the bridge.
    lan.exec(me, ['ip', 'route', 'replace', 'default', 'via', SPEC.router.ip])
  })

  afterAll(() => {
    lan?.destroy()
    t.cleanup()
  })

  it('scan, then devices map --json: the gateway, the subnet, each type, the links, traffic sizes', async () => {
    const s = await ok(['scan', SUBNET, ...SCAN_FLAGS])
    expect(s.json.hosts.map((h: {ip: string}) => h.ip)).toEqual([...Object.values(SPEC).map(x => x.ip), SELF.ip])
    // Traffic for the node sizes: the printer moved the most.
    const samples = [
      {mac: SPEC.printer.mac, ip: SPEC.printer.ip, sent: 900_000_000, received: 100_000_000},
      {mac: SPEC.nas.mac, ip: SPEC.nas.ip, sent: 10_000_000, received: 10_000_000},
    ]
    await ok(['bandwidth', 'sample', '--from', '-', '--auto-register', '--json'], samples.map(x => JSON.stringify(x)).join('\n') + '\n')

    const m = (await ok(['devices', 'map', '--json'])).json
    expect(m.gateways).toEqual([
      {ip: SPEC.router.ip, mac: SPEC.router.mac, iface: 'eth0', node: expect.stringMatching(/^d\d+$/), source: 'route', dhcp: false, subnet: SUBNET},
    ])
    expect(m.subnets).toEqual([
      {
        cidr: SUBNET,
        source: 'interface',
        iface: 'eth0',
        gateway: SPEC.router.ip,
        gateway_node: m.gateways[0].node,
        gateway_source: 'route',
        devices: 7,
        online: 7,
      },
    ])
    const byIp = new Map<string, any>(m.nodes.map((n: any) => [n.ip, n]))
    expect(byIp.size).toBe(7)
    const expectNode = (ip: string, fields: Record<string, unknown>) => expect(byIp.get(ip), ip).toMatchObject(fields)
    expectNode(SPEC.router.ip, {type: 'router', role: 'gateway', vendor: 'TP-LINK TECHNOLOGIES CO.,LTD.', open_ports: [53, 80], status: 'online'})
    expectNode(SPEC.printer.ip, {type: 'printer', type_reason: 'port 631,9100', role: 'host', vendor: 'Hewlett Packard', total_bytes: 1_000_000_000})
    expectNode(SPEC.nas.ip, {type: 'nas', type_reason: 'port 2049', vendor: 'Synology Incorporated', total_bytes: 20_000_000})
    expectNode(SPEC.camera.ip, {type: 'camera', vendor: 'Hangzhou Hikvision Digital Technology Co.,Ltd.'})
    expectNode(SPEC.phone.ip, {type: 'phone', type_reason: 'port 62078 (iOS sync)', vendor: 'Apple, Inc.'})
    expectNode(SPEC.server.ip, {type: 'server', mac_kind: 'local', vendor_group: '(locally administered)'})
    expectNode(SELF.ip, {role: 'self', type: 'computer'})
    // No switch reported anything: every node hangs off the gateway, an assumed link each.
    const gw = m.gateways[0].node
    expect(m.edges).toHaveLength(6)
    for (const e of m.edges) expect(e).toMatchObject({source: gw, kind: 'gateway', inferred: true})
    expect(new Set(m.edges.map((e: any) => e.target))).toEqual(new Set(m.nodes.filter((n: any) => n.id !== gw).map((n: any) => n.id)))
    expect(m.counts).toMatchObject({nodes: 7, edges: 6, online: 7, offline: 0, left_out: 0})
    expect(m.counts.by_type).toEqual({router: 1, printer: 1, nas: 1, camera: 1, phone: 1, server: 1, computer: 1})
    expect(m.vendors.find((v: any) => v.vendor === 'Hewlett Packard')).toEqual({vendor: 'Hewlett Packard', count: 1, nodes: [byIp.get(SPEC.printer.ip).id]})

    const text = (await ok(['devices', 'map'])).stdout
    expect(text).toContain(`Gateway ${SPEC.router.ip} (${SPEC.router.mac}): default route via eth0`)
    expect(text).toContain(`${SUBNET} (on eth0) · 7 devices, 7 online`)
    expect(text).toMatch(/├── 10\.77\.25\.10 {2}printer {2}Hewlett Packard {2}ports 631,9100 {2}online/)
    expect(text).toMatch(/10\.77\.25\.50 {2}computer .*\[this machine\]/)
  }, 180_000)

  it('a host that left is offline on the next scan and on the map', async () => {
    lan.removeHost(hosts.camera!)
    await ok(['scan', SUBNET, ...SCAN_FLAGS])
    const m = (await ok(['devices', 'map', '--json'])).json
    const cam = m.nodes.find((n: any) => n.ip === SPEC.camera.ip)
    expect(cam).toMatchObject({status: 'offline', type: 'camera'})
    expect(m.counts).toMatchObject({nodes: 7, online: 6, offline: 1})
  }, 180_000)

  /**
   * A managed switch at .2: Debian's snmpd in its namespace, four ports ge1–ge4 (veth pairs), and the
   * bridge subtree (BRIDGE-MIB) served through snmpd's `pass` extension from a table the test
   * writes (snmpd has no BRIDGE-MIB module; everything on the wire is snmpd's). ge4 is an uplink
   * that sees five MACs, so the printer (also on ge2 with one other) must hang off ge2.
   */
  describe.skipIf(SNMPD_SKIP)('with a switch that reports its forwarding table (SNMP FDB)', () => {
    let agent: Snmpd
    let dir: string
    afterAll(async () => {
      await agent?.stop()
      if (dir) rmSync(dir, {recursive: true, force: true})
    })

    it('links come from the switch ports; the switch is typed; no link is assumed', async () => {
      const sw = lan.addHost({ip: '10.77.25.2', mac: testMac(0x2502).toUpperCase(), label: 'switch'})
      hosts.switch = sw
      const ifindex: Record<string, number> = {}
      for (const p of ['ge1', 'ge2', 'ge3', 'ge4']) {
        // A veth pair per port (this kernel has no dummy interfaces); snmpd lists both ends.
        lan.exec(sw, ['ip', 'link', 'add', p, 'type', 'veth', 'peer', 'name', `${p}p`])
        lan.exec(sw, ['ip', 'link', 'set', p, 'up'])
      }
      for (const l of JSON.parse(lan.exec(sw, ['ip', '-j', 'link', 'show'])) as {ifname: string; ifindex: number}[]) ifindex[l.ifname] = l.ifindex
      const BRIDGE = '1.3.6.1.2.1.17'
      const macOid = (mac: string) =>
        mac
          .split(':')
          .map(x => Number.parseInt(x, 16))
          .join('.')
      const ports: Record<string, string[]> = {
        ge1: [SPEC.router.mac],
        ge2: [SPEC.printer.mac, SPEC.nas.mac],
        ge3: [SPEC.camera.mac, SPEC.phone.mac, SPEC.server.mac],
        ge4: [SPEC.printer.mac, SPEC.nas.mac, SPEC.phone.mac, SPEC.server.mac, SELF.mac],
      }
      const rows: [string, string, string][] = []
      const names = Object.keys(ports)
      names.forEach((p, i) => rows.push([`${BRIDGE}.1.4.1.2.${i + 1}`, 'integer', String(ifindex[p])]))
      // One FDB entry per MAC in BRIDGE-MIB (dot1dTpFdbPort); the uplink's copies go in Q-BRIDGE (VLAN 1).
      names.forEach((p, i) => {
        for (const mac of ports[p]!) {
          const first = names.findIndex(q => ports[q]!.includes(mac)) === i
          rows.push(
            first ? [`${BRIDGE}.4.3.1.2.${macOid(mac)}`, 'integer', String(i + 1)] : [`${BRIDGE}.7.1.2.2.1.2.1.${macOid(mac)}`, 'integer', String(i + 1)],
          )
        }
      })
      dir = mkdtempSync(join(tmpdir(), 'netmon-map-fdb-'))
      const data = join(dir, 'bridge.json')
      writeFileSync(data, JSON.stringify(rows))
      writeFileSync(
        join(dir, 'pass.py'),
        `import json, sys
def key(o):
    return tuple(int(x) for x in o.strip('.').split('.'))
rows = sorted((key(o), o, t, v) for o, t, v in json.load(open(sys.argv[1])))
mode, oid = sys.argv[2], sys.argv[3]
k = key(oid)
hit = [r for r in rows if r[0] == k] if mode == '-g' else [r for r in rows if r[0] > k][:1] if mode == '-n' else []
if hit:
    print('.' + hit[0][1].strip('.')); print(hit[0][2]); print(hit[0][3])
else:
    print('NONE')
`,
      )
      agent = await startSnmpd({
        address: sw.ip,
        clients: SUBNET,
        wrap: ['ip', 'netns', 'exec', sw.ns],
        extraConfig: [`pass .${BRIDGE} /usr/bin/python3 ${join(dir, 'pass.py')} ${data}`],
      })
      await ok(['scan', SUBNET, ...SCAN_FLAGS])
      // snmpd runs the pass script (a Python process) for every bridge OID of a walk: on a busy
      // machine one GETBULK takes seconds, so the request timeout is generous.
      const sample = await runCli(
        ['bandwidth', 'sample', '--from', `snmp://${sw.ip}:${agent.port}`, '--community-env', 'MAP_SNMP_COMMUNITY', '--fdb', '--snmp-timeout', '10s', '--json'],
        {
          db: t.db,
          wrap: inNs(),
          env: {MAP_SNMP_COMMUNITY: agent.community},
          timeoutMs: 120_000,
        },
      )
      expect(sample.code, sample.stderr).toBe(0)
      expect(sample.json.fdb).toHaveLength(Object.values(ports).flat().length)

      const m = (await ok(['devices', 'map', '--json'])).json
      const id = (ip: string) => m.nodes.find((n: any) => n.ip === ip)?.id
      const swNode = m.nodes.find((n: any) => n.ip === sw.ip)
      expect(swNode).toMatchObject({type: 'switch', role: 'switch', type_reason: 'SNMP forwarding table', in_inventory: true})
      const agentName = `${sw.ip}:${agent.port}`
      const edges = new Map<string, any>(m.edges.map((e: any) => [e.target, e]))
      const expectPort = (ip: string, port: string) =>
        expect(edges.get(id(ip)), ip).toMatchObject({source: swNode.id, kind: 'fdb', port: `${agentName}:${port}`, if_index: ifindex[port], inferred: false})
      expectPort(SPEC.router.ip, 'ge1')
      expectPort(SPEC.printer.ip, 'ge2') // not the uplink ge4, which sees five MACs
      expectPort(SPEC.nas.ip, 'ge2')
      expectPort(SPEC.camera.ip, 'ge3')
      expectPort(SPEC.phone.ip, 'ge3')
      expectPort(SPEC.server.ip, 'ge3')
      expectPort(SELF.ip, 'ge4')
      // The switch reported the gateway behind ge1: it is the tree's root, not below the gateway.
      expect(edges.has(swNode.id)).toBe(false)
      expect(m.edges).toHaveLength(7)
      expect(m.gateways[0]).toMatchObject({ip: SPEC.router.ip, source: 'route'})
      // The switch's port counters are devices too (bandwidth accounting), not hosts on the map.
      expect(m.nodes.every((n: any) => n.ip !== null)).toBe(true)
      expect(m.counts.left_out).toBeGreaterThanOrEqual(4)

      const text = (await ok(['devices', 'map'])).stdout
      expect(text).toMatch(/\n {2}10\.77\.25\.2 {2}switch .*\[switch\]/)
      expect(text).toContain(`├── port ${agentName}:ge1: 10.77.25.1  router`)
      expect(text).toMatch(/│ {3}├── 10\.77\.25\.10 {2}printer|port .*:ge2: 10\.77\.25\.10 {2}printer/)
    }, 180_000)
  })

  describe.skipIf(!existsSync(CHROMIUM))('dashboard in headless Chromium (inside the LAN namespace)', () => {
    let serve: ChildProcess
    let url: string
    let browser: Browser
    let profile: string
    let wrapper: string

    /** `netmon serve` inside netmon's namespace (Chromium runs there too). */
    async function serveInNs(args: string[] = [], env: Record<string, string> = {}): Promise<{child: ChildProcess; url: string}> {
      const child = spawn('ip', ['netns', 'exec', me.ns, process.execPath, BIN, 'serve', '--port', '0', '--db', t.db, ...args], {
        cwd: ROOT,
        env: {...process.env, NETMON_NO_PROGRESS: '1', ...env},
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let err = ''
      const at = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`serve did not start:\n${err}`)), 30_000)
        child.stderr!.setEncoding('utf8').on('data', d => {
          err += d
          const m = /listening on (http:\/\/\S+?) /.exec(err)
          if (m) {
            clearTimeout(timer)
            resolve(m[1]!)
          }
        })
        child.on('exit', code => reject(new Error(`serve exited (${code}):\n${err}`)))
      })
      return {child, url: at}
    }
    async function stopServe(child: ChildProcess | undefined): Promise<void> {
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        await new Promise(r => child.once('exit', r))
      }
    }

    beforeAll(async () => {
      mkdirSync(ARTIFACTS, {recursive: true})
      ;({child: serve, url} = await serveInNs())
      // Chromium runs in the same namespace as the server (its 127.0.0.1 is that namespace's).
      profile = mkdtempSync(join(tmpdir(), 'netmon-map-chromium-'))
      wrapper = join(profile, 'chromium-in-ns.sh')
      writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec '${me.ns}' ${CHROMIUM} "$@"\n`)
      chmodSync(wrapper, 0o755)
      browser = await chromium.launch({
        executablePath: wrapper,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
        // Under libfaketime (issue 13's run with the clock moved) Chromium crawls: it keeps the real clock.
        ...(UNDER_FAKETIME ? {env: realClockEnv()} : {}),
      })
    }, 120_000)

    afterAll(async () => {
      await browser?.close()
      await stopServe(serve)
      if (profile) rmSync(profile, {recursive: true, force: true})
    })

    async function open(hash: string, ready: string): Promise<{page: Page; problems: string[]}> {
      const page = await browser.newPage({viewport: {width: 1280, height: 1000}})
      const problems: string[] = []
      page.on('console', m => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`)
      })
      page.on('pageerror', e => problems.push(`page error: ${e.message}`))
      // No CDN: any request off this server fails the test.
      await page.route('**/*', r => (r.request().url().startsWith(url) ? r.continue() : (problems.push(`off-server request ${r.request().url()}`), r.abort())))
      await page.goto(`${url}/${hash}`)
      await page.waitForFunction(p => document.body.dataset.ready === p || document.body.dataset.ready === 'error', ready, {timeout: 30_000})
      expect(await page.evaluate(() => document.body.dataset.ready), await page.locator('main').innerText()).toBe(ready)
      return {page, problems}
    }

    it('Map page: every node drawn with its status colour and traffic size; a click opens the device page', async () => {
      const m = (await ok(['devices', 'map', '--json'])).json
      const {page, problems} = await open('#/map', 'map')
      try {
        const drawn = await page.evaluate(() => {
          const cy = (window as any).netmonDashboard.cy
          return {
            nodes: cy.nodes().map((n: any) => ({id: n.id(), color: n.data('color'), size: n.data('size'), status: n.data('status'), ip: n.data('ip')})),
            edges: cy.edges().length,
          }
        })
        expect(drawn.nodes).toHaveLength(m.counts.nodes)
        expect(drawn.edges).toBe(m.counts.edges)
        const by = new Map(drawn.nodes.map((n: any) => [n.ip, n]))
        expect(by.get(SPEC.camera.ip)).toMatchObject({status: 'offline', color: '#dc2626'})
        expect(by.get(SPEC.printer.ip)).toMatchObject({status: 'online', color: '#16a34a'})
        // Sized by traffic: the printer (1 GB) is the largest, the NAS (20 MB) larger than the rest.
        const sizes = drawn.nodes.map((n: any) => n.size)
        expect((by.get(SPEC.printer.ip) as any).size).toBe(Math.max(...sizes))
        expect((by.get(SPEC.nas.ip) as any).size).toBeGreaterThan((by.get(SPEC.phone.ip) as any).size)
        // The canvas is really painted.
        const painted = await page.evaluate(() => {
          let n = 0
          for (const c of document.querySelectorAll('#map-graph canvas') as NodeListOf<HTMLCanvasElement>) {
            const ctx = c.getContext('2d')
            if (!ctx || c.width === 0) continue
            const px = ctx.getImageData(0, 0, c.width, c.height).data
            for (let i = 3; i < px.length; i += 4) if (px[i]! > 0) n++
          }
          return n
        })
        expect(painted).toBeGreaterThan(2000)
        expect(await page.locator('#map-summary').innerText()).toContain(`gateway ${SPEC.router.ip} (default route)`)
        expect(await page.locator('#map-tables').innerText()).toContain('Hewlett Packard')
        const file = join(ARTIFACTS, 'map.png')
        await page.screenshot({path: file, fullPage: true})
        expect(statSync(file).size).toBeGreaterThan(20_000)

        // Click the printer where cytoscape drew it: the device page opens.
        const pos = await page.evaluate(ip => {
          const cy = (window as any).netmonDashboard.cy
          const n = cy.nodes().filter((x: any) => x.data('ip') === ip)[0]
          const r = cy.container().getBoundingClientRect()
          const p = n.renderedPosition()
          return {x: r.left + p.x, y: r.top + p.y}
        }, SPEC.printer.ip)
        await page.evaluate(() => delete document.body.dataset.ready)
        await page.mouse.click(pos.x, pos.y)
        await page.waitForFunction(() => document.body.dataset.ready === 'device', null, {timeout: 30_000})
        expect(decodeURIComponent(new URL(page.url()).hash)).toBe(`#/device/${SPEC.printer.mac}`)
        expect(await page.locator('main').innerText()).toContain(SPEC.printer.ip)
        expect(problems).toEqual([])
      } finally {
        await page.close()
      }
    }, 120_000)

    it('Scan page: a bad target is refused; a scan of the LAN shows progress, then its hosts; latency on demand', async () => {
      const before = (await ok(['scan', 'status', '--json'])).json.scan.id
      const {page, problems} = await open('#/scan', 'scan')
      try {
        // The last scan is shown when the page opens.
        await page.waitForFunction(() => document.querySelector('#scan-page')?.getAttribute('data-scan-state') === 'done')
        // Refused by the server's validation (the CLI's rules): nothing starts.
        await page.fill('#scan-targets', '10.77.25.0/33')
        await page.click('#scan-start')
        await page.waitForFunction(() => (document.querySelector('#scan-error')?.textContent ?? '') !== '')
        expect(await page.locator('#scan-error').innerText()).toContain('10.77.25.0/33')
        expect(await page.locator('#scan-page').getAttribute('data-scan-state')).toBe('refused')
        expect((await ok(['scan', 'status', '--json'])).json.scan.id).toBe(before)

        await page.fill('#scan-targets', '10.77.25.1-20')
        await page.check('#scan-ports-on')
        await page.fill('#scan-ports', PORTS)
        await page.click('#scan-start')
        // Progress is shown while it runs (a bar and a line naming the scan), then the result table.
        await page.waitForSelector('#scan-line', {timeout: 30_000})
        await page.waitForFunction(prev => Number(document.querySelector('#scan-result-table')?.getAttribute('data-scan-id') ?? 0) > prev, before, {
          timeout: 90_000,
        })
        expect(await page.locator('#scan-page').getAttribute('data-scan-state')).toBe('done')
        const st = (await ok(['scan', 'status', '--hosts', '--json'])).json
        expect(st.scan.id).toBeGreaterThan(before)
        expect(st.scan).toMatchObject({status: 'done', targets: ['10.77.25.1-20'], ports: PORTS})
        expect(await page.locator('#scan-line').innerText()).toContain(`#${st.scan.id} done`)
        const ips = await page.locator('#scan-result-table tbody tr td:first-child').allInnerTexts()
        // The camera was removed: the remaining hosts of .1-.20 (the switch .2 when snmpd is there), as the store recorded them.
        expect(ips).toEqual([SPEC.router.ip, ...(hosts.switch ? [hosts.switch.ip] : []), SPEC.printer.ip, SPEC.nas.ip, SPEC.phone.ip, SPEC.server.ip])
        expect(st.hosts.map((h: any) => h.ip)).toEqual(ips)
        const printerRow = page.locator('#scan-result-table tbody tr', {hasText: SPEC.printer.ip})
        expect(await printerRow.innerText()).toContain('631, 9100')
        expect(await printerRow.innerText()).toContain('Hewlett Packard')

        // Latency on demand for the router: a stored run with replies.
        const row = page.locator('#scan-result-table tbody tr', {hasText: SPEC.router.mac})
        await row.locator('button.measure').click()
        await page.waitForFunction(ip => /avg .* ms · loss/.test(document.querySelector(`span.latency[data-ip="${ip}"]`)?.textContent ?? ''), SPEC.router.ip, {
          timeout: 60_000,
        })
        expect(await row.locator('span.latency').innerText()).toMatch(/loss 0%/)
        const hist = (await ok(['latency', 'history', SPEC.router.ip, '--json'])).json
        expect(hist.summary.sent).toBeGreaterThanOrEqual(5)

        const file = join(ARTIFACTS, 'scan.png')
        await page.screenshot({path: file, fullPage: true})
        expect(statSync(file).size).toBeGreaterThan(20_000)
        // The browser logs the refused POST (400) itself; nothing else went wrong.
        expect(problems).toEqual(['console error: Failed to load resource: the server responded with a status of 400 (Bad Request)'])
      } finally {
        await page.close()
      }
    }, 180_000)

    it('Scan page on a server with a token: the page asks for it once, and the scan POST carries it', async () => {
      const TOKEN = 'map-scan-token-0123456789'
      const secured = await serveInNs(['--token-env', 'MAP_UI_TOKEN'], {MAP_UI_TOKEN: TOKEN})
      const page = await browser.newPage({viewport: {width: 1280, height: 900}})
      const problems: string[] = []
      page.on('console', m => {
        // The first API call is refused (401) by design: that line is expected.
        if ((m.type() === 'error' || m.type() === 'warning') && !/status of 401/.test(m.text())) problems.push(`console ${m.type()}: ${m.text()}`)
      })
      page.on('pageerror', e => problems.push(`page error: ${e.message}`))
      try {
        const before = (await ok(['scan', 'status', '--json'])).json.scan.id
        await page.goto(`${secured.url}/#/scan`)
        await page.locator('dialog#login').waitFor({state: 'visible'})
        await page.fill('#token', TOKEN)
        await page.click('#login-form button[type=submit]')
        await page.waitForFunction(() => document.body.dataset.ready === 'scan', null, {timeout: 30_000})
        await page.fill('#scan-targets', SPEC.printer.ip)
        await page.click('#scan-start')
        await page.waitForFunction(prev => Number(document.querySelector('#scan-result-table')?.getAttribute('data-scan-id') ?? 0) > prev, before, {
          timeout: 60_000,
        })
        expect(await page.locator('#scan-result-table tbody tr td:first-child').allInnerTexts()).toEqual([SPEC.printer.ip])
        expect((await ok(['scan', 'status', '--json'])).json.scan).toMatchObject({status: 'done', targets: [SPEC.printer.ip], ports: null})
        // The token was asked for once (sessionStorage), never shown on the page.
        expect(await page.locator('main').innerText()).not.toContain(TOKEN)
        expect(problems).toEqual([])
      } finally {
        await page.close()
        await stopServe(secured.child)
      }
    }, 120_000)
  })
})

/**
 * The agent's netflow job end to end (issue 15, acceptance 2 and 3), real parts only: a netns LAN
 * (10.77.18.0/24, hosts A and B), softflowd capturing LIVE on A's veth and exporting v5, v9 and
 * IPFIX (and pmacctd's nfprobe, IPFIX) to `netmon agent run` (the built CLI) on 127.0.0.1; a TCP transfer from B's port 5001 to A
 * (both directions carry data), recorded at the same time by tcpdump on the same interface. The
 * bytes stored for B (`bandwidth stats --mac B --json`, a device keyed by its IP) must equal the
 * IPv4 bytes of the A↔B packets in that pcap (IP total length: what softflowd counts; at the
 * capture point, so with segmentation offload a "packet" may be a super-segment: both see the same),
 * each direction; the by-port breakdown shows tcp/5001 for both hosts; `bandwidth top --by port`
 * too. Garbage datagrams to the job are counted as malformed in `agent status` and never stop it.
 * softflowd opens its capture without immediate mode, so libpcap (TPACKET_V3) hands it packets only
 * when a ring block fills: the test pushes "filler" pings from A to the gateway (traffic B has no
 * part in) until what it waits for has arrived. Traffic: the netns LAN and loopback only.
 */
import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import dgram from 'node:dgram'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {createLan, NETNS_SKIP, testMac, type Lan, type LanHost} from '../../support/netns.js'
import {spawnCli, waitFor, type Proc} from '../bridge/helpers.js'

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0
const SKIP =
  NETNS_SKIP ??
  (!have('softflowd') ? 'softflowd not installed' : !have('tcpdump') ? 'tcpdump not installed' : !have('python3') ? 'python3 not installed' : null)
if (SKIP) console.warn(`netflow agent test skipped: ${SKIP}`)

const SUBNET = '10.77.18.0/24'
const A = '10.77.18.10'
const B = '10.77.18.11'
const SERVICE = 5001
const UP = 40_000 // A → B payload
const DOWN = 300_000 // B → A payload

/** IPv4 bytes (total length) between a and b per direction, from a pcap (Ethernet, either byte order). */
function pcapBytes(file: string, a: string, b: string): {ab: number; ba: number; packets: number} {
  const buf = readFileSync(file)
  const le = buf.readUInt32LE(0) === 0xa1b2c3d4
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o))
  expect(u32(20)).toBe(1) // LINKTYPE_ETHERNET
  const ip = (o: number) => `${buf[o]}.${buf[o + 1]}.${buf[o + 2]}.${buf[o + 3]}`
  let ab = 0
  let ba = 0
  let packets = 0
  for (let p = 24; p + 16 <= buf.length; ) {
    const incl = u32(p + 8)
    const f = p + 16
    p = f + incl
    if (incl < 34 || buf.readUInt16BE(f + 12) !== 0x0800) continue
    const len = buf.readUInt16BE(f + 16)
    const src = ip(f + 26)
    const dst = ip(f + 30)
    if (src === a && dst === b) ab += len
    else if (src === b && dst === a) ba += len
    else continue
    packets++
  }
  return {ab, ba, packets}
}

const SERVER = `
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', ${SERVICE})); s.listen(1); print('ready', flush=True)
c, _ = s.accept(); got = 0
while got < ${UP}:
    d = c.recv(65536)
    if not d: break
    got += len(d)
c.sendall(b'x' * ${DOWN}); c.shutdown(socket.SHUT_WR)
while c.recv(65536): pass
c.close(); print(got, flush=True)
`
const CLIENT = `
import socket
c = socket.create_connection(('${B}', ${SERVICE}), timeout=20); c.sendall(b'y' * ${UP}); n = 0
while True:
    d = c.recv(65536)
    if not d: break
    n += len(d)
c.close(); print(n)
`

function started(child: ChildProcess, stream: 'stdout' | 'stderr', marker: RegExp, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = ''
    const t = setTimeout(() => reject(new Error(`${what} did not start: ${text}`)), 20_000)
    child[stream]!.setEncoding('utf8').on('data', d => {
      text += d
      if (marker.test(text)) {
        clearTimeout(t)
        resolve()
      }
    })
    child.on('exit', code => reject(new Error(`${what} exited (${code}): ${text}`)))
  })
}

/** Stops a child we started; a detached one (pmacctd) with its process group. */
function stopGroup(c: ChildProcess, sig: NodeJS.Signals): void {
  if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return
  try {
    if (c.spawnargs[0] === 'pmacctd') process.kill(-c.pid, sig)
    else c.kill(sig)
  } catch {
    /* gone */
  }
}

async function udpPort(): Promise<number> {
  const s = dgram.createSocket('udp4')
  await new Promise<void>(r => s.bind(0, '127.0.0.1', () => r()))
  const p = s.address().port
  await new Promise<void>(r => s.close(() => r()))
  return p
}

const stats = async (db: string, who: string) => {
  const r = await runCli(['bandwidth', 'stats', '--mac', who, '--json'], {db})
  return r.code === 0 ? r.json.device : null
}

describe.skipIf(SKIP)('agent netflow job ← softflowd live on a netns LAN', {timeout: 300_000}, () => {
  let lan: Lan
  let ha: LanHost
  let hb: LanHost
  const kids: ChildProcess[] = []
  const procs: Proc[] = []

  beforeAll(async () => {
    lan = await createLan({subnet: SUBNET})
    ha = lan.addHost({ip: A, mac: testMac(1)})
    hb = lan.addHost({ip: B, mac: testMac(2)})
  })
  afterAll(() => {
    for (const k of kids) stopGroup(k, 'SIGKILL')
    for (const p of procs) p.kill('SIGKILL')
    lan?.destroy()
  })

  const exporters: {label: string; start: (ifc: string, port: number, dir: string) => ChildProcess}[] = [
    ...[5, 9, 10].map(v => ({
      label: `softflowd ${v === 10 ? 'IPFIX' : `v${v}`}`,
      start: (ifc: string, port: number, dir: string) =>
        spawn(
          'softflowd',
          [
            '-i',
            ifc,
            '-n',
            `127.0.0.1:${port}`,
            '-v',
            String(v),
            '-t',
            'maxlife=1',
            '-t',
            'expint=1',
            '-d',
            '-c',
            join(dir, 'sf.ctl'),
            '-p',
            join(dir, 'sf.pid'),
          ],
          {stdio: ['ignore', 'pipe', 'pipe']},
        ),
    })),
    ...(have('pmacctd')
      ? [
          {
            label: 'pmacctd IPFIX',
            start: (ifc: string, port: number, dir: string) => {
              const conf = join(dir, 'pmacctd.conf')
              writeFileSync(
                conf,
                [
                  'daemonize: false',
                  `pcap_interface: ${ifc}`,
                  'aggregate: src_host, dst_host, src_port, dst_port, proto',
                  'plugins: nfprobe',
                  `nfprobe_receiver: 127.0.0.1:${port}`,
                  'nfprobe_version: 10',
                  'nfprobe_timeouts: tcp=2:tcp.rst=2:tcp.fin=2:udp=2:general=2:maxlife=1:expint=1',
                  `pidfile: ${join(dir, 'pmacctd.pid')}`,
                  '',
                ].join('\n'),
              )
              // Its own process group: the core and its plugin process are stopped together.
              return spawn('pmacctd', ['-f', conf], {stdio: ['ignore', 'pipe', 'pipe'], detached: true})
            },
          },
        ]
      : []),
  ]

  for (const exp of exporters) {
    it(`${exp.label}: stored bytes per host equal the transfer; by port tcp/${SERVICE}; garbage counted, never fatal`, async () => {
      const tmp = tempStore('netmon-nfagent-')
      try {
        const port = await udpPort()
        const cfg = join(tmp.dir, 'agent.json')
        writeFileSync(
          cfg,
          JSON.stringify({
            heartbeat: '1s',
            jobs: [
              {name: 'flows', kind: 'netflow', listen: `127.0.0.1:${port}`, lan: [SUBNET], every: '1s', exporters: ['127.0.0.1']},
              {name: 'api', kind: 'serve', port: 0},
            ],
          }),
        )
        const agent = spawnCli(['agent', 'run', '--config', cfg, '--db', tmp.db, '--json'])
        procs.push(agent)
        const status = async () => {
          const r = await runCli(['agent', 'status', '--json'], {db: tmp.db})
          return Object.fromEntries((r.json?.jobs ?? []).map((j: {name: string}) => [j.name, j])) as Record<string, any>
        }
        await waitFor('the netflow job to listen', async () => (await status()).flows?.detail?.datagrams, 30_000, 200)

        // Garbage from loopback: counted, the job goes on.
        const g = dgram.createSocket('udp4')
        for (const bytes of [Buffer.from('not netflow'), Buffer.alloc(3), Buffer.from([0, 9, 0, 1]), Buffer.alloc(40, 0xff), Buffer.from([0, 10, 0, 200, 1])])
          await new Promise<void>(r => g.send(bytes, port, '127.0.0.1', () => r()))
        g.close()
        // A datagram from an exporter not on the allow-list (another loopback address): dropped, counted.
        const other = dgram.createSocket('udp4')
        await new Promise<void>(r => other.bind(0, '127.0.0.2', () => r()))
        await new Promise<void>(r => other.send(Buffer.from('from elsewhere'), port, '127.0.0.1', () => r()))
        other.close()

        const ifc = ha.vethRoot
        const sf = exp.start(ifc, port, tmp.dir)
        kids.push(sf)
        // Filler: A ↔ gateway (B has no part in it), enough to fill the capture's ring blocks.
        const fill = () => lan.exec(ha, ['ping', '-q', '-c', '100', '-i', '0.002', '-s', '1400', '-W', '1', lan.gatewayIp])
        // The exporter captures once the filler comes back as a flow.
        await waitFor(
          `${exp.label} to export a warm-up flow`,
          async () => {
            fill()
            return (await status()).flows?.detail?.flows?.decoded > 0
          },
          60_000,
          500,
        )
        const pcap = join(tmp.dir, 'transfer.pcap')
        const td = spawn('tcpdump', ['-i', ifc, '-n', '--immediate-mode', '-U', '-s', '96', '-B', '16384', '-w', pcap, 'ip'], {
          stdio: ['ignore', 'ignore', 'pipe'],
        })
        kids.push(td)
        await started(td, 'stderr', /listening on/, 'tcpdump')

        const server = spawn('ip', ['netns', 'exec', hb.ns, 'python3', '-c', SERVER], {stdio: ['ignore', 'pipe', 'pipe']})
        kids.push(server)
        await started(server, 'stdout', /ready/, 'the transfer server')
        expect(lan.exec(ha, ['python3', '-c', CLIENT]).trim()).toBe(String(DOWN))
        await new Promise(r => server.once('exit', r))
        // B took part in nothing else on A's veth: its device holds exactly the transfer. The
        // capture runs until the exporter's flows are in and a few more flushes passed, so a late
        // packet of the connection (a retransmitted FIN under load) is in both or in neither.
        await waitFor(
          `B's bytes (at least the ${DOWN} B sent and ${UP} B received as payload)`,
          async () => {
            fill()
            const d = await stats(tmp.db, B)
            return d && d.total.bytes_sent >= DOWN && d.total.bytes_received >= UP && d
          },
          60_000,
          500,
        )
        fill()
        await new Promise(r => setTimeout(r, 2500)) // a few more flushes: nothing more may arrive
        const b2 = await stats(tmp.db, B)
        let tdErr = ''
        td.stderr!.on('data', (c: Buffer) => (tdErr += c.toString()))
        td.kill('SIGINT')
        await new Promise(r => td.once('exit', r))
        // A capture that lost packets is no reference (headers only, -s 96, and a 16 MiB buffer keep a
        // starved tcpdump from dropping: pcapBytes reads the IP total length, not the captured length).
        expect(/(\d+) packets? dropped by kernel/.exec(tdErr)?.[1] ?? '0', tdErr).toBe('0')
        const wire = pcapBytes(pcap, A, B)
        // The bound: payload + at least one 40-byte IPv4/TCP header per packet; at most 60 (options) per packet.
        expect(wire.ab).toBeGreaterThanOrEqual(UP)
        expect(wire.ba).toBeGreaterThanOrEqual(DOWN)
        expect(wire.ab + wire.ba).toBeLessThanOrEqual(UP + DOWN + 60 * wire.packets)
        expect({sent: b2.total.bytes_sent, received: b2.total.bytes_received}).toEqual({sent: wire.ba, received: wire.ab})
        const bNow = await stats(tmp.db, B)
        expect({sent: bNow.total.bytes_sent, received: bNow.total.bytes_received}).toEqual({sent: wire.ba, received: wire.ab})
        expect(bNow.by_port[0]).toMatchObject({protocol: 6, protocol_name: 'tcp', port: SERVICE, bytes_sent: wire.ba, bytes_received: wire.ab})
        // A: the same connection filed under the server's port (plus the warm-up pings, icmp port 0).
        const a = await stats(tmp.db, A)
        expect(a.by_port.find((p: {protocol: number; port: number}) => p.protocol === 6 && p.port === SERVICE)).toMatchObject({
          bytes_sent: wire.ab,
          bytes_received: wire.ba,
        })
        expect(a.by_port.some((p: {protocol: number; port: number}) => p.protocol === 1 && p.port === 0)).toBe(true)
        const top = await runCli(['bandwidth', 'top', '--by', 'port', '--json'], {db: tmp.db})
        expect(top.code, top.stderr).toBe(0)
        // Both hosts (the filler pings, icmp port 0, are A's and the gateway's).
        expect(top.json.top.find((t: {port: number}) => t.port === SERVICE)).toMatchObject({protocol: 6, devices: 2, total_bytes: 2 * (wire.ab + wire.ba)})
        const topB = await runCli(['bandwidth', 'top', '--by', 'protocol', '--mac', B, '--since', '1h', '--json'], {db: tmp.db})
        expect(topB.json.top).toEqual([expect.objectContaining({protocol: 6, protocol_name: 'tcp', total_bytes: wire.ab + wire.ba, devices: 1})])
        const text = await runCli(['bandwidth', 'stats', '--mac', B], {db: tmp.db})
        expect(text.stdout).toMatch(new RegExp(`tcp\\s+│?\\s*${SERVICE}`))

        // Status: the garbage counted, the job running; the text output shows the counters; /metrics too.
        const j = await status()
        expect(j.flows).toMatchObject({kind: 'netflow', state: 'running'})
        expect(j.flows.detail.datagrams.malformed).toBe(5)
        expect(j.flows.detail.datagrams.decoded).toBeGreaterThan(1)
        expect(j.flows.detail.datagrams.dropped).toBe(1)
        expect(j.flows.detail.datagrams.received).toBe(j.flows.detail.datagrams.decoded + j.flows.detail.datagrams.malformed + 1)
        const st = await runCli(['agent', 'status'], {db: tmp.db})
        expect(st.stdout).toMatch(/flows: 127\.0\.0\.1:\d+: datagrams \d+ received, \d+ decoded, 1 dropped, 5 malformed/)
        const metrics = await (await fetch(`${j.api.detail.url}/metrics`)).text()
        expect(metrics).toMatch(/netmon_netflow_datagrams_total\{job="flows",outcome="malformed"\} 5/)

        stopGroup(sf, 'SIGTERM')
        agent.kill('SIGTERM')
        expect((await agent.exited).code).toBe(0)
        // The final flush on stop adds nothing that was not there.
        const b3 = await stats(tmp.db, B)
        expect(b3.total.bytes_sent + b3.total.bytes_received).toBe(wire.ab + wire.ba)
      } finally {
        tmp.cleanup()
      }
    })
  }
})

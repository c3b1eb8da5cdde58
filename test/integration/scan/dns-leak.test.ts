/**
 * The DNS guarantee (issue 13): a command sends DNS queries only when it was asked to resolve
 * something, and only to the resolver it was told to use. Loading libsql's native module used to
 * call process.report.getReport(), whose blocking reverse lookups of every open socket sent PTR
 * queries (0.0.0.0 and the probe sockets' peers) to the system resolver during every scan.
 *
 * Each command runs in its own mount namespace (`unshare -m`) whose /etc/resolv.conf is
 * bind-mounted to a file naming a logging DNS server on a loopback address, port 53: every query
 * the system resolver (glibc or c-ares) would send lands there and is counted. The network
 * namespace is the machine's own, so the scanned LAN (10.77.8.0/24, netns hosts) is reachable.
 */
import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {BIN, ROOT, tempStore} from '../../support/cli.js'
import {NETNS_SKIP, createLan, type Lan} from '../../support/netns.js'
import {startFakeDns, type FakeDns} from './dns-server.js'

if (NETNS_SKIP) console.warn(`skipping DNS leak tests: ${NETNS_SKIP}`)

const SUBNET = '10.77.8.0/24'
/** A loopback address nothing else uses, so port 53 on it is free even where a local resolver runs. */
const SYSTEM_RESOLVER = `127.77.8.${50 + (process.pid % 200)}`

const ptr = (ip: string) => `${ip.split('.').reverse().join('.')}.in-addr.arpa`

describe.skipIf(NETNS_SKIP)('no DNS queries nobody asked for (system resolver = a logging server)', () => {
  const t = tempStore('netmon-dns-leak-')
  const dir = mkdtempSync(join(tmpdir(), 'netmon-dns-leak-'))
  const resolvConf = join(dir, 'resolv.conf')
  let lan: Lan
  let system: FakeDns
  let configured: FakeDns

  /** The built CLI in a mount namespace whose resolv.conf names the logging server. */
  const run = (args: string[]): Promise<{code: number | null; stdout: string; stderr: string; json: any}> =>
    new Promise((resolve, reject) => {
      const script = 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"'
      const argv = ['-m', 'sh', '-c', script, 'sh', resolvConf, process.execPath, BIN, ...args, '--db', t.db]
      const child = spawn('unshare', argv, {cwd: ROOT, env: {...process.env, NETMON_NO_PROGRESS: '1'}, stdio: ['ignore', 'pipe', 'pipe']})
      let stdout = ''
      let stderr = ''
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
      child.on('error', reject)
      child.on('close', code => {
        let json: any
        try {
          json = JSON.parse(stdout)
        } catch {
          json = undefined
        }
        resolve({code, stdout, stderr, json})
      })
    })
  const ok = async (args: string[]) => {
    const r = await run(args)
    expect(r.code, `netmon ${args.join(' ')}: ${r.stderr}`).toBe(0)
    return r
  }

  beforeAll(async () => {
    system = await startFakeDns({}, {address: SYSTEM_RESOLVER, port: 53})
    configured = await startFakeDns({'10.77.8.10': 'one.test.lan'})
    // timeout/attempts keep a lost query from stalling a failing run for long; they change nothing else.
    writeFileSync(resolvConf, `nameserver ${SYSTEM_RESOLVER}\noptions timeout:1 attempts:1\n`)
    lan = await createLan({subnet: SUBNET})
    const a = lan.addHost({ip: '10.77.8.10', mac: '02:4e:4d:08:00:0a'})
    lan.addHost({ip: '10.77.8.11', mac: '02:4e:4d:08:00:0b'})
    await lan.listen(a, [22])
  })

  afterAll(async () => {
    lan?.destroy()
    await system?.close()
    await configured?.close()
    t.cleanup()
    rmSync(dir, {recursive: true, force: true})
  })

  beforeEach(() => {
    system.queries.length = 0
    configured.queries.length = 0
  })

  it('the logging server really is the system resolver inside the namespace (the test can see a leak)', async () => {
    const r = await run(['latency', 'nosuch.test.invalid', '-c', '1', '--json'])
    expect(r.code).not.toBe(0)
    expect(system.queries.some(q => q.startsWith('nosuch.test.invalid'))).toBe(true)
  })

  it('scan --no-rdns: zero queries', async () => {
    const r = await ok(['scan', '10.77.8.0/28', '--no-rdns', '--ports', '22', '--json'])
    expect(r.json.hosts.map((h: any) => h.ip)).toEqual(['10.77.8.1', '10.77.8.10', '10.77.8.11'])
    expect(system.queries).toEqual([])
    expect(configured.queries).toEqual([])
  })

  it('scan --dns-server: PTRs for the found hosts only, all to the configured server', async () => {
    const r = await ok(['scan', '10.77.8.0/28', '--dns-server', `127.0.0.1:${configured.port}`, '--json'])
    const found: string[] = r.json.hosts.map((h: any) => h.ip)
    expect(found).toEqual(['10.77.8.1', '10.77.8.10', '10.77.8.11'])
    expect(r.json.hosts.find((h: any) => h.ip === '10.77.8.10').hostname).toBe('one.test.lan')
    expect(system.queries).toEqual([])
    // The machine's own address may come from /etc/hosts instead; every query is a found host's PTR, each once.
    expect([...configured.queries].sort()).toEqual(
      found
        .map(ptr)
        .filter(q => configured.queries.includes(q))
        .sort(),
    )
    for (const ip of ['10.77.8.10', '10.77.8.11']) expect(configured.queries.filter(q => q === ptr(ip))).toHaveLength(1)
  })

  it('scan with the system resolver: only the found hosts’ PTRs', async () => {
    const r = await ok(['scan', '10.77.8.0/28', '--json'])
    const found: string[] = r.json.hosts.map((h: any) => h.ip)
    expect(found).toEqual(['10.77.8.1', '10.77.8.10', '10.77.8.11'])
    expect(system.queries.length).toBeGreaterThan(0)
    for (const q of system.queries) expect(found.map(ptr), `unexpected query ${q}`).toContain(q)
    for (const ip of ['10.77.8.10', '10.77.8.11']) expect(system.queries).toContain(ptr(ip))
  })

  it('latency to a numeric address (icmp and tcp): zero queries', async () => {
    const icmp = await ok(['latency', '10.77.8.10', '-c', '2', '-i', '100ms', '--json'])
    expect(icmp.json).toBeDefined()
    const tcp = await ok(['latency', '10.77.8.10', '--method', 'tcp', '--port', '22', '-c', '2', '-i', '100ms', '--json'])
    expect(tcp.json).toBeDefined()
    expect(system.queries).toEqual([])
  })
})

/**
 * Issue 5 through the built CLI against loopback only (runs without root): bad targets write
 * nothing, port scans report exactly the listening sockets, the device commands' errors and
 * output shapes.
 */
import {spawn} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import net from 'node:net'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {openStore} from '../../../src/core/store/index.js'
import {BIN, hasScript, ptyArgs, ptyEnv, ROOT, runCli, tempStore, type CliResult} from '../../support/cli.js'
import {NETNS_SKIP, createIsolatedNs, type IsolatedNs} from '../../support/netns.js'

/** The CLI inside a namespace of its own (its 127.0.0.1 has only the test's listeners). */
function runInNs(iso: IsolatedNs, args: string[], db: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(iso.nsExec[0]!, [...iso.nsExec.slice(1), process.execPath, BIN, ...args, '--db', db], {
      cwd: ROOT,
      env: {...process.env, NETMON_NO_PROGRESS: '1'},
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', d => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', d => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('error', reject)
    child.on('close', code => {
      clearTimeout(timer)
      let json: any
      try {
        json = JSON.parse(stdout)
      } catch {
        json = undefined
      }
      resolve({code: code ?? -1, stdout, stderr, json})
    })
  })
}

/** Ports accepting connections on 127.0.0.1, from the kernel's socket tables (the oracle). */
function listeningOnLoopback(): Set<number> {
  const out = new Set<number>()
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = ''
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f.length < 4 || f[3] !== '0A') continue // LISTEN
      const [addr, portHex] = f[1]!.split(':')
      const port = parseInt(portHex!, 16)
      // 0.0.0.0, 127.0.0.1, ::, ::ffff:127.0.0.1 accept connections to 127.0.0.1
      if (['00000000', '0100007F', '00000000000000000000000000000000', '0000000000000000FFFF00000100007F'].includes(addr!)) out.add(port)
    }
  }
  return out
}

describe('scan on loopback', () => {
  const t = tempStore('netmon-scan-lo-')
  const servers: net.Server[] = []
  const mine: number[] = []
  let bannerPort = 0

  /** Listens on 127.0.0.1:port, or resolves false when the port is taken. */
  const listenOn = (server: net.Server, port: number) =>
    new Promise<boolean>(resolve => {
      server.once('error', () => resolve(false))
      server.listen(port, '127.0.0.1', () => resolve(true))
    })

  beforeAll(async () => {
    // Three listeners a few ports apart (so a port-range scan stays small), at a random base.
    for (let attempt = 0; attempt < 50 && mine.length < 3; attempt++) {
      for (const s of servers.splice(0)) await new Promise(r => s.close(r))
      mine.length = 0
      const base = 20000 + Math.floor(Math.random() * 10000)
      for (let i = 0; i < 3; i++) {
        const s = net.createServer(c => {
          c.on('error', () => {})
          if (i === 0) c.end('220 netmon test ftp ready\r\n')
        })
        if (!(await listenOn(s, base + i * 7))) break
        servers.push(s)
        mine.push(base + i * 7)
      }
    }
    expect(mine).toHaveLength(3)
    bannerPort = mine[0]!
  })

  afterAll(async () => {
    for (const s of servers) await new Promise(r => s.close(r))
    t.cleanup()
  })

  it.each([
    ['10.0.0.0/33', /invalid target "10\.0\.0\.0\/33": the prefix length must be 0–32/],
    ['999.1.1.1', /invalid target "999\.1\.1\.1": not a valid IP address/],
    ['8.0.0.0/8', /target 8\.0\.0\.0\/8 is a public address range \(.*--allow-public/],
    ['', /a target is empty/],
    [' , ', /a target is empty/],
    ['10.0.0.0/16', /65534 addresses, more than 1024/],
  ])('bad target %j → exit 2, one clear line, nothing written (no store even created)', async (target, re) => {
    const db = `${t.dir}/never-${Math.random().toString(36).slice(2)}.db`
    const r = await runCli(['scan', target], {db})
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^Error: /)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(re)
    expect(existsSync(db)).toBe(false)
    const j = await runCli(['scan', target, '--json'], {db})
    expect(j.code).toBe(2)
    expect(j.json.error.code).toBe('INVALID_INPUT')
  })

  it('bad targets next to good ones write nothing to an existing store either', async () => {
    const ok = await runCli(['scan', '127.0.0.1', '--method', 'tcp', '--json'], {db: t.db})
    expect(ok.code).toBe(0)
    const count = async () => {
      const s = await openStore({db: t.db})
      try {
        const [a, b, c] = await s.readBatch(['SELECT count(*) AS n FROM scans', 'SELECT count(*) AS n FROM devices', 'SELECT count(*) AS n FROM events'])
        return [a![0]!.n, b![0]!.n, c![0]!.n]
      } finally {
        await s.close()
      }
    }
    const before = await count()
    for (const args of [
      ['127.0.0.2', '999.1.1.1'],
      ['127.0.0.2', '--ports', '0-10'],
      ['127.0.0.2', '--method', 'arp'],
      ['127.0.0.2', '--dns-server', 'nope'],
      ['127.0.0.2', '--timeout', 'fast'],
    ]) {
      const r = await runCli(['scan', ...args], {db: t.db})
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
    }
    expect(await count()).toEqual(before)
  })

  // Exact when root: the scans run in a namespace whose loopback has only the test's listeners.
  // Otherwise other processes' listeners come and go on 127.0.0.1, so the kernel's socket table
  // (read before and after) is the oracle.
  describe.skipIf(NETNS_SKIP)('in a namespace of its own (exact)', () => {
    let iso: IsolatedNs
    beforeAll(async () => {
      iso = createIsolatedNs()
      await iso.listen([{port: 2222, banner: 'SSH-2.0-netmon-test\r\n'}, 31337, 40001])
    })
    afterAll(() => iso?.destroy())

    it('--ports all on 127.0.0.1: exactly the listeners (no loopback self-connect shows up as open), named, with banners', async () => {
      const r = await runInNs(iso, ['scan', '127.0.0.1', '--ports', 'all', '--banners', '--no-rdns', '--json'], t.db)
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      const ports = r.json.hosts[0].ports as {port: number; proto: string; banner: string | null}[]
      expect(ports.map(p => [p.port, p.proto, p.banner])).toEqual([
        [2222, 'tcp', 'SSH-2.0-netmon-test'],
        [31337, 'tcp', null],
        [40001, 'tcp', null],
      ])
      expect(r.json.scan.ports_per_host).toBe(65535)
    })

    it('only the listed ports are scanned (top100 plus one)', async () => {
      const r = await runInNs(iso, ['scan', '127.0.0.1', '--ports', 'top100,31337', '--no-rdns', '--json'], t.db)
      expect(r.code).toBe(0)
      expect(r.json.hosts[0].ports.map((p: {port: number}) => p.port)).toEqual([31337])
      expect(r.json.scan.ports_per_host).toBe(101)
    })
  })

  it('--ports over a range on the shared loopback: every listener, nothing that does not listen', async () => {
    const lo = mine[0]! - 100
    const hi = mine.at(-1)! + 100
    const before = listeningOnLoopback()
    const r = await runCli(['scan', '127.0.0.1', '--ports', `${lo}-${hi}`, '--banners', '--banner-timeout', '3s', '--json'], {db: t.db})
    const after = listeningOnLoopback()
    expect(r.code, r.stderr).toBe(0)
    const h = r.json.hosts[0]
    const found: number[] = h.ports.map((p: {port: number}) => p.port)
    for (const p of mine) expect(found).toContain(p)
    for (const p of found) expect(before.has(p) || after.has(p) || mine.includes(p), `port ${p} reported open but nothing listens`).toBe(true)
    for (const p of [...before].filter(x => x >= lo && x <= hi && after.has(x))) expect(found, `listener ${p} missed`).toContain(p)
    expect(h.ports.find((p: {port: number}) => p.port === bannerPort)).toMatchObject({banner: '220 netmon test ftp ready'})
    expect(r.json.scan.ports_per_host).toBe(hi - lo + 1)
  })

  it.skipIf(!existsSync('/usr/bin/prlimit'))('a low open-files limit shrinks the socket budget instead of failing or losing ports', async () => {
    const lo = mine[0]! - 1500
    const hi = mine.at(-1)! + 1500
    const r = await new Promise<CliResult>((resolve, reject) => {
      const child = spawn(
        '/usr/bin/prlimit',
        [
          '--nofile=300:300',
          process.execPath,
          BIN,
          'scan',
          '127.0.0.1',
          '--method',
          'tcp',
          '--ports',
          `${lo}-${hi}`,
          '--max-sockets',
          '4096',
          '--no-rdns',
          '--json',
          '--db',
          t.db,
        ],
        {cwd: ROOT, env: {...process.env, NETMON_NO_PROGRESS: '1'}},
      )
      let stdout = ''
      let stderr = ''
      child.stdout.setEncoding('utf8').on('data', d => (stdout += d))
      child.stderr.setEncoding('utf8').on('data', d => (stderr += d))
      child.on('error', reject)
      child.on('close', code => resolve({code: code ?? -1, stdout, stderr, json: JSON.parse(stdout || 'null')}))
    })
    expect(r.code, r.stderr).toBe(0)
    const found: number[] = r.json.hosts[0].ports.map((p: {port: number}) => p.port)
    for (const p of mine) expect(found).toContain(p)
  })

  it('host names resolve (localhost) and the hosts file names loopback addresses; no DNS query for loopback', async () => {
    const r = await runCli(['scan', 'localhost', '--method', 'tcp', '--json'], {db: t.db})
    expect(r.code).toBe(0)
    expect(r.json.hosts).toHaveLength(1)
    expect(r.json.hosts[0]).toMatchObject({ip: '127.0.0.1', hostname: 'localhost', self: true, found_by: ['tcp'], mac: null})
  })

  it('human output: a table and a summary line; --stream prints a line per host; stderr stays clean in a pipe', async () => {
    const r = await runCli(['scan', '127.0.0.1-3', '--method', 'tcp'], {db: t.db, env: {NETMON_NO_PROGRESS: undefined}})
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
    expect(r.stdout).toMatch(/│ 127\.0\.0\.2 /)
    expect(r.stdout).toMatch(/Scan #\d+ done: 3 addresses \(127\.0\.0\.1-3\) in [\d.]+ s: 3 up/)
    const s = await runCli(['scan', '127.0.0.1-2', '--method', 'tcp', '--stream'], {db: t.db})
    expect(s.stdout.split('\n').filter(l => /^127\.0\.0\.[12] /.test(l))).toHaveLength(2)
  })

  it.skipIf(!hasScript)('on a terminal the progress bar (hosts done/total, found) is drawn on stderr, never into stdout', async () => {
    // util-linux `script` gives the CLI a pseudo-terminal for stderr; stdout goes to a file.
    const outFile = join(t.dir, 'tty-stdout.txt')
    const term = await new Promise<string>((resolve, reject) => {
      const args = ['scan', '127.0.0.1-20', '--method', 'tcp', '--no-rdns', '--db', join(t.dir, 'tty.db')]
      const child = spawn('script', ptyArgs(args, {stdoutTo: outFile}), {cwd: ROOT, env: ptyEnv({NETMON_NO_PROGRESS: ''})})
      let text = ''
      child.stdout.setEncoding('utf8').on('data', d => (text += d))
      child.on('error', reject)
      child.on('close', () => resolve(text))
    })
    expect(term).toMatch(/scan \[.*\] \d+\/20 /)
    expect(term).toMatch(/20\/20 100% found: 20/)
    const stdout = readFileSync(outFile, 'utf8')
    expect(stdout).toMatch(/Scan #\d+ done: 20 addresses/)
    expect(stdout).not.toMatch(/\x1b|scan \[/)
  })

  it('devices commands: not found is exit 1, malformed input exit 2, JSON shapes', async () => {
    const nf = await runCli(['devices', 'show', 'AA:BB:CC:DD:EE:99', '--json'], {db: t.db})
    expect(nf.code).toBe(1)
    expect(nf.json.error.code).toBe('NOT_FOUND')
    expect((await runCli(['devices', 'show', 'zz:zz'], {db: t.db})).code).toBe(2)
    expect((await runCli(['devices', 'history', 'AA:BB:CC:DD:EE:99'], {db: t.db})).code).toBe(1)
    expect((await runCli(['devices', 'promote', '127.0.0.1', '--name', ''], {db: t.db})).code).toBe(2)
    expect((await runCli(['devices', 'timeline', '--since', 'yesterday'], {db: t.db})).code).toBe(2)
    expect((await runCli(['devices', 'timeline', '--limit', '0'], {db: t.db})).code).toBe(2)
    expect((await runCli(['devices', 'list', '--online', '--offline'], {db: t.db})).code).toBe(2)

    const list = await runCli(['devices', 'list', '--json'], {db: t.db})
    expect(list.code).toBe(0)
    expect(list.json.devices.map((d: {ip: string}) => d.ip)).toEqual(['127.0.0.1', '127.0.0.2', '127.0.0.3'])
    expect(list.json.devices[0]).toMatchObject({mac: null, mac_kind: null, status: 'online', known: false})
    expect(typeof list.json.devices[0].first_seen_ms).toBe('number')
    expect(list.json.devices[0].first_seen).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/)

    const tl = await runCli(['devices', 'timeline', '--type', 'new', '--json'], {db: t.db})
    expect(tl.json.events.every((e: {type: string}) => e.type === 'new')).toBe(true)
    expect(tl.json.events.map((e: {ip: string}) => e.ip).sort()).toEqual(['127.0.0.1', '127.0.0.2', '127.0.0.3'])
    const none = await runCli(['devices', 'timeline', '--type', 'offline', '--json'], {db: t.db})
    expect(none.json.events).toEqual([])
  })

  it('scan status with no scan yet says so', async () => {
    const fresh = tempStore('netmon-scan-empty-')
    try {
      const r = await runCli(['scan', 'status'], {db: fresh.db})
      expect(r.code).toBe(0)
      expect(r.stdout).toMatch(/No scan has run yet/)
      const j = await runCli(['scan', 'status', '--json'], {db: fresh.db})
      expect(j.json).toEqual({scan: null, running: []})
      expect((await runCli(['scan', 'status', '7'], {db: fresh.db})).code).toBe(1)
    } finally {
      fresh.cleanup()
    }
  })
})

/**
 * `netmon latency` and `netmon latency history` through the built CLI, on loopback only
 * (127.0.0.0/8) plus a replaying fake ping (sends nothing). The netns LAN is in live-netns.test.ts.
 */
import {spawn} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {normalizeMac} from '../../../src/core/devices/mac.js'
import {registerDevice} from '../../../src/core/devices/repo.js'
import {openStore} from '../../../src/core/store/index.js'
import {BIN, hasScript, ptyArgs, ptyEnv, ROOT, runCli, tempStore} from '../../support/cli.js'

const FAKE = join(import.meta.dirname, 'fake-ping.sh')
const tmp = tempStore('netmon-latency-cli-')
afterAll(() => tmp.cleanup())
let dbCounter = 0
const freshDb = () => join(tmp.dir, `s${dbCounter++}.db`)

async function count(db: string, sql: string): Promise<number> {
  const s = await openStore({db})
  try {
    return Number(Object.values((await s.get(sql)) ?? {n: 0})[0])
  } finally {
    await s.close()
  }
}

/** A TCP listener on loopback and a port that is certainly closed. */
let server: Server
let openPort = 0
let closedPort = 0
beforeAll(async () => {
  server = createServer(c => c.destroy())
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  openPort = (server.address() as {port: number}).port
  const probe = createServer()
  await new Promise<void>(r => probe.listen(0, '127.0.0.1', r))
  closedPort = (probe.address() as {port: number}).port
  await new Promise<void>(r => probe.close(() => r()))
})
afterAll(() => new Promise<void>(r => server.close(() => r())))

describe('latency on loopback (acceptance 2)', () => {
  it('ICMP: several loopback hosts at once, all measured and stored per probe and per run', async () => {
    const db = freshDb()
    const r = await runCli(['latency', '127.0.0.1', '127.0.0.2', 'localhost', '--count', '4', '--interval', '20ms', '--method', 'icmp', '--json'], {db})
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.json.method).toBe('icmp')
    expect(r.json.hosts.map((h: {host: string; ip: string}) => `${h.host}=${h.ip}`)).toEqual([
      '127.0.0.1=127.0.0.1',
      '127.0.0.2=127.0.0.2',
      'localhost=127.0.0.1',
    ])
    for (const h of r.json.hosts) {
      expect(h).toMatchObject({sent: 4, received: 4, lost: 0, loss_pct: 0, grade: 'excellent', error: null})
      expect(h.min_ms).toBeGreaterThan(0)
      expect(h.min_ms).toBeLessThanOrEqual(h.median_ms)
      expect(h.median_ms).toBeLessThanOrEqual(h.max_ms)
      expect(h.rtts_ms).toHaveLength(4)
      expect(typeof h.run_id).toBe('number')
    }
    expect(r.json.unreachable).toEqual([])
    expect(await count(db, 'SELECT count(*) AS n FROM latency_runs')).toBe(3)
    expect(await count(db, "SELECT count(*) AS n FROM latency_probes WHERE status = 'reply' AND rtt_ms > 0")).toBe(12)
  })

  it('human output: one table row per host with the grade', async () => {
    const r = await runCli(['latency', '127.0.0.1', '127.0.0.4', '-c', '2', '-i', '10ms'], {db: freshDb()})
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/ICMP echo \(ping\): 2 probes per host every 10 ms/)
    expect(r.stdout).toMatch(/127\.0\.0\.1 .*│ 2 +│ 2 +│ 0% .*excellent/)
    expect(r.stdout).toMatch(/127\.0\.0\.4 .*│ 2 +│ 2 +│ 0% .*excellent/)
  })

  it('TCP: an accepted and a refused connection are both replies with an RTT', async () => {
    const db = freshDb()
    const a = await runCli(['latency', '127.0.0.1', '--method', 'tcp', '--port', String(openPort), '-c', '3', '-i', '10ms', '--json'], {db})
    expect(a.code).toBe(0)
    expect(a.json.hosts[0]).toMatchObject({method: 'tcp', port: openPort, sent: 3, received: 3, loss_pct: 0})
    const b = await runCli(['latency', '127.0.0.1', '--method', 'tcp', '--port', String(closedPort), '-c', '3', '-i', '10ms', '--json'], {db})
    expect(b.code).toBe(0)
    expect(b.json.hosts[0]).toMatchObject({sent: 3, received: 3, loss_pct: 0})
    expect(await count(db, "SELECT count(*) AS n FROM latency_probes WHERE status = 'reply'")).toBe(3)
    expect(await count(db, "SELECT count(*) AS n FROM latency_probes WHERE status = 'refused' AND rtt_ms IS NOT NULL")).toBe(3)
    expect(await count(db, `SELECT count(*) AS n FROM latency_runs WHERE method = 'tcp' AND port = ${closedPort}`)).toBe(1)
  })
})

describe('bad input → exit 2, nothing stored (acceptance 4)', () => {
  const cases: [string, string[], RegExp][] = [
    ['host name with illegal characters', ['bad_host!'], /invalid host "bad_host!"/],
    ['host name with an empty label', ['router..lan'], /invalid host/],
    ['option-looking host', ['--', '-f'], /invalid host "-f"/],
    ['one bad host among good ones', ['127.0.0.1', 'no way'], /invalid host "no way"/],
    ['port 0', ['127.0.0.1', '--method', 'tcp', '--port', '0'], /port: must be 1-65535/],
    ['port 70000', ['127.0.0.1', '--port', '70000'], /port: must be 1-65535/],
    ['port not a number', ['127.0.0.1', '--port', 'https'], /port/i],
    ['count 0', ['127.0.0.1', '--count', '0'], /count: must be at least 1/],
    ['negative count', ['127.0.0.1', '--count=-3'], /count: must be at least 1/],
    ['count not a number', ['127.0.0.1', '--count', 'ten'], /count/i],
    ['interval without a unit', ['127.0.0.1', '--interval', 'fast'], /invalid --interval "fast"/],
    ['interval 0', ['127.0.0.1', '--interval', '0ms'], /interval: must be at least 1ms/],
    ['timeout over 60 s', ['127.0.0.1', '--timeout', '2m'], /timeout: must be at most 60s/],
    ['unknown method', ['127.0.0.1', '--method', 'udp'], /method/],
    ['no host', [], /host/i],
  ]
  for (const [name, args, message] of cases) {
    it(name, async () => {
      const db = freshDb()
      const r = await runCli(['latency', ...args], {db})
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(message)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(r.stdout).toBe('')
      // Validation happens before the store is even opened.
      expect(() => readFileSync(db)).toThrow()
    })
  }

  it('--json carries the error object too', async () => {
    const r = await runCli(['latency', '127.0.0.1', '--port', '0', '--json'], {db: freshDb()})
    expect(r.code).toBe(2)
    expect(r.json.error).toMatchObject({code: 'INVALID_INPUT'})
  })
})

// Issue 13: malformed addresses were looked up as names (exit 1 after a DNS query), and addresses
// scan refuses were probed and stored. Lookups are disabled in these processes (no-dns.cjs records
// any attempt) and ping is the fake that sends nothing, so even a regression stays on this machine.
describe('addresses latency refuses, like scan: exit 2, no lookup, nothing stored', () => {
  const NO_DNS = join(import.meta.dirname, '..', '..', 'support', 'no-dns.cjs')
  const cases: [string, RegExp][] = [
    ['256.0.0.1', /^Error: invalid host "256\.0\.0\.1": not a valid IP address/],
    ['127.1.2.3.4', /^Error: invalid host "127\.1\.2\.3\.4": not a valid IP address/],
    ['127.0.0.01', /^Error: invalid host "127\.0\.0\.01": not a valid IP address/],
    ['0.0.0.0', /^Error: cannot probe "0\.0\.0\.0": it is "this network" space/],
    ['255.255.255.255', /^Error: cannot probe "255\.255\.255\.255": it is reserved space .*broadcast/],
    ['224.0.0.1', /^Error: cannot probe "224\.0\.0\.1": it is multicast space/],
    ['ff02::1', /^Error: cannot probe "ff02::1": it is IPv6 multicast space/],
    [
      '127.0.0.0/23',
      /^Error: "127\.0\.0\.0\/23" has 510 addresses, more than latency probes in one run \(256\) \(give a \/24 or smaller \(e\.g\. 127\.0\.0\.0\/24\)/,
    ],
    ['127.0.0.0/30,', /^Error: invalid host "127\.0\.0\.0\/30,"/],
  ]
  for (const [host, message] of cases) {
    it(host, async () => {
      const db = freshDb()
      const log = join(tmp.dir, `dns-${dbCounter}.log`)
      writeFileSync(log, '')
      const r = await runCli(['latency', host, '--method', 'icmp', '-c', '1'], {
        db,
        env: {NODE_OPTIONS: `--require ${NO_DNS}`, NO_DNS_LOG: log, NETMON_PING: FAKE},
      })
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(r.stderr).toMatch(message)
      expect(readFileSync(log, 'utf8')).toBe('')
      expect(() => readFileSync(db)).toThrow()
    })
  }

  it('a CIDR of loopback addresses is probed host by host (network and broadcast left out)', async () => {
    const db = freshDb()
    const r = await runCli(['latency', '127.0.0.0/30', '--method', 'tcp', '--port', String(openPort), '-c', '1', '--json'], {db})
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.hosts.map((h: {host: string; ip: string}) => `${h.host}=${h.ip}`)).toEqual(['127.0.0.1=127.0.0.1', '127.0.0.2=127.0.0.2'])
    expect(await count(db, 'SELECT count(*) AS n FROM latency_runs')).toBe(2)
  })
})

describe('ping missing or unusable (acceptance 4)', () => {
  it('--method icmp without ping: a clear message suggesting --method tcp, exit 1', async () => {
    const db = freshDb()
    const r = await runCli(['latency', '127.0.0.1', '--method', 'icmp', '-c', '1'], {db, env: {NETMON_PING: '/nonexistent/ping'}})
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(
      /^Error: ICMP probing is unavailable: the ping program was not found \(\/nonexistent\/ping\) \(.*apt-get install iputils-ping.*--method tcp.*\)\n$/,
    )
    expect(r.stdout).toBe('')
  })

  it('ping not on PATH: same message; JSON error code PING_UNAVAILABLE', async () => {
    const empty = join(tmp.dir, 'empty-bin')
    mkdirSync(empty, {recursive: true})
    const r = await runCli(['latency', '127.0.0.1', '--method', 'icmp', '--json'], {db: freshDb(), env: {PATH: empty, NETMON_PING: undefined}})
    expect(r.code).toBe(1)
    expect(r.json.error).toMatchObject({code: 'PING_UNAVAILABLE'})
    expect(r.json.error.message).toContain('"ping" on PATH')
    expect(r.json.error.hint).toContain('--method tcp')
  })

  it('no --method and no ping: falls back to TCP with a note on stderr', async () => {
    const r = await runCli(['latency', '127.0.0.1', '--port', String(openPort), '-c', '2', '-i', '10ms', '--json'], {
      db: freshDb(),
      env: {NETMON_PING: '/nonexistent/ping'},
    })
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/ICMP unavailable \(the ping program was not found.*\); measuring TCP connect time instead/)
    expect(r.json).toMatchObject({method: 'tcp', port: openPort})
    expect(r.json.method_note).toMatch(/ICMP unavailable/)
    expect(r.json.hosts[0]).toMatchObject({received: 2})
  })

  it('an interval below what ping allows: exit 2 naming --interval; without --method: TCP', async () => {
    const env = {NETMON_PING: FAKE, FAKE_PING_PREFLIGHT_ERR: 'ping: cannot flood; minimal interval allowed for user is 2ms'}
    const a = await runCli(['latency', '127.0.0.9', '--method', 'icmp', '--interval', '1ms'], {db: freshDb(), env})
    expect(a.code).toBe(2)
    expect(a.stderr).toMatch(
      /--interval 1ms is below what ping allows without root \(ping: cannot flood; minimal interval allowed for user is 2ms\).*--method tcp/,
    )
    const b = await runCli(['latency', '127.0.0.1', '--interval', '1ms', '-c', '1', '--port', String(openPort), '--json'], {db: freshDb(), env})
    expect(b.code).toBe(0)
    expect(b.json.method).toBe('tcp')
  })

  it('ping without privileges: explicit icmp explains setcap/ping_group_range and --method tcp', async () => {
    const env = {NETMON_PING: FAKE, FAKE_PING_PREFLIGHT_ERR: 'ping: socket: Operation not permitted'}
    const r = await runCli(['latency', '127.0.0.9', '--method', 'icmp'], {db: freshDb(), env})
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/ICMP probing is unavailable: ping: socket: Operation not permitted.*cap_net_raw.*--method tcp/)
  })
})

describe('ping output variants through the whole path (fake ping replaying lines)', () => {
  it('decimal commas, icmp_req, time<1 ms, DUP!, an ICMP error and a missing seq', async () => {
    const out = join(tmp.dir, 'variant.txt')
    const argsFile = join(tmp.dir, 'variant-args.txt')
    writeFileSync(
      out,
      [
        'PING 127.0.0.9 (127.0.0.9) 56(84) bytes of data.',
        '64 Bytes von 127.0.0.9: icmp_seq=1 ttl=64 Zeit=0,250 ms',
        '64 bytes from 127.0.0.9: icmp_req=2 ttl=64 time<1 ms',
        '64 bytes from 127.0.0.9: icmp_seq=2 ttl=64 time=0.300 ms (DUP!)',
        'From 127.0.0.1 icmp_seq=3 Destination Host Unreachable',
        '64 bytes from 127.0.0.9: icmp_seq=5 ttl=64 time=0.750 ms',
        '',
        '--- 127.0.0.9 ping statistics ---',
        '5 packets transmitted, 3 received, +1 duplicates, +1 errors, 40% packet loss, time 4005ms',
      ].join('\n') + '\n',
    )
    const r = await runCli(['latency', '127.0.0.9', '--method', 'icmp', '-c', '5', '-i', '50ms', '-t', '300ms', '--json'], {
      db: freshDb(),
      env: {NETMON_PING: FAKE, FAKE_PING_OUT: out, FAKE_PING_ARGS: argsFile, FAKE_PING_EXIT: '1'},
    })
    expect(r.code).toBe(0)
    const h = r.json.hosts[0]
    // seq1 0.25, seq2 <1 → 0.5, seq3 unreachable, seq4 never answered, seq5 0.75; the DUP is counted apart.
    expect(h.rtts_ms).toEqual([0.25, 0.5, null, null, 0.75])
    expect(h).toMatchObject({sent: 5, received: 3, loss_pct: 40, duplicates: 1, avg_ms: 0.5, median_ms: 0.5, jitter_ms: 0.25})
    // The exact ping invocation (after the loopback check): numeric, stamps, report no-answer, C locale numbers.
    const calls = readFileSync(argsFile, 'utf8').trim().split('\n')
    expect(calls[0]).toBe('-n -c 1 -W 1 -i 0.05 127.0.0.1')
    expect(calls[1]).toBe('-n -D -O -i 0.05 -W 0.3 -c 5 127.0.0.9')
  })

  it('a host that never answers is 100 % loss, exit 0 — and exit 1 with --fail-on-loss', async () => {
    const fixture = join(ROOT, 'test/unit/latency/fixtures/iputils-drop.txt')
    const env = {NETMON_PING: FAKE, FAKE_PING_OUT: fixture, FAKE_PING_EXIT: '1'}
    const a = await runCli(['latency', '127.0.0.9', '--method', 'icmp', '-c', '3', '--json'], {db: freshDb(), env})
    expect(a.code).toBe(0)
    expect(a.json.hosts[0]).toMatchObject({sent: 3, received: 0, loss_pct: 100, grade: 'bad'})
    expect(a.json.unreachable).toEqual(['127.0.0.9'])
    const b = await runCli(['latency', '127.0.0.9', '--method', 'icmp', '-c', '3', '--fail-on-loss', '--json'], {db: freshDb(), env})
    expect(b.code).toBe(1)
    expect(b.stderr).toContain('no reply at all from 127.0.0.9')
    expect(b.json.hosts[0]).toMatchObject({loss_pct: 100})
  })

  it('ping failing before sending ("connect: Network is unreachable"): 100 % loss with the reason', async () => {
    const empty = join(tmp.dir, 'empty.txt')
    writeFileSync(empty, '')
    // The fake prints the capture's stderr line via FAKE_PING_OUT on stdout is not the same; use a tiny wrapper.
    const wrapper = join(tmp.dir, 'netunreach-ping.sh')
    writeFileSync(wrapper, `#!/bin/sh\ncase " $* " in *" -c 1 "*) exit 0;; esac\necho "ping: connect: Network is unreachable" >&2\nexit 2\n`, {mode: 0o755})
    const r = await runCli(['latency', '127.0.0.9', '--method', 'icmp', '-c', '3', '-i', '10ms', '--json'], {db: freshDb(), env: {NETMON_PING: wrapper}})
    expect(r.code).toBe(0)
    expect(r.json.hosts[0]).toMatchObject({sent: 3, received: 0, loss_pct: 100, error: 'connect: Network is unreachable'})
  })
})

describe('latency history by IP and by MAC (acceptance 3)', () => {
  it('a run to an inventory device is linked to it and returned by IP and by MAC', async () => {
    const db = freshDb()
    const s = await openStore({db})
    await s.writeTx(tx => registerDevice(tx, {mac: normalizeMac('02:4e:4d:00:00:77'), ip: '127.0.0.5'}))
    await s.close()
    const run = await runCli(['latency', '127.0.0.5', '127.0.0.6', '-c', '3', '-i', '10ms', '--json'], {db})
    expect(run.code).toBe(0)
    expect(run.json.hosts[0].device).toMatchObject({mac: '02:4E:4D:00:00:77'})
    expect(run.json.hosts[1].device).toBeNull()

    const byIp = await runCli(['latency', 'history', '127.0.0.5', '--json'], {db})
    expect(byIp.code).toBe(0)
    expect(byIp.json).toMatchObject({matched_by: 'ip', ip: '127.0.0.5', resolution: 'raw', device: {mac: '02:4E:4D:00:00:77'}})
    expect(byIp.json.points).toHaveLength(3)
    expect(byIp.json.summary).toMatchObject({sent: 3, received: 3})
    expect(byIp.json.points.map((p: {rtt_ms: number}) => p.rtt_ms)).toEqual(run.json.hosts[0].rtts_ms)

    const byMac = await runCli(['latency', 'history', '02-4e-4d-00-00-77', '--json'], {db})
    expect(byMac.code).toBe(0)
    expect(byMac.json).toMatchObject({matched_by: 'mac', device: {mac: '02:4E:4D:00:00:77'}})
    expect(byMac.json.runs.map((r: {id: number}) => r.id)).toEqual([run.json.hosts[0].run_id])
    expect(byMac.json.points).toEqual(byIp.json.points)

    const bucketed = await runCli(['latency', 'history', '127.0.0.5', '--resolution', '1m', '--json'], {db})
    expect(bucketed.json.points.reduce((a: number, p: {sent: number}) => a + p.sent, 0)).toBe(3)

    const human = await runCli(['latency', 'history', '127.0.0.5'], {db})
    expect(human.code).toBe(0)
    expect(human.stdout).toContain('Latency of 127.0.0.5 (127.0.0.5, 02:4E:4D:00:00:77)')
    expect(human.stdout).toMatch(/ms [┼┤]/) // the asciichart axis
    expect(human.stdout).toMatch(/│ 1 +│ 3 +│ 3 +│ 0% /)
  })

  it('errors: unknown MAC exit 1, malformed host exit 2, bad --since exit 2, empty range says so', async () => {
    const db = freshDb()
    expect((await runCli(['latency', 'history', '02:4e:4d:00:00:01'], {db})).code).toBe(1)
    expect((await runCli(['latency', 'history', 'not a host'], {db})).code).toBe(2)
    expect((await runCli(['latency', 'history', '127.0.0.1', '--since', 'yesterday'], {db})).code).toBe(2)
    expect((await runCli(['latency', 'history', '127.0.0.1', '--resolution', '2m'], {db})).code).toBe(2)
    const empty = await runCli(['latency', 'history', '127.0.0.1'], {db})
    expect(empty.code).toBe(0)
    expect(empty.stdout).toContain('No latency probes stored in this range.')
  })
})

describe('--watch', () => {
  function watch(args: string[], db: string, stopAfter: (out: string) => boolean) {
    return new Promise<{code: number | null; stdout: string; stderr: string}>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'latency', ...args, '--watch', '--db', db], {cwd: ROOT, env: {...process.env, NETMON_NO_PROGRESS: '1'}})
      let stdout = ''
      let stderr = ''
      let signalled = false
      const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error(`watch did not stop: ${stdout} ${stderr}`))), 20_000)
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d
        if (!signalled && stopAfter(stdout)) {
          signalled = true
          child.kill('SIGINT')
        }
      })
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
      child.on('close', code => (clearTimeout(timer), resolve({code, stdout, stderr})))
    })
  }

  it('--json streams NDJSON (start, probes, round summaries), stores each round, ends cleanly on SIGINT', async () => {
    const db = freshDb()
    const rounds = (out: string) => out.split('\n').filter(l => l.includes('"scope":"round"')).length
    const r = await watch(['127.0.0.1', '127.0.0.2', '-c', '3', '-i', '20ms', '--json'], db, out => rounds(out) >= 4)
    expect(r.code).toBe(0)
    const lines = r.stdout
      .trim()
      .split('\n')
      .map(l => JSON.parse(l))
    expect(lines[0]).toMatchObject({type: 'start', method: 'icmp', count: 3, hosts: [{ip: '127.0.0.1'}, {ip: '127.0.0.2'}]})
    const probes = lines.filter(l => l.type === 'probe')
    expect(probes.length).toBeGreaterThanOrEqual(6)
    for (const p of probes) expect(p).toMatchObject({status: 'reply', rtt_ms: expect.any(Number), ts_ms: expect.any(Number)})
    // Per host, probe seqs are 1, 2, 3, … without gaps or repeats.
    for (const ip of ['127.0.0.1', '127.0.0.2']) {
      const seqs = probes.filter(p => p.ip === ip).map(p => p.seq)
      expect(seqs).toEqual(seqs.map((_, i) => i + 1))
    }
    const roundLines = lines.filter(l => l.type === 'summary' && l.scope === 'round')
    for (const l of roundLines.filter(x => x.sent === 3)) expect(l).toMatchObject({received: 3, grade: 'excellent', run_id: expect.any(Number)})
    const session = lines.filter(l => l.type === 'summary' && l.scope === 'session')
    expect(session).toHaveLength(2)
    expect(lines.slice(-2)).toEqual(session)
    for (const s of session) {
      const n = probes.filter(p => p.ip === s.ip).length
      expect(s).toMatchObject({sent: n, received: n, runs: roundLines.filter(x => x.ip === s.ip).length})
    }
    // Everything streamed was stored: every round a run, every probe a row.
    expect(await count(db, 'SELECT count(*) AS n FROM latency_runs')).toBe(roundLines.length)
    expect(await count(db, 'SELECT count(*) AS n FROM latency_probes')).toBe(probes.length)
  })

  it('without a terminal: a header, one line per stored round, then the session table', async () => {
    const db = freshDb()
    const r = await watch(['127.0.0.1', '-c', '2', '-i', '20ms'], db, out => (out.match(/ round \d+:/g) ?? []).length >= 2)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^ICMP echo \(ping\) every 20 ms, timeout 1000 ms; a run is stored every 2 probes\. Ctrl-C stops\.\n/)
    expect(r.stdout).toMatch(/Z 127\.0\.0\.1 round 1: 2\/2 received, loss 0%, avg [\d.]+ ms, median [\d.]+ ms, jitter [\d.]+ ms, excellent\n/)
    expect(r.stdout).toMatch(/Session totals \(\d+ runs stored\):/)
    expect(r.stdout).not.toContain('\x1b[') // no cursor movement outside a terminal
  })
  it('a ping that dies (no route) is restarted: one lost probe with the reason per attempt', async () => {
    const wrapper = join(tmp.dir, 'dying-ping.sh')
    writeFileSync(wrapper, `#!/bin/sh\ncase " $* " in *" -c 1 "*) exit 0;; esac\necho "ping: connect: Network is unreachable" >&2\nexit 2\n`, {mode: 0o755})
    const db = freshDb()
    const child = spawn(process.execPath, [BIN, 'latency', '127.0.0.9', '--method', 'icmp', '-c', '2', '-i', '20ms', '--watch', '--json', '--db', db], {
      cwd: ROOT,
      env: {...process.env, NETMON_PING: wrapper},
    })
    let out = ''
    const closed = new Promise<number | null>(resolve => child.on('close', resolve))
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d
      if ((out.match(/"type":"probe"/g) ?? []).length >= 2 && !child.killed) child.kill('SIGINT')
    })
    expect(await closed).toBe(0)
    clearTimeout(timer)
    const probes = out
      .trim()
      .split('\n')
      .map(l => JSON.parse(l))
      .filter(l => l.type === 'probe')
    expect(probes.slice(0, 2)).toMatchObject([
      {seq: 1, rtt_ms: null, status: 'error', detail: 'connect: Network is unreachable'},
      {seq: 2, rtt_ms: null, status: 'error'},
    ])
    // Restarted after max(interval, 1 s), not in a tight loop.
    expect(probes[1].ts_ms - probes[0].ts_ms).toBeGreaterThanOrEqual(900)
  })

  it.skipIf(!hasScript)('on a terminal (script(1) pty): the table is redrawn in place; Ctrl-C prints the session totals', async () => {
    const db = freshDb()
    const args = ['latency', '127.0.0.1', '127.0.0.2', '--watch', '-c', '2', '-i', '20ms', '--db', db]
    const child = spawn('script', ptyArgs(args, {flush: true}), {cwd: ROOT, env: ptyEnv(), stdio: ['pipe', 'pipe', 'pipe']})
    let out = ''
    let sent = false
    const closed = new Promise<number | null>(resolve => child.on('close', resolve))
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d
      // After three redraws, type Ctrl-C into the terminal, as a user would.
      if (!sent && (out.match(/\x1b\[\d+A\x1b\[J/g) ?? []).length >= 3) {
        sent = true
        child.stdin.write('\x03')
      }
    })
    expect(await closed).toBe(0)
    clearTimeout(timer)
    expect(out).toContain('Ctrl-C stops.')
    expect(out).toMatch(/│ 127\.0\.0\.2 │ \d+ +│ \d+ +│ 0% +│/)
    expect(out).toMatch(/Session totals \(\d+ runs stored\):/)
    expect(await count(db, 'SELECT count(*) AS n FROM latency_probes WHERE rtt_ms IS NOT NULL')).toBeGreaterThanOrEqual(4)
  })
})

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
    ['-g with a single address', ['-g', '127.0.0.1'], /-g 127\.0\.0\.1: not a CIDR/],
    [
      '-g START END reversed',
      ['-g', '127.0.0.9', '127.0.0.1'],
      /the range ends before it starts \(put the lower address first: -g 127\.0\.0\.1 127\.0\.0\.9\)/,
    ],
    ['-g with three arguments', ['-g', '127.0.0.1', '127.0.0.2', '127.0.0.3'], /-g takes one CIDR or two addresses, got 3 arguments/],
    ['-f with a missing file', ['-f', '/nonexistent/hosts.txt'], /-f \/nonexistent\/hosts\.txt: cannot read it \(ENOENT\)/],
    ['--max-targets 0', ['127.0.0.1', '--max-targets', '0'], /maxTargets: must be at least 1/],
    ['--max-targets above the limit', ['127.0.0.1', '--max-targets', '70000'], /maxTargets: must be at most 65536/],
    ['--concurrency 0', ['127.0.0.1', '--concurrency', '0'], /concurrency: must be at least 1/],
    ['-a with -u', ['127.0.0.1', '-a', '-u'], /cannot also be provided when using/],
    ['-a with --watch', ['127.0.0.1', '-a', '--watch'], /-a reports a finished run and cannot be used with --watch/],
    ['-q with --watch', ['127.0.0.1', '-q', '--watch'], /-q reports a finished run/],
    [
      '--watch beyond --concurrency',
      ['127.0.0.0/29', '--watch', '--concurrency', '4'],
      /--watch probes every host all the time: 6 targets, more than --concurrency 4 \(raise --concurrency to 6/,
    ],
    [
      'a total above the cap',
      ['127.0.0.0/24', '127.0.1.0/24', '--max-targets', '300'],
      /^Error: 508 targets, more than the cap of 300 per run \(raise the cap with --max-targets 508/,
    ],
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
      '127.0.0.0/21',
      /^Error: "127\.0\.0\.0\/21" has 2,046 addresses, more than the cap of 1,024 targets per run \(raise the cap with --max-targets 2046, give a smaller range such as 127\.0\.0\.0\/22/,
    ],
    ['127.0.0.0/30,', /^Error: invalid host "127\.0\.0\.0\/30,"/],
    // The same checks apply to -g and to -f files (and standard input).
    ['-g 256.0.0.1 256.0.0.9', /^Error: -g start "256\.0\.0\.1" is not an IP address/],
    ['-f:256.0.0.1', /^Error: invalid host "256\.0\.0\.1": not a valid IP address/],
    ['-f-:127.1.2.3.4', /^Error: invalid host "127\.1\.2\.3\.4": not a valid IP address/],
    ['-f-:224.0.0.1', /^Error: cannot probe "224\.0\.0\.1": it is multicast space/],
  ]
  for (const [host, message] of cases) {
    it(host, async () => {
      const db = freshDb()
      const log = join(tmp.dir, `dns-${dbCounter}.log`)
      writeFileSync(log, '')
      // "-f:X": X in a target file; "-f-:X": X on standard input; "-g A B": generate.
      let args = [host]
      let input: string | undefined
      if (host.startsWith('-f:')) {
        const file = join(tmp.dir, `targets-${dbCounter}.txt`)
        writeFileSync(file, `# list\n127.0.0.1\n${host.slice(3)}\n`)
        args = ['-f', file]
      } else if (host.startsWith('-f-:')) {
        input = `127.0.0.1\n${host.slice(4)} # bad\n`
        args = ['-f', '-']
      } else if (host.startsWith('-g ')) args = host.split(' ')
      const r = await runCli(['latency', ...args, '--method', 'icmp', '-c', '1'], {
        db,
        input,
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

// Issue 17: fping's target forms (-g, -f) and outputs (-a, -u, -q) on loopback; the comparison
// with Debian's fping itself, with hosts that do not answer, is in live-netns.test.ts.
describe('fping-style targets and outputs', () => {
  it('-g CIDR and -g START END; -a lists every host that answered, in target order; exit 0', async () => {
    const db = freshDb()
    const g = await runCli(['latency', '-g', '127.0.0.0/29', '-c', '1', '-a'], {db})
    expect(g.code, g.stderr).toBe(0)
    expect(g.stdout).toBe(['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', ''].join('\n'))
    const se = await runCli(['latency', '-g', '127.0.0.6', '127.0.0.9', '-c', '1', '--json'], {db})
    expect(se.json.hosts.map((h: {ip: string}) => h.ip)).toEqual(['127.0.0.6', '127.0.0.7', '127.0.0.8', '127.0.0.9'])
    expect(se.json).toMatchObject({alive: ['127.0.0.6', '127.0.0.7', '127.0.0.8', '127.0.0.9'], unreachable: [], interrupted: false, concurrency: 256})
    // Stored like any run: one per host.
    expect(await count(db, 'SELECT count(*) AS n FROM latency_runs')).toBe(10)
    // -u with everything answering: nothing on stdout, still exit 0 (a script's `for h in $(…)` runs zero times).
    const u = await runCli(['latency', '127.0.0.1', '127.0.0.2', '-c', '1', '-u'], {db})
    expect(u).toMatchObject({code: 0, stdout: ''})
  })

  it("-q prints fping's summary line per host; with -a the list is on stdout and the summaries on stderr", async () => {
    const db = freshDb()
    const q = await runCli(['latency', '127.0.0.1', '127.0.0.10', '-c', '2', '-i', '20ms', '-q'], {db})
    expect(q.code).toBe(0)
    const line = (host: string) => new RegExp(`^${host.replace(/\./g, '\\.')} +: xmt/rcv/%loss = 2/2/0%, min/avg/max = [\\d.]+/[\\d.]+/[\\d.]+$`)
    const lines = q.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(line('127.0.0.1'))
    expect(lines[1]).toMatch(line('127.0.0.10'))
    expect(lines[0]!.indexOf(':')).toBe(lines[1]!.indexOf(':')) // padded to the longest host, as fping does
    const aq = await runCli(['latency', '127.0.0.1', '-c', '1', '-a', '-q'], {db})
    expect(aq.stdout).toBe('127.0.0.1\n')
    expect(aq.stderr).toMatch(/^127\.0\.0\.1 : xmt\/rcv\/%loss = 1\/1\/0%, min\/avg\/max = /)
    // --json wins: the structured result, nothing else on stdout.
    const j = await runCli(['latency', '127.0.0.1', '-c', '1', '-a', '-q', '--json'], {db})
    expect(j.json).toMatchObject({alive: ['127.0.0.1'], unreachable: [], hosts: [{ip: '127.0.0.1', sent: 1, received: 1}]})
  })

  it('-f FILE and -f - read one target per line (first word, # comments, blank lines); with arguments, duplicates once', async () => {
    const db = freshDb()
    const file = join(tmp.dir, 'hosts.txt')
    writeFileSync(file, '# lab\n127.0.0.3 printer\n\n   # spare\n127.0.0.0/30\n127.0.0.3\n')
    const f = await runCli(['latency', '-f', file, '127.0.0.9', '127.0.0.1', '-c', '1', '--json'], {db})
    expect(f.code, f.stderr).toBe(0)
    expect(f.json.hosts.map((h: {host: string}) => h.host)).toEqual(['127.0.0.9', '127.0.0.1', '127.0.0.3', '127.0.0.2'])
    const stdin = await runCli(['latency', '-f', '-', '-c', '1', '-a'], {db, input: '127.0.0.4\n127.0.0.5 # nas\n127.0.0.4\n'})
    expect(stdin).toMatchObject({code: 0, stdout: '127.0.0.4\n127.0.0.5\n'})
    const empty = await runCli(['latency', '-f', '-', '-c', '1'], {db: freshDb(), input: '# nothing\n\n'})
    expect(empty.code).toBe(2)
    expect(empty.stderr).toBe('Error: -f - (standard input) names no target (put one target per line; # starts a comment)\n')
  })

  it('the cap: a /21 is refused with the fix in the message; --max-targets raises it (TCP, 2,046 loopback hosts)', async () => {
    const db = freshDb()
    const refused = await runCli(['latency', '-g', '127.0.8.0/21', '-c', '1'], {db})
    expect(refused.code).toBe(2)
    expect(refused.stderr).toBe(
      'Error: "127.0.8.0/21" has 2,046 addresses, more than the cap of 1,024 targets per run (raise the cap with --max-targets 2046, give a smaller range such as 127.0.8.0/22, or find the live hosts first with `netmon scan`)\n',
    )
    expect(() => readFileSync(db)).toThrow()
    const r = await runCli(
      ['latency', '-g', '127.0.8.0/21', '--max-targets', '2046', '--method', 'tcp', '--port', String(openPort), '-c', '1', '-t', '5s', '-u', '--fail-on-loss'],
      {db, timeoutMs: 120_000},
    )
    expect(r.stderr).toBe('')
    expect(r).toMatchObject({code: 0, stdout: ''})
    expect(await count(db, 'SELECT count(*) AS n FROM latency_runs WHERE received = 1')).toBe(2046)
  }, 150_000)

  it('--concurrency bounds the ping processes running at once', async () => {
    // A fake ping that logs its start and end; the first three wait until three have started (a
    // barrier, so the bound is reached however slow the machine is), then reply.
    const dir = join(tmp.dir, 'conc')
    mkdirSync(dir, {recursive: true})
    const log = join(dir, 'log')
    const fake = join(dir, 'ping.sh')
    writeFileSync(
      fake,
      `#!/bin/sh
for a in "$@"; do last="$a"; done
case " $* " in *" -c 1 "*) echo "64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.010 ms"; exit 0;; esac
echo "start $last" >> ${log}
i=0
while [ "$(grep -c start ${log})" -lt 3 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
echo "PING $last ($last) 56(84) bytes of data."
echo "[1700000000.000100] 64 bytes from $last: icmp_seq=1 ttl=64 time=0.050 ms"
echo "[1700000000.010100] 64 bytes from $last: icmp_seq=2 ttl=64 time=0.050 ms"
echo "end $last" >> ${log}
`,
      {mode: 0o755},
    )
    writeFileSync(log, '')
    const r = await runCli(['latency', '-g', '127.0.0.2', '127.0.0.11', '-c', '2', '-i', '10ms', '--method', 'icmp', '--concurrency', '3', '--json'], {
      db: freshDb(),
      env: {NETMON_PING: fake},
      timeoutMs: 60_000,
    })
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.alive).toHaveLength(10)
    let running = 0
    let most = 0
    const events = readFileSync(log, 'utf8').trim().split('\n')
    for (const e of events) {
      running += e.startsWith('start') ? 1 : -1
      most = Math.max(most, running)
    }
    expect(events).toHaveLength(20)
    // A ping logs "end" before it exits, and netmon starts the next only after an exit: the log
    // can under-count what runs at once, never over-count it.
    expect(most).toBe(3)
    // Hosts are taken in target order: no later host can start before one of the first three
    // ends, and none of those ends before all three have started (the barrier). (Two pings spawned
    // back to back may log in either order, so only the first wave's set is certain.)
    const starts = events.filter(e => e.startsWith('start'))
    expect(starts.slice(0, 3).sort()).toEqual(['start 127.0.0.2', 'start 127.0.0.3', 'start 127.0.0.4'])
    expect(starts.sort()).toEqual(Array.from({length: 10}, (_, k) => `start 127.0.0.${k + 2}`).sort())
  }, 90_000)

  it('Ctrl-C in a counted run: the hosts measured so far are stored and printed, the rest left out; exit 130', async () => {
    // A fake ping that logs its start, answers once, then waits (until netmon stops it).
    const dir = join(tmp.dir, 'intr')
    mkdirSync(dir, {recursive: true})
    const log = join(dir, 'log')
    const fake = join(dir, 'ping.sh')
    writeFileSync(
      fake,
      `#!/bin/sh
for a in "$@"; do last="$a"; done
case " $* " in *" -c 1 "*) echo "64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.010 ms"; exit 0;; esac
echo "PING $last ($last) 56(84) bytes of data."
echo "[1700000000.000100] 64 bytes from $last: icmp_seq=1 ttl=64 time=0.050 ms"
echo "start $last" >> ${log}
exec sleep 30
`,
      {mode: 0o755},
    )
    writeFileSync(log, '')
    const db = freshDb()
    const child = spawn(
      process.execPath,
      [BIN, 'latency', '-g', '127.0.0.2', '127.0.0.4', '-c', '5', '-i', '1s', '--method', 'icmp', '--concurrency', '1', '--json', '--db', db],
      {cwd: ROOT, env: {...process.env, NETMON_PING: fake, NETMON_NO_PROGRESS: '1'}},
    )
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
    const closed = new Promise<number | null>(resolve => child.on('close', resolve))
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    // Wait for what the test can see: the first host's ping has answered; then Ctrl-C.
    while (!readFileSync(log, 'utf8').includes('start 127.0.0.2')) await new Promise(r => setTimeout(r, 50))
    child.kill('SIGINT')
    const code = await closed
    clearTimeout(timer)
    expect(code, err).toBe(130)
    const json = JSON.parse(out)
    expect(json).toMatchObject({interrupted: true, alive: ['127.0.0.2'], unreachable: []})
    expect(json.hosts.map((h: {ip: string; sent: number; received: number}) => `${h.ip} ${h.received}/${h.sent}`)).toEqual(['127.0.0.2 1/1'])
    expect(err).toContain('netmon: interrupted: 2 of 3 targets not probed')
    expect(readFileSync(log, 'utf8')).toBe('start 127.0.0.2\n')
    expect(await count(db, 'SELECT count(*) AS n FROM latency_runs')).toBe(1)
  })

  it.skipIf(!hasScript)('on a terminal a progress bar (probes, hosts done, alive) is drawn on stderr, never into stdout', async () => {
    const outFile = join(tmp.dir, 'tty-latency.txt')
    const term = await new Promise<string>((resolve, reject) => {
      const args = ['latency', '-g', '127.0.0.1', '127.0.0.12', '-c', '2', '-i', '20ms', '-a', '--db', freshDb()]
      const child = spawn('script', ptyArgs(args, {stdoutTo: outFile}), {cwd: ROOT, env: ptyEnv({NETMON_NO_PROGRESS: ''})})
      let text = ''
      child.stdout.setEncoding('utf8').on('data', d => (text += d))
      child.on('error', reject)
      child.on('close', () => resolve(text))
    })
    expect(term).toMatch(/latency \[.*\] \d+\/24 /)
    expect(term).toMatch(/24\/24 100% hosts: 12\/12 alive 12/)
    const stdout = readFileSync(outFile, 'utf8')
    expect(stdout.trimEnd().split('\n')).toHaveLength(12)
    expect(stdout).not.toMatch(/\x1b|latency \[/)
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

// nft source benchmark (issue 14): 1,000 LAN hosts' counters in netmon's table on a netns router,
//   netmon: one collector tick (CollectorRunner.tick() with nftSource({netns}), in process):
//           `nft -j list table inet netmon` + `ip -j neigh` + parse + one counter-mode batch of
//           1,000 devices written to a libSQL file
//   peer:   `ip netns exec R nft -j list table inet netmon` alone (the read every nft-based
//           accounting tool needs), spawned the same way netmon spawns it
// interleaved (netmon, peer, netmon, …) after a warm-up; goal: netmon ≤ 1.5× the peer (medians).
// Between ticks the counters move: the per-host sets are refilled with higher counters through
// `nft -f` (not timed). 250 IPv4 hosts (10.77.11.2–251) + 750 IPv6 hosts (fd77:11::/64), each with
// a permanent neighbor entry (so every reading is keyed by a MAC, as on a live LAN).
// CPU: 6 ticks 1 s apart; the CPU of this process and its children (nft, ip) is summed over the
// ticks only (/proc/self/stat utime+stime+cutime+cstime around each tick), giving CPU per tick;
// at a 10 s interval that is CPU-per-tick / 10 s (idle between ticks is timers only: measured
// too, over 1 s). Goal ≤ 2 % of one core. Needs root (netns); otherwise a skipped result.
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {machine, median} from './lib.js'

const root = process.cwd()
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15)
const ROUTER = `nmb${process.pid.toString(36)}-nftr`
const V4 = 250
const V6 = 750
const sh = (argv, input) =>
  execFileSync(argv[0], argv.slice(1), {stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], encoding: 'utf8', input, maxBuffer: 64 << 20})
const quiet = argv => {
  try {
    sh(argv)
  } catch {
    /* cleanup is best effort */
  }
}
const result = extra => ({name: 'nft-source', title: 'nft source: 1,000 hosts per interval', machine: machine(), ...extra})

if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
  console.log(JSON.stringify(result({results: [], notes: 'skipped: network namespaces and nftables need root'})))
  process.exit(0)
}

function cleanup() {
  quiet(['ip', 'netns', 'del', ROUTER])
}
process.on('exit', cleanup)
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => (cleanup(), process.exit(130)))

const hosts = []
for (let i = 0; i < V4; i++)
  hosts.push({ip: `10.77.11.${i + 2}`, mac: `02:4e:4d:b0:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`})
for (let i = 0; i < V6; i++)
  hosts.push({
    ip: `fd77:11::${(i + 0x100).toString(16)}`,
    mac: `02:4e:4d:b6:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
  })

/** Refills the per-host sets: host i has sent (i+1)·step·1000 bytes and received twice that. */
function fill(step) {
  const el = (list, k) => list.map((h, i) => `${h.ip} counter packets ${(i + 1) * step * k} bytes ${(i + 1) * step * 1000 * k}`).join(', ')
  const v4 = hosts.filter(h => !h.ip.includes(':'))
  const v6 = hosts.filter(h => h.ip.includes(':'))
  sh(
    ['ip', 'netns', 'exec', ROUTER, 'nft', '-f', '-'],
    [
      'flush set inet netmon tx4',
      'flush set inet netmon rx4',
      'flush set inet netmon tx6',
      'flush set inet netmon rx6',
      `add element inet netmon tx4 { ${el(v4, 1)} }`,
      `add element inet netmon rx4 { ${el(v4, 2)} }`,
      `add element inet netmon tx6 { ${el(v6, 1)} }`,
      `add element inet netmon rx6 { ${el(v6, 2)} }`,
    ].join('\n') + '\n',
  )
}

const cpuTicks = () => {
  // utime stime cutime cstime (fields 14–17) in clock ticks
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')
  return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])
}
const HZ = Number(sh(['getconf', 'CLK_TCK']).trim()) || 100
const hr = () => Number(process.hrtime.bigint()) / 1e6

const LOAD = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
const tmp = mkdtempSync(join(tmpdir(), 'netmon-nft-bench-'))
let output
try {
  sh(['ip', 'netns', 'add', ROUTER])
  sh(['ip', '-n', ROUTER, 'link', 'set', 'lo', 'up'])
  sh(['ip', '-n', ROUTER, 'link', 'add', 'br0', 'type', 'bridge'])
  sh(['ip', '-n', ROUTER, 'addr', 'add', '10.77.11.1/24', 'dev', 'br0'])
  sh(['ip', '-n', ROUTER, 'link', 'set', 'br0', 'up'])
  sh(['ip', '-n', ROUTER, '-batch', '-'], hosts.map(h => `neigh replace ${h.ip} lladdr ${h.mac} dev br0 nud permanent`).join('\n') + '\n')

  const {nftSource, Nft} = await import(join(root, 'dist/core/collect/nft.js'))
  const {parsePrefixes} = await import(join(root, 'dist/core/collect/nft-parse.js'))
  const {CollectorRunner} = await import(join(root, 'dist/core/collect/runner.js'))
  const {openStore} = await import(join(root, 'dist/core/store/index.js'))
  await new Nft(ROUTER).install(parsePrefixes(['10.77.11.0/24', 'fd77:11::/64']))
  const store = await openStore({db: join(tmp, 'bench.db')})
  const source = nftSource({lan: ['10.77.11.0/24', 'fd77:11::/64'], netns: ROUTER})
  const runner = new CollectorRunner({sources: [source], store, maxRateBps: 10e9})
  const peerArgs = ['netns', 'exec', ROUTER, 'nft', '-j', 'list', 'table', 'inet', 'netmon']
  const peer = () => {
    const t0 = hr()
    const out = sh(['ip', ...peerArgs])
    return {ms: hr() - t0, bytes: out.length}
  }
  let step = 1
  const tick = async () => {
    fill(step++)
    const t0 = hr()
    const t = await runner.tick()
    const ms = hr() - t0
    const s = t.sources[0]
    if (s.error) throw new Error(s.error)
    return {ms, readings: s.readings.length, result: s.result}
  }

  // Warm-up: the first tick registers the 1,000 devices (baseline); the second is a normal interval.
  const first = await tick()
  if (first.readings !== hosts.length) throw new Error(`expected ${hosts.length} readings, got ${first.readings}`)
  await tick()
  peer()
  const n = []
  const p = []
  const rOnly = []
  const readOnly = nftSource({lan: ['10.77.11.0/24', 'fd77:11::/64'], netns: ROUTER})
  let last
  for (let i = 0; i < ROUNDS; i++) {
    last = await tick()
    n.push(last.ms)
    p.push(peer().ms)
    const t0 = hr()
    await readOnly.read(AbortSignal.timeout(30_000))
    rOnly.push(hr() - t0)
  }
  const outcomes = last.result.counter_outcomes
  const jsonBytes = peer().bytes

  // CPU over 6 ticks 1 s apart (ticks only), and idle CPU over 1 s.
  let cpu = 0
  const wall0 = hr()
  for (let i = 0; i < 6; i++) {
    fill(step++)
    const c0 = cpuTicks()
    await runner.tick()
    cpu += cpuTicks() - c0
    await new Promise(r => setTimeout(r, 1000))
  }
  const wall = hr() - wall0
  const idle0 = cpuTicks()
  await new Promise(r => setTimeout(r, 1000))
  const idleMsPerS = ((cpuTicks() - idle0) / HZ) * 1000
  const cpuMsPerTick = ((cpu / HZ) * 1000) / 6
  const cpuPct = ((cpuMsPerTick + idleMsPerS * 10) / 10_000) * 100
  await store.close()

  const mN = median(n)
  const mP = median(p)
  const r3 = x => Math.round(x * 1000) / 1000
  const nftVersion = sh(['nft', '--version']).trim()
  output = result({
    command: 'node bench/nft-source.bench.js (or npm run bench -- nft-source)',
    results: [
      {
        metric: 'time per interval, 1,000 hosts read + ingested',
        netmon: r3(mN),
        peer: r3(mP),
        peer_name: `${nftVersion.replace(/ \(.*\)/, '')} -j list table inet netmon`,
        ratio: r3(mN / mP),
        goal: '≤ 1.5',
        unit: 'ms',
        pass: mN <= 1.5 * mP,
        command: 'CollectorRunner.tick() with nftSource({lan, netns}) into a libSQL file',
        peer_command: `ip ${peerArgs.join(' ')}`,
      },
      {
        metric: 'the source alone: read + parse + map to MACs, no store (part of the above)',
        netmon: r3(median(rOnly)),
        peer: r3(mP),
        peer_name: `${nftVersion.replace(/ \(.*\)/, '')} -j list table inet netmon`,
        ratio: r3(median(rOnly) / mP),
        unit: 'ms',
        command: 'nftSource(...).read(): nft -j list table + ip -j neigh + parse (what the nft source adds before ingest)',
      },
      {
        metric: 'CPU at a 10 s interval (% of one core)',
        netmon: r3(cpuPct),
        unit: '%',
        goal: '≤ 2 %',
        pass: cpuPct <= 2,
        command: '6 ticks 1 s apart, CPU of the ticks (incl. nft/ip children) / 6 / 10 s + idle CPU',
      },
    ],
    notes:
      `${ROUNDS} interleaved rounds after 2 warm-up ticks (the first registers the 1,000 devices); medians. ` +
      `netmon per tick: ${n.map(x => Math.round(x)).join('/')} ms; peer: ${p.map(x => Math.round(x)).join('/')} ms; source alone: ${rOnly.map(x => Math.round(x)).join('/')} ms ` +
      `(the rest of a tick is the counter-mode write of 1,000 devices, bandwidth/ingest.ts). Load average at the start: ${LOAD}. ` +
      `Each tick's batch: ${JSON.stringify(outcomes)} (1,000 devices, ${V4} IPv4 + ${V6} IPv6, every address resolved through ${hosts.length} permanent neighbor entries); ` +
      `the table's JSON is ${(jsonBytes / 1024).toFixed(0)} KiB. CPU: ${r3(cpuMsPerTick)} ms per tick (clock ${HZ} Hz, so ±${r3(1000 / HZ / 6)} ms), ` +
      `idle ${r3(idleMsPerS)} ms/s; 6 ticks took ${Math.round(wall)} ms of wall time. Both sides spawn \`ip netns exec\` (the router is a netns).`,
  })
} catch (e) {
  output = result({results: [], notes: `failed: ${String(e?.message ?? e).split('\n')[0]}`})
} finally {
  cleanup()
  rmSync(tmp, {recursive: true, force: true})
}
console.log(JSON.stringify(output))

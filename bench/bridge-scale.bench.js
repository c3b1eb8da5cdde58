// Bridge at scale (issue 8): 200 simulated meters polled every 1 s for 120 s (issue 18: "over ≥ 2 minutes"), publishing QoS 1 to
// Debian's mosquitto. Measures the daemon process only: CPU % of one core (goal ≤ 25 %), peak RSS
// (goal ≤ 150 MB, decimal: 143.05 MiB), missed polls (goal 0: overruns + failed polls in the window), poll-to-PUBACK
// latency (p50/p99 from the daemon's own window). No other tool bridges DLMS to MQTT, so the goals are
// absolute (peer null). The simulator runs in its own process (`netmon meters simulate`), loopback only.
// BENCH_METERS / BENCH_SECONDS override the size for quick runs.
import {spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {ensureCommand, machine} from './lib.js'

const root = process.cwd()
const BIN = join(root, 'bin/run.js')
const METERS = Number(process.env.BENCH_METERS ?? 200)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 120)
const GOAL_MIB = 150e6 / 2 ** 20 // 150 MB as the issue states it: 143.05 MiB
const tmp = mkdtempSync(join(tmpdir(), 'netmon-bridge-bench-'))
const db = join(tmp, 'bench.db')
const sleep = ms => new Promise(r => setTimeout(r, ms))
const procs = []
const log = s => process.stderr.write(`[bridge-scale] ${s}\n`)

function freePort() {
  return new Promise(resolve => {
    const s = net.createServer()
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port
      s.close(() => resolve(p))
    })
  })
}

function start(cmd, args, env = {}) {
  const child = spawn(cmd, args, {cwd: root, env: {...process.env, NETMON_NO_PROGRESS: '1', ...env}, stdio: ['ignore', 'pipe', 'pipe']})
  const p = {child, out: '', err: ''}
  child.stdout.on('data', d => (p.out += d))
  child.stderr.on('data', d => (p.err += d))
  procs.push(p)
  return p
}

async function waitFor(what, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(200)
  }
}

const status = () => JSON.parse(spawnSync(process.execPath, [BIN, 'bridge', 'status', '--json', '--db', db], {encoding: 'utf8'}).stdout)
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).stdout.trim() || 100)
function cpuTicks(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ')
  return Number(rest[11]) + Number(rest[12]) // utime + stime (fields 14, 15)
}
const rssMb = pid => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024

async function main() {
  if (!ensureCommand('mosquitto')) throw new Error('mosquitto is not installed and apt-get could not install it')
  const mosqBin = spawnSync('sh', ['-c', 'command -v mosquitto'], {encoding: 'utf8'}).stdout.trim()
  const mport = await freePort()
  const conf = join(tmp, 'mosquitto.conf')
  writeFileSync(conf, `listener ${mport} 127.0.0.1\nallow_anonymous true\nlog_dest none\nmax_queued_messages 0\n`)
  start(mosqBin, ['-c', conf])

  const sim = start(process.execPath, [BIN, 'meters', 'simulate', '--port', '0', '--meters', String(METERS), '--json'])
  const ports = await waitFor(
    'the simulator',
    () => {
      const line = sim.out.split('\n').find(l => l.includes('"ports"'))
      return line ? JSON.parse(line).ports : undefined
    },
    60_000,
  )
  log(`simulator: ${ports.length} meters; mosquitto on ${mport}`)

  const cfg = join(tmp, 'bridge.json')
  writeFileSync(
    cfg,
    JSON.stringify({
      mqtt: {url: `mqtt://127.0.0.1:${mport}`, client_id: 'bench-bridge'},
      publish: {format: 'thingsboard-gateway'},
      defaults: {
        poll_interval: '1s',
        timeout: '2s',
        obis: {'1.0.1.8.0.255': 'energy_import_wh', '1.0.1.7.0.255': 'power_w', '1.0.32.7.0.255': 'voltage_v', '1.0.31.7.0.255': 'current_a'},
      },
      meters: ports.map((port, i) => ({id: `b${String(i + 1).padStart(3, '0')}`, host: '127.0.0.1', port})),
      metrics: {interval: '60s', interfaces: ['lo']}, // defaults but the measured interface
      shutdown_timeout: '5s',
    }),
  )
  const bridge = start(process.execPath, [BIN, 'bridge', 'run', '--config', cfg, '--db', db, '--log-level', 'warn'])
  const pid = bridge.child.pid
  // Warm-up: every meter associated and polled, then 5 s more for steady state.
  await waitFor(
    'all meters polling',
    () => {
      try {
        const s = status()
        return s.running && s.meters.length === METERS && s.meters.every(m => m.polls > 0)
      } catch {
        return false
      }
    },
    120_000,
  )
  await sleep(5000)
  // Status rows come with each heartbeat (default 5 s): start and end the window on a fresh one.
  const nextHeartbeat = async after =>
    waitFor(
      'a heartbeat',
      () => {
        const s = status()
        return s.heartbeat_at_ms > after ? s : undefined
      },
      30_000,
    )
  const s0 = await nextHeartbeat(status().heartbeat_at_ms)
  const c0 = cpuTicks(pid)
  const t0 = Date.now()
  let peakRss = rssMb(pid)
  let peakHeapTotal = 0
  const rssTimer = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, rssMb(pid))
    } catch {}
  }, 500)
  // The daemon's own heap figures ride on each heartbeat (bridge status "process"): where the RSS goes.
  const heapTimer = setInterval(() => {
    try {
      peakHeapTotal = Math.max(peakHeapTotal, (status().process?.heap_total_bytes ?? 0) / 2 ** 20)
    } catch {}
  }, 5000)
  await sleep(SECONDS * 1000)
  const c1 = cpuTicks(pid)
  const t1 = Date.now()
  const s1 = await nextHeartbeat(s0.heartbeat_at_ms + SECONDS * 1000 - 1)
  clearInterval(rssTimer)
  clearInterval(heapTimer)
  const cpuPct = ((c1 - c0) / CLK_TCK / ((t1 - t0) / 1000)) * 100
  const sum = (s, k) => s.meters.reduce((a, m) => a + m[k], 0)
  const polls = sum(s1, 'polls') - sum(s0, 'polls')
  const overruns = sum(s1, 'overruns') - sum(s0, 'overruns')
  const failures = sum(s1, 'failures') - sum(s0, 'failures')
  const expected = Math.floor((METERS * (s1.heartbeat_at_ms - s0.heartbeat_at_ms)) / 1000)
  const missed = overruns + failures
  const lat = s1.delivery_latency_ms
  bridge.child.kill('SIGTERM')
  await new Promise(r => bridge.child.on('exit', r))

  const results = [
    {
      metric: `daemon CPU, ${METERS} meters at 1 s, ${SECONDS} s`,
      netmon: Math.round(cpuPct * 10) / 10,
      peer: null,
      peer_name: 'absolute goal (no peer tool)',
      ratio: null,
      goal: '≤ 25 % of one core',
      unit: '% of one core',
      pass: cpuPct <= 25,
      command: `netmon bridge run --config bridge.json (${METERS} meters, thingsboard-gateway, mosquitto)`,
    },
    {
      metric: `daemon peak RSS (heap_total peak ${Math.round(peakHeapTotal)} MiB)`,
      netmon: Math.round(peakRss * 10) / 10,
      peer: null,
      peer_name: 'absolute goal',
      ratio: null,
      goal: '≤ 150 MB (143.05 MiB)',
      unit: 'MiB',
      pass: peakRss <= GOAL_MIB,
      command: 'same run, /proc/PID/status VmRSS every 0.5 s',
    },
    {
      metric: 'missed polls (overruns + failed polls)',
      netmon: missed,
      peer: null,
      peer_name: 'absolute goal',
      ratio: null,
      goal: '0',
      unit: 'polls',
      pass: missed === 0,
      command: `same run: ${polls} polls done of ~${expected} slots`,
    },
    {
      metric: 'poll-to-PUBACK latency p99',
      netmon: lat?.p99_ms ?? null,
      peer: null,
      peer_name: 'recorded',
      ratio: null,
      goal: 'recorded',
      unit: 'ms',
      pass: lat?.p99_ms != null,
      command: `same run, daemon's window of the last ${lat?.count} PUBACKs (p50 ${lat?.p50_ms} ms, max ${lat?.max_ms} ms)`,
    },
  ]
  return {
    name: 'bridge-scale',
    machine: machine(),
    results,
    notes: `${METERS} simulated meters (one \`netmon meters simulate\` process) polled every 1 s (4 OBIS in one GET-with-list per poll), each reading stored (readings + outbox) then published QoS 1 to mosquitto ${spawnSync(
      mosqBin,
      ['-h'],
      {encoding: 'utf8'},
    )
      .stdout.split('\n')[0]
      .replace(
        /^mosquitto version /,
        '',
      )} on loopback. CPU and RSS are the daemon process only, over ${SECONDS} s after a warm-up; the latency includes the store write (grouped every 25 ms). Polls in the window: ${polls} of ~${expected} slots.`,
  }
}

try {
  const r = await main()
  process.stdout.write(JSON.stringify(r) + '\n')
} catch (e) {
  process.stderr.write(`bridge-scale failed: ${e.stack ?? e}\n`)
  for (const p of procs) process.stderr.write(p.err.slice(-2000))
  process.exitCode = 1
} finally {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL')
  await sleep(200)
  rmSync(tmp, {recursive: true, force: true})
}

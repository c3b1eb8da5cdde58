// Load-profile catch-up (issue 18 item 2): 100 simulated meters, each holding 30 days of 15-minute
// rows (2,880), and a bridge started on an empty store with a profile job backfilling 31 days, so
// every row of every meter (288,000) is read by date range (max_rows 96 per read), stored in
// profile_rows with its outbox row, published QoS 1 to Debian's mosquitto with its own ts and
// acknowledged. Measured: wall time from `bridge run` to the last row acknowledged (outbox empty),
// and the daemon's peak RSS (VmHWM). A subscriber counts the rows that reached the broker (each
// exactly once). Peer in the same run: the same reads with netmon's DlmsClient alone (one client per
// meter, all concurrent, the same windows of 96 rows, no store, no MQTT): the DLMS floor.
// BENCH_METERS / BENCH_ROWS override the size for quick runs.
import {spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {ensureCommand, machine} from './lib.js'

const root = process.cwd()
const BIN = join(root, 'bin/run.js')
const METERS = Number(process.env.BENCH_METERS ?? 100)
const ROWS = Number(process.env.BENCH_ROWS ?? 2880)
const PERIOD_MS = 15 * 60_000
const MAX_ROWS = 96
const tmp = mkdtempSync(join(tmpdir(), 'netmon-catchup-bench-'))
const db = join(tmp, 'bench.db')
const sleep = ms => new Promise(r => setTimeout(r, ms))
const procs = []
const log = s => process.stderr.write(`[bridge-catchup] ${s}\n`)

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

async function waitFor(what, fn, timeoutMs, everyMs = 200) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(everyMs)
  }
}

const procStatus = (pid, key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024

/** The peer: the same range reads with the DLMS client alone. */
async function peerRead(ports) {
  const {DlmsClient} = await import(join(root, 'dist/core/dlms/client.js'))
  const {parseCaptureObjects} = await import(join(root, 'dist/core/dlms/cosem.js'))
  const t0 = Date.now()
  let rows = 0
  await Promise.all(
    ports.map(async port => {
      const c = new DlmsClient({host: '127.0.0.1', port, timeoutMs: 30_000})
      await c.open()
      try {
        const clock = await c.readClock()
        const now = clock.date.getTime()
        const captureObjects = parseCaptureObjects(await c.read('1.0.99.1.0.255', 7, 3))
        let cursor = now - (ROWS + 1) * PERIOD_MS
        while (cursor <= now) {
          const to = cursor + MAX_ROWS * PERIOD_MS
          const r = await c.readProfile('1.0.99.1.0.255', {
            captureObjects,
            from: new Date(cursor),
            to: new Date(to - 1000),
            offsetMinutes: -(clock.deviation ?? 0),
          })
          rows += r.rows.length
          cursor = to
        }
      } finally {
        await c.close()
      }
    }),
  )
  return {ms: Date.now() - t0, rows}
}

async function main() {
  if (!ensureCommand('mosquitto')) throw new Error('mosquitto is not installed and apt-get could not install it')
  const mosqBin = spawnSync('sh', ['-c', 'command -v mosquitto'], {encoding: 'utf8'}).stdout.trim()
  const mport = await freePort()
  const conf = join(tmp, 'mosquitto.conf')
  writeFileSync(conf, `listener ${mport} 127.0.0.1\nallow_anonymous true\nlog_dest none\nmax_queued_messages 0\n`)
  start(mosqBin, ['-c', conf])

  const sim = start(process.execPath, [BIN, 'meters', 'simulate', '--port', '0', '--meters', String(METERS), '--profile-rows', String(ROWS), '--json'])
  const ports = await waitFor(
    'the simulator',
    () => {
      const line = sim.out.split('\n').find(l => l.includes('"ports"'))
      return line ? JSON.parse(line).ports : undefined
    },
    60_000,
  )
  log(`simulator: ${ports.length} meters × ${ROWS} rows; mosquitto on ${mport}`)

  // A subscriber counting what reached the broker: every (device, ts) once.
  const {default: mqtt} = await import('mqtt')
  const sub = mqtt.connect(`mqtt://127.0.0.1:${mport}`, {clientId: 'catchup-bench-sub', reconnectPeriod: 500})
  const seen = new Map()
  let received = 0
  sub.on('message', (_t, payload) => {
    const p = JSON.parse(payload.toString())
    for (const [device, entries] of Object.entries(p)) {
      for (const e of entries) {
        received++
        const k = `${device}@${e.ts}`
        seen.set(k, (seen.get(k) ?? 0) + 1)
      }
    }
  })
  await new Promise((resolve, reject) => {
    sub.once('connect', () => sub.subscribe('v1/gateway/telemetry', {qos: 1}, e => (e ? reject(e) : resolve())))
    sub.once('error', reject)
  })

  // Peer first (the bridge's run afterwards reads the same rows again: the simulator computes them).
  const peer = await peerRead(ports)
  log(`peer: ${peer.rows} rows in ${peer.ms} ms`)

  const cfg = join(tmp, 'bridge.json')
  writeFileSync(
    cfg,
    JSON.stringify({
      mqtt: {url: `mqtt://127.0.0.1:${mport}`, client_id: 'bench-catchup'},
      publish: {format: 'thingsboard-gateway'},
      defaults: {
        poll_interval: '1s',
        timeout: '30s',
        profiles: [{obis: '1.0.99.1.0.255', every: '1h', max_rows: MAX_ROWS, backfill: '31d', columns: {'1.0.1.8.0.255': 'energy_import_wh'}}],
      },
      meters: ports.map((port, i) => ({id: `c${String(i + 1).padStart(3, '0')}`, host: '127.0.0.1', port})),
      metrics: {interval: '60s', heartbeat: '1s', interfaces: ['lo']},
      shutdown_timeout: '5s',
    }),
  )
  const t0 = Date.now()
  const bridge = start(process.execPath, [BIN, 'bridge', 'run', '--config', cfg, '--db', db, '--log-level', 'warn'])
  const pid = bridge.child.pid
  const expected = METERS * ROWS
  // Done = every row acknowledged by the broker (counted by the subscriber) and none left in the outbox.
  // Where the memory is (heap vs the rest), from the daemon's own heartbeat, every 10 s.
  let heapPeak = 0
  const memTimer = setInterval(() => {
    try {
      const st = JSON.parse(spawnSync(process.execPath, [BIN, 'bridge', 'status', '--json', '--db', db], {encoding: 'utf8'}).stdout)
      if (st.process) {
        heapPeak = Math.max(heapPeak, st.process.heap_total_bytes)
        log(
          `${seen.size} rows; rss ${(st.process.rss_bytes / 2 ** 20).toFixed(0)} MiB, heap ${(st.process.heap_used_bytes / 2 ** 20).toFixed(0)}/${(st.process.heap_total_bytes / 2 ** 20).toFixed(0)} MiB, external ${(st.process.external_bytes / 2 ** 20).toFixed(0)} MiB`,
        )
      }
    } catch {}
  }, 10_000)
  await waitFor('every row at the broker', () => seen.size >= expected, 20 * 60_000, 100)
  clearInterval(memTimer)
  const wallMs = Date.now() - t0
  const peakRss = procStatus(pid, 'VmHWM')
  const s = JSON.parse(spawnSync(process.execPath, [BIN, 'bridge', 'status', '--json', '--db', db], {encoding: 'utf8'}).stdout)
  const caught = s.meters.reduce((a, m) => a + (m.profiles?.[0]?.rows_caught_up ?? 0), 0)
  const modes = [...new Set(s.meters.map(m => m.profiles?.[0]?.mode))]
  bridge.child.kill('SIGTERM')
  await new Promise(r => bridge.child.on('exit', r))
  await sleep(300)
  sub.end(true)
  const dups = [...seen.values()].filter(n => n > 1).length
  log(
    `bridge: ${seen.size} distinct rows (${received} received, ${dups} duplicated) in ${wallMs} ms, peak RSS ${peakRss.toFixed(1)} MiB; caught up ${caught}, modes ${modes}`,
  )
  // The meters keep capturing on the real clock: a row captured during the run is caught up too.
  if (seen.size < expected) throw new Error(`expected at least ${expected} rows at the broker, got ${seen.size}`)

  const rowsPerS = Math.round((expected / wallMs) * 1000)
  return {
    name: 'bridge-catchup',
    title: 'bridge-catchup: load-profile catch-up, 30 days × 100 meters',
    machine: machine(),
    results: [
      {
        metric: `catch-up wall time, ${METERS} meters × ${ROWS} rows (${expected.toLocaleString('en-US')} rows to PUBACK)`,
        netmon: Math.round(wallMs / 100) / 10,
        peer: Math.round(peer.ms / 100) / 10,
        peer_name: 'DlmsClient range reads alone (no store, no MQTT)',
        ratio: Math.round((wallMs / peer.ms) * 100) / 100,
        goal: 'recorded',
        unit: 's',
        pass: seen.size >= expected && dups === 0,
        command: `netmon bridge run --config bridge.json (profile job: range, max_rows ${MAX_ROWS}, backfill 31d; thingsboard-gateway to mosquitto) from start to the last row at the subscriber: ${rowsPerS.toLocaleString('en-US')} rows/s`,
        peer_command: `${METERS} concurrent DlmsClient.readProfile loops over the same windows in the bench process`,
      },
      {
        metric: `daemon peak RSS during the catch-up (heap_total peak ${Math.round(heapPeak / 2 ** 20)} MiB)`,
        netmon: Math.round(peakRss * 10) / 10,
        peer: null,
        peer_name: 'absolute goal (the bridge-scale goal)',
        ratio: null,
        goal: '≤ 150 MB',
        unit: 'MiB',
        pass: peakRss * 1.048576 <= 150,
        command: 'same run, /proc/PID/status VmHWM at the end',
      },
      {
        metric: 'rows at the broker more than once',
        netmon: dups,
        peer: null,
        peer_name: 'absolute goal',
        ratio: null,
        goal: '0',
        unit: 'rows',
        pass: dups === 0,
        command: `same run: ${seen.size} distinct (meter, ts) of ${expected}, ${received} received; bridge status rows_caught_up ${caught}, mode ${modes.join('/')}`,
      },
    ],
    notes: `${METERS} simulated meters (one \`netmon meters simulate --profile-rows ${ROWS}\` process; 15-minute load profile 1.0.99.1.0.255, clock + energy) on loopback, the bridge on an empty store, mosquitto ${spawnSync(
      mosqBin,
      ['-h'],
      {encoding: 'utf8'},
    )
      .stdout.split('\n')[0]
      .replace(
        /^mosquitto version /,
        '',
      )}. Every row is one telemetry PUBLISH (QoS 1, max_inflight 100) with its capture time as ts, after its profile_rows + outbox write (grouped every 25 ms). The peer ran first, in the same run, against the same simulator; it reads the same date-range windows (block transfer above 512 bytes) without storing or publishing, so the ratio is the cost of the store and MQTT legs.`,
  }
}

try {
  const r = await main()
  process.stdout.write(JSON.stringify(r) + '\n')
} catch (e) {
  process.stderr.write(`bridge-catchup failed: ${e.stack ?? e}\n`)
  for (const p of procs) process.stderr.write(p.err.slice(-2000))
  process.exitCode = 1
} finally {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL')
  await sleep(200)
  rmSync(tmp, {recursive: true, force: true})
}

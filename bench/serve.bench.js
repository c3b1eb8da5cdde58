// `netmon serve` under load (issue 10): 200 concurrent keep-alive clients for 10 s on
// GET /api/network/bandwidth/stats (autocannon, loopback) while separate `netmon bandwidth sample`
// processes keep writing to the same store. Goals: zero 5xx, no lost samples (every written byte
// and sample is in the totals afterwards). Requests/s and p99 are reported against a peer in the
// same run: a bare node:http server answering the same JSON document from memory (no framework,
// no store) under the same load: the ceiling of this machine for this response.
import {spawn} from 'node:child_process'
import {createServer} from 'node:http'
import {mkdtempSync, rmSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import autocannon from 'autocannon'
import {machine} from './lib.js'

const root = process.cwd()
const BIN = join(root, 'bin', 'run.js')
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 200)
const DURATION_S = Number(process.env.BENCH_DURATION ?? 10)
const DEVICES = 50
const WRITERS = Number(process.env.BENCH_WRITERS ?? 2)
const PER_BATCH = 500
/** Each writer starts a batch at most this often: 2 writers × 500 samples/s, a heavy but steady ingest. */
const PACE_MS = Number(process.env.BENCH_PACE_MS ?? 1000)

const tmp = mkdtempSync(join(tmpdir(), 'netmon-serve-bench-'))
const db = join(tmp, 'bench.db')
const env = {...process.env, NETMON_NO_PROGRESS: '1'}
const mac = i => `02:00:00:00:${String((i >> 8) & 0xff).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`.toUpperCase()

function run(args, input) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, ...args, '--db', db], {env, stdio: ['pipe', 'pipe', 'pipe']})
    let out = ''
    let err = ''
    c.stdout.on('data', d => (out += d))
    c.stderr.on('data', d => (err += d))
    c.on('error', reject)
    c.on('close', code => resolve({code, out, err}))
    c.stdin.end(input ?? '')
  })
}

async function cannon(url) {
  return autocannon({url, connections: CONNECTIONS, duration: DURATION_S, pipelining: 1, timeout: 10})
}

const summarize = r => ({
  rps: Math.round(r.requests.average),
  p50: r.latency.p50,
  p99: r.latency.p99,
  total: r.requests.total,
  s2xx: r['2xx'],
  s5xx: r['5xx'],
  non2xx: r.non2xx,
  errors: r.errors,
  timeouts: r.timeouts,
})

let server
let peer
const loadStart = loadavg()
  .map(x => x.toFixed(1))
  .join(' ')
try {
  // Devices with some history, so the stats document is realistic (50 devices).
  const seed = []
  const t0 = Date.now() - 3_600_000
  for (let k = 0; k < 60; k++)
    for (let i = 0; i < DEVICES; i++) seed.push(JSON.stringify({mac: mac(i), sent: 1000 + i, received: 5000 + k, ts: t0 + k * 60_000}))
  const s = await run(['bandwidth', 'sample', '--from', '-', '--auto-register', '--json'], seed.join('\n') + '\n')
  if (s.code !== 0) throw new Error(`seeding failed: ${s.err}`)

  server = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--db', db], {env, stdio: ['ignore', 'ignore', 'pipe']})
  if (process.env.BENCH_SERVER_LOG) server.stderr.pipe(process.stderr)
  let serr = ''
  const url = await new Promise((resolve, reject) => {
    server.stderr.on('data', d => {
      serr += d
      const m = /listening on (http:\/\/\S+?) /.exec(serr)
      if (m) resolve(m[1])
    })
    server.on('exit', code => reject(new Error(`serve exited ${code}: ${serr}`)))
  })
  const target = `${url}/api/network/bandwidth/stats`
  const doc = await (await fetch(target)).text()

  // Writers: separate processes, each a batch of PER_BATCH delta samples, back to back, for the whole run.
  let stop = false
  const written = {batches: 0, samples: 0, sent: 0, received: 0, failed: 0, errors: []}
  let clock = Date.now() - 600_000
  const writer = async () => {
    while (!stop) {
      const started = Date.now()
      const lines = []
      let sent = 0
      let received = 0
      for (let j = 0; j < PER_BATCH; j++) {
        const b = {mac: mac(j % DEVICES), sent: 100 + j, received: 300 + j, ts: clock++}
        sent += b.sent
        received += b.received
        lines.push(JSON.stringify(b))
      }
      const r = await run(['bandwidth', 'sample', '--from', '-', '--json'], lines.join('\n') + '\n')
      if (r.code === 0) {
        written.batches++
        written.samples += PER_BATCH
        written.sent += sent
        written.received += received
      } else {
        written.failed++
        written.errors.push(r.err.trim().split('\n')[0])
      }
      const rest = started + PACE_MS - Date.now()
      if (rest > 0 && !stop) await new Promise(res => setTimeout(res, rest))
    }
  }
  const before = JSON.parse((await run(['bandwidth', 'stats', '--json'])).out)
  // Every written sample has its own (device, ts), so each is one raw row.
  const rawRows = async () => JSON.parse((await run(['db', 'info', '--json'])).out).tables.find(t => t.name === 'bw_samples').rows
  const beforeSamples = await rawRows()

  // The same writers run through both phases, so netmon and the peer share the CPU alike.
  const writers = Array.from({length: WRITERS}, writer)
  const writeStart = Date.now()
  const load = await cannon(target)

  // Peer: the same document from memory through bare node:http, same load, same writers.
  peer = createServer((_req, res) => {
    res.writeHead(200, {'content-type': 'application/json'})
    res.end(doc)
  })
  await new Promise(r => peer.listen(0, '127.0.0.1', r))
  const peerLoad = await cannon(`http://127.0.0.1:${peer.address().port}/api/network/bandwidth/stats`)
  stop = true
  await Promise.all(writers)
  const writeSeconds = (Date.now() - writeStart) / 1000

  // No lost samples: the totals grew by exactly what the writers committed.
  const after = JSON.parse((await run(['bandwidth', 'stats', '--json'])).out)
  const afterSamples = await rawRows()
  const lostBytes =
    before.network.bytes_sent + written.sent - after.network.bytes_sent + (before.network.bytes_received + written.received - after.network.bytes_received)
  const lostSamples = beforeSamples + written.samples - afterSamples

  const n = summarize(load)
  const p = summarize(peerLoad)
  const cmd = `autocannon -c ${CONNECTIONS} -d ${DURATION_S} GET /api/network/bandwidth/stats (netmon serve, ${WRITERS} bandwidth sample writers)`
  console.log(
    JSON.stringify({
      name: 'serve',
      title: 'netmon serve under load (issue 10)',
      machine: machine(),
      command: 'npm run bench -- serve',
      results: [
        {
          metric: 'requests/s, 200 clients, while samples are written',
          netmon: n.rps,
          peer: p.rps,
          peer_name: 'bare node:http, same JSON from memory',
          ratio: Math.round((n.rps / p.rps) * 1000) / 1000,
          unit: 'req/s (mean)',
          command: cmd,
        },
        {
          metric: 'p99 latency',
          netmon: n.p99,
          peer: p.p99,
          peer_name: 'bare node:http, same JSON from memory',
          ratio: Math.round((n.p99 / Math.max(1, p.p99)) * 100) / 100,
          unit: 'ms',
          command: cmd,
        },
        {metric: 'p50 latency', netmon: n.p50, peer: p.p50, peer_name: 'bare node:http, same JSON from memory', unit: 'ms', command: cmd},
        {metric: '5xx responses', netmon: n.s5xx, peer: p.s5xx, peer_name: 'bare node:http', unit: 'responses', goal: '0', pass: n.s5xx === 0, command: cmd},
        {
          metric: 'other non-2xx responses',
          netmon: n.non2xx - n.s5xx,
          peer: p.non2xx - p.s5xx,
          peer_name: 'bare node:http',
          unit: 'responses',
          goal: '0',
          pass: n.non2xx - n.s5xx === 0,
          command: cmd,
        },
        {metric: 'client timeouts (> 10 s) and socket errors', netmon: n.errors, peer: p.errors, peer_name: 'bare node:http', unit: 'requests', command: cmd},
        {
          metric: 'lost samples (written by bandwidth sample during the load, missing from the totals)',
          netmon: lostSamples + (lostBytes === 0 ? 0 : 1),
          unit: 'samples',
          goal: '0',
          pass: lostSamples === 0 && lostBytes === 0 && written.failed === 0,
          command: `${WRITERS} loops of \`bandwidth sample --from -\` (${PER_BATCH} samples each): ${written.batches} batches, ${written.samples} samples committed, ${written.failed} failed`,
        },
        {
          metric: 'samples written during the load',
          netmon: Math.round(written.samples / writeSeconds),
          unit: 'samples/s',
          command: `${WRITERS} writer processes, a batch of ${PER_BATCH} each at most every ${PACE_MS} ms`,
        },
      ],
      notes:
        `Load average before/after: ${loadStart} / ${loadavg()
          .map(x => x.toFixed(1))
          .join(' ')} (a shared machine: other work competes for the 2 cores). ` +
        `${n.total} requests answered by netmon (${n.s2xx} 2xx) in ${DURATION_S} s; the JSON document is ${doc.length} bytes (${DEVICES} devices). ` +
        'autocannon, the server and the writer processes share the 2 cores; the writers run through both phases (netmon, then the peer). Answers are reused while the store is unchanged (SQLite data_version, read after each request arrived; requests arriving in the same event-loop turn share one read) and identical concurrent GETs share one computation, so every answer reflects every commit made before its request arrived. ' +
        `Lost samples: bytes ${lostBytes}, samples ${lostSamples}${written.errors.length ? `; writer errors: ${written.errors.slice(0, 3).join(' | ')}` : ''}.`,
    }),
  )
} finally {
  server?.kill('SIGTERM')
  peer?.close()
  await new Promise(r => setTimeout(r, 300))
  rmSync(tmp, {recursive: true, force: true})
}

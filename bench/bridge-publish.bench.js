// The bridge's publish path vs raw mqtt.js QoS 1 to the same mosquitto, in the same run (issue 8:
// goal ≥ 0.8× messages/s). Both sides publish the same N gateway-format telemetry messages with the
// same in-flight cap (the bridge's default max_inflight, 100) and count a message when its PUBACK
// arrives. Rounds are interleaved (raw, netmon, raw, netmon, …) so machine noise hits both alike.
//  - "publish path": netmon's MqttConnection + payload formatting + in-flight cap (what every reading
//    goes through once it is in the outbox) — the goal applies here;
//  - "outbox drain": the full nothing-lost path from the store: a backlog of N outbox rows read in
//    pages, published, deleted on PUBACK in grouped transactions (recorded, same goal shown).
import {spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {ensureCommand, machine, median} from './lib.js'

const root = process.cwd()
const N = Number(process.env.BENCH_MESSAGES ?? 20_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6)
const INFLIGHT = 100
const tmp = mkdtempSync(join(tmpdir(), 'netmon-pub-bench-'))
const sleep = ms => new Promise(r => setTimeout(r, ms))
const dist = p => import(join(root, 'dist', p))

const {connect} = await import('mqtt')
const {MqttConnection} = await dist('core/mqtt/connection.js')
const {telemetryMessage} = await dist('core/mqtt/formats.js')
const {Delivery} = await dist('core/bridge/outbox.js')
const {openStore} = await dist('core/store/index.js')

const VALUES = '{"energy_import_kwh":42461.973,"power_w":1718,"voltage_v":229.7,"current_a":7.46,"frequency_hz":49.99}'
const meterName = i => `Meter ${i % 200}`

function freePort() {
  return new Promise(resolve => {
    const s = net.createServer()
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port
      s.close(() => resolve(p))
    })
  })
}

/** Raw mqtt.js: publish N QoS 1 messages keeping at most INFLIGHT unacknowledged. */
async function raw(url) {
  const c = connect(url, {clientId: `raw-${process.pid}`, protocolVersion: 4, reconnectPeriod: 0, clean: true})
  await new Promise((r, j) => (c.once('connect', r), c.once('error', j)))
  const t0 = process.hrtime.bigint()
  let sent = 0
  let acked = 0
  await new Promise(resolve => {
    const next = () => {
      while (sent < N && sent - acked < INFLIGHT) {
        const i = sent++
        const payload = `{${JSON.stringify(meterName(i))}:[{"ts":${1700000000000 + i},"values":${VALUES}}]}`
        c.publish('v1/gateway/telemetry', payload, {qos: 1}, () => {
          acked++
          if (acked === N) resolve()
          else next()
        })
      }
    }
    next()
  })
  const s = Number(process.hrtime.bigint() - t0) / 1e9
  await new Promise(r => c.end(false, {}, r))
  return N / s
}

/** netmon's publish path: MqttConnection + formatting + the same in-flight cap. */
async function netmonPath(url) {
  const c = new MqttConnection({url, clientId: `netmon-${process.pid}`, reconnect: {minMs: 100, maxMs: 1000}})
  const up = new Promise(r => c.once('connect', r))
  c.start()
  await up
  const t0 = process.hrtime.bigint()
  let sent = 0
  let acked = 0
  await new Promise((resolve, reject) => {
    const next = () => {
      while (sent < N && sent - acked < INFLIGHT) {
        const i = sent++
        const m = telemetryMessage('thingsboard-gateway', '', {id: `m${i % 200}`, name: meterName(i)}, 1700000000000 + i, VALUES)
        c.publish(m.topic, m.payload).then(() => {
          acked++
          if (acked === N) resolve()
          else next()
        }, reject)
      }
    }
    next()
  })
  const s = Number(process.hrtime.bigint() - t0) / 1e9
  await c.stop(1000)
  return N / s
}

/** The full path from the store: N outbox rows drained (read in pages, published, deleted on PUBACK). */
async function outboxDrain(url, round) {
  const store = await openStore({db: join(tmp, `drain-${round}.db`)})
  const c = new MqttConnection({url, clientId: `drain-${process.pid}`, reconnect: {minMs: 100, maxMs: 1000}})
  let up = false
  const d = new Delivery(store, {
    maxInflight: INFLIGHT,
    maxRows: 10_000_000,
    maxAgeMs: 86_400_000,
    canSend: () => up,
    send: e => {
      const m = telemetryMessage('thingsboard-gateway', '', {id: e.meterId, name: e.meterId}, e.ts, e.values)
      return c.publish(m.topic, m.payload)
    },
  })
  await d.init()
  for (let i = 0; i < N; i++) d.submit({meterId: `m${i % 200}`, ts: 1700000000000 + i, values: VALUES, pollMs: 1})
  await d.flush()
  const connected = new Promise(r => c.once('connect', r))
  c.start()
  await connected
  const t0 = process.hrtime.bigint()
  up = true
  d.resume()
  while (d.stats.published < N) await sleep(2)
  await d.flush()
  const s = Number(process.hrtime.bigint() - t0) / 1e9
  const left = Number((await store.get('SELECT count(*) AS n FROM outbox')).n)
  if (left !== 0) throw new Error(`outbox not empty after the drain: ${left}`)
  await d.close()
  await c.stop(1000)
  await store.close()
  return N / s
}

let mosq
try {
  if (!ensureCommand('mosquitto')) throw new Error('mosquitto is not installed and apt-get could not install it')
  const port = await freePort()
  const conf = join(tmp, 'mosquitto.conf')
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\nlog_dest none\n`)
  const bin = spawnSync('sh', ['-c', 'command -v mosquitto'], {encoding: 'utf8'}).stdout.trim()
  const version = spawnSync(bin, ['-h'], {encoding: 'utf8'})
    .stdout.split('\n')[0]
    .replace(/^mosquitto version /, '')
  mosq = spawn(bin, ['-c', conf], {stdio: 'ignore'})
  await sleep(300)
  const url = `mqtt://127.0.0.1:${port}`
  const r = {raw: [], path: [], drain: []}
  await raw(url) // warm-up
  await netmonPath(url)
  for (let i = 0; i < ROUNDS; i++) {
    // alternate the order so neither side always runs right after the store-heavy drain
    if (i % 2 === 0) {
      r.raw.push(await raw(url))
      r.path.push(await netmonPath(url))
    } else {
      r.path.push(await netmonPath(url))
      r.raw.push(await raw(url))
    }
    r.drain.push(await outboxDrain(url, i))
  }
  const m = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round(median(v))]))
  const ratio = x => Math.round((x / m.raw) * 100) / 100
  const out = {
    name: 'bridge-publish',
    machine: machine(),
    results: [
      {
        metric: 'QoS 1 publish path (msg/s, PUBACKed)',
        netmon: m.path,
        peer: m.raw,
        peer_name: `mqtt.js ${(await import('mqtt')).MQTTJS_VERSION ?? ''} raw QoS 1`.trim(),
        ratio: ratio(m.path),
        goal: '≥ 0.8×',
        unit: 'msg/s (median)',
        pass: ratio(m.path) >= 0.8,
        command: `MqttConnection.publish + gateway payload, ${N} messages, ≤ ${INFLIGHT} in flight, mosquitto ${version}`,
      },
      {
        metric: 'outbox drain from the store (msg/s, PUBACKed + deleted)',
        netmon: m.drain,
        peer: m.raw,
        peer_name: 'mqtt.js raw QoS 1',
        ratio: ratio(m.drain),
        goal: '≥ 0.8× (recorded)',
        unit: 'msg/s (median)',
        pass: ratio(m.drain) >= 0.8,
        command: `Delivery: ${N} outbox rows → publish → delete on PUBACK`,
      },
    ],
    notes: `Same mosquitto, same ${N} messages of ${VALUES.length + 40} bytes, same in-flight cap (${INFLIGHT}), ${ROUNDS} interleaved rounds (order alternated), medians. Raw rounds: ${r.raw.map(Math.round).join(', ')}; publish path: ${r.path.map(Math.round).join(', ')}; outbox drain: ${r.drain.map(Math.round).join(', ')} msg/s.`,
  }
  process.stdout.write(JSON.stringify(out) + '\n')
} catch (e) {
  process.stderr.write(`bridge-publish failed: ${e.stack ?? e}\n`)
  process.exitCode = 1
} finally {
  mosq?.kill('SIGKILL')
  rmSync(tmp, {recursive: true, force: true})
}

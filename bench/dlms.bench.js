#!/usr/bin/env node
// DLMS benchmark: decode throughput of GET responses (frames/s) and client ↔ simulator requests/s on
// loopback, for both framings. Imports the built code (dist/); prints one JSON object on stdout.
// NETMON_DLMS_DIST may point at another build of src/core/dlms (default: ../dist/core/dlms).
// NETMON_BENCH_SECONDS scales the time spent per measurement (default 1).
import {pathToFileURL} from 'node:url'
import {join, dirname} from 'node:path'
import {fileURLToPath} from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const distDir = process.env.NETMON_DLMS_DIST ?? join(here, '..', 'dist', 'core', 'dlms')
const dlms = await import(pathToFileURL(join(distDir, 'index.js')).href)
const {
  D,
  encodeData,
  encodeGetResponse,
  encodeWrapperFrame,
  encodeHdlcFrame,
  WrapperStreamDecoder,
  HdlcStreamDecoder,
  decodeApdu,
  parseData,
  startSimulator,
  DlmsClient,
} = dlms

const SECONDS = Number(process.env.NETMON_BENCH_SECONDS ?? 1)

/** Runs fn in batches for ~SECONDS, returns operations per second. */
function rate(fn, batch = 1000) {
  for (let i = 0; i < batch; i++) fn() // warm-up
  let n = 0
  const t0 = performance.now()
  let t = t0
  while (t - t0 < SECONDS * 1000) {
    for (let i = 0; i < batch; i++) fn()
    n += batch
    t = performance.now()
  }
  return Math.round((n * 1000) / (t - t0))
}

// --- decode throughput: a register value GET response, and a 500-byte profile data block ---
const registerApdu = encodeGetResponse({type: 'normal', invokeId: 0xc1, result: {ok: true, data: D.uint32(12345678)}})
const rows = D.array(Array.from({length: 24}, (_, i) => D.struct(D.octets(new Uint8Array(12).fill(i)), D.uint32(12000000 + i))))
const blockRaw = encodeData(rows).subarray(0, 500)
const blockApdu = encodeGetResponse({type: 'with-datablock', invokeId: 0xc1, lastBlock: false, blockNumber: 1, result: {ok: true, raw: blockRaw}})
const llc = apdu => Uint8Array.from([0xe6, 0xe7, 0x00, ...apdu])
const hdlcRegister = encodeHdlcFrame({
  segmented: false,
  dest: {logical: 16, size: 1},
  src: {logical: 1, size: 1},
  control: {type: 'I', ns: 0, nr: 1, pf: true},
  info: llc(registerApdu),
})
const wrapperRegister = encodeWrapperFrame({src: 1, dst: 16, apdu: registerApdu})
const wrapperBlock = encodeWrapperFrame({src: 1, dst: 16, apdu: blockApdu})

function decodeFrames(decoder, frame) {
  const evs = decoder.push(frame)
  const f = evs[0]
  if (f?.type !== 'frame') throw new Error('bench frame did not decode')
  const apdu = f.frame.apdu ?? f.frame.info.subarray(3)
  const a = decodeApdu(apdu)
  if (a.status !== 'ok') throw new Error('bench APDU did not decode')
  return a
}

const wd = new WrapperStreamDecoder()
const hd = new HdlcStreamDecoder()
const decode = {
  wrapper_get_response_register_frames_per_s: rate(() => decodeFrames(wd, wrapperRegister)),
  hdlc_get_response_register_frames_per_s: rate(() => decodeFrames(hd, hdlcRegister)),
  wrapper_get_response_500b_block_frames_per_s: rate(() => decodeFrames(wd, wrapperBlock), 200),
  axdr_profile_24_rows_decodes_per_s: rate(() => parseData(encodeData(rows)), 100),
}

// --- client ↔ simulator on loopback ---
async function roundTrips(framing) {
  const sim = await startSimulator({host: '127.0.0.1', port: 0, framing})
  const client = new DlmsClient({host: '127.0.0.1', port: sim.ports[0], framing, timeoutMs: 5000})
  try {
    await client.open()
    for (let i = 0; i < 200; i++) await client.read('1.0.1.8.0.255', 3, 2) // warm-up
    let n = 0
    const t0 = performance.now()
    while (performance.now() - t0 < SECONDS * 1000) {
      await client.read('1.0.1.8.0.255', 3, 2)
      n++
    }
    const getPerS = Math.round((n * 1000) / (performance.now() - t0))
    const p0 = performance.now()
    const profile = await client.readProfile('1.0.99.1.0.255')
    const profileMs = performance.now() - p0
    const s0 = performance.now()
    let sessions = 0
    while (performance.now() - s0 < SECONDS * 500) {
      const c = new DlmsClient({host: '127.0.0.1', port: sim.ports[0], framing, timeoutMs: 5000})
      await c.open()
      await c.readRegister('1.0.1.8.0.255')
      await c.close()
      sessions++
    }
    return {
      get_requests_per_s: getPerS,
      profile_96_rows_ms: Math.round(profileMs * 100) / 100,
      profile_rows: profile.rows.length,
      sessions_per_s: Math.round((sessions * 1000) / (performance.now() - s0)),
    }
  } finally {
    await client.close()
    await sim.close()
  }
}

const loopback = {wrapper: await roundTrips('wrapper'), hdlc: await roundTrips('hdlc')}

// --- HLS-GMAC (suite 0, SC 0x30) GET rate on one connection vs unciphered, same simulator, same run ---
// Alternating phases (plain, hls, plain, hls, …) so machine noise hits both alike.
const hlsKey = n => Uint8Array.from({length: 16}, (_, i) => (i * 17 + n) & 0xff)
const hlsSt = Uint8Array.from([0x4d, 0x4d, 0x4d, 0, 0, 0xbc, 0x61, 0x4e])

/** The meter in another process (as a real meter is): `netmon meters simulate --hls` from the built CLI. */
async function separateSimulator(framing) {
  const {spawn} = await import('node:child_process')
  const {createInterface} = await import('node:readline')
  const hexOf = b => Buffer.from(b).toString('hex')
  const child = spawn(
    process.execPath,
    [join(here, '..', 'bin', 'run.js'), 'meters', 'simulate', '--port', '0', '--json', '--framing', framing, '--hls', '--ek-env', 'B_EK', '--ak-env', 'B_AK'],
    {env: {...process.env, B_EK: hexOf(hlsKey(1)), B_AK: hexOf(hlsKey(2))}, stdio: ['ignore', 'pipe', 'ignore']},
  )
  const port = await new Promise((resolve, reject) => {
    createInterface({input: child.stdout}).on('line', line => {
      try {
        const ev = JSON.parse(line)
        if (ev.event === 'listening') resolve(ev.ports[0])
      } catch {}
    })
    child.once('exit', code => reject(new Error(`simulator exited ${code}`)))
  })
  return {ports: [port], close: () => new Promise(r => (child.once('exit', r), child.kill('SIGTERM')))}
}

async function hlsVsPlain(framing, separate = false) {
  const key = hlsKey
  const st = hlsSt
  const sim = separate
    ? await separateSimulator(framing)
    : await startSimulator({host: '127.0.0.1', port: 0, framing, security: {systemTitle: st, ek: key(1), ak: key(2)}})
  const plain = new DlmsClient({host: '127.0.0.1', port: sim.ports[0], framing, timeoutMs: 5000})
  const hls = new DlmsClient({
    host: '127.0.0.1',
    port: sim.ports[0],
    framing,
    clientAddress: 1,
    timeoutMs: 5000,
    security: {level: 'hls-gmac', systemTitle: Uint8Array.from([0x4d, 0x4d, 0x4d, 0, 0, 0, 0, 1]), ek: key(1), ak: key(2), peerSystemTitle: st},
  })
  try {
    await plain.open()
    await hls.open()
    for (let i = 0; i < 200; i++) {
      await plain.read('1.0.1.8.0.255', 3, 2)
      await hls.read('1.0.1.8.0.255', 3, 2)
    }
    const counts = {plain: 0, hls: 0}
    const ms = {plain: 0, hls: 0}
    const phases = 6
    for (let p = 0; p < phases * 2; p++) {
      const which = p % 2 === 0 ? 'plain' : 'hls'
      const c = which === 'plain' ? plain : hls
      const t0 = performance.now()
      while (performance.now() - t0 < (SECONDS * 1000) / phases) {
        await c.read('1.0.1.8.0.255', 3, 2)
        counts[which]++
      }
      ms[which] += performance.now() - t0
    }
    const plainPerS = Math.round((counts.plain * 1000) / ms.plain)
    const hlsPerS = Math.round((counts.hls * 1000) / ms.hls)
    return {plain_get_per_s: plainPerS, hls_get_per_s: hlsPerS, ratio: Math.round((hlsPerS / plainPerS) * 100) / 100}
  } finally {
    await plain.close()
    await hls.close()
    await sim.close()
  }
}
const hlsRates = {wrapper: await hlsVsPlain('wrapper'), hdlc: await hlsVsPlain('hdlc')}
// The meter in its own process: the client's own cost of HLS (what a netmon user pays; a real meter does its crypto itself).
const hlsRatesSeparate = {wrapper: await hlsVsPlain('wrapper', true), hdlc: await hlsVsPlain('hdlc', true)}

// One line in the harness's format (bench/run-all.js). No DLMS peer runs here: Gurux is Python
// and PyPI is not reachable from these machines, so Gurux's simulator rate measured before on a
// machine like this one (shared/FACTS.md: ≈ 11k GET/s on one loopback connection) is quoted as a
// reference, not as a same-run peer.
const GURUX_GET_PER_S = 11000
const row = (metric, value, unit, extra = {}) => ({metric, netmon: value, unit, ...extra})
process.stdout.write(
  JSON.stringify({
    name: 'dlms',
    title: 'DLMS/COSEM codec and client (issue 7)',
    command: 'npm run bench -- dlms (node bench/dlms.bench.js)',
    results: [
      row('decode GET-response (register), wrapper frames', decode.wrapper_get_response_register_frames_per_s, 'frames/s'),
      row('decode GET-response (register), HDLC frames', decode.hdlc_get_response_register_frames_per_s, 'frames/s'),
      row('decode GET-response with-data-block (500 B), wrapper', decode.wrapper_get_response_500b_block_frames_per_s, 'frames/s'),
      row('decode A-XDR profile buffer, 24 rows', decode.axdr_profile_24_rows_decodes_per_s, 'decodes/s'),
      ...['wrapper', 'hdlc'].flatMap(f => [
        row(`client ↔ simulator GET requests/s (${f}, one connection)`, loopback[f].get_requests_per_s, 'req/s', {
          peer: GURUX_GET_PER_S,
          peer_name: 'Gurux Python simulator (reference, earlier run)',
          ratio: Math.round((loopback[f].get_requests_per_s / GURUX_GET_PER_S) * 100) / 100,
        }),
        row(`read a 96-row load profile (${f}, block transfer)`, loopback[f].profile_96_rows_ms, 'ms'),
        row(`associate + release sessions/s (${f})`, loopback[f].sessions_per_s, 'sessions/s'),
        row(`HLS-GMAC ciphered (SC 0x30) GET requests/s (${f}, one connection)`, hlsRates[f].hls_get_per_s, 'req/s', {
          peer: hlsRates[f].plain_get_per_s,
          peer_name: 'netmon unciphered GET, same in-process simulator, same run',
          ratio: hlsRates[f].ratio,
          goal: '≥ 0.7× unciphered (issue 18)',
          pass: hlsRates[f].ratio >= 0.7,
        }),
        row(`HLS-GMAC ciphered (SC 0x30) GET requests/s (${f}, one connection, meter in another process)`, hlsRatesSeparate[f].hls_get_per_s, 'req/s', {
          peer: hlsRatesSeparate[f].plain_get_per_s,
          peer_name: 'netmon unciphered GET, same simulator process, same run',
          ratio: hlsRatesSeparate[f].ratio,
          goal: '≥ 0.7× unciphered (issue 18)',
          pass: hlsRatesSeparate[f].ratio >= 0.7,
        }),
      ]),
    ],
    notes:
      'Decode rates are single-threaded, in-process. Loopback rates are one client and one simulator in the same Node process over 127.0.0.1. Raw figures: ' +
      JSON.stringify({seconds_per_measure: SECONDS, decode, loopback, hls: hlsRates, hls_meter_in_another_process: hlsRatesSeparate}),
  }) + '\n',
)

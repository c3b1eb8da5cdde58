#!/usr/bin/env node
// NetFlow benchmark (issue 15): decode throughput (flows/s on one core) of the v5 / v9 / IPFIX codec
// on the recorded vectors (test/vectors/netflow/), and receive+decode over loopback UDP vs nfcapd
// receiving the same datagrams in the same run (flows per CPU-second of the receiving process, read
// from /proc), plus the raw UDP receive rate of a Node socket as the floor. Imports the built code
// (dist/); prints one JSON object on stdout. NETMON_BENCH_SECONDS scales each measurement (default 1).
import {spawn, spawnSync} from 'node:child_process'
import dgram from 'node:dgram'
import {mkdtempSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {machine, median} from './lib.js'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const nf = await import(pathToFileURL(join(root, 'dist', 'core', 'netflow', 'index.js')).href)
const {decode, TemplateCache} = nf
const SECONDS = Number(process.env.NETMON_BENCH_SECONDS ?? 1)
const vec = name => JSON.parse(readFileSync(join(root, 'test', 'vectors', 'netflow', `${name}.json`), 'utf8'))
const hex = h => Uint8Array.from(Buffer.from(h, 'hex'))
const u16 = (b, o) => (b[o] << 8) | b[o + 1]

/** Repeats fn for ~SECONDS; returns {flows/s, datagrams/s}. fn returns the records decoded. */
function rate(fn) {
  // warm-up long enough for the optimising tier (a 2000-call warm-up measured the interpreter)
  const w0 = performance.now()
  while (performance.now() - w0 < 300) for (let i = 0; i < 500; i++) fn()
  let flows = 0
  let n = 0
  const t0 = performance.now()
  let t = t0
  while (t - t0 < SECONDS * 1000) {
    for (let i = 0; i < 500; i++) flows += fn()
    n += 500
    t = performance.now()
  }
  return {flows: Math.round((flows * 1000) / (t - t0)), datagrams: Math.round((n * 1000) / (t - t0))}
}

function splitSets(b, headerLen) {
  const sets = []
  let p = headerLen
  while (p + 4 <= b.length) {
    const len = u16(b, p + 2)
    sets.push({id: u16(b, p), bytes: b.subarray(p, p + len)})
    p += len
  }
  return sets
}

/**
 * A full-size (~1400 B) datagram built from a real vector: its templates go into one datagram, and
 * its largest data set's records are repeated into one data set filling the second.
 */
function fullSize(datagrams, version) {
  const hl = version === 10 ? 16 : 20
  const header = datagrams[0].subarray(0, hl)
  const all = datagrams.flatMap(d => splitSets(d, hl))
  const tmpl = all.filter(s => s.id < 256)
  const data = all.filter(s => s.id >= 256).sort((a, b) => b.bytes.length - a.bytes.length)[0]
  // record length from the template of that set (fixed-length fields only in these vectors)
  const c = new TemplateCache()
  for (const d of datagrams) decode(d, 'probe', c)
  const t = c.get('probe', version === 10 ? u16(header, 12) * 65536 + u16(header, 14) : u16(header, 16) * 65536 + u16(header, 18), data.id)
  const recLen = t.fixedLength
  const rec = data.bytes.subarray(4, 4 + recLen)
  const n = Math.floor((1400 - hl - 4) / recLen)
  const body = new Uint8Array(4 + n * recLen)
  body.set([data.id >> 8, data.id & 255, body.length >> 8, body.length & 255])
  for (let i = 0; i < n; i++) body.set(rec, 4 + i * recLen)
  const mk = sets => {
    const len = hl + sets.reduce((a, s) => a + s.length, 0)
    const out = new Uint8Array(len)
    out.set(header)
    let p = hl
    for (const s of sets) {
      out.set(s, p)
      p += s.length
    }
    if (version === 10) out.set([len >> 8, len & 255], 2)
    return out
  }
  return {templates: mk(tmpl.map(s => s.bytes)), data: mk([body]), flows: n}
}

function fullV5(d) {
  const n = 30
  const out = new Uint8Array(24 + 48 * n)
  out.set(d.subarray(0, 24))
  out.set([0, n], 2)
  for (let i = 0; i < n; i++) out.set(d.subarray(24, 72), 24 + 48 * i)
  return out
}

// --- 1. pure decode --------------------------------------------------------------------------------
const v5 = hex(vec('softflowd-v5').datagrams[0])
const v9sd = hex(vec('softflowd-v9').datagrams[0])
const v10sd = hex(vec('softflowd-v10').datagrams[0])
const v9pm = vec('pmacctd-v9').datagrams.map(hex)
const v10pm = vec('pmacctd-v10').datagrams.map(hex)
const full = {v5: fullV5(v5), v9: fullSize(v9pm, 9), v10: fullSize(v10pm, 10)}

const cases = {
  'v5 softflowd datagram (3 flows)': () => [[], [v5]],
  'v9 softflowd datagram (templates + 5 flows)': () => [[], [v9sd]],
  'IPFIX softflowd datagram (templates + 5 flows)': () => [[], [v10sd]],
  'v9 pmacctd datagrams (templates + 5 flows in 2)': () => [[], v9pm],
  'IPFIX pmacctd datagrams (templates + 5 flows in 2)': () => [[], v10pm],
  'v5 full datagram (30 flows)': () => [[], [full.v5]],
  [`v9 full datagram (${full.v9.flows} flows, pmacctd template)`]: () => [[full.v9.templates], [full.v9.data]],
  [`IPFIX full datagram (${full.v10.flows} flows, pmacctd template)`]: () => [[full.v10.templates], [full.v10.data]],
}

// Each case runs in its own process (a decode() that has seen other versions first is optimised
// differently), 3 times; the median counts.
if (process.env.NETFLOW_BENCH_CASE) {
  const [pre, datagrams] = cases[process.env.NETFLOW_BENCH_CASE]()
  const cache = new TemplateCache()
  for (const d of pre) decode(d, '127.0.0.1', cache)
  let i = 0
  const r = rate(() => {
    const x = decode(datagrams[i++ % datagrams.length], '127.0.0.1', cache)
    if (!x.ok) throw new Error(x.reason)
    return x.records.length
  })
  console.log(JSON.stringify(r))
  process.exit(0)
}
const decodeRates = {}
const decodeRuns = {}
for (let round = 0; round < 3; round++) {
  for (const name of Object.keys(cases)) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], {env: {...process.env, NETFLOW_BENCH_CASE: name}, encoding: 'utf8'})
    if (r.status !== 0) throw new Error(`${name}: ${r.stderr}`)
    ;(decodeRuns[name] ??= []).push(JSON.parse(r.stdout.trim()).flows)
  }
}
for (const [k, xs] of Object.entries(decodeRuns)) decodeRates[k] = {flows: Math.round(median(xs))}

// --- 2. receive over loopback: netmon (Node dgram + decode) vs raw Node receive vs nfcapd ----------
const DATAGRAMS = Math.round(40_000 * SECONDS)
const PORT = 15077

/** Sends the template datagram then `count` data datagrams to port, in bursts with short pauses. */
function sendAll(port, templates, data, count) {
  const src = `
    const dgram = require('node:dgram')
    const s = dgram.createSocket('udp4')
    const t = Buffer.from('${Buffer.from(templates).toString('hex')}', 'hex')
    const d = Buffer.from('${Buffer.from(data).toString('hex')}', 'hex')
    let sent = 0
    s.send(t, ${port}, '127.0.0.1', () => setTimeout(burst, 50))
    function burst() {
      let k = 0
      const one = () => {
        if (sent >= ${count}) return setTimeout(() => s.close(), 100)
        sent++
        s.send(d, ${port}, '127.0.0.1', () => { if (++k % 64 === 0) setTimeout(one, 1); else one() })
      }
      one()
    }`
  return new Promise(resolve => {
    const c = spawn(process.execPath, ['-e', src], {stdio: 'ignore'})
    c.on('close', resolve)
  })
}

const cpuMs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

async function nodeReceive(withDecode) {
  const sock = dgram.createSocket({type: 'udp4', recvBufferSize: 8 << 20})
  await new Promise(r => sock.bind(PORT, '127.0.0.1', r))
  const cache = new TemplateCache()
  let datagrams = 0
  let flows = 0
  let c0 = 0
  sock.on('message', (msg, rinfo) => {
    if (datagrams === 0) c0 = cpuMs()
    datagrams++
    if (withDecode) {
      const r = decode(msg, rinfo.address, cache)
      if (r.ok) flows += r.records.length
    }
  })
  const t0 = performance.now()
  await sendAll(PORT, full.v9.templates, full.v9.data, DATAGRAMS)
  await new Promise(r => setTimeout(r, 300))
  const cpu = cpuMs() - c0
  const ms = performance.now() - t0
  sock.close()
  return {datagrams, flows, cpuMs: cpu, wallMs: ms}
}

function procCpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100 // utime + stime in clock ticks (100 Hz)
}

async function nfcapdReceive() {
  if (spawnSync('sh', ['-c', 'command -v nfcapd']).status !== 0) return null
  const dir = mkdtempSync(join(tmpdir(), 'nfbench-'))
  const p = spawn('nfcapd', ['-w', dir, '-p', String(PORT), '-b', '127.0.0.1', '-B', String(8 << 20), '-t', '3600'], {stdio: 'ignore'})
  await new Promise(r => setTimeout(r, 1000))
  const c0 = procCpuMs(p.pid)
  const t0 = performance.now()
  await sendAll(PORT, full.v9.templates, full.v9.data, DATAGRAMS)
  await new Promise(r => setTimeout(r, 500))
  const cpu = procCpuMs(p.pid) - c0
  const ms = performance.now() - t0
  p.kill('SIGTERM')
  await new Promise(r => p.on('close', r))
  let flows = 0
  for (const f of readdirSync(dir).filter(f => f.startsWith('nfcapd.'))) {
    const r = spawnSync('nfdump', ['-r', join(dir, f), '-I'], {encoding: 'utf8'})
    const m = /^Flows:\s+(\d+)/m.exec(r.stdout)
    if (m) flows += Number(m[1])
  }
  rmSync(dir, {recursive: true, force: true})
  const version = spawnSync('nfdump', ['-V'], {encoding: 'utf8'}).stdout.trim()
  return {flows, cpuMs: cpu, wallMs: ms, version}
}

const ROUNDS = 3
const runs = {netmon: [], raw: [], nfcapd: []}
let nfVersion = ''
const lost = {netmon: [], nfcapd: []}
const sentFlows = DATAGRAMS * full.v9.flows
for (let i = 0; i < ROUNDS; i++) {
  const a = await nodeReceive(true)
  runs.netmon.push(a.flows / (a.cpuMs / 1000))
  lost.netmon.push(sentFlows - a.flows)
  const b = await nodeReceive(false)
  runs.raw.push((b.datagrams * full.v9.flows) / (b.cpuMs / 1000))
  const c = await nfcapdReceive()
  if (c) {
    runs.nfcapd.push(c.flows / (c.cpuMs / 1000))
    lost.nfcapd.push(sentFlows - c.flows)
    nfVersion = c.version
  }
}

const best = Math.max(...Object.values(decodeRates).map(r => r.flows))
const pmIpfix = decodeRates['IPFIX full datagram (' + full.v10.flows + ' flows, pmacctd template)'].flows
const pmV9 = decodeRates['v9 full datagram (' + full.v9.flows + ' flows, pmacctd template)'].flows
const v5Full = decodeRates['v5 full datagram (30 flows)'].flows
const slowestFull = Math.min(pmIpfix, pmV9, v5Full)
const r2 = x => Math.round(x * 100) / 100
const mNetmon = median(runs.netmon)
const mNf = runs.nfcapd.length ? median(runs.nfcapd) : undefined
const results = [
  ...Object.entries(decodeRates).map(([k, v]) => ({
    metric: `decode ${k}`,
    netmon: v.flows,
    unit: 'flows/s',
    goal: k.includes('full') ? '≥ 200,000 flows/s' : undefined,
    pass: k.includes('full') ? v.flows >= 200_000 : undefined,
    command: 'decode() in one thread, one TemplateCache',
  })),
  {
    metric: 'receive + decode over loopback UDP, flows per CPU-second of the receiver (v9 full datagrams)',
    netmon: Math.round(mNetmon),
    unit: 'flows/CPU-s',
    peer_name: mNf ? `nfcapd (${nfVersion}) receiving and storing the same datagrams` : 'nfcapd not installed',
    peer: mNf ? Math.round(mNf) : undefined,
    ratio: mNf ? r2(mNetmon / mNf) : undefined,
    goal: '≥ 200,000 flows/s on one core',
    pass: mNetmon >= 200_000,
    command: `Node dgram socket + decode(), ${DATAGRAMS} datagrams × ${full.v9.flows} flows`,
    peer_command: 'nfcapd -w DIR -p PORT -b 127.0.0.1 -B 8388608 -t 3600; CPU from /proc/PID/stat; flows from nfdump -I',
  },
  {
    metric: 'raw Node UDP receive on loopback (no decode), flows-equivalent per CPU-second',
    netmon: Math.round(median(runs.raw)),
    unit: 'flows/CPU-s',
    peer_name: 'netmon receive + decode',
    peer: Math.round(mNetmon),
    ratio: r2(mNetmon / median(runs.raw)),
    goal: 'reference (decode share of the receive path)',
  },
]
console.log(
  JSON.stringify({
    name: 'netflow-decode',
    title: 'NetFlow: v5 / v9 / IPFIX decode throughput and loopback receive vs nfcapd (issue 15)',
    machine: machine(),
    command: `npm run bench -- netflow-decode (decode ~${SECONDS} s per vector; ${ROUNDS} interleaved receive rounds of ${DATAGRAMS} datagrams, medians)`,
    results,
    notes:
      `Decode rounds (flows/s): ${Object.entries(decodeRuns)
        .map(([k, xs]) => `${k.split(' (')[0]}: ${xs.join(', ')}`)
        .join(
          '; ',
        )}. Decode: best ${best.toLocaleString('en-US')} flows/s, slowest full-size datagram ${slowestFull.toLocaleString('en-US')} flows/s (the real vectors carry 3-5 flows per datagram and, for softflowd, their templates in every datagram, so their per-flow rate includes template parsing). ` +
      `Receive rounds (flows/CPU-s): netmon ${runs.netmon.map(Math.round).join(', ')}; raw ${runs.raw.map(Math.round).join(', ')}; nfcapd ${runs.nfcapd.map(Math.round).join(', ') || '-'}. ` +
      `Flows not received of ${sentFlows.toLocaleString('en-US')} sent per round (sender bursts of 64 then 1 ms pause): netmon ${lost.netmon.join(', ')}; nfcapd ${lost.nfcapd.join(', ') || '-'}. ` +
      'nfcapd also writes its flow file (LZO off), netmon only decodes (aggregation into the store is not part of this measurement). ' +
      `Load average at the end: ${loadavg()
        .map(x => x.toFixed(1))
        .join(' / ')} (other work shared the 2 cores; single rounds vary by 2-5×, hence medians).`,
  }),
)

#!/usr/bin/env node
// NetFlow collector under a paced stream (issue 15: "0 datagrams lost at 50k flows/s"): the real
// `netmon agent run` with a netflow job on 127.0.0.1 (decode + per-host aggregation + one store
// batch a second into a real libSQL file) receives NetFlow v9 datagrams (47 flows each, 1,000 LAN
// hosts, ~1,400 B) from a paced sender for BENCH_NETFLOW_SECONDS (default 20) at each rate of
// BENCH_NETFLOW_RATES (default 50000,100000,200000 flows/s). Measured per rate: datagrams the agent
// counted as received vs sent, bytes in the store vs bytes exported (nothing lost, nothing twice),
// and the agent's CPU (% of one core) and peak RSS. The peer, in the same run at the same rates:
// nfcapd (nfdump) receiving the same stream (flows from nfdump -I vs sent).
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {machine} from './lib.js'

const root = process.cwd()
const BIN = join(root, 'bin/run.js')
const SECONDS = Number(process.env.BENCH_NETFLOW_SECONDS ?? 20)
const RATES = (process.env.BENCH_NETFLOW_RATES ?? '50000,100000,200000').split(',').map(Number)
const HOSTS = 1000
const FLOWS_PER_DATAGRAM = 47
const BYTES_PER_FLOW = 1000
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).stdout.trim() || 100)
const sleep = ms => new Promise(r => setTimeout(r, ms))
const log = s => process.stderr.write(`[netflow-rate] ${s}\n`)

// ---------- the paced sender (its own process, so the receiver's CPU is its own) ----------
// v9 template 256: IN_BYTES(1)/4, IN_PKTS(2)/4, PROTOCOL(4)/1, L4_SRC_PORT(7)/2, IPV4_SRC_ADDR(8)/4,
// L4_DST_PORT(11)/2, IPV4_DST_ADDR(12)/4, LAST_SWITCHED(21)/4, FIRST_SWITCHED(22)/4 = 29 B a record.
const senderSrc = `
const dgram = require('node:dgram')
const [port, rate, seconds, perDg, hosts, bytesPerFlow] = process.argv.slice(1).map(Number)
const s = dgram.createSocket('udp4')
const UP = 3_600_000
let seq = 0
function header(count, unixSecs) {
  const b = Buffer.alloc(20)
  b.writeUInt16BE(9, 0); b.writeUInt16BE(count, 2); b.writeUInt32BE(UP, 4); b.writeUInt32BE(unixSecs, 8)
  b.writeUInt32BE(seq++, 12); b.writeUInt32BE(1, 16)
  return b
}
const fields = [[1, 4], [2, 4], [4, 1], [7, 2], [8, 4], [11, 2], [12, 4], [21, 4], [22, 4]]
const tset = Buffer.alloc(4 + 4 + fields.length * 4)
tset.writeUInt16BE(0, 0); tset.writeUInt16BE(tset.length, 2); tset.writeUInt16BE(256, 4); tset.writeUInt16BE(fields.length, 6)
fields.forEach(([id, len], i) => { tset.writeUInt16BE(id, 8 + i * 4); tset.writeUInt16BE(len, 10 + i * 4) })
let host = 0
function data(unixSecs) {
  const body = Buffer.alloc(4 + perDg * 29)
  body.writeUInt16BE(256, 0); body.writeUInt16BE(body.length, 2)
  for (let i = 0; i < perDg; i++) {
    const o = 4 + i * 29
    const h = host++ % hosts
    body.writeUInt32BE(bytesPerFlow, o); body.writeUInt32BE(1, o + 4); body[o + 8] = 6
    body.writeUInt16BE(40000 + (h % 20000), o + 9)
    body.writeUInt32BE(((10 << 24) | (h + 2)) >>> 0, o + 11) // 10.0.x.y, a LAN host
    body.writeUInt16BE(443, o + 15)
    body.writeUInt32BE(((198 << 24) | (51 << 16) | (100 << 8) | 7) >>> 0, o + 17) // 198.51.100.7 (never sent to)
    body.writeUInt32BE(UP - 200, o + 21); body.writeUInt32BE(UP - 900, o + 25)
  }
  return Buffer.concat([header(perDg, unixSecs), body])
}
const total = Math.round((rate * seconds) / perDg)
let sent = 0
const t0 = Date.now()
s.send(Buffer.concat([header(1, Math.floor(Date.now() / 1000)), tset]), port, '127.0.0.1', () => setTimeout(tick, 200))
function tick() {
  const due = Math.min(total, Math.round(((Date.now() - t0 - 200) / 1000) * rate / perDg))
  const now = Math.floor(Date.now() / 1000)
  let pending = 0
  while (sent < due) { sent++; pending++; s.send(data(now), port, '127.0.0.1', () => { if (--pending === 0 && sent >= total) done() }) }
  if (sent < total) setTimeout(tick, 5)
  else if (pending === 0) done()
}
function done() { s.close(); process.stdout.write(JSON.stringify({datagrams: sent + 1, data: sent, ms: Date.now() - t0})) }
`
function send(port, rate) {
  return new Promise((resolve, reject) => {
    const c = spawn(
      process.execPath,
      ['-e', senderSrc, String(port), String(rate), String(SECONDS), String(FLOWS_PER_DATAGRAM), String(HOSTS), String(BYTES_PER_FLOW)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    let out = ''
    c.stdout.on('data', d => (out += d))
    c.on('close', code => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`sender exit ${code}`))))
  })
}

function procStat(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return {cpuMs: ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK}
}
function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) / 1024 : 0
}
const cli = (args, db) => JSON.parse(execFileSync(process.execPath, [BIN, ...args, '--db', db, '--json'], {encoding: 'utf8', maxBuffer: 64 << 20}))
const udpDrops = () => {
  const lines = readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter(l => l.startsWith('Udp:'))
  const [k, v] = lines.map(l => l.split(/\s+/).slice(1))
  return Number(v[k.indexOf('RcvbufErrors')])
}

async function netmonAt(rate, port) {
  const dir = mkdtempSync(join(tmpdir(), 'netmon-nfrate-'))
  const db = join(dir, 'bench.db')
  const cfg = join(dir, 'agent.json')
  writeFileSync(
    cfg,
    JSON.stringify({
      heartbeat: '1s',
      jobs: [{name: 'flows', kind: 'netflow', listen: `127.0.0.1:${port}`, lan: ['10.0.0.0/8'], every: '1s', exporters: ['127.0.0.1']}],
    }),
  )
  const agent = spawn(process.execPath, [BIN, 'agent', 'run', '--config', cfg, '--db', db], {stdio: ['ignore', 'ignore', 'pipe']})
  let stderr = ''
  agent.stderr.on('data', d => (stderr += d))
  const status = () => cli(['agent', 'status'], db).jobs.find(j => j.name === 'flows')?.detail?.datagrams
  for (let i = 0; i < 300 && !status(); i++) await sleep(100)
  if (!status()) throw new Error(`agent did not start: ${stderr}`)
  const c0 = procStat(agent.pid).cpuMs
  const drops0 = udpDrops()
  let peakRss = 0
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, rssMiB(agent.pid))), 250)
  const t0 = performance.now()
  const s = await send(port, rate)
  const wall = performance.now() - t0
  const cpu = procStat(agent.pid).cpuMs - c0
  // Settle: every received datagram's flows flushed (one batch a second).
  let last = -1
  let d = status()
  for (let i = 0; i < 60 && d.received !== last; i++) {
    last = d.received
    await sleep(1500)
    d = status()
  }
  await sleep(2500)
  const stats = cli(['bandwidth', 'stats'], db)
  clearInterval(rssTimer)
  agent.kill('SIGTERM')
  await new Promise(r => agent.on('close', r))
  const devices = stats.devices
  const stored = stats.network.total_bytes
  rmSync(dir, {recursive: true, force: true})
  return {
    sent: s.datagrams,
    sendMs: s.ms,
    received: d.received,
    decoded: d.decoded,
    lost: s.datagrams - d.received,
    kernelDrops: udpDrops() - drops0,
    bytesExported: s.data * FLOWS_PER_DATAGRAM * BYTES_PER_FLOW,
    bytesStored: stored,
    hosts: devices.length,
    cpuPct: (cpu / wall) * 100,
    peakRss,
  }
}

async function nfcapdAt(rate, port) {
  if (spawnSync('sh', ['-c', 'command -v nfcapd']).status !== 0) return null
  const dir = mkdtempSync(join(tmpdir(), 'nfrate-'))
  const p = spawn('nfcapd', ['-w', dir, '-p', String(port), '-b', '127.0.0.1', '-t', '3600'], {stdio: 'ignore'})
  await sleep(1000)
  const c0 = procStat(p.pid).cpuMs
  const t0 = performance.now()
  const s = await send(port, rate)
  const wall = performance.now() - t0
  await sleep(1000)
  const cpu = procStat(p.pid).cpuMs - c0
  p.kill('SIGTERM')
  await new Promise(r => p.on('close', r))
  let flows = 0
  for (const f of readdirSync(dir).filter(f => f.startsWith('nfcapd.'))) {
    const m = /^Flows:\s+(\d+)/m.exec(spawnSync('nfdump', ['-r', join(dir, f), '-I'], {encoding: 'utf8'}).stdout)
    if (m) flows += Number(m[1])
  }
  rmSync(dir, {recursive: true, force: true})
  const sentFlows = s.data * FLOWS_PER_DATAGRAM
  return {sentFlows, flows, lostFlows: sentFlows - flows, cpuPct: (cpu / wall) * 100, version: spawnSync('nfdump', ['-V'], {encoding: 'utf8'}).stdout.trim()}
}

const results = []
const notes = []
let port = 15100 + (process.pid % 400)
for (const rate of RATES) {
  log(`netmon at ${rate} flows/s for ${SECONDS} s`)
  const n = await netmonAt(rate, port++)
  log(JSON.stringify(n))
  log(`nfcapd at ${rate} flows/s`)
  const p = await nfcapdAt(rate, port++)
  if (p) log(JSON.stringify(p))
  const fmt = x => Math.round(x).toLocaleString('en-US')
  results.push({
    metric: `datagrams lost at ${fmt(rate)} flows/s (${SECONDS} s, ${fmt(n.sent)} datagrams, agent counter vs sent)`,
    netmon: n.lost,
    unit: 'datagrams',
    peer_name: p ? `nfcapd (${p.version}), flows not in its file of ${fmt(p.sentFlows)} sent` : 'nfcapd not installed',
    peer: p ? p.lostFlows : undefined,
    goal: rate === 50_000 ? '0 at 50k flows/s' : 'reference',
    pass: rate === 50_000 ? n.lost === 0 && n.bytesStored === n.bytesExported : undefined,
    command: `agent run (netflow job, 127.0.0.1, every 1s) ← paced v9 sender, ${FLOWS_PER_DATAGRAM} flows/datagram, ${HOSTS} hosts`,
    peer_command: 'nfcapd -w DIR -p PORT -b 127.0.0.1 -t 3600; nfdump -r FILE -I',
  })
  results.push({
    metric: `agent CPU at ${fmt(rate)} flows/s (decode + aggregate + store, % of one core)`,
    netmon: Math.round(n.cpuPct * 10) / 10,
    unit: '%',
    peer_name: 'nfcapd receiving and writing the same stream',
    peer: p ? Math.round(p.cpuPct * 10) / 10 : undefined,
    ratio: p ? Math.round((n.cpuPct / p.cpuPct) * 100) / 100 : undefined,
    goal: 'reference',
    command: '/proc/PID/stat utime+stime over the send window',
  })
  notes.push(
    `${fmt(rate)} flows/s: sent ${fmt(n.sent)} datagrams in ${fmt(n.sendMs)} ms, agent received ${fmt(n.received)} (decoded ${fmt(n.decoded)}), kernel UDP receive-buffer drops during the run ${n.kernelDrops}; bytes exported ${fmt(n.bytesExported)}, stored ${fmt(n.bytesStored)} over ${n.hosts} hosts; agent peak RSS ${n.peakRss.toFixed(0)} MiB.`,
  )
}

console.log(
  JSON.stringify({
    name: 'netflow-rate',
    title: 'NetFlow collector under a paced stream: loss, stored bytes, CPU (issue 15)',
    machine: machine(),
    command: `npm run bench -- netflow-rate (${SECONDS} s per rate, rates ${RATES.join(', ')} flows/s)`,
    results,
    notes: `${notes.join(' ')} Load average at the end: ${loadavg()
      .map(x => x.toFixed(1))
      .join(' / ')} (the 2 cores are shared with other work; the sender is its own process on the same machine).`,
  }),
)

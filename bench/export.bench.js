// `netmon metrics export` (issue 9): export 1.44M bandwidth samples (1000 devices × 1440
// minutes) as CSV, against `sqlite3 -csv` on the same file in the same run, plus peak RSS at
// 100k, 720k, 1.44M and 4.32M rows (goal: ≤ 150 MB and flat). Runs are interleaved (netmon, sqlite3, …) so
// machine noise hits both alike; medians are reported. Both write to a file on the same disk.
//
// The peer runs the SQL that produces the same CSV columns (ISO time via strftime, the device's
// MAC by join, the sample's rate) — the like-for-like comparison; a plain `SELECT *` dump of
// the table (4 integer columns, no join, no ISO) is reported too, for reference.
import {spawn, spawnSync} from 'node:child_process'
import {closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {ensureCommand, machine, median} from './lib.js'

const root = process.cwd()
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const DEVICES = 1000
const T0 = Date.UTC(2026, 10, 22)
const tmp = mkdtempSync(join(tmpdir(), 'netmon-export-bench-'))
const env = {...process.env, NETMON_NO_PROGRESS: '1'}

/** Spawns a process with stdout to a file, sampling its RSS from /proc every 10 ms. */
function run(cmd, args, stdoutPath) {
  return new Promise((resolve, reject) => {
    const fd = stdoutPath ? openSync(stdoutPath, 'w') : 'ignore'
    const t0 = process.hrtime.bigint()
    const child = spawn(cmd, args, {stdio: ['ignore', fd, 'pipe'], env, cwd: root})
    let stderr = ''
    child.stderr.on('data', d => (stderr += d))
    let peak = 0
    const sample = () => {
      try {
        const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))
        if (m) peak = Math.max(peak, Number(m[1]))
      } catch {}
    }
    const timer = setInterval(sample, 10)
    child.on('error', reject)
    child.on('exit', code => {
      clearInterval(timer)
      if (typeof fd === 'number') closeSync(fd)
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr}`))
      else resolve({ms: Number(process.hrtime.bigint() - t0) / 1e6, peakRssMb: peak / 1024})
    })
  })
}

/** A store with `minutes` samples for each of 1000 devices, written in key order. */
async function buildStore(file, minutes) {
  const {openStore} = await import(join(root, 'dist/core/store/index.js'))
  const store = await openStore({db: file})
  try {
    const macs = Array.from({length: DEVICES}, (_, i) =>
      `02:00:00:00:${((i + 1) >> 8).toString(16).padStart(2, '0')}:${((i + 1) & 255).toString(16).padStart(2, '0')}`.toUpperCase(),
    )
    await store.batch([
      {
        sql: `INSERT INTO devices(id, mac, ip, hostname, first_seen, last_seen)
              SELECT key + 1, value, '10.0.' || ((key + 1) >> 8) || '.' || ((key + 1) & 255), 'host-' || (key + 1), ?, ? FROM json_each(?)`,
        args: [T0, T0 + minutes * 60_000, JSON.stringify(macs)],
      },
      // Device-major order = primary-key order: a fast append into the WITHOUT ROWID table.
      // (Integers inlined: the client binds JS numbers as REAL, and i / 1440.0 is no device id.)
      {
        sql: `WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i + 1 < ${DEVICES * minutes})
              INSERT INTO bw_samples(device_id, ts, sent, received, interval_ms)
              SELECT 1 + i / ${minutes}, ${T0} + (i % ${minutes}) * 60000, (i * 7919) % 5000000, (i * 104729) % 20000000,
                CASE WHEN i % ${minutes} = 0 THEN NULL ELSE 60000 END FROM c`,
        args: [],
      },
    ])
    await store.script('ANALYZE; PRAGMA wal_checkpoint(TRUNCATE);')
  } finally {
    await store.close()
  }
}

const PEER_SQL = `SELECT strftime('%Y-%m-%dT%H:%M:%fZ', s.ts / 1000.0, 'unixepoch') AS ts, s.ts AS ts_ms, d.id AS device_id, d.mac,
  s.sent AS bytes_sent, s.received AS bytes_received, 1 AS samples, s.interval_ms,
  CASE WHEN s.interval_ms > 0 THEN CAST(round((s.sent + s.received) * 8000.0 / s.interval_ms) AS INTEGER) END AS peak_bps
  FROM devices d CROSS JOIN bw_samples s ON s.device_id = d.id ORDER BY d.id, s.ts`
const DUMP_SQL = 'SELECT * FROM bw_samples'

const netmonArgs = (db, out, format = 'csv') => [
  join(root, 'bin/run.js'),
  'metrics',
  'export',
  '--what',
  'bandwidth',
  '--format',
  format,
  '--db',
  db,
  '--out',
  out,
]
const lines = file => {
  // Count records without loading the file: CRLF (CSV) or LF (NDJSON) terminated.
  const r = spawnSync('sh', ['-c', `wc -l < '${file}'`], {encoding: 'utf8'})
  return Number(r.stdout.trim())
}

try {
  if (!ensureCommand('sqlite3')) throw new Error('sqlite3 is not installed')
  const big = join(tmp, 'big.db')
  const mid = join(tmp, 'mid.db')
  const small = join(tmp, 'small.db')
  const tb = Date.now()
  await buildStore(big, 1440)
  await buildStore(mid, 720)
  await buildStore(small, 100)
  const huge = join(tmp, 'huge.db')
  await buildStore(huge, 4320)
  const buildMs = Date.now() - tb
  const ROWS = DEVICES * 1440
  const SMALL_ROWS = DEVICES * 100

  const out = join(tmp, 'out.csv')
  const peerOut = join(tmp, 'peer.csv')
  const t = {netmon: [], peer: [], dump: [], rssBig: [], rssMid: [], rssSmall: [], peerRss: [], ndjson: [], json: []}
  // Warm-up: page cache and the CLI's first start.
  await run(process.execPath, netmonArgs(big, out))
  await run('sqlite3', ['-csv', '-header', big, PEER_SQL], peerOut)
  for (let i = 0; i < RUNS; i++) {
    const a = await run(process.execPath, netmonArgs(big, out))
    t.netmon.push(a.ms)
    t.rssBig.push(a.peakRssMb)
    const p = await run('sqlite3', ['-csv', '-header', big, PEER_SQL], peerOut)
    t.peer.push(p.ms)
    t.peerRss.push(p.peakRssMb)
    t.dump.push((await run('sqlite3', ['-csv', '-header', big, DUMP_SQL], join(tmp, 'dump.csv'))).ms)
    t.rssSmall.push((await run(process.execPath, netmonArgs(small, join(tmp, 'small.csv')))).peakRssMb)
    t.rssMid.push((await run(process.execPath, netmonArgs(mid, join(tmp, 'mid.csv')))).peakRssMb)
  }
  // Correctness of what was timed: every sample exported, same row count as the peer.
  const exported = lines(out) - 1
  const peerRows = lines(peerOut) - 1
  if (exported !== ROWS || peerRows !== ROWS) throw new Error(`row counts: netmon ${exported}, sqlite3 ${peerRows}, expected ${ROWS}`)
  const smallRows = lines(join(tmp, 'small.csv')) - 1
  if (smallRows !== SMALL_ROWS) throw new Error(`small export: ${smallRows} rows, expected ${SMALL_ROWS}`)
  // 3× the rows, once: where the peak has levelled off.
  const rssHuge = (await run(process.execPath, netmonArgs(huge, join(tmp, 'huge.csv')))).peakRssMb
  if (lines(join(tmp, 'huge.csv')) - 1 !== DEVICES * 4320) throw new Error('huge export: wrong row count')
  rmSync(huge)
  rmSync(join(tmp, 'huge.csv'))
  // The other formats, once each (informational).
  t.ndjson.push((await run(process.execPath, netmonArgs(big, join(tmp, 'out.ndjson'), 'ndjson'))).ms)
  t.json.push((await run(process.execPath, netmonArgs(big, join(tmp, 'out.json'), 'json'))).ms)

  const rate = ms => Math.round(ROWS / (ms / 1000))
  const netmonRate = rate(median(t.netmon))
  const peerRate = rate(median(t.peer))
  const dumpRate = rate(median(t.dump))
  const rssBig = Math.max(...t.rssBig)
  const rssSmall = Math.max(...t.rssSmall)
  const rssMid = Math.max(...t.rssMid)
  const r2 = x => Math.round(x * 100) / 100
  const cmd = 'netmon metrics export --what bandwidth --format csv --out FILE'
  console.log(
    JSON.stringify({
      name: 'export',
      title: 'metrics export: 1.44M bandwidth samples as CSV (issue 9)',
      machine: machine(),
      command: `node bench/export.bench.js (${RUNS} interleaved runs after a warm-up; store built in ${buildMs} ms)`,
      results: [
        {
          metric: 'CSV export, 1.44M samples, rows/s (whole process)',
          netmon: netmonRate,
          peer: peerRate,
          peer_name: 'sqlite3 -csv, same columns (strftime ISO, MAC join, rate)',
          ratio: r2(netmonRate / peerRate),
          goal: '≥ 0.5×',
          pass: netmonRate / peerRate >= 0.5,
          unit: 'rows/s (median)',
          command: cmd,
          peer_command: `sqlite3 -csv -header FILE "${PEER_SQL.replace(/\s+/g, ' ')}" > OUT`,
        },
        {
          metric: 'CSV export vs a bare table dump, rows/s',
          netmon: netmonRate,
          peer: dumpRate,
          peer_name: 'sqlite3 -csv "SELECT * FROM bw_samples" (4 integer columns, no join, no ISO time)',
          ratio: r2(netmonRate / dumpRate),
          unit: 'rows/s (median)',
          command: cmd,
          peer_command: `sqlite3 -csv -header FILE "${DUMP_SQL}" > OUT`,
        },
        {
          metric: 'peak RSS, 1.44M rows',
          netmon: r2(rssBig),
          peer: r2(Math.max(...t.peerRss)),
          peer_name: 'sqlite3 -csv (same query)',
          ratio: r2(rssBig / Math.max(...t.peerRss)),
          goal: '≤ 150 MB',
          pass: rssBig <= 150,
          unit: 'MiB (max of runs)',
          command: cmd,
        },
        {
          metric: 'peak RSS, 1.44M rows vs 100k rows (flat)',
          netmon: r2(rssBig),
          peer: r2(rssSmall),
          peer_name: `netmon itself at 100k rows (720k: ${r2(rssMid)} MiB)`,
          ratio: r2(rssBig / rssSmall),
          goal: 'flat: ≤ 1.25× for 14.4× the rows',
          pass: rssBig / rssSmall <= 1.25,
          unit: 'MiB (max of runs)',
          command: cmd,
        },
        {
          metric: 'peak RSS, 4.32M rows vs 1.44M rows (bounded)',
          netmon: r2(rssHuge),
          peer: r2(rssBig),
          peer_name: 'netmon itself at 1.44M rows',
          ratio: r2(rssHuge / rssBig),
          goal: '≤ 1.1× for 3× the rows',
          pass: rssHuge / rssBig <= 1.1,
          unit: 'MiB (1 run vs max of runs)',
          command: cmd,
        },
        {
          metric: 'peak RSS growth, 720k → 1.44M rows (twice the rows)',
          netmon: r2(rssBig - rssMid),
          peer: null,
          peer_name: `netmon at 720k rows: ${r2(rssMid)} MiB`,
          ratio: r2(rssBig / rssMid),
          goal: 'flat: ≤ 10 MiB more for 2× the rows',
          pass: rssBig - rssMid <= 10,
          unit: 'MiB',
          command: cmd,
        },
        {
          metric: 'NDJSON export, 1.44M samples, rows/s',
          netmon: rate(median(t.ndjson)),
          peer: peerRate,
          peer_name: 'sqlite3 -csv (same columns)',
          ratio: r2(rate(median(t.ndjson)) / peerRate),
          unit: 'rows/s (1 run)',
          command: cmd.replace('csv', 'ndjson'),
        },
        {
          metric: 'JSON export, 1.44M samples, rows/s',
          netmon: rate(median(t.json)),
          peer: peerRate,
          peer_name: 'sqlite3 -csv (same columns)',
          ratio: r2(rate(median(t.json)) / peerRate),
          unit: 'rows/s (1 run)',
          command: cmd.replace('csv', 'json'),
        },
      ],
      notes:
        `Store: ${ROWS} samples (1000 devices × 1440 one-minute samples) in bw_samples (WITHOUT ROWID, PRIMARY KEY (device_id, ts)), ` +
        `file ${(statSync(big).size / 2 ** 20).toFixed(1)} MiB; CSV ${(statSync(out).size / 2 ** 20).toFixed(1)} MiB. ` +
        `Times are whole processes (netmon includes its ~0.3 s CLI start-up and an fsync of the output). ` +
        `netmon medians: ${t.netmon.map(x => Math.round(x)).join('/')} ms; sqlite3 same columns: ${t.peer.map(x => Math.round(x)).join('/')} ms; dump: ${t.dump.map(x => Math.round(x)).join('/')} ms.`,
    }),
  )
} finally {
  rmSync(tmp, {recursive: true, force: true})
}

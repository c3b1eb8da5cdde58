// Queries at scale (issue 4): 1,000 devices × one day of 1-minute samples (1.44M raw rows, written
// by netmon's own ingest). `netmon bandwidth top --since 24h` and `netmon bandwidth stats` (whole
// processes) against the best hand-written SQL in the sqlite3 CLI (a copy of
// the same store, ANALYZEd; the fastest formulation per round: over the rollups + raw edges / the
// totals table, as netmon reads them, or over the raw table). Goal ≤ 2×, start-up aside. Interleaved
// rounds, medians. Also: in-process query times (no process start) for reference, and the size of
// a year of rollups for 1,000 devices, projected from the bytes per rollup row measured here.
import {copyFileSync, mkdtempSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {spawnSync} from 'node:child_process'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {ensureCommand, machine, median} from './lib.js'

const root = process.cwd()
const DEVICES = 1000
const MINUTES = Number(process.env.BENCH_MINUTES ?? 1440)
const RUNS = Number(process.env.BENCH_RUNS ?? 7)
const tmp = mkdtempSync(join(tmpdir(), 'netmon-bw-query-'))
const node = process.execPath
const bin = join(root, 'bin/run.js')
const db = join(tmp, 'netmon.db')
const peerDb = join(tmp, 'peer.db')
if (!ensureCommand('sqlite3')) throw new Error('sqlite3 CLI not available')

function run(cmd, args, opts = {}) {
  const t0 = process.hrtime.bigint()
  const r = spawnSync(cmd, args, {encoding: 'utf8', maxBuffer: 256 << 20, env: {...process.env, NETMON_NO_PROGRESS: '1'}, ...opts})
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ').slice(0, 200)} failed (${r.status}): ${String(r.stderr).slice(-2000)}`)
  return {ms, stdout: r.stdout}
}
const sqlite = (file, sql) => run('sqlite3', [file, sql]).stdout

try {
  // One day of 1-minute samples, ending a minute ago, for 1,000 devices: written by netmon itself.
  const end = Math.floor(Date.now() / 60_000) * 60_000 - 60_000
  const start = end - MINUTES * 60_000
  const file = join(tmp, 'day.ndjson')
  let text = ''
  const parts = []
  for (let m = 0; m < MINUTES; m++) {
    for (let d = 0; d < DEVICES; d++) {
      const i = m * DEVICES + d
      const mac = '02:00:00:' + [(d >> 16) & 255, (d >> 8) & 255, d & 255].map(x => x.toString(16).padStart(2, '0').toUpperCase()).join(':')
      text += `{"mac":"${mac}","sent":${((i * 7919) % 1_000_003) * ((d % 7) + 1)},"received":${(i * 104729) % 2_000_003},"ts":${start + m * 60_000 + 1}}\n`
    }
    if (text.length > 1 << 22) parts.push(text), (text = '')
  }
  parts.push(text)
  writeFileSync(file, parts.join(''))
  parts.length = 0
  text = ''
  const t0 = Date.now()
  run('sh', [
    '-c',
    `${JSON.stringify(node)} ${JSON.stringify(bin)} bandwidth sample --from - --auto-register --db ${JSON.stringify(db)} > /dev/null < ${JSON.stringify(file)}`,
  ])
  const buildS = (Date.now() - t0) / 1000
  rmSync(file)
  sqlite(db, 'PRAGMA wal_checkpoint(TRUNCATE);')
  const rows = Number(sqlite(db, 'SELECT count(*) FROM bw_samples;').trim())
  // The peer gets the same file, with statistics (the skip-scan plan needs them: shared/FACTS.md §4).
  copyFileSync(db, peerDb)
  sqlite(peerDb, 'ANALYZE;')

  const since = `(CAST(strftime('%s','now') AS INTEGER) * 1000 - 86400000)`
  const peerTop = {
    aggregate: `SELECT d.mac, d.ip, d.hostname, x.sent, x.received, x.total FROM (SELECT device_id, sum(sent) AS sent, sum(received) AS received, sum(sent + received) AS total FROM bw_samples WHERE ts >= ${since} GROUP BY device_id ORDER BY total DESC LIMIT 10) x JOIN devices d ON d.id = x.device_id ORDER BY x.total DESC;`,
    perDevice: `SELECT d.mac, d.ip, d.hostname, sum(s.sent), sum(s.received), sum(s.sent + s.received) AS total FROM devices d CROSS JOIN bw_samples s ON s.device_id = d.id AND s.ts >= ${since} GROUP BY d.id ORDER BY total DESC LIMIT 10;`,
  }
  // The best hand-written SQL (issue 13): hourly rollups for the whole hours, 5-minute rollups and
  // raw samples only for the edges, the same window as `top --since 24h` (bounds fixed here, at
  // most a few minutes older than netmon's own "now" by the last round: the same amount of data).
  const nowMs = Date.now()
  const fl = (t, n) => Math.floor(t / n) * n
  const ce = (t, n) => Math.ceil(t / n) * n
  const [F5, H] = [300_000, 3_600_000]
  const w0 = nowMs - 86_400_000
  const cuts = [w0, ce(w0, F5), ce(w0, H), fl(nowMs, H), fl(nowMs, F5), nowMs]
  const segs = [
    ['bw_samples', 'ts', cuts[0], cuts[1]],
    ['bw_rollup_5m', 'bucket', cuts[1], cuts[2]],
    ['bw_rollup_1h', 'bucket', cuts[2], cuts[3]],
    ['bw_rollup_5m', 'bucket', cuts[3], cuts[4]],
    ['bw_samples', 'ts', cuts[4], cuts[5]],
  ].filter(([, , a, b]) => a < b)
  peerTop.rollupsUnion = `SELECT d.mac, d.ip, d.hostname, x.sent, x.received, x.total FROM (SELECT device_id, sum(sent) AS sent, sum(received) AS received, sum(sent + received) AS total FROM (${segs
    .map(([t, k, a, b]) => `SELECT device_id, sent, received FROM ${t} WHERE ${k} >= ${a} AND ${k} < ${b}`)
    .join(' UNION ALL ')}) GROUP BY device_id ORDER BY total DESC LIMIT 10) x JOIN devices d ON d.id = x.device_id ORDER BY x.total DESC;`
  peerTop.rollupsPerDevice = `SELECT d.mac, d.ip, d.hostname, x.total FROM (SELECT d.id AS device_id, ${segs
    .map(([t, k, a, b]) => `coalesce((SELECT sum(sent + received) FROM ${t} s WHERE s.device_id = d.id AND s.${k} >= ${a} AND s.${k} < ${b}), 0)`)
    .join(' + ')} AS total FROM devices d WHERE total > 0 ORDER BY total DESC LIMIT 10) x JOIN devices d ON d.id = x.device_id ORDER BY x.total DESC;`
  const peerStats = {
    // The running totals table (issue 13): one row per device, current rate from its latest interval.
    totals: `SELECT d.mac, d.ip, d.hostname, t.bytes_sent, t.bytes_received, t.sample_count, t.first_ts, t.last_ts, t.peak_bps, t.peak_ts,
        t.peak_up_bps, t.peak_down_bps, t.cur_ts, t.cur_sent * 8000.0 / t.cur_interval_ms, t.cur_received * 8000.0 / t.cur_interval_ms
      FROM bw_totals t JOIN devices d ON d.id = t.device_id ORDER BY d.mac;`,
    grouped: `SELECT d.mac, d.ip, d.hostname, sum(s.sent), sum(s.received), count(*), min(s.ts), max(s.ts), max((s.sent + s.received) * 8000.0 / s.interval_ms),
        (SELECT (l.sent + l.received) * 8000.0 / l.interval_ms FROM bw_samples l WHERE l.device_id = d.id ORDER BY l.ts DESC LIMIT 1)
      FROM devices d CROSS JOIN bw_samples s ON s.device_id = d.id GROUP BY d.id;`,
    aggregate: `SELECT d.mac, d.ip, d.hostname, x.s, x.r, x.n, x.f, x.m, x.p, (l.sent + l.received) * 8000.0 / l.interval_ms
      FROM (SELECT device_id, sum(sent) AS s, sum(received) AS r, count(*) AS n, min(ts) AS f, max(ts) AS m, max((sent + received) * 8000.0 / interval_ms) AS p
            FROM bw_samples GROUP BY device_id) x
      JOIN bw_samples l ON l.device_id = x.device_id AND l.ts = x.m JOIN devices d ON d.id = x.device_id;`,
  }
  const netmon = {
    top: [node, [bin, 'bandwidth', 'top', '--since', '24h', '--json', '--db', db]],
    stats: [node, [bin, 'bandwidth', 'stats', '--json', '--db', db]],
  }
  // Sanity: both sides agree on the top 10 over one fixed window (the timed runs each use their
  // own "now", and the window's start drops one more minute of samples every minute).
  const ours = JSON.parse(run(node, [bin, 'bandwidth', 'top', '--since', String(w0), '--until', String(nowMs), '--json', '--db', db]).stdout).top_talkers.map(
    x => x.mac,
  )
  const fixedAggregate = peerTop.aggregate.replace(`ts >= ${since}`, `ts >= ${w0} AND ts < ${nowMs}`)
  for (const q of [fixedAggregate, peerTop.rollupsUnion, peerTop.rollupsPerDevice]) {
    const theirs = sqlite(peerDb, q)
      .trim()
      .split('\n')
      .map(l => l.split('|')[0])
    if (ours.join() !== theirs.join()) throw new Error(`top 10 differ: ${ours} vs ${theirs}`)
  }

  const times = {top: [], stats: [], peerTop: [], peerStats: [], peerTopWhich: [], peerStatsWhich: []}
  for (let i = 0; i < 2 + RUNS; i++) {
    const a = run(...netmon.top).ms
    const pa = Object.entries(peerTop)
      .map(([k, q]) => [k, run('sqlite3', [peerDb, q]).ms])
      .sort((x, y) => x[1] - y[1])[0]
    const b = run(...netmon.stats).ms
    const pb = Object.entries(peerStats)
      .map(([k, q]) => [k, run('sqlite3', [peerDb, q]).ms])
      .sort((x, y) => x[1] - y[1])[0]
    if (i < 2) continue
    times.top.push(a)
    times.peerTop.push(pa[1])
    times.peerTopWhich.push(pa[0])
    times.stats.push(b)
    times.peerStats.push(pb[1])
    times.peerStatsWhich.push(pb[0])
  }

  // In-process (no process start): netmon's core functions vs sqlite3's own timer.
  const {openStore} = await import(join(root, 'dist/core/store/index.js'))
  const {topTalkers, networkStats} = await import(join(root, 'dist/core/bandwidth/query.js'))
  const store = await openStore({db})
  const inproc = {top: [], stats: []}
  for (let i = 0; i < 2 + RUNS; i++) {
    let t = performance.now()
    await topTalkers(store, {limit: 10, sort: 'total', since: Date.now() - 86_400_000})
    const a = performance.now() - t
    t = performance.now()
    await networkStats(store)
    const b = performance.now() - t
    if (i >= 2) inproc.top.push(a), inproc.stats.push(b)
  }
  await store.close()
  const sqliteTimer = q => {
    const out = run('sqlite3', [peerDb], {input: `.timer on\n${q}\n`}).stdout
    return Number(/Run Time: real ([\d.]+)/.exec(out)?.[1] ?? NaN) * 1000
  }
  const peerIn = {
    top: median(Array.from({length: RUNS}, () => Math.min(...Object.values(peerTop).map(sqliteTimer)))),
    stats: median(Array.from({length: RUNS}, () => Math.min(...Object.values(peerStats).map(sqliteTimer)))),
  }

  // Sizes: bytes per row of each table (dbstat) → a year of rollups for 1,000 devices.
  const stat = Object.fromEntries(
    sqlite(db, "SELECT name || '|' || sum(pgsize) FROM dbstat GROUP BY name;")
      .trim()
      .split('\n')
      .map(l => l.split('|'))
      .map(([k, v]) => [k, Number(v)]),
  )
  const count = t => Number(sqlite(db, `SELECT count(*) FROM ${t};`).trim())
  const per = Object.fromEntries(['bw_samples', 'bw_rollup_5m', 'bw_rollup_1h', 'bw_rollup_1d'].map(t => [t, stat[t] / count(t)]))
  const yearRollups = DEVICES * (288 * 30 * per.bw_rollup_5m + 24 * 365 * per.bw_rollup_1h + 365 * per.bw_rollup_1d)
  const steady = yearRollups + DEVICES * 1440 * 7 * per.bw_samples
  const mib = b => Math.round((b / 2 ** 20) * 10) / 10
  const r2 = x => Math.round(x * 100) / 100
  const most = xs => Object.entries(xs.reduce((a, k) => ((a[k] = (a[k] ?? 0) + 1), a), {})).sort((a, b) => b[1] - a[1])[0][0]

  const row = (metric, ours, peer, peerName, which, command, peerCommand) => ({
    metric,
    netmon: Math.round(median(ours)),
    peer: Math.round(median(peer)),
    peer_name: peerName,
    unit: 'ms (median)',
    ratio: r2(median(ours) / median(peer)),
    // Issue 13: "start-up aside, within 2× of the best SQL" is the in-process rows' goal; these
    // include Node + oclif start-up (~200 ms) against sqlite3's ~2 ms, so they are a reference.
    goal: 'reference (start-up included)',
    pass: undefined,
    command,
    peer_command: peerCommand + (which ? ` (fastest formulation: ${which})` : ''),
  })
  console.log(
    JSON.stringify({
      name: 'bandwidth-query',
      title: `Bandwidth: top --since 24h and stats at ${DEVICES} devices × ${MINUTES} one-minute samples (issue 4)`,
      machine: machine(),
      command: `npm run bench -- bandwidth-query (${RUNS} interleaved runs after 2 warm-ups, medians)`,
      results: [
        row(
          'bandwidth top --since 24h (whole process)',
          times.top,
          times.peerTop,
          'sqlite3 CLI, best hand-written SQL (rollups + raw edges, or the raw table; ANALYZEd)',
          most(times.peerTopWhich),
          'bandwidth top --since 24h --json',
          'sqlite3 DB "<top-10 over hourly rollups + 5m/raw edges, or over bw_samples>"',
        ),
        row(
          'bandwidth stats, all devices (whole process)',
          times.stats,
          times.peerStats,
          'sqlite3 CLI, best hand-written SQL (the totals table, or the raw table; ANALYZEd)',
          most(times.peerStatsWhich),
          'bandwidth stats --json',
          'sqlite3 DB "<per-device totals, peak, current from bw_totals, or over bw_samples>"',
        ),
        {
          ...row(
            'top --since 24h, in-process (no process start)',
            inproc.top,
            [peerIn.top],
            'sqlite3 .timer (real), fastest formulation',
            null,
            'topTalkers() from dist/',
            'same SQL',
          ),
          goal: '≤ 2× (start-up aside)',
          pass: median(inproc.top) / peerIn.top <= 2,
        },
        {
          ...row(
            'stats, in-process (no process start)',
            inproc.stats,
            [peerIn.stats],
            'sqlite3 .timer (real), fastest formulation',
            null,
            'networkStats() from dist/',
            'same SQL',
          ),
          goal: '≤ 2× (start-up aside)',
          pass: median(inproc.stats) / peerIn.stats <= 2,
        },
        {
          metric: 'bytes on disk per raw sample (1.44M rows)',
          netmon: r2(per.bw_samples),
          unit: 'B',
          goal: '≤ 40 B',
          pass: per.bw_samples <= 40,
          command: 'sqlite3 dbstat',
        },
        {
          metric: `a year of rollups for ${DEVICES} devices (5m kept 30 d + 1h 365 d + 1d 365 d)`,
          netmon: mib(yearRollups),
          unit: 'MiB (projected)',
          command: `rows × bytes/row measured here: 5m ${r2(per.bw_rollup_5m)} B, 1h ${r2(per.bw_rollup_1h)} B, 1d ${r2(per.bw_rollup_1d)} B`,
        },
        {
          metric: `steady state for ${DEVICES} devices at 1 sample/min: 7 days raw + a year of rollups`,
          netmon: mib(steady),
          unit: 'MiB (projected)',
          command: `+ 7 × 1440 × ${DEVICES} raw rows × ${r2(per.bw_samples)} B`,
        },
      ],
      notes:
        `Store built by netmon's own ingest in ${buildS.toFixed(1)} s (${rows.toLocaleString('en-US')} raw rows, file ${mib(statSync(db).size)} MiB). ` +
        `Whole-process times include Node + oclif start-up (~150-250 ms here) against sqlite3's ~2 ms; the in-process rows show the queries alone. ` +
        `netmon answers top --since from hourly rollups + raw edges and stats from per-device running totals; the peer is the fastest of hand-written SQL over the same rollups/totals and over the raw rows. ` +
        `Runs (ms): top ${times.top.map(Math.round).join(', ')} vs ${times.peerTop.map(Math.round).join(', ')}; stats ${times.stats.map(Math.round).join(', ')} vs ${times.peerStats.map(Math.round).join(', ')}.`,
    }),
  )
} finally {
  rmSync(tmp, {recursive: true, force: true})
}

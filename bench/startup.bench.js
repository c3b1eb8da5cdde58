// CLI start-up cost (issue 3): `netmon --version` and `netmon db info` against a bare `node -e 0`,
// interleaved (A B C A B C …) so machine noise hits all alike; with and without oclif.manifest.json
// (the no-manifest copy is a temp dir that links dist/ and node_modules/). Goal: ≤ 2.5× node.
// Also, for comparison: the same commands on the stock @oclif/core package instead of the bundled,
// code-cached one (NETMON_STARTUP=plain; see bin/run.js and docs/PERFORMANCE-NOTES.md).
import {cpSync, mkdtempSync, rmSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {machine, median, timeRun} from './lib.js'

const root = process.cwd()
const RUNS = Number(process.env.BENCH_RUNS ?? 30)
const tmp = mkdtempSync(join(tmpdir(), 'netmon-startup-'))
const db = join(tmp, 'bench.db')
const bare = join(tmp, 'nomanifest')
cpSync(join(root, 'bin'), join(bare, 'bin'), {recursive: true})
cpSync(join(root, 'package.json'), join(bare, 'package.json'))
symlinkSync(join(root, 'dist'), join(bare, 'dist'))
symlinkSync(join(root, 'node_modules'), join(bare, 'node_modules'))

const node = process.execPath
const cases = {
  node: [node, ['-e', '0']],
  version: [node, [join(root, 'bin/run.js'), '--version']],
  dbinfo: [node, [join(root, 'bin/run.js'), 'db', 'info', '--json', '--db', db]],
  version_nomanifest: [node, [join(bare, 'bin/run.js'), '--version']],
  dbinfo_nomanifest: [node, [join(bare, 'bin/run.js'), 'db', 'info', '--json', '--db', db]],
  version_plain: [node, [join(root, 'bin/run.js'), '--version'], {NETMON_STARTUP: 'plain'}],
  dbinfo_plain: [node, [join(root, 'bin/run.js'), 'db', 'info', '--json', '--db', db], {NETMON_STARTUP: 'plain'}],
}
const env = {...process.env, NETMON_NO_PROGRESS: '1', NETMON_STARTUP: '', NETMON_CODE_CACHE: ''}
try {
  timeRun(cases.dbinfo[0], cases.dbinfo[1], {env}) // create the store once
  // Is V8's code cache for the bundled @oclif/core in place and accepted? (scripts/code-cache.js)
  const cache =
    /code cache: (\w+)/.exec(timeRun(node, [join(root, 'bin/run.js'), '--version'], {env: {...env, NETMON_CODE_CACHE: 'debug'}}).stderr)?.[1] ??
    'no bundled @oclif/core'
  const times = Object.fromEntries(Object.keys(cases).map(k => [k, []]))
  for (let i = 0; i < 3 + RUNS; i++) {
    for (const [k, [cmd, args, extraEnv]] of Object.entries(cases)) {
      const {ms} = timeRun(cmd, args, {env: {...env, ...extraEnv}})
      if (i >= 3) times[k].push(ms)
    }
  }
  const med = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]))
  const ratio = k => Math.round((med[k] / med.node) * 100) / 100
  // Median of the per-round ratios: steadier than the ratio of medians on a busy machine.
  const paired = k => Math.round(median(times[k].map((ms, i) => ms / times.node[i])) * 100) / 100
  const row = (metric, k, goal) => ({
    metric,
    netmon: Math.round(med[k]),
    peer: Math.round(med.node),
    peer_name: 'node -e 0',
    unit: 'ms (median)',
    ratio: ratio(k),
    paired_ratio: paired(k),
    goal: goal ? '≤ 2.5×' : undefined,
    pass: goal ? ratio(k) <= 2.5 : undefined,
    command:
      (cases[k][2] ? 'NETMON_STARTUP=plain ' : '') +
      cases[k][1]
        .join(' ')
        .replace(root + '/', '')
        .replace(bare + '/', '(no manifest) ')
        .replace(db, 'DB'),
    peer_command: 'node -e 0',
  })
  console.log(
    JSON.stringify({
      name: 'startup',
      title: 'CLI start-up (issue 3)',
      machine: machine(),
      command: `npm run bench -- startup (${RUNS} interleaved runs after 3 warm-ups)`,
      results: [
        row('netmon --version', 'version', true),
        row('netmon db info --json', 'dbinfo', true),
        row('netmon --version, no manifest', 'version_nomanifest', false),
        row('netmon db info --json, no manifest', 'dbinfo_nomanifest', false),
        row('netmon --version, stock @oclif/core', 'version_plain', false),
        row('netmon db info --json, stock @oclif/core', 'dbinfo_plain', false),
      ],
      notes:
        'Wall time of whole processes (spawnSync), medians; ratio = ratio of the medians, paired_ratio = median of the per-round ratios. ' +
        `V8 code cache for the bundled @oclif/core: ${cache}. ` +
        '"stock @oclif/core" = NETMON_STARTUP=plain: the package from node_modules instead of dist/oclif/core.cjs (docs/PERFORMANCE-NOTES.md). ' +
        'Without the manifest oclif imports every command module at start-up, so every command pays for all others; the build regenerates it and a test fails when it is stale.',
    }),
  )
} finally {
  rmSync(tmp, {recursive: true, force: true})
}

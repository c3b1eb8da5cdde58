#!/usr/bin/env node
// Records V8's code cache for dist/oclif/core.cjs (bin/run.js loads it; docs/PERFORMANCE-NOTES.md).
// Runs last in the build: one real `netmon db info --json` on a throw-away store, so the oclif
// functions a command run needs are compiled and land in the cache, then a second run must accept
// it. netmon works without a cache (it then compiles @oclif/core on every run), so a failure here
// is a loud warning, not a failed build.
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const coreDir = join(root, 'dist', 'oclif')
const coreFile = join(coreDir, 'core.cjs')

if (!existsSync(coreFile)) {
  console.error('code-cache: no dist/oclif/core.cjs (the bundle step failed or did not run): nothing to do')
  process.exit(0)
}
const id = /^\/\/netmon-core ([0-9a-f]+)\n/.exec(readFileSync(coreFile, 'utf8'))?.[1]
const cacheFile = join(coreDir, `core.${id}.v8cache`)
const tmp = mkdtempSync(join(tmpdir(), 'netmon-code-cache-'))
const run = mode =>
  spawnSync(process.execPath, [join(root, 'bin', 'run.js'), 'db', 'info', '--json', '--db', join(tmp, 'cache.db')], {
    cwd: root,
    encoding: 'utf8',
    env: {...process.env, NETMON_CODE_CACHE: mode, NETMON_STARTUP: ''},
  })
try {
  if (!id) throw new Error('dist/oclif/core.cjs has no build id on its first line')
  const made = run('write')
  if (made.status !== 0) throw new Error(`netmon db info failed (exit ${made.status}): ${made.stderr.trim()}`)
  if (!existsSync(cacheFile)) throw new Error('bin/run.js wrote no cache file')
  const check = run('debug')
  const verdict = /code cache: (\w+)/.exec(check.stderr)?.[1] ?? `no verdict (exit ${check.status}): ${check.stderr.trim()}`
  if (verdict !== 'used') throw new Error(`V8 did not accept the cache: ${verdict}`)
  console.error(`code-cache: dist/oclif/core.${id}.v8cache written and accepted`)
} catch (e) {
  rmSync(cacheFile, {force: true})
  console.error(`code-cache: WARNING: no code cache, so netmon starts slower: ${e?.message ?? e}`)
} finally {
  rmSync(tmp, {recursive: true, force: true})
}
for (const f of readdirSync(coreDir)) if (f.endsWith('.v8cache') && !f.includes(String(id))) rmSync(join(coreDir, f), {force: true})

import {execFileSync} from 'node:child_process'
import {existsSync, statSync, readdirSync} from 'node:fs'
import {join} from 'node:path'

// Tests spawn the built CLI (bin/run.js → dist/). Rebuild when any source is newer than the build,
// so `npm test` always exercises the current code. NETMON_SKIP_BUILD=1 skips it.
function newestMtime(dir: string): number {
  let newest = 0
  for (const e of readdirSync(dir, {withFileTypes: true})) {
    const p = join(dir, e.name)
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs)
  }
  return newest
}

export default function setup(): void {
  if (process.env.NETMON_SKIP_BUILD === '1') return
  const root = join(import.meta.dirname, '..', '..')
  const manifest = join(root, 'oclif.manifest.json')
  const built = existsSync(manifest) && existsSync(join(root, 'dist')) ? statSync(manifest).mtimeMs : 0
  if (built >= newestMtime(join(root, 'src'))) return
  execFileSync('npm', ['run', 'build'], {cwd: root, stdio: ['ignore', 'ignore', 'inherit']})
}

/**
 * Runs the built CLI as a user would (`node bin/run.js ...`), with a temp store unless told
 * otherwise, and returns what it printed and its exit code.
 */
import {execFileSync, spawn} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

export const ROOT = join(import.meta.dirname, '..', '..')
export const BIN = join(ROOT, 'bin', 'run.js')

export interface CliResult {
  code: number
  stdout: string
  stderr: string
  /** stdout parsed as JSON (undefined when it is not JSON). */
  json: any
}

export interface CliOptions {
  /** Passed as --db unless `noDb`. */
  db?: string
  noDb?: boolean
  env?: Record<string, string | undefined>
  input?: string | Buffer
  timeoutMs?: number
  cwd?: string
  /** Run the CLI inside this network namespace (`ip netns exec NS node bin/run.js …`; needs root). */
  netns?: string
  /** Runs the CLI under this command, e.g. ['ip', 'netns', 'exec', NS] (inside a test namespace). */
  wrap?: string[]
}

export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const argv = [BIN, ...args]
  if (opts.db && !opts.noDb) argv.push('--db', opts.db)
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries({...process.env, NETMON_NO_PROGRESS: '1', ...opts.env})) if (v !== undefined) env[k] = v
  return new Promise((resolve, reject) => {
    const wrap = opts.wrap ?? (opts.netns ? ['ip', 'netns', 'exec', opts.netns] : [])
    const [cmd, ...pre] = wrap.length ? [...wrap, process.execPath] : [process.execPath]
    const child = spawn(cmd!, [...pre, ...argv], {cwd: opts.cwd ?? ROOT, env, stdio: ['pipe', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', d => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', d => (stderr += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`netmon ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, opts.timeoutMs ?? 30_000)
    child.on('error', reject)
    child.on('close', code => {
      clearTimeout(timer)
      let json: any
      try {
        json = JSON.parse(stdout)
      } catch {
        json = undefined
      }
      resolve({code: code ?? -1, stdout, stderr, json})
    })
    // The CLI may exit before reading all of its input (e.g. at a bad NDJSON line): not an error here.
    child.stdin.on('error', () => {})
    if (opts.input !== undefined) child.stdin.end(opts.input)
    else child.stdin.end()
  })
}

/** A fresh temp dir with a store path inside; `cleanup()` removes it. */
export function tempStore(prefix = 'netmon-test-'): {dir: string; db: string; cleanup: () => void} {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return {dir, db: join(dir, 'netmon.db'), cleanup: () => rmSync(dir, {recursive: true, force: true})}
}

/** True when running as root (network namespaces, raw sockets). */
export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0

/**
 * `script(1)` arguments that run the built CLI on a pseudo-terminal, as a user at a shell would.
 * script runs the command through $SHELL (or /bin/sh); `exec` makes the CLI replace that shell, so
 * a Ctrl-C typed into the terminal reaches the CLI alone and the exit status is the CLI's own. Without
 * it dash stays in between and dies of the SIGINT (130) even when the CLI handled it and exited 0.
 * Use with `ptyEnv()` so the result does not depend on the caller's $SHELL.
 */
export function ptyArgs(args: string[], opts: {flush?: boolean; stdoutTo?: string} = {}): string[] {
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`
  // stdoutTo: stdout goes to that file, so only stderr is on the terminal.
  const cmd = ['exec', quote(process.execPath), quote(BIN), ...args.map(quote), ...(opts.stdoutTo ? ['>', quote(opts.stdoutTo)] : [])].join(' ')
  return [opts.flush ? '-qfec' : '-qec', cmd, '/dev/null']
}

/** The environment for `ptyArgs`: /bin/sh as the shell on every machine (CI may not set $SHELL). */
export function ptyEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {...process.env, SHELL: '/bin/sh', ...extra}
}

/** util-linux `script` is installed (it gives a command a real terminal). */
export const hasScript = (() => {
  try {
    return execFileSync('sh', ['-c', 'command -v script'], {stdio: 'ignore'}) !== undefined
  } catch {
    return false
  }
})()

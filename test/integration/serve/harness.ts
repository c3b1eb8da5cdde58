/**
 * A real `netmon serve` process for the HTTP and dashboard tests: the built CLI on a free
 * loopback port (--port 0), found through the "listening on URL" line it prints on stderr.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {BIN, ROOT} from '../../support/cli.js'

export interface ServeProc {
  url: string
  child: ChildProcess
  stderr: () => string
  stdout: () => string
  /** SIGTERM and wait; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<{code: number | null; signal: NodeJS.Signals | null}>
}

export async function startServe(db: string, args: string[] = [], env: Record<string, string | undefined> = {}): Promise<ServeProc> {
  const e: Record<string, string> = {}
  for (const [k, v] of Object.entries({...process.env, NETMON_NO_PROGRESS: '1', ...env})) if (v !== undefined) e[k] = v
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--db', db, ...args], {cwd: ROOT, env: e, stdio: ['ignore', 'pipe', 'pipe']})
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', d => (out += d))
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>(resolve => child.on('exit', (code, signal) => resolve({code, signal})))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start within 20 s:\n${err}`)), 20_000)
    child.stderr!.setEncoding('utf8').on('data', d => {
      err += d
      const m = /listening on (http:\/\/\S+?) /.exec(err)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
    void exited.then(({code}) => {
      clearTimeout(timer)
      reject(new Error(`serve exited (${code}) before listening:\n${err}`))
    })
  })
  return {
    url,
    child,
    stderr: () => err,
    stdout: () => out,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}

export interface HttpResult {
  status: number
  headers: Headers
  text: string
  json: any
}

export async function http(url: string, init: RequestInit & {json?: unknown} = {}): Promise<HttpResult> {
  const {json, ...rest} = init
  const headers = new Headers(rest.headers)
  if (json !== undefined) headers.set('content-type', 'application/json')
  const res = await fetch(url, {...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body})
  const text = await res.text()
  let parsed: any
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = undefined
  }
  return {status: res.status, headers: res.headers, text, json: parsed}
}

import {openStore} from '../../../src/core/store/index.js'

/** Reads the store the CLI wrote (a real libSQL file), closing it again. */
export async function sql<T = Record<string, any>>(db: string, query: string, args: (string | number | null)[] = []): Promise<T[]> {
  const store = await openStore({db})
  try {
    return await store.query<T>(query, args)
  } finally {
    await store.close()
  }
}

export async function counts(db: string): Promise<Record<string, number>> {
  const [r] = await sql(
    db,
    `SELECT (SELECT count(*) FROM devices) AS devices, (SELECT count(*) FROM bw_samples) AS raw, (SELECT count(*) FROM bw_totals) AS totals,
            (SELECT count(*) FROM bw_rollup_5m) AS r5m, (SELECT count(*) FROM events) AS events,
            (SELECT coalesce(sum(bytes_sent + bytes_received), 0) FROM bw_totals) AS bytes`,
  )
  return r as Record<string, number>
}

/** An hour boundary comfortably in the past (samples may not be in the future; retention keeps 7 days). */
export const hourAgo = (hours: number): number => Math.floor(Date.now() / 3_600_000) * 3_600_000 - hours * 3_600_000

import {spawn} from 'node:child_process'
import {BIN, ROOT, type CliResult} from '../../support/cli.js'

/**
 * Like runCli with `input`, but tolerates the CLI exiting before it has read all of stdin (it
 * stops at the first bad NDJSON line): the unread rest would otherwise surface as an EPIPE
 * error in the test process (test/support/cli.ts does not listen for it).
 */
export function runCliPiped(args: string[], db: string, input: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args, '--db', db], {cwd: ROOT, env: {...process.env, NETMON_NO_PROGRESS: '1'}})
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', d => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', d => (stderr += d))
    child.stdin.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') reject(e)
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`netmon ${args.join(' ')} timed out`))
    }, 60_000)
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
    child.stdin.end(input)
  })
}

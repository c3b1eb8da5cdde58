/**
 * `--from - < file`: stdin that is a regular file is read in 1 MiB chunks from the file's current
 * offset (not process.stdin's 64 KiB reads). Same results as a pipe; a bad line still writes nothing.
 */
import {spawn} from 'node:child_process'
import {closeSync, openSync, readSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {BIN, ROOT, tempStore} from '../../support/cli.js'
import {counts, hourAgo, sql} from './helpers.js'

const T = hourAgo(30)
const mac = (i: number) => `02:00:00:00:02:${(i % 40).toString(16).padStart(2, '0').toUpperCase()}`
// ~75 bytes a line: 30,000 lines are > 2 MiB, so lines straddle the 1 MiB reads.
const lines = (n: number) =>
  Array.from({length: n}, (_, i) => `{"mac":"${mac(i)}","sent":${1000 + i},"received":${2000 + i},"ts":${T + Math.floor(i / 40) * 60_000}}`)

/** Runs the CLI with `fd` as its stdin (a file, as `< file` gives it). */
function runWithStdinFd(args: string[], db: string, fd: number): Promise<{code: number; stdout: string; stderr: string}> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args, '--db', db], {cwd: ROOT, env: {...process.env, NETMON_NO_PROGRESS: '1'}, stdio: [fd, 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout?.setEncoding('utf8').on('data', d => (stdout += d))
    child.stderr?.setEncoding('utf8').on('data', d => (stderr += d))
    child.on('error', reject)
    child.on('close', code => resolve({code: code ?? -1, stdout, stderr}))
  })
}

describe('bandwidth sample --from - with stdin a regular file', () => {
  const t = tempStore('netmon-bw-stdin-file-')
  afterAll(() => t.cleanup())

  it('reads the whole file across 1 MiB chunks; totals exact', async () => {
    const input = lines(30_000)
    const path = join(t.dir, 'in.ndjson')
    writeFileSync(path, input.join('\n') + '\n')
    const fd = openSync(path, 'r')
    const r = await runWithStdinFd(['bandwidth', 'sample', '--from', '-', '--auto-register', '--json'], t.db, fd)
    closeSync(fd)
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({samples_in: 30_000, samples_recorded: 30_000, devices: 40})
    const [s] = await sql(t.db, 'SELECT count(*) AS n, sum(sent) AS sent, sum(received) AS received FROM bw_samples')
    expect(s).toEqual({n: 30_000, sent: 30_000 * 1000 + (29_999 * 30_000) / 2, received: 30_000 * 2000 + (29_999 * 30_000) / 2})
  })

  it('starts at the file offset it is given, and a bad line near the end writes nothing', async () => {
    const before = await counts(t.db)
    const input = lines(30_000).map(l => l.replace(/"ts":(\d+)/, (_, ts) => `"ts":${Number(ts) + 43_200_000}`))
    input[29_000] = '{"mac":"02:00:00:00:02:01","sent":1,"received":-1}'
    const junk = 'not json at all\n'
    const path = join(t.dir, 'bad.ndjson')
    writeFileSync(path, junk + input.join('\n') + '\n')
    const fd = openSync(path, 'r')
    readSync(fd, Buffer.alloc(junk.length), 0, junk.length, null) // as `(read -r skip; netmon …) < file`
    const r = await runWithStdinFd(['bandwidth', 'sample', '--from', '-', '--auto-register'], t.db, fd)
    closeSync(fd)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^Error: NDJSON line 29001: "received" must be a non-negative integer/)
    expect(await counts(t.db)).toEqual(before)
  })
})

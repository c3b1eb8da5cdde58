/**
 * Output sinks (issue 9): the file sink writes a temp file next to the target and renames it
 * only on success; stdout honours backpressure and a reader that goes away.
 */
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {basename, dirname, join} from 'node:path'
import {Writable} from 'node:stream'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {isNetmonError} from '../../../src/core/errors.js'
import {fileSink, stdoutSink, TEMP_SUFFIX} from '../../../src/core/export/sink.js'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'netmon-sink-'))
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

async function rejection(p: Promise<unknown>): Promise<{exitCode: number; code: string; message: string}> {
  try {
    await p
  } catch (e) {
    if (isNetmonError(e)) return {exitCode: e.exitCode, code: e.code, message: e.message}
    throw e
  }
  throw new Error('expected a rejection')
}

describe('fileSink', () => {
  it('writes to a temp file in the same folder under another name, and renames it on commit', async () => {
    const out = join(dir, 'x.csv')
    const sink = await fileSink(out)
    expect(sink.tempPath).not.toBe(out)
    expect(dirname(sink.tempPath!)).toBe(dir)
    expect(basename(sink.tempPath!)).toMatch(new RegExp(`^\\.x\\.csv\\.${process.pid}-[0-9a-f]+\\${TEMP_SUFFIX}$`))
    await sink.write('a,b\r\n')
    await sink.write('1,é\r\n')
    expect(existsSync(out)).toBe(false)
    expect(readFileSync(sink.tempPath!, 'utf8')).toBe('a,b\r\n1,é\r\n')
    await sink.commit()
    expect(readFileSync(out, 'utf8')).toBe('a,b\r\n1,é\r\n')
    expect(sink.bytes).toBe(Buffer.byteLength('a,b\r\n1,é\r\n'))
    expect(readdirSync(dir)).toEqual(['x.csv'])
  })

  it('abort removes the temp file and leaves an existing file at the target untouched', async () => {
    const out = join(dir, 'keep.csv')
    writeFileSync(out, 'old contents')
    const sink = await fileSink(out)
    await sink.write('new half')
    await sink.abort()
    await sink.abort() // idempotent
    expect(readFileSync(out, 'utf8')).toBe('old contents')
    expect(readdirSync(dir)).toEqual(['keep.csv'])
  })

  it('removes temp files orphaned by dead processes (SIGKILL), keeps those of live ones', async () => {
    const dead = join(dir, `.x.csv.999999999-abcd1234${TEMP_SUFFIX}`)
    const live = join(dir, `.x.csv.${process.pid}-abcd1234${TEMP_SUFFIX}`)
    const other = join(dir, `.y.csv.999999999-abcd1234${TEMP_SUFFIX}`)
    for (const p of [dead, live, other]) writeFileSync(p, 'partial')
    const sink = await fileSink(join(dir, 'x.csv'))
    await sink.abort()
    expect(existsSync(dead)).toBe(false)
    expect(existsSync(live)).toBe(true)
    expect(existsSync(other)).toBe(true)
  })

  it('a target in a missing folder, under a file, or that is a folder: exit 1, nothing created', async () => {
    writeFileSync(join(dir, 'afile'), 'x')
    mkdirSync(join(dir, 'adir'))
    for (const [target, why] of [
      [join(dir, 'missing', 'x.csv'), /folder does not exist/],
      [join(dir, 'afile', 'x.csv'), /not a folder/],
      [join(dir, 'adir'), /it is a folder/],
    ] as const) {
      const e = await rejection(fileSink(target))
      expect(e.exitCode).toBe(1)
      expect(e.code).toBe('OUTPUT_ERROR')
      expect(e.message).toMatch(why)
    }
    expect(readdirSync(dir).sort()).toEqual(['adir', 'afile'])
    expect(readdirSync(join(dir, 'adir'))).toEqual([])
  })
})

describe('stdoutSink', () => {
  it('waits for the reader (backpressure) and delivers everything in order', async () => {
    const got: string[] = []
    const slow = new Writable({
      highWaterMark: 16,
      write(chunk, _enc, cb) {
        setTimeout(() => {
          got.push(String(chunk))
          cb()
        }, 1)
      },
    })
    const sink = stdoutSink(slow as unknown as NodeJS.WriteStream)
    // Each chunk is over the high-water mark: a sink that did not wait would queue them all.
    let maxQueued = 0
    for (let i = 0; i < 20; i++) {
      await sink.write(`chunk ${i} ${'x'.repeat(40)}\n`)
      maxQueued = Math.max(maxQueued, slow.writableLength)
    }
    await sink.commit()
    await new Promise(r => slow.end(r))
    expect(got.join('')).toBe(Array.from({length: 20}, (_, i) => `chunk ${i} ${'x'.repeat(40)}\n`).join(''))
    expect(maxQueued).toBe(0)
  })

  it('a reader that goes away (EPIPE) ends the export quietly', async () => {
    const broken = new Writable({
      write(_c, _e, cb) {
        const err = Object.assign(new Error('write EPIPE'), {code: 'EPIPE'})
        cb(err)
      },
    })
    const sink = stdoutSink(broken as unknown as NodeJS.WriteStream)
    await sink.write('first\n')
    await new Promise(r => setImmediate(r))
    expect(sink.readerGone).toBe(true)
    await sink.write('ignored\n')
    await sink.commit()
  })
})

/**
 * Where an export goes: stdout, or a file written atomically (issue 9: "a failed export never
 * leaves a half file under the final name").
 *
 * The file sink writes to a temp file in the SAME directory (so the final rename is atomic on
 * one filesystem), named `.<name>.<pid>-<random>.netmon-tmp` — never the final name, so even a
 * SIGKILL, which no handler can catch, leaves nothing at `--out`. On success: fsync, close,
 * rename over the final name, fsync the directory. On failure, SIGINT, SIGTERM or SIGHUP the
 * temp file is removed, and the signal is re-raised so the shell sees the usual exit status.
 * A temp file orphaned by a SIGKILL is removed by the next export to the same name once its
 * process is gone.
 */
import {randomBytes} from 'node:crypto'
import {closeSync, fsyncSync, openSync, readdirSync, statSync, unlinkSync} from 'node:fs'
import {open, rename, unlink, type FileHandle} from 'node:fs/promises'
import {basename, dirname, join, resolve} from 'node:path'
import {NetmonError} from '../errors.js'

export interface Sink {
  /**
   * Writes a chunk, waiting while the reader is slower (backpressure). A byte chunk may be
   * reused by the caller once the promise resolves.
   */
  write(chunk: string | Uint8Array): Promise<void>
  /** Completes the output (file: rename to the final name). */
  commit(): Promise<void>
  /** Abandons the output (file: removes the temp file). Safe to call more than once. */
  abort(): Promise<void>
  readonly bytes: number
  /** stdout's reader went away (`| head`): stop quietly. */
  readonly readerGone: boolean
  /** Final path, or null for stdout. */
  readonly path: string | null
  /** The temp file being written (file sink), for diagnostics and tests. */
  readonly tempPath: string | null
}

export const TEMP_SUFFIX = '.netmon-tmp'

/** Output error: exit 1 (the request was valid; the file system said no). */
export function outputError(message: string, hint?: string, cause?: unknown): NetmonError {
  return new NetmonError('internal', message, {hint, code: 'OUTPUT_ERROR', cause})
}

export function stdoutSink(stream: NodeJS.WriteStream = process.stdout): Sink {
  let bytes = 0
  let gone = false
  let failure: Error | null = null
  const onError = (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') gone = true
    else failure = e
  }
  stream.on('error', onError)
  return {
    get bytes() {
      return bytes
    },
    get readerGone() {
      return gone
    },
    path: null,
    tempPath: null,
    async write(chunk) {
      if (gone) return
      if (failure) throw outputError(`cannot write to stdout: ${failure.message}`)
      // The stream may hold on to a buffer after write() returns: give it its own copy.
      const data = typeof chunk === 'string' ? chunk : Buffer.from(chunk)
      bytes += Buffer.byteLength(data)
      if (!stream.write(data)) {
        // Wait for drain, but not forever: a closed pipe emits error/close instead.
        await new Promise<void>(res => {
          const done = () => {
            stream.off('drain', done)
            stream.off('close', done)
            stream.off('error', done)
            res()
          }
          stream.on('drain', done)
          stream.on('close', done)
          stream.on('error', done)
        })
      }
      if (failure) throw outputError(`cannot write to stdout: ${(failure as Error).message}`)
    },
    async commit() {
      stream.off('error', onError)
      // Keep swallowing a late EPIPE: the reader may leave after the last write.
      stream.on('error', () => {})
    },
    async abort() {
      stream.off('error', onError)
      stream.on('error', () => {})
    },
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Removes temp files of earlier exports to the same name whose process no longer exists. */
function removeOrphans(dir: string, base: string): void {
  const prefix = `.${base}.`
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return
  }
  for (const n of names) {
    if (!n.startsWith(prefix) || !n.endsWith(TEMP_SUFFIX)) continue
    const m = /^(\d+)-[0-9a-f]+$/.exec(n.slice(prefix.length, -TEMP_SUFFIX.length))
    if (!m || alive(Number(m[1]))) continue
    try {
      unlinkSync(join(dir, n))
    } catch {
      /* someone else removed it */
    }
  }
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

function describeFsError(e: unknown, path: string): NetmonError {
  const code = (e as NodeJS.ErrnoException)?.code ?? ''
  const why: Record<string, string> = {
    ENOENT: 'its folder does not exist',
    ENOTDIR: 'a part of the path is not a folder',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EROFS: 'the file system is read-only',
    ENOSPC: 'no space left on the device',
    EDQUOT: 'disk quota exceeded',
    EISDIR: 'it is a folder',
    EIO: 'I/O error',
  }
  return outputError(
    `cannot write the export to ${path}: ${why[code] ?? (e as Error)?.message ?? String(e)}`,
    'choose a writable --out path, or --out - for stdout',
    e,
  )
}

export async function fileSink(path: string): Promise<Sink> {
  const finalPath = resolve(path)
  const dir = dirname(finalPath)
  const base = basename(finalPath)
  try {
    if (statSync(finalPath).isDirectory()) throw Object.assign(new Error('is a directory'), {code: 'EISDIR'})
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw describeFsError(e, path)
  }
  removeOrphans(dir, base)
  const tempPath = join(dir, `.${base}.${process.pid}-${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`)
  let fh: FileHandle
  try {
    fh = await open(tempPath, 'wx', 0o666)
  } catch (e) {
    throw describeFsError(e, path)
  }
  let bytes = 0
  let buffer = Buffer.allocUnsafe(256 * 1024)
  let state: 'open' | 'committed' | 'aborted' = 'open'

  // Synchronous cleanup: runs from signal handlers and on process exit, when nothing async will.
  const cleanupSync = () => {
    if (state !== 'open') return
    state = 'aborted'
    try {
      closeSync(fh.fd)
    } catch {
      /* already closed */
    }
    try {
      unlinkSync(tempPath)
    } catch {
      /* already gone */
    }
  }
  const onSignal = (sig: NodeJS.Signals) => {
    cleanupSync()
    detach()
    // Re-raise with our handlers gone: the process ends as the signal says (exit 130/143).
    process.kill(process.pid, sig)
  }
  const onExit = () => cleanupSync()
  const detach = () => {
    for (const s of SIGNALS) process.off(s, onSignal)
    process.off('exit', onExit)
  }
  for (const s of SIGNALS) process.on(s, onSignal)
  process.on('exit', onExit)

  const abort = async (): Promise<void> => {
    if (state !== 'open') return
    state = 'aborted'
    detach()
    try {
      await fh.close()
    } catch {
      /* already closed */
    }
    try {
      await unlink(tempPath)
    } catch {
      /* already gone */
    }
  }

  return {
    get bytes() {
      return bytes
    },
    readerGone: false,
    path: finalPath,
    tempPath,
    async write(chunk) {
      if (state !== 'open') throw outputError(`the export to ${path} was aborted`)
      let data: Uint8Array
      let len: number
      if (typeof chunk === 'string') {
        // One reused buffer: a fresh Buffer per page is ~100 KB of malloc'd memory each time.
        const need = Buffer.byteLength(chunk, 'utf8')
        if (need > buffer.length) buffer = Buffer.allocUnsafe(Math.max(need, buffer.length * 2))
        len = buffer.write(chunk, 0, 'utf8')
        data = buffer
      } else {
        data = chunk
        len = chunk.length
      }
      let off = 0
      try {
        while (off < len) {
          const {bytesWritten} = await fh.write(data, off, len - off)
          off += bytesWritten
        }
      } catch (e) {
        throw describeFsError(e, path)
      }
      bytes += len
    },
    async commit() {
      if (state !== 'open') throw outputError(`the export to ${path} was aborted`)
      try {
        await fh.sync()
        await fh.close()
        await rename(tempPath, finalPath)
      } catch (e) {
        await abort()
        throw describeFsError(e, path)
      }
      state = 'committed'
      detach()
      // Make the rename itself durable; not fatal where directories cannot be fsynced.
      try {
        const d = openSync(dir, 'r')
        try {
          fsyncSync(d)
        } finally {
          closeSync(d)
        }
      } catch {
        /* best effort */
      }
    },
    abort,
  }
}

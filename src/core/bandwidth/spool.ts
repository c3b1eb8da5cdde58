/**
 * A compact, append-only store of fixed-width numeric records (Float64), kept in memory up to a
 * limit and spilled to a temp file beyond it. `bandwidth sample --from -` validates the whole
 * NDJSON stream into a spool before it takes the store's write lock (one bad line → nothing
 * written, issue 4), so memory stays flat however long the stream is, and the write
 * transaction can re-read the records if the store retries it.
 */
import {closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

export const SPOOL_CHUNK_RECORDS = 16_384
const CHUNK_RECORDS = SPOOL_CHUNK_RECORDS

export class Spool {
  readonly width: number
  private readonly memoryLimit: number
  private current: Float64Array
  private filled = 0
  private readonly memory: Float64Array[] = []
  private memoryBytes = 0
  private file: {dir: string; path: string; fd: number; chunks: number} | null = null
  private total = 0

  constructor(width: number, opts: {memoryLimitBytes?: number} = {}) {
    this.width = width
    this.memoryLimit = opts.memoryLimitBytes ?? 16 * 1024 * 1024
    this.current = new Float64Array(CHUNK_RECORDS * width)
  }

  get count(): number {
    return this.total
  }

  get spilled(): boolean {
    return this.file !== null
  }

  /** Appends one record (values.length must equal width). */
  push(a: number, b: number, c: number, d: number, e = 0, f = 0): void {
    const w = this.width
    let o = this.filled * w
    const cur = this.current
    cur[o++] = a
    cur[o++] = b
    cur[o++] = c
    cur[o++] = d
    if (w > 4) {
      cur[o++] = e
      cur[o++] = f
    }
    this.total++
    if (++this.filled === CHUNK_RECORDS) this.seal()
  }

  private seal(): void {
    if (this.filled === 0) return
    const full = this.filled === CHUNK_RECORDS ? this.current : this.current.slice(0, this.filled * this.width)
    this.current = new Float64Array(CHUNK_RECORDS * this.width)
    this.filled = 0
    if (this.file === null && this.memoryBytes + full.byteLength <= this.memoryLimit) {
      this.memory.push(full)
      this.memoryBytes += full.byteLength
      return
    }
    if (this.file === null) {
      const dir = mkdtempSync(join(tmpdir(), 'netmon-spool-'))
      const path = join(dir, 'records.f64')
      this.file = {dir, path, fd: openSync(path, 'w+'), chunks: 0}
    }
    const buf = Buffer.from(full.buffer, full.byteOffset, full.byteLength)
    writeSync(this.file.fd, buf)
    this.file.chunks++
  }

  /** Finishes writing; after this, `chunks()` may be iterated any number of times. */
  finish(): void {
    this.seal()
  }

  /** Yields the records in order, chunk by chunk (each chunk's length is a multiple of width). */
  *chunks(): Generator<Float64Array> {
    for (const m of this.memory) yield m
    if (this.file) {
      const bytes = CHUNK_RECORDS * this.width * 8
      const buf = Buffer.allocUnsafe(bytes)
      let pos = 0
      for (;;) {
        const n = readSync(this.file.fd, buf, 0, bytes, pos)
        if (n <= 0) break
        pos += n
        const copy = new Float64Array(n / 8)
        copy.set(new Float64Array(buf.buffer, buf.byteOffset, n / 8))
        yield copy
      }
    }
  }

  close(): void {
    if (this.file) {
      try {
        closeSync(this.file.fd)
      } catch {
        /* already closed */
      }
      rmSync(this.file.dir, {recursive: true, force: true})
      this.file = null
    }
    this.memory.length = 0
  }
}

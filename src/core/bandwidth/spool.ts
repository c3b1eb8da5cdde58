/**
 * A compact, append-only store of fixed-width numeric records (Float64), kept in memory up to a
 * limit and spilled to a temp file beyond it. `bandwidth sample --from -` validates the whole
 * NDJSON stream into a spool before it takes the store's write lock (one bad line → nothing
 * written, issue 4), so memory stays flat however long the stream is, and the write
 * transaction can re-read the records if the store retries it.
 *
 * Where the file lives (docs/BANDWIDTH.md): `$TMPDIR/netmon-spool-<pid>-<start>-XXXXXX/records.f64`.
 * It is removed when the batch is done, when the command fails or is interrupted, and at exit.
 * A process killed outright (kill -9, OOM, power) cannot remove it, so every NDJSON run first
 * removes the spools of processes that are gone (issue 13: they piled up, 9–15 MB each). The
 * owner's pid and start time are in the name, so a live process's spool is never taken, even
 * when its pid has been reused.
 */
import {closeSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

const PREFIX = 'netmon-spool-'
const OWNED = /^netmon-spool-(\d+)-(\d+)-[^-]+$/
/** Spools from before the owner was in the name: removed once nothing can still be using them. */
const LEGACY = /^netmon-spool-[^-]+$/
const LEGACY_AGE_MS = 24 * 3600_000

/** The kernel's start time of a process (clock ticks since boot, /proc/PID/stat field 22); '0' where unknown. */
function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return process.platform === 'linux' ? null : '0'
  }
}

function alive(pid: number, start: string): boolean {
  try {
    process.kill(pid, 0)
  } catch (e) {
    // EPERM: it exists, owned by someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
  const now = startTime(pid)
  // A different start time: the owner died and its pid went to another process.
  return now === null || start === '0' || now === '0' || now === start
}

/**
 * Removes the spool folders in `dir` (default the temp dir) whose owner process has ended.
 * Returns the removed paths. Errors (another user's folder, a race with its owner) are ignored.
 */
export function removeOrphanSpools(dir = tmpdir(), now = Date.now()): string[] {
  let names: string[]
  try {
    names = readdirSync(dir).filter(n => n.startsWith(PREFIX))
  } catch {
    return []
  }
  const removed: string[] = []
  for (const name of names) {
    const path = join(dir, name)
    const owned = OWNED.exec(name)
    let orphan: boolean
    if (owned) orphan = Number(owned[1]) !== process.pid && !alive(Number(owned[1]), owned[2]!)
    else if (LEGACY.test(name)) {
      try {
        orphan = now - statSync(path).mtimeMs > LEGACY_AGE_MS
      } catch {
        orphan = false
      }
    } else orphan = false
    if (!orphan) continue
    try {
      rmSync(path, {recursive: true, force: true})
      removed.push(path)
    } catch {
      /* not ours to remove */
    }
  }
  return removed
}

/** Folders of this process's open spools, removed at exit if still there. */
const open = new Set<string>()
let exitHook = false
function track(dir: string): void {
  open.add(dir)
  if (exitHook) return
  exitHook = true
  process.once('exit', () => {
    for (const d of open) rmSync(d, {recursive: true, force: true})
  })
}

let ownStart: string | undefined

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
      ownStart ??= startTime(process.pid) ?? '0'
      const dir = mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-${ownStart}-`))
      track(dir)
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
      open.delete(this.file.dir)
      this.file = null
    }
    this.memory.length = 0
  }
}

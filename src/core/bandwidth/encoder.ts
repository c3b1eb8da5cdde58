/**
 * The encoder thread of a big local ingest (bulk.ts FixedWidthRows): the main thread runs SQLite
 * (the binding is synchronous) while this thread turns the next flush's rows into its blob, so
 * the two cores overlap instead of taking turns. Falls back to encoding inline where the thread's
 * script is missing (sources run by tsx/vitest: the worker needs the built dist file).
 */
import {existsSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {Worker} from 'node:worker_threads'
import {encodeRows, type EncodeJob, type Encoded, type RowEncoder} from './bulk.js'

const WORKER_URL = new URL('./encode-worker.js', import.meta.url)

type Reply = {id: number; error?: string} & Partial<Encoded & {cols: Float64Array; slot: Int32Array}>

export class EncoderThread implements RowEncoder {
  private readonly worker: Worker
  private next = 0
  private readonly waiting = new Map<number, {resolve: (r: Reply) => void; reject: (e: Error) => void}>()
  private failed: Error | null = null

  private constructor() {
    this.worker = new Worker(WORKER_URL)
    this.worker.unref()
    this.worker.on('message', (m: Reply) => {
      const w = this.waiting.get(m.id)
      this.waiting.delete(m.id)
      if (m.error) w?.reject(new Error(`encoder thread: ${m.error}`))
      else w?.resolve(m)
    })
    const fail = (e: Error) => {
      this.failed = e
      for (const w of this.waiting.values()) w.reject(e)
      this.waiting.clear()
    }
    this.worker.on('error', fail)
    this.worker.on('exit', code => fail(new Error(`encoder thread exited (${code})`)))
  }

  /** A thread when the built worker script exists, else null (encode inline). */
  static start(): EncoderThread | null {
    return existsSync(fileURLToPath(WORKER_URL)) ? new EncoderThread() : null
  }

  encode(job: EncodeJob): Promise<Encoded & {cols: Float64Array; slot: Int32Array}> {
    if (this.failed) return Promise.reject(this.failed)
    const id = this.next++
    return new Promise<Reply>((resolve, reject) => {
      this.waiting.set(id, {resolve, reject})
      this.worker.postMessage({id, job}, [job.cols.buffer as ArrayBuffer, job.slot.buffer as ArrayBuffer])
    }).then(r => ({
      buf: Buffer.from(r.buf!.buffer, r.buf!.byteOffset, r.buf!.byteLength),
      rowWidth: r.rowWidth!,
      fields: r.fields!,
      cols: r.cols!,
      slot: r.slot!,
    }))
  }

  async stop(): Promise<void> {
    this.worker.removeAllListeners('exit')
    await this.worker.terminate()
  }
}

/** Inline encoding with the thread's interface (tests; no thread). */
export const inlineEncoder: RowEncoder = {
  encode: async job => ({...encodeRows(job), cols: job.cols, slot: job.slot}),
}

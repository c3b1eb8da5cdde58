/**
 * Encoder thread body (encoder.ts): encodes FixedWidthRows flushes and hands the row buffers back.
 * Loads bulk.ts only.
 */
import {parentPort} from 'node:worker_threads'
import {encodeRows, type EncodeJob} from './bulk.js'

parentPort!.on('message', ({id, job}: {id: number; job: EncodeJob}) => {
  try {
    const e = encodeRows(job)
    const blob = e.buf.buffer as ArrayBuffer
    // A Buffer from allocUnsafe may share the pool's ArrayBuffer: transfer only a blob of its own.
    const own = e.buf.byteOffset === 0 && e.buf.byteLength === blob.byteLength
    parentPort!.postMessage({id, buf: e.buf, rowWidth: e.rowWidth, fields: e.fields, cols: job.cols, slot: job.slot}, [
      job.cols.buffer as ArrayBuffer,
      job.slot.buffer as ArrayBuffer,
      ...(own ? [blob] : []),
    ])
  } catch (e) {
    parentPort!.postMessage({id, error: (e as Error).message})
  }
})

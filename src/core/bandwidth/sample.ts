/**
 * `bandwidth sample`: builds a batch from flags, NDJSON or interface counters, validates all of
 * it, writes it in one transaction (ingest.ts), then prunes if due (retention.ts).
 */
import {NetmonError, invalidInput} from '../errors.js'
import {normalizeIp} from '../devices/ip.js'
import {normalizeMac} from '../devices/mac.js'
import type {Store, Tx} from '../store/index.js'
import {parseCounter, type CounterBits, type CounterContext} from './counters.js'
import {platformCounterBits, readInterfaces, type InterfaceReading} from './iface.js'
import {applyBatch, ingestBatch, type IngestResult} from './ingest.js'
import {BatchBuilder, checkHostname, checkTs, readNdjson, type SampleBatch, type SampleMode} from './input.js'
import {autoPrune} from './retention.js'
import {removeOrphanSpools} from './spool.js'

export type SampleSource =
  | {kind: 'flags'; mac: string; sent: string; received: string; at?: number; ip?: string; hostname?: string}
  | {kind: 'ndjson'; input: AsyncIterable<string | Buffer>}
  | {kind: 'iface'; name?: string}

export interface SampleSpec {
  source: SampleSource
  mode: SampleMode
  autoRegister: boolean
  maxRateBps: number
  /** Counter width; default auto (interfaces: 64 on 64-bit platforms). */
  bits?: CounterBits
  /** Repeat every N ms (interfaces), `count` times (default: until stopped). */
  everyMs?: number
  count?: number
  /**
   * Aborted on SIGINT/SIGTERM (the reason is the signal's name). Interface readings stop after
   * the current one; an NDJSON import stops reading, rolls back the unfinished batch and throws
   * `interrupted` (exit 130/143).
   */
  signal?: AbortSignal
}

export interface InterfaceSample {
  name: string
  mac: string
  synthetic_mac: boolean
  ip: string | null
  counter_sent: string
  counter_received: string
  read_at: string
  read_at_ms: number
}

export type SampleResult = IngestResult & {interfaces?: InterfaceSample[]; auto_pruned?: boolean}

function flagBatch(src: Extract<SampleSource, {kind: 'flags'}>, mode: SampleMode, bits: CounterBits): SampleBatch {
  const mac = normalizeMac(src.mac)
  const now = Date.now()
  const ts = src.at ?? now
  const bad = checkTs(ts, now, '--at')
  if (bad) throw invalidInput(bad, 'use an ISO-8601 time, epoch milliseconds or a duration back from now (e.g. 5m)')
  const b = new BatchBuilder(mode)
  const k = b.index(mac, 0)
  const hint: {ip?: string; hostname?: string} = {}
  if (src.ip !== undefined) hint.ip = normalizeIp(src.ip)
  if (src.hostname !== undefined) {
    const h = checkHostname(src.hostname)
    if (typeof h !== 'string') throw invalidInput(`--hostname: ${h.error}`)
    hint.hostname = h
  }
  b.hint(k, hint)
  if (mode === 'delta') {
    const num = (v: string, flag: string): number => {
      const t = v.trim()
      if (!/^\d+$/.test(t) || !Number.isSafeInteger(Number(t))) {
        throw invalidInput(`${flag} must be a non-negative integer number of bytes, got "${v}"`, 'e.g. --sent 10485760')
      }
      return Number(t)
    }
    b.addDelta(k, ts, num(src.sent, '--sent'), num(src.received, '--received'))
  } else {
    const s = parseCounter(src.sent, bits)
    if (typeof s === 'string') throw invalidInput(`--sent counter ${s}`, 'give the cumulative byte counter, e.g. --sent 123456789')
    const r = parseCounter(src.received, bits)
    if (typeof r === 'string') throw invalidInput(`--received counter ${r}`, 'give the cumulative byte counter, e.g. --received 123456789')
    b.addCounter(k, ts, s, r)
  }
  return b.finish()
}

function ifaceBatch(readings: InterfaceReading[]): SampleBatch {
  const b = new BatchBuilder('counter')
  const sources: string[] = []
  const context: CounterContext[] = []
  for (const r of readings) {
    const k = b.index(r.mac, 0)
    // Interface name as hostname when the device is created; the address is refreshed each time.
    b.hint(k, {...(r.ip ? {ip: r.ip} : {}), label: r.name})
    sources[k] = `iface:${r.name}`
    context[k] = {
      ...(r.link_speed_bps === null ? {} : {linkSpeedBps: r.link_speed_bps}),
      ...(r.boot_time_ms === null ? {} : {bootTimeMs: r.boot_time_ms}),
    }
    b.addCounter(k, r.ts, r.tx_bytes, r.rx_bytes)
  }
  const batch = b.finish()
  batch.sources = sources
  batch.counterContext = context
  return batch
}

let swept = false

const SIGNAL_EXIT: Record<string, number> = {SIGINT: 130, SIGTERM: 143, SIGHUP: 129}

/** The error for an import stopped by a signal: one line, exit 128 + the signal's number. */
export function interrupted(reason: unknown): NetmonError {
  const sig = typeof reason === 'string' && reason in SIGNAL_EXIT ? reason : 'SIGINT'
  return new NetmonError('internal', `interrupted by ${sig}: nothing was recorded (the unfinished batch was rolled back)`, {
    code: 'INTERRUPTED',
    exitCode: SIGNAL_EXIT[sig],
  })
}

/**
 * The transaction as seen by applyBatch, failing (so rolling back) once `signal` is aborted.
 * A local store runs the whole transaction without returning to the event loop (the SQLite
 * binding is synchronous), so a signal handler could only run after COMMIT: each statement
 * first yields to the loop once. The statements are few and large (json_each), so this is cheap.
 */
function stoppable(tx: Tx, signal: AbortSignal): Tx {
  const check = async () => {
    await new Promise(setImmediate)
    if (signal.aborted) throw interrupted(signal.reason)
  }
  return {
    query: async (sql, args) => (await check(), tx.query(sql, args)),
    get: async (sql, args) => (await check(), tx.get(sql, args)),
    execute: async (sql, args) => (await check(), tx.execute(sql, args)),
    batch: async stmts => (await check(), tx.batch(stmts)),
  }
}

/**
 * Yields `input` until `signal` aborts, then fails with `interrupted`, even while waiting for
 * the next chunk of an open pipe; a stream (stdin) is destroyed so it no longer holds the process.
 */
async function* untilAborted<T>(input: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  let onAbort = () => {}
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      ;(input as {destroy?: () => void}).destroy?.()
      reject(interrupted(signal.reason))
    }
  })
  aborted.catch(() => {})
  if (signal.aborted) onAbort()
  else signal.addEventListener('abort', onAbort, {once: true})
  const it = input[Symbol.asyncIterator]()
  try {
    for (;;) {
      const r = await Promise.race([it.next(), aborted])
      if (r.done) return
      yield r.value
      if (signal.aborted) await aborted
    }
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/** Writes one batch atomically, then prunes if an hour has passed since the last prune. */
export async function writeBatch(
  store: Store,
  batch: SampleBatch,
  opts: {autoRegister: boolean; counter?: {maxRateBps: number; bits: CounterBits}; signal?: AbortSignal},
): Promise<SampleResult> {
  const {signal, ...apply} = opts
  try {
    // A stream that a signal may stop goes through one transaction whose statements fail once the
    // signal is seen; everything else takes ingestBatch's fast paths (one request on a remote).
    const result: SampleResult = signal
      ? await store.writeTx(async tx => {
          const r = await applyBatch(stoppable(tx, signal), batch, {...apply, local: store.isLocal})
          // Last chance before COMMIT: a signal now still means nothing is recorded.
          if (signal.aborted) throw interrupted(signal.reason)
          return r
        })
      : await ingestBatch(store, batch, apply)
    // Retention must never fail a sample that was already committed.
    try {
      result.auto_pruned = (await autoPrune(store)) !== null
    } catch {
      result.auto_pruned = false
    }
    return result
  } finally {
    batch.spool.close()
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>(resolve => {
    if (signal?.aborted) return resolve()
    const t = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => {
      clearTimeout(t)
      resolve()
    })
  })

/**
 * Runs `bandwidth sample`. Interfaces may repeat (`everyMs`/`count`): each reading is its own
 * transaction, reported through `onResult`; the last result is returned.
 */
export async function runSample(storeOrOpen: Store | (() => Promise<Store>), spec: SampleSpec, onResult?: (r: SampleResult) => void): Promise<SampleResult> {
  const bits: CounterBits = spec.bits ?? (spec.source.kind === 'iface' ? platformCounterBits() : 'auto')
  const counter = {maxRateBps: spec.maxRateBps, bits}
  const src = spec.source
  // Given an opener, the store is opened only once the input is known to be valid: bad input
  // writes nothing, not even a new empty store.
  let opened: Store | undefined = typeof storeOrOpen === 'function' ? undefined : storeOrOpen
  const storeNow = async (): Promise<Store> => (opened ??= await (storeOrOpen as () => Promise<Store>)())
  if (src.kind === 'flags') {
    const batch = flagBatch(src, spec.mode, bits)
    const r = await writeBatch(await storeNow(), batch, {autoRegister: spec.autoRegister, counter})
    onResult?.(r)
    return r
  }
  if (src.kind === 'ndjson') {
    // Spools of imports that were killed outright (kill -9) are still in the temp dir. Once per
    // process: `serve` runs this for every POST.
    if (!swept) {
      swept = true
      removeOrphanSpools()
    }
    const signal = spec.signal
    const batch = await readNdjson(signal ? untilAborted(src.input, signal) : src.input, {mode: spec.mode, bits})
    if (signal?.aborted) {
      batch.spool.close()
      throw interrupted(signal.reason)
    }
    const r = await writeBatch(await storeNow(), batch, {autoRegister: spec.autoRegister, counter, signal})
    onResult?.(r)
    return r
  }
  const total = spec.everyMs === undefined ? 1 : (spec.count ?? Infinity)
  const start = Date.now()
  let last: SampleResult | undefined
  for (let i = 0; i < total && !spec.signal?.aborted; i++) {
    if (i > 0) await sleep(Math.max(0, start + i * spec.everyMs! - Date.now()), spec.signal)
    if (spec.signal?.aborted) break
    const readings = await readInterfaces(src.name)
    const r = await writeBatch(await storeNow(), ifaceBatch(readings), {autoRegister: true, counter})
    r.interfaces = readings.map(x => ({
      name: x.name,
      mac: x.mac,
      synthetic_mac: x.synthetic_mac,
      ip: x.ip,
      counter_sent: x.tx_bytes.toString(),
      counter_received: x.rx_bytes.toString(),
      read_at: new Date(x.ts).toISOString(),
      read_at_ms: x.ts,
    }))
    onResult?.(r)
    last = r
  }
  if (!last) throw invalidInput('no sample was taken (stopped before the first reading)')
  return last
}

/**
 * `bandwidth sample`: builds a batch from flags, NDJSON or interface counters, validates all of
 * it, writes it in one transaction (ingest.ts), then prunes if due (retention.ts).
 */
import {invalidInput} from '../errors.js'
import {normalizeIp} from '../devices/ip.js'
import {normalizeMac} from '../devices/mac.js'
import type {Store} from '../store/index.js'
import {parseCounter, type CounterBits} from './counters.js'
import {platformCounterBits, readInterfaces, type InterfaceReading} from './iface.js'
import {ingestBatch, type IngestResult} from './ingest.js'
import {BatchBuilder, checkHostname, checkTs, readNdjson, type SampleBatch, type SampleMode} from './input.js'
import {autoPrune} from './retention.js'

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
  for (const r of readings) {
    const k = b.index(r.mac, 0)
    // Interface name as hostname when the device is created; the address is refreshed each time.
    b.hint(k, {...(r.ip ? {ip: r.ip} : {}), label: r.name})
    sources[k] = `iface:${r.name}`
    b.addCounter(k, r.ts, r.tx_bytes, r.rx_bytes)
  }
  const batch = b.finish()
  batch.sources = sources
  return batch
}

/** Writes one batch atomically, then prunes if an hour has passed since the last prune. */
export async function writeBatch(
  store: Store,
  batch: SampleBatch,
  opts: {autoRegister: boolean; counter?: {maxRateBps: number; bits: CounterBits}},
): Promise<SampleResult> {
  try {
    const result: SampleResult = await ingestBatch(store, batch, opts)
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
    const batch = await readNdjson(src.input, {mode: spec.mode, bits})
    const r = await writeBatch(await storeNow(), batch, {autoRegister: spec.autoRegister, counter})
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

/**
 * The collector runner (issue 14): the one loop that drives counter sources. It owns the
 * interval (a fixed grid from the start, plus optional jitter), the per-read deadline (abort),
 * overrun counting (a tick still running when the next is due: the missed slots are skipped and
 * counted, never queued) and per-source status. Each source's readings are written as one
 * counter-mode batch (atomic) through bandwidth accounting; one failing source never stops the
 * others.
 *
 *   const r = new CollectorRunner({sources: [ifaceSource()], store})
 *   await r.tick()                                     // one reading of every source
 *   await r.run({intervalMs: 10_000, signal})          // until aborted
 *
 * `bandwidth sample --from iface|nft` and the agent's collector job both run through here.
 */
import {createHash} from 'node:crypto'
import {normalizeIp} from '../devices/ip.js'
import {redact} from '../secrets.js'
import type {Logger} from '../log.js'
import type {CounterContext} from '../bandwidth/counters.js'
import {BatchBuilder, type SampleBatch} from '../bandwidth/input.js'
import {recordInterfaceIssues, type IssueReading} from '../bandwidth/ifaceissues.js'
import {writeBatch, type SampleResult} from '../bandwidth/write.js'
import type {Store} from '../store/index.js'
import type {CounterReadingIn, CounterSource, ReadingKey, SourceStatus} from './source.js'

export interface CollectorOptions {
  sources: CounterSource[]
  /** The store, or an opener called at the first write (bad input writes nothing, not even a file). */
  store: Store | (() => Promise<Store>)
  maxRateBps: number
  /** Deadline of one source's read (default: 80 % of the interval, at most 30 s; 30 s for tick()). */
  readTimeoutMs?: number
  log?: Logger
  now?: () => number
  /** Called after a source's readings are written (bytes, then errors/drops: result.interface_issues), e.g. the agent's job status. */
  onWritten?: (source: CounterSource, readings: CounterReadingIn[], result: SampleResult) => Promise<void> | void
}

export interface SourceTick {
  source: string
  readings: CounterReadingIn[]
  result: SampleResult | null
  /** The failure, redacted, as one line; `failure` is the error itself. */
  error: string | null
  failure?: unknown
}

export interface TickResult {
  startedAt: number
  durationMs: number
  sources: SourceTick[]
}

export interface RunOptions {
  intervalMs: number
  /** Each tick starts up to this much after its slot (spreads many agents sharing a store). */
  jitterMs?: number
  /** Stop after this many ticks (default: until aborted). */
  count?: number
  signal?: AbortSignal
  onTick?: (t: TickResult) => void
}

/** A stable, locally administered MAC for a device known only by an address or a source key. */
export function keyedMac(kind: string, id: string): string {
  const h = createHash('sha256').update(`netmon-key:${kind}:${id}`).digest()
  h[0] = (h[0]! & 0xfc) | 0x02
  return [...h.subarray(0, 6)].map(b => b.toString(16).padStart(2, '0').toUpperCase()).join(':')
}

function macOf(key: ReadingKey): {mac: string; ip?: string} {
  if ('mac' in key) return {mac: key.mac}
  if ('ip' in key) {
    const ip = normalizeIp(key.ip)
    return {mac: keyedMac('ip', ip), ip}
  }
  return {mac: keyedMac(key.source, key.key)}
}

/** The readings that carry errors/drops (interfaces, later SNMP), keyed as their bytes were written. */
export function issueReadings(readings: CounterReadingIn[]): IssueReading[] {
  const out: IssueReading[] = []
  for (const r of readings) {
    const c = r.counters
    if (c.errorsSent === undefined && c.errorsReceived === undefined && c.dropsSent === undefined && c.dropsReceived === undefined) continue
    out.push({
      mac: macOf(r.key).mac,
      ts: r.ts,
      source: r.counterId,
      txErrors: c.errorsSent ?? 0n,
      rxErrors: c.errorsReceived ?? 0n,
      txDrops: c.dropsSent ?? 0n,
      rxDrops: c.dropsReceived ?? 0n,
      bootTimeMs: r.bootTimeMs ?? null,
    })
  }
  return out
}

/** A source's readings as one counter-mode batch (the interface batch of `bandwidth sample`, generalised). */
export function readingsBatch(readings: CounterReadingIn[]): SampleBatch {
  const b = new BatchBuilder('counter')
  const sources: string[] = []
  const context: CounterContext[] = []
  for (const r of readings) {
    const {mac, ip} = macOf(r.key)
    const k = b.index(mac, 0)
    const addr = r.ip ?? ip
    b.hint(k, {...(addr ? {ip: addr} : {}), ...(r.label ? {label: r.label} : {})})
    sources[k] = r.counterId
    context[k] = {
      ...(r.linkSpeedBps == null ? {} : {linkSpeedBps: r.linkSpeedBps}),
      ...(r.bootTimeMs == null ? {} : {bootTimeMs: r.bootTimeMs}),
      ...(r.bits === undefined ? {} : {bits: r.bits}),
    }
    b.addCounter(k, r.ts, r.counters.bytesSent, r.counters.bytesReceived)
  }
  const batch = b.finish()
  batch.sources = sources
  batch.counterContext = context
  return batch
}

const freshStatus = (s: CounterSource): SourceStatus => ({
  name: s.name,
  kind: s.kind,
  state: 'pending',
  reads: 0,
  failures: 0,
  consecutiveFailures: 0,
  lastReadAt: null,
  lastOkAt: null,
  lastDurationMs: null,
  lastReadings: 0,
  lastError: null,
})

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>(resolve => {
    if (signal?.aborted || ms <= 0) return resolve()
    const done = () => {
      clearTimeout(t)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const t = setTimeout(done, ms)
    signal?.addEventListener('abort', done, {once: true})
  })

export class CollectorRunner {
  private readonly statuses = new Map<string, SourceStatus>()
  private readonly now: () => number
  private opened: Store | undefined
  /** Ticks skipped because the previous one was still running when they were due. */
  overruns = 0
  ticks = 0

  constructor(private readonly opts: CollectorOptions) {
    this.now = opts.now ?? Date.now
    const names = new Set<string>()
    for (const s of opts.sources) {
      if (names.has(s.name)) throw new Error(`two counter sources are named "${s.name}"`)
      names.add(s.name)
      this.statuses.set(s.name, freshStatus(s))
    }
    if (typeof opts.store !== 'function') this.opened = opts.store
  }

  get sources(): readonly CounterSource[] {
    return this.opts.sources
  }

  status(): SourceStatus[] {
    return this.opts.sources.map(s => ({...this.statuses.get(s.name)!}))
  }

  private async store(): Promise<Store> {
    this.opened ??= await (this.opts.store as () => Promise<Store>)()
    return this.opened
  }

  private async one(source: CounterSource, timeoutMs: number, outer?: AbortSignal): Promise<SourceTick> {
    const st = this.statuses.get(source.name)!
    const started = this.now()
    const signal = outer ? AbortSignal.any([outer, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs)
    st.reads++
    st.lastReadAt = started
    try {
      const readings = await abortable(source.read(signal), signal, () => `${source.name}: no answer within ${timeoutMs} ms`)
      let result: SampleResult | null = null
      if (readings.length > 0) {
        const store = await this.store()
        const counter = {maxRateBps: this.opts.maxRateBps, bits: source.bits ?? 'auto'} as const
        result = await writeBatch(store, readingsBatch(readings), {autoRegister: true, counter})
        // Errors/drops after the bytes (which created any new device), in their own small transaction.
        // Like retention, they never fail bytes that are already committed: a failure is logged.
        const issues = issueReadings(readings)
        if (issues.length) {
          try {
            result.interface_issues = await recordInterfaceIssues(store, issues, counter)
          } catch (e) {
            this.opts.log?.warn(`collector: ${source.name}: interface errors/drops not recorded`, {error: redact(e instanceof Error ? e.message : String(e))})
          }
        }
        if (source.afterWrite) {
          try {
            await source.afterWrite(store)
          } catch (e) {
            this.opts.log?.warn(`collector: ${source.name}: what it read beside the counters was not recorded`, {
              error: redact(e instanceof Error ? e.message : String(e)),
            })
          }
        }
        await this.opts.onWritten?.(source, readings, result)
      }
      st.state = 'ok'
      st.consecutiveFailures = 0
      st.lastOkAt = this.now()
      st.lastReadings = readings.length
      st.lastError = null
      return {source: source.name, readings, result, error: null}
    } catch (e) {
      const msg = redact(e instanceof Error ? e.message : String(e))
      st.state = 'error'
      st.failures++
      st.consecutiveFailures++
      st.lastError = msg
      this.opts.log?.warn(`collector: ${source.name} failed`, {error: msg})
      return {source: source.name, readings: [], result: null, error: msg, failure: e}
    } finally {
      st.lastDurationMs = this.now() - started
    }
  }

  /** One reading of every source, concurrently; resolves when all are written or failed. */
  async tick(signal?: AbortSignal, timeoutMs = this.opts.readTimeoutMs ?? 30_000): Promise<TickResult> {
    const startedAt = this.now()
    const sources = await Promise.all(this.opts.sources.map(s => this.one(s, timeoutMs, signal)))
    this.ticks++
    return {startedAt, durationMs: this.now() - startedAt, sources}
  }

  /**
   * Ticks on a fixed grid (start + i × interval + jitter) until aborted or `count` ticks ran.
   * A tick that overruns its slot makes the runner skip to the next free slot (counted).
   */
  async run(o: RunOptions): Promise<void> {
    const timeoutMs = this.opts.readTimeoutMs ?? Math.min(30_000, Math.max(1, Math.floor(o.intervalMs * 0.8)))
    const start = this.now()
    let slot = 0
    for (let n = 0; n < (o.count ?? Infinity) && !o.signal?.aborted; n++) {
      const jitter = o.jitterMs ? Math.floor(Math.random() * o.jitterMs) : 0
      await sleep(start + slot * o.intervalMs + jitter - this.now(), o.signal)
      if (o.signal?.aborted) break
      const t = await this.tick(o.signal, timeoutMs)
      o.onTick?.(t)
      const next = Math.floor((this.now() - start) / o.intervalMs) + 1
      if (next > slot + 1) this.overruns += next - slot - 1
      slot = Math.max(slot + 1, next)
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.opts.sources.map(s => s.close?.()))
  }
}

/** Rejects when `signal` aborts even if the source ignores it. */
function abortable<T>(p: Promise<T>, signal: AbortSignal, why: () => string): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error(why()))
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error(why()))
    signal.addEventListener('abort', onAbort, {once: true})
    p.then(
      v => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      e => {
        signal.removeEventListener('abort', onAbort)
        reject(e)
      },
    )
  })
}

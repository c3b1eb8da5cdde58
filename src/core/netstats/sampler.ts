import {readFile} from 'node:fs/promises'
import {fromSystemInformation} from '../collect/procnetdev.js'
import {counterDelta, ifCountersOf, procNetDevCounters, type IfCounters} from './counters.js'
import {RateRing, type RateSample} from './ring.js'

/** Where interface counters come from; injected so tests can feed fakes. */
export type CounterSource = () => Promise<Map<string, IfCounters>>

export interface NetSamplerOptions {
  /** Interfaces to sum. Default: every interface except loopback ("lo", "lo0"). */
  interfaces?: string[]
  intervalMs?: number
  capacity?: number
  source?: CounterSource
  now?: () => number
  onError?: (e: unknown) => void
}

const isLoopback = (name: string): boolean => name === 'lo' || /^lo\d*$/.test(name)

/** Linux: /proc/net/dev; elsewhere systeminformation (lazily imported). */
export function defaultCounterSource(): CounterSource {
  if (process.platform === 'linux') return async () => procNetDevCounters(await readFile('/proc/net/dev', 'utf8'))
  return async () => {
    const si = (await import('systeminformation')).default
    // systeminformation reports bytes, errors and drops; packet counts are not available there (0).
    return ifCountersOf((await si.networkStats('*')).map(fromSystemInformation))
  }
}

/**
 * Samples every `intervalMs` and pushes TX/RX bits per second and packets per second into a ring.
 * The timer is unref'd: the sampler never keeps a process alive by itself.
 */
export class NetSampler {
  readonly ring: RateRing
  private readonly intervalMs: number
  private readonly source: CounterSource
  private readonly now: () => number
  private prev: {ts: number; byIf: Map<string, IfCounters>} | undefined
  private timer: NodeJS.Timeout | undefined
  private busy = false
  interfaces: string[] | undefined

  constructor(private readonly opts: NetSamplerOptions = {}) {
    this.intervalMs = opts.intervalMs ?? 1000
    this.ring = new RateRing(opts.capacity ?? 300)
    this.source = opts.source ?? defaultCounterSource()
    this.now = opts.now ?? Date.now
    this.interfaces = opts.interfaces
  }

  async start(): Promise<void> {
    await this.tick()
    this.timer = setInterval(() => void this.tick(), this.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  /** Reads the counters once and, from the second read on, pushes a sample. */
  async tick(): Promise<RateSample | undefined> {
    if (this.busy) return undefined
    this.busy = true
    try {
      const byIf = await this.source()
      const ts = this.now()
      const prev = this.prev
      this.prev = {ts, byIf}
      if (!prev) return undefined
      const dt = ts - prev.ts
      if (dt <= 0) return undefined
      // Cap a single interval's delta at what a 400 Gbit/s link could move: a reset beyond that is not traffic.
      const maxBytes = (400e9 / 8) * (dt / 1000) * 1.5
      const maxPkts = maxBytes / 64
      let tx = 0
      let rx = 0
      let txp = 0
      let rxp = 0
      let txe = 0
      let rxe = 0
      let txd = 0
      let rxd = 0
      for (const [name, cur] of byIf) {
        if (!this.selected(name)) continue
        const p = prev.byIf.get(name)
        if (!p) continue // interface appeared: no baseline yet
        tx += counterDelta(p.txBytes, cur.txBytes, maxBytes)
        rx += counterDelta(p.rxBytes, cur.rxBytes, maxBytes)
        txp += counterDelta(p.txPackets, cur.txPackets, maxPkts)
        rxp += counterDelta(p.rxPackets, cur.rxPackets, maxPkts)
        // Errors/drops are packets too; a source without them (undefined) adds nothing.
        txe += counterDelta(p.txErrors ?? 0, cur.txErrors ?? 0, maxPkts)
        rxe += counterDelta(p.rxErrors ?? 0, cur.rxErrors ?? 0, maxPkts)
        txd += counterDelta(p.txDrops ?? 0, cur.txDrops ?? 0, maxPkts)
        rxd += counterDelta(p.rxDrops ?? 0, cur.rxDrops ?? 0, maxPkts)
      }
      const s: RateSample = {
        ts,
        intervalMs: dt,
        txBps: Math.round((tx * 8 * 1000) / dt),
        rxBps: Math.round((rx * 8 * 1000) / dt),
        txPps: (txp * 1000) / dt,
        rxPps: (rxp * 1000) / dt,
        txErrors: Math.round(txe),
        rxErrors: Math.round(rxe),
        txDrops: Math.round(txd),
        rxDrops: Math.round(rxd),
      }
      this.ring.push(s)
      return s
    } catch (e) {
      this.opts.onError?.(e)
      return undefined
    } finally {
      this.busy = false
    }
  }

  private selected(name: string): boolean {
    if (this.interfaces && this.interfaces.length > 0) return this.interfaces.includes(name) || this.interfaces.includes('*')
    return !isLoopback(name)
  }
}

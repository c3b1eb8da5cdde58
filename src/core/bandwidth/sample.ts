/**
 * `bandwidth sample`: builds a batch from flags, NDJSON or interface counters, validates all of
 * it, writes it in one transaction (ingest.ts), then prunes if due (retention.ts).
 */
import {NetmonError, invalidInput} from '../errors.js'
import {normalizeIp} from '../devices/ip.js'
import {normalizeMac} from '../devices/mac.js'
import type {Store} from '../store/index.js'
import {CollectorRunner, type TickResult} from '../collect/runner.js'
import {ifaceSource} from '../collect/iface.js'
import {nftSource} from '../collect/nft.js'
import {snmpSource, type SnmpSourceOptions} from '../collect/snmp.js'
import {keyedMac} from '../collect/runner.js'
import {parseCounter, type CounterBits} from './counters.js'
import {platformCounterBits} from './iface.js'
import {BatchBuilder, checkHostname, checkTs, readNdjson, type SampleBatch, type SampleMode} from './input.js'
import {removeOrphanSpools} from './spool.js'
import {interrupted, untilAborted, writeBatch, type SampleResult} from './write.js'

export {interrupted, writeBatch, type InterfaceSample, type SampleResult} from './write.js'

export type SampleSource =
  | {kind: 'flags'; mac: string; sent: string; received: string; at?: number; ip?: string; hostname?: string}
  | {kind: 'ndjson'; input: AsyncIterable<string | Buffer>}
  | {kind: 'iface'; name?: string}
  /** Per-host counters of netmon's nftables table on this router (collect/nft.ts). */
  | {kind: 'nft'; lan: string[]; netns?: string}
  | {kind: 'snmp'; options: SnmpSourceOptions}

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

let swept = false

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
  // Interfaces / nftables / an SNMP agent: the collector runner's one source; a repeat runs on its grid (collect/runner.ts).
  const iface = src.kind === 'iface' ? ifaceSource(src.name) : null
  const nft = src.kind === 'nft' ? nftSource({lan: src.lan, netns: src.netns}) : null
  const snmp = src.kind === 'snmp' ? snmpSource(src.options) : null
  const source = iface ? {...iface, bits} : nft ? {...nft, bits: spec.bits ?? nft.bits} : snmp!
  let last: SampleResult | undefined
  let failure: unknown
  const stop = new AbortController()
  const signal = spec.signal ? AbortSignal.any([spec.signal, stop.signal]) : stop.signal
  const runner = new CollectorRunner({sources: [source], store: storeNow, maxRateBps: spec.maxRateBps})
  const onTick = (t: TickResult) => {
    const one = t.sources[0]!
    if (!one.result && one.error === null && nft) {
      // A table with no LAN host in it yet (nothing forwarded since it was created): a reading, zero devices.
      one.result = {
        success: true,
        message: 'no LAN host counted yet',
        mode: 'counter',
        samples_in: 0,
        samples_recorded: 0,
        samples_late: 0,
        bytes_sent: 0,
        bytes_received: 0,
        devices: 0,
        registered: [],
        events: [],
      }
    }
    if (!one.result) {
      // A reading that fails ends the command (as a one-shot would): exit 2 for a missing interface.
      failure = one.failure ?? new NetmonError('internal', one.error ?? 'no reading')
      stop.abort()
      return
    }
    const r: SampleResult = one.result
    if (nft) {
      const t = nft.lastTable()
      r.hosts = one.readings.map(x => ({
        key: 'mac' in x.key ? x.key.mac : 'ip' in x.key ? `ip:${x.key.ip}` : `${x.key.source}:${x.key.key}`,
        counter_id: x.counterId,
        counter_sent: x.counters.bytesSent.toString(),
        counter_received: x.counters.bytesReceived.toString(),
        packets_sent: (x.counters.packetsSent ?? 0n).toString(),
        packets_received: (x.counters.packetsReceived ?? 0n).toString(),
        read_at_ms: x.ts,
      }))
      r.table_created_at = t?.createdMs ? new Date(t.createdMs).toISOString() : null
      onResult?.(r)
      last = r
      return
    }
    if (iface) {
      r.interfaces = iface.last().map(x => ({
        name: x.name,
        mac: x.mac,
        synthetic_mac: x.synthetic_mac,
        ip: x.ip,
        counter_sent: x.tx_bytes.toString(),
        counter_received: x.rx_bytes.toString(),
        read_at: new Date(x.ts).toISOString(),
        read_at_ms: x.ts,
        counter_tx_errors: x.tx_errors.toString(),
        counter_rx_errors: x.rx_errors.toString(),
        counter_tx_drops: x.tx_drops.toString(),
        counter_rx_drops: x.rx_drops.toString(),
      }))
    } else if (snmp) {
      // The agent's ports, in the device view: sent = the port's in-octets (collect/snmp.ts).
      const poll = snmp.last()!
      r.interfaces = one.readings.map(x => ({
        name: x.label!,
        mac: keyedMac(`snmp:${snmp.agent}`, (x.key as {key: string}).key),
        synthetic_mac: true,
        ip: null,
        counter_sent: x.counters.bytesSent.toString(),
        counter_received: x.counters.bytesReceived.toString(),
        read_at: new Date(poll.ts).toISOString(),
        read_at_ms: poll.ts,
      }))
      if (poll.fdb) {
        const names = new Map(poll.ports.map(p => [p.ifIndex, `${snmp.agent}:${p.name}`]))
        r.fdb = poll.fdb.map(e => ({if_index: e.ifIndex, port: names.get(e.ifIndex) ?? `${snmp.agent}:${e.ifIndex}`, mac: e.mac, vlan: e.vlan}))
      }
    }
    onResult?.(r)
    last = r
  }
  try {
    if (spec.everyMs === undefined) onTick(await runner.tick(signal))
    else await runner.run({intervalMs: spec.everyMs, count: spec.count, signal, onTick})
  } finally {
    await runner.close()
  }
  if (failure) throw failure
  if (!last) throw invalidInput('no sample was taken (stopped before the first reading)')
  return last
}

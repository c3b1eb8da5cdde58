/**
 * The push listener (issue 18 item 4): meters behind NAT or on cellular connect to the bridge and send
 * DataNotifications (push setup, class 40) over the IEC 62056-47 wrapper on TCP. Each APDU is decoded
 * (codec/apdu/notification.ts), matched to a configured meter by system title (general-glo-ciphering,
 * deciphered with that meter's keys) or by logical device name (plain), mapped to the meter's telemetry keys
 * (push-map.ts) and handed to the daemon, which stores and publishes it like a polled reading.
 *
 * Nothing a sender does can stop the listener: a malformed APDU is counted and logged; a broken wrapper
 * stream closes that one connection; an unknown sender is counted and logged, never stored.
 */
import net from 'node:net'
import {toHex} from '../dlms/codec/bytes.js'
import {decodeDataNotification, unprotectNotification, type DataNotification} from '../dlms/codec/apdu/notification.js'
import {FrameCounterGuard, GENERAL_GLO_CIPHERING, securityError} from '../dlms/codec/security.js'
import {WrapperStreamDecoder} from '../dlms/codec/wrapper.js'
import type {ScalerUnit} from '../dlms/cosem.js'
import {isDlmsError} from '../dlms/errors.js'
import type {Logger} from '../log.js'
import {redact} from '../secrets.js'
import type {MeterConfig, PushListenConfig} from './config.js'
import {bodyTexts, mapPush, matchByName} from './push-map.js'

export interface PushStats {
  /** APDUs received (plus wrapper streams that broke before one). */
  received: number
  /** Decoded and matched to a meter. */
  decoded: number
  /** Not a DataNotification, truncated, lying lengths, a broken wrapper header. */
  malformed: number
  /** Decoded, but no configured meter has that system title / logical device name. */
  unknown: number
  /** A known meter's push that fails a security check: tag, key, counter (replay), weaker protection than configured. */
  refused: number
  /** Readings handed on (decoded pushes that carried at least one configured object). */
  stored: number
  connections: number
}

export interface PushReading {
  meterId: string
  ts: number
  values: Record<string, number | string | boolean | null>
  pollMs: number
}

export interface PushListenerOptions {
  config: PushListenConfig
  /** The current meters (read on every push, so a reload applies at once). */
  meters: () => readonly MeterConfig[]
  onReading: (r: PushReading) => void
  /** The scaler a poller read for a meter's OBIS, when the push does not carry attribute 3. */
  scalerFor?: (meterId: string, obis: string) => ScalerUnit | undefined
  log: Logger
  now?: () => number
  /** Last invocation counter accepted per system title (hex), from the previous run (see `counters()`). */
  initialCounters?: Record<string, number>
}

export type PushOutcome = 'decoded' | 'malformed' | 'unknown' | 'refused'

export interface MeterPushStatus {
  received: number
  lastAt: number | null
  lastError: string | null
}

export class PushListener {
  readonly stats: PushStats = {received: 0, decoded: 0, malformed: 0, unknown: 0, refused: 0, stored: 0, connections: 0}
  readonly byMeter = new Map<string, MeterPushStatus>()
  /** Last invocation counter accepted per sender system title (replay protection; carried over restarts by the daemon). */
  private readonly guards = new Map<string, FrameCounterGuard>()
  private server: net.Server | undefined
  private readonly sockets = new Set<net.Socket>()
  private readonly now: () => number
  address: {host: string; port: number} | undefined

  constructor(private readonly opts: PushListenerOptions) {
    this.now = opts.now ?? Date.now
    for (const [title, ic] of Object.entries(opts.initialCounters ?? {}))
      if (/^[0-9a-f]{16}$/.test(title) && Number.isInteger(ic) && ic >= 0 && ic <= 0xffffffff) this.guards.set(title, new FrameCounterGuard(ic))
  }

  /** The replay guards' state, to carry over a restart: last invocation counter accepted per system title. */
  counters(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const [title, g] of this.guards) if (g.last !== undefined) out[title] = g.last
    return out
  }

  async start(): Promise<{host: string; port: number}> {
    const c = this.opts.config
    const server = net.createServer(s => this.serve(s))
    server.maxConnections = c.maxConnections
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(c.port, c.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    server.on('error', e => this.opts.log.error(`push listener: ${e.message}`))
    this.server = server
    const a = server.address() as net.AddressInfo
    this.address = {host: a.address, port: a.port}
    return this.address
  }

  async stop(): Promise<void> {
    const s = this.server
    this.server = undefined
    for (const sock of this.sockets) sock.destroy()
    if (s) await new Promise<void>(r => s.close(() => r()))
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket)
    this.stats.connections++
    const remote = `${socket.remoteAddress}:${socket.remotePort}`
    const decoder = new WrapperStreamDecoder()
    socket.setTimeout(this.opts.config.idleTimeoutMs, () => socket.destroy())
    socket.on('data', (chunk: Buffer) => {
      for (const ev of decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))) {
        if (ev.type === 'frame') this.handleApdu(ev.frame.apdu, remote)
        else {
          // A bad wrapper header: the stream cannot be resynchronised (no checksum, no flag). Drop this connection only.
          this.stats.received++
          this.stats.malformed++
          this.note(`malformed:${remote}`, 'warn', `push from ${remote}: broken wrapper stream (${ev.reason}); connection closed`)
          socket.destroy()
          return
        }
      }
    })
    socket.on('error', () => undefined)
    socket.on('close', () => this.sockets.delete(socket))
  }

  /** One complete APDU from a sender. Public for tests; never throws. */
  handleApdu(apdu: Uint8Array, remote = 'test'): PushOutcome {
    this.stats.received++
    try {
      return this.handle(apdu, remote)
    } catch (e) {
      // Defence in depth: a bug in mapping must not take the listener down.
      this.stats.malformed++
      this.note(`internal:${String(e)}`, 'error', `push from ${remote}: ${redact(String((e as Error)?.message ?? e))}`)
      return 'malformed'
    }
  }

  private handle(apdu: Uint8Array, remote: string): PushOutcome {
    const meters = this.opts.meters()
    let n: DataNotification
    let meter: MeterConfig | undefined
    if (apdu[0] === GENERAL_GLO_CIPHERING) {
      let unknownTitle: string | undefined
      try {
        const r = unprotectNotification(apdu, st => {
          const title = toHex(st)
          meter = meters.find(m => m.push?.systemTitle === title)
          if (!meter) return undefined
          const keys = meter.push!.keys
          if (!keys) throw securityError('key', `a ciphered push from meter ${meter.id} (system title ${title}) but no push keys are configured for it`)
          let guard = this.guards.get(title)
          if (!guard) this.guards.set(title, (guard = new FrameCounterGuard()))
          return {ek: keys.ek, ak: keys.ak, guard, ...(meter.push!.require ? {require: meter.push!.require} : {})}
        })
        if ('unknown' in r) unknownTitle = toHex(r.unknown)
        else n = r.notification
      } catch (e) {
        if (!isDlmsError(e)) throw e
        const reason = e.details.securityReason
        const msg = redact(e.message)
        if (meter && reason !== 'malformed' && reason !== 'truncated' && reason !== 'unsupported') {
          this.stats.refused++
          this.meterStatus(meter.id).lastError = msg
          this.note(`refused:${meter.id}:${reason}`, 'warn', `push from meter ${meter.id} (${remote}) refused: ${msg}`, {meter: meter.id, reason})
          return 'refused'
        }
        this.stats.malformed++
        if (meter) this.meterStatus(meter.id).lastError = msg
        this.note(`malformed:${remote}:${reason}`, 'warn', `push from ${remote}: ${msg}`)
        return 'malformed'
      }
      if (unknownTitle !== undefined) {
        this.stats.unknown++
        this.note(`unknown:${unknownTitle}`, 'warn', `push from an unknown meter (system title ${unknownTitle}, ${remote}): not stored`, {
          system_title: unknownTitle,
        })
        return 'unknown'
      }
    } else {
      const res = decodeDataNotification(apdu)
      if (res.status !== 'ok') {
        this.stats.malformed++
        const why = res.status === 'malformed' ? `${res.reason} (at byte ${res.offset})` : `truncated: ${res.needed} more byte(s) expected`
        this.note(`malformed:${remote}:${apdu[0]}`, 'warn', `push from ${remote}: not a valid DataNotification: ${why}`)
        return 'malformed'
      }
      n = res.value
      meter = matchByName(n, meters)
      if (!meter) {
        this.stats.unknown++
        const names = bodyTexts(n).slice(0, 3)
        this.note(
          `unknown:${names.join('|')}`,
          'warn',
          `push from an unknown meter (${names.length ? `logical device name ${names.map(t => JSON.stringify(t)).join(' / ')}` : 'no logical device name in it'}, ${remote}): not stored`,
        )
        return 'unknown'
      }
      if (meter.push!.require) {
        this.stats.refused++
        const msg = 'a plain push from a meter whose pushes must be ciphered (push.security)'
        this.meterStatus(meter.id).lastError = msg
        this.note(`refused:${meter.id}:plain`, 'warn', `push from meter ${meter.id} (${remote}) refused: ${msg}`, {meter: meter.id})
        return 'refused'
      }
    }
    const m = meter!
    this.stats.decoded++
    const st = this.meterStatus(m.id)
    st.received++
    st.lastAt = this.now()
    st.lastError = null
    const mapped = mapPush(n!, m, {scalerFor: obis => this.opts.scalerFor?.(m.id, obis)})
    for (const note of mapped.notes) this.note(`note:${m.id}:${note}`, 'warn', `push from meter ${m.id}: ${note}`, {meter: m.id})
    if (Object.keys(mapped.values).length === 0) {
      this.note(
        `empty:${m.id}:${mapped.pushSetup ?? ''}`,
        'warn',
        `push from meter ${m.id}${mapped.pushSetup ? ` (push setup ${mapped.pushSetup})` : ''} carried none of its configured objects: nothing stored`,
        {meter: m.id},
      )
      return 'decoded'
    }
    this.stats.stored++
    this.opts.onReading({meterId: m.id, ts: mapped.ts ?? this.now(), values: mapped.values, pollMs: 0})
    return 'decoded'
  }

  private meterStatus(id: string): MeterPushStatus {
    let s = this.byMeter.get(id)
    if (!s) this.byMeter.set(id, (s = {received: 0, lastAt: null, lastError: null}))
    return s
  }

  /** Logs a kind of event on its first occurrence and then every 100th time, so a flood cannot fill the log. */
  private readonly counts = new Map<string, number>()
  private note(key: string, level: 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void {
    const n = (this.counts.get(key) ?? 0) + 1
    if (this.counts.size < 10_000 || this.counts.has(key)) this.counts.set(key, n)
    if (n === 1 || n % 100 === 0) this.opts.log[level](n > 1 ? `${msg} (${n} times)` : msg, fields)
  }
}

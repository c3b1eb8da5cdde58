/**
 * One MQTT connection with QoS 1 publishes that resolve on PUBACK, and its own reconnect loop.
 *
 * Why not mqtt.js's reconnect: it retries on a fixed period (no backoff, no jitter), and it keeps
 * unacknowledged publishes in its in-memory store and re-sends them itself — but the bridge's outbox
 * in the store is the source of truth and re-sends them in order after a reconnect. So mqtt.js runs
 * with reconnectPeriod 0, every attempt is a fresh client, and a lost connection rejects every
 * pending publish at once (the outbox re-reads them). Attempts are spaced by capped exponential
 * backoff with jitter (backoff.ts).
 */
import {EventEmitter} from 'node:events'
import type {IClientOptions} from 'mqtt'
import {backoffDelay, type BackoffPolicy} from '../bridge/backoff.js'
import type {Logger} from '../log.js'
import {publishPacketSize} from './packet.js'

export interface ConnectionOptions {
  url: string
  clientId: string
  username?: string
  password?: string
  ca?: Buffer
  cert?: Buffer
  key?: Buffer
  rejectUnauthorized?: boolean
  keepaliveSeconds?: number
  connectTimeoutMs?: number
  reconnect: BackoffPolicy
  /** Label in log lines ("broker", "meter m1"). */
  label?: string
  log?: Logger
  random?: () => number
  /** For tests: replaces mqtt.connect. */
  connect?: (url: string, opts: IClientOptions) => MqttClientLike
  /**
   * Topic filters to subscribe to (QoS 1) on every connect (the session is clean, so after each one);
   * 'connect' is emitted once the SUBACK arrived, so nothing published in answer to our own
   * announcements (ThingsBoard RPCs) can be missed. Received messages are emitted as 'message'.
   */
  subscriptions?: string[]
}

/** The part of mqtt.js's client this module uses. */
export interface MqttClientLike {
  on(event: 'connect', cb: () => void): unknown
  on(event: 'close', cb: () => void): unknown
  on(event: 'error', cb: (e: Error) => void): unknown
  on(event: 'message', cb: (topic: string, payload: Buffer) => void): unknown
  subscribe?(topics: string[], opts: {qos: 0 | 1 | 2}, cb: (err: Error | null, granted?: {topic: string; qos: number}[]) => void): unknown
  publish(topic: string, payload: string | Buffer, opts: {qos: 0 | 1 | 2}, cb: (err?: Error) => void): unknown
  end(force: boolean, opts: object, cb: () => void): unknown
  removeAllListeners(): unknown
}

export interface ConnectionStats {
  messagesSent: number
  messagesAcked: number
  bytesSent: number
  connects: number
  disconnects: number
}

export class NotConnectedError extends Error {
  constructor(message = 'not connected to the broker') {
    super(message)
    this.name = 'NotConnectedError'
  }
}

/**
 * Why a broker refused us, when retrying will not help until someone changes something: CONNACK
 * "not authorized" (v3.1.1 return code 5, v5 reason 0x87) or "bad user name or password" (4, 0x86),
 * or a TLS certificate the bridge does not trust (or that does not name the host).
 */
export type BrokerRefusal = 'not-authorized' | 'bad-credentials' | 'untrusted-certificate'

const CERT_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])

export function brokerRefusal(e: unknown): BrokerRefusal | undefined {
  const code = (e as {code?: unknown})?.code
  if (code === 5 || code === 0x87) return 'not-authorized'
  if (code === 4 || code === 0x86) return 'bad-credentials'
  if (typeof code === 'string' && CERT_CODES.has(code)) return 'untrusted-certificate'
  const msg = String((e as Error)?.message ?? '')
  if (/not authori[sz]ed/i.test(msg)) return 'not-authorized'
  if (/bad user ?name or password/i.test(msg)) return 'bad-credentials'
  return undefined
}

const REFUSAL_HINT: Record<BrokerRefusal, string> = {
  'not-authorized': 'check the credentials (token / username / password) and the broker ACL',
  'bad-credentials': 'check the username and password (or token)',
  'untrusted-certificate': 'check mqtt.ca (the CA that signed the broker certificate) and that the certificate names the host in mqtt.url',
}

let mqttModule: Promise<typeof import('mqtt')> | undefined
const loadMqtt = (): Promise<typeof import('mqtt')> => (mqttModule ??= import('mqtt'))

export class MqttConnection extends EventEmitter {
  readonly stats: ConnectionStats = {messagesSent: 0, messagesAcked: 0, bytesSent: 0, connects: 0, disconnects: 0}
  private client: MqttClientLike | undefined
  private _connected = false
  private stopped = false
  private attempt = 0
  private timer: NodeJS.Timeout | undefined
  private generation = 0
  private readonly pending = new Set<{reject: (e: Error) => void}>()
  private lastError: string | undefined
  private lastRefusal: BrokerRefusal | undefined
  /** Epoch ms of the last successful connect / disconnect. */
  connectedAt: number | undefined
  disconnectedAt: number | undefined

  constructor(private readonly opts: ConnectionOptions) {
    super()
  }

  get connected(): boolean {
    return this._connected
  }

  get inflight(): number {
    return this.pending.size
  }

  get error(): string | undefined {
    return this.lastError
  }

  /** Set while the broker's last answer was a refusal (not authorized, bad credentials, untrusted certificate). */
  get refusal(): BrokerRefusal | undefined {
    return this.lastRefusal
  }

  start(): void {
    this.stopped = false
    void this.dial()
  }

  private async dial(): Promise<void> {
    if (this.stopped) return
    const gen = ++this.generation
    const o = this.opts
    const options: IClientOptions = {
      clientId: o.clientId,
      username: o.username,
      password: o.password,
      keepalive: o.keepaliveSeconds ?? 30,
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      reconnectPeriod: 0,
      clean: true,
      protocolVersion: 4,
      resubscribe: false,
      // mqtt-packet's number cache is 65,536 two-byte Buffers (~6.5 MB of heap kept for the life of
      // the process, 1/4 of the bridge's live heap at 200 meters; heap snapshot, bench/bridge-scale):
      // without it each packet id / length is a fresh 2-byte buffer, which costs nothing measurable.
      writeCache: false,
      ...(o.ca ? {ca: o.ca} : {}),
      ...(o.cert ? {cert: o.cert} : {}),
      ...(o.key ? {key: o.key} : {}),
      rejectUnauthorized: o.rejectUnauthorized ?? true,
    }
    let client: MqttClientLike
    try {
      client = o.connect ? o.connect(o.url, options) : ((await loadMqtt()).connect(o.url, options) as unknown as MqttClientLike)
    } catch (e) {
      this.lastError = (e as Error).message
      o.log?.error(`mqtt ${o.label ?? 'broker'}: cannot create a client: ${this.lastError}`)
      this.scheduleReconnect(gen)
      return
    }
    if (this.stopped || gen !== this.generation) {
      client.end(true, {}, () => undefined)
      return
    }
    this.client = client
    client.on('connect', () => {
      if (gen !== this.generation) return
      this._connected = true
      this.attempt = 0
      this.lastError = undefined
      this.lastRefusal = undefined
      this.stats.connects++
      this.connectedAt = Date.now()
      o.log?.info(`mqtt ${o.label ?? 'broker'} connected`, {url: o.url})
      const topics = o.subscriptions ?? []
      if (topics.length === 0 || !client.subscribe) {
        this.emit('connect')
        return
      }
      // A broker that never answers the SUBSCRIBE must not hold the readings back: go on without it.
      let announced = false
      const announce = (): void => {
        if (announced || gen !== this.generation) return
        announced = true
        clearTimeout(subackTimer)
        this.emit('connect')
      }
      const subackTimer = setTimeout(() => {
        if (announced || gen !== this.generation) return
        o.log?.warn(`mqtt ${o.label ?? 'broker'}: no SUBACK for ${topics.join(', ')} in ${o.connectTimeoutMs ?? 10_000} ms; publishing anyway`, {url: o.url})
        announce()
      }, o.connectTimeoutMs ?? 10_000)
      subackTimer.unref?.()
      client.subscribe(topics, {qos: 1}, (err, granted) => {
        if (gen !== this.generation || announced) return
        // A refused filter (SUBACK 0x80, e.g. a broker ACL) leaves that downlink silent: say so at error level.
        const refused = err ? topics : (granted ?? []).filter(g => g.qos === 0x80).map(g => g.topic)
        if (refused.length > 0)
          o.log?.error(`mqtt ${o.label ?? 'broker'}: subscription refused for ${refused.join(', ')}${err ? `: ${err.message}` : ''}`, {
            url: o.url,
            hint: 'check the broker ACL: the bridge reads RPC and attribute updates from these topics',
          })
        announce()
      })
    })
    client.on('message', (topic: string, payload: Buffer) => {
      if (gen !== this.generation) return
      this.emit('message', topic, payload)
    })
    client.on('error', (e: Error) => {
      if (gen !== this.generation) return
      this.lastError = e.message
      const refusal = brokerRefusal(e)
      // A refusal is not a network blip: error level, once when it starts or changes, then every 10th attempt.
      if (refusal && (refusal !== this.lastRefusal || this.attempt % 10 === 9))
        o.log?.error(`mqtt ${o.label ?? 'broker'}: refused (${refusal}): ${e.message}`, {url: o.url, refusal, hint: REFUSAL_HINT[refusal]})
      this.lastRefusal = refusal
    })
    client.on('close', () => {
      if (gen !== this.generation) return
      this.onClosed(gen)
    })
  }

  private onClosed(gen: number): void {
    const was = this._connected
    this._connected = false
    const c = this.client
    this.client = undefined
    // A new generation makes late events of the old client irrelevant.
    this.generation++
    c?.removeAllListeners()
    ;(c as {on?: (e: string, f: () => void) => void})?.on?.('error', () => undefined)
    c?.end(true, {}, () => undefined)
    this.failPending(new NotConnectedError(`connection to the broker lost${this.lastError ? ` (${this.lastError})` : ''}`))
    if (was) {
      this.stats.disconnects++
      this.disconnectedAt = Date.now()
      this.opts.log?.warn(`mqtt ${this.opts.label ?? 'broker'} disconnected${this.lastError ? `: ${this.lastError}` : ''}`)
      this.emit('disconnect')
    }
    if (!this.stopped) this.scheduleReconnect(gen)
  }

  private scheduleReconnect(_gen: number): void {
    if (this.stopped || this.timer) return
    this.attempt++
    const delay = backoffDelay(this.attempt, this.opts.reconnect, this.opts.random)
    this.opts.log?.info(
      `mqtt ${this.opts.label ?? 'broker'}: reconnecting in ${delay} ms (attempt ${this.attempt})${this.lastError ? `: ${this.lastError}` : ''}`,
    )
    this.emit('retry', {attempt: this.attempt, delayMs: delay})
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.dial()
    }, delay)
  }

  private failPending(err: Error): void {
    const all = [...this.pending]
    this.pending.clear()
    for (const p of all) p.reject(err)
  }

  /** QoS 1 publish; resolves on PUBACK, rejects when not connected or the connection is lost first. */
  publish(topic: string, payload: string): Promise<void> {
    const c = this.client
    if (!c || !this._connected) return Promise.reject(new NotConnectedError())
    return new Promise<void>((resolve, reject) => {
      let settled = false
      const entry = {
        reject: (e: Error) => {
          if (settled) return
          settled = true
          reject(e)
        },
      }
      this.pending.add(entry)
      this.stats.messagesSent++
      this.stats.bytesSent += publishPacketSize(topic, Buffer.byteLength(payload, 'utf8'), 1)
      c.publish(topic, payload, {qos: 1}, (err?: Error) => {
        if (settled) return
        settled = true
        this.pending.delete(entry)
        if (err) reject(err)
        else {
          this.stats.messagesAcked++
          resolve()
        }
      })
    })
  }

  /** Waits (bounded) for pending PUBACKs, then disconnects cleanly. */
  async stop(drainMs = 0): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    const deadline = Date.now() + drainMs
    while (this.pending.size > 0 && this._connected && Date.now() < deadline) await new Promise(r => setTimeout(r, 10))
    const c = this.client
    this.generation++
    this.client = undefined
    const was = this._connected
    this._connected = false
    this.failPending(new NotConnectedError('the bridge is stopping'))
    if (c) {
      c.removeAllListeners()
      ;(c as {on?: (e: string, f: () => void) => void})?.on?.('error', () => undefined)
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, 1000)
        c.end(!was, {}, () => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }
}

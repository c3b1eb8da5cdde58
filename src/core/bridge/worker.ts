/**
 * One worker per meter, all on the daemon's event loop (issue 8 "Polling"):
 * - keeps its association open between polls (one AARQ per connection, not per poll);
 * - polls at a fixed rate; a poll still running when the next one is due is not queued: the missed
 *   slots are counted as overruns and the next poll happens at the next slot;
 * - on a connection-level error (timeout, connection closed, malformed frame, rejected association)
 *   it closes the client and re-associates after capped exponential backoff with jitter;
 * - every wait is its own timer and every request has a timeout, so a slow or dead meter never delays
 *   another worker.
 * Scalers (attribute 3) are read once per association; each poll is one GET (with-list when the
 * meter negotiated multiple-references) for every configured OBIS.
 */
import {dataToNumber, toPlain, type DlmsData} from '../dlms/codec/axdr.js'
import {dateTimeToIso} from '../dlms/codec/datetime.js'
import {unitSymbol, applyScaler} from '../dlms/codec/units.js'
import type {GetDataResult, GetItem} from '../dlms/codec/apdu/index.js'
import {dataAccessResultName} from '../dlms/codec/apdu/index.js'
import {parseObis} from '../dlms/codec/obis.js'
import {DlmsClient, type DlmsClientOptions} from '../dlms/client.js'
import {dataToDateTime, parseScalerUnit, type ScalerUnit} from '../dlms/cosem.js'
import {isDlmsError, isUndecodableAnswer} from '../dlms/errors.js'
import type {Logger} from '../log.js'
import {redact} from '../secrets.js'
import {backoffDelay} from './backoff.js'
import type {MeterConfig, ObisSpec} from './config.js'
import type {MeterCounters} from './counters.js'
import type {CounterReservation, InvocationCounterStore} from '../dlms/counters.js'
import type {ProfileJob} from './profile.js'

/**
 * `auth-failed`: the meter refused our authentication `auth_failure_limit` times in a row; the worker
 * stops trying (real meters lock a client out after a few wrong passwords) until a reload or restart.
 */
export type WorkerState = 'connecting' | 'polling' | 'backoff' | 'auth-failed' | 'push-only' | 'stopped'

export interface WorkerStatus {
  state: WorkerState
  lastSuccessAt: number | null
  lastErrorAt: number | null
  lastError: string | null
  consecutiveFailures: number
  /** Consecutive associations refused for authentication (reset by an accepted association). */
  authFailures: number
  /** The objects the last poll could not read, by OBIS: a data-access-result or an undecodable value. */
  objectErrors: Record<string, string>
  polls: number
  failures: number
  overruns: number
}

export interface PollResult {
  meterId: string
  ts: number
  values: Record<string, number | string | boolean | null>
  pollMs: number
}

export interface WorkerDeps {
  counters: MeterCounters
  log: Logger
  onReading: (r: PollResult) => void
  random?: () => number
  /** For tests: client factory. */
  makeClient?: (o: DlmsClientOptions) => DlmsClient
  /** Load-profile catch-up jobs, run on this worker's association between polls (profile.ts). */
  profiles?: ProfileJob[]
  /** HLS-GMAC: where the client invocation counter is reserved per meter (migration 013). */
  invocationCounters?: InvocationCounterStore
}

/** Prefix conversions for `unit:` in the config (value in the meter's unit → wanted unit). */
const PREFIX: Record<string, number> = {'': 1, k: 1e3, M: 1e6}
export function convertUnit(value: number, from: string, to: string): number | undefined {
  if (from === to) return value
  for (const [pf, ff] of Object.entries(PREFIX)) {
    if (!from.startsWith(pf)) continue
    const base = from.slice(pf.length)
    for (const [pt, ft] of Object.entries(PREFIX)) {
      if (to === pt + base && base !== '') return (value * ff) / ft
    }
  }
  return undefined
}

/** Rounds away binary noise from scaling (0.1 * 3 → 0.30000000000000004). */
const tidy = (n: number): number => (Number.isInteger(n) ? n : Number(n.toPrecision(12)))

export class MeterWorker {
  readonly status: WorkerStatus = {
    state: 'connecting',
    lastSuccessAt: null,
    lastErrorAt: null,
    lastError: null,
    consecutiveFailures: 0,
    authFailures: 0,
    objectErrors: {},
    polls: 0,
    failures: 0,
    overruns: 0,
  }
  private client: DlmsClient | undefined
  private scalers = new Map<string, ScalerUnit>()
  private stopped = false
  private loop: Promise<void> | undefined
  private wake: (() => void) | undefined
  private sleepTimer: NodeJS.Timeout | undefined
  private warnedKeys = new Set<string>()
  /** Shared attribute poll_interval from ThingsBoard (downlink); undefined = the config's. */
  private pollOverrideMs: number | undefined
  /** When the next poll is due (epoch ms); moved by setPollInterval. */
  private nextPollAt = 0
  private lastPollAt = 0
  /** A downlink RPC hit a connection-level error and closed the client. */
  private closedByRpc = false
  private reservation: CounterReservation | undefined
  /** The poll's GET-with-list items, built once: parsing the OBIS list on every poll was garbage per poll (bench/bridge-scale RSS). */
  private pollItems: GetItem[] | undefined

  constructor(
    readonly cfg: MeterConfig,
    private readonly deps: WorkerDeps,
  ) {}

  get id(): string {
    return this.cfg.id
  }

  /** The scaler_unit read for an OBIS in this association (the push listener uses it for pushes without attribute 3). */
  scalerFor(obis: string): ScalerUnit | undefined {
    const o = this.cfg.obis.find(x => x.obis === obis)
    return o ? this.scalers.get(o.key) : undefined
  }

  start(): void {
    this.stopped = false
    this.loop = this.run().catch((e: unknown) => {
      // run() handles its own errors; this is a last resort so one meter can never take the daemon down.
      this.deps.log.error(`meter ${this.cfg.id}: worker crashed: ${(e as Error)?.message ?? e}`)
      this.status.state = 'stopped'
    })
  }

  /** Stops polling (a poll in progress finishes or times out), releases the association. */
  async stop(): Promise<void> {
    this.stopped = true
    this.wake?.()
    await this.loop
    this.status.state = 'stopped'
  }

  /** The poll interval in force: the downlink's shared attribute if set, else the config's. */
  get pollIntervalMs(): number {
    return this.pollOverrideMs ?? this.cfg.pollIntervalMs
  }

  /**
   * Changes the poll interval at run time (ThingsBoard shared attribute poll_interval; undefined goes
   * back to the config's). The next poll is re-planned from the last one, so a shorter interval takes
   * effect at once rather than after the old, longer wait.
   */
  setPollInterval(ms: number | undefined): void {
    this.pollOverrideMs = ms
    if (this.status.state !== 'polling' || this.lastPollAt === 0) return
    this.nextPollAt = this.lastPollAt + this.pollIntervalMs
    this.wake?.()
  }

  /**
   * Runs `fn` on the meter's open association (downlink RPCs); it queues behind a poll in progress
   * (the client runs one request at a time). Throws MeterUnreachableError while the worker has no
   * association (connecting, backoff, auth-failed, stopped). A connection-level failure inside `fn`
   * closes the client, and the worker associates again before its next poll.
   */
  async withClient<T>(fn: (c: DlmsClient) => Promise<T>): Promise<T> {
    const c = this.client
    if (this.cfg.poll === false) throw new MeterUnreachableError(`meter ${this.cfg.id} is push-only (no host): the bridge has no DLMS link to run an RPC on`)
    if (c?.state !== 'associated' || this.status.state !== 'polling')
      throw new MeterUnreachableError(
        `meter ${this.cfg.id} is not associated (state ${this.status.state}${this.status.lastError ? `; last error: ${redact(this.status.lastError)}` : ''})`,
      )
    try {
      return await fn(c)
    } catch (e) {
      if (isConnectionError(e) && this.client === c) {
        this.closedByRpc = true
        this.status.state = 'connecting'
        await c.close()
        this.wake?.() // associate again now, not at the next poll slot
      }
      throw e
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped || ms <= 0) return Promise.resolve()
    return new Promise<void>(resolve => {
      this.wake = () => {
        if (this.sleepTimer) clearTimeout(this.sleepTimer)
        this.sleepTimer = undefined
        this.wake = undefined
        resolve()
      }
      this.sleepTimer = setTimeout(() => this.wake?.(), ms)
    })
  }

  /** Waits, without a timer, until stop(). */
  private parked(): Promise<void> {
    if (this.stopped) return Promise.resolve()
    return new Promise<void>(resolve => {
      this.wake = () => {
        this.wake = undefined
        resolve()
      }
    })
  }

  /** The key under which `meters read` keeps the same meter's counter too, so the two never reuse one. */
  get counterKey(): string {
    return `${this.cfg.host}:${this.cfg.port}/${this.cfg.serverAddress}`
  }

  private async newClient(): Promise<DlmsClient> {
    const c = this.cfg
    let security: DlmsClientOptions['security']
    if (c.auth.mechanism === 'hls-gmac') {
      security = c.auth.security
      const ics = this.deps.invocationCounters
      if (ics) {
        // Reserve-ahead (src/core/dlms/counters.ts): a crash or restart never reuses a counter.
        this.reservation = await ics.reserve(this.counterKey, security.systemTitle, undefined, 1)
        security = {...security, invocationCounter: this.reservation.start, invocationCounterLimit: this.reservation.limit}
      }
    }
    const opts: DlmsClientOptions = {
      host: c.host,
      port: c.port,
      framing: c.framing,
      clientAddress: c.clientAddress,
      serverAddress: c.serverAddress,
      ...(c.physicalAddress !== undefined ? {physicalAddress: c.physicalAddress} : {}),
      ...(c.addressSize !== undefined ? {addressSize: c.addressSize} : {}),
      auth: c.auth.mechanism === 'low' ? {mechanism: 'low', password: c.auth.password} : {mechanism: 'none'},
      ...(security ? {security} : {}),
      timeoutMs: c.timeoutMs,
      onFrame: this.deps.counters.onFrame,
    }
    return this.deps.makeClient ? this.deps.makeClient(opts) : new DlmsClient(opts)
  }

  private async closeClient(): Promise<void> {
    const c = this.client
    this.client = undefined
    for (const p of this.deps.profiles ?? []) p.suspend()
    if (c) await c.close()
    const r = this.reservation
    this.reservation = undefined
    const next = c?.nextInvocationCounter
    if (r && next !== undefined)
      await this.deps.invocationCounters
        ?.release(r, next, c?.security?.peer)
        .catch((e: unknown) => this.deps.log.warn(`meter ${this.cfg.id}: cannot store the invocation counter: ${redact(String((e as Error)?.message ?? e))}`))
  }

  private fail(e: unknown, during: string): void {
    const msg = redact(String((e as Error)?.message ?? e))
    const s = this.status
    s.failures++
    s.consecutiveFailures++
    s.lastErrorAt = Date.now()
    const changed = s.lastError !== msg
    s.lastError = msg
    // One line per event, but not one per retry of the same error: first failure, a new error, and then every 10th.
    if (changed || s.consecutiveFailures === 1 || s.consecutiveFailures % 10 === 0) {
      this.deps.log.warn(`meter ${this.cfg.id}: ${during} failed: ${msg}`, {meter: this.cfg.id, consecutive_failures: s.consecutiveFailures})
    }
  }

  private async run(): Promise<void> {
    const c = this.cfg
    while (!this.stopped) {
      if (this.client?.state !== 'associated') {
        await this.closeClient()
        this.status.state = 'connecting'
        try {
          const client = await this.newClient()
          this.client = client
          await client.open()
          await this.readScalers(client)
          if (this.status.consecutiveFailures > 0)
            this.deps.log.info(`meter ${c.id}: associated again after ${this.status.consecutiveFailures} failure(s)`, {meter: c.id})
          else this.deps.log.info(`meter ${c.id}: associated`, {meter: c.id, endpoint: `${c.host}:${c.port}`, framing: c.framing})
          this.status.state = 'polling'
          this.status.authFailures = 0
          this.nextPollAt = Date.now()
          for (const p of this.deps.profiles ?? []) p.associated()
        } catch (e) {
          this.fail(e, 'association')
          await this.closeClient()
          if (this.stopped) break
          if (isAuthFailure(e)) {
            this.status.authFailures++
            const limit = c.authFailureLimit
            if (limit > 0 && this.status.authFailures >= limit) {
              this.status.state = 'auth-failed'
              this.status.lastError = `authentication failed ${this.status.authFailures} time(s) in a row; not retrying (meters lock clients out): ${this.status.lastError}`
              this.deps.log.error(
                `meter ${c.id}: authentication refused ${this.status.authFailures} time(s) in a row (auth_failure_limit ${limit}); not retrying until a reload (SIGHUP) or restart`,
                {meter: c.id},
              )
              await this.parked()
              break
            }
          }
          this.status.state = 'backoff'
          await this.sleep(backoffDelay(this.status.consecutiveFailures, {minMs: c.reconnect.minMs, maxMs: c.reconnect.maxMs}, this.deps.random))
          continue
        }
      }
      if (this.deps.profiles?.length) {
        try {
          await this.profileWork(this.client!, this.nextPollAt)
        } catch (e) {
          this.fail(e, 'profile read')
          await this.closeClient()
          if (this.stopped) break
          this.status.state = 'backoff'
          await this.sleep(backoffDelay(this.status.consecutiveFailures, {minMs: c.reconnect.minMs, maxMs: c.reconnect.maxMs}, this.deps.random))
          continue
        }
      }
      // A loop, not one sleep: setPollInterval may move the slot while we wait.
      for (let wait = this.nextPollAt - Date.now(); wait > 0 && !this.stopped && !this.closedByRpc; wait = this.nextPollAt - Date.now()) await this.sleep(wait)
      if (this.stopped) break
      // A downlink RPC that failed at the connection level closed the client: associate again first.
      if (this.closedByRpc) {
        this.closedByRpc = false
        if (this.client?.state !== 'associated') continue
      }
      if (c.obis.length === 0) {
        // A meter with load profiles only: its slots just pace the profile jobs.
        this.nextPollAt += this.pollIntervalMs
        continue
      }
      const start = Date.now()
      this.lastPollAt = start
      try {
        const values = await this.poll(this.client!)
        const pollMs = Date.now() - start
        this.status.polls++
        this.status.lastSuccessAt = Date.now()
        if (this.status.consecutiveFailures > 0) this.deps.log.info(`meter ${c.id}: polling again`, {meter: c.id})
        this.status.consecutiveFailures = 0
        this.deps.onReading({meterId: c.id, ts: start, values, pollMs})
      } catch (e) {
        this.fail(e, 'poll')
        // Anything but a per-object access problem means the link or association is broken: start over.
        await this.closeClient()
        if (this.stopped) break
        this.status.state = 'backoff'
        await this.sleep(backoffDelay(this.status.consecutiveFailures, {minMs: c.reconnect.minMs, maxMs: c.reconnect.maxMs}, this.deps.random))
        continue
      }
      const interval = this.pollIntervalMs
      this.nextPollAt += interval
      const now = Date.now()
      if (this.nextPollAt <= now) {
        // Overrun: the slots that passed while this poll ran are skipped, not queued.
        const missed = Math.floor((now - this.nextPollAt) / interval) + 1
        this.status.overruns += missed
        this.nextPollAt += missed * interval
      }
    }
    await this.closeClient()
  }

  /**
   * Load-profile reads fill the time until the next poll slot: at least one read per slot while a job
   * has work, more while time is left, so a long catch-up never makes polls miss their slots for long.
   */
  private async profileWork(client: DlmsClient, deadline: number): Promise<void> {
    const jobs = this.deps.profiles ?? []
    let first = true
    for (;;) {
      if (this.stopped || client.state !== 'associated') return
      const job = jobs.find(j => j.pending())
      if (!job || (!first && Date.now() >= deadline)) return
      first = false
      await job.step(client)
    }
  }

  private async readScalers(client: DlmsClient): Promise<void> {
    this.scalers.clear()
    const regs = this.cfg.obis.filter(o => o.classId === 3 || o.classId === 4)
    if (regs.length === 0) return
    const res = await client.getMany(regs.map(o => ({descriptor: {classId: o.classId, obis: parseObis(o.obis), attribute: 3}})))
    res.forEach((r, i) => {
      const o = regs[i]!
      if (r.ok) {
        try {
          this.scalers.set(o.key, parseScalerUnit(r.data))
        } catch {
          this.warnOnce(o, 'scaler_unit is malformed; using the raw value')
        }
      } else this.warnOnce(o, `cannot read scaler_unit: ${dataAccessResultName(r.error)}`)
    })
  }

  private warnOnce(o: ObisSpec, what: string): void {
    const k = `${o.key}:${what}`
    if (this.warnedKeys.has(k)) return
    this.warnedKeys.add(k)
    this.deps.log.warn(`meter ${this.cfg.id}: ${o.obis} (${o.key}): ${what}`, {meter: this.cfg.id})
  }

  private async poll(client: DlmsClient): Promise<PollResult['values']> {
    const list = this.cfg.obis
    const items = (this.pollItems ??= list.map(o => ({descriptor: {classId: o.classId, obis: parseObis(o.obis), attribute: 2}})))
    let results: (GetDataResult | {ok: false; malformed: string})[]
    try {
      results = await client.getMany(items)
    } catch (e) {
      // One undecodable value spoils the whole list answer (A-XDR cannot skip what it cannot parse), but
      // the association is fine: read the objects one by one so the good values are kept and the bad
      // object is named by its OBIS.
      if (!isUndecodableAnswer(e) || items.length < 2) throw e
      results = []
      for (const it of items) {
        try {
          results.push({ok: true, data: await client.get(it.descriptor)})
        } catch (ie) {
          if (isUndecodableAnswer(ie)) results.push({ok: false, malformed: redact(ie.message)})
          else if (isDlmsError(ie) && (ie.dlmsCode === 'DATA_ACCESS' || ie.dlmsCode === 'ACCESS_DENIED'))
            results.push({ok: false, error: ie.details.dataAccessResult ?? 250})
          else throw ie
        }
      }
    }
    const values: PollResult['values'] = {}
    const objectErrors: Record<string, string> = {}
    let ok = 0
    results.forEach((r, i) => {
      const o = list[i]!
      if (!r.ok) {
        values[o.key] = null
        const what = 'malformed' in r ? `the meter's answer does not decode: ${r.malformed}` : `cannot read the value: ${dataAccessResultName(r.error)}`
        objectErrors[o.obis] = what
        this.warnOnce(o, what)
        return
      }
      ok++
      values[o.key] = this.convert(o, r.data)
    })
    this.status.objectErrors = objectErrors
    if (ok === 0 && list.length > 0) throw new Error(`no configured OBIS could be read (${Object.entries(objectErrors)[0]?.join(': ') ?? 'no answer'})`)
    return values
  }

  /** A value as the poll publishes it (scaled, unit-converted, clock as ISO); `su` for objects not polled. */
  convert(o: ObisSpec, d: DlmsData, su: ScalerUnit | undefined = this.scalers.get(o.key)): number | string | boolean | null {
    return convertValue(o, d, su, p => {
      if (p.kind === 'unit') this.warnOnce(o, `cannot convert ${p.from || 'a unitless value'} to ${p.to}; publishing it unconverted`)
    })
  }
}

/** What convertValue could not do: no scaler_unit known for a register, or a unit it cannot convert. */
export type ValueProblem = {kind: 'no_scaler'} | {kind: 'unit'; from: string; to: string}

/**
 * One COSEM value as the bridge publishes and stores it, whether polled or pushed: a clock
 * (class 8) as ISO-8601, a register (class 3/4) scaled by its scaler_unit and converted to the
 * configured unit, anything else as plain data. `problem` hears what could not be applied.
 */
export function convertValue(o: ObisSpec, d: DlmsData, su: ScalerUnit | undefined, problem?: (p: ValueProblem) => void): number | string | boolean | null {
  if (o.classId === 8) {
    const dt = dataToDateTime(d)
    return dt ? dateTimeToIso(dt) : null
  }
  if (o.classId === 3 || o.classId === 4) {
    const n = dataToNumber(d)
    if (n === undefined || d.type === 'boolean') return plain(d)
    let v = su ? applyScaler(d.type === 'int64' || d.type === 'uint64' ? d.value : n, su.scaler) : n
    if (!su) problem?.({kind: 'no_scaler'})
    if (o.unit) {
      const from = su ? unitSymbol(su.unit) : ''
      const conv = convertUnit(v, from, o.unit)
      if (conv === undefined) problem?.({kind: 'unit', from, to: o.unit})
      else v = conv
    }
    return tidy(v)
  }
  return plain(d)
}

function plain(d: DlmsData): number | string | boolean | null {
  const v = toPlain(d)
  if (v === null || typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v
  if (typeof v === 'bigint') return Number(v)
  return JSON.stringify(v)
}

/** A downlink RPC for a meter without an association (connecting, backoff, auth-failed, stopped). */
export class MeterUnreachableError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'MeterUnreachableError'
  }
}

/** The meter refused the association for authentication (wrong password / HLS proof refused). */
export const isAuthFailure = (e: unknown): boolean =>
  isDlmsError(e) && e.dlmsCode === 'ASSOCIATION_REJECTED' && (e.details.diagnostic === 13 || /authentication failed/i.test(e.message))

export const isConnectionError = (e: unknown): boolean =>
  isDlmsError(e) && ['TIMEOUT', 'CONNECTION_FAILED', 'CONNECTION_CLOSED', 'NOT_CONNECTED', 'MALFORMED_FRAME'].includes(e.dlmsCode)

/**
 * The job host (issue 14): runs, in one process, the jobs an agent config names, and keeps one
 * status row per job (repo.ts).
 *
 *   const host = await startAgent(config, {store, log})
 *   await host.reload(next)   // SIGHUP: jobs added / removed / changed
 *   await host.stop()         // SIGTERM: no new runs; running ones finish or are aborted after the bound
 *
 * Kinds:
 * - collector: the one collector runner (collect/runner.ts) as a long-running job; each tick
 *   updates the status row (per-source status in `detail`, the runner's overruns).
 * - scan, latency, prune, alerts: scheduled runs (`every` on a fixed grid from the start, first run at
 *   once; or `cron` via croner). A run still going when the next is due: that slot is skipped
 *   and counted as an overrun, never queued. Each run is aborted after its timeout.
 * - alerts: one evaluation per run through alerts/engine.ts runCheck (what `alerts check` runs);
 *   delivery in the background (alerts/delivery.ts: one drain per channel in flight, never awaited
 *   by a run), detail {firing, pending, notified, …}; a channel whose drain failed since the
 *   previous run makes the outcome an error.
 * - bridge, serve: the existing daemons (bridge/daemon.ts startBridge, serve/server.ts
 *   startServer), started once and stopped at the end; a start that fails is retried with backoff.
 * - netflow: the NetFlow/IPFIX listener (netflow/listener.ts) bound once; every `every` the
 *   completed interval buckets are drained into one bandwidth batch (bandwidth/flows.ts) and the
 *   listener's counters go to the status row's detail. A bind that fails is retried with backoff.
 * A job that fails, overruns or hangs never stops the others: every run is isolated, every
 * status write is best-effort (a busy store is logged, not fatal). Signals are the caller's
 * (run.ts); this module never touches process.
 */
import {Cron} from 'croner'
import {DEFAULT_MAX_RATE_BPS} from '../bandwidth/counters.js'
import {prune, type Retention} from '../bandwidth/retention.js'
import type {BackgroundDelivery} from '../alerts/delivery.js'
import type {Bridge} from '../bridge/daemon.js'
import {CollectorRunner, type TickResult} from '../collect/runner.js'
import type {CounterSource} from '../collect/source.js'
import type {Logger} from '../log.js'
import {redact} from '../secrets.js'
import type {Store} from '../store/index.js'
import {
  type AgentConfig,
  type AgentJob,
  type AlertsJob,
  type BridgeJob,
  type CollectorJob,
  describeSchedule,
  type LatencyJob,
  type NetflowJob,
  type PruneJob,
  type ScanJob,
  type ServeJob,
} from './config.js'
import {AgentRepo, checkSingleAgent, type Outcome} from './repo.js'
import {buildSources} from './sources.js'

export interface AgentOptions {
  store: Store
  log: Logger
  /** Refuse to start when another live agent heartbeats in this store (default true). */
  singleInstance?: boolean
  version?: string
}

export interface AgentHost {
  readonly config: AgentConfig
  reload(next: AgentConfig): Promise<{added: string[]; removed: string[]; changed: string[]}>
  /** Stops every job (bounded by shutdown_timeout); resolves with the jobs that had to be aborted. */
  stop(): Promise<{aborted: string[]}>
  jobs(): string[]
}

const errText = (e: unknown): string => redact(e instanceof Error ? e.message : String(e)).split('\n')[0]!

/** Resolves true when `p` settled within `ms`. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const t = new Promise<false>(r => (timer = setTimeout(() => r(false), ms)))
  const done = p.then(
    () => true,
    () => true,
  )
  const ok = await Promise.race([done, t])
  clearTimeout(timer)
  return ok
}

interface Ctx {
  store: Store
  log: Logger
  repo: AgentRepo
  /** Best-effort status write. */
  write(what: string, p: Promise<void>): Promise<void>
  version?: string
}

interface Runner {
  readonly job: AgentJob
  start(): Promise<void>
  /** Stop; true when it finished by itself within graceMs (false: aborted). */
  stop(graceMs: number): Promise<boolean>
  /** Apply a changed job in place; false = restart it. */
  update?(next: AgentJob): Promise<boolean>
}

// ---------- scheduled jobs ----------

type RunResult = {detail: unknown; error?: string}

async function runScan(job: ScanJob, ctx: Ctx, signal: AbortSignal): Promise<RunResult> {
  const {scan} = await import('../scan/index.js')
  const {releaseVendorTable} = await import('../scan/vendor.js')
  const report = await scan(
    {
      targets: job.targets,
      allowPublic: job.allowPublic,
      force: false,
      methods: job.methods,
      timeoutMs: job.probeTimeoutMs,
      retries: 1,
      concurrency: 256,
      ports: job.ports,
      portTimeoutMs: 1000,
      maxSockets: 4096,
      banners: false,
      bannerTimeoutMs: 1000,
      rdns: job.rdns,
      dnsServers: [],
      rdnsTimeoutMs: 500,
      register: job.register,
      arpWaitMs: Math.min(job.arpWaitMs, job.probeTimeoutMs * 4),
      conflictCheck: job.conflictCheck,
    },
    {openStore: async () => ctx.store, signal, onNote: t => ctx.log.info(`${job.name}: ${t}`)},
  ).finally(releaseVendorTable) // the MAC vendor table is most of an idle agent's memory otherwise
  const detail = {scan_id: report.scan.id, status: report.scan.status, addresses: report.scan.addresses, ...report.summary}
  if (report.scan.status === 'interrupted') return {detail, error: 'the scan was interrupted (timeout or stop)'}
  return {detail}
}

async function runLatency(job: LatencyJob, ctx: Ctx, signal: AbortSignal): Promise<RunResult> {
  const {planLatency, measureLatency} = await import('../latency/measure.js')
  const plan = await planLatency({
    hosts: job.targets,
    method: job.method,
    count: job.count,
    interval: job.intervalMs,
    timeout: job.probeTimeoutMs,
    port: job.port,
    watch: false,
  })
  const r = await measureLatency(ctx.store, plan, {signal, onNote: t => ctx.log.info(`${job.name}: ${t}`)})
  const hosts = r.hosts.map(h => ({host: h.host, ip: h.ip, loss_pct: h.loss_pct, avg_ms: h.avg_ms, error: h.error}))
  const detail = {method: r.method, hosts}
  const bad = r.hosts.filter(h => h.error || r.unreachable.includes(h.host))
  if (bad.length) return {detail, error: `no reply from ${bad.map(h => (h.error ? `${h.host} (${h.error})` : h.host)).join(', ')}`}
  return {detail}
}

async function runPrune(job: PruneJob, ctx: Ctx): Promise<RunResult> {
  const {pruneLatencyProbes} = await import('../latency/retention.js')
  const retention: Partial<Retention> = {}
  for (const l of ['raw', '5m', '1h', '1d'] as const) if (job.keep[l] !== undefined) retention[l] = job.keep[l]
  const bw = await prune(ctx.store, {retention})
  const lat = await pruneLatencyProbes(ctx.store, job.keep.latencyProbes === undefined ? {} : {keepMs: job.keep.latencyProbes})
  return {detail: {bandwidth_rows: Object.fromEntries(Object.entries(bw.pruned).map(([k, v]) => [k, v.rows])), latency_probes: lat.probes}}
}

/**
 * One evaluation per run with the core function of `alerts check` (alerts/engine.ts runCheck), so
 * the state, the outbox and the notifications are the command's; the outbox is delivered in the
 * background (alerts/delivery.ts). The log channel writes to the agent's log.
 */
async function runAlerts(job: AlertsJob, ctx: Ctx, bg: {delivery?: BackgroundDelivery}): Promise<RunResult> {
  const {runCheck} = await import('../alerts/engine.js')
  const stderr = (line: string) => ctx.log.info(`${job.name}: ${line}`)
  if (!bg.delivery) {
    const {BackgroundDelivery} = await import('../alerts/delivery.js')
    bg.delivery = new BackgroundDelivery(ctx.store, job.rules, {
      stderr,
      onError: (ch, e) => ctx.log.warn(`${job.name}: delivery to channel ${ch} stopped: ${errText(e)}`),
    })
  }
  // Evaluate, then start the deliveries without waiting for them (alerts/delivery.ts): a channel
  // that is down or hangs never delays this evaluation, the next one or the other channels.
  const r = await runCheck(ctx.store, job.rules, {stderr, deliver: false})
  await bg.delivery.kick()
  const {reports, delivering} = bg.delivery.take()
  const {ChannelOutbox} = await import('../outbox/queue.js')
  const {OUTBOX_TABLE} = await import('../alerts/engine.js')
  const depth = (await new ChannelOutbox(ctx.store, OUTBOX_TABLE).depth()).filter(d => job.rules.channels.has(d.channel))
  const names = job.rules.rules.map(x => x.name)
  const pending = names.length
    ? Number(
        (await ctx.store.get<{n: number}>(`SELECT count(*) AS n FROM alerts WHERE state = 'pending' AND rule IN (${names.map(() => '?').join(', ')})`, names))
          ?.n ?? 0,
      )
    : 0
  const notified = reports.reduce((n, d) => n + d.delivered, 0)
  const failing = reports.filter(d => d.failed > 0 || d.dead > 0 || d.waiting < 0)
  const detail = {
    firing: r.firing_count,
    pending,
    notified,
    queued: r.queued,
    silenced: r.firing.filter(f => f.silenced).length,
    rules: r.rules.length,
    transitions: r.rules.reduce((n, x) => n + x.transitions.length, 0),
    waiting: depth.reduce((n, d) => n + Number(d.pending), 0),
    dead: depth.reduce((n, d) => n + Number(d.dead), 0),
    delivering,
    channels: reports,
  }
  if (failing.length)
    return {
      detail,
      error: failing
        .map(d => `channel ${d.channel}: ${d.failed} failed${d.dead ? `, ${d.dead} dead` : ''}${d.last_error ? ` (${d.last_error})` : ''}`)
        .join('; '),
    }
  return {detail}
}

class ScheduledRunner implements Runner {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | null = null
  private readonly ac = new AbortController()
  private stopped = false
  private anchor = Date.now()
  private next: number | null = null
  private readonly cron: Cron | null
  /** The alerts job's deliveries, which outlive a run (alerts/delivery.ts). */
  private readonly bg: {delivery?: BackgroundDelivery} = {}

  constructor(
    readonly job: ScanJob | LatencyJob | PruneJob | AlertsJob,
    private readonly ctx: Ctx,
  ) {
    const s = job.schedule
    this.cron = s.type === 'cron' ? new Cron(s.expr, {paused: true, ...(s.timezone ? {timezone: s.timezone} : {})}) : null
  }

  private nextAfter(t: number): number | null {
    const s = this.job.schedule
    if (s.type === 'every') return this.anchor + (Math.floor((t - this.anchor) / s.ms) + 1) * s.ms
    return this.cron!.nextRun(new Date(t))?.getTime() ?? null
  }

  private arm(at: number | null): void {
    this.next = at
    if (at === null || this.stopped) return
    // setTimeout holds at most ~24.8 days; a later cron slot is re-armed on the way.
    this.timer = setTimeout(() => this.fire(), Math.min(Math.max(0, at - Date.now()), 2 ** 31 - 1))
  }

  async start(): Promise<void> {
    const {repo} = this.ctx
    await this.ctx.write(
      'register',
      repo.register(this.job.name, this.job.kind, describeSchedule(this.job.schedule), this.job.enabled ? 'waiting' : 'disabled'),
    )
    if (!this.job.enabled) return
    this.anchor = Date.now()
    // `every`: the first run at once; `cron`: at the first matching minute.
    this.arm(this.job.schedule.type === 'every' ? this.anchor : this.nextAfter(this.anchor))
    await this.ctx.write('next run', repo.setState(this.job.name, 'waiting', {nextRunAt: this.next}))
  }

  private fire(): void {
    if (this.stopped || this.next === null) return
    const now = Date.now()
    if (now < this.next - 5) return this.arm(this.next) // a far cron slot, re-armed in steps
    const slot = this.next
    this.arm(this.nextAfter(Math.max(now, slot)))
    if (this.running) {
      this.ctx.log.warn(`${this.job.name}: still running when due again: this run is skipped (overrun)`)
      void this.ctx.write('overrun', this.ctx.repo.overrun(this.job.name, this.next))
      return
    }
    this.running = this.runOnce().finally(() => {
      this.running = null
    })
  }

  private async runOnce(): Promise<void> {
    const {job, ctx} = this
    const startedAt = Date.now()
    await ctx.write('start', ctx.repo.started(job.name, startedAt))
    const signal = AbortSignal.any([this.ac.signal, AbortSignal.timeout(job.timeoutMs)])
    let outcome: Outcome = 'ok'
    let error: string | null = null
    let detail: unknown
    try {
      const r = await (job.kind === 'scan'
        ? runScan(job, ctx, signal)
        : job.kind === 'latency'
          ? runLatency(job, ctx, signal)
          : job.kind === 'alerts'
            ? runAlerts(job, ctx, this.bg)
            : runPrune(job, ctx))
      detail = r.detail
      if (r.error) {
        outcome = 'error'
        error = r.error
      }
    } catch (e) {
      outcome = 'error'
      error = signal.aborted && !this.ac.signal.aborted ? `aborted after its timeout (${job.timeoutMs} ms): ${errText(e)}` : errText(e)
    }
    const durationMs = Date.now() - startedAt
    if (outcome === 'ok' && job.schedule.type === 'every' && durationMs > job.schedule.ms) outcome = 'overrun'
    if (error) ctx.log.warn(`${job.name}: ${job.kind} failed`, {error})
    else ctx.log.debug(`${job.name}: ${job.kind} done in ${durationMs} ms`)
    await ctx.write(
      'finish',
      ctx.repo.finished(job.name, {
        startedAt,
        durationMs,
        outcome,
        error,
        nextRunAt: this.stopped ? null : this.next,
        ...(detail === undefined ? {} : {detail}),
      }),
    )
  }

  async stop(graceMs: number): Promise<boolean> {
    this.stopped = true
    clearTimeout(this.timer)
    const started = Date.now()
    const r = this.running
    let ok = true
    if (r && !(await within(r, graceMs))) {
      this.ac.abort()
      await within(r, 2000)
      ok = false
    }
    // Deliveries still going get the rest of the grace; one cut short leaves its row queued.
    const d = this.bg.delivery
    if (d && !(await d.idle(Math.max(0, graceMs - (Date.now() - started))))) ok = false
    return ok
  }
}

// ---------- the collector ----------

class CollectorJobRunner implements Runner {
  private readonly ac = new AbortController()
  private loop: Promise<void> = Promise.resolve()
  private writes: Promise<void> = Promise.resolve()
  private runner: CollectorRunner | null = null

  constructor(
    readonly job: CollectorJob,
    private readonly ctx: Ctx,
  ) {}

  async start(): Promise<void> {
    const {job, ctx} = this
    const sched = describeSchedule(job.schedule)
    await ctx.write('register', ctx.repo.register(job.name, job.kind, sched, job.enabled ? 'running' : 'disabled'))
    if (!job.enabled) return
    let sources: CounterSource[]
    try {
      sources = await buildSources(job.sources)
    } catch (e) {
      const error = errText(e)
      ctx.log.error(`${job.name}: cannot start the collector: ${error}`)
      await ctx.write('failed', ctx.repo.setState(job.name, 'failed', {error, nextRunAt: null}))
      return
    }
    const interval = job.schedule.ms
    const runner = new CollectorRunner({
      sources,
      store: ctx.store,
      maxRateBps: job.maxRateBps ?? DEFAULT_MAX_RATE_BPS,
      ...(job.readTimeoutMs !== undefined ? {readTimeoutMs: job.readTimeoutMs} : {}),
      log: ctx.log,
    })
    this.runner = runner
    const start = Date.now()
    const onTick = (t: TickResult) => {
      const failed = t.sources.filter(s => s.error)
      const next = start + (Math.floor((Date.now() - start) / interval) + 1) * interval
      const outcome: Outcome = failed.length ? 'error' : t.durationMs > interval ? 'overrun' : 'ok'
      const error = failed.length ? failed.map(s => `${s.source}: ${s.error}`).join('; ') : null
      const detail = {
        readings: t.sources.reduce((n, s) => n + s.readings.length, 0),
        ticks: runner.ticks,
        sources: runner.status().map(s => ({
          name: s.name,
          kind: s.kind,
          state: s.state,
          reads: s.reads,
          failures: s.failures,
          consecutive_failures: s.consecutiveFailures,
          readings: s.lastReadings,
          error: s.lastError,
        })),
      }
      // In order, one after another: a slow store delays status rows, never the ticks.
      this.writes = this.writes.then(() =>
        ctx.write(
          'tick',
          ctx.repo.finished(job.name, {
            startedAt: t.startedAt,
            durationMs: t.durationMs,
            outcome,
            error,
            nextRunAt: next,
            overruns: runner.overruns,
            detail,
            state: 'running',
          }),
        ),
      )
    }
    this.loop = runner.run({intervalMs: interval, jitterMs: job.jitterMs, signal: this.ac.signal, onTick}).catch(e => {
      ctx.log.error(`${job.name}: collector stopped: ${errText(e)}`)
      return ctx.write('failed', ctx.repo.setState(job.name, 'failed', {error: errText(e), nextRunAt: null}))
    })
  }

  async stop(graceMs: number): Promise<boolean> {
    this.ac.abort()
    const ok = await within(this.loop, graceMs)
    await within(this.writes, 2000)
    await this.runner?.close()
    return ok
  }
}

// ---------- the netflow collector ----------

class NetflowJobRunner implements Runner {
  private listener: import('../netflow/listener.js').NetflowListener | null = null
  private timer: NodeJS.Timeout | undefined
  private retry: NodeJS.Timeout | undefined
  private backoffMs = 2000
  private stopped = false
  private writing: Promise<void> | null = null
  private overruns = 0
  private readonly totals = {
    flushes: 0,
    samples: 0,
    bytes_sent: 0,
    bytes_received: 0,
    port_rows: 0,
    registered: 0,
    skipped_flows: 0,
    write_failures: 0,
    lost_flows: 0,
  }
  private last: import('../bandwidth/flows.js').FlowWriteResult | null = null

  constructor(
    readonly job: NetflowJob,
    private readonly ctx: Ctx,
  ) {}

  async start(): Promise<void> {
    const {job, ctx} = this
    await ctx.write('register', ctx.repo.register(job.name, job.kind, `continuous, flush every ${job.everyMs / 1000}s`, job.enabled ? 'running' : 'disabled'))
    if (!job.enabled) return
    await this.bind()
  }

  private async bind(): Promise<void> {
    const {job, ctx} = this
    const {NetflowListener} = await import('../netflow/listener.js')
    const startedAt = Date.now()
    const l = new NetflowListener({
      address: job.address,
      port: job.port,
      localSubnets: job.lan,
      intervalMs: job.everyMs,
      exporters: job.exporters,
      maxHostsPerBucket: job.maxHosts,
      // Buckets of the last hour at most (late flows), and ten intervals' worth of hosts overall.
      maxBuckets: Math.max(6, Math.ceil(3_600_000 / job.everyMs)),
      maxHeldHosts: job.maxHosts * 10,
    })
    try {
      const a = await l.start()
      if (this.stopped) {
        await l.stop()
        return
      }
      this.listener = l
      this.backoffMs = 2000
      ctx.log.info(`${job.name}: netflow listening on ${a.address}:${a.port} (udp), flush every ${job.everyMs / 1000}s`)
      await ctx.write(
        'started',
        ctx.repo.finished(job.name, {
          startedAt,
          durationMs: Date.now() - startedAt,
          outcome: 'ok',
          error: null,
          nextRunAt: this.nextFlush(),
          detail: this.detail(),
          state: 'running',
        }),
      )
      this.arm()
    } catch (e) {
      await l.stop().catch(() => {})
      const error = errText(e)
      const wait = this.backoffMs
      this.backoffMs = Math.min(this.backoffMs * 2, 60_000)
      ctx.log.error(`${job.name}: netflow cannot listen on ${job.address}:${job.port} (retry in ${Math.round(wait / 1000)} s): ${error}`)
      await ctx.write(
        'failed',
        ctx.repo.finished(job.name, {startedAt, durationMs: Date.now() - startedAt, outcome: 'error', error, nextRunAt: Date.now() + wait, state: 'failed'}),
      )
      if (!this.stopped) this.retry = setTimeout(() => void this.bind(), wait)
    }
  }

  /** Just after the next interval boundary (buckets are aligned to the epoch grid). */
  private nextFlush(): number {
    const every = this.job.everyMs
    return (Math.floor(Date.now() / every) + 1) * every + 100
  }

  private arm(): void {
    if (this.stopped) return
    this.timer = setTimeout(() => this.flush(false), Math.max(0, this.nextFlush() - Date.now()))
  }

  private flush(all: boolean): Promise<void> {
    const l = this.listener
    if (!l) return Promise.resolve()
    if (this.writing && !all) {
      // The previous write is still going: its buckets stay in the listener (capped) for the next flush.
      this.overruns++
      this.ctx.log.warn(`${this.job.name}: the previous flush is still writing: this one is skipped (overrun)`)
      this.arm()
      return Promise.resolve()
    }
    const run = async () => {
      if (this.writing) await this.writing
      const {job, ctx} = this
      const startedAt = Date.now()
      const every = job.everyMs
      const buckets = l.drain(all ? Number.POSITIVE_INFINITY : Math.floor(startedAt / every) * every)
      let error: string | null = null
      try {
        const {writeFlowBuckets} = await import('../bandwidth/flows.js')
        const r = await writeFlowBuckets(ctx.store, buckets, {intervalMs: every})
        this.last = r
        const t = this.totals
        t.flushes++
        t.samples += r.samples
        t.bytes_sent += r.bytes_sent
        t.bytes_received += r.bytes_received
        t.port_rows += r.port_rows
        t.registered += r.registered
        t.skipped_flows += r.skipped_flows
      } catch (e) {
        error = `bandwidth write failed (${buckets.length} bucket(s) lost): ${errText(e)}`
        this.totals.write_failures++
        for (const b of buckets) for (const h of b.hosts.values()) this.totals.lost_flows += h.flows
        ctx.log.warn(`${job.name}: ${error}`)
      }
      const durationMs = Date.now() - startedAt
      await ctx.write(
        'flush',
        ctx.repo.finished(job.name, {
          startedAt,
          durationMs,
          outcome: error ? 'error' : durationMs > every ? 'overrun' : 'ok',
          error,
          nextRunAt: all ? null : this.nextFlush(),
          overruns: this.overruns,
          detail: this.detail(),
          state: all ? 'stopped' : 'running',
        }),
      )
    }
    const p = run().finally(() => {
      if (this.writing === p) this.writing = null
    })
    this.writing = p
    if (!all) this.arm()
    return p
  }

  /** The status row's detail: the listener's counters and what was written. */
  detail(): Record<string, unknown> {
    const l = this.listener
    const c = l?.counters
    const {job} = this
    return {
      listen: l ? `${l.address().address}:${l.address().port}` : `${job.address}:${job.port}`,
      lan: job.lan,
      every_ms: job.everyMs,
      exporters_allowed: job.exporters.length ? job.exporters : 'any',
      sampling: 'bytes/packets of sampled exports are scaled by the sampling interval the exporter announces',
      datagrams: c ? {received: c.received, decoded: c.decoded, dropped: c.dropped, malformed: c.malformed, malformed_by_reason: c.malformedByReason} : null,
      flows: c
        ? {
            decoded: c.flows,
            unattributed: c.unattributedFlows,
            overflow: c.overflowFlows,
            port_overflow: c.portOverflowFlows,
            sampled: c.sampledFlows,
            unknown_template_sets: c.unknownSets,
          }
        : null,
      held: l ? {hosts: l.heldHosts, buckets: l.openBuckets} : null,
      templates: l
        ? {
            exporters: l.cache.exporterCount,
            templates: l.cache.templateCount,
            evictions: l.cache.totals.evictedTemplates + l.cache.totals.evictedExporters + l.cache.totals.evictedDomains,
          }
        : null,
      hosts: this.last?.hosts ?? 0,
      last_flush: this.last,
      written: this.totals,
    }
  }

  async stop(graceMs: number): Promise<boolean> {
    this.stopped = true
    clearTimeout(this.timer)
    clearTimeout(this.retry)
    const l = this.listener
    if (!l) return true
    await l.stop()
    // What the listener still holds (the current interval, late flows) is written before stopping.
    const ok = await within(this.flush(true), graceMs)
    this.listener = null
    return ok
  }
}

// ---------- daemons: bridge and serve ----------

interface Daemon {
  stop(graceMs: number): Promise<void>
  update?(next: AgentJob): Promise<boolean>
  detail: unknown
}

class DaemonRunner implements Runner {
  private daemon: Daemon | null = null
  private stopped = false
  private retry: NodeJS.Timeout | undefined
  private backoffMs = 2000
  private starting: Promise<void> = Promise.resolve()

  constructor(
    public job: BridgeJob | ServeJob,
    private readonly ctx: Ctx,
  ) {}

  async start(): Promise<void> {
    const {job, ctx} = this
    await ctx.write('register', ctx.repo.register(job.name, job.kind, 'continuous', job.enabled ? 'running' : 'disabled'))
    if (!job.enabled) return
    this.starting = this.attempt()
    await this.starting
  }

  private async attempt(): Promise<void> {
    const {job, ctx} = this
    const startedAt = Date.now()
    try {
      const d = job.kind === 'bridge' ? await startBridgeDaemon(job, ctx) : await startServeDaemon(job, ctx)
      if (this.stopped) {
        await d.stop(1000)
        return
      }
      this.daemon = d
      this.backoffMs = 2000
      await ctx.write(
        'started',
        ctx.repo.finished(job.name, {
          startedAt,
          durationMs: Date.now() - startedAt,
          outcome: 'ok',
          error: null,
          nextRunAt: null,
          detail: d.detail,
          state: 'running',
        }),
      )
    } catch (e) {
      const error = errText(e)
      const wait = this.backoffMs
      this.backoffMs = Math.min(this.backoffMs * 2, 60_000)
      ctx.log.error(`${job.name}: ${job.kind} did not start (retry in ${Math.round(wait / 1000)} s): ${error}`)
      await ctx.write(
        'failed',
        ctx.repo.finished(job.name, {startedAt, durationMs: Date.now() - startedAt, outcome: 'error', error, nextRunAt: Date.now() + wait, state: 'failed'}),
      )
      if (!this.stopped)
        this.retry = setTimeout(() => {
          this.starting = this.attempt()
        }, wait)
    }
  }

  async update(next: AgentJob): Promise<boolean> {
    if (!this.daemon?.update || next.kind !== this.job.kind) return false
    const ok = await this.daemon.update(next)
    if (ok) this.job = next as BridgeJob | ServeJob
    return ok
  }

  async stop(graceMs: number): Promise<boolean> {
    this.stopped = true
    clearTimeout(this.retry)
    await within(this.starting, graceMs)
    if (!this.daemon) return true
    return within(this.daemon.stop(graceMs), graceMs + 2000)
  }
}

async function startBridgeDaemon(job: BridgeJob, ctx: Ctx): Promise<Daemon> {
  const {startBridge} = await import('../bridge/daemon.js')
  const bridge: Bridge = await startBridge(job.bridge, {store: ctx.store, log: ctx.log})
  ctx.log.info(`${job.name}: bridge started, ${job.bridge.meters.length} meter(s), broker ${job.bridge.mqtt.url}`)
  return {
    detail: {meters: job.bridge.meters.length, broker: job.bridge.mqtt.url},
    async stop() {
      await bridge.stop()
    },
    async update(next) {
      if (next.kind !== 'bridge') return false
      const r = await bridge.reload(next.bridge)
      ctx.log.info(`${job.name}: bridge config reloaded`, r)
      return true
    },
  }
}

async function startServeDaemon(job: ServeJob, ctx: Ctx): Promise<Daemon> {
  const {startServer} = await import('../serve/server.js')
  const {isLoopbackHost} = await import('../serve/options.js')
  const server = await startServer({
    host: job.host,
    port: job.port,
    token: job.token,
    tokenSource: job.tokenSource,
    loopback: isLoopbackHost(job.host),
    store: ctx.store,
    log: ctx.log,
    accessLog: job.accessLog,
    ...(ctx.version ? {version: ctx.version} : {}),
  })
  ctx.log.info(`${job.name}: serve listening on ${server.url}`)
  return {
    detail: {url: server.url},
    stop: graceMs => server.close(graceMs),
  }
}

// ---------- the host ----------

function runnerFor(job: AgentJob, ctx: Ctx): Runner {
  switch (job.kind) {
    case 'collector':
      return new CollectorJobRunner(job, ctx)
    case 'bridge':
    case 'serve':
      return new DaemonRunner(job, ctx)
    case 'netflow':
      return new NetflowJobRunner(job, ctx)
    default:
      return new ScheduledRunner(job, ctx)
  }
}

/** The bridge's resolved config is compared too: its file may change while the agent config does not. */
const sameJob = (a: AgentJob, b: AgentJob): boolean =>
  a.fingerprint === b.fingerprint &&
  (a.kind !== 'bridge' || b.kind !== 'bridge' || JSON.stringify(a.bridge) === JSON.stringify(b.bridge)) &&
  (a.kind !== 'alerts' || b.kind !== 'alerts' || a.rulesFingerprint === b.rulesFingerprint)

export async function startAgent(config: AgentConfig, opts: AgentOptions): Promise<AgentHost> {
  const {store, log} = opts
  if (opts.singleInstance !== false) await checkSingleAgent(store)
  let cfg = config
  let repo = new AgentRepo(store, cfg.heartbeatMs)
  const ctx: Ctx = {
    store,
    log,
    get repo() {
      return repo
    },
    ...(opts.version ? {version: opts.version} : {}),
    async write(what, p) {
      try {
        await p
      } catch (e) {
        log.warn(`status row not written (${what}): ${errText(e)}`)
      }
    },
  }
  const runners = new Map<string, Runner>()
  for (const job of cfg.jobs) runners.set(job.name, runnerFor(job, ctx))
  // Start each on its own: one that cannot start is recorded as failed, the others run.
  await Promise.all([...runners.values()].map(r => r.start().catch(e => log.error(`${r.job.name}: ${errText(e)}`))))
  log.info(`agent: ${runners.size} job(s) running: ${cfg.jobs.map(j => `${j.name} (${j.kind}, ${describeSchedule(j.schedule)})`).join(', ')}`)

  let heartbeat = setInterval(() => void ctx.write('heartbeat', repo.heartbeat()), cfg.heartbeatMs)
  let reloading: Promise<unknown> = Promise.resolve()
  let stopping: Promise<{aborted: string[]}> | null = null

  const host: AgentHost = {
    get config() {
      return cfg
    },
    jobs: () => [...runners.keys()],
    reload(next) {
      const r = reloading.then(async () => {
        if (stopping) return {added: [], removed: [], changed: []}
        if ((next.store.db ?? null) !== (cfg.store.db ?? null)) log.warn('agent: store.db changed: the new store is used after a restart only')
        const added: string[] = []
        const removed: string[] = []
        const changed: string[] = []
        const wanted = new Map(next.jobs.map(j => [j.name, j]))
        for (const [name, r] of runners) {
          if (wanted.has(name)) continue
          await r.stop(next.shutdownTimeoutMs)
          runners.delete(name)
          await ctx.write('deactivate', repo.deactivate(name))
          removed.push(name)
        }
        if (next.heartbeatMs !== cfg.heartbeatMs) {
          clearInterval(heartbeat)
          repo = new AgentRepo(store, next.heartbeatMs)
          heartbeat = setInterval(() => void ctx.write('heartbeat', repo.heartbeat()), next.heartbeatMs)
        }
        for (const job of next.jobs) {
          const old = runners.get(job.name)
          if (old && sameJob(old.job, job)) continue
          if (old) {
            changed.push(job.name)
            if (old.job.kind === job.kind && job.enabled && old.job.enabled && (await old.update?.(job))) continue
            await old.stop(next.shutdownTimeoutMs)
          } else added.push(job.name)
          const r = runnerFor(job, ctx)
          runners.set(job.name, r)
          await r.start().catch(e => log.error(`${job.name}: ${errText(e)}`))
        }
        cfg = next
        log.info(`agent: config reloaded: ${added.length} added, ${removed.length} removed, ${changed.length} changed`, {added, removed, changed})
        return {added, removed, changed}
      })
      reloading = r.catch(() => undefined)
      return r
    },
    stop() {
      stopping ??= (async () => {
        await reloading
        clearInterval(heartbeat)
        const aborted: string[] = []
        await Promise.all(
          [...runners.values()].map(async r => {
            if (!(await r.stop(cfg.shutdownTimeoutMs).catch(() => false))) aborted.push(r.job.name)
          }),
        )
        await ctx.write('stopped', repo.stopped())
        if (aborted.length) log.warn(`agent: stopped; aborted after ${cfg.shutdownTimeoutMs} ms: ${aborted.join(', ')}`)
        return {aborted}
      })()
      return stopping
    },
  }
  return host
}

/**
 * `netmon latency`: probe every host at once, summarise, store, report.
 *
 * Order of work (issue 6, CONVENTIONS "bad input writes nothing"):
 *   1. validate options, check host syntax, resolve names once, check `ping` (in parallel);
 *   2. start one session per host (ICMP: one `ping` each; TCP: a connect schedule each);
 *   3. count mode: when all sessions end, store every host's run in ONE transaction;
 *      --watch: every --count probes per host form a round, stored as a run as soon as it is
 *      complete (so an interrupted watch keeps what it measured); the last partial round is
 *      stored at SIGINT.
 * An unreachable host is a result (100 % loss), never an error.
 */
import {NetmonError, invalidInput} from '../errors.js'
import {stamp, type Stamp} from '../format/time.js'
import type {Store} from '../store/index.js'
import {validate} from '../validate.js'
import {checkPing, type PingCheck, startIcmpSession} from './icmp.js'
import {latencyOptionsSchema, type LatencyInput, type LatencyOptions} from './options.js'
import type {Method, Probe, Session} from './probe.js'
import {RunningStats, summarize, type LatencyStats} from './stats.js'
import {devicesByIp, saveRuns, type DeviceRef, type RunRecord} from './store.js'
import {checkHosts, generateSpecs, readTargetFile, resolveTargets, type Resolver, type Target} from './targets.js'
import {startTcpSession} from './tcp.js'

export interface HostResult extends LatencyStats {
  host: string
  ip: string
  method: Method
  port: number | null
  device: DeviceRef | null
  /** Count mode: the stored run. */
  run_id: number | null
  /** --watch: how many rounds were stored. */
  runs: number
  duplicates: number
  /** Host-level failure (no route, ping could not send), else null. */
  error: string | null
  started: Stamp | null
  ended: Stamp | null
  /** Count mode: RTT per probe in send order, null = lost. */
  rtts_ms?: (number | null)[]
}

export interface LatencyResult {
  method: Method
  /** Why the method was chosen when it was not asked for (e.g. "ping not found"). */
  method_note: string | null
  count: number
  interval_ms: number
  timeout_ms: number
  port: number | null
  watch: boolean
  /** Hosts probed at once (--concurrency). */
  concurrency: number
  started: Stamp
  ended: Stamp
  /** Stopped (SIGINT/SIGTERM) before every host was probed: those hosts are left out. */
  interrupted: boolean
  hosts: HostResult[]
  /** Hosts with at least one reply (fping -a), in target order. */
  alive: string[]
  /** Hosts with no reply at all (fping -u; what --fail-on-loss looks at), in target order. */
  unreachable: string[]
}

export interface RoundResult extends HostResult {
  round: number
}

export interface LatencyHooks {
  signal?: AbortSignal
  /** After resolution and method choice, before the first probe. */
  onStart?: (info: {method: Method; methodNote: string | null; targets: Target[]; devices: Map<string, DeviceRef>}) => void
  /** Every settled probe, with the host's running totals (this whole session). */
  onProbe?: (target: Target, probe: Probe, live: LatencyStats & {last_ms: number | null}) => void
  /** --watch: a round was stored. */
  onRound?: (round: RoundResult) => void
  /** Count mode: a host's session ended (for a progress bar). */
  onHostDone?: (progress: {hosts_done: number; hosts_total: number; alive: number}) => void
  /** A warning for stderr. */
  onNote?: (text: string) => void
}

export interface MeasureEnv {
  env?: NodeJS.ProcessEnv
  resolver?: Resolver
  /** `-f -`: reads standard input (injectable for tests). */
  readStdin?: () => Promise<string>
  /** The caller cannot raise --max-targets (the HTTP API): error hints do not offer it. */
  fixedCap?: boolean
}

/** Picks ICMP or TCP. An explicit `--method icmp` that cannot work is an error with the way out. */
export async function chooseMethod(
  asked: LatencyOptions['method'],
  intervalMs: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{method: Method; note: string | null; pingPath: string | null}> {
  if (asked === 'tcp') return {method: 'tcp', note: null, pingPath: null}
  const check: PingCheck = await checkPing(intervalMs, env)
  if (check.ok) return {method: 'icmp', note: null, pingPath: check.path}
  if (asked === 'auto') {
    return {method: 'tcp', note: `ICMP unavailable (${check.message}); measuring TCP connect time instead`, pingPath: null}
  }
  if (check.reason === 'interval') {
    throw invalidInput(
      `--interval ${intervalMs}ms is below what ping allows without root (${check.message})`,
      'use a longer --interval, run as root, or use --method tcp',
    )
  }
  const how =
    check.reason === 'missing'
      ? 'install iputils-ping (Debian/Ubuntu: apt-get install iputils-ping), or use --method tcp (no privileges needed)'
      : check.reason === 'permission'
        ? 'ping lacks the privilege to send ICMP (setcap cap_net_raw+ep on it, or set net.ipv4.ping_group_range), or use --method tcp'
        : 'use --method tcp'
  throw new NetmonError('not_found', `ICMP probing is unavailable: ${check.message}`, {hint: how, code: 'PING_UNAVAILABLE'})
}

interface HostState {
  target: Target
  device: DeviceRef | null
  /** Count mode: all probes. */
  probes: Probe[]
  running: RunningStats
  rounds: Map<number, {probes: Probe[]; duplicates: number}>
  roundsSaved: number
  duplicates: number
  error: string | null
  session: Session | null
  seqOffset: number
  maxSeq: number
  firstTs: number | null
  lastTs: number | null
  runId: number | null
}

export interface LatencyPlan {
  opts: LatencyOptions
  targets: Target[]
  method: Method
  methodNote: string | null
  pingPath: string | null
  env: NodeJS.ProcessEnv
}

/**
 * Everything that can fail on bad input, before the store is opened: options, host syntax,
 * name resolution (once), and whether ping works (in parallel with resolution).
 */
export async function planLatency(input: LatencyInput, menv: MeasureEnv = {}): Promise<LatencyPlan> {
  const given = validate(latencyOptionsSchema, input)
  // fping -g (the arguments are a CIDR or START END) and -f (a file, or stdin), then one list.
  const hosts = [
    ...(given.generate ? generateSpecs(given.hosts) : given.hosts),
    ...(given.file !== undefined ? await readTargetFile(given.file, menv.readStdin) : []),
  ]
  const opts: LatencyOptions = {...given, hosts}
  const cap = {maxTargets: opts.maxTargets, fixedCap: menv.fixedCap}
  const checked = checkHosts(hosts, cap)
  if (opts.watch && checked.length > opts.concurrency) {
    throw invalidInput(
      `--watch probes every host all the time: ${checked.length} targets, more than --concurrency ${opts.concurrency}`,
      `raise --concurrency to ${checked.length} (at most 1024), or watch fewer hosts`,
    )
  }
  const env = menv.env ?? process.env
  const [targets, chosen] = await Promise.all([resolveTargets(hosts, menv.resolver, cap), chooseMethod(opts.method, opts.interval, env)])
  return {opts, targets, method: chosen.method, methodNote: chosen.note, pingPath: chosen.pingPath, env}
}

export async function measureLatency(store: Store, plan: LatencyPlan, hooks: LatencyHooks = {}): Promise<LatencyResult> {
  const {opts, targets, method, env} = plan
  const chosen = {note: plan.methodNote, pingPath: plan.pingPath}
  const devices = await devicesByIp(
    store,
    targets.map(t => t.ip),
  )
  const port = method === 'tcp' ? opts.port : null
  if (chosen.note) hooks.onNote?.(chosen.note)
  hooks.onStart?.({method, methodNote: chosen.note, targets, devices})

  const started = Date.now()
  let stopping = false
  const states: HostState[] = targets.map(target => ({
    target,
    device: devices.get(target.ip) ?? null,
    probes: [],
    running: new RunningStats(),
    rounds: new Map(),
    roundsSaved: 0,
    duplicates: 0,
    error: null,
    session: null,
    seqOffset: 0,
    maxSeq: 0,
    firstTs: null,
    lastTs: null,
    runId: null,
  }))

  // --watch rounds are written one transaction each, one after another.
  let writes: Promise<unknown> = Promise.resolve()
  let writeError: unknown = null
  const enqueueWrite = (fn: () => Promise<void>) => {
    writes = writes.then(fn).catch(e => {
      writeError ??= e
    })
  }

  const record = (s: HostState, probes: Probe[], duplicates: number): RunRecord => {
    const sorted = [...probes].sort((a, b) => a.seq - b.seq)
    const stats = summarize(sorted.map(p => p.rtt_ms))
    // Loops, not Math.min(...spread): a run may hold up to a million probes.
    let startedAt = Infinity
    let endedAt = -Infinity
    for (const p of sorted) {
      startedAt = Math.min(startedAt, p.ts)
      endedAt = Math.max(endedAt, p.ts + (p.rtt_ms ?? opts.timeout))
    }
    if (sorted.length === 0) startedAt = endedAt = started
    return {
      target: s.target,
      method,
      port,
      intervalMs: opts.interval,
      timeoutMs: opts.timeout,
      startedAt,
      endedAt: Math.max(startedAt, Math.round(endedAt)),
      stats,
      duplicates,
      error: stats.received === 0 ? s.error : null,
      probes: sorted,
    }
  }

  const flushRound = (s: HostState, index: number) => {
    const r = s.rounds.get(index)
    if (!r || r.probes.length === 0) return
    s.rounds.delete(index)
    const rec = record(s, r.probes, r.duplicates)
    enqueueWrite(async () => {
      const [saved] = await saveRuns(store, [rec])
      s.roundsSaved++
      hooks.onRound?.({...hostResult(s, rec.stats, rec), run_id: saved!.run_id, round: index + 1, runs: s.roundsSaved})
    })
  }

  const hostResult = (s: HostState, stats: LatencyStats, rec?: RunRecord): HostResult => ({
    host: s.target.host,
    ip: s.target.ip,
    method,
    port,
    device: s.device,
    run_id: s.runId,
    runs: s.roundsSaved,
    duplicates: rec ? rec.duplicates : s.duplicates,
    error: stats.received === 0 ? s.error : null,
    ...stats,
    started: rec ? stamp(rec.startedAt) : s.firstTs !== null ? stamp(s.firstTs) : null,
    ended: rec ? stamp(rec.endedAt) : s.lastTs !== null ? stamp(s.lastTs) : null,
  })

  const onProbe = (s: HostState, raw: Probe) => {
    const p: Probe = {...raw, seq: raw.seq + s.seqOffset}
    s.maxSeq = Math.max(s.maxSeq, p.seq)
    s.firstTs = s.firstTs === null ? p.ts : Math.min(s.firstTs, p.ts)
    s.lastTs = Math.max(s.lastTs ?? 0, p.ts + (p.rtt_ms ?? 0))
    if (p.status === 'error' && p.detail) s.error = p.detail
    if (p.status === 'unreachable' && p.detail && !s.error) s.error = p.detail
    s.running.add(p.rtt_ms)
    if (opts.watch) {
      const index = Math.floor((p.seq - 1) / opts.count)
      let r = s.rounds.get(index)
      if (!r) s.rounds.set(index, (r = {probes: [], duplicates: 0}))
      r.probes.push(p)
      if (r.probes.length === opts.count) flushRound(s, index)
    } else {
      s.probes.push(p)
    }
    hooks.onProbe?.(s.target, p, {...s.running.snapshot(), last_ms: p.rtt_ms})
  }

  const startSession = (s: HostState): Session => {
    const base = {
      target: s.target,
      count: opts.watch ? null : opts.count,
      intervalMs: opts.interval,
      timeoutMs: opts.timeout,
      onProbe: (p: Probe) => onProbe(s, p),
      onDuplicate: (seq: number) => {
        s.duplicates++
        // --watch: counted in the round of that probe while it is still open.
        const r = s.rounds.get(Math.floor((seq + s.seqOffset - 1) / opts.count))
        if (r) r.duplicates++
      },
    }
    return method === 'icmp' ? startIcmpSession(base, chosen.pingPath!, env) : startTcpSession({...base, port: opts.port})
  }

  // One host's life: a session; in --watch a session that ends by itself (ping died: no route,
  // interface down) is restarted after a pause, its seqs continuing where the last one stopped.
  const runHost = async (s: HostState): Promise<void> => {
    for (;;) {
      if (stopping) return // interrupted before this host started
      s.session = startSession(s)
      const end = await s.session.done
      if (end.error) s.error = end.error
      if (!opts.watch || stopping) return
      s.seqOffset = s.maxSeq
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, Math.max(opts.interval, 1000))
        hooks.signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), {once: true})
      })
      if (stopping) return
    }
  }

  const stopAll = () => {
    stopping = true
    for (const s of states) s.session?.stop()
  }
  if (hooks.signal?.aborted) stopAll()
  hooks.signal?.addEventListener('abort', stopAll, {once: true})
  // At most --concurrency hosts at once (each ICMP host is a `ping` process): a worker takes the
  // next host in target order as soon as its last one is done.
  let next = 0
  let done = 0
  let alive = 0
  const worker = async () => {
    while (next < states.length && !stopping) {
      const s = states[next++]!
      await runHost(s)
      done++
      if (s.running.snapshot().received > 0) alive++
      hooks.onHostDone?.({hosts_done: done, hosts_total: states.length, alive})
    }
  }
  try {
    await Promise.all(Array.from({length: Math.min(opts.concurrency, states.length)}, worker))
  } finally {
    hooks.signal?.removeEventListener('abort', stopAll)
  }
  // Hosts an interrupt kept from starting were not measured: neither stored nor reported.
  const measured = states.filter(s => s.session !== null)
  const interrupted = measured.length < states.length

  let results: HostResult[]
  if (opts.watch) {
    for (const s of measured) for (const index of [...s.rounds.keys()].sort((a, b) => a - b)) flushRound(s, index)
    await writes
    if (writeError) throw writeError
    results = measured.map(s => hostResult(s, s.running.snapshot()))
  } else {
    const recs = measured.map(s => record(s, s.probes, s.duplicates))
    const saved = await saveRuns(store, recs)
    results = measured.map((s, i) => {
      s.runId = saved[i]!.run_id
      return {...hostResult(s, recs[i]!.stats, recs[i]!), rtts_ms: recs[i]!.probes.map(p => p.rtt_ms)}
    })
  }
  return {
    method,
    method_note: chosen.note,
    count: opts.count,
    interval_ms: opts.interval,
    timeout_ms: opts.timeout,
    port,
    watch: opts.watch,
    concurrency: opts.concurrency,
    started: stamp(started),
    ended: stamp(Date.now()),
    interrupted,
    hosts: results,
    alive: results.filter(h => h.received > 0).map(h => h.host),
    unreachable: results.filter(h => h.sent > 0 && h.received === 0).map(h => h.host),
  }
}

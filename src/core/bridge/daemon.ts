/**
 * The bridge daemon (issue 8): meter workers → store (readings + outbox) → MQTT, plus self-metrics,
 * heartbeat and status rows that short CLI commands read from the same store while it runs.
 *
 *   const b = await startBridge(config, {store, log})
 *   await b.reload(newConfig)   // SIGHUP: meters added / removed / changed without a restart
 *   await b.stop()              // SIGTERM: stop polling, flush, final metrics row, wait for PUBACKs (bounded)
 *
 * Signals are wired by the command (src/commands/bridge/run.ts); this module never touches process.
 */
import {hostname} from 'node:os'
import {NetmonError} from '../errors.js'
import type {Logger} from '../log.js'
import {MqttConnection} from '../mqtt/connection.js'
import {gatewayConnectMessage, gatewayDisconnectMessage, telemetryMessage, type MeterRef} from '../mqtt/formats.js'
import {publishPacketSize} from '../mqtt/packet.js'
import {NetSampler, type CounterSource} from '../netstats/sampler.js'
import {redact} from '../secrets.js'
import type {Store} from '../store/index.js'
import type {BridgeConfig, MeterConfig, MqttConfig} from './config.js'
import {avgPayload, diffCounters, LatencyWindow, MeterCounters, zeroCounters, type CounterSnapshot} from './counters.js'
import {Delivery, type OutboxEntry} from './outbox.js'
import {insertMetricsStmt, meterNames, pruneOld, syncMeters, upsertBridgeStatusStmt, upsertMeterStatusStmt, type MetricsRow} from './repo.js'
import {subscriptions} from './downlink.js'
import {Downlink} from './rpc.js'
import {PushListener} from './push.js'
import {MeterWorker, type PollResult} from './worker.js'
import {InvocationCounterStore} from '../dlms/counters.js'
import {ProfileJob, type ProfileRowOut} from './profile.js'
import {lastProfileCapture, profileStatusDetail} from './repo.js'

export interface BridgeOptions {
  store: Store
  log: Logger
  /** For tests: interface counter source of the sampler. */
  counterSource?: CounterSource
  /** Refuse to start when another live bridge heartbeats in this store (default true). */
  singleInstance?: boolean
  /** Outbox write grouping (ms). */
  flushMs?: number
}

export interface Bridge {
  readonly config: BridgeConfig
  reload(next: BridgeConfig): Promise<{added: string[]; removed: string[]; changed: string[]}>
  stop(): Promise<{inflightLeft: number}>
  /** Resolves when stop() has completed. */
  readonly stopped: Promise<void>
  snapshot(): BridgeSnapshot
}

export interface BridgeSnapshot {
  brokerConnected: boolean
  published: number
  stored: number
  dropped: number
  outboxDepth: number
  inflight: number
  latency: ReturnType<LatencyWindow['summary']>
  meters: Record<
    string,
    {
      state: string
      polls: number
      failures: number
      overruns: number
      consecutiveFailures: number
      lastError: string | null
      /** In force: the config's, or ThingsBoard's shared attribute poll_interval. */
      pollIntervalMs: number
      published: number
      counters: CounterSnapshot
    }
  >
}

/** The daemon's own footprint, for `bridge status` (RSS, heap, CPU seconds since start). */
function processStats(): {rss_bytes: number; heap_used_bytes: number; heap_total_bytes: number; external_bytes: number; cpu_seconds: number} {
  const m = process.memoryUsage()
  const c = process.cpuUsage()
  return {
    rss_bytes: m.rss,
    heap_used_bytes: m.heapUsed,
    heap_total_bytes: m.heapTotal,
    external_bytes: m.external + m.arrayBuffers,
    cpu_seconds: Math.round((c.user + c.system) / 1e4) / 100,
  }
}

const sameMeter = (a: MeterConfig, b: MeterConfig): boolean => JSON.stringify(a) === JSON.stringify(b)

interface MeterRuntime {
  cfg: MeterConfig
  worker: MeterWorker
  profiles: ProfileJob[]
  published: number
  dropped: number
}

/** Another bridge that heartbeats into this store (and whose process is alive when it is on this host). */
async function checkSingleInstance(store: Store): Promise<void> {
  const row = await store.get<{pid: number; hostname: string; heartbeat_at: number; heartbeat_interval_ms: number; stopped_at: number | null}>(
    'SELECT pid, hostname, heartbeat_at, heartbeat_interval_ms, stopped_at FROM bridge_status WHERE id = 1',
  )
  if (!row || row.stopped_at !== null) return
  const fresh = Date.now() - Number(row.heartbeat_at) < Math.max(3 * Number(row.heartbeat_interval_ms), 5000)
  if (!fresh) return
  if (row.hostname === hostname()) {
    if (Number(row.pid) === process.pid) return
    try {
      process.kill(Number(row.pid), 0)
    } catch {
      return // that process is gone (killed): its heartbeat is stale in spirit
    }
  }
  throw new NetmonError('internal', `another bridge (pid ${row.pid} on ${row.hostname}) is running on this store`, {
    hint: 'stop it first (systemctl stop netmon-bridge / kill -TERM PID), or use another --db',
    code: 'BRIDGE_RUNNING',
  })
}

export async function startBridge(config: BridgeConfig, opts: BridgeOptions): Promise<Bridge> {
  const {store, log} = opts
  if (opts.singleInstance !== false) await checkSingleInstance(store)
  let cfg = config
  const startedAt = Date.now()
  const counters = new Map<string, MeterCounters>()
  const countersFor = (id: string): MeterCounters => {
    let c = counters.get(id)
    if (!c) counters.set(id, (c = new MeterCounters()))
    return c
  }
  const latency = new LatencyWindow(5000)
  const meters = new Map<string, MeterRuntime>()
  const refs = new Map<string, MeterRef>()
  for (const [id, name] of await meterNames(store)) refs.set(id, {id, name})

  // ---------- MQTT ----------
  const shared = cfg.format !== 'thingsboard-device'
  const connections = new Map<string, MqttConnection>() // key: '' (shared) or meter id
  const mqttCfg: MqttConfig = cfg.mqtt
  // ThingsBoard RPC and shared attributes (docs/BRIDGE.md "Downlink"): subscribed on every connect.
  const downlinkOn = cfg.downlink?.enabled === true
  const newConnection = (label: string, username: string | undefined, password: string | undefined, clientId: string): MqttConnection =>
    new MqttConnection({
      ...(downlinkOn ? {subscriptions: subscriptions(cfg.format)} : {}),
      url: mqttCfg.url,
      clientId,
      username,
      password,
      ca: mqttCfg.ca,
      cert: mqttCfg.cert,
      key: mqttCfg.key,
      rejectUnauthorized: mqttCfg.rejectUnauthorized,
      keepaliveSeconds: mqttCfg.keepaliveSeconds,
      connectTimeoutMs: mqttCfg.connectTimeoutMs,
      reconnect: mqttCfg.reconnect,
      label,
      log,
    })
  const connFor = (meterId: string): MqttConnection | undefined => (shared ? connections.get('') : connections.get(meterId))
  const announce = (names: string[], disconnect = false): void => {
    const c = connections.get('')
    if (cfg.format !== 'thingsboard-gateway' || !c?.connected) return
    for (const name of names) {
      const meterId = [...refs.values()].find(r => r.name === name)?.id
      const m = disconnect ? gatewayDisconnectMessage(name) : gatewayConnectMessage(name, meterId ? meters.get(meterId)?.cfg.deviceType : undefined)
      // Counted apart from readings: mqtt_messages_sent stays "readings published" (docs/BRIDGE.md).
      if (meterId) countersFor(meterId).mqttControl(publishPacketSize(m.topic, Buffer.byteLength(m.payload), 1))
      c.publish(m.topic, m.payload).catch(() => undefined)
    }
  }

  // Backpressure for load-profile catch-up: a meter reads DLMS rows far faster than one PUBLISH per
  // row drains, so a job pauses while its meter (or all meters together) has many rows unacknowledged;
  // the rows wait on the meter, not in memory (bench/bridge-catchup.bench.js measured the RSS).
  // At most this many meters catch up at once: 100 concurrent block-transferred reads made the heap
  // grow by a burst of short-lived buffers, not by what is kept.
  const MAX_PROFILE_CYCLES = 8
  const profileBacklog = (() => {
    const per = new Map<string, number>()
    let total = 0
    return {
      /** Catch-up cycles in progress (a new one waits while MAX_PROFILE_CYCLES run). */
      cycles: 0,
      add(id: string, n: number) {
        per.set(id, (per.get(id) ?? 0) + n)
        total += n
      },
      settle(id: string, n: number) {
        const cur = per.get(id) ?? 0
        const d = Math.min(cur, n)
        per.set(id, cur - d)
        total -= d
      },
      full: (id: string, perMeter: number) => (per.get(id) ?? 0) >= perMeter || total >= 20_000,
    }
  })()
  const delivery = new Delivery(store, {
    maxInflight: mqttCfg.maxInflight,
    maxRows: cfg.outbox.maxRows,
    maxAgeMs: cfg.outbox.maxAgeMs,
    flushMs: opts.flushMs ?? 25,
    log,
    canSend: meterId => {
      const c = connFor(meterId)
      return Boolean(c?.connected) && refs.has(meterId)
    },
    send: (e: OutboxEntry) => {
      const c = connFor(e.meterId)
      const ref = refs.get(e.meterId)
      if (!c || !ref) return Promise.reject(new Error('no connection for this meter'))
      const msg = telemetryMessage(cfg.format, cfg.topic, ref, e.ts, e.values)
      const mc = countersFor(e.meterId)
      mc.mqttSent(publishPacketSize(msg.topic, Buffer.byteLength(msg.payload, 'utf8'), 1))
      return c.publish(msg.topic, msg.payload).then(() => mc.mqttAcked())
    },
    onAcked: e => {
      // Poll → PUBACK; a profile row's ts is its capture time (perhaps days ago): not a delivery latency.
      if (!e.profile) latency.add(Date.now() - e.ts)
      else profileBacklog.settle(e.meterId, 1)
      const m = meters.get(e.meterId)
      if (m) m.published++
    },
    onDropped: (meterId, n) => {
      profileBacklog.settle(meterId, n)
      const m = meters.get(meterId)
      if (m) m.dropped += n
    },
    onStoreError: e => log.error(`store: ${redact(String((e as Error)?.message ?? e))}`),
  })
  const init = await delivery.init()
  if (init.backlog > 0) log.info(`outbox: resuming ${init.backlog} unpublished reading(s) from the last run`, {by_meter: init.byMeter})

  // Set once the heartbeat exists: a connection going up or down is written at once, so `bridge
  // status` does not report the old state for up to a heartbeat interval.
  // A change before then is remembered and written as soon as the heartbeat exists.
  let changedEarly = false
  let onConnectionChange = (): void => {
    changedEarly = true
  }
  const downlink = new Downlink({
    format: cfg.format,
    log,
    rpcTimeoutMs: () => cfg.downlink?.rpcTimeoutMs ?? 10_000,
    byName: name => [...meters.values()].find(m => m.cfg.name === name)?.worker,
    byId: id => meters.get(id)?.worker,
    publish: (key, msg, meterId) => {
      const c = connections.get(key)
      if (!c?.connected) return
      // RPC replies and attribute requests are control messages, not readings (docs/BRIDGE.md).
      if (meterId) countersFor(meterId).mqttControl(publishPacketSize(msg.topic, Buffer.byteLength(msg.payload), 1))
      c.publish(msg.topic, msg.payload).catch(() => undefined)
    },
  })
  const wireConnection = (key: string, c: MqttConnection): void => {
    connections.set(key, c)
    if (downlinkOn) c.on('message', (topic: string, payload: Buffer) => downlink.handle(key, topic, payload))
    c.on('connect', () => {
      if (key === '') announce([...meters.values()].map(m => m.cfg.name))
      if (downlinkOn) downlink.requestAttributes(key, key === '' ? [...meters.values()].map(m => m.cfg) : [meters.get(key)?.cfg].filter(m => m !== undefined))
      delivery.resume(key === '' ? undefined : [key])
      onConnectionChange()
    })
    c.on('disconnect', () => onConnectionChange())
    c.start()
  }
  if (shared) wireConnection('', newConnection('broker', mqttCfg.username, mqttCfg.password, mqttCfg.clientId))

  // ---------- meters ----------
  const onReading = (r: PollResult): void => {
    delivery.submit({meterId: r.meterId, ts: r.ts, values: JSON.stringify(r.values), pollMs: r.pollMs})
  }
  const onProfileRows = (rows: ProfileRowOut[]): void => {
    if (rows[0]) profileBacklog.add(rows[0].meterId, rows.length)
    for (const r of rows) delivery.submit({meterId: r.meterId, ts: r.ts, values: JSON.stringify(r.values), pollMs: 0, profile: r.profile})
  }
  const invocationCounters = new InvocationCounterStore(store)
  const startMeter = (m: MeterConfig): void => {
    refs.set(m.id, {id: m.id, name: m.name})
    const profiles = (m.profiles ?? []).map(
      p =>
        new ProfileJob(p, {
          meterId: m.id,
          log,
          lastCapture: () => lastProfileCapture(store, m.id, p.obis),
          submit: onProfileRows,
          throttled: inCycle => profileBacklog.full(m.id, 10 * p.maxRows) || (!inCycle && profileBacklog.cycles >= MAX_PROFILE_CYCLES),
          cycling: active => (profileBacklog.cycles += active ? 1 : -1),
        }),
    )
    const worker = new MeterWorker(m, {counters: countersFor(m.id), log, onReading, profiles, invocationCounters})
    downlink.adopt(worker)
    meters.set(m.id, {cfg: m, worker, profiles, published: 0, dropped: 0})
    if (!shared) wireConnection(m.id, newConnection(`meter ${m.id}`, m.token, undefined, `${mqttCfg.clientId}-${m.id}`.slice(0, 200)))
    // A push-only meter (no host) is never polled: its readings come from the push listener.
    if (m.poll === false) worker.status.state = 'push-only'
    else worker.start()
  }
  const stopMeter = async (id: string): Promise<void> => {
    const m = meters.get(id)
    if (!m) return
    await m.worker.stop()
    meters.delete(id)
    if (!shared) {
      const c = connections.get(id)
      connections.delete(id)
      await c?.stop(1000)
    }
  }

  await syncMeters(store, cfg.meters)
  for (const m of cfg.meters) startMeter(m)

  // ---------- push listener (DataNotifications from meters, issue 18 item 4) ----------
  let push: PushListener | undefined
  if (cfg.push) {
    // The replay guards of the last run (written with every heartbeat and at stop), so a restart does not
    // accept a replayed push. A crash loses at most one heartbeat interval of counter advances.
    const last = await store.get<{detail: string}>('SELECT detail FROM bridge_status WHERE id = 1')
    let initialCounters: Record<string, number> | undefined
    try {
      initialCounters = last ? (JSON.parse(String(last.detail))?.push?.counters ?? undefined) : undefined
    } catch {
      initialCounters = undefined
    }
    push = new PushListener({
      config: cfg.push,
      ...(initialCounters ? {initialCounters} : {}),
      meters: () => cfg.meters,
      log,
      scalerFor: (id, obis) => meters.get(id)?.worker.scalerFor(obis),
      onReading: r => {
        const rt = meters.get(r.meterId)
        if (rt?.cfg.poll === false) rt.worker.status.lastSuccessAt = Date.now()
        onReading(r)
      },
    })
    try {
      const a = await push.start()
      log.info(`push listener on ${a.host}:${a.port} (wrapper)`, {push_listen: `${a.host}:${a.port}`})
    } catch (e) {
      await Promise.all([...meters.keys()].map(id => stopMeter(id)))
      await Promise.all([...connections.values()].map(c => c.stop(0)))
      await delivery.close()
      const code = (e as NodeJS.ErrnoException).code
      throw new NetmonError(
        'network',
        `cannot listen for pushes on ${cfg.push.host}:${cfg.push.port}: ${code === 'EADDRINUSE' ? 'port already in use' : (e as Error).message}`,
        {
          hint: 'choose another push.listen port',
          code: 'PUSH_LISTEN',
        },
      )
    }
  }
  log.info(`bridge started: ${cfg.meters.length} meter(s), format ${cfg.format}, broker ${redact(mqttCfg.url)}`, {
    pid: process.pid,
    store: store.location.display,
  })

  // ---------- self-metrics ----------
  const sampler = new NetSampler({
    intervalMs: cfg.metrics.sampleIntervalMs,
    interfaces: cfg.metrics.interfaces,
    source: opts.counterSource,
    onError: e => log.debug(`netstats: ${(e as Error).message}`),
  })
  await sampler.start()
  let lastMetricsAt = Date.now()
  const lastCounters = new Map<string, CounterSnapshot>()
  const metricsRows = (now: number): MetricsRow[] => {
    const bw = sampler.ring.average(lastMetricsAt, now)
    const issues = sampler.ring.issues(lastMetricsAt, now)
    const ids = new Set([...meters.keys(), ...counters.keys()])
    const rows: MetricsRow[] = []
    for (const id of ids) {
      const snap = countersFor(id).snapshot()
      const d = diffCounters(snap, lastCounters.get(id) ?? zeroCounters())
      lastCounters.set(id, snap)
      if (!meters.has(id) && Object.values(d).every(v => v === 0)) continue
      rows.push({
        meter_id: id,
        timestamp: now,
        dlms_requests_sent: d.dlmsRequestsSent,
        dlms_responses_recv: d.dlmsResponsesRecv,
        dlms_bytes_sent: d.dlmsBytesSent,
        dlms_bytes_recv: d.dlmsBytesRecv,
        dlms_avg_payload_size: avgPayload(d),
        mqtt_messages_sent: d.mqttMessagesSent,
        mqtt_bytes_sent: d.mqttBytesSent,
        bandwidth_tx_bps: Math.round(bw.txBps),
        bandwidth_rx_bps: Math.round(bw.rxBps),
        packets_tx_ps: Math.round(bw.txPps * 100) / 100,
        packets_rx_ps: Math.round(bw.rxPps * 100) / 100,
        interval_ms: now - lastMetricsAt,
        mqtt_messages_acked: d.mqttMessagesAcked,
        tx_errors: issues.txErrors,
        rx_errors: issues.rxErrors,
        tx_drops: issues.txDrops,
        rx_drops: issues.rxDrops,
      })
    }
    lastMetricsAt = now
    return rows
  }

  // ---------- heartbeat / status ----------
  let stopping = false
  let stoppedAt: number | null = null
  const brokerConnected = (): boolean => {
    if (shared) return Boolean(connections.get('')?.connected)
    const cs = [...connections.values()]
    return cs.length > 0 && cs.every(c => c.connected)
  }
  const snapshot = (): BridgeSnapshot => ({
    brokerConnected: brokerConnected(),
    published: delivery.stats.published,
    stored: delivery.stats.stored,
    dropped: delivery.stats.dropped,
    outboxDepth: delivery.depth,
    inflight: delivery.inflight,
    latency: latency.summary(),
    meters: Object.fromEntries(
      [...meters.values()].map(m => [
        m.cfg.id,
        {
          state: m.worker.status.state,
          polls: m.worker.status.polls,
          failures: m.worker.status.failures,
          overruns: m.worker.status.overruns,
          consecutiveFailures: m.worker.status.consecutiveFailures,
          lastError: m.worker.status.lastError,
          pollIntervalMs: m.worker.pollIntervalMs,
          published: m.published,
          counters: countersFor(m.cfg.id).snapshot(),
        },
      ]),
    ),
  })
  const heartbeat = async (extra: ReturnType<typeof insertMetricsStmt>[] = []): Promise<void> => {
    const now = Date.now()
    const cur = sampler.ring.latest()
    const s = snapshot()
    const statusRows = [...meters.values()].map(m => {
      const w = m.worker.status
      return {
        meter_id: m.cfg.id,
        state: stopping ? 'stopped' : w.state,
        last_success_at: w.lastSuccessAt,
        last_error_at: w.lastErrorAt,
        last_error: w.lastError ? redact(w.lastError) : null,
        consecutive_failures: w.consecutiveFailures,
        polls: w.polls,
        failures: w.failures,
        overruns: w.overruns,
        published: m.published,
        dropped: m.dropped,
        broker_connected: connFor(m.cfg.id)?.connected ? 1 : 0,
        updated_at: now,
      }
    })
    const detail = {
      version: 1,
      stored: s.stored,
      published: s.published,
      dropped: s.dropped,
      outbox_depth: s.outboxDepth,
      inflight: s.inflight,
      latency_ms: s.latency,
      store_busy_retries: store.stats.busyRetries,
      mqtt: [...connections.entries()].map(([k, c]) => ({
        connection: k === '' ? 'broker' : `meter ${k}`,
        connected: c.connected,
        messages_sent: c.stats.messagesSent,
        messages_acked: c.stats.messagesAcked,
        bytes_sent: c.stats.bytesSent,
        connects: c.stats.connects,
        disconnects: c.stats.disconnects,
        error: c.error ? redact(c.error) : null,
        refused: c.refusal ?? null,
      })),
      network: cur
        ? {ts: cur.ts, tx_bps: cur.txBps, rx_bps: cur.rxBps, packets_tx_ps: Math.round(cur.txPps * 100) / 100, packets_rx_ps: Math.round(cur.rxPps * 100) / 100}
        : null,
      interfaces: cfg.metrics.interfaces ?? null,
      metrics_interval_ms: cfg.metrics.intervalMs,
      // Per meter: the objects its last poll could not read, by OBIS (issue 18 item 5).
      object_errors: Object.fromEntries(
        [...meters.values()].filter(m => Object.keys(m.worker.status.objectErrors).length > 0).map(m => [m.cfg.id, m.worker.status.objectErrors]),
      ),
      // Per meter: its load-profile jobs (mode in use, last capture, rows caught up; issue 18 item 2).
      profiles: profileStatusDetail([...meters.values()].map(m => [m.cfg.id, m.profiles.map(p => p.status)])),
      // Per meter since the daemon started: control PUBLISHes (gateway connect/disconnect), not readings.
      mqtt_control: Object.fromEntries(
        [...counters.entries()].map(([id, mc]) => [id, {messages_sent: mc.c.mqttControlSent, bytes_sent: mc.c.mqttControlBytes}]),
      ),
      // ThingsBoard downlink since the daemon started (docs/BRIDGE.md "Downlink").
      downlink: downlinkOn
        ? {rpc_requests: downlink.stats.rpcRequests, rpc_errors: downlink.stats.rpcErrors, attribute_updates: downlink.stats.attributeUpdates}
        : null,
      process: processStats(),
      push: push
        ? {
            listen: push.address ? `${push.address.host}:${push.address.port}` : null,
            ...push.stats,
            by_meter: Object.fromEntries([...push.byMeter].map(([id, p]) => [id, {received: p.received, last_at: p.lastAt, last_error: p.lastError}])),
            counters: push.counters(),
          }
        : null,
    }
    await store.batch([
      upsertBridgeStatusStmt({
        pid: process.pid,
        hostname: hostname(),
        started_at: startedAt,
        heartbeat_at: now,
        heartbeat_interval_ms: cfg.metrics.heartbeatMs,
        stopped_at: stoppedAt,
        config_path: cfg.path ?? null,
        broker_url: redact(mqttCfg.url),
        broker_connected: s.brokerConnected ? 1 : 0,
        format: cfg.format,
        detail: JSON.stringify(detail),
      }),
      ...(statusRows.length ? [upsertMeterStatusStmt(statusRows)] : []),
      ...extra,
    ])
  }
  const safe = (what: string, p: () => Promise<unknown>) => (): void => {
    if (stopping) return
    p().catch((e: unknown) => log.error(`${what}: ${redact(String((e as Error)?.message ?? e))}`))
  }
  await heartbeat()
  const hbTimer = setInterval(
    safe('heartbeat', () => heartbeat()),
    cfg.metrics.heartbeatMs,
  )
  // Many connections changing together (one per meter token) make one write, not one each.
  let changeQueued = false
  onConnectionChange = () => {
    if (changeQueued) return
    changeQueued = true
    setTimeout(() => {
      changeQueued = false
      safe('heartbeat', () => heartbeat())()
    }, 20)
  }
  if (changedEarly) onConnectionChange()
  const metricsTimer = setInterval(
    safe('metrics', async () => {
      const rows = metricsRows(Date.now())
      if (rows.length) await store.batch([insertMetricsStmt(rows)])
    }),
    cfg.metrics.intervalMs,
  )
  const prune = safe('retention', async () => {
    if (cfg.store.readingsRetentionMs > 0) {
      const n = await pruneOld(store, Date.now() - cfg.store.readingsRetentionMs)
      if (n > 0) log.info(`retention: deleted ${n} reading/metrics row(s) older than ${Math.round(cfg.store.readingsRetentionMs / 86_400_000)} d`)
    }
  })
  const pruneTimer = setInterval(prune, 3_600_000)
  pruneTimer.unref()
  setTimeout(prune, 60_000).unref()

  // ---------- reload / stop ----------
  let resolveStopped!: () => void
  const stoppedP = new Promise<void>(r => (resolveStopped = r))
  let stopP: Promise<{inflightLeft: number}> | undefined

  const reload = async (next: BridgeConfig) => {
    const added: string[] = []
    const removed: string[] = []
    const changed: string[] = []
    if (
      JSON.stringify({...next.mqtt, ca: undefined, cert: undefined, key: undefined}) !==
        JSON.stringify({...cfg.mqtt, ca: undefined, cert: undefined, key: undefined}) ||
      next.format !== cfg.format ||
      next.topic !== cfg.topic ||
      JSON.stringify(next.push ?? null) !== JSON.stringify(cfg.push ?? null)
    ) {
      log.warn('config reload: mqtt/publish/push listener settings changed; they take effect after a restart (meters are reloaded now)')
      next = {...next, mqtt: cfg.mqtt, format: cfg.format, topic: cfg.topic, push: cfg.push}
    }
    const want = new Map(next.meters.map(m => [m.id, m]))
    for (const id of [...meters.keys()]) {
      const w = want.get(id)
      if (!w) removed.push(id)
      else if (!sameMeter(w, meters.get(id)!.cfg)) changed.push(id)
    }
    for (const id of want.keys()) if (!meters.has(id)) added.push(id)
    // A reload is the operator's "try again" for meters parked after repeated authentication failures.
    const retried = [...meters.entries()]
      .filter(([id, m]) => m.worker.status.state === 'auth-failed' && want.has(id) && !changed.includes(id))
      .map(([id]) => id)
    const removedNames = removed.map(id => meters.get(id)!.cfg.name)
    await Promise.all([...removed, ...changed, ...retried].map(id => stopMeter(id)))
    cfg = {...next, mqtt: cfg.mqtt, format: cfg.format, topic: cfg.topic}
    await syncMeters(store, cfg.meters)
    for (const id of [...added, ...changed, ...retried]) startMeter(want.get(id)!)
    if (retried.length > 0) log.info(`config reload: retrying authentication of ${retried.join(', ')}`, {meters: retried})
    sampler.interfaces = cfg.metrics.interfaces
    announce(removedNames, true)
    // Changed meters too: their device type may be new.
    announce([...added, ...changed].map(id => want.get(id)!.name))
    if (downlinkOn && shared)
      downlink.requestAttributes(
        '',
        added.map(id => want.get(id)!),
      )
    delivery.resume()
    log.info(`config reloaded: ${added.length} added, ${removed.length} removed, ${changed.length} changed`, {added, removed, changed})
    return {added, removed, changed}
  }

  const stop = (): Promise<{inflightLeft: number}> => {
    stopP ??= (async () => {
      stopping = true
      const deadline = Date.now() + cfg.shutdownTimeoutMs
      log.info('stopping: polling stops, pending readings are written, in-flight publishes get until the deadline', {timeout_ms: cfg.shutdownTimeoutMs})
      clearInterval(hbTimer)
      clearInterval(metricsTimer)
      clearInterval(pruneTimer)
      await push?.stop()
      // Workers: a poll in progress finishes or times out (bounded by the meter timeout) — bounded again here.
      // The timer is cleared when the workers finish first: a pending one would keep the stopped
      // process alive until the deadline.
      let deadlineTimer: NodeJS.Timeout | undefined
      await Promise.race([
        Promise.all([...meters.keys()].map(id => meters.get(id)!.worker.stop())),
        new Promise(r => (deadlineTimer = setTimeout(r, Math.max(0, deadline - Date.now())))),
      ])
      clearTimeout(deadlineTimer)
      const {inflightLeft} = await delivery.drain(Math.max(0, deadline - Date.now()))
      sampler.stop()
      await delivery.close()
      const rows = metricsRows(Date.now())
      stoppedAt = Date.now()
      try {
        await heartbeat(rows.length ? [insertMetricsStmt(rows)] : [])
      } catch (e) {
        log.error(`final status/metrics write failed: ${redact(String((e as Error)?.message ?? e))}`)
      }
      await Promise.all([...connections.values()].map(c => c.stop(0)))
      const s = snapshot()
      log.info(
        `stopped: ${s.published} published, ${delivery.depth} left in the outbox for the next start${inflightLeft ? ` (${inflightLeft} without PUBACK at the deadline)` : ''}`,
      )
      resolveStopped()
      return {inflightLeft}
    })()
    return stopP
  }

  return {
    get config() {
      return cfg
    },
    reload: next => {
      if (stopping) return Promise.resolve({added: [], removed: [], changed: []})
      return reload(next)
    },
    stop,
    stopped: stoppedP,
    snapshot,
  }
}

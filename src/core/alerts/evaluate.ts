/**
 * One evaluation of one rule: what is true now (threshold kinds) or what happened since the rule's
 * cursor (event kinds), as observations keyed by subject. Only subjects whose condition holds are
 * returned; an open alert whose subject is absent has cleared (the state machine, state.ts, applies
 * `for` and `keep_firing_for` to every kind alike). At most one store statement per rule (two for
 * bandwidth_usage: bandwidth/query.ts's window totals plus the scope; interface_errors: the
 * interface devices plus the bridge's interfaces), never one per device, meter or job; and the
 * rules of one check share their reads (`Reads`): fifteen bandwidth_rate rules over the same scope
 * read the current samples once, device_offline rules with different thresholds read the scope's
 * devices once. What each kind reads comes from its owner's query functions (bridge/queries.ts,
 * agent/repo.ts, bandwidth/ifaceissues.ts, bandwidth/query.ts, devices/events.ts).
 */
import {humanBytes} from '../format/units.js'
import {jobHealth} from '../agent/repo.js'
import {type IssueTotals, issuesInWindow} from '../bandwidth/ifaceissues.js'
import {currentRate} from '../bandwidth/rates.js'
import {topTalkers} from '../bandwidth/query.js'
import {brokerLinks, hostIssueSums, meterHealth, outboxBacklog} from '../bridge/queries.js'
import {humanDuration, humanRate} from '../format/units.js'
import type {Store} from '../store/index.js'
import {GRADES, type Grade, type Rule} from './rules.js'
import {currentSamples, type DeviceRef, devicesIn, devicesInScope, lastEventId, latestLatencyRuns, readEvents, scopeWhere} from './sources.js'

export interface Observation {
  subject: string
  /** Human text of the value ({{value}}). */
  value: string
  /** The numbers behind it, stored with the transition. */
  values: Record<string, unknown>
  /** Template variables (device.name …). */
  vars: Record<string, unknown>
}

export interface Evaluation {
  rule: string
  observations: Observation[]
  /** Event kinds: the cursor after this evaluation. */
  cursor?: number
  note?: string
}

/**
 * Reads shared by the rules of one check (keyed by what was read: the function and its arguments).
 * Values are never mutated by a rule. Absent (alerts test of one rule): every read is issued.
 */
export type Reads = Map<string, Promise<unknown>>
function once<T>(reads: Reads | undefined, key: string, read: () => Promise<T>): Promise<T> {
  if (!reads) return read()
  let p = reads.get(key) as Promise<T> | undefined
  if (!p) {
    p = read()
    reads.set(key, p)
  }
  return p
}
const scopeKey = (scope: Rule['scope']) => JSON.stringify(scope)

const PAGE = 1000
const MAX_PAGES = 20

const subjectOf = (d: {mac: string | null; ip: string | null; id: number}): string => d.mac ?? d.ip ?? `device-${d.id}`
const deviceVars = (d: Pick<DeviceRef, 'name' | 'hostname' | 'mac' | 'ip' | 'vendor'> | undefined, fallback: string): Record<string, unknown> => ({
  'device.name': d?.name ?? d?.hostname ?? d?.mac ?? d?.ip ?? fallback,
  'device.mac': d?.mac ?? null,
  'device.ip': d?.ip ?? null,
  'device.hostname': d?.hostname ?? null,
  'device.vendor': d?.vendor ?? null,
})

/** UTC start of the window a bandwidth_usage rule sums over. */
export function windowStart(window: string, now: number): number {
  if (window === 'day') return Math.floor(now / 86_400_000) * 86_400_000
  if (window === 'month') {
    const d = new Date(now)
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
  }
  return now - 86_400_000
}

/** The events of one type after `after` (paged, at most MAX_PAGES pages) and their devices in scope. */
async function eventsSince(store: Store, scope: Rule['scope'], after: number, type: string) {
  let cursor = after
  const events = []
  for (let page = 0; page < MAX_PAGES; page++) {
    const rows = await readEvents(store, {after: cursor, limit: PAGE, types: [type]})
    events.push(...rows)
    if (rows.length > 0) cursor = Number(rows.at(-1)!.id)
    if (rows.length < PAGE) break
  }
  const devices = await devicesIn(
    store,
    scope,
    events.map(e => Number(e.device_id)).filter(x => x > 0),
  )
  return {events, devices, cursor}
}

export async function evaluateRule(store: Store, rule: Rule, o: {now: number; cursor?: number; reads?: Reads}): Promise<Evaluation> {
  const now = o.now
  const p = rule.params
  const reads = o.reads
  const sk = scopeKey(rule.scope)
  const base = {rule: rule.name}
  switch (rule.kind) {
    case 'device_new': {
      // Every creation path raises a `new` event (src/core/devices/): follow them by the events cursor.
      if (o.cursor === undefined) return {...base, observations: [], cursor: await once(reads, 'lastEventId', () => lastEventId(store)), note: 'cursor started'}
      const after = o.cursor
      const {events, devices, cursor} = await once(reads, `events:new:${after}:${sk}`, () => eventsSince(store, rule.scope, after, 'new'))
      const obs: Observation[] = []
      for (const e of events) {
        const d = devices.get(Number(e.device_id))
        if (!d) continue
        obs.push({
          subject: subjectOf(d),
          value: `first seen ${new Date(Number(d.first_seen)).toISOString()}`,
          values: {device_id: Number(d.id), event_id: Number(e.id), first_seen_ms: Number(d.first_seen)},
          vars: deviceVars(d, subjectOf(d)),
        })
      }
      return {...base, observations: obs, cursor}
    }
    case 'device_ip_changed': {
      if (o.cursor === undefined) return {...base, observations: [], cursor: await once(reads, 'lastEventId', () => lastEventId(store)), note: 'cursor started'}
      const after = o.cursor
      const {events, devices, cursor} = await once(reads, `events:ip_changed:${after}:${sk}`, () => eventsSince(store, rule.scope, after, 'ip_changed'))
      const bySubject = new Map<string, Observation>()
      for (const e of events) {
        const d = devices.get(Number(e.device_id))
        if (!d) continue
        let detail: {from?: string; to?: string} = {}
        try {
          detail = JSON.parse(e.detail ?? '{}')
        } catch {
          /* keep empty */
        }
        bySubject.set(subjectOf(d), {
          subject: subjectOf(d),
          value: `${detail.from ?? '?'} → ${detail.to ?? d.ip ?? '?'}`,
          values: {event_id: Number(e.id), from: detail.from ?? null, to: detail.to ?? null, at_ms: Number(e.ts)},
          vars: deviceVars(d, subjectOf(d)),
        })
      }
      return {...base, observations: [...bySubject.values()], cursor}
    }
    case 'device_offline': {
      const after = p.not_seen_for as number
      const all = await once(reads, `devices:${sk}`, () => devicesInScope(store, rule.scope))
      const rows = all.filter(d => Number(d.last_seen) < now - after)
      return {
        ...base,
        observations: rows.map(d => ({
          subject: subjectOf(d),
          value: humanDuration(now - Number(d.last_seen)),
          values: {last_seen_ms: Number(d.last_seen), unseen_ms: now - Number(d.last_seen)},
          vars: {...deviceVars(d, subjectOf(d)), threshold: humanDuration(after)},
        })),
      }
    }
    case 'bandwidth_rate': {
      const above = p.above as number
      const dir = (p.direction as string | undefined) ?? 'total'
      const obs: Observation[] = []
      for (const r of await once(reads, `current:${sk}`, () => currentSamples(store, rule.scope))) {
        const c = currentRate(
          {
            curTs: r.cur_ts === null ? null : Number(r.cur_ts),
            curSent: Number(r.cur_sent ?? 0),
            curReceived: Number(r.cur_received ?? 0),
            curIntervalMs: r.cur_interval_ms === null ? null : Number(r.cur_interval_ms),
          },
          now,
        )
        const up = c.up ?? 0
        const down = c.down ?? 0
        const v = dir === 'up' ? up : dir === 'down' ? down : up + down
        if (v > above)
          obs.push({
            subject: subjectOf(r),
            value: humanRate(v),
            values: {bps: Math.round(v), up_bps: Math.round(up), down_bps: Math.round(down), direction: dir, threshold_bps: above, as_of_ms: c.asOf},
            vars: {...deviceVars(r, subjectOf(r)), threshold: humanRate(above)},
          })
      }
      return {...base, observations: obs}
    }
    case 'bandwidth_usage': {
      const above = p.above as number
      const dir = (p.direction as string | undefined) ?? 'total'
      const since = windowStart(p.window as string, now)
      const [top, devices] = await Promise.all([
        once(reads, `top:${since}:${now}`, () => topTalkers(store, {limit: Number.MAX_SAFE_INTEGER, sort: 'total', since, until: now, now})),
        once(reads, `devices:${sk}`, () => devicesInScope(store, rule.scope)),
      ])
      const byMac = new Map(devices.filter(d => d.mac !== null).map(d => [d.mac!, d]))
      const obs: Observation[] = []
      for (const t of top.top_talkers) {
        const d = t.mac ? byMac.get(t.mac) : undefined
        if (!d) continue
        const v = dir === 'up' ? t.total_bytes_sent : dir === 'down' ? t.total_bytes_received : t.total_bytes
        if (v > above)
          obs.push({
            subject: subjectOf(d),
            value: humanBytes(v),
            values: {
              bytes: v,
              sent: t.total_bytes_sent,
              received: t.total_bytes_received,
              direction: dir,
              window: p.window,
              since_ms: since,
              threshold_bytes: above,
            },
            vars: {...deviceVars(d, subjectOf(d)), threshold: humanBytes(above)},
          })
      }
      return {...base, observations: obs}
    }
    case 'latency_quality': {
      const obs: Observation[] = []
      const grade = p.grade_at_or_below as Grade | undefined
      for (const r of await once(reads, `latency:${sk}`, () => latestLatencyRuns(store, rule.scope))) {
        const why: string[] = []
        if (r.error) why.push(`error: ${r.error}`)
        if (grade && r.grade && GRADES.indexOf(r.grade as Grade) >= GRADES.indexOf(grade)) why.push(`grade ${r.grade}`)
        if (p.loss_above !== undefined && Number(r.loss_pct) > (p.loss_above as number)) why.push(`loss ${Number(r.loss_pct)}%`)
        if (p.rtt_above !== undefined && r.avg_ms !== null && Number(r.avg_ms) > (p.rtt_above as number)) why.push(`rtt ${Number(r.avg_ms).toFixed(1)} ms`)
        if (p.jitter_above !== undefined && r.jitter_ms !== null && Number(r.jitter_ms) > (p.jitter_above as number))
          why.push(`jitter ${Number(r.jitter_ms).toFixed(1)} ms`)
        if (why.length === 0) continue
        obs.push({
          subject: r.ip,
          value: why.join(', '),
          values: {
            run_id: Number(r.id),
            host: r.host,
            ip: r.ip,
            grade: r.grade,
            loss_pct: Number(r.loss_pct),
            avg_ms: r.avg_ms,
            jitter_ms: r.jitter_ms,
            ended_at_ms: Number(r.ended_at),
          },
          vars: {target: r.host, 'device.name': r.d_name ?? r.host, 'device.mac': r.d_mac, 'device.ip': r.ip},
        })
      }
      return {...base, observations: obs}
    }
    case 'meter_down':
      return {...base, observations: await meterDown(store, rule, now, reads)}
    case 'bridge_backlog':
      return {...base, observations: await bridgeBacklog(store, rule, now, reads)}
    case 'broker_disconnected':
      return {...base, ...(await brokerDisconnected(store, rule, now, reads))}
    case 'source_failing':
      return {...base, observations: await sourceFailing(store, rule, now, reads)}
    case 'interface_errors':
      return {...base, observations: await interfaceErrors(store, rule, now, reads)}
  }
}

const meterScope = (rule: Rule): string | undefined => (rule.scope === 'all' ? undefined : rule.scope.meter)

/** meter_down: `consecutive_failures` polls failed in a row (while the bridge runs) and/or no reading for `no_reading_for`. */
async function meterDown(store: Store, rule: Rule, now: number, reads?: Reads): Promise<Observation[]> {
  const failures = rule.params.consecutive_failures as number | undefined
  const quiet = rule.params.no_reading_for as number | undefined
  const obs: Observation[] = []
  const meter = meterScope(rule)
  for (const m of await once(reads, `meters:${meter}`, () => meterHealth(store, {meter, now}))) {
    const why: string[] = []
    // A stopped bridge polls nothing: its last count is history, not a failure now (no_reading_for covers that case).
    if (failures !== undefined && m.bridge_running && m.consecutive_failures >= failures)
      why.push(`${m.consecutive_failures} consecutive failures${m.last_error ? ` (${m.last_error})` : ''}`)
    const since = m.last_reading_at_ms ?? m.created_at_ms
    if (quiet !== undefined && now - since >= quiet)
      why.push(m.last_reading_at_ms === null ? `never read (configured ${humanDuration(now - since)} ago)` : `no reading for ${humanDuration(now - since)}`)
    if (why.length === 0) continue
    obs.push({
      subject: m.id,
      value: why.join(', '),
      values: {
        meter_id: m.id,
        endpoint: m.endpoint,
        state: m.state,
        consecutive_failures: m.consecutive_failures,
        last_error: m.last_error,
        last_reading_at_ms: m.last_reading_at_ms,
        no_reading_ms: now - since,
        bridge_running: m.bridge_running,
        ...(failures === undefined ? {} : {threshold_failures: failures}),
        ...(quiet === undefined ? {} : {threshold_ms: quiet}),
      },
      vars: {
        meter: m.id,
        'device.name': m.name,
        threshold: [failures === undefined ? '' : `${failures} failures`, quiet === undefined ? '' : humanDuration(quiet)].filter(Boolean).join(' or '),
      },
    })
  }
  return obs
}

/** bridge_backlog: the outbox (all meters as `bridge`, or one meter) deeper than `depth_above` or older than `age_above`. */
async function bridgeBacklog(store: Store, rule: Rule, now: number, reads?: Reads): Promise<Observation[]> {
  const depthAbove = rule.params.depth_above as number | undefined
  const ageAbove = rule.params.age_above as number | undefined
  const meter = meterScope(rule)
  const rows = await once(reads, `outbox:${meter}`, () => outboxBacklog(store, {meter}))
  const groups =
    meter === undefined
      ? rows.length
        ? [{subject: 'bridge', meter: null, depth: rows.reduce((n, r) => n + r.depth, 0), oldest: Math.min(...rows.map(r => r.oldest_at_ms))}]
        : []
      : rows.map(r => ({subject: r.meter_id, meter: r.meter_id, depth: r.depth, oldest: r.oldest_at_ms}))
  const obs: Observation[] = []
  for (const g of groups) {
    const age = now - g.oldest
    const why: string[] = []
    if (depthAbove !== undefined && g.depth > depthAbove) why.push(`${g.depth} readings waiting`)
    if (ageAbove !== undefined && age > ageAbove) why.push(`oldest ${humanDuration(age)} old`)
    if (why.length === 0) continue
    obs.push({
      subject: g.subject,
      value: why.join(', '),
      values: {
        depth: g.depth,
        oldest_age_ms: age,
        ...(meter === undefined ? {by_meter: Object.fromEntries(rows.map(r => [r.meter_id, r.depth]))} : {}),
        ...(depthAbove === undefined ? {} : {threshold_depth: depthAbove}),
        ...(ageAbove === undefined ? {} : {threshold_age_ms: ageAbove}),
      },
      vars: {
        meter: g.meter,
        threshold: [depthAbove === undefined ? '' : `${depthAbove} readings`, ageAbove === undefined ? '' : humanDuration(ageAbove)]
          .filter(Boolean)
          .join(' or '),
      },
    })
  }
  return obs
}

/** broker_disconnected: the running bridge's broker connection (or one meter's own) is down; `for` is the duration. */
async function brokerDisconnected(store: Store, rule: Rule, now: number, reads?: Reads): Promise<{observations: Observation[]; note?: string}> {
  const meter = meterScope(rule)
  const links = await once(reads, `broker:${meter}`, () => brokerLinks(store, {meter, now}))
  const running = links.filter(l => l.bridge_running)
  const obs = running
    .filter(l => !l.connected)
    .map(l => ({
      subject: l.subject,
      value: `disconnected from ${l.broker_url}${l.refused ? ` (refused: ${l.refused})` : l.error ? ` (${l.error})` : ''}`,
      values: {broker_url: l.broker_url, meter_id: l.meter_id, refused: l.refused, error: l.error},
      vars: {meter: l.meter_id, target: l.broker_url},
    }))
  // Not running: nothing to say about its broker (a stopped bridge is not a disconnected one).
  return running.length === links.length ? {observations: obs} : {observations: obs, note: 'the bridge is not running'}
}

/**
 * source_failing: an agent job whose runs failed `consecutive_failures` times in a row, or one
 * source of a collector job (subject JOB/SOURCE) whose reads did; `source` narrows to a job or source name.
 */
async function sourceFailing(store: Store, rule: Rule, now: number, reads?: Reads): Promise<Observation[]> {
  const n = rule.params.consecutive_failures as number
  const only = rule.params.source as string | undefined
  const obs: Observation[] = []
  const add = (subject: string, job: string, source: string | null, count: number, error: string | null, extra: Record<string, unknown>) => {
    if (count < n) return
    if (only !== undefined && only !== job && only !== source && only !== subject) return
    obs.push({
      subject,
      value: `${count} failures in a row${error ? `: ${error}` : ''}`,
      values: {job, source, consecutive_failures: count, last_error: error, threshold_failures: n, ...extra},
      vars: {threshold: `${n} failures`},
    })
  }
  for (const j of await once(reads, 'jobs', () => jobHealth(store, now))) {
    if (j.sources.length > 0) {
      for (const src of j.sources) add(`${j.name}/${src.name}`, j.name, src.name, src.consecutive_failures, src.error, {kind: src.kind, agent_running: j.fresh})
    } else
      add(j.name, j.name, null, j.consecutive_failures, j.last_error, {kind: j.kind, state: j.state, last_ok_at_ms: j.last_ok_at_ms, agent_running: j.fresh})
  }
  return obs
}

/**
 * interface_errors: errors + drops (both directions) counted in the last `per` (default 5m) above
 * `errors_above`, per interface device (bw_iface_errors) and on the bridge's sampled interfaces
 * (network_metrics, subject `bridge`; not with a device scope).
 */
async function interfaceErrors(store: Store, rule: Rule, now: number, reads?: Reads): Promise<Observation[]> {
  const above = rule.params.errors_above as number
  const per = (rule.params.per as number | undefined) ?? 300_000
  const iface = rule.params.interface as string | undefined
  const w = scopeWhere(rule.scope)
  const where = {sql: w.sql, args: [...w.args] as (string | number)[]}
  if (iface !== undefined) {
    where.sql += ` AND (c.source = ? OR c.source = ? OR d.name = ? COLLATE NOCASE OR d.hostname = ? COLLATE NOCASE OR d.mac = upper(?))`
    where.args.push(`iface:${iface}`, iface, iface, iface, iface)
  }
  const withBridge = rule.scope === 'all' && (iface === undefined || iface === 'bridge')
  const [devices, host] = await Promise.all([
    once(reads, `iface:${per}:${JSON.stringify(where)}`, () => issuesInWindow(store, now - per, now, where)),
    withBridge ? once(reads, `hostIssues:${per}`, () => hostIssueSums(store, now - per, now)) : undefined,
  ])
  type Counted = {subject: string; vars: Record<string, unknown>; source: string | null; intervals: number; last_ts: number | null} & IssueTotals
  const rows: Counted[] = devices.map(d => {
    const subject = subjectOf({id: d.device_id, mac: d.mac, ip: d.ip})
    return {...d, subject, vars: deviceVars(d, d.source ?? subject)}
  })
  if (host && host.intervals > 0) rows.push({...host, subject: 'bridge', vars: {'device.name': 'bridge interfaces'}, source: 'bridge'})
  const obs: Observation[] = []
  for (const r of rows) {
    const total = r.rx_errors + r.tx_errors + r.rx_drops + r.tx_drops
    if (total <= above) continue
    obs.push({
      subject: r.subject,
      value: `${total} errors/drops in ${humanDuration(per)} (rx errors ${r.rx_errors}, tx errors ${r.tx_errors}, rx drops ${r.rx_drops}, tx drops ${r.tx_drops})`,
      values: {
        total,
        rx_errors: r.rx_errors,
        tx_errors: r.tx_errors,
        rx_drops: r.rx_drops,
        tx_drops: r.tx_drops,
        source: r.source,
        intervals: r.intervals,
        last_ts: r.last_ts,
        per_ms: per,
        threshold: above,
      },
      vars: {...r.vars, threshold: `${above} per ${humanDuration(per)}`},
    })
  }
  return obs
}

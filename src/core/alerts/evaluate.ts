/**
 * One evaluation of one rule: what is true now (threshold kinds) or what happened since the rule's
 * cursor (event kinds), as observations keyed by subject. Only subjects whose condition holds are
 * returned; an open alert whose subject is absent has cleared. One store statement per rule (two
 * for bandwidth_usage: bandwidth/query.ts's window totals plus the scope), never one per device.
 */
import {currentRate} from '../bandwidth/rates.js'
import {topTalkers} from '../bandwidth/query.js'
import {humanDuration, humanRate} from '../format/units.js'
import type {Store} from '../store/index.js'
import {EVALUATED, GRADES, type Grade, type Rule} from './rules.js'
import {currentSamples, type DeviceRef, devicesIn, lastEventId, latestLatencyRuns, readEvents, scopedDevices, unseenDevices} from './sources.js'

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
  evaluated: boolean
  observations: Observation[]
  /** Event kinds: the cursor after this evaluation. */
  cursor?: number
  note?: string
}

const PAGE = 1000
const MAX_PAGES = 20

export function fmtBytesSi(b: number): string {
  const u = ['B', 'kB', 'MB', 'GB', 'TB', 'PB']
  let v = b
  let i = 0
  while (v >= 1000 && i < u.length - 1) {
    v /= 1000
    i++
  }
  return i === 0 ? `${v} B` : `${v.toFixed(2)} ${u[i]}`
}

const subjectOf = (d: {mac: string | null; ip: string | null; id: number}): string => d.mac ?? d.ip ?? `device-${d.id}`
const deviceVars = (d: DeviceRef | undefined, fallback: string): Record<string, unknown> => ({
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

export async function evaluateRule(store: Store, rule: Rule, o: {now: number; cursor?: number}): Promise<Evaluation> {
  const now = o.now
  const p = rule.params
  const base = {rule: rule.name, evaluated: true}
  if (!EVALUATED.has(rule.kind)) return {...base, evaluated: false, observations: [], note: `${rule.kind} is not evaluated yet`}
  switch (rule.kind) {
    case 'device_new': {
      // Every creation path raises a `new` event (src/core/devices/): follow them by the events cursor.
      if (o.cursor === undefined) return {...base, observations: [], cursor: await lastEventId(store), note: 'cursor started'}
      const {events, devices, cursor} = await eventsSince(store, rule.scope, o.cursor, 'new')
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
      if (o.cursor === undefined) return {...base, observations: [], cursor: await lastEventId(store), note: 'cursor started'}
      const {events, devices, cursor} = await eventsSince(store, rule.scope, o.cursor, 'ip_changed')
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
      const rows = await unseenDevices(store, rule.scope, now - after)
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
      for (const r of await currentSamples(store, rule.scope)) {
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
        topTalkers(store, {limit: Number.MAX_SAFE_INTEGER, sort: 'total', since, until: now, now}),
        scopedDevices(store, rule.scope),
      ])
      const obs: Observation[] = []
      for (const t of top.top_talkers) {
        const d = t.mac ? devices.get(t.mac) : undefined
        if (!d) continue
        const v = dir === 'up' ? t.total_bytes_sent : dir === 'down' ? t.total_bytes_received : t.total_bytes
        if (v > above)
          obs.push({
            subject: subjectOf(d),
            value: fmtBytesSi(v),
            values: {
              bytes: v,
              sent: t.total_bytes_sent,
              received: t.total_bytes_received,
              direction: dir,
              window: p.window,
              since_ms: since,
              threshold_bytes: above,
            },
            vars: {...deviceVars(d, subjectOf(d)), threshold: fmtBytesSi(above)},
          })
      }
      return {...base, observations: obs}
    }
    case 'latency_quality': {
      const obs: Observation[] = []
      const grade = p.grade_at_or_below as Grade | undefined
      for (const r of await latestLatencyRuns(store, rule.scope)) {
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
    default:
      return {...base, evaluated: false, observations: [], note: `${rule.kind} is not evaluated yet`}
  }
}

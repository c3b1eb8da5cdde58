/** Reads and small writes behind `alerts list|show|ack|silence` (docs/ALERTS.md). */
import {invalidInput, notFound} from '../errors.js'
import {isoOf} from '../format/time.js'
import type {Store} from '../store/index.js'

export interface AlertView {
  id: number
  rule: string
  kind: string
  subject: string
  severity: string
  state: string
  labels: Record<string, string>
  value: string
  values: Record<string, unknown>
  message: string
  started_at: string
  started_at_ms: number
  fired_at_ms: number | null
  resolved_at_ms: number | null
  updated_at_ms: number
  acked: boolean
  acked_at_ms: number | null
  ack_comment: string | null
}

const view = (r: Record<string, unknown>): AlertView => ({
  id: Number(r.id),
  rule: String(r.rule),
  kind: String(r.kind),
  subject: String(r.subject),
  severity: String(r.severity),
  state: String(r.state),
  labels: JSON.parse(String(r.labels)),
  value: String(r.value),
  values: JSON.parse(String(r.values)),
  message: String(r.message),
  started_at: isoOf(Number(r.started_at)),
  started_at_ms: Number(r.started_at),
  fired_at_ms: r.fired_at === null ? null : Number(r.fired_at),
  resolved_at_ms: r.resolved_at === null ? null : Number(r.resolved_at),
  updated_at_ms: Number(r.updated_at),
  acked: r.acked_at !== null,
  acked_at_ms: r.acked_at === null ? null : Number(r.acked_at),
  ack_comment: (r.ack_comment as string | null) ?? null,
})

export const STATES = ['pending', 'firing', 'resolved'] as const

export async function listAlerts(store: Store, o: {state?: string; since?: number; limit?: number; subjects?: string[]} = {}): Promise<AlertView[]> {
  const where: string[] = []
  const args: (string | number)[] = []
  if (o.subjects?.length) {
    where.push('subject IN (SELECT value FROM json_each(?))')
    args.push(JSON.stringify(o.subjects))
  }
  if (o.state) {
    where.push('state = ?')
    args.push(o.state)
  }
  if (o.since !== undefined) {
    where.push('updated_at >= ?')
    args.push(o.since)
  }
  const rows = await store.query(`SELECT * FROM alerts ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`, [
    ...args,
    o.limit ?? 1000,
  ])
  return rows.map(view)
}

export interface AlertEventView {
  id: number
  ts: string
  ts_ms: number
  kind: string
  from: string | null
  to: string | null
  value: string | null
  values: unknown
  notified: boolean
  silenced: boolean
  note: string | null
}

export async function showAlert(store: Store, id: number): Promise<AlertView & {events: AlertEventView[]}> {
  const [rows, events] = await store.readBatch([
    {sql: 'SELECT * FROM alerts WHERE id = ?', args: [id]},
    {sql: 'SELECT * FROM alert_events WHERE alert_id = ? ORDER BY id', args: [id]},
  ])
  if (!rows![0]) throw notFound(`no alert with id ${id}`, 'see `netmon alerts list`')
  return {
    ...view(rows![0]),
    events: events!.map(e => ({
      id: Number(e.id),
      ts: isoOf(Number(e.ts)),
      ts_ms: Number(e.ts),
      kind: String(e.kind),
      from: (e.from_state as string | null) ?? null,
      to: (e.to_state as string | null) ?? null,
      value: (e.value as string | null) ?? null,
      values: e.values === null ? null : JSON.parse(String(e.values)),
      notified: Number(e.notified) === 1,
      silenced: Number(e.silenced) === 1,
      note: (e.note as string | null) ?? null,
    })),
  }
}

/** Acknowledges an alert: no repeat notifications while it fires (resolution is still sent). */
export async function ackAlert(store: Store, id: number, comment: string | undefined, now = Date.now()): Promise<AlertView> {
  await store.writeTx(async tx => {
    const a = await tx.get<{state: string}>('SELECT state FROM alerts WHERE id = ?', [id])
    if (!a) throw notFound(`no alert with id ${id}`, 'see `netmon alerts list`')
    await tx.execute('UPDATE alerts SET acked_at = ?, ack_comment = ?, updated_at = ? WHERE id = ?', [now, comment ?? null, now, id])
    await tx.execute(`INSERT INTO alert_events(alert_id, ts, kind, from_state, to_state, note) VALUES (?, ?, 'ack', ?, ?, ?)`, [
      id,
      now,
      a.state,
      a.state,
      comment ?? null,
    ])
  })
  return (await listAlertsById(store, id))!
}

async function listAlertsById(store: Store, id: number): Promise<AlertView | undefined> {
  const r = await store.get('SELECT * FROM alerts WHERE id = ?', [id])
  return r ? view(r) : undefined
}

export function parseMatchers(list: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const m of list) {
    const i = m.indexOf('=')
    if (i <= 0) throw invalidInput(`--match "${m}": expected KEY=VALUE`, 'e.g. --match severity=critical or --match device.mac=AA:BB:CC:DD:EE:01')
    out[m.slice(0, i).trim()] = m.slice(i + 1).trim()
  }
  return out
}

export async function addSilence(
  store: Store,
  o: {rule?: string; matchers: Record<string, string>; forMs: number; comment?: string; now?: number},
): Promise<{
  id: number
  rule: string | null
  matchers: Record<string, string>
  starts_at: string
  ends_at: string
  ends_at_ms: number
  comment: string | null
}> {
  if (!o.rule && Object.keys(o.matchers).length === 0) throw invalidInput('a silence needs --rule or --match', 'e.g. alerts silence --rule heavy-user --for 2h')
  const now = o.now ?? Date.now()
  const [r] = await store.batch([
    {
      sql: 'INSERT INTO silences(rule, matchers, starts_at, ends_at, comment, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      args: [o.rule ?? null, JSON.stringify(o.matchers), now, now + o.forMs, o.comment ?? null, now],
    },
  ])
  return {
    id: Number(r!.lastInsertRowid),
    rule: o.rule ?? null,
    matchers: o.matchers,
    starts_at: isoOf(now),
    ends_at: isoOf(now + o.forMs),
    ends_at_ms: now + o.forMs,
    comment: o.comment ?? null,
  }
}

export interface RuleView {
  name: string
  kind: string
  severity: string
  scope: unknown
  for_ms: number
  keep_firing_for_ms: number
  repeat_interval_ms: number
  channels: string[]
  labels: Record<string, string>
  params: Record<string, unknown>
  last_eval_at: string | null
  last_eval_at_ms: number | null
  last_result: unknown
  cursor: number | null
  firing: number
  pending: number
}

/** The loaded rules with their last evaluation and open alerts (`alerts rules`). */
export async function describeRules(store: Store, rules: import('./rules.js').Rule[]): Promise<RuleView[]> {
  const [states, open] = await store.readBatch([
    'SELECT rule, cursor, last_eval_at, last_result FROM alert_rule_state',
    `SELECT rule, state, count(*) AS n FROM alerts WHERE state IN ('pending', 'firing') GROUP BY rule, state`,
  ])
  const st = new Map(states!.map(r => [String(r.rule), r]))
  const counts = new Map<string, number>(open!.map(r => [`${r.rule}\u0000${r.state}`, Number(r.n)]))
  return rules.map(r => {
    const s = st.get(r.name)
    const at = s?.last_eval_at === null || s?.last_eval_at === undefined ? null : Number(s.last_eval_at)
    return {
      name: r.name,
      kind: r.kind,
      severity: r.severity,
      scope: r.scope,
      for_ms: r.forMs,
      keep_firing_for_ms: r.keepFiringForMs,
      repeat_interval_ms: r.repeatMs,
      channels: r.channels,
      labels: r.labels,
      params: r.params,
      last_eval_at: at === null ? null : isoOf(at),
      last_eval_at_ms: at,
      last_result: s?.last_result ? JSON.parse(String(s.last_result)) : null,
      cursor: s?.cursor === null || s?.cursor === undefined ? null : Number(s.cursor),
      firing: counts.get(`${r.name}\u0000firing`) ?? 0,
      pending: counts.get(`${r.name}\u0000pending`) ?? 0,
    }
  })
}

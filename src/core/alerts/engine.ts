/**
 * One check (issue 16): evaluate every rule once (the rules share their reads), move each alert
 * instance through the state machine, store the transitions and queue their notifications in one
 * transaction for the whole check (with the event rules' cursors, so a crash never half-applies a
 * rule), then deliver the outbox.
 * `dryRun` (alerts test) evaluates and steps without writing or sending anything.
 */
import {isoOf} from '../format/time.js'
import {ChannelOutbox, type ChannelReport, type Sender} from '../outbox/queue.js'
import type {Store, Tx} from '../store/index.js'
import {type Payload, senderFor} from './channels.js'
import {type Evaluation, evaluateRule, type Observation, type Reads} from './evaluate.js'
import {EVENT_KINDS, renderTemplate, type Rule, type RuleSet} from './rules.js'
import {type Instance, step, type Transition} from './state.js'

export const OUTBOX_TABLE = 'alert_outbox'

/** The columns of an open alert the state machine carries from one check to the next. */
interface AlertRow {
  id: number
  rule: string
  subject: string
  state: 'pending' | 'firing' | 'resolved'
  value: string
  values: string
  vars: string
  started_at: number
  fired_at: number | null
  resolved_at: number | null
  last_active_at: number
  clear_since: number | null
  last_notified_at: number | null
  acked_at: number | null
  updated_at: number
}

/** Per rule, its open alerts as one comparable text (id, subject, state, last update). */
function stampOpen(rows: readonly Pick<AlertRow, 'id' | 'rule' | 'subject' | 'state' | 'updated_at'>[]): Map<string, string> {
  const by = new Map<string, string[]>()
  for (const r of rows) {
    if (!by.has(r.rule)) by.set(r.rule, [])
    by.get(r.rule)!.push(`${r.id}:${r.subject}:${r.state}:${r.updated_at}`)
  }
  return new Map([...by].map(([rule, xs]) => [rule, xs.sort().join('|')]))
}

const toInstance = (r: AlertRow): Instance => ({
  id: Number(r.id),
  rule: r.rule,
  subject: r.subject,
  state: r.state,
  startedAt: Number(r.started_at),
  firedAt: r.fired_at === null ? null : Number(r.fired_at),
  resolvedAt: r.resolved_at === null ? null : Number(r.resolved_at),
  lastActiveAt: Number(r.last_active_at),
  clearSince: r.clear_since === null ? null : Number(r.clear_since),
  lastNotifiedAt: r.last_notified_at === null ? null : Number(r.last_notified_at),
  ackedAt: r.acked_at === null ? null : Number(r.acked_at),
  value: r.value,
  values: JSON.parse(r.values),
  vars: JSON.parse(r.vars),
})

export interface Silence {
  id: number
  rule: string | null
  matchers: Record<string, string>
  starts_at: number
  ends_at: number
  comment: string | null
}

/** The keys a silence's --match can name: labels, plus rule, kind, severity, subject and device.*. */
export function matchKeys(rule: Rule, inst: {subject: string; vars: Record<string, unknown>}): Record<string, string> {
  const out: Record<string, string> = {...rule.labels, rule: rule.name, kind: rule.kind, severity: rule.severity, subject: inst.subject}
  for (const [k, v] of Object.entries(inst.vars)) if (v !== null && v !== undefined) out[k] = String(v)
  return out
}

export function silencedBy(silences: Silence[], rule: Rule, inst: {subject: string; vars: Record<string, unknown>}, now: number): Silence | undefined {
  if (silences.length === 0) return undefined // the usual case: no key map built per alert
  const keys = matchKeys(rule, inst)
  return silences.find(
    s => s.starts_at <= now && now < s.ends_at && (s.rule === null || s.rule === rule.name) && Object.entries(s.matchers).every(([k, v]) => keys[k] === v),
  )
}

export async function activeSilences(store: Store, now: number): Promise<Silence[]> {
  const rows = await store.query<Silence & {matchers: string}>('SELECT id, rule, matchers, starts_at, ends_at, comment FROM silences WHERE ends_at > ?', [now])
  return rows.map(r => ({...r, id: Number(r.id), starts_at: Number(r.starts_at), ends_at: Number(r.ends_at), matchers: JSON.parse(r.matchers)}))
}

export interface RuleOutcome {
  rule: string
  kind: string
  note?: string
  /** Subjects whose condition holds now (event kinds: that had an event). */
  matching: number
  transitions: {alert_id: number | null; subject: string; kind: string; from: string | null; to: string; value: string; notify: boolean; silenced: boolean}[]
}

export interface CheckResult {
  evaluated_at: string
  evaluated_at_ms: number
  dry_run: boolean
  rules: RuleOutcome[]
  /** Firing alerts of the loaded rules after this check (silenced ones listed but not counted). */
  firing: {id: number | null; rule: string; subject: string; severity: string; value: string; message: string; silenced: boolean}[]
  firing_count: number
  queued: number
  delivery: ChannelReport[]
}

function messageOf(rule: Rule, inst: Instance, state: string): string {
  return renderTemplate(rule.message, {
    ...inst.vars,
    ...Object.fromEntries(Object.entries(rule.labels).map(([k, v]) => [`labels.${k}`, v])),
    rule: rule.name,
    kind: rule.kind,
    severity: rule.severity,
    state,
    subject: inst.subject,
    value: inst.value,
  })
}

function payloadOf(rule: Rule, id: number, inst: Instance, t: Transition, message: string): Payload {
  return {
    version: 1,
    transition: {kind: t.kind, from: t.from, to: t.to, at: isoOf(t.at), at_ms: t.at},
    alert: {
      id,
      rule: rule.name,
      kind: rule.kind,
      subject: inst.subject,
      severity: rule.severity,
      state: inst.state,
      labels: rule.labels,
      value: inst.value,
      values: inst.values,
      message,
      started_at_ms: inst.startedAt,
      fired_at_ms: inst.firedAt,
      resolved_at_ms: inst.resolvedAt,
    },
  }
}

/** The columns a check rewrites, in this order (writeInstance and the one-statement refresh). */
const INSTANCE_COLS = [
  'severity',
  'state',
  'labels',
  'value',
  '"values"',
  'vars',
  'message',
  'fired_at',
  'resolved_at',
  'last_active_at',
  'clear_since',
  'last_notified_at',
  'updated_at',
] as const

function instanceCols(rule: Rule, inst: Instance, message: string, now: number): (string | number | null)[] {
  return [
    rule.severity,
    inst.state,
    JSON.stringify(rule.labels),
    inst.value,
    JSON.stringify(inst.values),
    JSON.stringify(inst.vars),
    message,
    inst.firedAt,
    inst.resolvedAt,
    inst.lastActiveAt,
    inst.clearSince,
    inst.lastNotifiedAt,
    now,
  ]
}

async function writeInstance(tx: Tx, rule: Rule, inst: Instance, message: string, now: number): Promise<number> {
  const cols = instanceCols(rule, inst, message, now)
  if (inst.id !== undefined) {
    await tx.execute(`UPDATE alerts SET ${INSTANCE_COLS.map(c => `${c} = ?`).join(', ')} WHERE id = ?`, [...cols, inst.id])
    return inst.id
  }
  const r = await tx.execute(
    `INSERT INTO alerts(${INSTANCE_COLS.join(', ')}, rule, kind, subject, started_at) VALUES (${Array(INSTANCE_COLS.length + 4)
      .fill('?')
      .join(', ')})`,
    [...cols, rule.name, rule.kind, inst.subject, inst.startedAt],
  )
  return Number(r.lastInsertRowid)
}

interface Change {
  inst: Instance
  transitions: Transition[]
  silenced: boolean
  /** Rendered once when stored (the report reuses it for a firing alert). */
  message?: string
}

export interface CheckOptions {
  now?: number
  dryRun?: boolean
  /** Only these rules (alerts test). */
  only?: string[]
  /** Deliver the outbox after evaluating (default true unless dryRun). */
  deliver?: boolean
  stderr?: (line: string) => void
}

export async function runCheck(store: Store, set: RuleSet, o: CheckOptions = {}): Promise<CheckResult> {
  const now = o.now ?? Date.now()
  const dry = o.dryRun ?? false
  const rules = o.only ? set.rules.filter(r => o.only!.includes(r.name)) : set.rules
  const outbox = new ChannelOutbox(store, OUTBOX_TABLE)
  const [openRows, ruleStates, silences] = await Promise.all([
    // Only what the state machine carries on (each open alert is one row per check: keep it narrow).
    store.query<AlertRow>(
      `SELECT id, rule, subject, state, started_at, fired_at, resolved_at, last_active_at, clear_since, last_notified_at, acked_at, value, "values", vars, updated_at
         FROM alerts WHERE state IN ('pending', 'firing')`,
    ),
    store.query<{rule: string; cursor: number | null}>('SELECT rule, cursor FROM alert_rule_state'),
    activeSilences(store, now),
  ])
  const cursors = new Map(ruleStates.map(r => [r.rule, r.cursor === null ? undefined : Number(r.cursor)]))
  // What each rule's open alerts looked like when this check read them (compare-and-set below).
  const openStamp = stampOpen(openRows)
  const open = new Map<string, Map<string, Instance>>()
  for (const r of openRows) {
    if (!open.has(r.rule)) open.set(r.rule, new Map())
    open.get(r.rule)!.set(r.subject, toInstance(r))
  }
  const outcomes: RuleOutcome[] = []
  const firing: CheckResult['firing'] = []
  let queued = 0
  // 1. Evaluate every rule (reads only, shared between rules) and step its instances (pure).
  const reads: Reads = new Map()
  const evaluated = await Promise.all(rules.map(rule => evaluateRule(store, rule, {now, cursor: cursors.get(rule.name), reads})))
  const plans = rules.map((rule, i) => {
    const ev: Evaluation = evaluated[i]!
    const outcome: RuleOutcome = {rule: rule.name, kind: rule.kind, ...(ev.note ? {note: ev.note} : {}), matching: ev.observations.length, transitions: []}
    outcomes.push(outcome)
    const mine = open.get(rule.name) ?? new Map<string, Instance>()
    const seen = new Map<string, Observation>(ev.observations.map(x => [x.subject, x]))
    const subjects = new Set([...mine.keys(), ...seen.keys()])
    const stepRule = {forMs: rule.forMs, keepFiringForMs: rule.keepFiringForMs, repeatMs: rule.repeatMs, event: EVENT_KINDS.has(rule.kind)}
    const changes: Change[] = []
    for (const subject of [...subjects].sort()) {
      const prev = mine.get(subject)
      const obs = seen.get(subject)
      const r = step(prev, obs, stepRule, now, {rule: rule.name, subject})
      if (!r.next) continue
      const unchanged = r.transitions.length === 0 && prev !== undefined && !obs && r.next.clearSince === prev.clearSince
      if (!unchanged) changes.push({inst: r.next, transitions: r.transitions, silenced: silencedBy(silences, rule, r.next, now) !== undefined})
    }
    return {rule, ev, outcome, mine, changes, startCursor: cursors.get(rule.name), applied: true}
  })
  // 2. Store every rule's changes, notifications and state in ONE write transaction: atomic per
  // check (so per rule too: a crash never half-applies one), and a handful of statements for the
  // alerts that only stay as they are (their value refreshed in one statement, not one each).
  const apply = async (tx: Tx): Promise<void> => {
    queued = 0
    const stored = new Map(
      (await tx.query<{rule: string; cursor: number | null}>('SELECT rule, cursor FROM alert_rule_state')).map(r => [
        r.rule,
        r.cursor === null ? undefined : Number(r.cursor),
      ]),
    )
    const nowOpen = stampOpen(
      await tx.query<Pick<AlertRow, 'id' | 'rule' | 'subject' | 'state' | 'updated_at'>>(
        `SELECT id, rule, subject, state, updated_at FROM alerts WHERE state IN ('pending', 'firing')`,
      ),
    )
    const refresh: unknown[][] = []
    const states: unknown[][] = []
    for (const plan of plans) {
      const {rule, ev, changes} = plan
      // Compare-and-set: a concurrent check that already moved an event rule's cursor, or changed its
      // open alerts (opened one for a new subject, fired, resolved, refreshed), wins; this one skips
      // the rule rather than open a second alert or notify a transition twice.
      plan.applied = (!EVENT_KINDS.has(rule.kind) || stored.get(rule.name) === plan.startCursor) && nowOpen.get(rule.name) === openStamp.get(rule.name)
      if (!plan.applied) continue
      for (const c of changes) {
        const msg = messageOf(rule, c.inst, c.inst.state)
        c.message = msg
        if (c.transitions.length === 0 && c.inst.id !== undefined) {
          refresh.push([c.inst.id, ...instanceCols(rule, c.inst, msg, now)])
          continue
        }
        const id = await writeInstance(tx, rule, c.inst, msg, now)
        c.inst.id = id
        for (const t of c.transitions) {
          const notify = t.notify && !c.silenced
          await tx.execute(
            `INSERT INTO alert_events(alert_id, ts, kind, from_state, to_state, value, "values", notified, silenced) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            [id, t.at, t.kind, t.from, t.to, t.value, JSON.stringify(t.values), notify ? 1 : 0, t.notify && c.silenced ? 1 : 0],
          )
          if (!notify) continue
          const body = JSON.stringify(payloadOf(rule, id, c.inst, t, msg))
          for (const ch of rule.channels) {
            await outbox.enqueue(tx, ch, body, now)
            queued++
          }
        }
      }
      states.push([
        rule.name,
        rule.kind,
        ev.cursor ?? null,
        now,
        JSON.stringify({matching: ev.observations.length, transitions: changes.reduce((n, c) => n + c.transitions.length, 0), note: ev.note ?? null}),
      ])
    }
    if (refresh.length)
      await tx.execute(
        `UPDATE alerts SET ${INSTANCE_COLS.map((c, i) => `${c} = j.value->>${i + 1}`).join(', ')} FROM json_each(?) AS j WHERE alerts.id = j.value->>0`,
        [JSON.stringify(refresh)],
      )
    if (states.length)
      await tx.execute(
        `INSERT INTO alert_rule_state(rule, kind, cursor, last_eval_at, last_result)
         SELECT value->>0, value->>1, value->>2, value->>3, value->>4 FROM json_each(?) WHERE true
         ON CONFLICT(rule) DO UPDATE SET kind = excluded.kind, cursor = excluded.cursor, last_eval_at = excluded.last_eval_at, last_result = excluded.last_result`,
        [JSON.stringify(states)],
      )
  }
  if (!dry && plans.length) await store.writeTx(apply)
  // 3. Report.
  for (const {rule, outcome, mine, changes, applied} of plans) {
    if (!applied) {
      outcome.note = 'skipped: another check evaluated this rule at the same time'
      continue
    }
    for (const c of changes)
      for (const t of c.transitions)
        outcome.transitions.push({
          alert_id: c.inst.id ?? null,
          subject: c.inst.subject,
          kind: t.kind,
          from: t.from,
          to: t.to,
          value: t.value,
          notify: t.notify && !c.silenced,
          silenced: t.notify && c.silenced,
        })
    // The rule's firing alerts after this check: the changed ones plus the untouched open ones.
    const after = new Map<string, Instance>(mine)
    const rendered = new Map<string, string>()
    for (const c of changes) {
      after.set(c.inst.subject, c.inst)
      if (c.message !== undefined && c.inst.state === 'firing') rendered.set(c.inst.subject, c.message)
    }
    for (const inst of after.values()) {
      if (inst.state !== 'firing') continue
      firing.push({
        id: inst.id ?? null,
        rule: rule.name,
        subject: inst.subject,
        severity: rule.severity,
        value: inst.value,
        message: rendered.get(inst.subject) ?? messageOf(rule, inst, 'firing'),
        silenced: silencedBy(silences, rule, inst, now) !== undefined,
      })
    }
  }
  let delivery: ChannelReport[] = []
  if (!dry && o.deliver !== false) delivery = await deliver(store, set, {stderr: o.stderr})
  return {
    evaluated_at: isoOf(now),
    evaluated_at_ms: now,
    dry_run: dry,
    rules: outcomes,
    firing,
    firing_count: firing.filter(f => !f.silenced).length,
    queued,
    delivery,
  }
}

/** Delivers the outbox to the configured channels (a channel not in the rules file waits). */
export async function deliver(store: Store, set: RuleSet, o: {stderr?: (line: string) => void} = {}): Promise<ChannelReport[]> {
  const senders = new Map<string, Sender>()
  for (const ch of set.channels.values()) senders.set(ch.name, senderFor(ch, {stderr: o.stderr}))
  return new ChannelOutbox(store, OUTBOX_TABLE).drain(senders)
}

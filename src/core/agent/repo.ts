/**
 * The agent's status rows (migration 008, table agent_jobs): written only here, by the running
 * agent; read by `netmon agent status` from another shell.
 */
import {hostname} from 'node:os'
import {NetmonError} from '../errors.js'
import {redact} from '../secrets.js'
import type {Store} from '../store/index.js'

export type Outcome = 'ok' | 'error' | 'overrun' | 'skipped'
export type JobState = 'waiting' | 'running' | 'disabled' | 'stopped' | 'failed'

export interface JobRow {
  name: string
  kind: string
  schedule: string
  active: number
  state: JobState
  last_start_at: number | null
  last_duration_ms: number | null
  last_outcome: Outcome | null
  last_error: string | null
  last_ok_at: number | null
  next_run_at: number | null
  runs: number
  failures: number
  /** Runs (collector: ticks) in a row whose outcome was error (migration 018); 0 after any other. */
  consecutive_failures: number
  overruns: number
  detail: string | null
  pid: number | null
  hostname: string | null
  heartbeat_at: number | null
  heartbeat_ms: number | null
  updated_at: number
}

const HOST = hostname()
const oneLine = (s: string) => redact(s.split('\n')[0]!).slice(0, 500)

export class AgentRepo {
  constructor(
    private readonly store: Store,
    private readonly heartbeatMs: number,
  ) {}

  /** A job enters the config (or the agent starts): its row is (re)activated, counters kept. */
  async register(name: string, kind: string, schedule: string, state: JobState): Promise<void> {
    const now = Date.now()
    await this.store.batch([
      {
        sql: `INSERT INTO agent_jobs(name, kind, schedule, active, state, last_outcome, runs, failures, overruns, pid, hostname, heartbeat_at, heartbeat_ms, updated_at)
              VALUES (?, ?, ?, 1, ?, CASE WHEN ? = 'disabled' THEN 'skipped' END, 0, 0, 0, ?, ?, ?, ?, ?)
              ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, schedule = excluded.schedule, active = 1, state = excluded.state,
                next_run_at = NULL, last_outcome = CASE WHEN excluded.state = 'disabled' THEN 'skipped' ELSE agent_jobs.last_outcome END, pid = excluded.pid, hostname = excluded.hostname, heartbeat_at = excluded.heartbeat_at,
                heartbeat_ms = excluded.heartbeat_ms, updated_at = excluded.updated_at`,
        args: [name, kind, schedule, state, state, process.pid, HOST, now, this.heartbeatMs, now],
      },
    ])
  }

  async started(name: string, at: number): Promise<void> {
    await this.store.batch([{sql: `UPDATE agent_jobs SET state = 'running', last_start_at = ?, updated_at = ? WHERE name = ?`, args: [at, Date.now(), name]}])
  }

  /** One run ended (or, for a collector, one tick). */
  async finished(
    name: string,
    r: {
      startedAt: number
      durationMs: number
      outcome: Outcome
      error: string | null
      nextRunAt: number | null
      overruns?: number
      detail?: unknown
      state?: JobState
    },
  ): Promise<void> {
    const failed = r.outcome === 'error' ? 1 : 0
    await this.store.batch([
      {
        sql: `UPDATE agent_jobs SET state = ?, last_start_at = ?, last_duration_ms = ?, last_outcome = ?, last_error = ?,
                last_ok_at = CASE WHEN ? = 'error' THEN last_ok_at ELSE ? END, next_run_at = ?, runs = runs + 1,
                failures = failures + ?, consecutive_failures = CASE WHEN ? = 1 THEN consecutive_failures + 1 ELSE 0 END, overruns = COALESCE(?, overruns), detail = ?, heartbeat_at = ?, updated_at = ? WHERE name = ?`,
        args: [
          r.state ?? 'waiting',
          r.startedAt,
          Math.round(r.durationMs),
          r.outcome,
          r.error === null ? null : oneLine(r.error),
          r.outcome,
          r.startedAt + Math.round(r.durationMs),
          r.nextRunAt,
          failed,
          failed,
          r.overruns ?? null,
          r.detail === undefined ? null : redact(JSON.stringify(r.detail)),
          Date.now(),
          Date.now(),
          name,
        ],
      },
    ])
  }

  /** A due run found the previous one still running: skipped and counted. */
  async overrun(name: string, nextRunAt: number | null): Promise<void> {
    await this.store.batch([
      {sql: `UPDATE agent_jobs SET overruns = overruns + 1, next_run_at = ?, updated_at = ? WHERE name = ?`, args: [nextRunAt, Date.now(), name]},
    ])
  }

  async setState(name: string, state: JobState, fields: {nextRunAt?: number | null; error?: string | null} = {}): Promise<void> {
    const sets = ['state = ?', 'updated_at = ?']
    const args: (string | number | null)[] = [state, Date.now()]
    if (fields.nextRunAt !== undefined) {
      sets.push('next_run_at = ?')
      args.push(fields.nextRunAt)
    }
    if (fields.error !== undefined) {
      sets.push('last_error = ?')
      args.push(fields.error === null ? null : oneLine(fields.error))
      if (fields.error !== null) sets.push(`last_outcome = 'error'`, 'failures = failures + 1', 'consecutive_failures = consecutive_failures + 1')
    }
    await this.store.batch([{sql: `UPDATE agent_jobs SET ${sets.join(', ')} WHERE name = ?`, args: [...args, name]}])
  }

  /** A job left the config: its row stays as history. */
  async deactivate(name: string): Promise<void> {
    await this.store.batch([
      {sql: `UPDATE agent_jobs SET active = 0, state = 'stopped', next_run_at = NULL, updated_at = ? WHERE name = ?`, args: [Date.now(), name]},
    ])
  }

  async heartbeat(): Promise<void> {
    const now = Date.now()
    await this.store.batch([{sql: `UPDATE agent_jobs SET heartbeat_at = ? WHERE active = 1 AND pid = ? AND hostname = ?`, args: [now, process.pid, HOST]}])
  }

  /** Clean stop: every active row says stopped (a kill -9 leaves them to go stale instead). */
  async stopped(): Promise<void> {
    await this.store.batch([
      {
        sql: `UPDATE agent_jobs SET state = CASE WHEN state = 'disabled' THEN state ELSE 'stopped' END, next_run_at = NULL, heartbeat_at = ?, updated_at = ?
              WHERE active = 1 AND pid = ? AND hostname = ?`,
        args: [Date.now(), Date.now(), process.pid, HOST],
      },
    ])
  }
}

/** Refuses to start when another live agent heartbeats in this store. */
export async function checkSingleAgent(store: Store): Promise<void> {
  const rows = await store.query<{pid: number; hostname: string; heartbeat_at: number; heartbeat_ms: number; state: string}>(
    `SELECT pid, hostname, heartbeat_at, heartbeat_ms, state FROM agent_jobs WHERE active = 1 AND state NOT IN ('stopped') AND pid IS NOT NULL`,
  )
  for (const r of rows) {
    if (!isFresh(r.heartbeat_at, r.heartbeat_ms)) continue
    if (r.hostname === HOST) {
      if (Number(r.pid) === process.pid) continue
      try {
        process.kill(Number(r.pid), 0)
      } catch {
        continue // killed (kill -9): its rows are stale in spirit
      }
    }
    throw new NetmonError('internal', `another agent (pid ${r.pid} on ${r.hostname}) is running on this store`, {
      hint: 'stop it first (systemctl stop netmon-agent / kill -TERM PID), or use another --db',
      code: 'AGENT_RUNNING',
    })
  }
}

export const isFresh = (heartbeatAt: number | null, heartbeatMs: number | null, now = Date.now()): boolean =>
  heartbeatAt !== null && now - Number(heartbeatAt) <= Math.max(3 * Number(heartbeatMs ?? 5000), 5000)

export interface JobStatus {
  name: string
  kind: string
  schedule: string
  active: boolean
  /** running/waiting as the agent last wrote it; "stale" when its heartbeat is old (agent gone). */
  state: JobState | 'stale'
  last_start: string | null
  last_start_ms: number | null
  last_duration_ms: number | null
  last_outcome: Outcome | null
  last_error: string | null
  last_ok: string | null
  next_run: string | null
  next_run_ms: number | null
  runs: number
  failures: number
  consecutive_failures: number
  overruns: number
  detail: unknown
  pid: number | null
  hostname: string | null
  heartbeat: string | null
  heartbeat_age_ms: number | null
  stale: boolean
}

export interface AgentStatus {
  /** running: some active job heartbeats; stale: rows say running but the heartbeat is old; stopped; never-started. */
  state: 'running' | 'stale' | 'stopped' | 'never-started'
  pid: number | null
  hostname: string | null
  jobs: JobStatus[]
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString())

export async function agentStatus(store: Store, opts: {all?: boolean; now?: number} = {}): Promise<AgentStatus> {
  const now = opts.now ?? Date.now()
  const rows = await store.query<JobRow>(`SELECT * FROM agent_jobs ${opts.all ? '' : 'WHERE active = 1'} ORDER BY name`)
  const jobs: JobStatus[] = rows.map(r => {
    const live = r.state === 'running' || r.state === 'waiting'
    const stale = live && !isFresh(r.heartbeat_at, r.heartbeat_ms, now)
    let detail: unknown = null
    try {
      detail = r.detail ? JSON.parse(r.detail) : null
    } catch {
      detail = r.detail
    }
    const num = (v: unknown) => (v === null || v === undefined ? null : Number(v))
    return {
      name: r.name,
      kind: r.kind,
      schedule: r.schedule,
      active: Number(r.active) === 1,
      state: stale ? 'stale' : r.state,
      last_start: iso(num(r.last_start_at)),
      last_start_ms: num(r.last_start_at),
      last_duration_ms: num(r.last_duration_ms),
      last_outcome: r.last_outcome,
      last_error: r.last_error,
      last_ok: iso(num(r.last_ok_at)),
      next_run: stale ? null : iso(num(r.next_run_at)),
      next_run_ms: stale ? null : num(r.next_run_at),
      runs: Number(r.runs),
      failures: Number(r.failures),
      consecutive_failures: Number(r.consecutive_failures ?? 0),
      overruns: Number(r.overruns),
      detail,
      pid: num(r.pid),
      hostname: r.hostname,
      heartbeat: iso(num(r.heartbeat_at)),
      heartbeat_age_ms: r.heartbeat_at === null ? null : now - Number(r.heartbeat_at),
      stale,
    }
  })
  const active = jobs.filter(j => j.active)
  const live = active.filter(j => (j.state === 'running' || j.state === 'waiting') && !j.stale)
  const state = rows.length === 0 ? 'never-started' : live.length > 0 ? 'running' : active.some(j => j.stale) ? 'stale' : 'stopped'
  const ref = live[0] ?? active[0] ?? jobs[0]
  return {state, pid: ref?.pid ?? null, hostname: ref?.hostname ?? null, jobs}
}

export interface JobHealth {
  name: string
  kind: string
  state: JobState
  consecutive_failures: number
  failures: number
  last_error: string | null
  last_ok_at_ms: number | null
  last_start_at_ms: number | null
  /** A collector's sources as its last tick left them (empty for other kinds). */
  sources: {name: string; kind: string; state: string; consecutive_failures: number; failures: number; error: string | null}[]
  /** The agent's heartbeat is current (its rows are what runs now). */
  fresh: boolean
}

/** The active jobs' failure counts and a collector's per-source status, in one statement (alerts' source_failing). */
export async function jobHealth(store: Store, now = Date.now()): Promise<JobHealth[]> {
  const rows = await store.query<JobRow>(
    `SELECT name, kind, state, consecutive_failures, failures, last_error, last_ok_at, last_start_at, detail, heartbeat_at, heartbeat_ms
       FROM agent_jobs WHERE active = 1 ORDER BY name`,
  )
  return rows.map(r => {
    let detail: {sources?: Record<string, unknown>[]} | null = null
    try {
      detail = r.detail ? JSON.parse(r.detail) : null
    } catch {
      detail = null
    }
    const sources = r.kind === 'collector' && Array.isArray(detail?.sources) ? detail.sources : []
    return {
      name: r.name,
      kind: r.kind,
      state: r.state,
      consecutive_failures: Number(r.consecutive_failures ?? 0),
      failures: Number(r.failures),
      last_error: r.last_error,
      last_ok_at_ms: r.last_ok_at === null ? null : Number(r.last_ok_at),
      last_start_at_ms: r.last_start_at === null ? null : Number(r.last_start_at),
      sources: sources.map(s => ({
        name: String(s.name),
        kind: String(s.kind),
        state: String(s.state),
        consecutive_failures: Number(s.consecutive_failures ?? 0),
        failures: Number(s.failures ?? 0),
        error: (s.error as string | null | undefined) ?? null,
      })),
      fresh: isFresh(r.heartbeat_at, r.heartbeat_ms, now),
    }
  })
}

import type {Migration} from '../migrate.js'

/**
 * The agent's job host (issue 14, src/core/agent/): one status row per job that `netmon agent run`
 * hosts, written by the agent and read by `netmon agent status` from another shell. A job removed
 * from the config keeps its row with active = 0 (its history), a job re-added reuses it. Times are
 * epoch ms. See docs/AGENT.md.
 */
export const agent: Migration = {
  version: 8,
  name: 'agent',
  statements: [
    `CREATE TABLE agent_jobs (
      name              TEXT PRIMARY KEY,       -- jobs[i].name
      kind              TEXT NOT NULL,          -- collector, scan, latency, prune, bridge, serve
      schedule          TEXT NOT NULL,          -- "every 5s", "cron */5 * * * *", "continuous"
      active            INTEGER NOT NULL DEFAULT 1,  -- in the running (or last) config
      state             TEXT NOT NULL,          -- waiting, running, disabled, stopped, failed
      last_start_at     INTEGER,
      last_duration_ms  INTEGER,
      last_outcome      TEXT,                   -- ok, error, overrun, skipped (NULL before the first run)
      last_error        TEXT,                   -- redacted, one line
      last_ok_at        INTEGER,
      next_run_at       INTEGER,
      runs              INTEGER NOT NULL DEFAULT 0,
      failures          INTEGER NOT NULL DEFAULT 0,
      overruns          INTEGER NOT NULL DEFAULT 0,
      detail            TEXT,                   -- JSON: the last run's summary (per-source status, hosts found …)
      pid               INTEGER,
      hostname          TEXT,
      heartbeat_at      INTEGER,
      heartbeat_ms      INTEGER,
      updated_at        INTEGER NOT NULL
    )`,
  ],
}

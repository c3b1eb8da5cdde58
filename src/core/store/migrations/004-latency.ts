import type {Migration} from '../migrate.js'

/**
 * Latency (issue 6): one row per run and host (the summary, as printed) and one row per probe.
 * A run is one `netmon latency` invocation per host, or one round of --count probes in --watch.
 *
 * - latency_runs.device_id links to the inventory when the address belonged to a device at the
 *   time of the run (looked up by IP inside the write); ON DELETE SET NULL keeps the measurements
 *   of a device that is later removed (they are still found by IP).
 * - latency_probes is WITHOUT ROWID keyed (run_id, seq): probes are read by run, in order, which
 *   is also the order jitter needs. rtt_ms NULL = lost.
 * - History reads runs by (ip, ended_at) or (device_id, ended_at): "runs that ended after
 *   --since", then their probes by primary key.
 */
export const latency: Migration = {
  version: 4,
  name: 'latency',
  statements: [
    `CREATE TABLE latency_runs (
      id           INTEGER PRIMARY KEY,
      host         TEXT NOT NULL,                 -- as given on the command line
      ip           TEXT NOT NULL,                 -- the address probed (resolved once)
      device_id    INTEGER REFERENCES devices(id) ON DELETE SET NULL,
      method       TEXT NOT NULL CHECK (method IN ('icmp', 'tcp')),
      port         INTEGER,                       -- tcp only
      interval_ms  INTEGER NOT NULL,
      timeout_ms   INTEGER NOT NULL,
      started_at   INTEGER NOT NULL,              -- epoch ms, first probe sent
      ended_at     INTEGER NOT NULL,              -- epoch ms, last probe settled
      sent         INTEGER NOT NULL,
      received     INTEGER NOT NULL,
      duplicates   INTEGER NOT NULL DEFAULT 0,
      loss_pct     REAL NOT NULL,
      min_ms       REAL,
      avg_ms       REAL,
      max_ms       REAL,
      median_ms    REAL,
      stddev_ms    REAL,                          -- population standard deviation
      jitter_ms    REAL,                          -- mean |RTT(i) − RTT(i−1)| over consecutive replies
      grade        TEXT CHECK (grade IN ('excellent', 'good', 'fair', 'poor', 'bad')),
      error        TEXT                           -- host-level failure (e.g. no route), else NULL
    )`,
    `CREATE INDEX latency_runs_ip_ended ON latency_runs(ip, ended_at)`,
    `CREATE INDEX latency_runs_device_ended ON latency_runs(device_id, ended_at)`,
    `CREATE TABLE latency_probes (
      run_id  INTEGER NOT NULL REFERENCES latency_runs(id) ON DELETE CASCADE,
      seq     INTEGER NOT NULL,
      ts      INTEGER NOT NULL,                   -- epoch ms, send time
      rtt_ms  REAL,                               -- NULL = lost
      status  TEXT NOT NULL CHECK (status IN ('reply', 'refused', 'timeout', 'unreachable', 'error')),
      PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID`,
  ],
}

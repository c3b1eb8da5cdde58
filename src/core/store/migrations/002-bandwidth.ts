import type {Migration} from '../migrate.js'

/**
 * Bandwidth accounting (issue 4, docs/BANDWIDTH.md). Devices come from the shared `devices`
 * table; everything here is keyed by `devices.id` and goes away with the device (CASCADE).
 *
 * - bw_samples: raw samples. WITHOUT ROWID with PRIMARY KEY (device_id, ts): the key is the table
 *   (≈ 23 B/row, shared/FACTS.md §4) and a device's samples are contiguous, so every query here
 *   seeks per device instead of scanning. Two samples with the same (device, ts) are summed into
 *   one row (bytes are never dropped). `interval_ms` = ts − the device's previous sample (the rate
 *   denominator), NULL when there is none.
 * - bw_rollup_5m / _1h / _1d: per-device buckets maintained on every write (upsert-add), so
 *   queries at any resolution never scan raw rows, and history survives raw pruning.
 *   `peak_bps` = the highest per-sample total rate inside the bucket.
 * - bw_totals: running totals per device (bytes, samples, peaks, the latest sample = "current"),
 *   updated in the same transaction as the samples; `stats`/`top` read only this, and it
 *   survives pruning. `bandwidth reset` zeroes the accounting columns.
 * - bw_counters: the last cumulative counter per device (counter mode). 64-bit counters do not
 *   fit SQLite's signed INTEGER, so they are decimal TEXT (BigInt in code).
 * - bw_settings: retention settings, prune watermarks, last automatic prune.
 */
const rollup = (name: string) => `CREATE TABLE ${name} (
      device_id  INTEGER NOT NULL,          -- devices.id (cascade by trigger, as bw_samples)
      bucket     INTEGER NOT NULL,          -- bucket start, epoch ms (UTC-aligned)
      sent       INTEGER NOT NULL,          -- bytes
      received   INTEGER NOT NULL,          -- bytes
      samples    INTEGER NOT NULL,
      peak_bps   INTEGER,                   -- highest total rate of a sample in the bucket
      PRIMARY KEY (device_id, bucket)
    ) WITHOUT ROWID`

export const bandwidth: Migration = {
  version: 2,
  name: 'bandwidth',
  statements: [
    `CREATE TABLE bw_samples (
      device_id   INTEGER NOT NULL,         -- devices.id (cascade by the trigger below, not an FK)
      ts          INTEGER NOT NULL,         -- epoch ms
      sent        INTEGER NOT NULL,         -- bytes since the previous sample
      received    INTEGER NOT NULL,
      interval_ms INTEGER,                  -- ts − previous sample's ts (NULL: no previous)
      PRIMARY KEY (device_id, ts)
    ) WITHOUT ROWID`,
    rollup('bw_rollup_5m'),
    rollup('bw_rollup_1h'),
    rollup('bw_rollup_1d'),
    // A foreign-key check per row cost ~20 % of bulk ingest (bench/bandwidth-ingest); for the
    // big tables the cascade is this trigger instead (the writer only inserts ids it resolved in
    // the same transaction). It must follow the tables it names.
    `CREATE TRIGGER bw_device_deleted AFTER DELETE ON devices BEGIN
      DELETE FROM bw_samples WHERE device_id = old.id;
      DELETE FROM bw_rollup_5m WHERE device_id = old.id;
      DELETE FROM bw_rollup_1h WHERE device_id = old.id;
      DELETE FROM bw_rollup_1d WHERE device_id = old.id;
    END`,
    `CREATE TABLE bw_totals (
      device_id       INTEGER PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
      since_ts        INTEGER,              -- accounting start (register/reset), NULL = first sample
      reset_ts        INTEGER,              -- last reset, epoch ms
      first_ts        INTEGER,              -- first sample counted since the start
      last_ts         INTEGER,              -- last sample counted since the start
      bytes_sent      INTEGER NOT NULL DEFAULT 0,
      bytes_received  INTEGER NOT NULL DEFAULT 0,
      sample_count    INTEGER NOT NULL DEFAULT 0,
      cur_ts          INTEGER,              -- the latest sample by ts (kept across resets)
      cur_sent        INTEGER,
      cur_received    INTEGER,
      cur_interval_ms INTEGER,
      peak_bps        INTEGER,
      peak_ts         INTEGER,
      peak_up_bps     INTEGER,
      peak_up_ts      INTEGER,
      peak_down_bps   INTEGER,
      peak_down_ts    INTEGER
    )`,
    `CREATE TABLE bw_counters (
      device_id  INTEGER PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
      ts         INTEGER NOT NULL,          -- time of the last reading, epoch ms
      sent       TEXT NOT NULL,             -- cumulative counter, decimal (up to 2^64 − 1)
      received   TEXT NOT NULL,
      source     TEXT                       -- e.g. iface:eth0
    )`,
    `CREATE TABLE bw_settings (
      key    TEXT PRIMARY KEY,
      value  TEXT NOT NULL
    )`,
  ],
}

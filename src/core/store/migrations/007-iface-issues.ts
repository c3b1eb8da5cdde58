import type {Migration} from '../migrate.js'

/**
 * Interface errors and drops (issue 14, docs/BANDWIDTH.md, docs/BRIDGE.md).
 *
 * - bw_iface_errors (owned by src/core/bandwidth/ifaceissues.ts): per-interval errors/drops of an
 *   interface device, the deltas between two readings of its cumulative kernel counters (the same
 *   wrap/reset rules as bytes, bandwidth/counters.ts). One row per reading that counted something
 *   (intervals with none are not stored); `bandwidth history` sums them per point.
 * - bw_iface_counters: the last cumulative errors/drops reading per device (decimal TEXT like
 *   bw_counters, up to 2^64 − 1): the reference for the next delta, and the mark that a device
 *   has such data at all.
 * - network_metrics (the bridge): errors and drops each way counted over the metrics interval on
 *   the sampled interfaces.
 */
export const ifaceIssues: Migration = {
  version: 7,
  name: 'iface-issues',
  statements: [
    `CREATE TABLE bw_iface_errors (
      device_id   INTEGER NOT NULL,          -- devices.id (cascade by the trigger below)
      ts          INTEGER NOT NULL,          -- the reading's time, epoch ms (as its bw_samples row)
      rx_errors   INTEGER NOT NULL,          -- counted since the previous reading
      tx_errors   INTEGER NOT NULL,
      rx_drops    INTEGER NOT NULL,
      tx_drops    INTEGER NOT NULL,
      PRIMARY KEY (device_id, ts)
    ) WITHOUT ROWID`,
    `CREATE TABLE bw_iface_counters (
      device_id  INTEGER PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
      ts         INTEGER NOT NULL,
      rx_errors  TEXT NOT NULL,             -- cumulative, decimal
      tx_errors  TEXT NOT NULL,
      rx_drops   TEXT NOT NULL,
      tx_drops   TEXT NOT NULL,
      source     TEXT                       -- e.g. iface:eth0 (a new source is a new counter)
    )`,
    `CREATE TRIGGER bw_iface_errors_device_deleted AFTER DELETE ON devices BEGIN
      DELETE FROM bw_iface_errors WHERE device_id = old.id;
    END`,
    `ALTER TABLE network_metrics ADD COLUMN tx_errors INTEGER NOT NULL DEFAULT 0`,
    `ALTER TABLE network_metrics ADD COLUMN rx_errors INTEGER NOT NULL DEFAULT 0`,
    `ALTER TABLE network_metrics ADD COLUMN tx_drops INTEGER NOT NULL DEFAULT 0`,
    `ALTER TABLE network_metrics ADD COLUMN rx_drops INTEGER NOT NULL DEFAULT 0`,
  ],
}

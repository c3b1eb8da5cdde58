import type {Migration} from '../migrate.js'

/**
 * Shared tables: devices (one row per device, keyed by MAC when known, else by IP) and events
 * (the timeline). Bandwidth accounting and the inventory both build on these.
 */
export const core: Migration = {
  version: 1,
  name: 'core',
  statements: [
    `CREATE TABLE devices (
      id          INTEGER PRIMARY KEY,
      mac         TEXT UNIQUE,              -- normalised AA:BB:CC:DD:EE:FF, NULL when only the IP is known
      ip          TEXT,                     -- current address
      hostname    TEXT,
      name        TEXT,                     -- friendly name given by promote
      vendor      TEXT,
      known       INTEGER NOT NULL DEFAULT 0,
      online      INTEGER,                  -- 1/0, NULL = never checked by a scan
      first_seen  INTEGER NOT NULL,         -- epoch ms
      last_seen   INTEGER NOT NULL          -- epoch ms
    )`,
    `CREATE UNIQUE INDEX devices_ip_without_mac ON devices(ip) WHERE mac IS NULL`,
    `CREATE INDEX devices_ip ON devices(ip)`,
    `CREATE TABLE events (
      id         INTEGER PRIMARY KEY,
      ts         INTEGER NOT NULL,          -- epoch ms
      device_id  INTEGER REFERENCES devices(id) ON DELETE CASCADE,
      type       TEXT NOT NULL,
      detail     TEXT                       -- JSON
    )`,
    `CREATE INDEX events_ts ON events(ts)`,
    `CREATE INDEX events_device_ts ON events(device_id, ts)`,
  ],
}

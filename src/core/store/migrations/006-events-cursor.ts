import type {Migration} from '../migrate.js'

/**
 * Events get a monotonic id usable as a cursor (issue 14): the table is rebuilt with
 * INTEGER PRIMARY KEY AUTOINCREMENT, so an id is never handed out twice, not even after the
 * newest events are deleted (plain INTEGER PRIMARY KEY reuses max(id) + 1). Rows keep their ids;
 * sqlite_sequence starts from the highest one. Indexes are recreated as they were (001, 003).
 * Nothing references events, so dropping the old table touches no other row.
 */
export const eventsCursor: Migration = {
  version: 6,
  name: 'events-cursor',
  statements: [
    `CREATE TABLE events_new (
      id         INTEGER PRIMARY KEY AUTOINCREMENT,
      ts         INTEGER NOT NULL,          -- epoch ms
      device_id  INTEGER REFERENCES devices(id) ON DELETE CASCADE,
      type       TEXT NOT NULL,             -- devices/events.ts EVENT_TYPES
      detail     TEXT                       -- JSON
    )`,
    `INSERT INTO events_new(id, ts, device_id, type, detail) SELECT id, ts, device_id, type, detail FROM events ORDER BY id`,
    `DROP TABLE events`,
    `ALTER TABLE events_new RENAME TO events`,
    `CREATE INDEX events_ts ON events(ts)`,
    `CREATE INDEX events_device_ts ON events(device_id, ts)`,
    `CREATE INDEX events_type_ts ON events(type, ts)`,
  ],
}

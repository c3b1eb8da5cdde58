import type {Migration} from '../migrate.js'

/**
 * Load-profile rows the bridge caught up from meters (issue 18 item 2), owned by src/core/bridge/
 * (profile.ts reads the last capture, outbox.ts writes the rows with their outbox rows). One row per
 * (meter, profile generic object, capture time): the dedup key that makes a re-read after a reconnect
 * or a restart publish nothing twice. `capture_ts` is the row's clock column as epoch ms (UTC);
 * `values` holds the other columns under their telemetry keys, as published. Times are epoch ms.
 */
export const profileRows: Migration = {
  version: 19,
  name: 'profile-rows',
  statements: [
    `CREATE TABLE profile_rows (
      meter_id   TEXT NOT NULL,
      profile    TEXT NOT NULL,              -- OBIS of the class-7 object, e.g. 1.0.99.1.0.255
      capture_ts INTEGER NOT NULL,           -- the row's capture time (clock column), epoch ms
      "values"   TEXT NOT NULL,              -- JSON {key: number|string|null}
      read_at    INTEGER NOT NULL,           -- when the bridge read it
      PRIMARY KEY (meter_id, capture_ts, profile)
    ) WITHOUT ROWID`,
    // An outbox row of a profile row names its profile (NULL: a polled reading), so the delivery
    // latency (poll → PUBACK) leaves out rows published days after their capture time.
    `ALTER TABLE outbox ADD COLUMN profile TEXT`,
  ],
}

import type {Migration} from '../migrate.js'

/**
 * DLMS HLS-GMAC invocation counters (issue 18), owned by src/core/dlms/counters.ts. One row per meter
 * (host:port/server address, or the bridge's meter id) and client system title: the next invocation
 * counter the client may use. A client reserves a block before it associates (next_ic moves past the
 * block first), so a crash or a restart never reuses a counter; a clean close gives back the unused part
 * only if nobody reserved after it. Times are epoch ms.
 */
export const dlmsCounters: Migration = {
  version: 13,
  name: 'dlms-counters',
  statements: [
    `CREATE TABLE dlms_invocation_counters (
      meter                TEXT NOT NULL,
      client_system_title  TEXT NOT NULL,          -- hex, 16 digits
      next_ic              INTEGER NOT NULL,       -- first counter not yet handed out (0..2^32)
      meter_system_title   TEXT,                   -- hex, as last seen in an AARE
      updated_at           INTEGER NOT NULL,
      PRIMARY KEY (meter, client_system_title)
    )`,
  ],
}

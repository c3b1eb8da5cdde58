import type {Migration} from '../migrate.js'

/**
 * The meter bridge (issue 8): meters, their readings, the MQTT outbox, per-meter network
 * self-metrics, and the daemon's heartbeat/status rows that `bridge status` reads from another
 * process. Times are epoch ms. See docs/BRIDGE.md.
 */
export const bridge: Migration = {
  version: 5,
  name: 'bridge',
  statements: [
    // One row per meter ever configured; `active` = in the running (or last) config.
    `CREATE TABLE meters (
      id               TEXT PRIMARY KEY,      -- config id (slug)
      name             TEXT NOT NULL,         -- telemetry/device name
      host             TEXT NOT NULL,
      port             INTEGER NOT NULL,
      framing          TEXT NOT NULL,
      poll_interval_ms INTEGER NOT NULL,
      obis             TEXT NOT NULL,         -- JSON [{obis, key, class}]
      active           INTEGER NOT NULL DEFAULT 1,
      created_at       INTEGER NOT NULL,
      updated_at       INTEGER NOT NULL
    )`,
    // One row per successful poll: every configured OBIS value under its telemetry key.
    `CREATE TABLE readings (
      meter_id   TEXT NOT NULL,
      ts         INTEGER NOT NULL,
      "values"   TEXT NOT NULL,              -- JSON {key: number|string|null}
      poll_ms    INTEGER NOT NULL,           -- how long the poll took
      PRIMARY KEY (meter_id, ts)
    ) WITHOUT ROWID`,
    // Readings not yet acknowledged (PUBACK) by the broker. The id is the publish order.
    `CREATE TABLE outbox (
      id         INTEGER PRIMARY KEY,
      meter_id   TEXT NOT NULL,
      ts         INTEGER NOT NULL,
      "values"   TEXT NOT NULL,
      created_at INTEGER NOT NULL
    )`,
    `CREATE INDEX outbox_meter_id ON outbox(meter_id, id)`,
    // The seed's network_metrics columns; one row per meter per metrics interval (deltas over it).
    `CREATE TABLE network_metrics (
      meter_id              TEXT NOT NULL,
      timestamp             INTEGER NOT NULL,
      dlms_requests_sent    INTEGER NOT NULL,
      dlms_responses_recv   INTEGER NOT NULL,
      dlms_bytes_sent       INTEGER NOT NULL,
      dlms_bytes_recv       INTEGER NOT NULL,
      dlms_avg_payload_size REAL NOT NULL,
      mqtt_messages_sent    INTEGER NOT NULL,
      mqtt_bytes_sent       INTEGER NOT NULL,
      bandwidth_tx_bps      INTEGER NOT NULL,
      bandwidth_rx_bps      INTEGER NOT NULL,
      packets_tx_ps         REAL NOT NULL,
      packets_rx_ps         REAL NOT NULL,
      interval_ms           INTEGER NOT NULL,
      mqtt_messages_acked   INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (meter_id, timestamp)
    ) WITHOUT ROWID`,
    // The daemon's heartbeat: one row (id = 1), rewritten every heartbeat interval.
    `CREATE TABLE bridge_status (
      id                 INTEGER PRIMARY KEY CHECK (id = 1),
      pid                INTEGER NOT NULL,
      hostname           TEXT NOT NULL,
      started_at         INTEGER NOT NULL,
      heartbeat_at       INTEGER NOT NULL,
      heartbeat_interval_ms INTEGER NOT NULL,
      stopped_at         INTEGER,
      config_path        TEXT,
      broker_url         TEXT NOT NULL,     -- credentials never stored
      broker_connected   INTEGER NOT NULL,
      format             TEXT NOT NULL,
      detail             TEXT NOT NULL      -- JSON: counters, latency, outbox, current bandwidth
    )`,
    // Per meter worker state, rewritten with the heartbeat.
    `CREATE TABLE meter_status (
      meter_id             TEXT PRIMARY KEY,
      state                TEXT NOT NULL,   -- connecting | polling | backoff | stopped
      last_success_at      INTEGER,
      last_error_at        INTEGER,
      last_error           TEXT,
      consecutive_failures INTEGER NOT NULL DEFAULT 0,
      polls                INTEGER NOT NULL DEFAULT 0,
      failures             INTEGER NOT NULL DEFAULT 0,
      overruns             INTEGER NOT NULL DEFAULT 0,
      published            INTEGER NOT NULL DEFAULT 0,
      dropped              INTEGER NOT NULL DEFAULT 0,
      broker_connected     INTEGER NOT NULL DEFAULT 0,
      updated_at           INTEGER NOT NULL
    )`,
  ],
}

/**
 * Datasets over the meter bridge (migration 005, docs/BRIDGE.md). Both tables are keyed
 * (meter_id, time); the loop runs over `meters` (every configured meter is registered there
 * before it is polled, and never deleted) and seeks each meter's time range.
 */
import type {Dataset} from '../types.js'

const meterFilter = {sql: 'm.id = :meter', exists: 'SELECT 1 FROM meters WHERE id = :meter'}

/**
 * meters.id is a TEXT PRIMARY KEY of a rowid table, which SQLite does not treat as NOT NULL, so
 * ordering by it alone does not prove each meter comes once and every page would sort its right
 * part; (id, rowid) is the index's own order and unique, so the key carries the rowid too.
 */
const meterRowid = {name: 'meter_rowid', type: 'integer' as const, sql: 'm.rowid', description: ''}

export const readings: Dataset = {
  name: 'readings',
  description: 'Meter readings: every successful poll with its OBIS values under their telemetry keys',
  tables: ['readings', 'meters'],
  source: {
    from: 'meters m CROSS JOIN readings r ON r.meter_id = m.id',
    keyset: 'partitioned',
    key: ['meter_id', 'meter_rowid', 'ts'],
    keyOnly: [meterRowid],
    columns: [
      {name: 'meter_id', type: 'text', sql: 'm.id', description: 'meter id (from the bridge config)'},
      {name: 'meter_name', type: 'text', sql: 'm.name', description: 'meter name (telemetry device name)'},
      {name: 'ts', type: 'time', sql: 'r.ts', description: 'poll time'},
      {name: 'values', type: 'json', sql: 'r."values"', description: 'readings as {key: value} (JSON; an object in JSON/NDJSON)'},
      {name: 'poll_ms', type: 'integer', sql: 'r.poll_ms', description: 'how long the poll took, ms'},
    ],
    filters: {time: 'r.ts', meter: meterFilter},
  },
}

/**
 * Load-profile rows the bridge caught up (migration 19): one row per (meter, profile, capture
 * time), keyed like the table so every page is a range read of its primary key per meter.
 */
export const profileRows: Dataset = {
  name: 'profile-rows',
  description: 'Meter load-profile rows caught up by the bridge: one row per capture time, the columns under their telemetry keys',
  tables: ['profile_rows', 'meters'],
  source: {
    from: 'meters m CROSS JOIN profile_rows p ON p.meter_id = m.id',
    // Row keyset: the series key (capture_ts, profile) ends in text, which a partitioned keyset cannot page on.
    key: ['meter_id', 'meter_rowid', 'capture_ts', 'profile'],
    keyOnly: [meterRowid],
    columns: [
      {name: 'meter_id', type: 'text', sql: 'm.id', description: 'meter id (from the bridge config)'},
      {name: 'meter_name', type: 'text', sql: 'm.name', description: 'meter name (telemetry device name)'},
      {name: 'profile', type: 'text', sql: 'p.profile', description: 'OBIS code of the profile generic object'},
      {name: 'capture_ts', type: 'time', sql: 'p.capture_ts', description: "capture time (the row's clock column; the published ts)"},
      {name: 'values', type: 'json', sql: 'p."values"', description: 'the other columns as {key: value} (JSON; an object in JSON/NDJSON)'},
      {name: 'read_at', type: 'time', sql: 'p.read_at', description: 'when the bridge read the row'},
    ],
    filters: {time: 'p.capture_ts', meter: meterFilter},
  },
}

export const networkMetrics: Dataset = {
  name: 'network-metrics',
  description: "The bridge's per-meter network metrics, one row per meter per interval (the seed's network_metrics)",
  tables: ['network_metrics', 'meters'],
  source: {
    from: 'meters m CROSS JOIN network_metrics n ON n.meter_id = m.id',
    keyset: 'partitioned',
    key: ['meter_id', 'meter_rowid', 'timestamp'],
    keyOnly: [meterRowid],
    columns: [
      {name: 'meter_id', type: 'text', sql: 'm.id', description: 'meter id'},
      {name: 'timestamp', type: 'time', sql: 'n.timestamp', description: 'end of the interval'},
      {name: 'interval_ms', type: 'integer', sql: 'n.interval_ms', description: 'interval length, ms'},
      {name: 'dlms_requests_sent', type: 'integer', sql: 'n.dlms_requests_sent', description: 'DLMS requests sent'},
      {name: 'dlms_responses_recv', type: 'integer', sql: 'n.dlms_responses_recv', description: 'DLMS responses received'},
      {name: 'dlms_bytes_sent', type: 'integer', sql: 'n.dlms_bytes_sent', description: 'DLMS bytes sent'},
      {name: 'dlms_bytes_recv', type: 'integer', sql: 'n.dlms_bytes_recv', description: 'DLMS bytes received'},
      {name: 'dlms_avg_payload_size', type: 'real', sql: 'n.dlms_avg_payload_size', description: 'mean DLMS payload, bytes'},
      {name: 'mqtt_messages_sent', type: 'integer', sql: 'n.mqtt_messages_sent', description: 'MQTT messages published'},
      {name: 'mqtt_messages_acked', type: 'integer', sql: 'n.mqtt_messages_acked', description: 'MQTT messages acknowledged'},
      {name: 'mqtt_bytes_sent', type: 'integer', sql: 'n.mqtt_bytes_sent', description: 'MQTT bytes sent'},
      {name: 'bandwidth_tx_bps', type: 'integer', sql: 'n.bandwidth_tx_bps', description: 'transmit rate, bit/s'},
      {name: 'bandwidth_rx_bps', type: 'integer', sql: 'n.bandwidth_rx_bps', description: 'receive rate, bit/s'},
      {name: 'packets_tx_ps', type: 'real', sql: 'n.packets_tx_ps', description: 'packets sent per second'},
      {name: 'packets_rx_ps', type: 'real', sql: 'n.packets_rx_ps', description: 'packets received per second'},
      {name: 'tx_errors', type: 'integer', sql: 'n.tx_errors', description: 'interface transmit errors in the interval'},
      {name: 'rx_errors', type: 'integer', sql: 'n.rx_errors', description: 'interface receive errors in the interval'},
      {name: 'tx_drops', type: 'integer', sql: 'n.tx_drops', description: 'interface transmit drops in the interval'},
      {name: 'rx_drops', type: 'integer', sql: 'n.rx_drops', description: 'interface receive drops in the interval'},
    ],
    filters: {time: 'n.timestamp', meter: meterFilter},
  },
}

/** Datasets over the shared tables of migration 001 (devices, events). */
import type {Dataset} from '../types.js'

export const devices: Dataset = {
  name: 'devices',
  description: 'The device inventory: one row per device (keyed by MAC, or by IP while the MAC is unknown)',
  tables: ['devices'],
  source: {
    from: 'devices d',
    columns: [
      {name: 'id', type: 'integer', sql: 'd.id', description: 'device id in this store'},
      {name: 'mac', type: 'text', sql: 'd.mac', description: 'MAC address, AA:BB:CC:DD:EE:FF (empty when unknown)'},
      {name: 'ip', type: 'text', sql: 'd.ip', description: 'current IP address'},
      {name: 'hostname', type: 'text', sql: 'd.hostname', description: 'host name as reported'},
      {name: 'name', type: 'text', sql: 'd.name', description: 'friendly name given by the operator'},
      {name: 'vendor', type: 'text', sql: 'd.vendor', description: 'vendor from the MAC prefix'},
      {name: 'known', type: 'boolean', sql: 'd.known', description: 'promoted to a known device'},
      {name: 'online', type: 'boolean', sql: 'd.online', description: 'online at the last scan (empty: never scanned)'},
      {name: 'first_seen', type: 'time', sql: 'd.first_seen', description: 'first seen'},
      {name: 'last_seen', type: 'time', sql: 'd.last_seen', description: 'last seen'},
    ],
    key: ['id'],
    filters: {
      // A device belongs to [since, until) when it was around in it: last seen at or after
      // since, first seen before until.
      time: {since: 'd.last_seen >= :since', until: 'd.first_seen < :until'},
      device: 'd.id = :device',
      notes: '--since/--until select devices active in the window: last_seen >= since and first_seen < until',
    },
  },
}

export const events: Dataset = {
  name: 'events',
  description: 'The timeline: device and system events in time order',
  tables: ['events', 'devices'],
  source: {
    from: 'events e LEFT JOIN devices d ON d.id = e.device_id',
    columns: [
      {name: 'ts', type: 'time', sql: 'e.ts', description: 'when it happened'},
      {name: 'id', type: 'integer', sql: 'e.id', description: 'event id (orders events with the same ts)'},
      {name: 'type', type: 'text', sql: 'e.type', description: 'event type'},
      {name: 'device_id', type: 'integer', sql: 'e.device_id', description: 'device id (empty for system events)'},
      {name: 'mac', type: 'text', sql: 'd.mac', description: "the device's MAC address"},
      {name: 'detail', type: 'json', sql: 'e.detail', description: 'details (JSON; embedded as an object in JSON/NDJSON)'},
    ],
    // events_ts(ts) and events_device_ts(device_id, ts) both end in the rowid (= id).
    key: ['ts', 'id'],
    filters: {time: 'e.ts', device: 'e.device_id = :device'},
  },
}

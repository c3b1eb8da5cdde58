/** Datasets over discovery scans (migration 003, docs/SCAN.md). */
import type {Dataset} from '../types.js'

export const scans: Dataset = {
  name: 'scans',
  description: 'Discovery scans: one row per scan (targets, methods, progress, result summary)',
  tables: ['scans'],
  source: {
    from: 'scans s',
    // scans_started(started_at) ends in the rowid (= id): an index range in start order.
    key: ['started_at', 'id'],
    columns: [
      {name: 'id', type: 'integer', sql: 's.id', description: 'scan id'},
      {name: 'started_at', type: 'time', sql: 's.started_at', description: 'scan start'},
      {name: 'finished_at', type: 'time', sql: 's.finished_at', description: 'scan end (empty: not finished)'},
      {name: 'status', type: 'text', sql: 's.status', description: 'running, done, interrupted or failed'},
      {name: 'targets', type: 'json', sql: 's.targets', description: 'target specs (JSON array)'},
      {name: 'methods', type: 'json', sql: 's.methods', description: 'discovery methods (JSON array)'},
      {name: 'ports', type: 'text', sql: 's.ports', description: 'the --ports spec (empty: no port scan)'},
      {name: 'hosts_total', type: 'integer', sql: 's.hosts_total', description: 'addresses to probe'},
      {name: 'hosts_done', type: 'integer', sql: 's.hosts_done', description: 'addresses probed'},
      {name: 'found', type: 'integer', sql: 's.found', description: 'hosts found'},
      {name: 'ports_total', type: 'integer', sql: 's.ports_total', description: 'ports to probe'},
      {name: 'ports_done', type: 'integer', sql: 's.ports_done', description: 'ports probed'},
      {name: 'hostname', type: 'text', sql: 's.hostname', description: 'machine that ran the scan'},
      {name: 'error', type: 'text', sql: 's.error', description: 'failure, if any'},
      {name: 'summary', type: 'json', sql: 's.summary', description: 'counts of new/online/offline/changed devices (JSON)'},
    ],
    filters: {time: 's.started_at', notes: 'scans selected by start time'},
  },
}

export const scanHosts: Dataset = {
  name: 'scan-hosts',
  description: 'Hosts found by each scan: address, MAC, how it was found, RTT, open ports',
  tables: ['scan_hosts', 'scans'],
  source: {
    // Scans in start order (scans_started), each scan's hosts by its (scan_id, ip) key.
    from: 'scans s CROSS JOIN scan_hosts h ON h.scan_id = s.id',
    key: ['scan_started_at', 'scan_id', 'ip'],
    columns: [
      {name: 'scan_started_at', type: 'time', sql: 's.started_at', description: 'scan start'},
      {name: 'scan_id', type: 'integer', sql: 's.id', description: 'scan id (see the scans dataset)'},
      {name: 'ip', type: 'text', sql: 'h.ip', description: 'address found'},
      {name: 'device_id', type: 'integer', sql: 'h.device_id', description: 'device id (empty: none)'},
      {name: 'mac', type: 'text', sql: 'h.mac', description: 'MAC address seen (empty: unknown)'},
      {name: 'found_by', type: 'json', sql: 'h.found_by', description: 'methods that found it (JSON array)'},
      {name: 'rtt_ms', type: 'real', sql: 'h.rtt_ms', description: 'response time, ms'},
      {name: 'hostname', type: 'text', sql: 'h.hostname', description: 'reverse DNS name'},
      {name: 'ports', type: 'json', sql: 'h.ports', description: 'open ports (JSON array; empty: not scanned)'},
    ],
    // Unary + keeps the planner on the (scan_id, ip) key instead of scan_hosts_device + a sort.
    filters: {time: 's.started_at', device: '+h.device_id = :device', notes: 'hosts of scans started in the window'},
  },
}

/**
 * Datasets over bandwidth accounting (migration 002, docs/BANDWIDTH.md).
 *
 * `bandwidth` has one column set for every resolution, so a script can switch --resolution
 * without changing its parser: raw rows are samples (ts = the sample's time, samples = 1,
 * interval_ms = time since the device's previous sample, peak_bps = the sample's own rate),
 * rollup rows are buckets (ts = bucket start, interval_ms = bucket length, peak_bps = the
 * highest sample rate in the bucket). Rows are per device, in time order (the table's key).
 */
import {deviceStatsShape} from '../../bandwidth/query.js'
import {getRetention} from '../../bandwidth/retention.js'
import type {ColumnDef, Dataset, SqlSource} from '../types.js'

// devices CROSS JOIN <table>: the loop runs over devices and seeks each device's (device_id, ts)
// range, the same access path bandwidth's own queries use (no ANALYZE needed).
const raw: SqlSource = {
  from: 'devices d CROSS JOIN bw_samples s ON s.device_id = d.id',
  keyset: 'partitioned',
  key: ['device_id', 'ts'],
  columns: [
    {name: 'ts', type: 'time', sql: 's.ts', description: 'sample time (raw) or bucket start (rollups)'},
    {name: 'device_id', type: 'integer', sql: 'd.id', description: 'device id'},
    {name: 'mac', type: 'text', sql: 'd.mac', description: 'device MAC address'},
    {name: 'name', type: 'text', sql: 'd.name', description: 'promoted name (devices promote --name; empty: none)'},
    {name: 'bytes_sent', type: 'integer', sql: 's.sent', description: 'bytes sent (upload) in the sample/bucket'},
    {name: 'bytes_received', type: 'integer', sql: 's.received', description: 'bytes received (download) in the sample/bucket'},
    {name: 'samples', type: 'integer', sql: '1', description: 'samples counted (1 for raw rows)'},
    {
      name: 'interval_ms',
      type: 'integer',
      sql: 's.interval_ms',
      description: "raw: ms since the device's previous sample (empty for its first); rollups: bucket length",
    },
    {
      name: 'peak_bps',
      type: 'integer',
      sql: 'CASE WHEN s.interval_ms > 0 THEN CAST(round((s.sent + s.received) * 8000.0 / s.interval_ms) AS INTEGER) END',
      description: "raw: the sample's total rate, bit/s; rollups: the highest sample rate in the bucket",
    },
  ],
  filters: {time: 's.ts', device: 'd.id = :device', notes: 'rollup rows are selected by bucket start'},
}

function rollup(table: string, ms: number): SqlSource {
  const col = (name: string, sql: string): ColumnDef => ({...raw.columns.find(c => c.name === name)!, sql})
  return {
    from: `devices d CROSS JOIN ${table} r ON r.device_id = d.id`,
    keyset: 'partitioned',
    key: ['device_id', 'ts'],
    columns: [
      col('ts', 'r.bucket'),
      col('device_id', 'd.id'),
      col('mac', 'd.mac'),
      col('name', 'd.name'),
      col('bytes_sent', 'r.sent'),
      col('bytes_received', 'r.received'),
      col('samples', 'r.samples'),
      col('interval_ms', String(ms)),
      col('peak_bps', 'r.peak_bps'),
    ],
    filters: {time: 'r.bucket', device: 'd.id = :device', notes: raw.filters.notes},
  }
}

export const bandwidth: Dataset = {
  name: 'bandwidth',
  description: 'Per-device traffic: raw samples, or 5-minute/hourly/daily rollups with --resolution',
  tables: ['bw_samples', 'bw_rollup_5m', 'bw_rollup_1h', 'bw_rollup_1d', 'devices'],
  source: raw,
  resolutions: {'5m': rollup('bw_rollup_5m', 300_000), '1h': rollup('bw_rollup_1h', 3_600_000), '1d': rollup('bw_rollup_1d', 86_400_000)},
  prunedBefore: async (store, resolution) => {
    const {watermarks} = await getRetention(store)
    return watermarks[resolution] > 0 ? watermarks[resolution] : null
  },
}

const T = (name: string, description: string): ColumnDef => ({name, type: 'time', sql: '', description})
const I = (name: string, description: string): ColumnDef => ({name, type: 'integer', sql: '', description})
const R = (name: string, description: string): ColumnDef => ({name, type: 'real', sql: '', description})
const S = (name: string, description: string): ColumnDef => ({name, type: 'text', sql: '', description})
const read = (name: string, sql: string): ColumnDef => ({name, type: 'integer', sql, description: ''})

/**
 * `bandwidth stats` per device, flattened (`current.upload_bps` → `current_upload_bps`), computed
 * by bandwidth's own deviceStatsShape from its running totals, so both always agree.
 */
export const bandwidthTotals: Dataset = {
  name: 'bandwidth-totals',
  description: 'Per-device running totals, current/average/peak rates: the `bandwidth stats` shape, flattened',
  tables: ['bw_totals', 'devices'],
  source: {
    from: 'bw_totals t JOIN devices d ON d.id = t.device_id',
    key: ['device_id'],
    filters: {device: 't.device_id = :device', notes: 'running totals since registration or the last reset: no time filter'},
    derive: {
      read: [
        read('device_id', 't.device_id'),
        {name: 'mac', type: 'text', sql: 'd.mac', description: ''},
        {name: 'ip', type: 'text', sql: 'd.ip', description: ''},
        {name: 'hostname', type: 'text', sql: 'd.hostname', description: ''},
        {name: 'name', type: 'text', sql: 'd.name', description: ''},
        ...['since_ts', 'reset_ts', 'first_ts', 'last_ts', 'bytes_sent', 'bytes_received', 'sample_count', 'cur_ts', 'cur_sent', 'cur_received']
          .concat(['cur_interval_ms', 'peak_bps', 'peak_ts', 'peak_up_bps', 'peak_up_ts', 'peak_down_bps', 'peak_down_ts'])
          .map(c => read(c, `t.${c}`)),
      ],
      compute(row) {
        const s = deviceStatsShape(row as unknown as Parameters<typeof deviceStatsShape>[0], null)
        const c = s.current
        const a = s.average
        const p = s.peak
        return [
          row.device_id,
          s.mac,
          s.ip,
          s.hostname,
          s.name,
          s.total.bytes_sent,
          s.total.bytes_received,
          s.total.total_bytes,
          s.total.total_mb,
          s.sample_count,
          s.first_seen_ms,
          s.last_update_ms,
          s.uptime_seconds,
          s.reset_at_ms,
          c.upload_bps,
          c.download_bps,
          c.total_bps,
          c.upload_mbps,
          c.download_mbps,
          c.total_mbps,
          c.sample_ts_ms,
          a.upload_bps,
          a.download_bps,
          a.total_bps,
          a.upload_mbps,
          a.download_mbps,
          a.total_mbps,
          p.bps,
          p.mbps,
          p.timestamp_ms,
          p.upload.bps,
          p.upload.mbps,
          p.upload.timestamp_ms,
          p.download.bps,
          p.download.mbps,
          p.download.timestamp_ms,
        ]
      },
    },
    columns: [
      I('device_id', 'device id'),
      S('mac', 'MAC address'),
      S('ip', 'IP address'),
      S('hostname', 'host name'),
      S('name', 'promoted name (devices promote --name; empty: none)'),
      I('bytes_sent', 'total bytes sent (upload)'),
      I('bytes_received', 'total bytes received (download)'),
      I('total_bytes', 'bytes_sent + bytes_received'),
      R('total_mb', 'total_bytes / 2^20'),
      I('sample_count', 'samples counted'),
      T('first_seen', 'accounting start or first sample'),
      T('last_update', 'last sample counted'),
      R('uptime_seconds', 'first_seen → last_update, seconds'),
      T('reset_at', 'last reset (empty: never)'),
      I('current_upload_bps', 'latest sample: upload rate, bit/s'),
      I('current_download_bps', 'latest sample: download rate, bit/s'),
      I('current_total_bps', 'latest sample: total rate, bit/s'),
      R('current_upload_mbps', 'latest sample: upload rate, Mbit/s (10^6)'),
      R('current_download_mbps', 'latest sample: download rate, Mbit/s'),
      R('current_total_mbps', 'latest sample: total rate, Mbit/s'),
      T('current_sample_ts', 'time of the latest sample'),
      I('average_upload_bps', 'average upload rate over the uptime, bit/s'),
      I('average_download_bps', 'average download rate, bit/s'),
      I('average_total_bps', 'average total rate, bit/s'),
      R('average_upload_mbps', 'average upload rate, Mbit/s'),
      R('average_download_mbps', 'average download rate, Mbit/s'),
      R('average_total_mbps', 'average total rate, Mbit/s'),
      I('peak_bps', 'highest total sample rate, bit/s'),
      R('peak_mbps', 'highest total sample rate, Mbit/s'),
      T('peak_timestamp', 'when the peak happened'),
      I('peak_upload_bps', 'highest upload sample rate, bit/s'),
      R('peak_upload_mbps', 'highest upload sample rate, Mbit/s'),
      T('peak_upload_timestamp', 'when the upload peak happened'),
      I('peak_download_bps', 'highest download sample rate, bit/s'),
      R('peak_download_mbps', 'highest download sample rate, Mbit/s'),
      T('peak_download_timestamp', 'when the download peak happened'),
    ],
  },
}

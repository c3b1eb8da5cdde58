import type {Migration} from '../migrate.js'

/**
 * The inventory and scans (issue 5). Devices and events live in 001-core; this adds:
 * - scans: one row per `netmon scan`, updated while it runs (progress for `scan status` from
 *   another shell) and finished with its summary;
 * - scan_hosts: what each scan found (how, which ports), kept for history and `scan status`;
 * - device_ips: IP history per device (first/last seen at each address);
 * - device_ports: the open TCP ports currently known per device (from the last port scan
 *   that covered them), with service name and banner;
 * - devices.ports_scanned_at: when the device's ports were last scanned (ports_changed events
 *   are only raised against a previous port scan, never against "unknown").
 */
export const inventory: Migration = {
  version: 3,
  name: 'inventory',
  statements: [
    `CREATE TABLE scans (
      id           INTEGER PRIMARY KEY,
      started_at   INTEGER NOT NULL,          -- epoch ms
      updated_at   INTEGER NOT NULL,          -- last progress write (a running scan writes every ~0.5 s)
      finished_at  INTEGER,
      status       TEXT NOT NULL,             -- running | done | interrupted | failed
      targets      TEXT NOT NULL,             -- JSON array of target specs
      methods      TEXT NOT NULL,             -- JSON array
      ports        TEXT,                      -- the --ports spec, NULL = no port scan
      hosts_total  INTEGER NOT NULL,
      hosts_done   INTEGER NOT NULL DEFAULT 0,
      found        INTEGER NOT NULL DEFAULT 0,
      ports_total  INTEGER NOT NULL DEFAULT 0,
      ports_done   INTEGER NOT NULL DEFAULT 0,
      pid          INTEGER,
      hostname     TEXT,                      -- machine running the scan (pid liveness is checked only there)
      error        TEXT,
      summary      TEXT                       -- JSON: counts of new/online/offline/changed devices
    )`,
    `CREATE INDEX scans_started ON scans(started_at)`,
    `CREATE TABLE scan_hosts (
      scan_id    INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
      ip         TEXT NOT NULL,
      device_id  INTEGER REFERENCES devices(id) ON DELETE SET NULL,
      mac        TEXT,
      found_by   TEXT NOT NULL,               -- JSON array of methods
      rtt_ms     REAL,
      hostname   TEXT,
      ports      TEXT,                        -- JSON array of open ports, NULL = not scanned
      PRIMARY KEY (scan_id, ip)
    ) WITHOUT ROWID`,
    `CREATE INDEX scan_hosts_device ON scan_hosts(device_id)`,
    `CREATE TABLE device_ips (
      device_id   INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
      ip          TEXT NOT NULL,
      first_seen  INTEGER NOT NULL,
      last_seen   INTEGER NOT NULL,
      PRIMARY KEY (device_id, ip)
    ) WITHOUT ROWID`,
    `CREATE TABLE device_ports (
      device_id   INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
      proto       TEXT NOT NULL DEFAULT 'tcp',
      port        INTEGER NOT NULL,
      service     TEXT,
      banner      TEXT,
      first_seen  INTEGER NOT NULL,
      last_seen   INTEGER NOT NULL,
      PRIMARY KEY (device_id, proto, port)
    ) WITHOUT ROWID`,
    `ALTER TABLE devices ADD COLUMN ports_scanned_at INTEGER`,
    `CREATE INDEX events_type_ts ON events(type, ts)`,
  ],
}

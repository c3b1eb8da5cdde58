import type {Migration} from '../migrate.js'

/**
 * Traffic by protocol and port per device (issue 15, NetFlow/IPFIX; docs/BANDWIDTH.md), owned by
 * src/core/bandwidth/flows.ts. Hourly buckets (UTC-aligned, epoch ms) filled by the agent's netflow
 * job in the same transaction as the device's bytes; kept as long as the 1h rollups
 * (bandwidth/retention.ts). `port` is the port a flow is filed under for this device
 * (netflow/listener.ts portOf: the remote side's port when < 1024, else the lower of the two; 0 for
 * protocols without ports and for what exceeded the per-host cap). Bytes are scaled by sampling.
 */
export const bwPorts: Migration = {
  version: 12,
  name: 'bw-ports',
  statements: [
    `CREATE TABLE bw_ports (
      device_id       INTEGER NOT NULL,        -- devices.id (cascade by the trigger below)
      bucket_ts       INTEGER NOT NULL,        -- hour start, epoch ms
      proto           INTEGER NOT NULL,        -- IP protocol number (6 tcp, 17 udp, 1 icmp …)
      port            INTEGER NOT NULL,
      bytes_sent      INTEGER NOT NULL,
      bytes_received  INTEGER NOT NULL,
      flows           INTEGER NOT NULL,
      PRIMARY KEY (device_id, bucket_ts, proto, port)
    ) WITHOUT ROWID`,
    `CREATE TRIGGER bw_ports_device_deleted AFTER DELETE ON devices BEGIN
      DELETE FROM bw_ports WHERE device_id = old.id;
    END`,
  ],
}

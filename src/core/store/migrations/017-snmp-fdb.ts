import type {Migration} from '../migrate.js'

/**
 * Which MACs sit behind which switch port (issue 15, SNMP BRIDGE-MIB / Q-BRIDGE-MIB forwarding
 * tables; docs/SOURCES.md), owned by src/core/collect/fdb.ts. One row per (agent, ifIndex, MAC,
 * VLAN) with the first and last poll that saw it; the agent's newest `last_seen` is its current
 * table (an entry the switch aged out keeps its row, with an older last_seen). `port_mac` is the
 * keyed device the port's counters are written to (collect/runner.ts keyedMac), so bandwidth views
 * join it without knowing SNMP. VLAN 0: dot1dTpFdbTable (no VLAN); else dot1qTpFdbTable's FDB id.
 */
export const snmpFdb: Migration = {
  version: 17,
  name: 'snmp-fdb',
  statements: [
    `CREATE TABLE snmp_fdb (
      agent       TEXT    NOT NULL,   -- the SNMP agent's configured name
      if_index    INTEGER NOT NULL,
      port_mac    TEXT    NOT NULL,   -- keyed device of the port (devices.mac)
      mac         TEXT    NOT NULL,   -- the MAC the switch learned there (AA:BB:…)
      vlan        INTEGER NOT NULL DEFAULT 0,
      first_seen  INTEGER NOT NULL,   -- epoch ms of the first poll that saw it
      last_seen   INTEGER NOT NULL,   -- epoch ms of the latest
      PRIMARY KEY (agent, if_index, mac, vlan)
    ) WITHOUT ROWID`,
    'CREATE INDEX snmp_fdb_mac ON snmp_fdb(mac, last_seen)',
    'CREATE INDEX snmp_fdb_port ON snmp_fdb(port_mac, last_seen)',
  ],
}

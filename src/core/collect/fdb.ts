/**
 * Switch forwarding tables (issue 15): which MACs an SNMP agent learned behind which port
 * (BRIDGE-MIB dot1dTpFdbPort, Q-BRIDGE-MIB dot1qTpFdbPort, read by collect/snmp.ts with
 * `fdb: true`). This module owns the `snmp_fdb` table (migration 17): only it writes it.
 *
 * A poll's table is stored whole, stamped with the poll's time; the agent's newest stamp is its
 * current table, so a MAC that moved to another port (or aged out) stops being "behind" the old
 * one at the next poll while its history stays. Ports are joined through their keyed device
 * (runner.ts keyedMac), so `bandwidth stats` can label a switch port with the inventory's devices.
 */
import type {Store} from '../store/index.js'
import {keyedMac} from './runner.js'

export interface FdbEntry {
  ifIndex: number
  /** Normalised AA:BB:CC:DD:EE:FF. */
  mac: string
  /** 0 for dot1dTpFdbTable (no VLAN); else the Q-BRIDGE FDB id (usually the VLAN id). */
  vlan: number
}

type Reader = Pick<Store, 'query'>

/** The keyed device an SNMP port's counters are written to (the same as collect/snmp.ts readings'). */
export const snmpPortMac = (agent: string, ifIndex: number): string => keyedMac(`snmp:${agent}`, String(ifIndex))

/** Stores one poll's forwarding table of `agent` (one transaction; an empty table records nothing). */
export async function recordFdb(store: Store, agent: string, ts: number, entries: readonly FdbEntry[]): Promise<number> {
  if (entries.length === 0) return 0
  const rows = JSON.stringify(entries.map(e => [e.ifIndex, snmpPortMac(agent, e.ifIndex), e.mac, e.vlan]))
  await store.writeTx(async tx => {
    await tx.execute(
      `INSERT INTO snmp_fdb(agent, if_index, port_mac, mac, vlan, first_seen, last_seen)
         SELECT ?1, value->>0, value->>1, value->>2, value->>3, ?2, ?2 FROM json_each(?3) WHERE true
       ON CONFLICT(agent, if_index, mac, vlan) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen), port_mac = excluded.port_mac`,
      [agent, ts, rows],
    )
  })
  return entries.length
}

export interface BehindPort {
  mac: string
  vlan: number
  last_seen_ms: number
  /** The inventory's device with that MAC, when it knows one. */
  device: {ip: string | null; hostname: string | null; name: string | null} | null
}

const CURRENT = `f.last_seen = (SELECT max(x.last_seen) FROM snmp_fdb x WHERE x.agent = f.agent)`

/** The MACs each given port device (its keyed MAC) has behind it in its agent's current table. */
export async function devicesBehindPorts(db: Reader, portMacs: readonly string[]): Promise<Map<string, BehindPort[]>> {
  const out = new Map<string, BehindPort[]>()
  if (portMacs.length === 0) return out
  const rows = await db.query<{
    port_mac: string
    mac: string
    vlan: number
    last_seen: number
    ip: string | null
    hostname: string | null
    name: string | null
    known: number | null
  }>(
    `SELECT f.port_mac, f.mac, f.vlan, f.last_seen, d.ip, d.hostname, d.name, d.id IS NOT NULL AS known
       FROM snmp_fdb f LEFT JOIN devices d ON d.mac = f.mac
      WHERE f.port_mac IN (SELECT value FROM json_each(?)) AND ${CURRENT}
      ORDER BY f.port_mac, f.mac, f.vlan`,
    [JSON.stringify([...new Set(portMacs)])],
  )
  for (const r of rows) {
    const list = out.get(r.port_mac) ?? []
    list.push({
      mac: r.mac,
      vlan: Number(r.vlan),
      last_seen_ms: Number(r.last_seen),
      device: Number(r.known) ? {ip: r.ip, hostname: r.hostname, name: r.name} : null,
    })
    out.set(r.port_mac, list)
  }
  return out
}

export interface SeenOnPort {
  agent: string
  if_index: number
  /** The port's label as its counters name it (`<agent>:<ifName>`), when the port has a device row. */
  port: string | null
  vlan: number
  last_seen_ms: number
}

/** Where each given MAC sits in the current forwarding tables (a MAC may be seen by several switches). */
export async function portsOfMacs(db: Reader, macs: readonly string[]): Promise<Map<string, SeenOnPort[]>> {
  const out = new Map<string, SeenOnPort[]>()
  if (macs.length === 0) return out
  const rows = await db.query<{mac: string; agent: string; if_index: number; vlan: number; last_seen: number; port: string | null}>(
    `SELECT f.mac, f.agent, f.if_index, f.vlan, f.last_seen, p.hostname AS port
       FROM snmp_fdb f LEFT JOIN devices p ON p.mac = f.port_mac
      WHERE f.mac IN (SELECT value FROM json_each(?)) AND ${CURRENT}
      ORDER BY f.mac, f.agent, f.if_index, f.vlan`,
    [JSON.stringify([...new Set(macs)])],
  )
  for (const r of rows) {
    const list = out.get(r.mac) ?? []
    list.push({agent: r.agent, if_index: Number(r.if_index), port: r.port, vlan: Number(r.vlan), last_seen_ms: Number(r.last_seen)})
    out.set(r.mac, list)
  }
  return out
}

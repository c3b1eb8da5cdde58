/**
 * Ordered, numbered schema migrations (docs/STORE.md). Each capability owns one file here;
 * versions are reserved per capability:
 *   1 core (devices, events) · 2 bandwidth · 3 inventory/scan · 4 latency · 5 bridge/meters ·
 *   6 events cursor (AUTOINCREMENT ids) · 7 interface errors/drops (bandwidth + bridge network_metrics) ·
 *   8 agent jobs · 11 alerts · 12 traffic by protocol/port (bw_ports) · 13 DLMS invocation counters ·
 *   17 SNMP forwarding tables (snmp_fdb) · 18 agent jobs' consecutive failures (alerts' source_failing) ·
 *   19 bridge load-profile rows (profile_rows)
 * Once released, a migration is never edited: a change is a new version appended below. A new
 * migration takes a number above every one already on main: a store that has recorded version N
 * refuses to apply a lower version later (migrate.ts: "skipped migration"), so a late low number
 * (the free 9, 10, 15, 16) would make every existing store fail to open. RELEASED below is the
 * guard: the test fails when a version below its maximum is added.
 */
import type {Migration} from '../migrate.js'
import {core} from './001-core.js'
import {bandwidth} from './002-bandwidth.js'
import {inventory} from './003-inventory.js'
import {latency} from './004-latency.js'
import {bridge} from './005-bridge.js'
import {eventsCursor} from './006-events-cursor.js'
import {ifaceIssues} from './007-iface-issues.js'
import {agent} from './008-agent.js'
import {alerts} from './011-alerts.js'
import {bwPorts} from './012-bw-ports.js'
import {dlmsCounters} from './013-dlms-counters.js'
import {profileRows} from './019-profile-rows.js'
import {snmpFdb} from './017-snmp-fdb.js'
import {agentFailures} from './018-agent-failures.js'

export const MIGRATIONS: readonly Migration[] = [
  core,
  bandwidth,
  inventory,
  latency,
  bridge,
  eventsCursor,
  ifaceIssues,
  agent,
  alerts,
  bwPorts,
  dlmsCounters,
  profileRows,
  snmpFdb,
  agentFailures,
].sort((a, b) => a.version - b.version)

/**
 * The versions on main when a migration last landed (append the new one here with it). Any
 * version missing from this list must be above its maximum (test/unit/store/migrations.test.ts).
 */
export const RELEASED: readonly number[] = [1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 17, 18, 19]

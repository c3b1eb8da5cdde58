/**
 * Ordered, numbered schema migrations (docs/STORE.md). Each capability owns one file here;
 * versions are reserved per capability:
 *   1 core (devices, events) · 2 bandwidth · 3 inventory/scan · 4 latency · 5 bridge/meters · 8 agent jobs
 * Once released, a migration is never edited: a change is a new version appended below.
 */
import type {Migration} from '../migrate.js'
import {core} from './001-core.js'
import {bandwidth} from './002-bandwidth.js'
import {inventory} from './003-inventory.js'
import {latency} from './004-latency.js'
import {bridge} from './005-bridge.js'
import {agent} from './008-agent.js'

export const MIGRATIONS: readonly Migration[] = [core, bandwidth, inventory, latency, bridge, agent].sort((a, b) => a.version - b.version)

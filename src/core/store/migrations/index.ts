/**
 * Ordered, numbered schema migrations (docs/STORE.md). Each capability owns one file here and one
 * entry below; versions are reserved per capability so parallel work does not collide:
 *   1 core (meta, devices, events) · 2 bandwidth · 3 inventory/scan · 4 latency · 5 bridge/meters
 * A migration is never edited after a release; add a new version instead.
 */
import type {Migration} from '../migrate.js'
import {core} from './001-core.js'

export const MIGRATIONS: readonly Migration[] = [core].sort((a, b) => a.version - b.version)

import type {Migration} from '../migrate.js'

/** Owned by the latency capability (filled in by its issue). */
export const latency: Migration = {
  version: 4,
  name: 'latency',
  statements: [],
}

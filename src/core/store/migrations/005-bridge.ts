import type {Migration} from '../migrate.js'

/** Owned by the bridge capability (filled in by its issue). */
export const bridge: Migration = {
  version: 5,
  name: 'bridge',
  statements: [],
}

import type {Migration} from '../migrate.js'

/** Owned by the bandwidth capability (filled in by its issue). */
export const bandwidth: Migration = {
  version: 2,
  name: 'bandwidth',
  statements: [],
}

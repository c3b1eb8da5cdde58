import type {Migration} from '../migrate.js'

/** Owned by the inventory capability (filled in by its issue). */
export const inventory: Migration = {
  version: 3,
  name: 'inventory',
  statements: [],
}

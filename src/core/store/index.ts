/**
 * src/core/store owns persistence: where the store is (location), how it is opened and written
 * (store), and its schema (migrate, migrations/). Nothing else imports @libsql/client.
 */
import {resolveStoreLocation, type StoreLocation} from './location.js'
import {migrate} from './migrate.js'
import {Store} from './store.js'

export {Store, isBusy, storeError, toRows, type Row, type Stmt, type Tx, type ExecResult} from './store.js'
export {resolveStoreLocation, defaultStorePath, type StoreLocation} from './location.js'
export {migrate, schemaVersion, LATEST_VERSION, type Migration, type SchemaState} from './migrate.js'

export interface OpenOptions {
  /** `--db` value, if given. */
  db?: string
  env?: NodeJS.ProcessEnv
  /** Apply pending migrations (default true). */
  migrate?: boolean
}

/** Resolves the location (flag → env → default), connects, and migrates. */
export async function openStore(opts: OpenOptions = {}): Promise<Store> {
  const location: StoreLocation = resolveStoreLocation(opts.db, opts.env ?? process.env)
  const store = await Store.connect(location)
  try {
    if (opts.migrate !== false) await migrate(store)
  } catch (e) {
    await store.close()
    throw e
  }
  return store
}

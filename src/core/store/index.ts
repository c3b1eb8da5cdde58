/**
 * src/core/store owns persistence: where the store is (location), how it is opened and written
 * (store), and its schema (migrate, migrations/). Nothing else imports @libsql/client.
 */
import {invalidInput} from '../errors.js'
import {resolveStoreLocation, type StoreLocation} from './location.js'
import {migrate} from './migrate.js'
import {Store} from './store.js'

export {Store, isBusy, storeError, toRows, type Row, type Stmt, type Tx, type ExecResult} from './store.js'
export {resolveStoreLocation, defaultStorePath, type StoreLocation} from './location.js'
export {migrate, schemaVersion, LATEST_VERSION, type AdoptOptions, type Migration, type SchemaState} from './migrate.js'

export interface OpenOptions {
  /** `--db` value, if given. */
  db?: string
  env?: NodeJS.ProcessEnv
  /** Apply pending migrations (default true). */
  migrate?: boolean
  /** Add netmon's schema to a foreign non-empty database (default: `NETMON_DB_ADOPT` in env, else refuse). */
  adopt?: boolean
}

/**
 * `NETMON_DB_ADOPT=1`: an environment variable rather than a flag, because it must reach every
 * command that opens a store (and `bridge run`, whose store may come from its config file).
 */
export function adoptFromEnv(env: NodeJS.ProcessEnv): boolean {
  const v = (env.NETMON_DB_ADOPT ?? '').trim().toLowerCase()
  if (v === '' || v === '0' || v === 'false' || v === 'no') return false
  if (v === '1' || v === 'true' || v === 'yes') return true
  throw invalidInput(
    `NETMON_DB_ADOPT must be 1 or 0, got "${env.NETMON_DB_ADOPT}"`,
    'set NETMON_DB_ADOPT=1 to let netmon add its tables to a database it did not create',
  )
}

/** Resolves the location (flag → env → default), connects, and migrates. */
export async function openStore(opts: OpenOptions = {}): Promise<Store> {
  const env = opts.env ?? process.env
  const location: StoreLocation = resolveStoreLocation(opts.db, env)
  const adopt = opts.adopt ?? adoptFromEnv(env)
  const store = await Store.connect(location)
  try {
    if (opts.migrate !== false) await migrate(store, undefined, {adopt})
  } catch (e) {
    await store.close()
    throw e
  }
  return store
}

import {statSync} from 'node:fs'
import {LATEST_VERSION, schemaVersion} from './migrate.js'
import {isCorruption, type Store} from './store.js'

export interface StoreInfo {
  location: string
  kind: 'local' | 'remote'
  source: 'flag' | 'env' | 'default'
  schema_version: number
  latest_schema_version: number
  tables: {name: string; rows: number}[]
  /** Local only: main file + WAL, bytes. */
  file_size_bytes?: number
  wal_size_bytes?: number
}

function fileSize(path: string): number {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}

export async function userTables(store: Store): Promise<string[]> {
  const rows = await store.query<{name: string}>(
    `SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY name`,
  )
  return rows.map(r => r.name)
}

export async function storeInfo(store: Store): Promise<StoreInfo> {
  const names = await userTables(store)
  const counts = names.length ? await store.readBatch(names.map(n => `SELECT count(*) AS n FROM "${n.replace(/"/g, '""')}"`)) : []
  const info: StoreInfo = {
    location: store.location.display,
    kind: store.location.kind,
    source: store.location.source,
    schema_version: await schemaVersion(store),
    latest_schema_version: LATEST_VERSION,
    tables: names.map((name, i) => ({name, rows: Number(counts[i]?.[0]?.n ?? 0)})),
  }
  if (store.location.kind === 'local') {
    info.file_size_bytes = fileSize(store.location.path!)
    info.wal_size_bytes = fileSize(store.location.path! + '-wal')
  }
  return info
}

export interface StoreCheck {
  ok: boolean
  location: string
  integrity: string[]
  foreign_key_violations: number | null
  schema_version: number
  latest_schema_version: number
}

/** `PRAGMA integrity_check` + foreign keys + schema version; ok only when all pass. */
export async function checkStore(store: Store): Promise<StoreCheck> {
  // A damage bad enough makes SQLite stop the check with SQLITE_CORRUPT instead of listing it:
  // that is the answer, not a failure of `db check`.
  const damaged = (e: unknown): string[] => {
    if (!isCorruption(e)) throw e
    return ['integrity_check stopped: database disk image is malformed']
  }
  const integrity = await store.query<Record<string, string>>('PRAGMA integrity_check').then(rows => rows.map(r => String(Object.values(r)[0])), damaged)
  let fkViolations: number | null
  try {
    fkViolations = (await store.query('PRAGMA foreign_key_check')).length
  } catch (e) {
    integrity.push(...damaged(e).map(m => m.replace('integrity_check', 'foreign_key_check')))
    fkViolations = null
  }
  const version = await schemaVersion(store)
  return {
    ok: integrity.length === 1 && integrity[0] === 'ok' && fkViolations === 0 && version === LATEST_VERSION,
    location: store.location.display,
    integrity,
    foreign_key_violations: fkViolations,
    schema_version: version,
    latest_schema_version: LATEST_VERSION,
  }
}

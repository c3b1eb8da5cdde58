/**
 * Migrations: ordered, numbered, recorded in `schema_migrations`, applied on every open.
 *
 * Race-safety (shared/FACTS.md §3d): twenty processes opening a brand-new file at once must all
 * succeed and leave one copy of the schema. That needs the version read *inside* one
 * BEGIN IMMEDIATE transaction that also applies and records the pending versions, `version` as
 * PRIMARY KEY, and `PRAGMA journal_mode=WAL` issued under the busy timeout before it.
 * A store whose recorded history is unknown to this build (a newer netmon) is refused before
 * anything is written to it, and so is a non-empty database that is not a netmon store at all
 * (issue 13: `--db notes.db` used to add netmon's tables to it and switch it to WAL), unless the
 * user asks for it to be adopted (`NETMON_DB_ADOPT=1`).
 *
 * What makes a netmon store: a `schema_migrations` table with netmon's columns and at least one
 * recorded migration. netmon creates that table in the same transaction as the first migration,
 * so a database with tables but no such history was never (even partly) made by netmon.
 */
import {NetmonError} from '../errors.js'
import {MIGRATIONS} from './migrations/index.js'
import type {Row, Store, Tx} from './store.js'

export interface Migration {
  version: number
  name: string
  statements: readonly string[]
}

export interface SchemaState {
  version: number
  latest: number
  applied: number[]
}

const HISTORY_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  applied_at INTEGER NOT NULL
)`

export const LATEST_VERSION = MIGRATIONS.reduce((m, x) => Math.max(m, x.version), 0)

interface HistoryRow {
  version: number
  name: string
}

function checkHistory(rows: HistoryRow[], migrations: readonly Migration[]): Migration[] {
  const byVersion = new Map(migrations.map(m => [m.version, m]))
  const recorded = rows.map(r => Number(r.version))
  const max = recorded.length ? Math.max(...recorded) : 0
  const latest = migrations.reduce((m, x) => Math.max(m, x.version), 0)
  if (max > latest) {
    throw new NetmonError(
      'store',
      `this store has schema version ${max}, written by a newer netmon; this netmon knows versions up to ${latest} and will not touch it`,
      {hint: 'upgrade netmon, or use another --db', code: 'SCHEMA_TOO_NEW'},
    )
  }
  for (const r of rows) {
    const m = byVersion.get(Number(r.version))
    if (!m || m.name !== r.name) {
      throw new NetmonError('store', `the store's migration history does not match this netmon (version ${r.version} "${r.name}")`, {
        hint: 'the store was made by a different build of netmon; use another --db',
        code: 'SCHEMA_MISMATCH',
      })
    }
  }
  const done = new Set(recorded)
  const pending = migrations.filter(m => !done.has(m.version))
  const gap = pending.find(m => m.version < max)
  if (gap) {
    throw new NetmonError('store', `the store skipped migration ${gap.version} "${gap.name}" that later ones depend on`, {
      code: 'SCHEMA_MISMATCH',
    })
  }
  return pending
}

const HISTORY_COLUMNS = ['applied_at', 'name', 'version']

/** Names of the tables, indexes, views and triggers the migrations create. */
function createdNames(migrations: readonly Migration[]): Set<string> {
  const out = new Set<string>(['schema_migrations'])
  for (const m of migrations) {
    for (const sql of m.statements) {
      const x = /^\s*CREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX|VIEW|TRIGGER)\s+(?:IF\s+NOT\s+EXISTS\s+)?["`]?(\w+)/i.exec(sql)
      if (x) out.add(x[1]!.toLowerCase())
    }
  }
  return out
}

export interface AdoptOptions {
  /** Add netmon's schema to a non-empty database that is not a netmon store (default: refuse). */
  adopt?: boolean
}

/**
 * Refuses a non-empty database that is not a netmon store, before anything is written to it.
 * Unless the history is there at once, the decision comes from one read snapshot, so a netmon
 * process migrating the same new file at this moment is seen either not at all (empty) or
 * completely (history present), never half-way.
 */
async function checkIsStore(store: Store, migrations: readonly Migration[], opts: AdoptOptions): Promise<HistoryRow[] | 'empty' | 'adopt'> {
  const columnsSql = `SELECT name FROM pragma_table_info('schema_migrations') ORDER BY name`
  const shaped = (rows: Row[] | undefined) => {
    const cols = (rows ?? []).map(r => String(r.name))
    return cols.length === HISTORY_COLUMNS.length && cols.every((c, i) => c === HISTORY_COLUMNS[i])
  }
  const history = () => store.query<HistoryRow>('SELECT version, name FROM schema_migrations ORDER BY version')
  // Every open of an existing store: two plain reads, as cheap as before this check.
  if (shaped(await store.query(columnsSql))) {
    const rows = await history()
    if (rows.length > 0) return rows
  }
  const [objects, columns] = await store.readBatch([
    `SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name`,
    columnsSql,
  ])
  const names = (objects ?? []).map(r => String(r.name))
  if (names.length === 0) return 'empty'
  if (shaped(columns)) {
    // Made by a netmon that committed its first migration since the read above.
    const rows = await history()
    if (rows.length > 0) return rows
  }
  const where = store.location.display
  if (!opts.adopt) {
    const tables = (objects ?? []).filter(r => r.type === 'table').map(r => String(r.name))
    const shown = tables.length === 0 ? 'no tables, other schema objects' : `tables ${tables.slice(0, 3).join(', ')}${tables.length > 3 ? ', …' : ''}`
    throw new NetmonError('store', `${where} is an SQLite database that is not a netmon store (${shown}); netmon did not change it`, {
      hint: `point --db at a netmon store or a new file, or run with NETMON_DB_ADOPT=1 to add netmon's tables to this database`,
      code: 'NOT_A_STORE',
    })
  }
  const ours = createdNames(migrations)
  const clash = names.filter(n => ours.has(n.toLowerCase()))
  if (clash.length > 0) {
    throw new NetmonError(
      'store',
      `cannot adopt ${where}: it already has ${clash.slice(0, 5).join(', ')}${clash.length > 5 ? ', …' : ''}, which netmon would create`,
      {
        hint: 'use a new file for the netmon store',
        code: 'NOT_A_STORE',
      },
    )
  }
  return 'adopt'
}

async function readHistory(reader: Pick<Tx, 'query'>): Promise<HistoryRow[] | null> {
  const t = await reader.query<{n: number}>(`SELECT count(*) AS n FROM sqlite_master WHERE type='table' AND name='schema_migrations'`)
  if (Number(t[0]?.n ?? 0) === 0) return null
  return reader.query<HistoryRow>('SELECT version, name FROM schema_migrations ORDER BY version')
}

/** Brings the store to the latest schema. Cheap when nothing is pending: one read, no write. */
export async function migrate(store: Store, migrations: readonly Migration[] = MIGRATIONS, opts: AdoptOptions = {}): Promise<SchemaState> {
  const latest = migrations.reduce((m, x) => Math.max(m, x.version), 0)
  // Fast path and the guards (not a netmon store, a newer netmon): reads only, so a refused
  // database is left byte-identical (the journal mode is switched only after them).
  const before = await checkIsStore(store, migrations, opts)
  if (Array.isArray(before)) {
    const pending = checkHistory(before, migrations)
    if (pending.length === 0) return {version: latest, latest, applied: []}
  }
  if (store.isLocal) {
    const mode = await store.get<{journal_mode: string}>('PRAGMA journal_mode')
    if (mode?.journal_mode !== 'wal') await store.query('PRAGMA journal_mode=WAL')
  }
  const applied = await store.writeTx(async tx => {
    await tx.execute(HISTORY_TABLE)
    const rows = (await readHistory(tx)) ?? []
    const pending = checkHistory(rows, migrations)
    const now = Date.now()
    for (const m of pending) {
      for (const sql of m.statements) await tx.execute(sql)
      await tx.execute('INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)', [m.version, m.name, now])
    }
    return pending.map(m => m.version)
  })
  return {version: latest, latest, applied}
}

export async function schemaVersion(store: Store): Promise<number> {
  const rows = await readHistory(store)
  if (!rows || rows.length === 0) return 0
  return Math.max(...rows.map(r => Number(r.version)))
}

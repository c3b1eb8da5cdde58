/**
 * Migrations: ordered, numbered, recorded in `schema_migrations`, applied on every open.
 *
 * Race-safety (shared/FACTS.md §3d): twenty processes opening a brand-new file at once must all
 * succeed and leave one copy of the schema. That needs the version read *inside* one
 * BEGIN IMMEDIATE transaction that also applies and records the pending versions, `version` as
 * PRIMARY KEY, and `PRAGMA journal_mode=WAL` issued under the busy timeout before it.
 * A store whose recorded history is unknown to this build (a newer netmon) is refused before
 * anything is written to it.
 */
import {NetmonError} from '../errors.js'
import {MIGRATIONS} from './migrations/index.js'
import type {Store, Tx} from './store.js'

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

async function readHistory(reader: Pick<Tx, 'query'>): Promise<HistoryRow[] | null> {
  const t = await reader.query<{n: number}>(`SELECT count(*) AS n FROM sqlite_master WHERE type='table' AND name='schema_migrations'`)
  if (Number(t[0]?.n ?? 0) === 0) return null
  return reader.query<HistoryRow>('SELECT version, name FROM schema_migrations ORDER BY version')
}

/** Brings the store to the latest schema. Cheap when nothing is pending: one read, no write. */
export async function migrate(store: Store, migrations: readonly Migration[] = MIGRATIONS): Promise<SchemaState> {
  const latest = migrations.reduce((m, x) => Math.max(m, x.version), 0)
  // Fast path and the "newer netmon" guard: a read only, so a refused store is left byte-identical.
  const before = await readHistory(store)
  if (before) {
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

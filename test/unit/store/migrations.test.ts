/**
 * Upgrades: a store made by an earlier main opens with this build. A store that has recorded
 * version N refuses a lower version added later ("skipped migration"), so a migration numbered
 * into a gap below a released one would make every existing store fail to open (found with the
 * profile rows first numbered 14 after 17 and 18 had landed). RELEASED (migrations/index.ts) names
 * the versions on main; a new migration must number above all of them.
 */
import {describe, expect, it} from 'vitest'
import {migrate, openStore} from '../../../src/core/store/index.js'
import {MIGRATIONS, RELEASED} from '../../../src/core/store/migrations/index.js'
import {tempStore} from '../../support/cli.js'

describe('migrations', () => {
  it('versions are unique, released ones exist, and every unreleased one numbers above all released', () => {
    const versions = MIGRATIONS.map(m => m.version)
    expect(new Set(versions).size).toBe(versions.length)
    expect(RELEASED.filter(v => !versions.includes(v))).toEqual([])
    const top = Math.max(...RELEASED)
    expect(versions.filter(v => !RELEASED.includes(v) && v < top)).toEqual([])
  })

  it.each(RELEASED.map((_v, i) => i).slice(1))('a store at the first %i released versions opens and migrates to the latest', async n => {
    const t = tempStore('netmon-upgrade-')
    try {
      const older = MIGRATIONS.filter(m => RELEASED.slice(0, n).includes(m.version))
      const s0 = await openStore({db: t.db, migrate: false})
      await migrate(s0, older)
      await s0.close()
      const s = await openStore({db: t.db})
      const rows = await s.query<{version: number}>('SELECT version FROM schema_migrations ORDER BY version')
      expect(rows.map(r => Number(r.version))).toEqual(MIGRATIONS.map(m => m.version))
      await s.close()
    } finally {
      t.cleanup()
    }
  })
})

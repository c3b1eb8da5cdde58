/**
 * Issue 14, acceptance 4: `devices` and `events` have one owner. Every .ts file under src/core
 * except src/core/devices/ (the owner) and src/core/store/migrations/ (schema) is scanned for SQL
 * that writes either table: INSERT [OR …] INTO, UPDATE [OR …], DELETE FROM, REPLACE INTO, on
 * `devices` / `events` (also `main.`-qualified or quoted), whatever the whitespace and case.
 */
import {readdirSync, readFileSync} from 'node:fs'
import {join, relative} from 'node:path'
import {describe, expect, it} from 'vitest'
import {ROOT} from '../../support/cli.js'

const CORE = join(ROOT, 'src', 'core')
const EXEMPT = [join(CORE, 'devices'), join(CORE, 'store', 'migrations')]

function* tsFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir, {withFileTypes: true})) {
    const p = join(dir, e.name)
    if (EXEMPT.some(x => p === x || p.startsWith(x + '/'))) continue
    if (e.isDirectory()) yield* tsFiles(p)
    else if (e.name.endsWith('.ts')) yield p
  }
}

const TABLE = String.raw`(?:(?:main|temp)\s*\.\s*)?["\`\[]?(?:devices|events)["\`\]]?(?![\w.])`
const WRITE = new RegExp(String.raw`\b(?:insert(?:\s+or\s+\w+)?\s+into|replace\s+into|update(?:\s+or\s+\w+)?|delete\s+from)\s+` + TABLE, 'gi')

/** Writes of devices/events in a source text, as `line: match`. */
function ownerViolations(text: string): string[] {
  const out: string[] = []
  for (const m of text.matchAll(WRITE)) out.push(`${text.slice(0, m.index).split('\n').length}: ${m[0].replace(/\s+/g, ' ')}`)
  return out
}

describe('devices and events are written only by src/core/devices/', () => {
  it('the pattern catches every form of a write (and not reads or other tables)', () => {
    for (const s of [
      'INSERT INTO devices(mac) VALUES (?)',
      'insert   or ignore\n into events(ts) SELECT 1',
      'UPDATE devices SET x = 1',
      'update or replace main.devices set x = 1',
      'DELETE\tFROM events WHERE id = 1',
      'REPLACE INTO "events"(id) VALUES (1)',
      '`UPDATE\n    devices SET last_seen = 1`',
    ]) {
      expect(ownerViolations(s), s).toHaveLength(1)
    }
    for (const s of [
      'SELECT * FROM devices',
      'UPDATE devices_meta SET x = 1',
      'DELETE FROM device_ips WHERE 1',
      'INSERT INTO bw_totals SELECT id FROM devices',
      'JOIN events e ON e.device_id = d.id',
      'UPDATE scan_hosts SET device_id = 1 -- devices',
    ]) {
      expect(ownerViolations(s), s).toEqual([])
    }
  })

  it('no module under src/core outside devices/ (and migrations/) writes devices or events', () => {
    const found: string[] = []
    let files = 0
    for (const f of tsFiles(CORE)) {
      files++
      for (const v of ownerViolations(readFileSync(f, 'utf8'))) found.push(`${relative(ROOT, f)}:${v}`)
    }
    expect(files).toBeGreaterThan(50)
    expect(found).toEqual([])
  })
})

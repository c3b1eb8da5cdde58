/**
 * docs/EXPORT.md documents the column order of every dataset (issue 9); this keeps it true.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {describeDatasets} from '../../../src/core/export/registry.js'

const doc = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'EXPORT.md'), 'utf8')

describe('docs/EXPORT.md', () => {
  for (const d of describeDatasets()) {
    it(`documents ${d.name} with its columns in order`, () => {
      const start = doc.indexOf(`### \`${d.name}\`\n`)
      expect(start, `section for ${d.name}`).toBeGreaterThan(-1)
      const section = doc.slice(start, doc.indexOf('\n### ', start + 1) === -1 ? undefined : doc.indexOf('\n### ', start + 1))
      const documented = [...section.matchAll(/^\| \d+ \| `([^`]+)` \|/gm)].map(m => m[1])
      expect(documented).toEqual(d.columns.map(c => c.name))
    })
  }
})

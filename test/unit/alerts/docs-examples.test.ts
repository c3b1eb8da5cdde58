/**
 * The YAML examples in docs/ALERTS.md are valid (issue 16, acceptance 6): the rules file with the
 * seed's two excessive-usage alerts (current > 100 Mbps, total > 10 GB a day), the rule snippets
 * of each kind (wrapped in `rules:`) and the channel examples (with `rules: []`). The agent job
 * example is checked by the agent's tests.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {parse} from 'yaml'
import {describe, expect, it} from 'vitest'
import {resolveRules} from '../../../src/core/alerts/rules.js'

const doc = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'ALERTS.md'), 'utf8')
const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map(m => m[1]!).filter(b => !/^jobs:/m.test(b))
const env = {NETMON_HOOK_SECRET: 'example-secret', NETMON_SMTP_PASSWORD: 'example-password'}

function asRulesFile(block: string): unknown {
  if (/^ {2}- /.test(block)) return {rules: parse(block)}
  const raw = parse(block) as Record<string, unknown>
  return raw.rules ? raw : {...raw, rules: []}
}

describe('docs/ALERTS.md examples', () => {
  it('has the rules file with the two excessive-usage alerts', () => {
    const set = resolveRules(asRulesFile(blocks[0]!), {env, baseDir: '/etc/netmon'})
    const rate = set.rules.find(r => r.kind === 'bandwidth_rate')!
    const usage = set.rules.find(r => r.kind === 'bandwidth_usage')!
    expect(rate.params).toMatchObject({above: 100e6, direction: 'total'})
    expect(usage.params).toMatchObject({above: 10e9, window: 'day'})
  })

  it.each(blocks.map((b, i) => [i, b] as const))('example %i validates', (_i, block) => {
    expect(() => resolveRules(asRulesFile(block), {env, baseDir: '/etc/netmon'})).not.toThrow()
  })

  it('includes an email channel example', () => {
    const set = resolveRules(asRulesFile(blocks.find(b => /type: email/.test(b))!), {env})
    expect(set.channels.get('mail')).toMatchObject({type: 'email', port: 587, requireTls: true, password: 'example-password'})
  })
})

import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {loadRules, parseBytes, renderTemplate, resolveRules} from '../../../src/core/alerts/rules.js'
import {redact} from '../../../src/core/secrets.js'
import {INVALID} from './invalid-rules.js'

const dir = mkdtempSync(join(tmpdir(), 'netmon-rules-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('rules file validation', () => {
  it('has at least 20 invalid files', () => expect(INVALID.length).toBeGreaterThanOrEqual(20))
  it.each(INVALID.map((x, i) => [i, ...x] as const))('invalid file %i is refused naming the path', (i, text, want) => {
    const file = join(dir, `bad-${i}.${text.startsWith('{') ? 'json' : 'yaml'}`)
    writeFileSync(file, text)
    let err: unknown
    try {
      loadRules(file, {env: {}})
    } catch (e) {
      err = e
    }
    expect(err, `file ${i} was accepted`).toBeDefined()
    const e = err as {kind: string; message: string}
    expect(e.kind).toBe('input')
    expect(e.message).toContain(`rules file ${file}`)
    expect(e.message).toContain(want)
  })

  it('accepts the documented examples and resolves defaults', () => {
    const secret = join(dir, 'hook.key')
    writeFileSync(secret, 's3cret\n')
    const file = join(dir, 'good.yaml')
    writeFileSync(
      file,
      `channels:
  ops: {type: webhook, url: "http://127.0.0.1:9/hook", secret_file: hook.key, max_attempts: 3, backoff: {min: 100ms, max: 2s}}
  script: {type: exec, command: [./notify.sh, --flag]}
  mail: {type: email, host: smtp.example.net, username: netmon, password_file: hook.key, from: "netmon <netmon@example.net>", to: [ops@example.net]}
  smtps: {type: email, host: smtp.example.net, secure: true, from: netmon@example.net, to: [ops@example.net], subject_prefix: "[home]"}
  relay: {type: email, host: 127.0.0.1, port: 25, require_tls: false, username: netmon, password_file: hook.key, from: netmon@example.net, to: [ops@example.net]}
defaults: {channels: [log, ops]}
rules:
  - name: heavy-user
    kind: bandwidth_usage
    window: day
    above: 10GB
    severity: critical
    message: "{{device.name}} used {{value}} today"
  - {name: fast, kind: bandwidth_rate, above: 100Mbps, for: 5m, keep_firing_for: 2m, repeat_interval: 1h, scope: {known: false}, channels: [script]}
  - {name: gone, kind: device_offline, not_seen_for: 30m, scope: {mac: "aa-bb-cc-dd-ee-01"}}
  - {name: lat, kind: latency_quality, grade_at_or_below: poor, loss_above: 5, rtt_above: 200ms, scope: {target: router}}
  - {name: m, kind: meter_down, no_reading_for: 5m, scope: {meter: m1}}
  - {name: bb, kind: bridge_backlog, age_above: 10m, scope: {meter: m1}}
  - {name: bd, kind: broker_disconnected, for: 30s, keep_firing_for: 1m}
  - {name: sf, kind: source_failing, source: snmp:sw, consecutive_failures: 3}
  - {name: ie, kind: interface_errors, interface: eth0, errors_above: 10, per: 1m, scope: {known: true}}
`,
    )
    const set = loadRules(file, {env: {}})
    expect(set.rules.map(r => r.name)).toEqual(['heavy-user', 'fast', 'gone', 'lat', 'm', 'bb', 'bd', 'sf', 'ie'])
    expect(set.rules.slice(5).map(r => [r.scope, r.params, r.forMs, r.keepFiringForMs])).toEqual([
      [{meter: 'm1'}, {age_above: 600_000}, 0, 0],
      ['all', {}, 30_000, 60_000],
      ['all', {source: 'snmp:sw', consecutive_failures: 3}, 0, 0],
      [{known: true}, {interface: 'eth0', errors_above: 10, per: 60_000}, 0, 0],
    ])
    const [heavy, fast, gone, lat] = set.rules
    expect(heavy).toMatchObject({params: {above: 10e9, window: 'day'}, channels: ['log', 'ops'], forMs: 0, severity: 'critical'})
    expect(fast).toMatchObject({
      params: {above: 100e6},
      forMs: 300_000,
      keepFiringForMs: 120_000,
      repeatMs: 3_600_000,
      channels: ['script'],
      scope: {known: false},
    })
    expect(gone!.scope).toEqual({mac: 'AA:BB:CC:DD:EE:01'})
    expect(lat!.params).toMatchObject({rtt_above: 200, loss_above: 5, grade_at_or_below: 'poor'})
    const ops = set.channels.get('ops')!
    expect(ops).toMatchObject({type: 'webhook', secret: 's3cret', maxAttempts: 3, backoff: {minMs: 100, maxMs: 2000}})
    expect(set.channels.get('script')).toMatchObject({command: [join(dir, 'notify.sh'), '--flag']})
    expect(set.channels.get('mail')).toMatchObject({
      type: 'email',
      port: 587,
      secure: false,
      requireTls: true,
      username: 'netmon',
      password: 's3cret',
      to: ['ops@example.net'],
      subjectPrefix: '[netmon]',
    })
    expect(set.channels.get('smtps')).toMatchObject({port: 465, secure: true, subjectPrefix: '[home]'})
    // A relay on this host may take a password without TLS (nothing leaves the machine).
    expect(set.channels.get('relay')).toMatchObject({port: 25, secure: false, requireTls: false})
    // The password and its AUTH LOGIN / AUTH PLAIN encodings are redacted wherever they appear.
    const plain = Buffer.from('\0netmon\0s3cret').toString('base64')
    expect(redact(`535 refused ${plain} / ${Buffer.from('s3cret').toString('base64')} / s3cret`)).toBe('535 refused *** / *** / ***')
  })

  it('parses sizes and renders templates without evaluating anything', () => {
    expect(parseBytes('10GB')).toBe(10e9)
    expect(parseBytes('2 GiB')).toBe(2 * 1024 ** 3)
    expect(parseBytes('500')).toBe(500)
    expect(parseBytes('ten')).toBeNull()
    expect(renderTemplate('{{device.name}} used {{ value }}; {{labels.team}}{{missing}}', {'device.name': 'tv', value: '11 GB', 'labels.team': 'x'})).toBe(
      'tv used 11 GB; x',
    )
    expect(renderTemplate('{{constructor}}', {})).toBe('')
  })

  it('reports the first problem of a document passed directly', () => {
    expect(() => resolveRules({rules: [{name: 'a', kind: 'bandwidth_rate'}]})).toThrow('rules file rules[0].above: expected a rate')
  })
})

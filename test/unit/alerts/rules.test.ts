import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {loadRules, parseBytes, renderTemplate, resolveRules} from '../../../src/core/alerts/rules.js'

const dir = mkdtempSync(join(tmpdir(), 'netmon-rules-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

const usage = 'kind: bandwidth_usage, above: 10GB, window: day'
/** [file text (YAML unless it starts with "{"), the message's start: path and reason]. */
const INVALID: [string, string][] = [
  ['rules: [{name: a, kind: nope}]', 'rules[0].kind: expected one of device_new'],
  ['rules: [{kind: device_new}]', 'rules[0].name: expected a rule name'],
  ['rules: [{name: "-a", kind: device_new}]', 'rules[0].name: expected 1-64 letters'],
  [`rules: [{name: a, kind: device_new}, {name: a, kind: device_new}]`, 'rules[1].name: duplicate rule name "a" (also rules[0])'],
  [
    `rules: [{name: a, kind: device_new}, {name: b, kind: device_offline, not_seen_for: 10m}, {name: c, kind: device_new}, {name: d, kind: bandwidth_rate, above: 100Mbps, for: soon}]`,
    'rules[3].for: expected a duration such as 5m',
  ],
  [`rules: [{name: a, ${usage}, keep_firing_for: -5m}]`, 'rules[0].keep_firing_for: expected a duration such as 5m'],
  [`rules: [{name: a, ${usage}, repeat_interval: 1s}]`, 'rules[0].repeat_interval: expected a duration such as 5m between 60000ms'],
  ['rules: [{name: a, kind: bandwidth_usage, above: 10GB}]', 'rules[0].window: expected day, month or rolling_24h'],
  ['rules: [{name: a, kind: bandwidth_usage, above: lots, window: day}]', 'rules[0].above: expected a size in bytes such as 10GB'],
  ['rules: [{name: a, kind: bandwidth_rate, above: fast}]', 'rules[0].above: expected a rate in bits/s'],
  ['rules: [{name: a, kind: bandwidth_rate, above: 1M, direction: sideways}]', 'rules[0].direction: expected up, down or total'],
  [`rules: [{name: a, ${usage}, windw: day}]`, 'rules[0].windw: unknown field'],
  [`rules: [{name: a, ${usage}, scope: {mac: nope}}]`, 'rules[0].scope.mac: expected a MAC address'],
  [`rules: [{name: a, ${usage}, scope: {mac: "aa:bb:cc:dd:ee:01", vendor: x}}]`, 'rules[0].scope: expected exactly one of'],
  [`rules: [{name: a, ${usage}, scope: {meter: m1}}]`, 'rules[0].scope.meter: a bandwidth_usage rule cannot be scoped by meter'],
  [`rules: [{name: a, ${usage}, scope: everything}]`, 'rules[0].scope: expected all, or one of'],
  [`rules: [{name: a, ${usage}, severity: meh}]`, 'rules[0].severity: expected one of info, warning, critical'],
  [`rules: [{name: a, ${usage}, message: "{{device.secret}}"}]`, 'rules[0].message: unknown template variable {{device.secret}}'],
  [`rules: [{name: a, ${usage}, channels: [ops]}]`, 'rules[0].channels[0]: no channel named "ops"'],
  [`rules: [{name: a, ${usage}, labels: {team: 3}}]`, 'rules[0].labels.team: expected a text label value'],
  ['rules: [{name: a, kind: latency_quality}]', 'rules[0]: expected at least one of grade_at_or_below'],
  ['rules: [{name: a, kind: latency_quality, grade_at_or_below: awful}]', 'rules[0].grade_at_or_below: expected one of excellent'],
  ['rules: [{name: a, kind: latency_quality, loss_above: 101}]', 'rules[0].loss_above: expected 0-100'],
  ['rules: [{name: a, kind: device_offline}]', 'rules[0].not_seen_for: expected a duration such as 5m'],
  ['rules: [{name: a, kind: device_new, for: 5m}]', 'rules[0].for: device_new fires on the event itself'],
  ['rules: [{name: a, kind: meter_down}]', 'rules[0]: expected consecutive_failures or no_reading_for'],
  ['rules: [{name: a, kind: bridge_backlog, depth_above: 0}]', 'rules[0].depth_above: expected a whole number ≥ 1'],
  ['rules: [{name: a, kind: source_failing}]', 'rules[0].consecutive_failures: expected a whole number ≥ 1'],
  ['rules: [{name: a, kind: interface_errors, errors_above: -1}]', 'rules[0].errors_above: expected a number of errors/drops'],
  ['channels: {w: {type: pager}}\nrules: []', 'channels.w.type: expected a channel with type log, webhook, exec, mqtt or email'],
  ['channels: {w: {type: email}}\nrules: []', 'channels.w.host: expected the SMTP server host name or address'],
  ['channels: {w: {type: email, host: mx.example.net, from: a@example.net, to: b@example.net}}\nrules: []', 'channels.w.to: expected a list of addresses'],
  [
    'channels: {w: {type: email, host: mx.example.net, port: 70000, from: a@example.net, to: [b@example.net]}}\nrules: []',
    'channels.w.port: expected a TCP port',
  ],
  [
    'channels: {w: {type: email, host: mx.example.net, from: a@example.net, to: [b@example.net], username: u, password_env: A, password_file: b}}\nrules: []',
    'channels.w: give password_env or password_file, not both',
  ],
  [
    'channels: {w: {type: email, host: mx.example.net, from: a@example.net, to: [b@example.net], username: u, password_env: NETMON_TEST_UNSET_SECRET}}\nrules: []',
    'channels.w.password_env: environment variable NETMON_TEST_UNSET_SECRET is not set',
  ],
  [
    'rules: [{name: a, kind: source_failing, consecutive_failures: 3, scope: {meter: m1}}]',
    'rules[0].scope.meter: a source_failing rule cannot be scoped by meter',
  ],
  [
    'rules: [{name: a, kind: interface_errors, errors_above: 1, scope: {meter: m1}}]',
    'rules[0].scope.meter: a interface_errors rule cannot be scoped by meter',
  ],
  [
    'rules: [{name: a, kind: broker_disconnected, scope: {mac: "aa:bb:cc:dd:ee:01"}}]',
    'rules[0].scope.mac: a broker_disconnected rule cannot be scoped by mac',
  ],
  [
    'channels: {m: {type: mqtt, url: "mqtt://127.0.0.1:1883", topic: "alerts/#"}}\nrules: []',
    'channels.m.topic: a topic to publish to must not contain + or #',
  ],
  ['channels: {m: {type: mqtt, url: "mqtt://u:pw@127.0.0.1:1883", topic: a}}\nrules: []', 'channels.m.url: must not contain a password'],
  ['channels: {m: {type: mqtt, url: "mqtt://127.0.0.1:1883", topic: "a/{device}"}}\nrules: []', 'channels.m.topic: unknown placeholder {device}'],
  ['channels: {m: {type: mqtt, url: "mqtt://127.0.0.1:1883"}}\nrules: []', 'channels.m.topic: expected a topic such as netmon/alerts/{rule}'],
  ['channels: {w: {type: webhook, url: "ftp://x"}}\nrules: []', 'channels.w.url: expected an http:// or https:// URL'],
  [
    'channels: {w: {type: webhook, url: "http://127.0.0.1:9/", secret_env: NETMON_TEST_UNSET_SECRET}}\nrules: []',
    'channels.w.secret_env: environment variable NETMON_TEST_UNSET_SECRET is not set',
  ],
  ['channels: {w: {type: webhook, url: "http://127.0.0.1:9/", secret_file: missing.key}}\nrules: []', 'channels.w.secret_file: cannot read missing.key'],
  ['channels: {x: {type: exec, command: run.sh}}\nrules: []', 'channels.x.command: expected the command as a list'],
  ['channels: {x: {type: exec, command: [a], backoff: {min: 10s, max: 1s}}}\nrules: []', 'channels.x.backoff.max: must not be below backoff.min'],
  ['defaults: {channels: [nope]}\nrules: []', 'defaults.channels: no channel named "nope"'],
  ['rules: {name: a}', 'rules: expected a list of rules'],
  ['rule: []', 'rules: expected a list of rules'],
  ['rules: [3]', 'rules[0]: expected a rule'],
  ['rules: [{name: a, kind: device_new', 'invalid YAML at line'],
  ['{"rules": [}', 'not valid JSON'],
]

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

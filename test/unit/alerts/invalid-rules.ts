/**
 * Invalid rules files (issue 16, acceptance 5): [file text (YAML unless it starts with "{"), what
 * the error must contain: the path and the reason]. Used in-process by rules.test.ts and through
 * the spawned CLI by test/integration/alerts/cli.test.ts.
 */
const usage = 'kind: bandwidth_usage, above: 10GB, window: day'
/** [file text (YAML unless it starts with "{"), the message's start: path and reason]. */
export const INVALID: [string, string][] = [
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

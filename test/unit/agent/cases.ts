/** The agent config cases shared by the unit table (config.test.ts) and the CLI test (check-cli.test.ts). */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

export const TOKEN = 'serve-token-SECRET-0123456789'
export const env = {API_TOKEN: TOKEN, MQTT_PW: 'mqtt-pw-SECRET-1', NETMON_TEST_COMMUNITY: 'comm-SECRET-2'}

export const validConfig = () => ({
  heartbeat: '2s',
  shutdown_timeout: '5s',
  jobs: [
    {
      name: 'bytes',
      kind: 'collector',
      every: '10s',
      sources: [
        {type: 'interfaces', names: ['lo']},
        {type: 'nftables', lan: ['10.0.0.0/24', 'fd00::/64']},
      ],
    },
    {name: 'sweep', kind: 'scan', every: '5m', targets: ['10.0.0.0/24'], register: true, rdns: false},
    {name: 'ping', kind: 'latency', cron: '*/5 * * * *', timezone: 'Europe/Vienna', targets: ['10.0.0.1'], method: 'tcp', port: 22},
    {name: 'prune', kind: 'prune', cron: '0 3 * * *', keep: {raw: '14d', '1d': 'forever', latency_probes: '30d'}},
    {
      name: 'meters',
      kind: 'bridge',
      config: {
        mqtt: {url: 'mqtt://127.0.0.1:1883', username: 'u', password_env: 'MQTT_PW'},
        publish: {format: 'plain', topic: 'm/{id}'},
        meters: [{id: 'm1', host: '127.0.0.1', obis: {'1.0.1.8.0.255': 'e'}}],
      },
    },
    {name: 'api', kind: 'serve', host: '0.0.0.0', port: 8080, token_env: 'API_TOKEN'},
    {name: 'flows', kind: 'netflow', listen: '127.0.0.1:2055', lan: ['10.0.0.0/24', 'fd00::/64'], every: '10s', exporters: ['127.0.0.1']},
  ],
})

export type Mut = (c: any) => void
/** [name, mutation, expected message (path first)]; `dir` is a scratch directory. */
export const cases = (dir: string): [string, Mut, RegExp][] => [
  ['no jobs key', c => delete c.jobs, /^jobs: missing: the list of jobs/],
  ['jobs not a list', c => (c.jobs = {a: 1}), /^jobs: expected a list of jobs/],
  ['empty jobs', c => (c.jobs = []), /^jobs: expected at least one job/],
  ['unknown top-level key', c => (c.jbos = []), /jbos/],
  ['bad heartbeat', c => (c.heartbeat = 'often'), /^heartbeat: invalid duration "often"/],
  ['unknown kind', c => (c.jobs[1].kind = 'scna'), /^jobs\[1\]\.kind: expected kind: one of collector, scan/],
  ['missing kind', c => delete c.jobs[2].kind, /^jobs\[2\]\.kind: /],
  ['missing name', c => delete c.jobs[0].name, /^jobs\[0\]\.name: missing: a unique name/],
  ['bad name', c => (c.jobs[0].name = 'no spaces!'), /^jobs\[0\]\.name: expected 1-64 letters/],
  ['duplicate name', c => (c.jobs[3].name = 'sweep'), /^jobs\[3\]\.name: duplicate job name "sweep" \(also jobs\[1\]\)/],
  ['bad every', c => (c.jobs[1].every = 'soon'), /^jobs\[1\]\.every: invalid duration "soon"/],
  ['every too short', c => (c.jobs[1].every = '10ms'), /^jobs\[1\]\.every: expected a duration from 1s/],
  ['every as an object', c => (c.jobs[1].every = {m: 5}), /^jobs\[1\]\.every: expected a duration such as/],
  ['no schedule', c => delete c.jobs[1].every, /^jobs\[1\]\.every: missing: a schedule/],
  ['every and cron', c => (c.jobs[1].cron = '* * * * *'), /^jobs\[1\]\.cron: give either every or cron/],
  ['bad cron', c => (c.jobs[2].cron = 'every five minutes'), /^jobs\[2\]\.cron: invalid cron expression "every five minutes"/],
  ['cron out of range', c => (c.jobs[3].cron = '61 * * * *'), /^jobs\[3\]\.cron: invalid cron expression/],
  ['unknown time zone', c => (c.jobs[2].timezone = 'Mars/Olympus'), /^jobs\[2\]\.timezone: unknown time zone "Mars\/Olympus"/],
  ['time zone without cron', c => (c.jobs[1].timezone = 'UTC'), /^jobs\[1\]\.timezone: a time zone applies to a cron schedule only/],
  ['collector without every', c => delete c.jobs[0].every, /^jobs\[0\]\.every: missing: the collector interval/],
  ['collector with cron', c => (c.jobs[0].cron = '* * * * *'), /^jobs\[0\]: .*cron|^jobs\[0\]\.cron/],
  ['collector jitter ≥ every', c => (c.jobs[0].jitter = '10s'), /^jobs\[0\]\.jitter: must be shorter than every \(10s\)/],
  ['collector no sources', c => (c.jobs[0].sources = []), /^jobs\[0\]\.sources: expected at least one source/],
  [
    'unknown source type',
    c => (c.jobs[0].sources[0] = {type: 'netflow'}),
    /^jobs\[0\]\.sources\[0\]\.type: expected a source with type: interfaces, nftables or snmp/,
  ],
  ['snmp without agents', c => (c.jobs[0].sources[0] = {type: 'snmp', agents: []}), /^jobs\[0\]\.sources\[0\]\.agents: expected at least one agent/],
  [
    'snmp agent bad port',
    c => (c.jobs[0].sources[0] = {type: 'snmp', agents: [{name: 'sw1', host: '127.0.0.1', port: 0, community_env: 'NETMON_TEST_COMMUNITY'}]}),
    /^jobs\[0\]\.sources\[0\]\.agents\[0\]\.port: /,
  ],
  [
    'snmp v2c without a community',
    c => (c.jobs[0].sources[0] = {type: 'snmp', agents: [{name: 'sw1', host: '127.0.0.1'}]}),
    /^jobs\[0\]\.sources\[0\]\.agents\[0\]: .*v2c needs community_env or community_file/,
  ],
  [
    'snmp community env not set',
    c => (c.jobs[0].sources[0] = {type: 'snmp', agents: [{name: 'sw1', host: '127.0.0.1', community_env: 'NETMON_TEST_UNSET_COMMUNITY'}]}),
    /^jobs\[0\]\.sources\[0\]\.agents\[0\]: community_env: \$NETMON_TEST_UNSET_COMMUNITY is not set/,
  ],
  [
    'snmp agents with one name',
    c =>
      (c.jobs[0].sources[0] = {
        type: 'snmp',
        agents: [
          {name: 'sw1', host: '127.0.0.1', community_env: 'NETMON_TEST_COMMUNITY'},
          {name: 'sw1', host: '127.0.0.2', community_env: 'NETMON_TEST_COMMUNITY'},
        ],
      }),
    /^jobs\[0\]\.sources\[0\]\.agents\[1\]\.name: two agents are named "sw1"/,
  ],
  ['nftables without lan', c => delete c.jobs[0].sources[1].lan, /^jobs\[0\]\.sources\[1\]\.lan: /],
  ['nftables bad CIDR', c => (c.jobs[0].sources[1].lan[1] = '10.0.0.0/40'), /^jobs\[0\]\.sources\[1\]\.lan\[1\]: expected a CIDR/],
  ['interface named twice', c => (c.jobs[0].sources[0].names = ['lo', 'lo']), /^jobs\[0\]\.sources\[0\]\.names: an interface is named twice/],
  ['two sources with one name', c => (c.jobs[0].sources[1] = {type: 'interfaces', names: ['lo']}), /^jobs\[0\]\.sources\[1\]\.name: two sources/],
  ['unknown source key', c => (c.jobs[0].sources[0].nmes = ['lo']), /^jobs\[0\]\.sources\[0\].*nmes/],
  ['scan without targets', c => delete c.jobs[1].targets, /^jobs\[1\]\.targets: /],
  ['scan empty target', c => (c.jobs[1].targets = ['']), /^jobs\[1\]\.targets\[0\]: expected a host/],
  ['scan bad method', c => (c.jobs[1].methods = ['arp']), /^jobs\[1\]\.methods\[0\]: expected one of neighbor, tcp, icmp/],
  ['scan bad ports', c => (c.jobs[1].ports = 'web'), /^jobs\[1\]\.ports: expected a port list/],
  ['scan register not boolean', c => (c.jobs[1].register = 'yes'), /^jobs\[1\]\.register: expected true or false/],
  ['latency bad method', c => (c.jobs[2].method = 'udp'), /^jobs\[2\]\.method: expected auto, icmp or tcp/],
  ['latency bad port', c => (c.jobs[2].port = 0), /^jobs\[2\]\.port: expected 1-65535/],
  ['latency count 0', c => (c.jobs[2].count = 0), /^jobs\[2\]\.count: expected 1-1000/],
  [
    'latency longer than every',
    c => ((c.jobs[2] = {name: 'ping', kind: 'latency', every: '1s', targets: ['10.0.0.1'], count: 10, interval: '500ms'}), undefined),
    /^jobs\[2\]\.count: 10 probes 500ms apart take about/,
  ],
  ['prune bad keep', c => (c.jobs[3].keep.raw = 'a week'), /^jobs\[3\]\.keep\.raw: invalid duration "a week"/],
  ['prune unknown level', c => (c.jobs[3].keep['1w'] = '1d'), /^jobs\[3\]\.keep.*1w/],
  ['bridge without config', c => delete c.jobs[4].config, /^jobs\[4\]\.config_file: give the bridge config/],
  [
    'bridge config file missing',
    c => ((c.jobs[4] = {name: 'meters', kind: 'bridge', config_file: 'nope.yaml'}), undefined),
    /^jobs\[4\]\.config_file: file nope\.yaml does not exist/,
  ],
  ['bridge inline error keeps its path', c => (c.jobs[4].config.meters[0].port = 70000), /^jobs\[4\]\.config: meters\[0\]\.port: expected 1-65535/],
  [
    'bridge secret not set',
    c => (c.jobs[4].config.mqtt.password_env = 'NOT_SET_ANYWHERE'),
    /^jobs\[4\]\.config: mqtt\.password_env: environment variable NOT_SET_ANYWHERE is not set/,
  ],
  ['two bridges', c => c.jobs.push({...c.jobs[4], name: 'meters2'}), /^jobs\[7\]\.kind: only one bridge job/],
  ['serve token env not set', c => (c.jobs[5].token_env = 'NO_SUCH_TOKEN'), /^jobs\[5\]\.token_env: environment variable NO_SUCH_TOKEN is not set/],
  ['serve on the LAN without a token', c => delete c.jobs[5].token_env, /^jobs\[5\]\.host: 0\.0\.0\.0 is not loopback: the API needs a token/],
  [
    'serve token file missing',
    c => ((c.jobs[5].token_file = join(dir, 'none')), delete c.jobs[5].token_env),
    /^jobs\[5\]\.token_file: cannot read .* \(ENOENT\)/,
  ],
  ['serve token in the file itself', c => (c.jobs[5].token = 'x'.repeat(20)), /^jobs\[5\].*token/],
  ['serve port out of range', c => (c.jobs[5].port = 70000), /^jobs\[5\]\.port: expected 0-65535/],
  ['netflow listen without a port', c => (c.jobs[6].listen = '0.0.0.0'), /^jobs\[6\]\.listen: expected ADDRESS:PORT such as 0\.0\.0\.0:2055/],
  ['netflow listen port out of range', c => (c.jobs[6].listen = '127.0.0.1:70000'), /^jobs\[6\]\.listen: expected ADDRESS:PORT .*got "127\.0\.0\.1:70000"/],
  ['netflow listen on a name', c => (c.jobs[6].listen = 'localhost:2055'), /^jobs\[6\]\.listen: expected ADDRESS:PORT/],
  ['netflow without lan', c => delete c.jobs[6].lan, /^jobs\[6\]\.lan: /],
  ['netflow bad CIDR', c => (c.jobs[6].lan[1] = 'fd00::/200'), /^jobs\[6\]\.lan\[1\]: expected a CIDR/],
  ['netflow exporter not an address', c => (c.jobs[6].exporters = ['router.lan']), /^jobs\[6\]\.exporters\[0\]: expected an IP address, got "router\.lan"/],
  ['netflow every not whole seconds', c => (c.jobs[6].every = '1500ms'), /^jobs\[6\]\.every: expected whole seconds/],
  ['netflow every too short', c => (c.jobs[6].every = '200ms'), /^jobs\[6\]\.every: expected a duration from 1s/],
  ['two netflow jobs on one port', c => c.jobs.push({...c.jobs[6], name: 'flows2'}), /^jobs\[7\]\.listen: jobs\[6\] already listens on 127\.0\.0\.1:2055/],
  ['netflow unknown key', c => (c.jobs[6].port = 2055), /^jobs\[6\].*port/],
  ['enabled not boolean', c => (c.jobs[0].enabled = 'no'), /^jobs\[0\]\.enabled: expected true or false/],
  // alerts (issue 16): pushed as jobs[7]
  ['alerts without rules', c => c.jobs.push({name: 'alerting', kind: 'alerts', every: '1m'}), /^jobs\[7\]\.rules_file: give the alert rules as rules_file/],
  [
    'alerts rules file missing',
    c => c.jobs.push({name: 'alerting', kind: 'alerts', every: '1m', rules_file: 'no-rules.yaml'}),
    /^jobs\[7\]\.rules_file: file no-rules\.yaml does not exist/,
  ],
  [
    'alerts rules file with a bad rule',
    c => (
      writeFileSync(join(dir, 'bad-rules.yaml'), 'rules:\n  - {name: a, kind: bandwidth_usage, above: 10GB, window: week}\n'),
      c.jobs.push({name: 'alerting', kind: 'alerts', every: '1m', rules_file: 'bad-rules.yaml'})
    ),
    /^jobs\[7\]\.rules_file \(bad-rules\.yaml\): rules\[0\]\.window: expected day, month or rolling_24h/,
  ],
  [
    'alerts inline rule with an unknown kind',
    c => c.jobs.push({name: 'alerting', kind: 'alerts', every: '1m', rules: [{name: 'a', kind: 'bandwidth_usag'}]}),
    /^jobs\[7\]\.rules\[0\]\.kind: /,
  ],
  [
    'alerts inline rule naming an unknown channel',
    c => c.jobs.push({name: 'alerting', kind: 'alerts', every: '1m', rules: [{name: 'a', kind: 'device_new', channels: ['hook']}]}),
    /^jobs\[7\]\.rules\[0\]\.channels\[0\]: no channel named "hook"/,
  ],
  [
    'alerts inline webhook secret not set',
    c =>
      c.jobs.push({
        name: 'alerting',
        kind: 'alerts',
        every: '1m',
        channels: {hook: {type: 'webhook', url: 'http://127.0.0.1:9/x', secret_env: 'NETMON_TEST_UNSET_HOOK'}},
        rules: [{name: 'a', kind: 'device_new', channels: ['hook']}],
      }),
    /^jobs\[7\]\.channels\.hook\.secret_env: environment variable NETMON_TEST_UNSET_HOOK is not set/,
  ],
  [
    'alerts file and inline rules',
    c => (
      writeFileSync(join(dir, 'ok-rules.yaml'), 'rules: [{name: a, kind: device_new}]\n'),
      c.jobs.push({name: 'alerting', kind: 'alerts', every: '1m', rules_file: 'ok-rules.yaml', rules: []})
    ),
    /^jobs\[7\]\.rules: give the rules as rules_file: PATH or inline/,
  ],
  [
    'alerts without a schedule',
    c => c.jobs.push({name: 'alerting', kind: 'alerts', rules: [{name: 'a', kind: 'device_new'}]}),
    /^jobs\[7\]\.every: missing: a schedule/,
  ],
  ['alerts unknown key', c => c.jobs.push({name: 'alerting', kind: 'alerts', every: '1m', rule: []}), /^jobs\[7\].*rule/],
]

/**
 * Acceptance 6: invalid configs exit 2 with one line naming the path; a valid one passes `bridge
 * check`; `bridge run` refuses an invalid config before touching anything; secrets stay out of output.
 */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'

const tmp = tempStore('netmon-bridge-cfg-')
afterAll(() => tmp.cleanup())

const SECRET = 'tb-token-SECRET-77421'
const env = {TB_TOKEN: SECRET, METER_PW: 'meterpw-SECRET-1', MQTT_PW: 'mqttpw-SECRET-2'}

const valid = () => ({
  mqtt: {url: 'mqtt://127.0.0.1:1883', token_env: 'TB_TOKEN'},
  publish: {format: 'thingsboard-gateway'},
  defaults: {port: 4061, poll_interval: '3s', obis: {'1.0.1.8.0.255': 'energy_import_kwh', '1.0.32.7.0.255': 'voltage_v'}},
  meters: [
    {id: 'm1', name: 'Meter 1', host: '127.0.0.1'},
    {id: 'm2', host: '127.0.0.1', port: 4062, framing: 'hdlc', auth: {mechanism: 'low', password_env: 'METER_PW'}},
    {
      id: 'm3',
      host: '127.0.0.1',
      port: 4063,
      obis: [
        {obis: '1-0:1.8.0*255', key: 'e', unit: 'kWh'},
        {obis: '0.0.1.0.0.255', key: 'clock', class: 8},
      ],
    },
    {id: 'm4', host: '127.0.0.1', port: 4064},
  ],
})

type Mut = (c: any) => void
/** [name, mutation, expected path + message fragment]. */
const CASES: [string, Mut | string, RegExp][] = [
  ['port out of range', c => (c.meters[3].port = 70000), /meters\[3\]\.port: expected 1-65535/],
  ['port not an integer', c => (c.meters[0].port = 40.5), /meters\[0\]\.port: expected an integer 1-65535/],
  ['port as text', c => (c.meters[1].port = 'x'), /meters\[1\]\.port: /],
  ['missing host', c => delete c.meters[2].host, /meters\[2\]\.host/],
  ['bad id', c => (c.meters[0].id = 'bad id!'), /meters\[0\]\.id: expected 1-64 letters/],
  ['duplicate id', c => (c.meters[1].id = 'm1'), /meters\[1\]\.id: duplicate id "m1"/],
  ['duplicate name', c => (c.meters[1].name = 'Meter 1'), /meters\[1\]\.name: duplicate name/],
  ['unknown meter key', c => (c.meters[0].pol_interval = '1s'), /meters\[0\].*pol_interval/],
  ['unknown top-level key', c => (c.meterz = []), /meterz/],
  ['bad framing', c => (c.meters[0].framing = 'serial'), /meters\[0\]\.framing: expected wrapper or hdlc/],
  ['bad poll interval', c => (c.meters[0].poll_interval = 'soon'), /meters\[0\]\.poll_interval: invalid duration "soon"/],
  ['poll interval too short', c => (c.defaults.poll_interval = '10ms'), /defaults\.poll_interval: expected a duration from 100ms/],
  ['bad OBIS in a map', c => (c.defaults.obis = {'1.0.1.8.0': 'e'}), /defaults\.obis\[0\]\.obis: expected an OBIS code/],
  ['bad OBIS in a list', c => (c.meters[2].obis[1].obis = '1.0.1.8.0.256'), /meters\[2\]\.obis\[1\]\.obis: expected an OBIS code/],
  ['bad telemetry key', c => (c.meters[2].obis[0].key = '1bad key'), /meters\[2\]\.obis\[0\]\.key: expected a telemetry key/],
  ['duplicate telemetry key', c => (c.meters[2].obis[1].key = 'e'), /meters\[2\]\.obis\[1\]\.key: duplicate telemetry key "e"/],
  ['bad class', c => (c.meters[2].obis[1].class = 7), /meters\[2\]\.obis\[1\]\.class: expected class 1/],
  ['unit on a clock', c => (c.meters[2].obis[1].unit = 'kWh'), /meters\[2\]\.obis\[1\]\.unit: unit conversion applies to registers/],
  ['no OBIS at all', c => delete c.defaults.obis, /meters\[0\]\.obis: no OBIS codes/],
  ['LLS without password_env', c => delete c.meters[1].auth.password_env, /meters\[1\]\.auth\.password_env: LLS/],
  [
    'password env not set',
    c => (c.meters[1].auth.password_env = 'NOT_SET_ANYWHERE'),
    /meters\[1\]\.auth\.password_env: environment variable NOT_SET_ANYWHERE is not set/,
  ],
  ['bad auth mechanism', c => (c.meters[1].auth.mechanism = 'high'), /meters\[1\]\.auth\.mechanism: expected none, low \(LLS password\) or hls-gmac/],
  ['mqtt url scheme', c => (c.mqtt.url = 'http://broker:1883'), /mqtt\.url: expected mqtt:\/\//],
  ['password in the url', c => (c.mqtt.url = 'mqtt://user:pw@127.0.0.1:1883'), /mqtt\.url: must not contain a password/],
  ['missing mqtt', c => delete c.mqtt, /mqtt: /],
  ['token env not set', c => (c.mqtt.token_env = 'NOPE_NOT_SET'), /mqtt\.token_env: environment variable NOPE_NOT_SET is not set/],
  ['token and username', c => (c.mqtt.username = 'u'), /mqtt\.token_env: a ThingsBoard access token replaces username/],
  ['password without username', c => (c.mqtt = {url: 'mqtt://127.0.0.1', password_env: 'MQTT_PW'}), /mqtt\.password_env: a password needs mqtt\.username/],
  ['bad format', c => (c.publish.format = 'influx'), /publish\.format: expected one of thingsboard-gateway/],
  [
    'plain topic without placeholder',
    c => (c.publish = {format: 'plain', topic: 'netmon/all'}),
    /publish\.topic: the topic template must contain \{id\} or \{name\}/,
  ],
  ['plain topic with wildcard', c => (c.publish = {format: 'plain', topic: 'netmon/+/{id}'}), /publish\.topic: .*wildcards/],
  [
    'device format without token',
    c => ((c.publish.format = 'thingsboard-device'), delete c.mqtt.token_env),
    /meters\[0\]\.token_env: thingsboard-device needs/,
  ],
  ['tls file missing', c => (c.mqtt = {url: 'mqtts://127.0.0.1:8883', ca: 'no-such-ca.pem'}), /mqtt\.ca: file no-such-ca\.pem does not exist/],
  ['tls files on plain mqtt', c => (c.mqtt = {url: 'mqtt://127.0.0.1', ca: 'ca.pem'}), /mqtt\.url: TLS files are set/],
  ['reconnect max < min', c => (c.defaults.reconnect = {min: '10s', max: '1s'}), /defaults\.reconnect\.max: must be at least reconnect\.min/],
  ['max_inflight 0', c => (c.mqtt.max_inflight = 0), /mqtt\.max_inflight: expected 1-65000/],
  ['outbox too small', c => (c.outbox = {max_rows: 5}), /outbox\.max_rows: expected 100-100000000/],
  ['same endpoint twice', c => (c.meters[3].port = 4063), /meters\[3\]\.port: meters\[2\] already polls 127\.0\.0\.1:4063/],
  ['meters not a list', c => (c.meters = {m1: {}}), /meters: expected a list of meters/],
  ['YAML syntax error', 'mqtt: {url: "mqtt://x"\nmeters: [\n', /invalid YAML at line \d+/],
  ['not a mapping', '- just\n- a list\n', /config: expected a mapping/],
]

describe('bridge check: invalid configs exit 2 naming the path', () => {
  it(`has at least 20 cases (${CASES.length})`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(20)
  })

  it('a valid config passes and is described without its secrets', async () => {
    const file = join(tmp.dir, 'valid.yaml')
    writeFileSync(file, JSON.stringify(valid()))
    const r = await runCli(['bridge', 'check', '--config', file, '--json'], {noDb: true, env})
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.json.ok).toBe(true)
    expect(r.json.meters.map((m: any) => m.id)).toEqual(['m1', 'm2', 'm3', 'm4'])
    expect(r.json.meters[2].obis).toEqual([
      {obis: '1.0.1.8.0.255', key: 'e', class: 3, unit: 'kWh'},
      {obis: '0.0.1.0.0.255', key: 'clock', class: 8},
    ])
    expect(r.json.meters[1].auth).toContain('$METER_PW')
    expect(r.json.mqtt.credentials).toBe('access token from $TB_TOKEN')
    const human = await runCli(['bridge', 'check', '--config', file], {noDb: true, env})
    expect(human.code).toBe(0)
    expect(human.stdout).toContain('OK: 4 meter(s)')
    for (const out of [r.stdout, human.stdout]) for (const s of Object.values(env)) expect(out).not.toContain(s)
  })

  // Spawned in small parallel groups to keep the suite short on 2 cores.
  const groups: (typeof CASES)[] = []
  for (let i = 0; i < CASES.length; i += 4) groups.push(CASES.slice(i, i + 4))
  groups.forEach((group, gi) => {
    it(`cases ${gi * 4 + 1}-${gi * 4 + group.length}: ${group.map(c => c[0]).join('; ')}`, async () => {
      await Promise.all(
        group.map(async ([name, mut, expected], j) => {
          const file = join(tmp.dir, `bad-${gi}-${j}.yaml`)
          if (typeof mut === 'string') writeFileSync(file, mut)
          else {
            const c = valid()
            mut(c)
            writeFileSync(file, JSON.stringify(c))
          }
          const r = await runCli(['bridge', 'check', '--config', file], {noDb: true, env, timeoutMs: 60_000})
          expect(r.code, `${name}: ${r.stderr}`).toBe(2)
          const lines = r.stderr.trim().split('\n')
          expect(lines, name).toHaveLength(1)
          expect(lines[0], name).toMatch(/^Error: /)
          expect(lines[0], name).toMatch(expected)
          for (const s of Object.values(env)) expect(r.stderr).not.toContain(s)
        }),
      )
    })
  })

  it('docs/examples/bridge.yaml is a valid config', async () => {
    const r = await runCli(['bridge', 'check', '--config', 'docs/examples/bridge.yaml', '--json'], {
      noDb: true,
      env: {TB_GATEWAY_TOKEN: 'example-token-1', METER_M2_PASSWORD: 'example-pw-22'},
    })
    expect(r.stderr).toBe('')
    expect(r.json.meters.map((m: any) => m.id)).toEqual(['m1', 'm2', 'm4'])
    expect(r.json.push).toEqual({listen: '0.0.0.0:4059', framing: 'wrapper'})
    expect(r.json.meters[2].push).toBe('push only, logical device name NTM12345678, plain, object list configured')
    expect(r.json.disabled).toEqual(['m3'])
    expect(r.json.meters.map((m: any) => [m.allow_write, m.device_type])).toEqual([
      [false, 'electricity-meter'],
      [true, 'DLMS-HDLC'],
      [false, 'electricity-meter'],
    ])
    expect(r.json.downlink).toEqual({enabled: true, rpc_timeout_ms: 10_000})
    const text = await runCli(['bridge', 'check', '--config', 'docs/examples/bridge.yaml'], {
      noDb: true,
      env: {TB_GATEWAY_TOKEN: 'example-token-1', METER_M2_PASSWORD: 'example-pw-22'},
    })
    expect(text.stdout).toMatch(/│ downlink +│ ThingsBoard RPC \+ shared attributes, replies within 10 s; writes allowed on m2 +│/)
  })

  it('bridge run refuses an invalid config with exit 2 before creating the store', async () => {
    const file = join(tmp.dir, 'bad-run.yaml')
    const c = valid()
    c.meters[3].port = 0
    writeFileSync(file, JSON.stringify(c))
    const db = join(tmp.dir, 'never.db')
    const r = await runCli(['bridge', 'run', '--config', file, '--db', db], {noDb: true, env})
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/meters\[3\]\.port: expected 1-65535/)
    const {existsSync} = await import('node:fs')
    expect(existsSync(db)).toBe(false)
  })

  it('bridge run without --config or --demo is a usage error', async () => {
    const r = await runCli(['bridge', 'run'], {noDb: true})
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/give --config FILE/)
  })
})

import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parseConfigText, resolveConfig} from '../../../src/core/bridge/config.js'
import {redact} from '../../../src/core/secrets.js'

const env = {TB: 'gateway-token-AAAA-1111', PW: 'meter-password-BBBB', MQ: 'mqtt-password-CCCC', T1: 'device-token-1-DDDD', T2: 'device-token-2-EEEE'}

const yaml = `
mqtt:
  url: mqtts://tb.example.test:8883
  token_env: TB
  keepalive: 45s
  max_inflight: 50
publish:
  format: thingsboard-gateway
defaults:
  port: 4059
  poll_interval: 2s
  obis:
    1.0.1.8.0.255: energy_import_kwh
    1-0:32.7.0*255: voltage_v
meters:
  - id: a
    host: 10.0.0.5
  - id: b
    name: Basement meter
    host: 10.0.0.6
    framing: hdlc
    physical_address: 17
    auth: {mechanism: low, password_env: PW}
    poll_interval: 500ms
    obis:
      - {obis: 1.0.1.8.0.255, key: e_kwh, unit: kWh}
      - {obis: 0.0.1.0.0.255, key: clock, class: 8}
  - id: c
    host: 10.0.0.7
    enabled: false
outbox: {max_rows: 5000, max_age: 2d}
metrics: {interval: 30s, interfaces: [eth0]}
`

describe('bridge config', () => {
  it('resolves defaults, OBIS map and list forms, durations, secrets from env', () => {
    const c = resolveConfig(parseConfigText(yaml, 'yaml'), {env})
    expect(c.format).toBe('thingsboard-gateway')
    expect(c.mqtt).toMatchObject({url: 'mqtts://tb.example.test:8883', username: env.TB, keepaliveSeconds: 45, maxInflight: 50})
    expect(c.meters.map(m => m.id)).toEqual(['a', 'b']) // c is disabled
    const [a, b] = c.meters
    expect(a).toMatchObject({name: 'a', port: 4059, framing: 'wrapper', clientAddress: 16, pollIntervalMs: 2000, auth: {mechanism: 'none'}})
    expect(a!.obis).toEqual([
      {obis: '1.0.1.8.0.255', key: 'energy_import_kwh', classId: 3},
      {obis: '1.0.32.7.0.255', key: 'voltage_v', classId: 3},
    ])
    expect(b).toMatchObject({name: 'Basement meter', framing: 'hdlc', physicalAddress: 17, clientAddress: 17, pollIntervalMs: 500, timeoutMs: 1000})
    expect(b!.auth).toEqual({mechanism: 'low', password: env.PW, passwordEnv: 'PW'})
    expect(b!.obis).toEqual([
      {obis: '1.0.1.8.0.255', key: 'e_kwh', classId: 3, unit: 'kWh'},
      {obis: '0.0.1.0.0.255', key: 'clock', classId: 8},
    ])
    expect(c.outbox).toEqual({maxRows: 5000, maxAgeMs: 2 * 86_400_000})
    expect(c.metrics).toMatchObject({intervalMs: 30_000, heartbeatMs: 5000, sampleIntervalMs: 1000, interfaces: ['eth0']})
    // Every secret read is registered: redact() scrubs it from any text.
    expect(redact(`token ${env.TB} and ${env.PW}`)).toBe('token *** and ***')
  })

  it('JSON configs parse the same way', () => {
    const c = resolveConfig(
      parseConfigText(JSON.stringify({mqtt: {url: 'mqtt://127.0.0.1'}, meters: [{id: 'x', host: 'h', obis: {'1.0.1.8.0.255': 'e'}}]}), 'json'),
      {env},
    )
    expect(c.format).toBe('thingsboard-gateway')
    expect(c.meters[0]!.pollIntervalMs).toBe(3000) // the issue's default poll interval
    expect(c.mqtt.username).toBeUndefined()
  })

  it('thingsboard-device takes one token per meter; plain takes a topic template', () => {
    const dev = resolveConfig(
      {
        mqtt: {url: 'mqtt://127.0.0.1'},
        publish: {format: 'thingsboard-device'},
        defaults: {obis: {'1.0.1.8.0.255': 'e'}},
        meters: [
          {id: 'a', host: 'h', token_env: 'T1'},
          {id: 'b', host: 'h2', token_env: 'T2'},
        ],
      },
      {env},
    )
    expect(dev.meters.map(m => m.token)).toEqual([env.T1, env.T2])
    const plain = resolveConfig({mqtt: {url: 'ws://127.0.0.1:8080/mqtt'}, publish: {format: 'plain', topic: 'site/{id}/reading'}, meters: []}, {env})
    expect(plain.topic).toBe('site/{id}/reading')
  })

  it('numbers are seconds; readings retention 0 keeps forever', () => {
    const c = resolveConfig(
      {mqtt: {url: 'mqtt://h'}, defaults: {poll_interval: 1.5, obis: {'1.0.1.8.0.255': 'e'}}, meters: [{id: 'a', host: 'h'}], store: {readings_retention: 0}},
      {env},
    )
    expect(c.meters[0]!.pollIntervalMs).toBe(1500)
    expect(c.store.readingsRetentionMs).toBe(0)
  })

  it('defaults.host (as docs/BRIDGE.md says): meters on one gateway told apart by port; a meter host wins; none at all names the path', () => {
    const c = resolveConfig(
      {
        mqtt: {url: 'mqtt://h'},
        defaults: {host: '10.1.2.3', obis: {'1.0.1.8.0.255': 'e'}},
        meters: [
          {id: 'a', port: 4061},
          {id: 'b', port: 4062},
          {id: 'c', host: '10.9.9.9'},
        ],
      },
      {env},
    )
    expect(c.meters.map(m => `${m.host}:${m.port}`)).toEqual(['10.1.2.3:4061', '10.1.2.3:4062', '10.9.9.9:4059'])
    expect(() => resolveConfig({mqtt: {url: 'mqtt://h'}, defaults: {obis: {'1.0.1.8.0.255': 'e'}}, meters: [{id: 'a'}]}, {env})).toThrow(
      /^meters\[0\]\.host: missing: the meter's host name or address \(or defaults\.host\)/,
    )
    expect(() => resolveConfig({mqtt: {url: 'mqtt://h'}, defaults: {host: 'g', obis: {'1.0.1.8.0.255': 'e'}}, meters: [{id: 'a'}, {id: 'b'}]}, {env})).toThrow(
      /^meters\[1\]\.port: meters\[0\] already polls g:4059/,
    )
  })

  it('auth_failure_limit: default 3, from defaults or the meter, 0 = never park', () => {
    const cfg = (m: Record<string, unknown>, d: Record<string, unknown> = {}) => ({
      mqtt: {url: 'mqtt://h'},
      defaults: {obis: {'1.0.1.8.0.255': 'e'}, ...d},
      meters: [{id: 'a', host: 'h', ...m}],
    })
    expect(resolveConfig(cfg({}), {env}).meters[0]!.authFailureLimit).toBe(3)
    expect(resolveConfig(cfg({}, {auth_failure_limit: 5}), {env}).meters[0]!.authFailureLimit).toBe(5)
    expect(resolveConfig(cfg({auth_failure_limit: 0}, {auth_failure_limit: 5}), {env}).meters[0]!.authFailureLimit).toBe(0)
    expect(() => resolveConfig(cfg({auth_failure_limit: -1}), {env})).toThrow(/^meters\[0\]\.auth_failure_limit:/)
  })

  it('downlink: allow_write per meter only (default false), device_type from defaults or the meter, rpc_timeout; ThingsBoard formats only', () => {
    const cfg = (m: Record<string, unknown>, d: Record<string, unknown> = {}, top: Record<string, unknown> = {}) => ({
      mqtt: {url: 'mqtt://h'},
      defaults: {obis: {'1.0.1.8.0.255': 'e'}, ...d},
      meters: [{id: 'a', host: 'h', ...m}],
      ...top,
    })
    const a = resolveConfig(cfg({}), {env})
    expect(a.meters[0]!.allowWrite).toBe(false)
    expect(a.meters[0]!.deviceType).toBeUndefined()
    expect(a.downlink).toEqual({enabled: true, rpcTimeoutMs: 10_000})
    const b = resolveConfig(cfg({allow_write: true}, {device_type: 'meter'}, {downlink: {rpc_timeout: '30s'}}), {env})
    expect(b.meters[0]).toMatchObject({allowWrite: true, deviceType: 'meter'})
    expect(b.downlink).toEqual({enabled: true, rpcTimeoutMs: 30_000})
    expect(resolveConfig(cfg({device_type: 'own'}, {device_type: 'meter'}), {env}).meters[0]!.deviceType).toBe('own')
    expect(resolveConfig(cfg({}, {}, {downlink: {enabled: false}}), {env}).downlink!.enabled).toBe(false)
    // A write permission is never inherited: each meter opts in by name.
    expect(() => resolveConfig(cfg({}, {allow_write: true}), {env})).toThrow(/^defaults: /)
    expect(() => resolveConfig(cfg({allow_write: 'yes'}), {env})).toThrow(/^meters\[0\]\.allow_write:/)
    const plain = {publish: {format: 'plain'}}
    expect(resolveConfig(cfg({}, {}, plain), {env}).downlink!.enabled).toBe(false)
    expect(() => resolveConfig(cfg({}, {}, {...plain, downlink: {enabled: true}}), {env})).toThrow(/^downlink\.enabled: the downlink uses the ThingsBoard/)
    expect(() => resolveConfig(cfg({device_type: 'x'}, {}, plain), {env})).toThrow(/^meters\[0\]\.device_type: device_type is sent in the gateway connect/)
    expect(() => resolveConfig(cfg({}, {device_type: 'x'}, plain), {env})).toThrow(/^defaults\.device_type:/)
    expect(() => resolveConfig(cfg({}, {}, {downlink: {rpc_timeout: '1ms'}}), {env})).toThrow(/^downlink\.rpc_timeout:/)
  })

  it('address_size: HDLC meters that want a 4-byte address for small numbers; impossible sizes name their path', () => {
    const cfg = (m: Record<string, unknown>, d: Record<string, unknown> = {}) => ({
      mqtt: {url: 'mqtt://h'},
      defaults: {obis: {'1.0.1.8.0.255': 'e'}, ...d},
      meters: [{id: 'a', host: 'h', ...m}],
    })
    expect(resolveConfig(cfg({framing: 'hdlc', physical_address: 17, address_size: 4}), {env}).meters[0]).toMatchObject({physicalAddress: 17, addressSize: 4})
    expect(resolveConfig(cfg({framing: 'hdlc'}, {address_size: 4}), {env}).meters[0]).toMatchObject({addressSize: 4})
    expect(resolveConfig(cfg({framing: 'hdlc', physical_address: 17}), {env}).meters[0]!.addressSize).toBeUndefined()
    expect(() => resolveConfig(cfg({framing: 'hdlc', address_size: 3}), {env})).toThrow(/^meters\[0\]\.address_size: expected 1, 2 or 4/)
    expect(() => resolveConfig(cfg({address_size: 4}), {env})).toThrow(/^meters\[0\]\.address_size: address_size applies to framing: hdlc only/)
    expect(() => resolveConfig(cfg({framing: 'hdlc', physical_address: 17, address_size: 1}), {env})).toThrow(
      /^meters\[0\]\.address_size: a 1-byte HDLC address has no physical part/,
    )
    expect(() => resolveConfig(cfg({framing: 'hdlc', physical_address: 200}, {address_size: 2}), {env})).toThrow(
      /^defaults\.address_size: a 2-byte HDLC address/,
    )
    expect(() => resolveConfig(cfg({framing: 'hdlc', server_address: 200, address_size: 1}), {env})).toThrow(
      /^meters\[0\]\.address_size: a 1-byte HDLC address holds server addresses up to 127/,
    )
  })

  it('errors name the path', () => {
    const bad = (raw: unknown) => () => resolveConfig(raw, {env})
    expect(bad({mqtt: {url: 'mqtt://h'}, meters: [{id: 'a', host: 'h', port: 0, obis: {'1.0.1.8.0.255': 'e'}}]})).toThrow(
      /^meters\[0\]\.port: expected 1-65535$/,
    )
    expect(bad({mqtt: {url: 'mqtt://h', keepalive: true}, meters: []})).toThrow(/mqtt\.keepalive: expected a duration/)
  })

  it('profiles: per meter or in defaults; defaults; a column the meter polls keeps its key and unit; profile-only meters', () => {
    const base = {mqtt: {url: 'mqtt://h'}}
    const c = resolveConfig(
      {
        ...base,
        defaults: {profiles: [{obis: '1-0:99.1.0*255'}]},
        meters: [
          {id: 'a', host: 'h', obis: [{obis: '1.0.1.8.0.255', key: 'e_kwh', unit: 'kWh'}]},
          {
            id: 'b',
            host: 'h2',
            profiles: [{obis: '1.0.99.2.0.255', every: '1h', max_rows: 24, backfill: '30d', mode: 'entry', columns: {'1.0.2.8.0.255': 'export_wh'}}],
          },
        ],
      },
      {env},
    )
    expect(c.meters[0]!.profiles).toEqual([
      {
        obis: '1.0.99.1.0.255',
        everyMs: 900_000,
        maxRows: 96,
        backfillMs: 7 * 86_400_000,
        mode: 'auto',
        columns: {'1.0.1.8.0.255': {key: 'e_kwh', unit: 'kWh'}},
      },
    ])
    expect(c.meters[1]!.obis).toEqual([])
    expect(c.meters[1]!.profiles).toEqual([
      {obis: '1.0.99.2.0.255', everyMs: 3_600_000, maxRows: 24, backfillMs: 30 * 86_400_000, mode: 'entry', columns: {'1.0.2.8.0.255': {key: 'export_wh'}}},
    ])
    const bad = (m: Record<string, unknown>) => () => resolveConfig({...base, meters: [{id: 'a', host: 'h', ...m}]}, {env})
    expect(bad({})).toThrow(/^meters\[0\]\.obis: no OBIS codes to read/)
    expect(bad({profiles: [{obis: '1.0.99.1.0.255'}, {obis: '1-0:99.1.0*255'}]})).toThrow(
      /^meters\[0\]\.profiles\[1\]\.obis: profile 1\.0\.99\.1\.0\.255 is listed twice/,
    )
    expect(bad({profiles: [{obis: '1.0.99.1.0.255', every: '10ms'}]})).toThrow(/^meters\[0\]\.profiles\[0\]\.every: expected a duration from 1s/)
    expect(bad({profiles: [{obis: '1.0.99.1.0.255', max_rows: 0}]})).toThrow(/^meters\[0\]\.profiles\[0\]\.max_rows: expected 1-100000/)
    expect(bad({profiles: [{obis: '1.0.99.1.0.255', mode: 'fast'}]})).toThrow(/^meters\[0\]\.profiles\[0\]\.mode: expected auto, range, entry or full/)
    expect(bad({profiles: [{obis: '1.0.99.1.0.255', columns: {'1.0.1.8.0.255': '9bad'}}]})).toThrow(/profiles\[0\]\.columns/)
  })

  it('auth hls-gmac: system title, keys from env or files (never printed), security and ciphering; client address 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'netmon-hls-cfg-'))
    try {
      const ek = '000102030405060708090A0B0C0D0E0F'
      const ak = 'd0d1d2d3d4d5d6d7d8d9dadbdcdddedf'
      writeFileSync(join(dir, 'meter.ak'), `${ak}\n`)
      const hlsEnv = {...env, METER_EK: ek}
      const cfg = (auth: Record<string, unknown>) => ({mqtt: {url: 'mqtt://h'}, meters: [{id: 'a', host: 'h', obis: {'1.0.1.8.0.255': 'e'}, auth}]})
      const good = {mechanism: 'hls-gmac', system_title: '4D4D4D0000000001', ek_env: 'METER_EK', ak_file: 'meter.ak'}
      const c = resolveConfig(cfg({...good, meter_system_title: 'MMM00001', security: 'auth', ciphering: 'glo'}), {env: hlsEnv, baseDir: dir})
      const m = c.meters[0]!
      expect(m.clientAddress).toBe(1)
      expect(m.auth.mechanism).toBe('hls-gmac')
      if (m.auth.mechanism !== 'hls-gmac') return
      expect(Buffer.from(m.auth.security.systemTitle).toString('hex')).toBe('4d4d4d0000000001')
      expect(Buffer.from(m.auth.security.peerSystemTitle!).toString('latin1')).toBe('MMM00001')
      expect(Buffer.from(m.auth.security.ek).toString('hex')).toBe(ek.toLowerCase())
      expect(Buffer.from(m.auth.security.ak).toString('hex')).toBe(ak)
      expect(m.auth.security).toMatchObject({securityControl: 0x10, ciphering: 'glo'})
      // Both keys are registered as secrets as soon as they are read, in any case.
      expect(redact(`ek ${ek} / ${ek.toLowerCase()} ak ${ak.toUpperCase()}`)).toBe('ek *** / *** ak ***')
      const bad =
        (auth: Record<string, unknown>, e: NodeJS.ProcessEnv = hlsEnv) =>
        () =>
          resolveConfig(cfg(auth), {env: e, baseDir: dir})
      expect(bad({...good, system_title: undefined})).toThrow(/^meters\[0\]\.auth\.system_title: missing/)
      expect(bad({...good, system_title: 'short'})).toThrow(/^meters\[0\]\.auth\.system_title: the client system title must be 8 octets/)
      expect(bad({...good, ek_env: undefined})).toThrow(/^meters\[0\]\.auth\.ek_env: missing: the encryption key/)
      expect(bad({...good, ek_file: 'x'})).toThrow(/^meters\[0\]\.auth\.ek_file: give ek_env or ek_file, not both/)
      expect(bad(good, env)).toThrow(/^meters\[0\]\.auth\.ek_env: environment variable METER_EK \(encryption key\) is not set/)
      expect(bad({...good, ak_file: 'missing.ak'})).toThrow(/^meters\[0\]\.auth\.ak_file: cannot read the authentication key file/)
      writeFileSync(join(dir, 'short.ak'), 'abcdef0123')
      let msg = ''
      try {
        bad({...good, ak_file: 'short.ak'})()
      } catch (e) {
        msg = (e as Error).message
      }
      expect(msg).toMatch(/must be 16 octets as 32 hex digits \(got 10 characters; value not shown\)/)
      expect(msg).not.toContain('abcdef0123')
      expect(bad({...good, password_env: 'PW'})).toThrow(/auth\.password_env: HLS-GMAC uses keys/)
      expect(bad({mechanism: 'low', password_env: 'PW', ek_env: 'METER_EK'})).toThrow(
        /^meters\[0\]\.auth\.ek_env: ek_env is only used with mechanism: hls-gmac/,
      )
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

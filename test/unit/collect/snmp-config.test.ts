/**
 * SNMP agent settings: the snmp:// URL of `bandwidth sample --from` and config entries, whose
 * secrets come from env vars or files, are registered (so redact() scrubs them) and never echoed.
 */
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parseSnmpUrl, snmpAgentOptions} from '../../../src/core/collect/snmp-config.js'
import {counterValue, snmpReadings, type SnmpPoll} from '../../../src/core/collect/snmp.js'
import {redact} from '../../../src/core/secrets.js'

describe('parseSnmpUrl', () => {
  it('takes community, host and port; the agent is named HOST:PORT; the community is a registered secret', () => {
    const o = parseSnmpUrl('snmp://url-secret-1@192.0.2.2:1161')
    expect(o).toMatchObject({name: '192.0.2.2:1161', host: '192.0.2.2', port: 1161, version: '2c', community: 'url-secret-1'})
    expect(redact('x url-secret-1 y')).toBe('x *** y')
    expect(parseSnmpUrl('snmp://c0mmunity@[2001:db8::2]')).toMatchObject({host: '2001:db8::2', port: 161, name: '[2001:db8::2]:161'})
  })
  it('--community-env reads the variable; both, neither or an unset variable are clear errors', () => {
    expect(parseSnmpUrl('snmp://h1:161', {communityEnv: 'C1', env: {C1: 'env-secret-2'}}).community).toBe('env-secret-2')
    expect(redact('env-secret-2')).toBe('***')
    expect(() => parseSnmpUrl('snmp://abcd@h1', {communityEnv: 'C1', env: {C1: 'x'}})).toThrow(/not both/)
    expect(() => parseSnmpUrl('snmp://h1')).toThrow(/needs a community/)
    expect(() => parseSnmpUrl('snmp://h1', {communityEnv: 'NOPE', env: {}})).toThrow(/\$NOPE is not set/)
  })
  it('a malformed URL names the shape and never echoes the community', () => {
    let msg = ''
    try {
      parseSnmpUrl('snmp://bad-secret-3@host:99999999/x')
    } catch (e) {
      msg = (e as Error).message
    }
    expect(msg).toMatch(/snmp:\/\/\[COMMUNITY@\]HOST\[:PORT\]/)
    expect(msg).not.toContain('bad-secret-3')
  })
})

describe('snmpAgentOptions', () => {
  it('v2c from community_file, v3 authPriv from env and file; every key registered', () => {
    const dir = mkdtempSync(join(tmpdir(), 'netmon-snmpcfg-'))
    try {
      writeFileSync(join(dir, 'community'), 'file-secret-4\n')
      writeFileSync(join(dir, 'auth'), 'auth-secret-5\n')
      const v2 = snmpAgentOptions({name: 'sw1', host: '192.0.2.2', community_file: 'community'}, {baseDir: dir})
      expect(v2).toMatchObject({name: 'sw1', port: 161, version: '2c', community: 'file-secret-4', timeoutMs: 2000, retries: 1, direction: 'device'})
      const v3 = snmpAgentOptions(
        {
          name: 'rtr',
          host: '192.0.2.1',
          version: 3,
          user: {name: 'netmon', level: 'authPriv', auth_protocol: 'sha256', auth_key_file: 'auth', priv_key_env: 'PK'},
        },
        {baseDir: dir, env: {PK: 'priv-secret-6'}},
      )
      expect(v3).toMatchObject({
        version: '3',
        user: {name: 'netmon', level: 'authPriv', authProtocol: 'sha256', authKey: 'auth-secret-5', privProtocol: 'aes', privKey: 'priv-secret-6'},
      })
      expect(redact('file-secret-4 auth-secret-5 priv-secret-6')).toBe('*** *** ***')
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
  it('rejects a secret in the file itself, a missing key source, and a short v3 key, naming the path', () => {
    expect(() => snmpAgentOptions({name: 'sw1', host: 'h', community: 'inline'})).toThrow(/Unrecognized key/)
    expect(() => snmpAgentOptions({name: 'sw1', host: 'h'})).toThrow(/sw1: v2c needs community_env or community_file/)
    expect(() =>
      snmpAgentOptions({name: 'r', host: 'h', version: '3', user: {name: 'u', level: 'authNoPriv', auth_key_env: 'K'}}, {env: {K: 'short'}}),
    ).toThrow(/at least 8/)
    expect(() =>
      snmpAgentOptions({name: 'r', host: 'h', version: '3', user: {name: 'u', level: 'authPriv', auth_key_env: 'K'}}, {env: {K: 'longenough'}}),
    ).toThrow(/authPriv needs priv_key_env/)
  })
})

describe('snmpReadings', () => {
  const poll: SnmpPoll = {
    ts: 1_000_000,
    upTimeTicks: 500,
    bootTimeMs: 995_000,
    ports: [
      {
        ifIndex: 3,
        name: 'Gi0/3',
        descr: 'GigabitEthernet0/3',
        alias: '',
        operStatus: 'up',
        highSpeedMbps: 1000,
        bits: 32,
        inOctets: 100n,
        outOctets: 900n,
        inUcastPkts: 1n,
        outUcastPkts: 9n,
        inErrors: 2n,
        outErrors: 3n,
        inDiscards: 4n,
        outDiscards: 5n,
      },
    ],
  }
  it('device view: port out = device received, errors/drops follow; key, label, id, speed, boot, width', () => {
    expect(snmpReadings('sw', poll)).toEqual([
      {
        key: {source: 'snmp:sw', key: '3'},
        ts: 1_000_000,
        counters: {
          bytesSent: 100n,
          bytesReceived: 900n,
          packetsSent: 1n,
          packetsReceived: 9n,
          errorsSent: 2n,
          errorsReceived: 3n,
          dropsSent: 4n,
          dropsReceived: 5n,
        },
        label: 'sw:Gi0/3',
        counterId: 'snmp:sw:3',
        linkSpeedBps: 1_000_000_000,
        bootTimeMs: 995_000,
        bits: 32,
      },
    ])
    expect(snmpReadings('sw', poll, 'interface')[0]!.counters).toMatchObject({bytesSent: 900n, bytesReceived: 100n, errorsSent: 3n, dropsReceived: 4n})
  })
  it('Counter64 bytes (any length) and Counter32 numbers become bigints', () => {
    // BER may add a leading zero octet (9 bytes) or drop leading zeros (fewer than 8).
    expect(counterValue(Buffer.from([0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toBe((1n << 64n) - 1n)
    expect(counterValue(Buffer.from([0x01, 0x00]))).toBe(256n)
    expect(counterValue(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toBe((1n << 64n) - 1n)
    expect(counterValue(4294967295)).toBe(4294967295n)
    expect(counterValue('x')).toBeNull()
  })
})

/**
 * The push parts of the bridge config (issue 18 item 4): the listener, per-meter matching, keys from env/files
 * only (never echoed), object lists, push-only meters; every mistake names its path.
 */
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {resolveConfig} from '../../../src/core/bridge/config.js'
import {redact} from '../../../src/core/secrets.js'

const EK = '000102030405060708090A0B0C0D0E0F'
const env = {EK, AK: 'd0d1d2d3d4d5d6d7d8d9dadbdcdddedf', SHORT: '0011223344'}
const base = (meter: Record<string, unknown>, top: Record<string, unknown> = {push: {listen: '127.0.0.1:4059'}}) => ({
  mqtt: {url: 'mqtt://127.0.0.1:1883'},
  ...top,
  meters: [{id: 'm', host: '10.0.0.1', obis: {'1.0.1.8.0.255': 'e'}, ...meter}],
})
const fails = (raw: unknown, re: RegExp) => expect(() => resolveConfig(raw, {env})).toThrow(re)

describe('push config', () => {
  it('resolves the listener, a push-only meter and a ciphered one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'netmon-push-cfg-'))
    writeFileSync(join(dir, 'ak'), `${env.AK}\n`)
    const c = resolveConfig(
      {
        mqtt: {url: 'mqtt://127.0.0.1:1883'},
        push: {listen: '[::1]:4059', idle_timeout: '10m'},
        meters: [
          {id: 'cell', push: {logical_device_name: 'NTM12345678'}, obis: {'1.0.1.8.0.255': 'e'}},
          {
            id: 'idis',
            host: '10.0.0.1',
            obis: {'1.0.1.8.0.255': 'e'},
            push: {
              system_title: 'MMM00001',
              ek_env: 'EK',
              ak_file: 'ak',
              object_lists: {
                '0-4:25.9.0*255': [
                  {class: 40, obis: '0.4.25.9.0.255', attribute: 1},
                  {class: 1, obis: '0.0.97.98.0.255'},
                ],
              },
              obis: {'0.0.97.98.0.255': 'alarm'},
            },
          },
        ],
      },
      {env, baseDir: dir},
    )
    expect(c.push).toEqual({host: '::1', port: 4059, framing: 'wrapper', maxConnections: 10_000, idleTimeoutMs: 600_000})
    expect(c.meters[0]).toMatchObject({id: 'cell', host: '', poll: false, push: {logicalDeviceName: 'NTM12345678', require: 0, objectLists: {}, obis: []}})
    const p = c.meters[1]!.push!
    expect(c.meters[1]!.poll).toBeUndefined()
    expect(p.systemTitle).toBe(Buffer.from('MMM00001').toString('hex'))
    expect(p.require).toBe(0x30)
    expect(Buffer.from(p.keys!.ek).toString('hex')).toBe(EK.toLowerCase())
    expect(p.objectLists['0.4.25.9.0.255']).toEqual([
      {classId: 40, obis: '0.4.25.9.0.255', attribute: 1},
      {classId: 1, obis: '0.0.97.98.0.255', attribute: 2},
    ])
    expect(p.obis).toEqual([{obis: '0.0.97.98.0.255', key: 'alarm', classId: 3}])
    // the keys are registered as secrets, in any case
    expect(redact(`key ${EK} ${EK.toLowerCase()} ${env.AK}`)).toBe('key *** *** ***')
  })

  it("an HLS meter's pushes default to its keys and meter system title", () => {
    const c = resolveConfig(
      base({
        auth: {mechanism: 'hls-gmac', system_title: '4D4D4D0000000001', meter_system_title: '4D4D4D0000BC614E', ek_env: 'EK', ak_env: 'AK'},
        push: {},
      }),
      {env},
    )
    const p = c.meters[0]!.push!
    expect(p.systemTitle).toBe('4d4d4d0000bc614e')
    expect(Buffer.from(p.keys!.ak).toString('hex')).toBe(env.AK)
    expect(p.require).toBe(0x30)
    // its own push keys win
    const own = resolveConfig(
      base({
        auth: {mechanism: 'hls-gmac', system_title: '4D4D4D0000000001', meter_system_title: '4D4D4D0000BC614E', ek_env: 'EK', ak_env: 'AK'},
        push: {system_title: '4D4D4D0000BC6199', ek_env: 'AK', ak_env: 'EK', security: 'auth'},
      }),
      {env},
    ).meters[0]!.push!
    expect(own.systemTitle).toBe('4d4d4d0000bc6199')
    expect(Buffer.from(own.keys!.ek).toString('hex')).toBe(env.AK)
    expect(own.require).toBe(0x10)
  })

  it('refuses mistakes, naming the path', () => {
    fails(base({push: {logical_device_name: 'x'}}, {}), /meters\[0\]\.push: meters push but no listener/)
    fails(base({}, {push: {listen: 'nohost'}}), /push\.listen: expected HOST:PORT/)
    fails(base({}, {push: {listen: '127.0.0.1:70000'}}), /push\.listen: expected a port/)
    fails(base({}, {push: {listen: '127.0.0.1:1', framing: 'hdlc'}}), /push\.framing: expected wrapper/)
    fails(base({push: {}}), /meters\[0\]\.push: a push section needs system_title or logical_device_name/)
    fails(base({push: {system_title: 'abc'}}), /meters\[0\]\.push\.system_title: expected 8 octets/)
    fails(base({push: {system_title: '4D4D4D0000BC614E', ek_env: 'EK'}}), /meters\[0\]\.push\.ak_env: ciphered pushes need both keys/)
    fails(base({push: {logical_device_name: 'x', ek_env: 'EK', ak_env: 'AK'}}), /push\.system_title: ciphered pushes are matched by the meter's system title/)
    fails(base({push: {logical_device_name: 'x', security: 'auth-enc'}}), /push\.security: security auth-enc needs the keys/)
    fails(base({push: {system_title: '4D4D4D0000BC614E', ek_env: 'NOPE', ak_env: 'AK'}}), /push\.ek_env: environment variable NOPE is not set/)
    fails(
      base({push: {logical_device_name: 'x', obis: {'1.0.1.8.0.255': 'e2'}}}),
      /push\.obis\[0\]\.obis: OBIS 1\.0\.1\.8\.0\.255 is already in meters\[i\]\.obis/,
    )
    fails(base({push: {logical_device_name: 'x', object_list: [{class: 3, obis: 'nope'}]}}), /push\.object_list\[0\]\.obis: expected an OBIS code/)
    fails(base({push: {logical_device_name: 'x'}, host: undefined, obis: undefined}), /meters\[0\]\.push\.obis: a push-only meter needs/)
    // a polled meter still needs a host
    fails(base({host: undefined}), /meters\[0\]\.host: missing/)
    fails(
      {
        mqtt: {url: 'mqtt://h'},
        push: {listen: '0.0.0.0:4059'},
        meters: [
          {id: 'a', push: {logical_device_name: 'same'}, obis: {'1.0.1.8.0.255': 'e'}},
          {id: 'b', push: {logical_device_name: 'same'}, obis: {'1.0.1.8.0.255': 'e'}},
        ],
      },
      /meters\[1\]\.push\.logical_device_name: meters\[0\] has the same logical device name/,
    )
  })

  it('never echoes a malformed key', () => {
    try {
      resolveConfig(base({push: {system_title: '4D4D4D0000BC614E', ek_env: 'SHORT', ak_env: 'AK'}}), {env})
      throw new Error('expected a refusal')
    } catch (e) {
      expect((e as Error).message).toMatch(/must be 32 hex digits \(got 10 characters; value not shown\)/)
      expect((e as Error).message).not.toContain(env.SHORT)
    }
  })
})

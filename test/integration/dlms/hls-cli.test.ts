/**
 * `netmon meters simulate --hls` and `netmon meters read --auth hls-gmac` as separate processes (the built
 * CLI): keys from env vars and files only, never printed (not even with DEBUG=1 on a failure), the client
 * invocation counter kept in the store per meter across runs, a wrong key refused with one error line.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {createInterface} from 'node:readline'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {BIN, ROOT, runCli, tempStore} from '../../support/cli.js'

const EK = '000102030405060708090A0B0C0D0E0F'
const AK = 'D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF'
const WRONG = '0F0E0D0C0B0A09080706050403020100'

let child: ChildProcess
let port = 0
const store = tempStore('netmon-hls-')

beforeAll(async () => {
  writeFileSync(join(store.dir, 'meter.ak'), `${AK.toLowerCase()}\n`)
  // HLS from the config file (ak_file, system title) and a flag (the EK's env var)
  writeFileSync(join(store.dir, 'sim.yaml'), `hls:\n  system_title: 4D4D4D0000BC614E\n  ak_file: ${join(store.dir, 'meter.ak')}\n  security: auth-enc\n`)
  child = spawn(
    process.execPath,
    [BIN, 'meters', 'simulate', '--port', '0', '--json', '--framing', 'hdlc', '--config', join(store.dir, 'sim.yaml'), '--ek-env', 'SIM_EK'],
    {cwd: ROOT, env: {...process.env, SIM_EK: EK}, stdio: ['ignore', 'pipe', 'pipe']},
  )
  let stderr = ''
  child.stderr!.on('data', d => (stderr += d))
  port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`simulator did not start: ${stderr}`)), 20_000)
    createInterface({input: child.stdout!}).on('line', line => {
      try {
        const ev = JSON.parse(line)
        if (ev.event === 'listening') {
          clearTimeout(timer)
          expect(ev.clients['1']).toBe('hls-gmac')
          expect(line).not.toMatch(new RegExp(`${EK}|${AK}`, 'i'))
          resolve(ev.ports[0])
        }
      } catch {
        // not JSON
      }
    })
    child.on('exit', code => reject(new Error(`simulator exited with ${code}: ${stderr}`)))
  })
}, 30_000)

afterAll(async () => {
  if (child.exitCode === null) {
    const done = new Promise(r => child.once('exit', r))
    child.kill('SIGTERM')
    await done
  }
  store.cleanup()
})

const read = (extra: string[], env: Record<string, string> = {}) =>
  runCli(
    [
      'meters',
      'read',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--framing',
      'hdlc',
      '--auth',
      'hls-gmac',
      '--system-title',
      '4D4D4D0000000001',
      ...extra,
      '--json',
    ],
    {db: store.db, env: {METER_EK: EK, ...env}},
  )

describe('meters read --auth hls-gmac ↔ meters simulate --hls', () => {
  it('reads ciphered, keeps the invocation counter in the store across runs, never prints a key', async () => {
    const keyFile = join(store.dir, 'client.ak')
    writeFileSync(keyFile, AK)
    const a = await read(['--ek-env', 'METER_EK', '--ak-file', keyFile, '--meter-system-title', '4D4D4D0000BC614E', '1.0.1.8.0.255', '0.0.1.0.0.255'])
    expect(a.stderr).toBe('')
    expect(a.code).toBe(0)
    expect(a.json.meter.auth).toBe('hls-gmac')
    expect(a.json.meter.client_address).toBe(1)
    expect(a.json.association.security).toMatchObject({meter_system_title: '4d4d4d0000bc614e', security_control: 48, ciphering: 'glo'})
    expect(a.json.readings.map((r: {ok: boolean}) => r.ok)).toEqual([true, true])
    expect(a.json.readings[0].unit).toBe('Wh')
    const b = await read(['--ek-env', 'METER_EK', '--ak-file', keyFile, '1.0.1.8.0.255'])
    expect(b.code).toBe(0)
    // the second run starts where the first stopped: the meter accepted it (it refuses a reused counter)
    expect(b.json.association.security.next_invocation_counter).toBeGreaterThan(a.json.association.security.next_invocation_counter)
    for (const r of [a, b]) expect(r.stdout + r.stderr).not.toMatch(new RegExp(`${EK}|${AK}`, 'i'))
  })

  it('a wrong authentication key: exit 1, one error line', async () => {
    const r = await read(['--ek-env', 'METER_EK', '--ak-env', 'BAD_AK'], {BAD_AK: WRONG})
    expect(r.code).toBe(1)
    expect(r.json.error.code).toBe('DLMS_ASSOCIATION_REJECTED')
    expect(r.json.error.hint).toMatch(/keys/)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/^Error: HLS association rejected: authentication failure/)
  })

  it('a wrong authentication key: no key even with DEBUG=1', async () => {
    const r = await read(['--ek-env', 'METER_EK', '--ak-env', 'BAD_AK'], {BAD_AK: WRONG, DEBUG: '1'})
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/HLS association rejected: authentication failure/)
    expect(r.stdout + r.stderr).not.toMatch(new RegExp(`${EK}|${WRONG}|${AK}`, 'i'))
  })

  it('keys only from env vars / files: a missing variable and a malformed key are input errors that do not echo the value', async () => {
    const missing = await read(['--ek-env', 'NOPE_EK', '--ak-env', 'METER_EK'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/environment variable NOPE_EK \(encryption key\) is not set/)
    const bad = await read(['--ek-env', 'METER_EK', '--ak-env', 'BAD'], {BAD: 'not-a-key-secret-xyz'})
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/must be 16 octets as 32 hex digits/)
    expect(bad.stderr).not.toMatch(/not-a-key-secret-xyz/)
  })
})

/**
 * `netmon meters simulate` and `netmon meters read` as separate processes (the built CLI), both framings.
 * Acceptance: read prints energy with scaler and unit, the clock and the voltage.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {createInterface} from 'node:readline'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {BIN, hasScript, ptyArgs, ptyEnv, ROOT, runCli} from '../../support/cli.js'

interface Sim {
  child: ChildProcess
  port: number
  stop(): Promise<void>
}

async function startSim(args: string[], env: Record<string, string> = {}, portFlag: string | null = '0'): Promise<Sim> {
  const child = spawn(process.execPath, [BIN, 'meters', 'simulate', ...(portFlag === null ? [] : ['--port', portFlag]), '--json', ...args], {
    cwd: ROOT,
    env: {...process.env, ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr!.on('data', d => (stderr += d))
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`simulator did not start: ${stderr}`)), 20_000)
    const rl = createInterface({input: child.stdout!})
    rl.on('line', line => {
      try {
        const ev = JSON.parse(line)
        if (ev.event === 'listening') {
          clearTimeout(timer)
          resolve(ev.ports[0])
        }
      } catch {
        // not JSON: ignore
      }
    })
    child.on('exit', code => reject(new Error(`simulator exited with ${code}: ${stderr}`)))
  })
  return {
    child,
    port,
    stop: () =>
      new Promise<void>(resolve => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}

for (const framing of ['wrapper', 'hdlc'] as const) {
  describe(`meters read ↔ meters simulate (${framing})`, () => {
    let sim: Sim
    beforeAll(async () => {
      sim = await startSim(['--framing', framing, '--password-env', 'SIM_PW'], {SIM_PW: 's3cret-pw'})
    })
    afterAll(async () => sim?.stop())

    it('prints energy with scaler and unit, the clock and the voltage (human)', async () => {
      const r = await runCli(['meters', 'read', '--host', '127.0.0.1', '--port', String(sim.port), '--framing', framing], {noDb: true})
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      expect(r.stdout).toMatch(/1\.0\.1\.8\.0\.255.*active energy import.*│ \d+\s+│ Wh\s+│ 0 /)
      expect(r.stdout).toMatch(/1\.0\.32\.7\.0\.255.*voltage L1.*│ 2\d\d(\.\d)?\s+│ V\s+│ -1 /)
      expect(r.stdout).toMatch(/0\.0\.1\.0\.0\.255.*clock.*\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d\d)?\+01:00/)
    })

    it('--json shape', async () => {
      const r = await runCli(
        [
          'meters',
          'read',
          '--host',
          '127.0.0.1',
          '--port',
          String(sim.port),
          '--framing',
          framing,
          '--json',
          '1-0:1.8.0*255',
          '0.0.1.0.0.255',
          '1.0.32.7.0.255',
          '1.0.1.6.0.255:4',
        ],
        {noDb: true},
      )
      expect(r.code).toBe(0)
      const j = r.json
      expect(j.meter).toEqual({host: '127.0.0.1', port: sim.port, framing, client_address: 16, server_address: 1, auth: 'none'})
      expect(j.association.max_pdu_size).toBe(512)
      const [energy, clock, voltage, demand] = j.readings
      expect(energy).toMatchObject({obis: '1.0.1.8.0.255', class_id: 3, kind: 'register', ok: true, unit: 'Wh', unit_code: 30, scaler: 0})
      expect(energy.value).toBe(energy.raw)
      expect(clock).toMatchObject({obis: '0.0.1.0.0.255', class_id: 8, kind: 'clock', ok: true, deviation: -60, clock_status: 0})
      expect(Math.abs(Date.parse(clock.utc) - Date.now())).toBeLessThan(10_000)
      expect(voltage).toMatchObject({kind: 'register', unit: 'V', scaler: -1})
      expect(voltage.value).toBeCloseTo(voltage.raw / 10, 6)
      expect(demand).toMatchObject({class_id: 4, kind: 'extended-register', unit: 'W', status: 0})
      expect(typeof j.read_at_ms).toBe('number')
    })

    it('LLS with the password from an env var; a wrong one is rejected without ever being printed', async () => {
      const ok = await runCli(
        [
          'meters',
          'read',
          '--host',
          '127.0.0.1',
          '--port',
          String(sim.port),
          '--framing',
          framing,
          '--auth',
          'low',
          '--password-env',
          'PW',
          '--json',
          '0.0.96.1.1.255',
        ],
        {noDb: true, env: {PW: 's3cret-pw'}},
      )
      expect(ok.code).toBe(0)
      expect(ok.json.meter.client_address).toBe(17)
      expect(ok.json.readings[0].ok).toBe(true)
      expect(ok.stdout + ok.stderr).not.toContain('s3cret-pw')
      const bad = await runCli(
        ['meters', 'read', '--host', '127.0.0.1', '--port', String(sim.port), '--framing', framing, '--auth', 'low', '--password-env', 'PW'],
        {noDb: true, env: {PW: 'wrong-pw-123'}},
      )
      expect(bad.code).toBe(1)
      expect(bad.stderr.trim()).toMatch(/^Error: association rejected: authentication failure \(wrong password/)
      expect(bad.stdout + bad.stderr).not.toContain('wrong-pw-123')
    })

    // The prompt is framing-independent: checked once, on the wrapper run.
    if (framing === 'wrapper')
      it.skipIf(!hasScript)('--auth low on a terminal without --password-env prompts, without echo', async () => {
        const stdoutFile = join(tmpdir(), `netmon-prompt-${process.pid}-${Date.now()}.json`)
        // Type the password once the prompt is shown, as a user would.
        const term = await new Promise<string>((resolve, reject) => {
          const child = spawn(
            'script',
            ptyArgs(['meters', 'read', '--host', '127.0.0.1', '--port', String(sim.port), '--auth', 'low', '--json', '0.0.96.1.1.255'], {
              flush: true,
              stdoutTo: stdoutFile,
            }),
            {env: ptyEnv()},
          )
          let text = ''
          let typed = false
          const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
          child.stdout.setEncoding('utf8').on('data', (d: string) => {
            text += d
            if (!typed && text.includes('LLS password: ')) {
              typed = true
              child.stdin.write('s3cret-pw\r')
            }
          })
          child.on('error', reject)
          child.on('close', () => {
            clearTimeout(timer)
            resolve(text)
          })
        })
        try {
          expect(term).toContain('LLS password: ')
          expect(term).not.toContain('s3cret-pw') // typed, not echoed
          const j = JSON.parse(readFileSync(stdoutFile, 'utf8'))
          expect(j.meter.auth).toBe('low')
          expect(j.readings[0].ok).toBe(true)
        } finally {
          rmSync(stdoutFile, {force: true})
        }
      })

    it('unknown OBIS → data-access-result line, exit 1', async () => {
      const r = await runCli(['meters', 'read', '--host', '127.0.0.1', '--port', String(sim.port), '--framing', framing, '0.0.96.99.99.255'], {noDb: true})
      expect(r.code).toBe(1)
      expect(r.stderr.trim()).toBe('Error: cannot read 0.0.96.99.99.255 attribute 2 (class 1): object-undefined (the meter has no such object)')
    })
  })
}

describe('meters read errors', () => {
  it('connection refused → one clear line, exit 1', async () => {
    const r = await runCli(['meters', 'read', '--host', '127.0.0.1', '--port', '1', '--timeout', '2s'], {noDb: true})
    expect(r.code).toBe(1)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/^Error: cannot connect to 127\.0\.0\.1:1: connection refused/)
  })

  it('bad OBIS → exit 2', async () => {
    const r = await runCli(['meters', 'read', '--host', '127.0.0.1', '--port', '4059', '1.2.3'], {noDb: true})
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/invalid OBIS code "1.2.3"/)
  })

  it('simulate with a fault: the reader times out with a clear line', async () => {
    const sim = await startSim(['--fault', 'silent'])
    try {
      const r = await runCli(['meters', 'read', '--host', '127.0.0.1', '--port', String(sim.port), '--timeout', '500ms'], {noDb: true})
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/^Error: timeout: no answer from 127\.0\.0\.1:\d+ within 500 ms \(waiting for AARE/)
    } finally {
      await sim.stop()
    }
  })
})

describe('meters simulate --config', () => {
  const free = (port: number) =>
    new Promise<boolean>(resolve => {
      const srv = createServer()
      srv.once('error', () => resolve(false))
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)))
    })

  it('a flag given on the command line wins over the file, even when it equals the default (--port 4061)', async ctx => {
    if (!(await free(4061))) ctx.skip() // another program holds 4061 on this machine
    const dir = mkdtempSync(join(tmpdir(), 'netmon-sim-cfg-'))
    try {
      const cfg = join(dir, 'sim.json')
      writeFileSync(cfg, JSON.stringify({port: 0, meters: 1}))
      const fromFile = await startSim(['--config', cfg], {}, null)
      const fromFilePort = fromFile.port
      await fromFile.stop()
      expect(fromFilePort).not.toBe(4061) // the file's 0: any free port
      const flag = await startSim(['--config', cfg], {}, '4061')
      const flagPort = flag.port
      await flag.stop() // before asserting: a failed check must not leave a simulator on 4061
      expect(flagPort).toBe(4061)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

describe('meters read --address-size (HDLC)', () => {
  /** The first frame `meters read` sends to a loopback listener that never answers. */
  async function firstFrame(args: string[]): Promise<Buffer> {
    const got: Buffer[] = []
    const srv = createServer(s => s.on('data', d => got.push(d)))
    await new Promise<void>(r => srv.listen(0, '127.0.0.1', () => r()))
    const port = (srv.address() as {port: number}).port
    try {
      await runCli(['meters', 'read', '--host', '127.0.0.1', '--port', String(port), '--framing', 'hdlc', '--timeout', '300ms', ...args])
    } finally {
      srv.close()
    }
    return Buffer.concat(got)
  }

  it('4 bytes for a small address, as the recorded Gurux meter (logical 1, physical 17 → 00 02 00 23)', async () => {
    const f = await firstFrame(['--physical-address', '17', '--address-size', '4'])
    expect(f.subarray(0, 2).toString('hex')).toBe('7ea0')
    expect(f.subarray(3, 8).toString('hex')).toBe('0002002321') // server 4 bytes, then client 16
    const dflt = await firstFrame(['--physical-address', '17'])
    expect(dflt.subarray(3, 6).toString('hex')).toBe('022321') // the smallest that fits: 2 bytes
  })

  it('sizes that cannot hold the address, or without HDLC, are exit 2', async () => {
    const r1 = await runCli(['meters', 'read', '--host', '127.0.0.1', '--port', '9', '--framing', 'hdlc', '--address-size', '1', '--physical-address', '17'])
    expect(r1.code).toBe(2)
    expect(r1.stderr).toMatch(/1-byte HDLC address has no physical part/)
    const r2 = await runCli(['meters', 'read', '--host', '127.0.0.1', '--port', '9', '--framing', 'hdlc', '--address-size', '2', '--physical-address', '200'])
    expect(r2.code).toBe(2)
    const r3 = await runCli(['meters', 'read', '--host', '127.0.0.1', '--port', '9', '--address-size', '4'])
    expect(r3.code).toBe(2)
    expect(r3.stderr).toMatch(/--address-size applies to --framing hdlc only/)
  })
})

describe('meters read against a meter that refuses the HDLC link', () => {
  it('DM to the SNRM: exit 1, one line naming the refusal', async () => {
    const {encodeHdlcFrame, clientAddress, serverAddress} = await import('../../../src/core/dlms/codec/hdlc.js')
    // A loopback "meter" that answers every frame with DM (disconnected mode), from server 1 to client 16.
    const dm = Buffer.from(
      encodeHdlcFrame({segmented: false, dest: clientAddress(16), src: serverAddress(1), control: {type: 'DM', pf: true}, info: new Uint8Array(0)}),
    )
    const srv = createServer(s => s.on('data', () => s.write(dm)))
    await new Promise<void>(r => srv.listen(0, '127.0.0.1', () => r()))
    try {
      const r = await runCli([
        'meters',
        'read',
        '--host',
        '127.0.0.1',
        '--port',
        String((srv.address() as {port: number}).port),
        '--framing',
        'hdlc',
        '--timeout',
        '2s',
      ])
      expect(r.code).toBe(1)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(r.stderr).toMatch(/^Error: .*refused the HDLC connection \(DM\)/)
    } finally {
      srv.close()
    }
  })
})

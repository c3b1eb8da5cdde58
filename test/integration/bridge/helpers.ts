/**
 * Real parts for the bridge's integration tests: the built CLI (`bridge run`, `meters simulate`) as
 * child processes, an in-process aedes broker or Debian's mosquitto on a free loopback port, a real
 * mqtt.js subscriber, and a counting TCP proxy between the bridge and a simulated meter. Loopback only.
 */
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {existsSync, mkdirSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {join} from 'node:path'
import {BIN, ROOT} from '../../support/cli.js'

export const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v) return v as T
    } catch (e) {
      last = e
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`)
    await sleep(everyMs)
  }
}

export async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>(r => s.listen(0, '127.0.0.1', () => r()))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>(r => s.close(() => r()))
  return port
}

/** A child process with its output collected. */
export interface Proc {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>
  kill(sig?: NodeJS.Signals): void
}

export function spawnProc(cmd: string, args: string[], opts: {env?: Record<string, string>; cwd?: string} = {}): Proc {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries({...process.env, NETMON_NO_PROGRESS: '1', ...opts.env})) if (v !== undefined) env[k] = v
  const child = spawn(cmd, args, {cwd: opts.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe']})
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', d => (out += d))
  child.stderr!.setEncoding('utf8').on('data', d => (err += d))
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>(resolve => child.on('exit', (code, signal) => resolve({code, signal})))
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    kill: (sig = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig)
    },
  }
}

export const spawnCli = (args: string[], env: Record<string, string> = {}): Proc => spawnProc(process.execPath, [BIN, ...args], {env})

/** `netmon meters simulate --json` in its own process; faults changed by rewriting its config + SIGHUP. */
export interface SimProc extends Proc {
  ports: number[]
  setFaults(faults: Record<string, string | null>): Promise<void>
}

export async function startSimulatorProcess(
  dir: string,
  name: string,
  opts: {meters: number; framing?: 'wrapper' | 'hdlc'; password?: string; preset?: 'gurux'} = {meters: 1},
): Promise<SimProc> {
  const cfg = join(dir, `${name}.yaml`)
  const write = (faults: Record<string, string | null>) =>
    writeFileSync(
      cfg,
      JSON.stringify({
        framing: opts.framing ?? 'wrapper',
        meters: opts.meters,
        ...(opts.password ? {password_env: 'SIM_PW'} : {}),
        ...(opts.preset ? {preset: opts.preset} : {}),
        faults,
      }),
    )
  write({})
  const p = spawnCli(['meters', 'simulate', '--port', '0', '--config', cfg, '--json'], opts.password ? {SIM_PW: opts.password} : {})
  const first = await waitFor(
    `simulator ${name} to listen`,
    () => {
      const line = p
        .stdout()
        .split('\n')
        .find(l => l.includes('"listening"') && l.includes('"ports"'))
      return line ? (JSON.parse(line) as {ports: number[]}) : undefined
    },
    15_000,
  )
  return {
    ...p,
    ports: first.ports,
    async setFaults(faults) {
      write(faults)
      const count = () => (p.stdout().match(/"fault":"set /g) ?? []).length
      const before = count()
      p.child.kill('SIGHUP')
      // the simulator logs one "fault set …" event per meter once applied
      await waitFor('simulator to apply faults', () => count() >= before + opts.meters, 5000, 20)
    },
  }
}

/** Transparent TCP proxy counting bytes and DLMS wrapper frames in each direction. */
export interface CountingProxy {
  port: number
  c2s: {bytes: number; frames: number}
  s2c: {bytes: number; frames: number}
  close(): Promise<void>
}

export async function countingProxy(targetPort: number): Promise<CountingProxy> {
  const c2s = {bytes: 0, frames: 0}
  const s2c = {bytes: 0, frames: 0}
  const sockets = new Set<net.Socket>()
  // IEC 62056-47 wrapper: version(2) source(2) destination(2) length(2) + APDU.
  const framer = (counter: {frames: number}) => {
    let buf = Buffer.alloc(0)
    return (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      while (buf.length >= 8) {
        const len = buf.readUInt16BE(6)
        if (buf.length < 8 + len) break
        counter.frames++
        buf = buf.subarray(8 + len)
      }
    }
  }
  const server = net.createServer(client => {
    const upstream = net.connect(targetPort, '127.0.0.1')
    sockets.add(client)
    sockets.add(upstream)
    const fc = framer(c2s)
    const fs = framer(s2c)
    // Bytes count once delivered to the other side: nothing after that side has ended.
    let clientEnded = false
    client.on('end', () => (clientEnded = true))
    client.on('data', d => {
      c2s.bytes += d.length
      fc(d)
      upstream.write(d)
    })
    upstream.on('data', d => {
      if (clientEnded || client.destroyed) return
      s2c.bytes += d.length
      fs(d)
      client.write(d)
    })
    const end = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('close', end)
    upstream.on('close', end)
    client.on('error', () => undefined)
    upstream.on('error', () => undefined)
  })
  await new Promise<void>(r => server.listen(0, '127.0.0.1', () => r()))
  return {
    port: (server.address() as net.AddressInfo).port,
    c2s,
    s2c,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>(r => server.close(() => r()))
    },
  }
}

// ---------- brokers ----------

export interface AedesBroker {
  port: number
  /** Every publish received from a client: topic, payload text, qos, client id. */
  messages: {topic: string; payload: string; qos: number; clientId: string}[]
  close(): Promise<void>
}

export async function startAedes(
  opts: {
    port?: number
    authenticate?: (user: string | undefined, pass: string | undefined) => boolean
    /** CONNACK return code of a refusal: 4 bad user name or password (default), 5 not authorized. */
    refuseWith?: number
  } = {},
): Promise<AedesBroker> {
  const {Aedes} = await import('aedes')
  const broker = await Aedes.createBroker(
    opts.authenticate
      ? {
          authenticate: (_client, username, password, done) => {
            const ok = opts.authenticate!(username ?? undefined, password ? Buffer.from(password).toString() : undefined)
            done(ok ? null : (Object.assign(new Error('bad credentials'), {returnCode: opts.refuseWith ?? 4}) as never), ok)
          },
        }
      : {},
  )
  const messages: AedesBroker['messages'] = []
  broker.on('publish', (packet, client) => {
    if (client) messages.push({topic: packet.topic, payload: Buffer.from(packet.payload as Buffer).toString(), qos: packet.qos, clientId: client.id})
  })
  const server = net.createServer(broker.handle)
  await new Promise<void>(r => server.listen(opts.port ?? 0, '127.0.0.1', () => r()))
  return {
    port: (server.address() as net.AddressInfo).port,
    messages,
    async close() {
      await new Promise<void>(r => broker.close(() => r()))
      await new Promise<void>(r => server.close(() => r()))
    },
  }
}

export const MOSQUITTO = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find(p => existsSync(p))

export interface Mosquitto {
  port: number
  start(): Promise<void>
  stop(): Promise<void>
}

/** Debian's mosquitto on a free loopback port with a generated config (persistence on, so a durable subscriber survives a restart). */
export async function mosquitto(dir: string): Promise<Mosquitto> {
  if (!MOSQUITTO) throw new Error('mosquitto is not installed')
  const port = await freePort()
  const data = join(dir, 'mosq')
  mkdirSync(data, {recursive: true})
  const conf = join(dir, 'mosquitto.conf')
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${data}/`,
      'max_queued_messages 0',
      'max_inflight_messages 0',
      'log_dest none',
      '',
    ].join('\n'),
  )
  let proc: Proc | undefined
  const m: Mosquitto = {
    port,
    async start() {
      proc = spawnProc(MOSQUITTO!, ['-c', conf])
      await waitFor(
        'mosquitto to listen',
        () =>
          new Promise<boolean>(resolve => {
            const s = net.connect(port, '127.0.0.1')
            s.on('connect', () => {
              s.destroy()
              resolve(true)
            })
            s.on('error', () => resolve(false))
          }),
        10_000,
        50,
      )
    },
    async stop() {
      if (!proc) return
      proc.kill('SIGTERM')
      await proc.exited
      proc = undefined
    },
  }
  return m
}

/** A real mqtt.js subscriber (QoS 1, durable session so it misses nothing across a broker restart). */
export interface Subscriber {
  messages: {topic: string; payload: string; qos: number}[]
  close(): Promise<void>
}

export async function subscribe(port: number, topic: string, opts: {clientId?: string; durable?: boolean; username?: string} = {}): Promise<Subscriber> {
  const mqtt = await import('mqtt')
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
    clientId: opts.clientId ?? `test-sub-${process.pid}-${Math.random().toString(16).slice(2)}`,
    clean: !opts.durable,
    reconnectPeriod: 200,
    protocolVersion: 4,
    ...(opts.username ? {username: opts.username} : {}),
  })
  const messages: Subscriber['messages'] = []
  client.on('message', (t, p, packet) => messages.push({topic: t, payload: p.toString(), qos: packet.qos}))
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => client.subscribe(topic, {qos: 1}, e => (e ? reject(e) : resolve())))
    client.once('error', reject)
  })
  return {messages, close: () => new Promise<void>(r => client.end(true, {}, () => r()))}
}

export function mosquittoVersion(): string | undefined {
  if (!MOSQUITTO) return undefined
  return spawnSync(MOSQUITTO, ['-h'], {encoding: 'utf8'}).stdout.split('\n')[0]
}

/** Parses NDJSON log lines of `bridge run --log-format json`. */
export const logLines = (text: string): Record<string, any>[] =>
  text
    .split('\n')
    .filter(l => l.startsWith('{'))
    .map(l => JSON.parse(l))

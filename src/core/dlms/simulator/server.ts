/**
 * `startSimulator()`: N simulated COSEM meters, each a TCP server on loopback (consecutive ports), speaking
 * the wrapper or HDLC, with run-time fault injection. Used by the tests, by `netmon meters simulate`, and by
 * the bridge's demo mode.
 */
import net from 'node:net'
import {NetmonError} from '../../errors.js'
import {HdlcServerLink} from '../link/hdlc.js'
import type {Framing, LinkEvent} from '../link/types.js'
import {WrapperServerLink} from '../link/wrapper.js'
import {formatFault, type Fault} from './faults.js'
import {MeterModel, type MeterPreset} from './objects.js'
import {CosemServerSession, SERVER_CONFORMANCE, type ServerSecurity} from './session.js'
import {type FrameCounterGuard, InvocationCounter} from '../codec/security.js'
import {validateSecurity} from '../security-context.js'
import {Pusher, type PushKind, type PushStats, type SimulatorPushOptions} from './push.js'
import {conformanceFromNames} from '../codec/apdu/association.js'

/** HLS-GMAC of the simulated meters: meter i has `systemTitle` with i added to its last 4 octets. */
export interface SimulatorSecurity {
  systemTitle: Uint8Array
  ek: Uint8Array
  ak: Uint8Array
  /** APDU protection (0x30 default; 0 = HLS authentication only). */
  securityControl?: 0 | 0x10 | 0x20 | 0x30
  /** First invocation counter of each meter. Default 1. */
  invocationCounter?: number
  /** StoC generator (tests); default 16 random octets. */
  challenge?: () => Uint8Array
}

export type CipherFault = 'tamper' | 'replay'

export interface SimulatorOptions {
  /** Only loopback is accepted: 127.0.0.1 (default), localhost or ::1. */
  host?: string
  /** First port; meter i listens on port + i. 0 (default) lets the OS pick a free port for each meter. */
  port?: number
  framing?: Framing
  meters?: number
  /** LLS password of client 17. Default "12345678" (as the vectors). */
  password?: string
  /** Logical device address (wrapper destination wPort / upper HDLC address). Default 1. */
  logicalAddress?: number
  /** HDLC physical address; when set, 2-/4-byte addresses must carry it. */
  physicalAddress?: number
  /** Server max receive PDU size (and size of the APDUs we send). Default 512 → block transfer beyond that. */
  maxPduSize?: number
  /** HDLC max information field length. Default 128 → segmentation beyond that. */
  hdlcMaxInfo?: number
  /** Conformance granted (ANDed with the client's). Default: what the simulator implements. */
  conformance?: number
  /** Load profile rows. Default 96 (one day at 15 min). */
  profileRows?: number
  profilePeriodMinutes?: number
  /**
   * Access selectors the load profile's buffer accepts: 1 range_descriptor (by time), 2 entry_descriptor.
   * Default [1, 2]. A refused selector answers data-access-result other-reason, as meters without it do;
   * [] also withholds selective-access from the granted conformance (tests of the bridge's fallbacks).
   */
  profileSelectors?: Array<1 | 2>
  /** Meter clock UTC offset in minutes. Default 60. */
  offsetMinutes?: number
  /** Clock source (ms since the epoch). Default Date.now. */
  now?: () => number
  seed?: number
  /** 'gurux' = the fixed values of the recorded Gurux meter. */
  preset?: MeterPreset
  /** HLS-GMAC with security suite 0 (client 1 then needs it; 16 and 17 are unchanged). */
  security?: SimulatorSecurity
  /** Initial faults by meter index. */
  faults?: Array<Fault | null | undefined> | Record<number, Fault | null>
  /** Log of what happens (connections, associations, faults). */
  onEvent?: (ev: SimulatorEvent) => void
  /** Push mode: every meter sends DataNotifications to this destination (docs/DLMS.md "Push"). */
  push?: SimulatorPushOptions
}

export type SimulatorEvent =
  | {type: 'listening'; meter: number; port: number}
  | {type: 'connection'; meter: number; remote: string}
  | {type: 'disconnect'; meter: number}
  | {type: 'associated'; meter: number; clientAddress: number; mechanism: string}
  | {type: 'rejected'; meter: number; clientAddress: number; diagnostic: number}
  | {type: 'fault'; meter: number; fault: string}
  | {type: 'error'; meter: number; message: string}

export interface SimulatorStats {
  connections: number
  requests: number
  responses: number
}

export interface Simulator {
  host: string
  framing: Framing
  ports: number[]
  meters: MeterModel[]
  setFault(meterIndex: number, fault: Fault | null): void
  /** Damages the next protected answer of a meter once: 'tamper' flips a tag bit, 'replay' reuses the previous counter. */
  setCipherFault(meterIndex: number, fault: CipherFault | null): void
  getFault(meterIndex: number): Fault | null
  stats(): SimulatorStats[]
  /** Push mode: sends one DataNotification of a meter now (resolves when written). */
  push(meterIndex: number, kind?: PushKind, alarm?: number): Promise<void>
  /** Push mode: raw bytes on a meter's push connection (tests). */
  pushRaw(meterIndex: number, bytes: Uint8Array): Promise<void>
  pushStats(): PushStats[]
  close(): Promise<void>
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1'])

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const host = opts.host ?? '127.0.0.1'
  if (!LOOPBACK.has(host)) throw new NetmonError('usage', `the simulator only listens on loopback, not on ${host}`, {hint: 'use --host 127.0.0.1'})
  const count = opts.meters ?? 1
  if (!Number.isInteger(count) || count < 1 || count > 1000) throw new NetmonError('usage', `meters must be 1..1000, got ${count}`)
  const basePort = opts.port ?? 0
  if (!Number.isInteger(basePort) || basePort < 0 || basePort + count - 1 > 65535)
    throw new NetmonError('usage', `invalid port ${basePort} for ${count} meter(s)`)
  const framing = opts.framing ?? 'wrapper'
  const emit = (ev: SimulatorEvent): void => {
    try {
      opts.onEvent?.(ev)
    } catch {
      // logging must not break the simulator
    }
  }
  const faults: Array<Fault | null> = Array.from({length: count}, (_, i) => (Array.isArray(opts.faults) ? opts.faults[i] : opts.faults?.[i]) ?? null)
  const stats: SimulatorStats[] = Array.from({length: count}, () => ({connections: 0, requests: 0, responses: 0}))
  const meters = Array.from(
    {length: count},
    (_, index) =>
      new MeterModel({
        index,
        now: opts.now ?? Date.now,
        offsetMinutes: opts.offsetMinutes ?? 60,
        seed: opts.seed ?? 1,
        profileRows: opts.profileRows ?? 96,
        profilePeriodMinutes: opts.profilePeriodMinutes ?? 15,
        profileSelectors: opts.profileSelectors ?? [1, 2],
        preset: opts.preset ?? 'default',
      }),
  )
  const cipherFaults: Array<CipherFault | null> = Array.from({length: count}, () => null)
  const security: Array<ServerSecurity | undefined> = Array.from({length: count}, (_, i) => {
    const sec = opts.security
    if (!sec) return undefined
    const st = Uint8Array.from(sec.systemTitle)
    if (st.length === 8) {
      const view = new DataView(st.buffer)
      view.setUint32(4, (view.getUint32(4) + i) >>> 0)
    }
    const config = {
      level: 'hls-gmac' as const,
      systemTitle: st,
      ek: sec.ek,
      ak: sec.ak,
      securityControl: sec.securityControl ?? 0x30,
      ...(sec.challenge ? {challenge: sec.challenge} : {}),
    }
    validateSecurity(config)
    return {config, counter: new InvocationCounter(sec.invocationCounter ?? 1), guards: new Map<string, FrameCounterGuard>()}
  })
  const pusher = opts.push
    ? new Pusher(
        meters,
        opts.push,
        i => {
          const sec = security[i]
          return sec
            ? {
                systemTitle: sec.config.systemTitle,
                ek: sec.config.ek,
                ak: sec.config.ak,
                securityControl: sec.config.securityControl ?? 0x30,
                counter: sec.counter,
              }
            : undefined
        },
        opts.logicalAddress ?? 1,
        (i, message) => emit({type: 'error', meter: i, message}),
      )
    : undefined
  const servers: net.Server[] = []
  const sockets = new Set<net.Socket>()

  /** Takes the meter's fault for one use (clearing a `once` fault). */
  const takeFault = (i: number, types: Fault['type'][]): Fault | null => {
    const f = faults[i]
    if (!f || !types.includes(f.type)) return null
    if (f.once) faults[i] = null
    emit({type: 'fault', meter: i, fault: formatFault(f)})
    return f
  }

  const serve = (i: number, socket: net.Socket): void => {
    sockets.add(socket)
    stats[i]!.connections++
    emit({type: 'connection', meter: i, remote: `${socket.remoteAddress}:${socket.remotePort}`})
    socket.setNoDelay(true)
    const link =
      framing === 'hdlc'
        ? new HdlcServerLink({
            logical: opts.logicalAddress ?? 1,
            physical: opts.physicalAddress,
            maxInfoTx: opts.hdlcMaxInfo ?? 128,
            maxInfoRx: opts.hdlcMaxInfo ?? 128,
          })
        : new WrapperServerLink({logical: opts.logicalAddress ?? 1})
    const session = new CosemServerSession(meters[i]!, {
      password: opts.password ?? '12345678',
      maxPduSize: opts.maxPduSize ?? 512,
      conformance:
        (opts.conformance ?? SERVER_CONFORMANCE) &
        (opts.profileSelectors && opts.profileSelectors.length === 0 ? ~conformanceFromNames(['selective-access']) : ~0),
      rejectAll: () => takeFault(i, ['reject-password']) !== null,
      badValue: () => {
        const f = takeFault(i, ['bad-value'])
        return f?.type === 'bad-value' ? f.obis : null
      },
      security: security[i],
      cipherFault: () => {
        const f = cipherFaults[i] ?? null
        if (f) {
          cipherFaults[i] = null
          emit({type: 'fault', meter: i, fault: `cipher:${f}`})
        }
        return f
      },
    })
    let closed = false
    let chain: Promise<void> = Promise.resolve()
    const write = (bytes: Uint8Array): void => {
      if (!closed && !socket.destroyed) socket.write(bytes)
    }
    /** Writes the frames of an answer, applying corrupt/truncate to the first one. */
    const writeAnswer = (events: LinkEvent[]): void => {
      let first = true
      for (const ev of events) {
        if (ev.type !== 'send') continue
        let bytes = ev.bytes
        if (first) {
          const f = takeFault(i, ['corrupt', 'truncate'])
          if (f?.type === 'corrupt') {
            bytes = Uint8Array.from(bytes)
            if (framing === 'hdlc')
              bytes[bytes.length - 2]! ^= 0xff // FCS
            else bytes[0] = 0xde // version 0xDExx
          } else if (f?.type === 'truncate') bytes = bytes.subarray(0, Math.max(1, Math.floor(bytes.length / 2)))
        }
        first = false
        write(bytes)
      }
    }
    const onApdu = async (apdu: Uint8Array): Promise<void> => {
      stats[i]!.requests++
      if (takeFault(i, ['drop'])) {
        closed = true
        socket.destroy()
        return
      }
      if (takeFault(i, ['silent'])) return
      const answer = session.handle(apdu, link.clientAddress ?? 16)
      for (const ev of session.events.splice(0)) {
        if (ev.type === 'associated') emit({type: 'associated', meter: i, clientAddress: ev.clientAddress, mechanism: ev.mechanism})
        else if (ev.type === 'rejected') emit({type: 'rejected', meter: i, clientAddress: ev.clientAddress, diagnostic: ev.diagnostic})
      }
      if (!answer) return
      const d = takeFault(i, ['delay'])
      if (d?.type === 'delay') await new Promise(r => setTimeout(r, d.ms))
      if (closed) return
      stats[i]!.responses++
      writeAnswer(link.sendApdu(answer))
    }
    socket.on('data', (chunk: Buffer) => {
      if (closed) return
      const events = link.receive(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
      for (const ev of events) {
        if (ev.type === 'send')
          write(ev.bytes) // link-level answers: UA, RR, DM, next segments
        else if (ev.type === 'apdu') {
          const apdu = ev.apdu
          // answers go out in request order even when a delay fault is active
          chain = chain.then(() => onApdu(apdu)).catch((e: unknown) => emit({type: 'error', meter: i, message: (e as Error).message}))
        } else if (ev.type === 'error') {
          emit({type: 'error', meter: i, message: ev.error.message})
          closed = true
          socket.destroy()
          return
        }
      }
    })
    socket.on('error', () => undefined)
    socket.on('close', () => {
      closed = true
      sockets.delete(socket)
      emit({type: 'disconnect', meter: i})
    })
  }

  const ports: number[] = []
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer(s => serve(i, s))
      servers.push(server)
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e: NodeJS.ErrnoException) =>
          reject(
            new NetmonError(
              'network',
              `cannot listen on ${host}:${basePort === 0 ? 0 : basePort + i}: ${e.code === 'EADDRINUSE' ? 'port already in use' : e.message}`,
              {hint: 'choose another --port', cause: e},
            ),
          ),
        )
        server.listen(basePort === 0 ? 0 : basePort + i, host, () => resolve())
      })
      server.on('error', e => emit({type: 'error', meter: i, message: e.message}))
      const port = (server.address() as net.AddressInfo).port
      ports.push(port)
      emit({type: 'listening', meter: i, port})
    }
  } catch (e) {
    await Promise.all(servers.map(s => new Promise<void>(r => s.close(() => r()))))
    throw e
  }

  pusher?.start()
  const needPusher = (): Pusher => {
    if (!pusher) throw new NetmonError('usage', 'the simulator was started without push mode (push option)')
    return pusher
  }

  return {
    host,
    framing,
    ports,
    meters,
    setFault(meterIndex, fault) {
      if (!Number.isInteger(meterIndex) || meterIndex < 0 || meterIndex >= count) throw new NetmonError('usage', `no meter ${meterIndex} (0..${count - 1})`)
      faults[meterIndex] = fault
      emit({type: 'fault', meter: meterIndex, fault: `set ${formatFault(fault)}`})
    },
    getFault: meterIndex => faults[meterIndex] ?? null,
    setCipherFault(meterIndex, fault) {
      if (!Number.isInteger(meterIndex) || meterIndex < 0 || meterIndex >= count) throw new NetmonError('usage', `no meter ${meterIndex} (0..${count - 1})`)
      cipherFaults[meterIndex] = fault
    },
    stats: () => stats.map(s => ({...s})),
    push: (i, kind, alarm) => needPusher().push(i, kind, alarm),
    pushRaw: (i, bytes) => needPusher().sendRaw(i, bytes),
    pushStats: () => (pusher ? pusher.stats.map(s => ({...s})) : []),
    async close() {
      pusher?.close()
      for (const s of sockets) s.destroy()
      await Promise.all(servers.map(s => new Promise<void>(r => s.close(() => r()))))
    },
  }
}

/**
 * The simulator's push mode (issue 18 item 4): each simulated meter connects to a push destination (the
 * bridge's push listener) and sends DataNotifications over the IEC 62056-47 wrapper, as a meter behind NAT
 * or on cellular does with its push setup objects (class 40):
 *
 *   periodic  push setup 0.0.25.9.0.255: logical device name, clock, and for each register its value
 *             (attribute 2) and scaler_unit (attribute 3)
 *   alarm     push setup 0.4.25.9.0.255: logical device name, alarm register 1 (0.0.97.98.0.255)
 *
 * The body's first element is the push setup's own push_object_list (attribute 2) when `objectList` is
 * 'sent' (default), or its logical name (attribute 1, the IDIS convention) when 'omitted', so the receiver
 * must be configured with the list. With HLS keys the pushes are ciphered (general-glo-ciphering, the meter's
 * system title), using the same invocation counter as the meter's protected answers (no IV is ever reused).
 *
 * The body building is pure (`buildPush`); `Pusher` owns the sockets and timers.
 */
import net from 'node:net'
import {NetmonError} from '../../errors.js'
import {D, type DlmsData} from '../codec/axdr.js'
import {encodeDataNotification, protectNotification, type DataNotification} from '../codec/apdu/notification.js'
import type {InvocationCounter} from '../codec/security.js'
import {encodeWrapperFrame} from '../codec/wrapper.js'
import {dataToDateTime} from '../cosem.js'
import type {MeterModel} from './objects.js'

export const PERIODIC_PUSH_SETUP = '0.0.25.9.0.255'
export const ALARM_PUSH_SETUP = '0.4.25.9.0.255'
export const ALARM_REGISTER_1 = '0.0.97.98.0.255'
export const PUSHED_REGISTERS = ['1.0.1.8.0.255', '1.0.2.8.0.255', '1.0.1.7.0.255', '1.0.32.7.0.255', '1.0.31.7.0.255', '1.0.14.7.0.255'] as const

export type PushKind = 'periodic' | 'alarm'

export interface PushObject {
  classId: number
  obis: string
  attribute: number
}

export interface SimulatorPushOptions {
  /** Destination; loopback only (127.0.0.1, localhost, ::1), like the simulator itself. */
  host: string
  port: number
  /** Periodic pushes every this many ms (0 / undefined: only on push()). */
  intervalMs?: number
  /** 'sent' (default): the body starts with the push object list; 'omitted': with the push setup's logical name. */
  objectList?: 'sent' | 'omitted'
  /** Cipher the pushes when the meters have HLS keys (default true). A lost connection is re-opened at the next push. */
  ciphered?: boolean
}

export interface PushCipher {
  systemTitle: Uint8Array
  ek: Uint8Array
  ak: Uint8Array
  /** 0x10 / 0x20 / 0x30; 0 sends plain pushes. */
  securityControl: number
  counter: InvocationCounter
}

const OBIS = (s: string): Uint8Array => Uint8Array.from(s.split('.').map(Number))

/** The push_object_list of a push setup (class 40 attribute 2); registers the model lacks (preset gurux) are left out. */
export function pushObjectList(kind: PushKind, sent: boolean, model?: MeterModel): PushObject[] {
  const setup = kind === 'alarm' ? ALARM_PUSH_SETUP : PERIODIC_PUSH_SETUP
  const head: PushObject[] = [
    {classId: 40, obis: setup, attribute: sent ? 2 : 1},
    {classId: 1, obis: '0.0.42.0.0.255', attribute: 2},
  ]
  if (kind === 'alarm') return [...head, {classId: 1, obis: ALARM_REGISTER_1, attribute: 2}]
  return [
    ...head,
    {classId: 8, obis: '0.0.1.0.0.255', attribute: 2},
    ...PUSHED_REGISTERS.filter(obis => !model || model.has(obis)).flatMap(obis => [
      {classId: 3, obis, attribute: 2},
      {classId: 3, obis, attribute: 3},
    ]),
  ]
}

/** push_object_list as Data: array of structure {class_id, logical_name, attribute_index, data_index}. */
export function objectListData(list: PushObject[]): DlmsData {
  return D.array(list.map(o => D.struct(D.uint16(o.classId), D.octets(OBIS(o.obis)), D.int8(o.attribute), D.uint16(0))))
}

/** One DataNotification of a simulated meter (pure but for the model's clock). */
export function buildPush(model: MeterModel, kind: PushKind, o: {invokeId: number; sent: boolean; alarm?: number}): DataNotification {
  const list = pushObjectList(kind, o.sent, model)
  const values = list.map((d, i): DlmsData => {
    if (i === 0) return o.sent ? objectListData(list) : D.octets(OBIS(d.obis))
    if (d.obis === ALARM_REGISTER_1) return D.uint32((o.alarm ?? 0) >>> 0)
    const r = model.get({classId: d.classId, obis: OBIS(d.obis), attribute: d.attribute}, {authenticated: true})
    return r.ok ? r.data : D.null()
  })
  const clock = model.get({classId: 8, obis: OBIS('0.0.1.0.0.255'), attribute: 2}, {authenticated: true})
  const dateTime = clock.ok ? (dataToDateTime(clock.data) ?? null) : null
  return {longInvokeId: o.invokeId & 0xffffff, dateTime, body: D.struct(...values)}
}

export interface PushStats {
  sent: number
  failed: number
  connects: number
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1'])

/** Sockets and timers of the push mode: one connection per meter, kept open, re-opened after a loss. */
export class Pusher {
  readonly stats: PushStats[]
  private readonly sockets: Array<net.Socket | undefined>
  private readonly connecting: Array<Promise<net.Socket> | undefined>
  private readonly invoke: number[]
  private timer: NodeJS.Timeout | undefined
  private closed = false

  constructor(
    private readonly meters: MeterModel[],
    private readonly opts: SimulatorPushOptions,
    private readonly cipher: (i: number) => PushCipher | undefined,
    private readonly logicalAddress = 1,
    private readonly onError: (i: number, message: string) => void = () => undefined,
  ) {
    if (!LOOPBACK.has(opts.host))
      throw new NetmonError('usage', `the simulator pushes only to loopback, not to ${opts.host}`, {hint: 'use --push 127.0.0.1:PORT'})
    if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) throw new NetmonError('usage', `invalid push port ${opts.port}`)
    this.stats = meters.map(() => ({sent: 0, failed: 0, connects: 0}))
    this.sockets = meters.map(() => undefined)
    this.connecting = meters.map(() => undefined)
    this.invoke = meters.map(() => 0)
  }

  start(): void {
    const every = this.opts.intervalMs ?? 0
    if (every > 0) {
      const tick = (): void => {
        for (let i = 0; i < this.meters.length; i++) this.push(i, 'periodic').catch(() => undefined)
      }
      tick()
      this.timer = setInterval(tick, every)
    }
  }

  /** The wire bytes of meter i's next push (advances its invoke-id and, ciphered, its invocation counter). */
  frame(i: number, kind: PushKind, alarm?: number): Uint8Array {
    const model = this.meters[i]!
    this.invoke[i] = (this.invoke[i]! + 1) & 0xffffff
    const n = buildPush(model, kind, {invokeId: this.invoke[i]!, sent: (this.opts.objectList ?? 'sent') === 'sent', ...(alarm !== undefined ? {alarm} : {})})
    const c = this.opts.ciphered === false ? undefined : this.cipher(i)
    const apdu = c?.securityControl
      ? protectNotification(n, {ek: c.ek, ak: c.ak, sc: c.securityControl, systemTitle: c.systemTitle, invocationCounter: c.counter.take()})
      : encodeDataNotification(n)
    return encodeWrapperFrame({src: this.logicalAddress, dst: 16, apdu})
  }

  /** Sends one push of meter i now; resolves when written, rejects when the destination cannot be reached. */
  async push(i: number, kind: PushKind = 'periodic', alarm?: number): Promise<void> {
    if (this.closed) throw new NetmonError('usage', 'the simulator is closed')
    try {
      const s = await this.socket(i)
      const bytes = this.frame(i, kind, alarm)
      await new Promise<void>((resolve, reject) => s.write(bytes, e => (e ? reject(e) : resolve())))
      this.stats[i]!.sent++
    } catch (e) {
      this.stats[i]!.failed++
      this.onError(i, `push to ${this.opts.host}:${this.opts.port} failed: ${(e as Error).message}`)
      throw e
    }
  }

  /** Sends raw bytes on meter i's push connection (tests: malformed pushes). */
  async sendRaw(i: number, bytes: Uint8Array): Promise<void> {
    const s = await this.socket(i)
    await new Promise<void>((resolve, reject) => s.write(bytes, e => (e ? reject(e) : resolve())))
  }

  private socket(i: number): Promise<net.Socket> {
    const open = this.sockets[i]
    if (open && !open.destroyed) return Promise.resolve(open)
    const pending = this.connecting[i]
    if (pending) return pending
    const p = new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({host: this.opts.host, port: this.opts.port})
      s.setNoDelay(true)
      s.once('connect', () => {
        this.stats[i]!.connects++
        this.sockets[i] = s
        resolve(s)
      })
      s.once('error', reject)
      s.on('error', () => undefined)
      s.on('data', () => undefined) // a push destination has nothing to say; ignore what it sends
      s.on('close', () => {
        if (this.sockets[i] === s) this.sockets[i] = undefined
      })
    }).finally(() => {
      this.connecting[i] = undefined
    })
    this.connecting[i] = p
    return p
  }

  close(): void {
    this.closed = true
    if (this.timer) clearInterval(this.timer)
    for (const s of this.sockets) s?.destroy()
  }
}

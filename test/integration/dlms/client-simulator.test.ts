/**
 * DlmsClient ↔ simulator over loopback TCP: both framings, none and LLS, block transfer of a large profile,
 * every injected fault, and the error lines users see.
 */
import net from 'node:net'
import {afterEach, describe, expect, it} from 'vitest'
import {
  D,
  DlmsClient,
  isDlmsError,
  startSimulator,
  type DlmsClientOptions,
  type DlmsError,
  type DlmsFrameEvent,
  type Simulator,
  type SimulatorOptions,
} from '../../../src/core/dlms/index.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

async function sim(opts: SimulatorOptions): Promise<Simulator> {
  const s = await startSimulator({host: '127.0.0.1', port: 0, ...opts})
  cleanups.push(() => s.close())
  return s
}

function client(s: Simulator, opts: Partial<DlmsClientOptions> = {}, meter = 0): DlmsClient {
  const c = new DlmsClient({host: '127.0.0.1', port: s.ports[meter]!, framing: s.framing, timeoutMs: 1500, ...opts})
  cleanups.push(() => c.close())
  return c
}

async function failure(p: Promise<unknown>): Promise<DlmsError> {
  try {
    await p
  } catch (e) {
    if (isDlmsError(e)) return e
    throw new Error(`not a DlmsError: ${String(e)}`)
  }
  throw new Error('expected a failure')
}

const LLS = {clientAddress: 17, auth: {mechanism: 'low' as const, password: '12345678'}}

for (const framing of ['wrapper', 'hdlc'] as const) {
  describe(`${framing}`, () => {
    for (const auth of ['none', 'lls'] as const) {
      it(`reads registers, clock, data and profile with authentication ${auth}`, async () => {
        const s = await sim({framing})
        const frames: DlmsFrameEvent[] = []
        const c = client(s, {...(auth === 'lls' ? LLS : {}), onFrame: e => frames.push(e)})
        const assoc = await c.open()
        expect(assoc.maxPduSize).toBe(512)
        expect(assoc.conformanceNames).toEqual(expect.arrayContaining(['block-transfer-with-get-or-read', 'get', 'selective-access', 'multiple-references']))

        const energy = await c.readRegister('1.0.1.8.0.255')
        expect(energy).toMatchObject({obis: '1.0.1.8.0.255', classId: 3, scaler: 0, unitCode: 30, unit: 'Wh'})
        expect(energy.value).toBeGreaterThan(12_000_000)
        const voltage = await c.readRegister('1-0:32.7.0*255')
        expect(voltage).toMatchObject({scaler: -1, unit: 'V'})
        expect(voltage.value).toBeGreaterThan(220)
        expect(voltage.value).toBeLessThan(240)
        const current = await c.readRegister('1.0.31.7.0.255')
        expect(current).toMatchObject({scaler: -2, unit: 'A'})
        const freq = await c.readRegister('1.0.14.7.0.255')
        expect(freq.unit).toBe('Hz')
        const demand = await c.readRegister('1.0.1.6.0.255', {classId: 4})
        expect(demand).toMatchObject({classId: 4, unit: 'W', status: 0})
        expect(demand.captureTime).toMatch(/T15:00:00\+01:00$/)

        const clock = await c.readClock()
        expect(clock.iso).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d\d)?\+01:00$/)
        expect(Math.abs(clock.date!.getTime() - Date.now())).toBeLessThan(5000)

        const serial = await c.read('0.0.96.1.0.255', 1, 2)
        expect(serial).toEqual(D.visible('12345678'))

        const p = await c.readProfile('1.0.99.1.0.255')
        expect(p.columns).toEqual(['0.0.1.0.0.255:2', '1.0.1.8.0.255:2'])
        expect(p.rows.length).toBe(96)
        for (let i = 1; i < p.rows.length; i++) {
          expect(Date.parse(p.rows[i]![0] as string) - Date.parse(p.rows[i - 1]![0] as string)).toBe(15 * 60_000)
          expect(p.rows[i]![1] as number).toBeGreaterThanOrEqual(p.rows[i - 1]![1] as number)
        }
        expect(p.rows.at(-1)![1] as number).toBeLessThanOrEqual(energy.value!)

        await c.close()
        expect(c.state).toBe('closed')
        // counter hook: one 'request' APDU per service call, answered by one 'response' APDU
        const reqs = frames.filter(f => f.direction === 'sent' && f.kind === 'request' && f.apduComplete).length
        const resps = frames.filter(f => f.direction === 'received' && f.kind === 'response' && f.apduComplete).length
        expect(reqs).toBe(resps)
        expect(reqs).toBeGreaterThan(15)
        expect(frames.every(f => f.framing === framing && f.bytes > f.payloadBytes)).toBe(true)
      })
    }

    it('block transfer of a large profile (3000 rows, ~63 KB) and a time range', async () => {
      const s = await sim({framing, profileRows: 3000})
      const frames: DlmsFrameEvent[] = []
      const c = client(s, {timeoutMs: 5000, onFrame: e => frames.push(e)})
      await c.open()
      const p = await c.readProfile('1.0.99.1.0.255')
      expect(p.rows.length).toBe(3000)
      const raw = frames.filter(f => f.direction === 'received' && f.apduComplete).length
      expect(raw).toBeGreaterThan(100) // one Get-Response-With-Datablock per ≤500 bytes
      if (framing === 'hdlc') expect(frames.some(f => f.direction === 'sent' && f.kind === 'control')).toBe(true) // RR for segments
      const from = p.rows[10]![0] as string
      const to = p.rows[19]![0] as string
      const part = await c.readProfile('1.0.99.1.0.255', {from, to})
      expect(part.rows).toEqual(p.rows.slice(10, 20))
      const none = await c.readProfile('1.0.99.1.0.255', {from: new Date(0), to: new Date(1000)})
      expect(none.rows).toEqual([])
    })

    it('GET with-list, SET clock with LLS, access rights', async () => {
      const s = await sim({framing})
      const pub = client(s)
      await pub.open()
      const list = await pub.getMany([
        {descriptor: {classId: 3, obis: Uint8Array.of(1, 0, 1, 8, 0, 255), attribute: 3}},
        {descriptor: {classId: 1, obis: Uint8Array.of(0, 0, 96, 99, 99, 255), attribute: 2}},
        {descriptor: {classId: 1, obis: Uint8Array.of(0, 0, 96, 1, 1, 255), attribute: 2}},
      ])
      expect(list).toEqual([
        {ok: true, data: D.struct(D.int8(0), D.enum(30))},
        {ok: false, error: 4},
        {ok: false, error: 3},
      ])
      const denied = await failure(pub.read('0.0.96.1.1.255', 1, 2))
      expect(denied.dlmsCode).toBe('ACCESS_DENIED')
      expect(denied.message).toBe('cannot read 0.0.96.1.1.255 attribute 2 (class 1): read-write-denied (the association has no right to this attribute)')
      const wrongClass = await failure(pub.read('1.0.1.8.0.255', 4, 2))
      expect(wrongClass.details.dataAccessResultName).toBe('object-class-inconsistent')
      expect((await failure(pub.write('0.0.1.0.0.255', 8, 2, D.octets(new Uint8Array(12))))).dlmsCode).toBe('ACCESS_DENIED')
      await pub.close()

      const lls = client(s, LLS)
      await lls.open()
      expect(await lls.read('0.0.96.1.1.255', 1, 2)).toMatchObject({type: 'visible-string'})
      const target = '2030-01-02T03:04:05+01:00'
      const {dateTimeFromIso, encodeDateTime} = await import('../../../src/core/dlms/index.js')
      await lls.write('0.0.1.0.0.255', 8, 2, D.octets(encodeDateTime(dateTimeFromIso(target)!)))
      const clock = await lls.readClock()
      expect(Math.abs(clock.date!.getTime() - Date.parse(target))).toBeLessThan(3000)
    })

    it('ACTION on the disconnect control (class 70): refused to the public client, state changed and read back with LLS', async () => {
      const s = await sim({framing})
      const DC = '0.0.96.3.10.255'
      const pub = client(s)
      await pub.open()
      expect(pub.association?.conformanceNames).toContain('action')
      expect(await pub.read(DC, 70, 2)).toEqual(D.bool(true))
      expect(await pub.read(DC, 70, 3)).toEqual(D.enum(1))
      const denied = await failure(pub.action(DC, 70, 1, D.int8(0)))
      expect(denied.dlmsCode).toBe('ACCESS_DENIED')
      expect(denied.message).toMatch(/^cannot invoke 0\.0\.96\.3\.10\.255 method 1 \(class 70\): read-write-denied/)
      expect(s.meters[0]!.controlState).toBe(1)
      expect((await failure(pub.action(DC, 70, 9, D.int8(0)))).details.dataAccessResultName).toBe('object-undefined')
      await pub.close()

      const lls = client(s, LLS)
      await lls.open()
      expect(await lls.action(DC, 70, 1, D.int8(0))).toBeUndefined()
      expect(s.meters[0]!.controlState).toBe(0)
      expect(await lls.read(DC, 70, 2)).toEqual(D.bool(false))
      expect(await lls.read(DC, 70, 3)).toEqual(D.enum(0))
      expect((await failure(lls.action(DC, 70, 2, D.visible('x')))).details.dataAccessResultName).toBe('type-unmatched')
      await lls.action(DC, 70, 2, D.int8(0))
      expect(await lls.read(DC, 70, 2)).toEqual(D.bool(true))
      expect(await lls.read(DC, 70, 3)).toEqual(D.enum(1))
      // another meter of the same simulator is untouched
      expect(s.meters.length).toBe(1)
    })

    it('wrong password, missing authentication, unknown OBIS: clear errors', async () => {
      const s = await sim({framing})
      const bad = client(s, {clientAddress: 17, auth: {mechanism: 'low', password: 'wrongpw0'}})
      const e1 = await failure(bad.open())
      expect(e1.dlmsCode).toBe('ASSOCIATION_REJECTED')
      expect(e1.message).toBe('association rejected: authentication failure')
      expect(e1.kind).toBe('protocol')
      expect(e1.exitCode).toBe(1)
      await bad.close()

      const noauth = client(s, {clientAddress: 17})
      expect((await failure(noauth.open())).message).toBe('association rejected: authentication required')

      const c = client(s)
      await c.open()
      const e2 = await failure(c.read('0.0.96.99.99.255', 1, 2))
      expect(e2.dlmsCode).toBe('DATA_ACCESS')
      expect(e2.message).toBe('cannot read 0.0.96.99.99.255 attribute 2 (class 1): object-undefined (the meter has no such object)')
      // the association survives a data-access error
      expect((await c.readRegister('1.0.32.7.0.255')).unit).toBe('V')
    })

    describe('faults', () => {
      it('drop: the meter closes the connection → CONNECTION_CLOSED, and a new connection works', async () => {
        const s = await sim({framing})
        const c = client(s)
        await c.open()
        s.setFault(0, {type: 'drop', once: true})
        const e = await failure(c.readRegister('1.0.1.8.0.255'))
        expect(e.dlmsCode).toBe('CONNECTION_CLOSED')
        expect(e.message).toMatch(/^connection closed by 127\.0\.0\.1:\d+ while waiting for GET response/)
        expect((await failure(c.readClock())).dlmsCode).toMatch(/CONNECTION_CLOSED|NOT_CONNECTED/)
        await c.close()
        const c2 = client(s)
        await c2.open()
        expect((await c2.readRegister('1.0.1.8.0.255')).unit).toBe('Wh')
      })

      it('delay: answers late but in time, then past the timeout → TIMEOUT', async () => {
        const s = await sim({framing, faults: [{type: 'delay', ms: 300}]})
        const c = client(s, {timeoutMs: 1000})
        await c.open()
        expect((await c.readClock()).iso).not.toBeNull()
        s.setFault(0, {type: 'delay', ms: 1500})
        const t0 = Date.now()
        const e = await failure(c.readClock())
        expect(e.dlmsCode).toBe('TIMEOUT')
        expect(e.kind).toBe('network')
        expect(e.message).toMatch(
          /^timeout: no answer from 127\.0\.0\.1:\d+ within 1000 ms \(waiting for GET response for 0\.0\.1\.0\.0\.255 attribute 2 \(class 8\)\)$/,
        )
        expect(Date.now() - t0).toBeLessThan(1400)
      })

      it('corrupt: a damaged frame → MALFORMED_FRAME', async () => {
        const s = await sim({framing})
        const c = client(s)
        await c.open()
        s.setFault(0, {type: 'corrupt', once: true})
        const e = await failure(c.readRegister('1.0.1.8.0.255'))
        expect(e.dlmsCode).toBe('MALFORMED_FRAME')
        expect(e.message).toMatch(framing === 'hdlc' ? /invalid HDLC frame: FCS mismatch/ : /invalid wrapper frame: wrapper version 0xde/)
        expect(s.getFault(0)).toBeNull()
      })

      it('reject-password: even the right password is refused', async () => {
        const s = await sim({framing, faults: {0: {type: 'reject-password'}}})
        const e = await failure(client(s, LLS).open())
        expect(e.message).toBe('association rejected: authentication failure')
        s.setFault(0, null)
        await client(s, LLS).open()
      })

      it('silent: no answer → TIMEOUT', async () => {
        const s = await sim({framing, faults: [{type: 'silent'}]})
        const c = client(s, {timeoutMs: 400})
        const e = await failure(c.open())
        expect(e.dlmsCode).toBe('TIMEOUT')
        expect(e.message).toMatch(/waiting for AARE/)
      })

      it('truncate: a frame that never completes → TIMEOUT naming the unfinished frame', async () => {
        const s = await sim({framing})
        const c = client(s, {timeoutMs: 400})
        await c.open()
        s.setFault(0, {type: 'truncate'})
        const e = await failure(c.readClock())
        expect(e.dlmsCode).toBe('TIMEOUT')
        expect(e.message).toMatch(/no complete answer .* byte\(s\) of an unfinished frame received/)
      })
    })
  })
}

describe('HDLC negotiation and segmentation both ways', () => {
  it('SNRM parameters are negotiated down to what both sides support', async () => {
    const s = await sim({framing: 'hdlc', hdlcMaxInfo: 512, profileRows: 500})
    const c = client(s, {hdlc: {maxInfoTx: 256, maxInfoRx: 256, windowTx: 1, windowRx: 1}})
    const frames: number[] = []
    const c2 = client(s, {hdlc: {maxInfoTx: 256, maxInfoRx: 256}, onFrame: e => e.direction === 'received' && frames.push(e.bytes)})
    await c2.open()
    expect((await c2.readProfile('1.0.99.1.0.255')).rows.length).toBe(500)
    expect(Math.max(...frames)).toBeLessThanOrEqual(256 + 12)
    await c.open()
  })

  it('a long request is segmented by the client and reassembled by the meter (max info 32)', async () => {
    const s = await sim({framing: 'hdlc', hdlcMaxInfo: 32})
    const sent: DlmsFrameEvent[] = []
    const c = client(s, {onFrame: e => e.direction === 'sent' && sent.push(e)})
    await c.open()
    const items = Array.from({length: 12}, () => ({descriptor: {classId: 3, obis: Uint8Array.of(1, 0, 32, 7, 0, 255), attribute: 3}}))
    const res = await c.getMany(items)
    expect(res).toHaveLength(12)
    expect(res.every(r => r.ok)).toBe(true)
    const segments = sent.filter(e => e.kind === 'request' && !e.apduComplete)
    expect(segments.length).toBeGreaterThan(2)
  })
})

describe('connection errors', () => {
  it('connection refused → one clear line', async () => {
    const srv = net.createServer()
    await new Promise<void>(r => srv.listen(0, '127.0.0.1', r))
    const port = (srv.address() as net.AddressInfo).port
    await new Promise<void>(r => srv.close(() => r()))
    const c = new DlmsClient({host: '127.0.0.1', port, timeoutMs: 1000})
    const e = await failure(c.open())
    expect(e.dlmsCode).toBe('CONNECTION_FAILED')
    expect(e.message).toBe(`cannot connect to 127.0.0.1:${port}: connection refused`)
    expect(e.hint).toMatch(/port/)
    await c.close()
  })

  it('a peer that accepts TCP but never answers SNRM → TIMEOUT', async () => {
    const srv = net.createServer(s => s.on('error', () => undefined).resume())
    await new Promise<void>(r => srv.listen(0, '127.0.0.1', r))
    cleanups.push(() => new Promise(r => srv.close(() => r())))
    const port = (srv.address() as net.AddressInfo).port
    const c = new DlmsClient({host: '127.0.0.1', port, framing: 'hdlc', timeoutMs: 300})
    const e = await failure(c.connect())
    expect(e.message).toBe(`timeout: no answer from 127.0.0.1:${port} within 300 ms (waiting for HDLC UA (answer to SNRM))`)
    await c.close()
  })

  it('using a client before open() → NOT_CONNECTED', async () => {
    const c = new DlmsClient({host: '127.0.0.1', port: 1})
    const e = await failure(c.readClock())
    expect(e.dlmsCode).toBe('NOT_CONNECTED')
  })
})

describe('simulator', () => {
  it('N meters on consecutive ports, each its own serial and energy', async () => {
    let s: Simulator | undefined
    for (let attempt = 0; attempt < 5 && !s; attempt++) {
      const probe = net.createServer()
      await new Promise<void>(r => probe.listen(0, '127.0.0.1', r))
      const base = (probe.address() as net.AddressInfo).port
      await new Promise<void>(r => probe.close(() => r()))
      try {
        s = await sim({meters: 3, port: base})
      } catch {
        // a neighbour port was taken: try another base
      }
    }
    expect(s!.ports).toEqual([s!.ports[0], s!.ports[0]! + 1, s!.ports[0]! + 2])
    const serials = []
    for (let i = 0; i < 3; i++) {
      const c = client(s!, {}, i)
      await c.open()
      serials.push(await c.read('0.0.96.1.0.255', 1, 2))
      await c.close()
    }
    expect(serials).toEqual([D.visible('12345678'), D.visible('12345679'), D.visible('12345680')])
    expect(s!.stats()[1]!.connections).toBe(1)
  })

  it('energy increases with time and voltage stays plausible', async () => {
    let now = Date.parse('2025-03-01T10:00:00Z') // fixed clock (injected into the simulator)
    const s = await sim({now: () => now})
    const c = client(s)
    await c.open()
    const e1 = (await c.readRegister('1.0.1.8.0.255')).value!
    now += 3_600_000
    const e2 = (await c.readRegister('1.0.1.8.0.255')).value!
    expect(e2 - e1).toBeGreaterThan(600) // ≥ 600 W for one hour
    expect(e2 - e1).toBeLessThan(1900)
    for (let i = 0; i < 20; i++) {
      const v = (await c.readRegister('1.0.32.7.0.255')).value!
      expect(v).toBeGreaterThan(224)
      expect(v).toBeLessThan(236)
    }
  })

  it('refuses a non-loopback host', async () => {
    await expect(startSimulator({host: '0.0.0.0'})).rejects.toThrow(/only listens on loopback/)
  })
})

describe('exception-response from the meter', () => {
  it('an exception-response to a GET → EXCEPTION_RESPONSE, naming the state and service error', async () => {
    const {encodeExceptionResponse} = await import('../../../src/core/dlms/codec/apdu/errors.js')
    const {encodeWrapperFrame, WrapperStreamDecoder} = await import('../../../src/core/dlms/index.js')
    const s = await sim({framing: 'wrapper'})
    // A loopback proxy: the association goes to the simulator; the first GET is answered with an
    // exception-response (state-error 2, service-error 3) as a meter in trouble would.
    let requests = 0
    const proxy = net.createServer(down => {
      const up = net.connect(s.ports[0]!, '127.0.0.1')
      const frames = new WrapperStreamDecoder()
      down.on('data', d => {
        for (const ev of frames.push(d)) {
          if (ev.type !== 'frame') continue
          const f = ev.frame
          if (++requests === 2) down.write(encodeWrapperFrame({src: f.dst, dst: f.src, apdu: encodeExceptionResponse({stateError: 2, serviceError: 3})}))
          else up.write(encodeWrapperFrame(f))
        }
      })
      up.on('data', d => down.write(d))
      down.on('close', () => up.destroy())
      up.on('error', () => down.destroy())
    })
    await new Promise<void>(r => proxy.listen(0, '127.0.0.1', () => r()))
    cleanups.push(() => new Promise<void>(r => proxy.close(() => r())))
    const c = new DlmsClient({host: '127.0.0.1', port: (proxy.address() as net.AddressInfo).port, framing: 'wrapper', timeoutMs: 1500})
    cleanups.push(() => c.close())
    await c.open()
    const e = await failure(c.read('1.0.1.8.0.255', 3, 2))
    expect(e.dlmsCode).toBe('EXCEPTION_RESPONSE')
    expect(e.message).toMatch(/^meter answered with an exception: /)
    expect(e.exitCode).toBe(1)
  })
})

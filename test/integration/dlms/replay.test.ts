/**
 * The client against every recorded Gurux session, over real loopback TCP: every request byte-exact
 * (SNRM, AARQ, GET normal/next, HDLC RR for segments, RLRQ, DISC with their N(S)/N(R)), every answer
 * decoded to the values Gurux decoded.
 */
import {afterEach, describe, expect, it} from 'vitest'
import {DlmsClient, isDlmsError, type DlmsClientOptions, type DlmsFrameEvent} from '../../../src/core/dlms/index.js'
import {sessionVectors, type SessionVector} from '../../unit/dlms/vectors.js'
import {startReplay, type ReplayServer} from './replay.js'

const sessions = sessionVectors()
let replay: ReplayServer | undefined

afterEach(async () => {
  await replay?.close()
  replay = undefined
})

function clientFor(s: SessionVector, port: number, frames?: DlmsFrameEvent[]): DlmsClient {
  const opts: DlmsClientOptions = {host: '127.0.0.1', port, framing: s.framing, clientAddress: s.client_address, timeoutMs: 3000}
  if (s.server_logical !== undefined) Object.assign(opts, {serverAddress: s.server_logical, physicalAddress: s.server_physical, addressSize: 4})
  else opts.serverAddress = s.server_address
  if (s.client_address === 17) opts.auth = {mechanism: 'low', password: s.password_sent ?? s.decoded.password}
  if (frames) opts.onFrame = e => frames.push(e)
  return new DlmsClient(opts)
}

function expectAare(c: DlmsClient, s: SessionVector): void {
  expect(c.association?.maxPduSize).toBe(s.decoded.aare.negotiated_max_pdu)
  expect(c.association?.conformance.toString(16).padStart(6, '0')).toBe(s.decoded.aare.negotiated_conformance_hex)
  expect(c.association?.conformanceNames).toEqual(s.decoded.aare.negotiated_conformance)
}

async function finish(c: DlmsClient, s: SessionVector): Promise<void> {
  await c.close()
  // let the last recorded answer (UA to DISC) arrive before judging
  await new Promise(r => setTimeout(r, 20))
  expect(replay!.mismatches).toEqual([])
  expect(replay!.matched()).toBe(s.steps.filter(x => x.dir === 'c2s').length)
}

describe('client replays every Gurux session byte-exact', () => {
  it('has all 15 sessions', () => expect(sessions.length).toBe(15))

  for (const s of sessions) {
    it(`${s.name}: ${s.description}`, async () => {
      replay = await startReplay(s)
      const frames: DlmsFrameEvent[] = []
      const c = clientFor(s, replay.port, frames)
      const kind = s.name.replace(/^(wrapper|hdlc)-/, '')

      if (kind === 'assoc-lls-bad-password') {
        await c.connect()
        const err = await c.associate().then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(isDlmsError(err)).toBe(true)
        if (!isDlmsError(err)) return
        expect(err.dlmsCode).toBe('ASSOCIATION_REJECTED')
        expect(err.message).toBe('association rejected: authentication failure')
        expect(err.details.result).toBe(s.decoded.aare.result)
        expect(err.details.resultName).toBe(s.decoded.aare.result_name)
        expect(err.details.diagnostic).toBe(s.decoded.aare.diagnostic)
        expect(err.details.diagnosticName).toBe(s.decoded.aare.diagnostic_name)
        await finish(c, s)
        return
      }

      await c.open()
      expectAare(c, s)

      if (kind === 'get-clock' || kind === 'assoc-lls') {
        const clock = await c.readClock()
        const want = s.decoded.clock
        expect(clock.obis).toBe(want.obis)
        expect(clock.iso).toBe(want.iso)
        expect(clock.deviation).toBe(want.deviation_minutes_on_wire)
        expect(clock.clockStatus).toBe(want.clock_status)
        expect(clock.raw.type === 'octet-string' && Buffer.from(clock.raw.value).toString('hex')).toBe(want.raw_octets)
        expect(clock.date?.toISOString()).toBe(new Date(want.iso).toISOString())
      }

      if (kind === 'get-registers' || kind === '4byte-address') {
        const wanted = s.decoded.registers ?? [s.decoded.register]
        for (const w of wanted) {
          const r = await c.readRegister(w.obis)
          expect(r.obis).toBe(w.obis)
          expect(r.classId).toBe(w.class_id)
          expect(r.rawValue).toBe(w.raw_value)
          expect(r.scaler).toBe(w.scaler)
          expect(r.unitCode).toBe(w.unit_code)
          expect(r.unit).toBe(w.unit)
          expect(r.value).toBe(w.scaled_value)
          const typeName: Record<string, string> = {uint32: 'uint32', uint16: 'uint16', int16: 'int16'}
          expect(r.raw.type).toBe(typeName[w.value_type])
        }
      }

      if (kind === 'get-undefined-object') {
        const req = s.decoded.request
        const err = await c.read(req.obis, req.class_id, req.attribute).then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(isDlmsError(err) && err.dlmsCode).toBe('DATA_ACCESS')
        if (!isDlmsError(err)) return
        expect(err.details.dataAccessResult).toBe(s.decoded.response.code)
        expect(err.details.dataAccessResultName).toBe(s.decoded.response.name)
        expect(err.message).toBe('cannot read 0.0.96.99.99.255 attribute 2 (class 1): object-undefined (the meter has no such object)')
      }

      if (kind === 'get-profile-buffer') {
        const p = await c.readProfile('1.0.99.1.0.255')
        expect(p.captureObjects).toEqual(
          s.decoded.capture_objects.map((o: {class_id: number; obis: string; attribute: number; data_index: number}) => ({
            classId: o.class_id,
            obis: o.obis,
            attribute: o.attribute,
            dataIndex: o.data_index,
          })),
        )
        expect(p.rows.length).toBe(s.decoded.row_count)
        expect(p.rows.slice(0, 3)).toEqual(s.decoded.first_rows)
        expect(p.rows.at(-1)).toEqual(s.decoded.last_row)
        // row_rule: time = 2024-01-01T00:00:00+01:00 + 15 min * i, energy = 12000000 + 25 i
        p.rows.forEach((row, i) => {
          const t = new Date(Date.parse('2024-01-01T00:00:00+01:00') + i * 15 * 60_000) // recorded vector's row rule
          expect(new Date(row[0] as string).getTime()).toBe(t.getTime())
          expect(row[1]).toBe(12000000 + 25 * i)
        })
        if (s.framing === 'wrapper') expect(frames.filter(f => f.direction === 'sent' && f.kind === 'request').length).toBe(1 + s.decoded.get_data_blocks + 1) // capture_objects, first block + (blocks-1) next, RLRQ
      }

      await finish(c, s)

      // counter hook: every frame seen, sizes add up to what was on the wire
      const sentBytes = s.steps.filter(x => x.dir === 'c2s').reduce((n, x) => n + x.hex.length / 2, 0)
      const recvBytes = s.steps.filter(x => x.dir === 's2c').reduce((n, x) => n + x.hex.length / 2, 0)
      expect(frames.filter(f => f.direction === 'sent').reduce((n, f) => n + f.bytes, 0)).toBe(sentBytes)
      expect(frames.filter(f => f.direction === 'received').reduce((n, f) => n + f.bytes, 0)).toBe(recvBytes)
    })
  }
})

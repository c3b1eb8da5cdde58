/**
 * The NetFlow listener with a real exporter: softflowd reads the recorded transfer
 * (test/vectors/netflow/transfer.pcap) and exports it as v5, v9 and IPFIX to the listener on
 * 127.0.0.1; the per-LAN-host bytes up/down must equal the transfer (from the pcap). Then a burst
 * of garbage from the same socket is counted as malformed and the listener still aggregates the next
 * export. Loopback only.
 */
import {execFileSync, spawnSync} from 'node:child_process'
import dgram from 'node:dgram'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {type HostTotals, NetflowListener} from '../../../src/core/netflow/index.js'
import {loadVector, VECTOR_DIR} from '../../unit/netflow/vectors.js'

const HAVE_SOFTFLOWD = spawnSync('sh', ['-c', 'command -v softflowd']).status === 0
const PCAP = join(VECTOR_DIR, 'transfer.pcap')

async function until(cond: () => boolean, ms = 20_000) {
  const t0 = Date.now()
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting for the export')
    await new Promise(r => setTimeout(r, 50))
  }
}

function totals(l: NetflowListener): Map<string, HostTotals> {
  const sum = new Map<string, HostTotals>()
  for (const b of l.drain())
    for (const [ip, h] of b.hosts) {
      const s = sum.get(ip) ?? {bytesUp: 0, bytesDown: 0, packetsUp: 0, packetsDown: 0, flows: 0, ports: new Map()}
      s.bytesUp += h.bytesUp
      s.bytesDown += h.bytesDown
      s.packetsUp += h.packetsUp
      s.packetsDown += h.packetsDown
      s.flows += h.flows
      sum.set(ip, s)
    }
  return sum
}

/** Per-host expectation from the pcap'd transfer: local hosts 127.0.0.21 and ::1. */
function expected(v5: boolean): Map<string, {up: number; down: number}> {
  const exp = new Map<string, {up: number; down: number}>()
  const local = (ip: string) => ip === '127.0.0.21' || ip === '::1'
  for (const f of loadVector('softflowd-v9.json').expected) {
    if (v5 && f.src.includes(':')) continue
    for (const [ip, up] of [
      [f.src, true],
      [f.dst, false],
    ] as const) {
      if (!local(ip)) continue
      const e = exp.get(ip) ?? {up: 0, down: 0}
      if (up) e.up += f.bytes
      else e.down += f.bytes
      exp.set(ip, e)
    }
  }
  return exp
}

let listener: NetflowListener | undefined
afterEach(async () => {
  await listener?.stop()
  listener = undefined
})

describe.skipIf(!HAVE_SOFTFLOWD)('netflow listener ← softflowd on loopback', () => {
  for (const version of [5, 9, 10]) {
    it(`v${version}: per-host bytes up/down equal the recorded transfer; garbage counted, never fatal`, async () => {
      listener = new NetflowListener({address: '127.0.0.1', port: 0, localSubnets: ['127.0.0.21/32', '::1/128'], intervalMs: 60_000})
      const {port} = await listener.start()
      const l = listener
      execFileSync('softflowd', ['-r', PCAP, '-n', `127.0.0.1:${port}`, '-v', String(version), '-d'], {timeout: 30_000, stdio: 'ignore'})
      await until(() => l.counters.decoded >= 1 && l.counters.flows >= (version === 5 ? 3 : 5))
      const got = totals(l)
      const want = expected(version === 5)
      expect(new Set(got.keys())).toEqual(new Set(want.keys()))
      for (const [ip, e] of want) {
        expect(got.get(ip)?.bytesUp, `${ip} up`).toBe(e.up)
        expect(got.get(ip)?.bytesDown, `${ip} down`).toBe(e.down)
      }
      expect(l.counters).toMatchObject({malformed: 0, dropped: 0, unattributedFlows: 0})

      // hostile input on the same port, then the exporter again
      const s = dgram.createSocket('udp4')
      for (let i = 0; i < 200; i++) {
        const junk = Buffer.alloc(20 + (i % 90), i)
        junk.writeUInt16BE([5, 9, 10, 7][i % 4], 0)
        await new Promise<void>(r => s.send(junk, port, '127.0.0.1', () => r()))
      }
      s.close()
      await until(() => l.counters.received >= 201)
      expect(l.counters.malformed).toBeGreaterThanOrEqual(150)
      const before = l.counters.decoded
      execFileSync('softflowd', ['-r', PCAP, '-n', `127.0.0.1:${port}`, '-v', String(version), '-d'], {timeout: 30_000, stdio: 'ignore'})
      await until(() => l.counters.decoded > before)
      const again = totals(l)
      for (const [ip, e] of want) expect(again.get(ip)?.bytesUp).toBe(e.up)
    })
  }
})

/**
 * The TCP prober against real listeners on 127.0.0.1: open vs closed is exact with both engines
 * (libuv's TCP handle and net.Socket), for single probes and for a long port list.
 */
import net from 'node:net'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {classifyError, TcpProber} from '../../../src/core/scan/tcp.js'

let servers: net.Server[] = []
let open: number[] = []
let closedPort = 0

beforeAll(async () => {
  for (let i = 0; i < 3; i++) {
    const s = net.createServer(c => c.destroy())
    await new Promise<void>(r => s.listen(0, '127.0.0.1', r))
    servers.push(s)
    open.push((s.address() as net.AddressInfo).port)
  }
  const tmp = net.createServer()
  await new Promise<void>(r => tmp.listen(0, '127.0.0.1', r))
  closedPort = (tmp.address() as net.AddressInfo).port
  await new Promise(r => tmp.close(r))
  open = open.sort((a, b) => a - b)
})

afterAll(async () => {
  for (const s of servers) await new Promise(r => s.close(r))
  servers = []
})

describe.each(['auto', 'net'] as const)('TcpProber (%s engine)', engine => {
  it('open and closed single probes', async () => {
    const p = new TcpProber({engine})
    if (engine === 'net') expect(p.engine).toBe('net')
    const a = await p.probeAsync('127.0.0.1', open[0]!, 2000)
    expect(a.outcome).toBe('open')
    expect(a.rttMs).toBeGreaterThanOrEqual(0)
    const b = await p.probeAsync('127.0.0.1', closedPort, 2000)
    expect(b).toMatchObject({outcome: 'closed', code: 'ECONNREFUSED'})
  })

  it('a port list with few sockets finds exactly the listeners in it', async () => {
    const p = new TcpProber({engine, maxSockets: 16})
    const lo = open[0]! - 200
    const ports = Array.from({length: open.at(-1)! - lo + 201}, (_, i) => lo + i).filter(x => x > 0 && x < 65536)
    const found: number[] = []
    let calls = 0
    await new Promise<void>(resolve =>
      p.probePorts('127.0.0.1', ports, 2000, (port, r) => {
        calls++
        if (r.outcome === 'open') found.push(port)
        if (calls === ports.length) resolve()
      }),
    )
    expect(calls).toBe(ports.length)
    expect(p.inFlight).toBe(0)
    // Other processes on this machine may listen in that range too (and come and go), so only
    // our own listeners and our closed port are asserted here; exactness is tested in a private
    // namespace (test/integration/scan/loopback.test.ts).
    for (const o of open) expect(found).toContain(o)
    if (closedPort >= lo && closedPort <= lo + ports.length) expect(found).not.toContain(closedPort)
  })

  it('IPv6 loopback', async () => {
    const s = net.createServer()
    const ok = await new Promise<boolean>(r => {
      s.once('error', () => r(false))
      s.listen(0, '::1', () => r(true))
    })
    if (!ok) return // no IPv6 on this machine
    const port = (s.address() as net.AddressInfo).port
    const p = new TcpProber({engine})
    expect((await p.probeAsync('::1', port, 2000)).outcome).toBe('open')
    await new Promise(r => s.close(r))
    expect((await p.probeAsync('::1', port, 2000)).outcome).toBe('closed')
  })

  it('one socket probing closed, closed, open, closed in turn (socket reuse after refusals) gets each right', async () => {
    const p = new TcpProber({engine, maxSockets: 1})
    const seq = [closedPort, closedPort, open[1]!, closedPort, open[2]!]
    const results: [number, string][] = []
    await new Promise<void>(resolve =>
      p.probePorts('127.0.0.1', seq, 2000, (port, r) => {
        results.push([port, r.outcome])
        if (results.length === seq.length) resolve()
      }),
    )
    expect(results).toEqual(seq.map(port => [port, open.includes(port) ? 'open' : 'closed']))
  })

  it('close() drops queued work without calling back', async () => {
    const p = new TcpProber({engine, maxSockets: 1})
    let calls = 0
    p.probePorts('127.0.0.1', [closedPort, closedPort, closedPort], 2000, () => calls++)
    p.close()
    await new Promise(r => setTimeout(r, 50))
    expect(calls).toBe(0)
  })
})

describe('classifyError', () => {
  it('refused/reset → closed, no route → unreachable, timeout → timeout', () => {
    expect(classifyError('ECONNREFUSED')).toBe('closed')
    expect(classifyError('ECONNRESET')).toBe('closed')
    expect(classifyError('EHOSTUNREACH')).toBe('unreachable')
    expect(classifyError('ENETUNREACH')).toBe('unreachable')
    expect(classifyError('ETIMEDOUT')).toBe('timeout')
    expect(classifyError('EMFILE')).toBe('error')
  })
})

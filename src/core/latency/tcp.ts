/**
 * TCP connect latency: no privileges needed, and it passes firewalls that drop ICMP.
 *
 * One probe = one connect() to ADDRESS:PORT, timed from the call to the first answer with a
 * monotonic clock. An accepted connection (SYN/SYN-ACK) and a refused one (SYN/RST) both prove
 * the host is up one round trip away, so both are replies with an RTT; a refusal is reported as
 * status `refused`. No answer within --timeout is a loss; EHOSTUNREACH/ENETUNREACH are losses with
 * status `unreachable`. The socket is reset at once (no FIN, no TIME_WAIT pile-up at 10 ms intervals).
 *
 * Probes go out every --interval on a fixed schedule (start + k × interval, so the timer's drift
 * does not accumulate), independent of earlier probes still waiting, as ping does.
 */
import {connect, type Socket} from 'node:net'
import type {Probe, ProbeStatus, Session, SessionEnd, SessionOptions} from './probe.js'

export function startTcpSession(opts: SessionOptions & {port: number}): Session {
  const {target, count, intervalMs, timeoutMs, onProbe, port} = opts
  const inflight = new Set<{socket: Socket; timer: NodeJS.Timeout}>()
  let stopped = false
  let next = 1
  let schedule: NodeJS.Timeout | undefined
  let resolveDone!: (e: SessionEnd) => void
  const done = new Promise<SessionEnd>(r => (resolveDone = r))
  const t0 = Date.now()

  const maybeDone = () => {
    const allSent = stopped || (count !== null && next > count)
    if (allSent && inflight.size === 0) resolveDone({duplicates: 0, error: null})
  }

  const probe = (seq: number) => {
    const ts = Date.now()
    let start = process.hrtime.bigint()
    const socket = connect({host: target.ip, port, family: target.family, noDelay: true})
    // 'connectionAttempt' (Node ≥ 20.12) fires right before the connect() syscall: timing from
    // there leaves out socket set-up in JS (~10 ms on a cold first probe, measured).
    socket.once('connectionAttempt', () => (start = process.hrtime.bigint()))
    const entry = {socket, timer: undefined as unknown as NodeJS.Timeout}
    inflight.add(entry)
    let over = false
    const finish = (rtt: number | null, status: ProbeStatus, detail?: string) => {
      if (over) return
      over = true
      clearTimeout(entry.timer)
      inflight.delete(entry)
      // resetAndDestroy() on a socket still connecting waits for the connect (Node 20), which
      // never comes for a silent host and keeps the process alive: plain destroy() then.
      if (!socket.destroyed) {
        if (socket.connecting) socket.destroy()
        else socket.resetAndDestroy()
      }
      const p: Probe = {seq, ts, rtt_ms: rtt, status}
      if (detail) p.detail = detail
      onProbe(p)
      maybeDone()
    }
    const elapsed = () => Math.round(Number(process.hrtime.bigint() - start) / 1000) / 1000
    entry.timer = setTimeout(() => finish(null, 'timeout'), timeoutMs)
    socket.once('connect', () => {
      const rtt = elapsed()
      finish(rtt > timeoutMs ? null : rtt, rtt > timeoutMs ? 'timeout' : 'reply')
    })
    socket.once('error', (e: NodeJS.ErrnoException) => {
      const rtt = elapsed()
      if (e.code === 'ECONNREFUSED') finish(rtt > timeoutMs ? null : rtt, rtt > timeoutMs ? 'timeout' : 'refused')
      else if (e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH' || e.code === 'EHOSTDOWN') finish(null, 'unreachable', e.code)
      else finish(null, 'error', e.code ?? e.message)
    })
  }

  const tick = () => {
    if (stopped) return
    if (count !== null && next > count) return maybeDone()
    probe(next++)
    if (count !== null && next > count) return
    const due = t0 + (next - 1) * intervalMs
    schedule = setTimeout(tick, Math.max(0, due - Date.now()))
  }
  tick()

  return {
    done,
    stop() {
      if (stopped) return
      stopped = true
      if (schedule) clearTimeout(schedule)
      // In-flight probes are dropped, not counted as lost (see probe.ts).
      for (const e of inflight) {
        clearTimeout(e.timer)
        e.socket.destroy()
      }
      inflight.clear()
      maybeDone()
    },
  }
}

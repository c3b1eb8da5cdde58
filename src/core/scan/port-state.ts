/**
 * One host's port scan with retries, and how each port's outcome becomes a state (issue 13),
 * shared by the main thread (engine.ts) and the worker threads (port-worker.ts) so both count
 * the same way. Kept tiny: the worker loads this and tcp.js only.
 *
 * States, as nmap names them:
 * - open: the connection was accepted;
 * - closed: refused (RST: ECONNREFUSED/ECONNRESET);
 * - filtered: no answer after every try, an ICMP unreachable (EHOSTUNREACH, ENETUNREACH…), or
 *   a connect the local system refused (e.g. EPERM from an outgoing firewall rule).
 * Only a timeout is tried again (`retries` more times); the other outcomes are final.
 *
 * Progress: a port counts as done when its first try concludes (answered or timed out); a retry
 * adds nothing. So a host that drops everything moves the count after one port timeout, not only
 * once its last retry has timed out.
 */
import type {TcpProber} from './tcp.js'

export interface PortCounts {
  /** Open ports, in the order they answered. */
  open: number[]
  closed: number
  filtered: number
}

export interface PortScanOptions {
  timeoutMs: number
  retries: number
  /** Called once per port, when its first try concludes. */
  onFirstTry?: () => void
  /** True when the scan should stop before another round of retries. */
  stopped?: () => boolean
  /** Resolves when the scan is interrupted (the current round is abandoned). */
  interrupted?: Promise<void>
}

export async function probePortStates(prober: TcpProber, ip: string, ports: readonly number[], o: PortScanOptions): Promise<PortCounts> {
  const counts: PortCounts = {open: [], closed: 0, filtered: 0}
  let todo = ports
  for (let attempt = 0; attempt <= o.retries && todo.length && !o.stopped?.(); attempt++) {
    const first = attempt === 0
    const last = attempt === o.retries
    const timedOut: number[] = []
    await new Promise<void>(resolve => {
      void o.interrupted?.then(resolve)
      let left = todo.length
      prober.probePorts(ip, todo, o.timeoutMs, (port, r) => {
        if (r.outcome === 'open') counts.open.push(port)
        else if (r.outcome === 'closed') counts.closed++
        else if (r.outcome === 'timeout' && !last) timedOut.push(port)
        else counts.filtered++
        if (first) o.onFirstTry?.()
        if (--left === 0) resolve()
      })
    })
    todo = timedOut
  }
  return counts
}

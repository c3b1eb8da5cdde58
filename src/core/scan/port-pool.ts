/**
 * Large port scans on worker threads (issue 5 benchmark: `--ports all` against 127.0.0.1 vs
 * `nmap -sT -p- -T4`). A connect scan is bound by the kernel work of socket/connect/close
 * (~20 µs per port on loopback) plus libuv's epoll bookkeeping; one thread does ~40k ports/s.
 * Splitting the ports over the machine's cores (interleaved, so each thread gets the same mix)
 * runs that kernel work in parallel. Small scans stay on the main thread: a worker costs ~30 ms
 * to start.
 */
import {existsSync} from 'node:fs'
import {availableParallelism} from 'node:os'
import {fileURLToPath} from 'node:url'
import {Worker} from 'node:worker_threads'
import type {PortCounts} from './port-state.js'
import {socketBudget} from './tcp.js'

/** Below this many ports per host, threads cost more than they save. */
export const PARALLEL_MIN_PORTS = 8192

const WORKER_URL = new URL('./port-worker.js', import.meta.url)

/** Worker threads to use for a scan of `ports` ports (0 = stay on the main thread). */
export function workerCount(ports: number): number {
  if (ports < PARALLEL_MIN_PORTS || process.env.NETMON_SCAN_THREADS === '0') return 0
  // Running from TypeScript sources (tests): there is no compiled worker to start.
  if (!existsSync(fileURLToPath(WORKER_URL))) return 0
  const wanted = Number(process.env.NETMON_SCAN_THREADS) || Math.min(4, availableParallelism())
  return wanted >= 2 ? wanted : 0
}

export interface PoolOptions {
  timeoutMs: number
  retries: number
  maxSockets: number
  threads: number
  signal?: AbortSignal
  onProgress?: (done: number) => void
}

/** The states of `ip`'s `ports` (open ones sorted), probed by `threads` workers. */
export function scanPortsOnThreads(ip: string, ports: readonly number[], o: PoolOptions): Promise<PortCounts> {
  const shares: number[][] = Array.from({length: o.threads}, () => [])
  ports.forEach((p, i) => shares[i % o.threads]!.push(p))
  const progress = new Array<number>(o.threads).fill(0)
  const workers: Worker[] = []
  const stop = () => {
    for (const w of workers) void w.terminate()
  }
  o.signal?.addEventListener('abort', stop, {once: true})
  const runs = shares.map(
    (share, i) =>
      new Promise<PortCounts>((resolve, reject) => {
        const w = new Worker(WORKER_URL, {
          workerData: {
            ip,
            ports: share,
            timeoutMs: o.timeoutMs,
            retries: o.retries,
            maxSockets: Math.max(16, Math.floor(Math.min(o.maxSockets, socketBudget()) / o.threads)),
          },
        })
        workers.push(w)
        w.on('message', (m: {type: string; done: number} & Partial<PortCounts>) => {
          progress[i] = m.done
          o.onProgress?.(progress.reduce((a, b) => a + b, 0))
          if (m.type === 'done') resolve({open: m.open ?? [], closed: m.closed ?? 0, filtered: m.filtered ?? 0})
        })
        w.on('error', reject)
        w.on('exit', code =>
          o.signal?.aborted ? resolve({open: [], closed: 0, filtered: 0}) : code !== 0 ? reject(new Error(`port scan thread exited with ${code}`)) : undefined,
        )
      }),
  )
  return Promise.all(runs)
    .then(parts => ({
      open: parts.flatMap(p => p.open).sort((a, b) => a - b),
      closed: parts.reduce((n, p) => n + p.closed, 0),
      filtered: parts.reduce((n, p) => n + p.filtered, 0),
    }))
    .finally(() => o.signal?.removeEventListener('abort', stop))
}

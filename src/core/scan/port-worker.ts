/**
 * Worker thread body for large port scans (port-pool.ts): probes its share of the ports with its
 * own TcpProber and reports progress and the port states back, counted as on the main thread
 * (port-state.ts). Kept tiny: it loads tcp.js and port-state.js only.
 */
import {parentPort, workerData} from 'node:worker_threads'
import {probePortStates} from './port-state.js'
import {TcpProber} from './tcp.js'

interface Job {
  ip: string
  ports: number[]
  timeoutMs: number
  retries: number
  maxSockets: number
}

const job = workerData as Job
const prober = new TcpProber({maxSockets: job.maxSockets})
let done = 0
const ticker = setInterval(() => parentPort!.postMessage({type: 'progress', done}), 100)

const counts = await probePortStates(prober, job.ip, job.ports, {timeoutMs: job.timeoutMs, retries: job.retries, onFirstTry: () => done++})
clearInterval(ticker)
parentPort!.postMessage({type: 'done', ...counts, done, engine: prober.engine})

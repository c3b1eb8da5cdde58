/**
 * Worker thread body for large port scans (port-pool.ts): probes its share of the ports with its
 * own TcpProber and reports progress and the open ports back. Kept tiny: it loads tcp.js only.
 */
import {parentPort, workerData} from 'node:worker_threads'
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
const open: number[] = []
let done = 0
const ticker = setInterval(() => parentPort!.postMessage({type: 'progress', done}), 100)

let todo = job.ports
for (let attempt = 0; attempt <= job.retries && todo.length; attempt++) {
  const last = attempt === job.retries
  const timedOut: number[] = []
  await new Promise<void>(resolve => {
    let left = todo.length
    prober.probePorts(job.ip, todo, job.timeoutMs, (port, r) => {
      if (r.outcome === 'open') open.push(port)
      else if (r.outcome === 'timeout' && !last) timedOut.push(port)
      if (r.outcome !== 'timeout' || last) done++
      if (--left === 0) resolve()
    })
  })
  todo = timedOut
}
clearInterval(ticker)
parentPort!.postMessage({type: 'done', open, done, engine: prober.engine})

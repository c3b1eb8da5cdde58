/**
 * Binding and shutdown of `netmon serve`. The options were validated before this is called
 * (options.ts: a non-loopback host without a token never gets here). Port 0 binds any free port;
 * the bound URL is reported so scripts and tests can find it.
 *
 * Graceful stop (SIGTERM/SIGINT, issue 10): stop accepting, let requests in flight finish (idle
 * keep-alive sockets are closed at once), abort long handlers (latency measurements, scans) via
 * their AbortSignal, and cut whatever is still open after the grace period.
 */
import type {Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {createAdaptorServer} from '@hono/node-server'
import {NetmonError} from '../errors.js'
import type {Logger} from '../log.js'
import type {Store} from '../store/index.js'
import {createServeApp, type RequestStats} from './app.js'
import type {ServeOptions} from './options.js'

export interface RunningServer {
  url: string
  host: string
  port: number
  stats: RequestStats
  /** Graceful stop; resolves when the socket is closed and background work has ended. */
  close(graceMs?: number): Promise<void>
}

export async function startServer(opts: ServeOptions & {store: Store; log: Logger; accessLog?: boolean; version?: string}): Promise<RunningServer> {
  const s = createServeApp({store: opts.store, token: opts.token, log: opts.log, accessLog: opts.accessLog, version: opts.version})
  const server = createAdaptorServer({fetch: s.app.fetch}) as Server
  // Slow-loris and stuck clients: bound header/request time; keep-alive short so shutdown is quick.
  server.headersTimeout = 20_000
  server.requestTimeout = 0 // latency measurements may legitimately take minutes
  server.keepAliveTimeout = 5_000

  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.off('listening', onListening)
      const where = `${opts.host}:${opts.port}`
      if (e.code === 'EADDRINUSE')
        reject(new NetmonError('network', `cannot listen on ${where}: the port is in use`, {hint: 'choose another --port, or --port 0 for any free port'}))
      else if (e.code === 'EACCES')
        reject(new NetmonError('network', `cannot listen on ${where}: permission denied`, {hint: 'ports below 1024 need root; choose --port 8080'}))
      else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN')
        reject(new NetmonError('network', `cannot listen on ${where}: no such local address`, {hint: 'give an address of this machine, or 127.0.0.1'}))
      else reject(new NetmonError('network', `cannot listen on ${where}: ${e.message}`))
    }
    const onListening = () => {
      server.off('error', onError)
      resolve()
    }
    server.once('error', onError)
    server.once('listening', onListening)
    server.listen(opts.port, opts.host)
  })
  server.on('error', e => opts.log.error('server error', {error: String(e)}))

  const addr = server.address() as AddressInfo
  const hostForUrl = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address
  let closing: Promise<void> | null = null
  return {
    url: `http://${hostForUrl}:${addr.port}`,
    host: addr.address,
    port: addr.port,
    stats: s.stats,
    close(graceMs = 10_000) {
      closing ??= (async () => {
        const closed = new Promise<void>(resolve => server.close(() => resolve()))
        // A keep-alive connection whose request finishes during the drain would otherwise stay
        // open until the client drops it: close connections as soon as they fall idle.
        server.closeIdleConnections()
        const sweep = setInterval(() => server.closeIdleConnections(), 50)
        await s.shutdown(graceMs)
        const timer = setTimeout(() => server.closeAllConnections(), graceMs)
        timer.unref()
        await closed
        clearTimeout(timer)
        clearInterval(sweep)
      })()
      return closing
    },
  }
}

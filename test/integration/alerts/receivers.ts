/**
 * Receivers for the alert channels' outage and restart tests (loopback only): a webhook server
 * that checks the HMAC signature and can go down and come back on the same port, and a "hung"
 * TCP server that accepts connections and never says a word (a receiver that is down in the way
 * that costs a client its whole timeout, unlike a refused connection).
 */
import {createHmac} from 'node:crypto'
import {createServer, type Server} from 'node:http'
import net from 'node:net'

export interface Hook {
  body: any
  signatureOk: boolean
  delivery: string
}

export interface Webhook {
  port: number
  hits: Hook[]
  /** While true, requests are recorded but never answered. */
  hold: boolean
  /** Stops listening and drops open connections (clients see ECONNREFUSED until start()). */
  stop(): Promise<void>
  start(): Promise<void>
}

export async function webhook(secret: string, port = 0): Promise<Webhook> {
  const hits: Hook[] = []
  let server: Server | undefined
  const w: Webhook = {
    port,
    hits,
    hold: false,
    async start() {
      const s = createServer((req, res) => {
        let data = ''
        req.setEncoding('utf8').on('data', d => (data += d))
        req.on('end', () => {
          const want = `sha256=${createHmac('sha256', secret).update(data).digest('hex')}`
          hits.push({body: JSON.parse(data), signatureOk: req.headers['x-netmon-signature'] === want, delivery: String(req.headers['x-netmon-delivery'])})
          // Holding: the request was received, the answer never comes (the sender's ack is lost).
          if (!w.hold) res.writeHead(204).end()
        })
      })
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject)
        s.listen(w.port, '127.0.0.1', () => resolve())
      })
      w.port = (s.address() as net.AddressInfo).port
      server = s
    },
    async stop() {
      const s = server
      server = undefined
      if (!s) return
      s.closeAllConnections()
      await new Promise<void>(r => s.close(() => r()))
    },
  }
  await w.start()
  return w
}

/** Accepts on `port` and never answers; close() drops every connection it holds. */
export async function hungServer(port: number): Promise<{accepted: () => number; close: () => Promise<void>}> {
  const sockets = new Set<net.Socket>()
  let accepted = 0
  const s = net.createServer(sock => {
    accepted++
    sockets.add(sock)
    sock.on('error', () => {})
    sock.on('close', () => sockets.delete(sock))
  })
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject)
    s.listen(port, '127.0.0.1', () => resolve())
  })
  return {
    accepted: () => accepted,
    close: async () => {
      for (const sock of sockets) sock.destroy()
      await new Promise<void>(r => s.close(() => r()))
    },
  }
}

/**
 * A loopback TCP peer that replays one recorded session: it checks every byte the client sends against
 * the vector's c2s steps (in order) and answers with the recorded s2c bytes. Used to prove the client
 * produces Gurux's requests byte for byte and decodes Gurux's answers.
 */
import net from 'node:net'
import type {SessionVector} from '../../unit/dlms/vectors.js'

export interface ReplayServer {
  port: number
  /** c2s steps fully received and matched. */
  matched(): number
  mismatches: string[]
  close(): Promise<void>
}

export async function startReplay(session: SessionVector): Promise<ReplayServer> {
  const mismatches: string[] = []
  let matched = 0
  const sockets = new Set<net.Socket>()
  const server = net.createServer(socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    let buf = Buffer.alloc(0)
    let step = 0
    const advance = (): void => {
      for (;;) {
        const s = session.steps[step]
        if (!s) return
        if (s.dir === 's2c') {
          socket.write(Buffer.from(s.hex, 'hex'))
          step++
          continue
        }
        const want = Buffer.from(s.hex, 'hex')
        if (buf.length < want.length) return
        const got = buf.subarray(0, want.length)
        if (!got.equals(want)) mismatches.push(`step ${step} (${s.meaning}): expected ${s.hex}, got ${got.toString('hex')}`)
        else matched++
        buf = buf.subarray(want.length)
        step++
      }
    }
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      advance()
    })
    socket.on('end', () => {
      if (buf.length > 0) mismatches.push(`unexpected trailing bytes ${buf.toString('hex')}`)
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    matched: () => matched,
    mismatches,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => server.close(() => resolve()))
    },
  }
}

/**
 * A tiny DNS server on 127.0.0.1 for reverse-lookup tests: answers PTR queries from a table the
 * test controls (and can change between scans), NXDOMAIN otherwise. The scan is pointed at it
 * with --dns-server, so no test query ever leaves the machine.
 */
import dgram from 'node:dgram'

export interface FakeDns {
  port: number
  /** ip → name; edit freely between scans. */
  names: Map<string, string>
  queries: string[]
  /** Holds back the answers for `ip`'s PTR until the returned function is called. */
  hold(ip: string): () => void
  close(): Promise<void>
}

function readName(buf: Buffer, off: number): {name: string; end: number} {
  const labels: string[] = []
  let i = off
  while (buf[i]! !== 0) {
    const len = buf[i]!
    labels.push(buf.subarray(i + 1, i + 1 + len).toString('ascii'))
    i += 1 + len
  }
  return {name: labels.join('.'), end: i + 1}
}

function encodeName(name: string): Buffer {
  const parts = name.split('.').filter(Boolean)
  return Buffer.concat([...parts.map(p => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'ascii')])), Buffer.from([0])])
}

function ptrToIp(qname: string): string | null {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\.in-addr\.arpa$/i.exec(qname)
  return m ? `${m[4]}.${m[3]}.${m[2]}.${m[1]}` : null
}

/** `bind`: where to listen (default 127.0.0.1, any port); port 53 lets it stand in for a resolv.conf nameserver. */
export async function startFakeDns(initial: Record<string, string> = {}, bind: {address?: string; port?: number} = {}): Promise<FakeDns> {
  const sock = dgram.createSocket('udp4')
  const names = new Map(Object.entries(initial))
  const queries: string[] = []
  const held = new Map<string, (() => void)[]>()
  sock.on('message', (msg, rinfo) => {
    if (msg.length < 12) return
    const {name: qname, end} = readName(msg, 12)
    const qtype = msg.readUInt16BE(end)
    queries.push(qname)
    const ip = ptrToIp(qname)
    const later = ip ? held.get(ip) : undefined
    if (later) later.push(() => answer(msg, rinfo, end, qtype, ip))
    else answer(msg, rinfo, end, qtype, ip)
  })
  const answer = (msg: Buffer, rinfo: dgram.RemoteInfo, end: number, qtype: number, ip: string | null) => {
    const question = msg.subarray(12, end + 4)
    const answerName = ip ? names.get(ip) : undefined
    const header = Buffer.alloc(12)
    header.writeUInt16BE(msg.readUInt16BE(0), 0) // id
    const rcode = answerName && qtype === 12 ? 0 : 3
    header.writeUInt16BE(0x8180 | rcode, 2) // response, RD, RA
    header.writeUInt16BE(1, 4)
    header.writeUInt16BE(rcode === 0 ? 1 : 0, 6)
    const parts: Buffer[] = [header, question]
    if (rcode === 0) {
      const rdata = encodeName(answerName!)
      const rr = Buffer.alloc(12)
      rr.writeUInt16BE(0xc00c, 0) // pointer to the question name
      rr.writeUInt16BE(12, 2) // PTR
      rr.writeUInt16BE(1, 4) // IN
      rr.writeUInt32BE(60, 6)
      rr.writeUInt16BE(rdata.length, 10)
      parts.push(rr, rdata)
    }
    sock.send(Buffer.concat(parts), rinfo.port, rinfo.address)
  }
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject)
    sock.bind(bind.port ?? 0, bind.address ?? '127.0.0.1', () => {
      sock.off('error', reject)
      resolve()
    })
  })
  return {
    port: sock.address().port,
    names,
    queries,
    hold(ip) {
      held.set(ip, [])
      return () => {
        const list = held.get(ip) ?? []
        held.delete(ip)
        for (const f of list) f()
      }
    },
    close: () => new Promise(resolve => sock.close(() => resolve())),
  }
}

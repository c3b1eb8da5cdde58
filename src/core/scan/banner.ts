/**
 * Banner grab (`--banners`, issue 5): connect to an open port and read what the service says
 * first (SSH, SMTP, FTP, MQTT brokers do not, HTTP servers do not). Silent services that look like
 * HTTP get one `HEAD / HTTP/1.0` request; nothing else is ever sent. The banner is one line of
 * printable text (the HTTP status line plus its Server header), at most 160 characters.
 */
import net from 'node:net'

const HTTPISH = new Set([80, 81, 591, 3000, 5000, 8000, 8008, 8080, 8081, 8082, 8088, 8090, 8123, 8888, 9000, 9090])

export function cleanBanner(data: Buffer): string | null {
  const text = data.toString('latin1')
  const lines = text.split(/\r?\n/)
  let out = lines[0] ?? ''
  if (/^HTTP\/\d/.test(out)) {
    const server = lines.find(l => /^server:/i.test(l))
    if (server) out += `; ${server.trim()}`
  }
  out = out.replace(/[^\x20-\x7e]/g, '').trim()
  if (!out) return null
  return out.length > 160 ? out.slice(0, 157) + '...' : out
}

export function grabBanner(ip: string, port: number, timeoutMs: number, service: string | null): Promise<string | null> {
  return new Promise(resolve => {
    const s = net.connect({host: ip, port})
    const chunks: Buffer[] = []
    let size = 0
    let done = false
    const finish = () => {
      if (done) return
      done = true
      clearTimeout(hard)
      clearTimeout(nudge)
      s.destroy()
      resolve(size ? cleanBanner(Buffer.concat(chunks)) : null)
    }
    const hard = setTimeout(finish, timeoutMs)
    let nudge: NodeJS.Timeout | undefined
    s.on('connect', () => {
      if (HTTPISH.has(port) || (service ?? '').startsWith('http')) {
        nudge = setTimeout(
          () => {
            if (size === 0 && !done) s.write('HEAD / HTTP/1.0\r\n\r\n')
          },
          Math.min(300, timeoutMs / 3),
        )
      }
    })
    s.on('data', (d: Buffer) => {
      chunks.push(d)
      size += d.length
      // A whole line (or an HTTP header block) is enough.
      const text = Buffer.concat(chunks).toString('latin1')
      if (/^HTTP\//.test(text) ? /\r?\n\r?\n/.test(text) : text.includes('\n')) finish()
      else if (size > 4096) finish()
    })
    s.on('error', finish)
    s.on('close', finish)
  })
}

/**
 * Banner grab (`--banners`, issue 5): connect to an open port and read what the service says
 * first (SSH, SMTP, FTP, MQTT brokers do not, HTTP servers do not). Silent services that look like
 * HTTP get one `HEAD / HTTP/1.0` request; nothing else is ever sent. The banner is one line of
 * printable text (the HTTP status line plus its Server header), at most 160 characters.
 *
 * Binary greetings are decoded rather than stripped to their printable bytes: a MySQL/MariaDB
 * greeting or refusal (./mysql.ts) becomes `MySQL 8.0.32`, `MariaDB 10.11.19-MariaDB-0+deb12u1`
 * or `MariaDB error 1130: Host … is not allowed to connect …`, and names the service `mysql`
 * whatever the port (issue 13).
 */
import net from 'node:net'
import {decodeMysqlGreeting, mysqlBannerText, mysqlPacketStatus} from './mysql.js'

const HTTPISH = new Set([80, 81, 591, 3000, 5000, 8000, 8008, 8080, 8081, 8082, 8088, 8090, 8123, 8888, 9000, 9090])

/** What an open port said: the banner text, and the service it proves when it proves one. */
export interface Banner {
  text: string
  service: string | null
}

const MAX_BANNER = 160

function printable(text: string): string | null {
  const out = text.replace(/[^\x20-\x7e]/g, '').trim()
  if (!out) return null
  return out.length > MAX_BANNER ? out.slice(0, MAX_BANNER - 3) + '...' : out
}

/** The banner of the first bytes a port sent: a decoded protocol greeting, else its first line. */
export function describeBanner(data: Buffer): Banner | null {
  const mysql = decodeMysqlGreeting(data)
  if (mysql) {
    const text = printable(mysqlBannerText(mysql))
    if (text) return {text, service: 'mysql'}
  }
  // The start of a MySQL packet cut short (the grab timed out): its bytes are no text ("J").
  if (mysqlPacketStatus(data) === 'partial') return null
  const text = cleanBanner(data)
  return text === null ? null : {text, service: null}
}

export function cleanBanner(data: Buffer): string | null {
  const text = data.toString('latin1')
  const lines = text.split(/\r?\n/)
  let out = lines[0] ?? ''
  if (/^HTTP\/\d/.test(out)) {
    const server = lines.find(l => /^server:/i.test(l))
    if (server) out += `; ${server.trim()}`
  }
  return printable(out)
}

export function grabBanner(ip: string, port: number, timeoutMs: number, service: string | null): Promise<Banner | null> {
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
      resolve(size ? describeBanner(Buffer.concat(chunks)) : null)
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
      const data = Buffer.concat(chunks)
      // A MySQL greeting is binary (its protocol byte is a newline): wait for the whole packet.
      const mysql = mysqlPacketStatus(data)
      if (mysql === 'complete') return finish()
      if (mysql === 'partial' && size <= 4096) return
      // A whole line (or an HTTP header block) is enough.
      const text = data.toString('latin1')
      if (/^HTTP\//.test(text) ? /\r?\n\r?\n/.test(text) : text.includes('\n')) finish()
      else if (size > 4096) finish()
    })
    s.on('error', finish)
    s.on('close', finish)
  })
}

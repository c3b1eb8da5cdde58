/**
 * A real SMTP receiver for the email channel's tests: npm `smtp-server` in this process on
 * loopback, with STARTTLS or implicit TLS over a self-signed certificate made by openssl for the
 * test, AUTH PLAIN/LOGIN checked against one user, and every accepted message kept raw and parsed
 * (headers, the text part, the alert.json attachment). A small MIME reader is enough here: the
 * messages come from nodemailer with known encodings (7bit/quoted-printable text, base64 JSON).
 */
import {execFileSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {SMTPServer} from 'smtp-server'

export interface Cert {
  key: string
  cert: string
  certFile: string
}

/** A self-signed certificate for 127.0.0.1 / localhost (EC P-256, 1 day), made with openssl. */
export function selfSigned(dir: string): Cert {
  const keyFile = join(dir, 'smtp.key')
  const certFile = join(dir, 'smtp.pem')
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    {stdio: 'ignore'},
  )
  return {key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile}
}

export interface Mail {
  raw: string
  headers: Record<string, string>
  text: string
  json: any
  envelope: {from: string; to: string[]}
  /** The session was encrypted (STARTTLS done, or implicit TLS) when the message was sent. */
  secure: boolean
  user: string | undefined
}

export interface Smtp {
  port: number
  mails: Mail[]
  auths: {user: string; ok: boolean; secure: boolean}[]
  close(): Promise<void>
}

export interface SmtpOptions {
  port?: number
  cert: Cert
  /** starttls (default): plain, upgraded; tls: TLS from the first byte; plain: no STARTTLS offered. */
  mode?: 'starttls' | 'tls' | 'plain'
  user: string
  pass: string
}

function headersOf(block: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of block.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const i = line.indexOf(':')
    if (i > 0) out[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
  }
  return out
}

function decode(body: string, enc: string | undefined): string {
  const e = (enc ?? '7bit').toLowerCase()
  if (e === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')
  if (e === 'quoted-printable')
    return Buffer.from(
      body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
      'latin1',
    ).toString('utf8')
  return body
}

/** Headers, the text/plain part and the application/json part of a nodemailer multipart message. */
export function parseMail(raw: string): {headers: Record<string, string>; text: string; json: any} {
  const split = raw.indexOf('\r\n\r\n')
  const headers = headersOf(raw.slice(0, split))
  const boundary = /boundary="?([^";]+)"?/.exec(headers['content-type'] ?? '')?.[1]
  let text = ''
  let json: any
  const parts = boundary
    ? raw
        .slice(split + 4)
        .split(`--${boundary}`)
        .slice(1, -1)
    : [raw.slice(split + 4)]
  for (const part of parts) {
    const p = part.replace(/^\r\n/, '')
    const s = p.indexOf('\r\n\r\n')
    const h = boundary ? headersOf(p.slice(0, s)) : headers
    const body = decode((boundary ? p.slice(s + 4) : p).replace(/\r\n$/, ''), h['content-transfer-encoding'])
    if ((h['content-type'] ?? 'text/plain').startsWith('text/plain')) text = body.replace(/\r\n/g, '\n')
    else if ((h['content-type'] ?? '').startsWith('application/json')) json = JSON.parse(body)
  }
  return {headers, text, json}
}

export async function startSmtp(o: SmtpOptions): Promise<Smtp> {
  const mails: Mail[] = []
  const auths: Smtp['auths'] = []
  const mode = o.mode ?? 'starttls'
  const server = new SMTPServer({
    secure: mode === 'tls',
    key: o.cert.key,
    cert: o.cert.cert,
    // plain: a server that does not speak STARTTLS at all (hidden from EHLO and refused if sent).
    hideSTARTTLS: mode === 'plain',
    ...(mode === 'plain' ? {disabledCommands: ['STARTTLS']} : {}),
    authMethods: ['PLAIN', 'LOGIN'],
    // Never accept a password in clear (the default): the client must have upgraded first.
    allowInsecureAuth: false,
    logger: false,
    onAuth(auth, session, cb) {
      const ok = auth.username === o.user && auth.password === o.pass
      auths.push({user: String(auth.username), ok, secure: Boolean(session.secure)})
      if (!ok) return cb(Object.assign(new Error('Authentication credentials invalid'), {responseCode: 535}))
      cb(null, {user: auth.username})
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8')
        const p = parseMail(raw)
        mails.push({
          raw,
          ...p,
          envelope: {
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map(r => r.address),
          },
          secure: Boolean(session.secure),
          user: session.user as string | undefined,
        })
        cb()
      })
    },
  })
  server.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject)
    server.listen(o.port ?? 0, '127.0.0.1', () => resolve())
  })
  const port = (server.server.address() as AddressInfo).port
  return {port, mails, auths, close: () => new Promise<void>(r => server.close(() => r()))}
}

/**
 * The email channel (issue 16, docs/ALERTS.md): one message per notification over SMTP with
 * nodemailer (a well-kept library: SMTP, STARTTLS, AUTH mechanisms and MIME encoding are easy to
 * get subtly wrong by hand). Loaded lazily: only a drain of an email channel pays its import.
 *
 * - `secure: true`: TLS from the first byte (SMTPS, port 465). Otherwise plain SMTP upgraded with
 *   STARTTLS; `require_tls` (the default) fails the attempt when the server does not offer it, so
 *   nothing (the password least of all) goes in clear.
 * - The server's certificate is verified (against `ca_file` when given, else the system's CAs).
 * - One pooled connection per delivery run (a backlog goes over one session), closed after it.
 * - Errors name the channel and nodemailer's code (EAUTH, ECONNECTION, ETIMEDOUT …) and pass through
 *   redact(): the password never reaches the outbox's last_error, a log line or a JSON result.
 */
import type {Transporter} from 'nodemailer'
import type {QueuedRow, Sender} from '../outbox/queue.js'
import {redact} from '../secrets.js'
import type {Payload} from './channels.js'
import type {Channel} from './rules.js'

export type EmailChannel = Extract<Channel, {type: 'email'}>

export interface EmailMessage {
  subject: string
  text: string
  headers: Record<string, string>
  messageId: string
  /** The notification's JSON body (the webhook's), attached as alert.json. */
  json: string
}

const oneLine = (s: string, max: number): string => {
  const t = s.replace(/[\r\n\t]+/g, ' ').trim()
  return t.length > max ? `${t.slice(0, max - 1)}…` : t
}

const iso = (ms: number | null | undefined): string => (typeof ms === 'number' ? new Date(ms).toISOString() : '-')

/** What one notification looks like as an e-mail (pure: no sockets). */
export function emailMessage(ch: EmailChannel, row: QueuedRow, p: Payload): EmailMessage {
  const a = p.alert
  const t = p.transition
  const json = JSON.stringify({...p, delivery_id: row.id})
  const subject = oneLine(`${ch.subjectPrefix ? `${ch.subjectPrefix} ` : ''}${t.kind}: ${a.message || `${a.rule} ${a.subject}`}`, 200)
  const labels = Object.entries(a.labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ')
  const lines = [
    a.message,
    '',
    `transition: ${t.kind} (${t.from ?? '-'} -> ${t.to}) at ${t.at}`,
    `rule:       ${a.rule} (${a.kind})`,
    `severity:   ${a.severity}`,
    `subject:    ${a.subject}`,
    `value:      ${a.value}`,
    `state:      ${a.state}`,
    `started:    ${iso(a.started_at_ms)}`,
    `fired:      ${iso(a.fired_at_ms)}`,
    `resolved:   ${iso(a.resolved_at_ms)}`,
    ...(labels ? [`labels:     ${labels}`] : []),
    `alert:      ${a.id} (netmon alerts show ${a.id})`,
    `delivery:   ${row.id}`,
    '',
    'The notification as JSON is attached (alert.json, the webhook body).',
  ]
  const domain = /@([^>\s]+)>?$/.exec(ch.from)?.[1] ?? 'netmon.invalid'
  return {
    subject,
    text: `${lines.join('\n')}\n`,
    headers: {
      'X-Netmon-Delivery': String(row.id),
      'X-Netmon-Alert-Id': String(a.id),
      'X-Netmon-Rule': a.rule,
      'X-Netmon-Transition': t.kind,
      'X-Netmon-Severity': a.severity,
    },
    // The same notification sent again (at-least-once) keeps its Message-ID: mail clients and
    // de-duplicating filters see one message.
    messageId: `<netmon.${a.id}.${row.id}.${row.created_at}@${domain}>`,
    json,
  }
}

function errorText(ch: EmailChannel, e: unknown): string {
  const err = e as {code?: string; message?: string}
  const msg = oneLine(String(err?.message ?? e), 300)
  return redact(`email ${ch.name}: ${err?.code && !msg.startsWith(err.code) ? `${err.code}: ` : ''}${msg}`)
}

export function emailSender(ch: EmailChannel): Sender {
  let transport: Transporter | undefined
  const open = async (): Promise<Transporter> => {
    if (transport) return transport
    const nodemailer = (await import('nodemailer')).default
    transport = nodemailer.createTransport({
      pool: true,
      maxConnections: 1,
      host: ch.host,
      port: ch.port,
      secure: ch.secure,
      requireTLS: !ch.secure && ch.requireTls,
      ...(ch.username && ch.password ? {auth: {user: ch.username, pass: ch.password}} : {}),
      tls: {minVersion: 'TLSv1.2', ...(ch.ca ? {ca: [ch.ca]} : {})},
      connectionTimeout: ch.timeoutMs,
      greetingTimeout: ch.timeoutMs,
      socketTimeout: ch.timeoutMs,
      dnsTimeout: ch.timeoutMs,
      logger: false,
      debug: false,
    })
    return transport
  }
  const drop = () => {
    const t = transport
    transport = undefined
    try {
      t?.close()
    } catch {}
  }
  return {
    maxAttempts: ch.maxAttempts,
    backoff: ch.backoff,
    async send(row) {
      const m = emailMessage(ch, row, JSON.parse(row.payload) as Payload)
      const t = await open()
      let timer: NodeJS.Timeout | undefined
      try {
        await Promise.race([
          t.sendMail({
            from: ch.from,
            to: ch.to,
            subject: m.subject,
            text: m.text,
            headers: m.headers,
            messageId: m.messageId,
            attachments: [{filename: 'alert.json', content: m.json, contentType: 'application/json', contentTransferEncoding: 'base64'}],
          }),
          new Promise<never>((_, reject) => {
            // nodemailer's own timeouts cover each phase; this bounds the whole exchange.
            timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${ch.timeoutMs} ms`), {code: 'ETIMEDOUT'})), ch.timeoutMs * 3)
          }),
        ])
      } catch (e) {
        // A failed session is not reused: the next attempt starts a fresh connection.
        drop()
        throw new Error(errorText(ch, e))
      } finally {
        clearTimeout(timer)
      }
    },
    async close() {
      drop()
    },
  }
}

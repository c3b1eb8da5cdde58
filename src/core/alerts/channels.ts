/**
 * Notification channels (docs/ALERTS.md): how one outbox row is delivered.
 * - log: one line on stderr (text, or JSON with format: json).
 * - webhook: HTTP POST of the JSON body; `X-Netmon-Signature: sha256=<hex HMAC-SHA256 of the body>`
 *   when a secret is configured; `X-Netmon-Delivery: <outbox id>` to de-duplicate; 2xx = delivered.
 * - mqtt: QoS 1 publish of the JSON body (src/core/mqtt/connection.ts, the bridge's connection);
 *   delivered on PUBACK; one connection per delivery run, closed after it.
 * - exec: runs the command (no shell) with the body on stdin and NETMON_ALERT_* variables; exit 0 =
 *   delivered; killed after the timeout.
 * - email: one SMTP message per notification (email.ts, nodemailer); delivered when the server
 *   accepted it (250 after DATA).
 */
import {spawn} from 'node:child_process'
import {createHmac} from 'node:crypto'
import {MqttConnection} from '../mqtt/connection.js'
import type {QueuedRow, Sender} from '../outbox/queue.js'
import type {AlertView} from './queries.js'
import {emailSender} from './email.js'
import type {Channel} from './rules.js'

export interface Payload {
  version: 1
  delivery_id?: number
  transition: {kind: string; from: string | null; to: string; at: string; at_ms: number}
  /** The alert as `alerts show` has it, without the view-only fields. */
  alert: Omit<AlertView, 'started_at' | 'updated_at_ms' | 'acked' | 'acked_at_ms' | 'ack_comment'>
}

export function sign(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
}

function bodyOf(row: QueuedRow): string {
  const p = JSON.parse(row.payload) as Payload
  return JSON.stringify({...p, delivery_id: row.id})
}

export function senderFor(ch: Channel, opts: {stderr?: (line: string) => void} = {}): Sender {
  if (ch.type === 'log') {
    const write = opts.stderr ?? ((l: string) => process.stderr.write(l + '\n'))
    return {
      maxAttempts: 1,
      backoff: {minMs: 1000, maxMs: 1000},
      async send(row) {
        const p = JSON.parse(row.payload) as Payload
        if (ch.format === 'json') write(JSON.stringify({...p, delivery_id: row.id}))
        else
          write(
            `alert ${p.transition.kind} rule=${p.alert.rule} subject=${p.alert.subject} severity=${p.alert.severity} state=${p.alert.state}: ${p.alert.message}`,
          )
      },
    }
  }
  if (ch.type === 'webhook') {
    return {
      maxAttempts: ch.maxAttempts,
      backoff: ch.backoff,
      async send(row) {
        const body = bodyOf(row)
        const headers: Record<string, string> = {
          'content-type': 'application/json',
          'user-agent': 'netmon-alerts',
          'x-netmon-delivery': String(row.id),
          ...ch.headers,
        }
        if (ch.secret) headers['x-netmon-signature'] = sign(ch.secret, body)
        let res: Response
        try {
          res = await fetch(ch.url, {method: 'POST', headers, body, signal: AbortSignal.timeout(ch.timeoutMs)})
        } catch (e) {
          const cause = (e as {cause?: {code?: string}}).cause?.code
          throw new Error(
            `webhook ${ch.name}: ${(e as Error).name === 'TimeoutError' ? `no answer within ${ch.timeoutMs} ms` : (cause ?? (e as Error).message)}`,
          )
        }
        await res.arrayBuffer().catch(() => undefined)
        if (res.status < 200 || res.status > 299) throw new Error(`webhook ${ch.name}: HTTP ${res.status}`)
      },
    }
  }
  if (ch.type === 'mqtt') return mqttSender(ch)
  if (ch.type === 'email') return emailSender(ch)
  return {
    maxAttempts: ch.maxAttempts,
    backoff: ch.backoff,
    send(row) {
      const body = bodyOf(row)
      const p = JSON.parse(body) as Payload
      return new Promise<void>((resolve, reject) => {
        const child = spawn(ch.command[0]!, ch.command.slice(1), {
          stdio: ['pipe', 'ignore', 'pipe'],
          env: {
            ...process.env,
            NETMON_ALERT_ID: String(p.alert.id),
            NETMON_ALERT_RULE: p.alert.rule,
            NETMON_ALERT_SUBJECT: p.alert.subject,
            NETMON_ALERT_STATE: p.alert.state,
            NETMON_ALERT_TRANSITION: p.transition.kind,
            NETMON_ALERT_SEVERITY: p.alert.severity,
            NETMON_ALERT_DELIVERY: String(row.id),
          },
        })
        let err = ''
        const timer = setTimeout(() => {
          child.kill('SIGKILL')
          reject(new Error(`exec ${ch.name}: killed after ${ch.timeoutMs} ms`))
        }, ch.timeoutMs)
        child.stderr.setEncoding('utf8').on('data', d => (err = (err + d).slice(-300)))
        child.on('error', e => {
          clearTimeout(timer)
          reject(new Error(`exec ${ch.name}: ${e.message}`))
        })
        child.on('close', code => {
          clearTimeout(timer)
          if (code === 0) resolve()
          else reject(new Error(`exec ${ch.name}: exit ${code}${err.trim() ? `: ${err.trim().split('\n').at(-1)}` : ''}`))
        })
        child.stdin.on('error', () => {})
        child.stdin.end(body)
      })
    },
  }
}

function mqttSender(ch: Extract<Channel, {type: 'mqtt'}>): Sender {
  let conn: MqttConnection | undefined
  let ready: Promise<void> | undefined
  const connect = (): Promise<void> => {
    if (ready) return ready
    const c = new MqttConnection({
      url: ch.url,
      clientId: ch.clientId ?? `netmon-alerts-${process.pid}`,
      username: ch.username,
      password: ch.password,
      connectTimeoutMs: ch.timeoutMs,
      reconnect: {minMs: ch.timeoutMs, maxMs: ch.timeoutMs},
      label: `alert channel ${ch.name}`,
    })
    conn = c
    ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        ready = undefined
        reject(new Error(`mqtt ${ch.name}: not connected within ${ch.timeoutMs} ms${c.error ? ` (${c.error})` : ''}`))
      }, ch.timeoutMs)
      c.once('connect', () => {
        clearTimeout(timer)
        resolve()
      })
    })
    c.start()
    return ready
  }
  return {
    maxAttempts: ch.maxAttempts,
    backoff: ch.backoff,
    async send(row) {
      await connect()
      const p = JSON.parse(row.payload) as Payload
      const topic = ch.topic.replace('{rule}', p.alert.rule).replace('{severity}', p.alert.severity).replace('{state}', p.alert.state)
      let timer: NodeJS.Timeout | undefined
      try {
        await Promise.race([
          conn!.publish(topic, bodyOf(row)),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`mqtt ${ch.name}: no PUBACK within ${ch.timeoutMs} ms`)), ch.timeoutMs)
          }),
        ])
      } catch (e) {
        throw new Error(String((e as Error).message).startsWith('mqtt ') ? (e as Error).message : `mqtt ${ch.name}: ${(e as Error).message}`)
      } finally {
        clearTimeout(timer)
      }
    },
    async close() {
      const c = conn
      conn = undefined
      ready = undefined
      await c?.stop(ch.timeoutMs)
    },
  }
}

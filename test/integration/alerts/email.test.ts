/**
 * The email channel against a real SMTP server (npm smtp-server in this process, loopback) through
 * the built CLI: STARTTLS with a self-signed certificate made for the test and trusted through
 * ca_file, AUTH with the password from an environment variable or a file, the message's envelope,
 * headers, text and JSON attachment; a wrong password is retried with backoff, then dead-lettered,
 * and no error line carries the password; require_tls refuses a server without STARTTLS before
 * any password is sent; implicit TLS (secure: true).
 */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {openStore} from '../../../src/core/store/index.js'
import {runCli, tempStore} from '../../support/cli.js'
import {type Cert, selfSigned, type Smtp, startSmtp} from './smtp.js'

const USER = 'netmon-alerts'
const PASS = 'smtp-Pa55-w0rd-for-test'
const MAC = 'AA:BB:CC:DD:EE:31'
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

interface Setup {
  dir: string
  db: string
  rules: string
  cert: Cert
  cli: (args: string[]) => ReturnType<typeof runCli>
  check: () => ReturnType<typeof runCli>
}

function setup(channel: (cert: Cert) => string, env: Record<string, string> = {}): Setup {
  const t = tempStore('netmon-alerts-email-')
  cleanups.push(t.cleanup)
  const cert = selfSigned(t.dir)
  const rules = join(t.dir, 'alerts.yaml')
  writeFileSync(
    rules,
    `channels:
  mail: ${channel(cert)}
rules:
  - name: new-device
    kind: device_new
    severity: critical
    labels: {team: home}
    channels: [mail]
    message: "new device {{device.name}} ({{subject}}) at {{device.ip}}"
`,
  )
  const cli = (args: string[]) => runCli(args, {db: t.db, env})
  return {dir: t.dir, db: t.db, rules, cert, cli, check: () => cli(['alerts', 'check', '--rules', rules, '--json'])}
}

async function server(s: Setup, opts: Partial<Parameters<typeof startSmtp>[0]> = {}): Promise<Smtp> {
  const smtp = await startSmtp({cert: s.cert, user: USER, pass: PASS, ...opts})
  cleanups.push(() => smtp.close())
  return smtp
}

async function outbox(db: string): Promise<{state: string; attempts: number; last_error: string | null}[]> {
  const store = await openStore({db})
  try {
    return (
      await store.query<{state: string; attempts: number; last_error: string | null}>('SELECT state, attempts, last_error FROM alert_outbox ORDER BY id')
    ).map(r => ({state: r.state, attempts: Number(r.attempts), last_error: r.last_error}))
  } finally {
    await store.close()
  }
}

describe('alerts email channel', {timeout: 120_000}, () => {
  it('STARTTLS with a self-signed certificate (ca_file), AUTH from an env var: one message per transition with the documented headers, text and JSON', async () => {
    let port = 0
    const s = setup(
      c =>
        `{type: email, host: 127.0.0.1, port: PORT, ca_file: ${JSON.stringify(c.certFile)}, username: ${USER}, password_env: NETMON_TEST_SMTP_PASSWORD, from: "netmon <netmon@example.net>", to: [ops@example.net, "Second <two@example.net>"], timeout: 5s}`,
      {NETMON_TEST_SMTP_PASSWORD: PASS},
    )
    const smtp = await server(s)
    port = smtp.port
    const {readFileSync} = await import('node:fs')
    writeFileSync(s.rules, readFileSync(s.rules, 'utf8').replace('PORT', String(port)))

    expect((await s.check()).code).toBe(0)
    expect((await s.cli(['bandwidth', 'register', '--ip', '10.77.27.5', '--mac', MAC, '--hostname', 'tv'])).code).toBe(0)
    const r = await s.check()
    expect(r.code, r.stderr).toBe(3)
    expect(r.json.delivery).toMatchObject([{channel: 'mail', delivered: 1, failed: 0, waiting: 0}])
    expect(smtp.mails).toHaveLength(1)
    expect(smtp.auths).toEqual([{user: USER, ok: true, secure: true}])
    const m = smtp.mails[0]!
    expect(m.secure).toBe(true) // upgraded with STARTTLS before AUTH and DATA
    expect(m.user).toBe(USER)
    expect(m.envelope).toEqual({from: 'netmon@example.net', to: ['ops@example.net', 'two@example.net']})
    expect(m.headers.from).toBe('netmon <netmon@example.net>')
    expect(m.headers.to).toBe('ops@example.net, Second <two@example.net>')
    expect(m.headers.subject).toBe(`[netmon] firing: new device tv (${MAC}) at 10.77.27.5`)
    expect(m.headers['x-netmon-rule']).toBe('new-device')
    expect(m.headers['x-netmon-transition']).toBe('firing')
    expect(m.headers['x-netmon-severity']).toBe('critical')
    const delivery = m.json.delivery_id
    expect(m.headers['x-netmon-delivery']).toBe(String(delivery))
    expect(m.headers['message-id']).toMatch(new RegExp(`^<netmon\\.${m.json.alert.id}\\.${delivery}\\.\\d+@example\\.net>$`))
    expect(m.text.split('\n').slice(0, 7)).toEqual([
      `new device tv (${MAC}) at 10.77.27.5`,
      '',
      expect.stringMatching(/^transition: firing \(pending -> firing\) at \d{4}-\d\d-\d\dT/),
      'rule:       new-device (device_new)',
      'severity:   critical',
      `subject:    ${MAC}`,
      expect.stringMatching(/^value:/),
    ])
    expect(m.text).toContain('labels:     team=home')
    expect(m.text).toContain(`alert:      ${m.json.alert.id} (netmon alerts show ${m.json.alert.id})`)
    expect(m.json).toMatchObject({
      version: 1,
      transition: {kind: 'firing', to: 'firing'},
      alert: {rule: 'new-device', subject: MAC, severity: 'critical', labels: {team: 'home'}},
    })
    // The password is on the wire only inside TLS, and nowhere in what the CLI printed.
    expect(m.raw).not.toContain(PASS)
    expect(r.stdout + r.stderr).not.toContain(PASS)

    // Still firing / resolved silently: nothing more is mailed.
    expect((await s.check()).json.delivery).toEqual([])
    expect(smtp.mails).toHaveLength(1)

    // The password is not printed by alerts rules either.
    const view = await s.cli(['alerts', 'rules', '--rules', s.rules, '--json'])
    expect(view.code).toBe(0)
    expect(view.json.channels).toContainEqual({name: 'mail', type: 'email'})
    expect(view.stdout).not.toContain(PASS)
  })

  it('a wrong password (from password_file) is retried with backoff, then dead-lettered; no output or stored error carries it', async () => {
    const WRONG = 'not-the-Right-password-42'
    const s = setup(
      c =>
        `{type: email, host: 127.0.0.1, port: PORT, ca_file: ${JSON.stringify(c.certFile)}, username: ${USER}, password_file: smtp.pass, from: netmon@example.net, to: [ops@example.net], max_attempts: 3, backoff: {min: 50ms, max: 100ms}, timeout: 5s}`,
    )
    writeFileSync(join(s.dir, 'smtp.pass'), `${WRONG}\n`)
    const smtp = await server(s)
    const {readFileSync} = await import('node:fs')
    writeFileSync(s.rules, readFileSync(s.rules, 'utf8').replace('PORT', String(smtp.port)))
    expect((await s.check()).code).toBe(0)
    expect((await s.cli(['bandwidth', 'register', '--ip', '10.77.27.6', '--mac', MAC])).code).toBe(0)

    const outputs: string[] = []
    let r = await s.check()
    outputs.push(r.stdout, r.stderr)
    expect(r.code).toBe(3) // a channel that fails is not an error of the check
    expect(r.json.delivery).toMatchObject([{channel: 'mail', delivered: 0, failed: 1, dead: 0, waiting: 1}])
    const err = r.json.delivery[0].last_error as string
    expect(err).toMatch(/^email mail: EAUTH: .*535/)
    expect((await outbox(s.db))[0]).toMatchObject({state: 'pending', attempts: 1})

    // Not due again before its backoff: a check right away does not retry.
    for (let i = 0; i < 2; i++) {
      await sleep(150) // past the 100 ms backoff cap
      r = await s.check()
      outputs.push(r.stdout, r.stderr)
    }
    expect(r.json.delivery).toMatchObject([{channel: 'mail', failed: 1, dead: 1, waiting: 0}])
    const rows = await outbox(s.db)
    expect(rows).toEqual([{state: 'dead', attempts: 3, last_error: expect.stringMatching(/^email mail: EAUTH: /)}])
    expect(smtp.auths.map(a => a.ok)).toEqual([false, false, false])
    expect(smtp.auths.every(a => a.secure)).toBe(true)
    expect(smtp.mails).toHaveLength(0)
    // Dead letters are not retried.
    await sleep(150)
    r = await s.check()
    expect(r.json.delivery).toEqual([])
    expect(smtp.auths).toHaveLength(3)
    for (const o of [...outputs, r.stdout, r.stderr, rows[0]!.last_error!]) expect(o).not.toContain(WRONG)
  })

  it('require_tls (the default) refuses a server that offers no STARTTLS before sending the password; secure: true speaks TLS from the start', async () => {
    const s = setup(
      c =>
        `{type: email, host: 127.0.0.1, port: PORT, ca_file: ${JSON.stringify(c.certFile)}, username: ${USER}, password_env: NETMON_TEST_SMTP_PASSWORD, from: netmon@example.net, to: [ops@example.net], backoff: {min: 10ms, max: 20ms}, timeout: 5s}`,
      {NETMON_TEST_SMTP_PASSWORD: PASS},
    )
    const plain = await server(s, {mode: 'plain'})
    const {readFileSync} = await import('node:fs')
    const text = readFileSync(s.rules, 'utf8')
    writeFileSync(s.rules, text.replace('PORT', String(plain.port)))
    expect((await s.check()).code).toBe(0)
    expect((await s.cli(['bandwidth', 'register', '--ip', '10.77.27.7', '--mac', MAC])).code).toBe(0)
    let r = await s.check()
    expect(r.json.delivery).toMatchObject([{channel: 'mail', delivered: 0, failed: 1, waiting: 1}])
    expect(r.json.delivery[0].last_error).toMatch(/^email mail: .*STARTTLS/i)
    expect(plain.auths).toEqual([])
    expect(plain.mails).toEqual([])

    // The same notification, now to an implicit-TLS server (secure: true): delivered once.
    const tls = await server(s, {mode: 'tls'})
    writeFileSync(s.rules, text.replace('port: PORT', `port: ${tls.port}, secure: true`))
    await sleep(50)
    r = await s.check()
    expect(r.json.delivery).toMatchObject([{channel: 'mail', delivered: 1, waiting: 0}])
    expect(tls.mails).toHaveLength(1)
    expect(tls.mails[0]).toMatchObject({secure: true, user: USER, headers: {'x-netmon-transition': 'firing'}})
    expect(plain.mails).toEqual([])
  })

  it('validation: the password only from an env var or a file, never in clear to a remote host', async () => {
    const t = tempStore('netmon-alerts-email-bad-')
    cleanups.push(t.cleanup)
    const cases: [string, string][] = [
      ['{type: email, host: mx.example.net, from: a@example.net, to: [b@example.net], password: x}', 'channels.mail.password: unknown field'],
      [
        '{type: email, host: mx.example.net, from: a@example.net, to: [b@example.net], username: u}',
        'channels.mail.username: needs password_env or password_file',
      ],
      [
        '{type: email, host: mx.example.net, from: a@example.net, to: [b@example.net], username: u, password_env: NETMON_TEST_SMTP_PASSWORD, require_tls: false}',
        'channels.mail.require_tls: a password must not go over a connection that may stay unencrypted',
      ],
      ['{type: email, host: mx.example.net, from: a@example.net, to: []}', 'channels.mail.to: expected at least one address'],
      ['{type: email, host: mx.example.net, from: "a@example.net, c@example.net", to: [b@example.net]}', 'channels.mail.from: expected one e-mail address'],
      ['{type: email, host: mx.example.net, from: a@example.net, to: [b@example.net], ca_file: none.pem}', 'channels.mail.ca_file: cannot read none.pem'],
    ]
    for (const [i, [ch, want]] of cases.entries()) {
      const f = join(t.dir, `bad-${i}.yaml`)
      writeFileSync(f, `channels:\n  mail: ${ch}\nrules: [{name: a, kind: device_new, channels: [mail]}]\n`)
      const r = await runCli(['alerts', 'rules', '--rules', f], {db: t.db, env: {NETMON_TEST_SMTP_PASSWORD: PASS}})
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toContain(`rules file ${f} ${want}`)
    }
  })
})

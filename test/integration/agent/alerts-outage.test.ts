/**
 * Issue 16, acceptance 2: channels that are down lose nothing and hold up nothing. `netmon agent
 * run` with an alerts job (every 1s) notifies a device_new rule on five channels at once: log (the
 * agent's stderr), exec (a script appending to a file), mqtt (aedes), webhook (HTTP, HMAC checked)
 * and email (smtp-server, STARTTLS + AUTH). Then for 30 s the webhook refuses connections (retried
 * with backoff) and the SMTP port is held by a server that accepts and never answers: the mail
 * channel's timeout (90 s) is longer than the outage, so one send hangs through all of it. Devices
 * registered meanwhile are each alerted on log, exec and mqtt while the outage lasts (evaluation
 * and the other channels are not held up by the hung send); when both receivers are back, each
 * gets every notification exactly once, in order. Loopback only; times are lower bounds.
 */
import {readFileSync, existsSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {type Cert, selfSigned, type Smtp, startSmtp} from '../alerts/smtp.js'
import {hungServer, webhook} from '../alerts/receivers.js'
import {freePort, type Proc, sleep, spawnCli, startAedes, waitFor} from '../bridge/helpers.js'

const SECRET = 'outage-hook-secret'
const USER = 'netmon'
const PASS = 'outage-smtp-Passw0rd'
const OUTAGE_MS = 30_000
const tmp = tempStore('netmon-alerts-outage-')
const procs: Proc[] = []
const cleanups: (() => unknown)[] = []
afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL')
  for (const c of cleanups.reverse()) await c()
  tmp.cleanup()
})

const mac = (i: number) => `AA:BB:CC:DD:27:${String(i).padStart(2, '0')}`

describe('agent alerts job: a webhook and an SMTP server down for 30 s', {timeout: 300_000}, () => {
  it('delivers every notification once and in order on every channel; the other channels and evaluation carry on meanwhile', async () => {
    const cert: Cert = selfSigned(tmp.dir)
    const hook = await webhook(SECRET)
    cleanups.push(() => hook.stop())
    let smtp: Smtp = await startSmtp({cert, user: USER, pass: PASS})
    const smtpPort = smtp.port
    cleanups.push(() => smtp.close())
    const broker = await startAedes({port: await freePort()})
    cleanups.push(() => broker.close())
    const execOut = join(tmp.dir, 'exec.ndjson')
    // The mails of the SMTP server before the outage and of the one after it.
    const first = smtp
    const mails = () => (smtp === first ? first.mails : [...first.mails, ...smtp.mails])

    const rules = join(tmp.dir, 'alerts.yaml')
    // A generous timeout: under load a slow answer must not count as a failure (it would be sent twice).
    const retry = 'max_attempts: 1000, backoff: {min: 200ms, max: 1s}, timeout: 15s'
    writeFileSync(
      rules,
      `channels:
  hook: {type: webhook, url: "http://127.0.0.1:${hook.port}/alerts", secret_env: NETMON_TEST_HOOK_SECRET, ${retry}}
  mail: {type: email, host: 127.0.0.1, port: ${smtpPort}, ca_file: ${JSON.stringify(cert.certFile)}, username: ${USER}, password_env: NETMON_TEST_SMTP_PASSWORD, from: netmon@example.net, to: [ops@example.net], max_attempts: 1000, backoff: {min: 200ms, max: 1s}, timeout: 90s}
  bus: {type: mqtt, url: "mqtt://127.0.0.1:${broker.port}", topic: "netmon/alerts/{rule}/{state}", ${retry}}
  file: {type: exec, command: [/bin/sh, -c, 'cat >> "$0"; echo >> "$0"', ${JSON.stringify(execOut)}], ${retry}}
rules:
  - {name: new-device, kind: device_new, channels: [log, hook, mail, bus, file], message: "new device {{subject}}"}
`,
    )
    const cfg = join(tmp.dir, 'agent.yaml')
    writeFileSync(cfg, ['heartbeat: 500ms', 'jobs:', '  - {name: alerting, kind: alerts, every: 1s, rules_file: alerts.yaml}', ''].join('\n'))
    const agent = spawnCli(['agent', 'run', '--config', cfg, '--db', tmp.db], {NETMON_TEST_HOOK_SECRET: SECRET, NETMON_TEST_SMTP_PASSWORD: PASS})
    procs.push(agent)

    const job = async () => {
      const r = await runCli(['agent', 'status', '--json'], {db: tmp.db})
      return r.json?.jobs?.find((j: {name: string}) => j.name === 'alerting')
    }
    // Two runs: the rule's cursor starts at the newest device, so only later ones are alerted.
    await waitFor('2 alerts runs', async () => (await job())?.runs >= 2, 60_000, 300)

    /** The subjects each channel has received, in the order it received them. */
    const seen = () => {
      const subjects = (bodies: any[]) => bodies.map(b => b.alert.subject)
      const log = [...agent.stderr().matchAll(/alert firing rule=new-device subject=(\S+)/g)].map(m => m[1])
      const file = existsSync(execOut)
        ? subjects(
            readFileSync(execOut, 'utf8')
              .split('\n')
              .filter(Boolean)
              .map(l => JSON.parse(l)),
          )
        : []
      const bus = subjects(broker.messages.filter(m => m.topic === 'netmon/alerts/new-device/firing').map(m => JSON.parse(m.payload)))
      return {log, file, bus, hook: subjects(hook.hits.map(h => h.body)), mail: mails().map(m => m.json.alert.subject)}
    }
    const register = async (i: number) => {
      const r = await runCli(['bandwidth', 'register', '--ip', `10.77.27.${10 + i}`, '--mac', mac(i)], {db: tmp.db})
      expect(r.code, r.stderr).toBe(0)
    }

    // All up: one device, alerted on all five channels.
    await register(1)
    await waitFor('device 1 on every channel', () => Object.values(seen()).every(s => s.length === 1), 60_000, 100).catch(async e => {
      throw new Error(`${e.message}: ${JSON.stringify({seen: seen(), job: (await job())?.detail})}\n${agent.stderr().slice(-3000)}`)
    })
    expect(seen()).toEqual({log: [mac(1)], file: [mac(1)], bus: [mac(1)], hook: [mac(1)], mail: [mac(1)]})

    // The outage: the webhook refuses, the SMTP port accepts and never answers.
    await hook.stop()
    await smtp.close()
    const hung = await hungServer(smtpPort)
    const outageStart = Date.now()
    const during: number[] = []
    for (let i = 2; Date.now() - outageStart < OUTAGE_MS - 8_000; i++) {
      await register(i)
      during.push(i)
      const want = [1, ...during].map(mac)
      // Alerted on the channels that are up while the others are still down.
      await waitFor(
        `device ${i} on log, exec and mqtt during the outage`,
        () => {
          const s = seen()
          return JSON.stringify([s.log, s.file, s.bus]) === JSON.stringify([want, want, want])
        },
        20_000,
        100,
      )
      expect(Date.now() - outageStart).toBeLessThan(OUTAGE_MS)
      await sleep(1500)
    }
    expect(during.length).toBeGreaterThanOrEqual(3)
    expect(seen().hook).toEqual([mac(1)])
    expect(seen().mail).toEqual([mac(1)])
    // The mail channel's one attempt is still waiting for a greeting (its timeout is 90 s, longer
    // than the outage): evaluation and the other channels went on beside it.
    expect(hung.accepted()).toBe(1)
    const st = await job()
    expect(st.detail.delivering).toContain('mail')
    expect(st.detail.waiting).toBeGreaterThanOrEqual(2 * during.length) // queued for hook and mail
    expect(st.detail.dead).toBe(0)
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - outageStart)))

    // Both back on the same ports.
    await hung.close()
    smtp = await startSmtp({cert, user: USER, pass: PASS, port: smtpPort})
    await hook.start()
    const all = [1, ...during].map(mac)
    await waitFor(
      'the backlog on the webhook and the mail server',
      () => seen().hook.length >= all.length && seen().mail.length >= all.length,
      90_000,
      200,
    ).catch(async e => {
      throw new Error(`${e.message}: ${JSON.stringify({seen: seen(), job: (await job())?.detail})}\n${agent.stderr().slice(-3000)}`)
    })
    // A few more runs: nothing is sent twice.
    const runs = (await job()).runs
    await waitFor('3 more runs', async () => (await job())?.runs >= runs + 3, 30_000, 300)
    const s = seen()
    expect(s).toEqual({log: all, file: all, bus: all, hook: all, mail: all})
    // Exactly once and in outbox order: delivery ids strictly increasing on each channel.
    const increasing = (ids: number[]) => ids.every((id, k) => k === 0 || id > ids[k - 1]!)
    expect(increasing(hook.hits.map(h => Number(h.delivery)))).toBe(true)
    expect(hook.hits.every(h => h.signatureOk)).toBe(true)
    expect(increasing(mails().map(m => Number(m.headers['x-netmon-delivery'])))).toBe(true)
    expect(mails().every(m => m.secure && m.user === USER)).toBe(true)
    const final = await job()
    expect(final.detail).toMatchObject({waiting: 0, dead: 0, delivering: []})
    expect(agent.stderr()).not.toContain(PASS)

    agent.kill('SIGTERM')
    expect((await agent.exited).code, agent.stderr()).toBe(0)
  })
})

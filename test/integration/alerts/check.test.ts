/**
 * alerts check end to end on a real store through the built CLI: samples fed with `bandwidth
 * sample`, devices from `bandwidth register`, a webhook receiver (node http, signature checked),
 * an exec channel writing a file. Times are relative to now; `for` waits are lower bounds only.
 */
import {createHmac} from 'node:crypto'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'

const SECRET = 'test-hook-secret'
const MAC = 'AA:BB:CC:DD:EE:01'
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

interface Hit {
  body: any
  signatureOk: boolean
  delivery: string
}

function receiver(port = 0): Promise<{server: Server; port: number; hits: Hit[]; close: () => Promise<void>}> {
  const hits: Hit[] = []
  const server = createServer((req, res) => {
    let data = ''
    req.setEncoding('utf8').on('data', d => (data += d))
    req.on('end', () => {
      const want = `sha256=${createHmac('sha256', SECRET).update(data).digest('hex')}`
      hits.push({body: JSON.parse(data), signatureOk: req.headers['x-netmon-signature'] === want, delivery: String(req.headers['x-netmon-delivery'])})
      res.writeHead(204).end()
    })
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () =>
      resolve({server, port: (server.address() as AddressInfo).port, hits, close: () => new Promise(r => server.close(() => r()))}),
    )
  })
}

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function setup(port: number) {
  const t = tempStore('netmon-alerts-')
  cleanups.push(t.cleanup)
  const execOut = join(t.dir, 'exec.ndjson')
  const rules = join(t.dir, 'alerts.yaml')
  writeFileSync(
    rules,
    `# The seed's two excessive-usage alerts, scaled down: total > 10 MB (10 GB) and current > 1 Mbps (100 Mbps).
channels:
  hook: {type: webhook, url: "http://127.0.0.1:${port}/alerts", secret_env: NETMON_TEST_HOOK_SECRET, max_attempts: 5, backoff: {min: 10ms, max: 20ms}, timeout: 5s}
  file: {type: exec, command: [/bin/sh, -c, 'cat >> "$0"; echo >> "$0"', ${JSON.stringify(execOut)}], timeout: 10s}
defaults: {channels: [hook, file]}
rules:
  - {name: heavy-user, kind: bandwidth_usage, window: rolling_24h, above: 10MB, for: 1s, severity: critical, message: "{{device.name}} used {{value}} in 24h"}
  - {name: fast, kind: bandwidth_rate, above: 1Mbps, for: 1s, message: "{{device.name}} at {{value}}"}
  - {name: new-device, kind: device_new}
`,
  )
  const env = {NETMON_TEST_HOOK_SECRET: SECRET}
  const cli = (args: string[]) => runCli(args, {db: t.db, env})
  const check = async (extra: string[] = []) => {
    const r = await cli(['alerts', 'check', '--rules', rules, '--json', ...extra])
    expect(r.json, r.stderr).toBeDefined()
    return r
  }
  const execLines = () =>
    existsSync(execOut)
      ? readFileSync(execOut, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map(l => JSON.parse(l))
      : []
  return {t, rules, cli, check, execLines}
}

const sig = (h: Hit) => `${h.body.transition.kind}:${h.body.alert.rule}`

describe('alerts check', () => {
  it('fires after for, resolves when clear, one notification per transition to a webhook (signed) and an exec channel; exit 0/3', async () => {
    const rx = await receiver()
    cleanups.push(rx.close)
    const {cli, check, execLines, rules: rules_} = setup(rx.port)

    let r = await check()
    expect(r.code).toBe(0)
    expect(r.json.firing_count).toBe(0)

    // A new device (bandwidth register) fires device_new at the next check, once.
    expect((await cli(['bandwidth', 'register', '--ip', '10.77.17.5', '--mac', MAC, '--hostname', 'tv'])).code).toBe(0)
    r = await check()
    expect(r.code).toBe(3)
    expect(r.json.firing.map((f: any) => f.rule)).toEqual(['new-device'])
    expect(rx.hits.map(sig)).toEqual(['firing:new-device'])

    // 20 MB over the last minute: above both thresholds (2.7 Mbit/s, 20 MB).
    expect((await cli(['bandwidth', 'sample', '--mac', MAC, '--sent', '1000', '--received', '0', '--at', '2m'])).code).toBe(0)
    expect((await cli(['bandwidth', 'sample', '--mac', MAC, '--sent', '20000000', '--received', '0', '--at', '1m'])).code).toBe(0)
    r = await check()
    // Pending (for: 1s); new-device resolved silently; nothing new sent.
    const t1 = Object.fromEntries(r.json.rules.map((x: any) => [x.rule, x.transitions.map((t: any) => t.kind)]))
    expect(t1).toEqual({'heavy-user': ['pending'], fast: ['pending'], 'new-device': ['resolved']})
    expect(r.code).toBe(0)
    expect(rx.hits).toHaveLength(1)

    await sleep(1200)
    r = await check()
    expect(r.code).toBe(3)
    expect(r.json.firing.map((f: any) => f.rule).sort()).toEqual(['fast', 'heavy-user'])
    expect(rx.hits.map(sig)).toEqual(['firing:new-device', 'firing:heavy-user', 'firing:fast'])
    const heavy = rx.hits[1]!.body
    expect(heavy.alert).toMatchObject({subject: MAC, severity: 'critical', state: 'firing', message: 'tv used 19.07 MiB in 24h'})
    expect(heavy.alert.values.bytes).toBe(20_001_000)

    // Still firing: no further notifications.
    r = await check()
    expect(r.code).toBe(3)
    expect(rx.hits).toHaveLength(3)

    // Clear both: a slow sample now (rate), and the day's bytes purged (usage).
    expect((await cli(['bandwidth', 'sample', '--mac', MAC, '--sent', '100', '--received', '0'])).code).toBe(0)
    expect((await cli(['bandwidth', 'reset', '--mac', MAC, '--purge', '--yes'])).code).toBe(0)
    r = await check()
    expect(r.code).toBe(0)
    expect(rx.hits.map(sig)).toEqual(['firing:new-device', 'firing:heavy-user', 'firing:fast', 'resolved:heavy-user', 'resolved:fast'])
    expect(rx.hits.every(h => h.signatureOk)).toBe(true)
    expect(new Set(rx.hits.map(h => h.delivery)).size).toBe(5)

    // The exec channel got the same notifications as JSON on stdin.
    expect(execLines().map(b => `${b.transition.kind}:${b.alert.rule}`)).toEqual(rx.hits.map(sig))

    // History: list and show.
    const list = await cli(['alerts', 'list', '--state', 'resolved', '--json'])
    expect(list.code).toBe(0)
    expect(list.json.alerts.map((a: any) => a.rule).sort()).toEqual(['fast', 'heavy-user', 'new-device'])
    const id = list.json.alerts.find((a: any) => a.rule === 'fast').id
    const show = await cli(['alerts', 'show', String(id), '--json'])
    expect(show.json.events.map((e: any) => `${e.kind}${e.notified ? '!' : ''}`)).toEqual(['pending', 'firing!', 'resolved!'])

    const rulesView = await cli(['alerts', 'rules', '--rules', rules_, '--json'])
    expect(rulesView.code).toBe(0)
    expect(rulesView.json.rules.map((x: any) => [x.name, x.firing, x.last_eval_at_ms !== null])).toEqual([
      ['heavy-user', 0, true],
      ['fast', 0, true],
      ['new-device', 0, true],
    ])

    // Nothing more to send, and a quiet check stays quiet.
    r = await check()
    expect(r.code).toBe(0)
    expect(rx.hits).toHaveLength(5)
  })

  it('a receiver that is down gets every notification once, in order, at the next check after it returns', async () => {
    let rx = await receiver()
    const port = rx.port
    cleanups.push(() => rx.close())
    const {cli, check} = setup(port)
    expect((await check()).code).toBe(0)
    await rx.close()

    expect((await cli(['bandwidth', 'register', '--ip', '10.77.17.6', '--mac', MAC])).code).toBe(0)
    expect((await cli(['bandwidth', 'sample', '--mac', MAC, '--sent', '1000', '--received', '0', '--at', '2m'])).code).toBe(0)
    expect((await cli(['bandwidth', 'sample', '--mac', MAC, '--sent', '20000000', '--received', '0', '--at', '1m'])).code).toBe(0)
    let r = await check()
    expect(r.code).toBe(3) // new-device fires at once
    await sleep(1200)
    r = await check()
    expect(r.code).toBe(3)
    const hook = r.json.delivery.find((d: any) => d.channel === 'hook')
    expect(hook.delivered).toBe(0)
    expect(hook.waiting).toBe(3)
    expect(hook.last_error).toMatch(/ECONNREFUSED/)
    // The exec channel was not held up by the webhook being down.
    expect(r.json.delivery.find((d: any) => d.channel === 'file')).toMatchObject({waiting: 0})

    rx = await receiver(port)
    await sleep(50) // past the 20 ms backoff cap
    r = await check()
    expect(r.json.delivery.find((d: any) => d.channel === 'hook')).toMatchObject({delivered: 3, waiting: 0})
    expect(rx.hits.map(sig)).toEqual(['firing:new-device', 'firing:heavy-user', 'firing:fast'])
    expect(rx.hits.every(h => h.signatureOk)).toBe(true)
    r = await check()
    expect(rx.hits).toHaveLength(3)
  })

  it('alerts test sends and stores nothing; silences suppress notifications and the firing exit code', async () => {
    const rx = await receiver()
    cleanups.push(rx.close)
    const {cli, check, rules} = setup(rx.port)
    expect((await check()).code).toBe(0)
    expect((await cli(['bandwidth', 'register', '--ip', '10.77.17.7', '--mac', MAC])).code).toBe(0)
    expect((await cli(['bandwidth', 'sample', '--mac', MAC, '--sent', '1000', '--received', '0', '--at', '2m'])).code).toBe(0)
    expect((await cli(['bandwidth', 'sample', '--mac', MAC, '--sent', '20000000', '--received', '0', '--at', '1m'])).code).toBe(0)

    const dry = await cli(['alerts', 'test', 'new-device', '--rules', rules, '--json'])
    expect(dry.code).toBe(0)
    expect(dry.json.rules[0].transitions.map((t: any) => t.kind)).toEqual(['pending', 'firing'])
    expect((await cli(['alerts', 'list', '--json'])).json.alerts).toEqual([])
    expect(rx.hits).toHaveLength(0)

    expect((await cli(['alerts', 'silence', '--rule', 'new-device', '--for', '1h', '--json'])).code).toBe(0)
    expect((await cli(['alerts', 'silence', '--match', `device.mac=${MAC}`, '--match', 'rule=fast', '--for', '1h'])).code).toBe(0)
    let r = await check()
    // new-device fired silenced (not counted); the usage/rate rules are pending.
    expect(r.json.firing).toMatchObject([{rule: 'new-device', silenced: true}])
    expect(r.code).toBe(0)
    await sleep(1200)
    r = await check()
    expect(r.code).toBe(3) // heavy-user is not silenced
    expect(rx.hits.map(sig)).toEqual(['firing:heavy-user'])
    const id = r.json.firing.find((f: any) => f.rule === 'fast').id
    const shown = await cli(['alerts', 'show', String(id), '--json'])
    expect(shown.json.events.map((e: any) => `${e.kind}${e.silenced ? '(silenced)' : ''}`)).toEqual(['pending', 'firing(silenced)'])
    const ack = await cli(['alerts', 'ack', String(id), '--comment', 'known backup', '--json'])
    expect(ack.json).toMatchObject({acked: true, ack_comment: 'known backup'})
  })

  it('bad rules files exit 2 naming the path', async () => {
    const {t, cli} = setup(9)
    const cases: [string, string][] = [
      ['rules: [{name: a, kind: bandwidth_rate, above: 1M, for: soon}]', 'rules[0].for: expected a duration such as 5m'],
      ['rules: [{name: a, kind: bandwidth_usage, above: 10GB}]', 'rules[0].window: expected day, month or rolling_24h'],
      ['rules: [{name: a, kind: device_new, channels: [pager]}]', 'rules[0].channels[0]: no channel named "pager"'],
      ['rules: [{name: a, kind: teleport}]', 'rules[0].kind: expected one of'],
    ]
    for (const [i, [text, want]] of cases.entries()) {
      const f = join(t.dir, `bad-${i}.yaml`)
      writeFileSync(f, text)
      const r = await cli(['alerts', 'check', '--rules', f])
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toContain(`rules file ${f} ${want}`)
      const j = await cli(['alerts', 'check', '--rules', f, '--json'])
      expect(j.code).toBe(2)
      expect(j.json.error.message).toContain(want)
    }
    const missing = await cli(['alerts', 'check', '--rules', join(t.dir, 'none.yaml')])
    expect(missing.code).toBe(2)
    expect((await cli(['alerts', 'check'])).code).toBe(2)
  })
})

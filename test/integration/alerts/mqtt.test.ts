/** The mqtt channel against a real broker (in-process aedes on loopback): QoS 1, in order, nothing lost while it is down. */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {freePort, startAedes} from '../bridge/helpers.js'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

describe('alerts mqtt channel', () => {
  it('publishes each transition once with QoS 1, and a broker that was down gets the backlog in order', async () => {
    const t = tempStore('netmon-alerts-mqtt-')
    cleanups.push(t.cleanup)
    const port = await freePort()
    const rules = join(t.dir, 'alerts.yaml')
    writeFileSync(
      rules,
      `channels:
  bus: {type: mqtt, url: "mqtt://127.0.0.1:${port}", topic: "netmon/alerts/{rule}/{state}", timeout: 3s, backoff: {min: 10ms, max: 20ms}}
defaults: {channels: [bus]}
rules:
  - {name: new-device, kind: device_new}
  - {name: heavy-user, kind: bandwidth_usage, window: rolling_24h, above: 10MB}
`,
    )
    const cli = (args: string[]) => runCli(args, {db: t.db})
    const check = () => cli(['alerts', 'check', '--rules', rules, '--json'])
    expect((await check()).code).toBe(0)

    // Broker down: the check still evaluates and exits by what fires; the notifications wait.
    expect((await cli(['bandwidth', 'register', '--ip', '10.77.17.8', '--mac', 'AA:BB:CC:DD:EE:08', '--hostname', 'nas'])).code).toBe(0)
    expect((await cli(['bandwidth', 'sample', '--mac', 'AA:BB:CC:DD:EE:08', '--sent', '20000000', '--received', '0', '--at', '1m'])).code).toBe(0)
    let r = await check()
    expect(r.code).toBe(3)
    expect(r.json.delivery).toMatchObject([{channel: 'bus', delivered: 0, waiting: 2}])
    expect(r.json.delivery[0].last_error).toMatch(/^mqtt bus: not connected/)

    const broker = await startAedes({port})
    cleanups.push(() => broker.close())
    await new Promise(res => setTimeout(res, 50))
    r = await check()
    expect(r.json.delivery).toMatchObject([{channel: 'bus', waiting: 0}])
    // new-device resolved silently in this check; heavy-user still fires: nothing new to send.
    const got = broker.messages.filter(m => m.topic.startsWith('netmon/alerts/'))
    expect(got.map(m => `${m.topic} q${m.qos}`)).toEqual(['netmon/alerts/new-device/firing q1', 'netmon/alerts/heavy-user/firing q1'])
    expect(JSON.parse(got[1]!.payload).alert).toMatchObject({rule: 'heavy-user', subject: 'AA:BB:CC:DD:EE:08', message: 'nas used 19.07 MiB (above 9.54 MiB)'})

    expect((await cli(['bandwidth', 'reset', '--mac', 'AA:BB:CC:DD:EE:08', '--purge', '--yes'])).code).toBe(0)
    r = await check()
    expect(r.code).toBe(0)
    expect(broker.messages.filter(m => m.topic.startsWith('netmon/alerts/')).map(m => m.topic)).toEqual([
      'netmon/alerts/new-device/firing',
      'netmon/alerts/heavy-user/firing',
      'netmon/alerts/heavy-user/resolved',
    ])
  })
})

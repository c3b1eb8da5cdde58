import {EventEmitter} from 'node:events'
import {afterEach, describe, expect, it, vi} from 'vitest'
import {backoffDelay} from '../../../src/core/bridge/backoff.js'
import {MqttConnection, type MqttClientLike} from '../../../src/core/mqtt/connection.js'
import {gatewayConnectMessage, renderTopic, telemetryMessage} from '../../../src/core/mqtt/formats.js'
import {publishPacketSize} from '../../../src/core/mqtt/packet.js'
import {startAedes} from '../../integration/bridge/helpers.js'

describe('MQTT publish packet size', () => {
  it('equals what mqtt-packet serializes (protocol 4), across the Remaining Length boundaries', async () => {
    const mp = ((await import('mqtt-packet')) as any).default ?? (await import('mqtt-packet'))
    for (const [topic, size] of [
      ['v1/gateway/telemetry', 10],
      ['t', 0],
      ['netmon/meters/Zähler Ω', 100],
      ['x', 125],
      ['x', 16_380],
      ['y', 2_097_000],
      ['z', 127],
    ] as [string, number][]) {
      const payload = Buffer.alloc(size, 97)
      const bytes = mp.generate({cmd: 'publish', topic, payload, qos: 1, messageId: 42, retain: false, dup: false}, {protocolVersion: 4})
      expect(publishPacketSize(topic, size, 1), `${topic}/${size}`).toBe(bytes.length)
      const q0 = mp.generate({cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false}, {protocolVersion: 4})
      expect(publishPacketSize(topic, size, 0)).toBe(q0.length)
    }
  })
})

describe('publish formats', () => {
  const m = {id: 'm1', name: 'Meter "A"'}
  it('thingsboard-gateway', () => {
    const msg = telemetryMessage('thingsboard-gateway', '', m, 1700000000000, '{"e":1.5}')
    expect(msg.topic).toBe('v1/gateway/telemetry')
    expect(JSON.parse(msg.payload)).toEqual({'Meter "A"': [{ts: 1700000000000, values: {e: 1.5}}]})
    expect(gatewayConnectMessage(m.name)).toEqual({topic: 'v1/gateway/connect', payload: '{"device":"Meter \\"A\\""}'})
    expect(gatewayConnectMessage('m1', 'DLMS meter')).toEqual({topic: 'v1/gateway/connect', payload: '{"device":"m1","type":"DLMS meter"}'})
  })
  it('thingsboard-device', () => {
    const msg = telemetryMessage('thingsboard-device', '', m, 5, '{"v":230}')
    expect(msg).toEqual({topic: 'v1/devices/me/telemetry', payload: '{"ts":5,"values":{"v":230}}'})
  })
  it('plain, with topic placeholders made safe', () => {
    const msg = telemetryMessage('plain', 'netmon/meters/{name}', {id: 'a', name: 'x/y+#'}, 0, '{}')
    expect(msg.topic).toBe('netmon/meters/x_y__')
    expect(JSON.parse(msg.payload)).toEqual({meter_id: 'a', name: 'x/y+#', ts: 0, time: '1970-01-01T00:00:00.000Z', values: {}})
    expect(renderTopic('s/{id}/{name}', {id: 'i', name: 'n'})).toBe('s/i/n')
  })
})

describe('backoff', () => {
  it('grows exponentially, stays within [d/2, d], is capped', () => {
    const p = {minMs: 1000, maxMs: 30_000}
    expect(backoffDelay(1, p, () => 0)).toBe(500)
    expect(backoffDelay(1, p, () => 1)).toBe(1000)
    expect(backoffDelay(3, p, () => 1)).toBe(4000)
    expect(backoffDelay(3, p, () => 0)).toBe(2000)
    expect(backoffDelay(10, p, () => 1)).toBe(30_000)
    expect(backoffDelay(10_000, p, () => 0.5)).toBe(22_500)
    for (let i = 1; i < 50; i++) {
      const d = backoffDelay(i, p)
      expect(d).toBeGreaterThanOrEqual(Math.min(30_000, 1000 * 2 ** (i - 1)) / 2)
      expect(d).toBeLessThanOrEqual(30_000)
    }
  })
})

/** A stand-in for mqtt.js's client that fails every connection attempt. */
class FailingClient extends EventEmitter implements MqttClientLike {
  constructor() {
    super()
    queueMicrotask(() => {
      this.emit('error', new Error('connect ECONNREFUSED 127.0.0.1:1'))
      this.emit('close')
    })
  }
  publish(): unknown {
    return this
  }
  end(_f: boolean, _o: object, cb: () => void): unknown {
    cb()
    return this
  }
}

describe('MqttConnection reconnect (fake timers)', () => {
  afterEach(() => vi.useRealTimers())

  it("retries with capped exponential backoff + jitter, not mqtt.js's fixed period", async () => {
    vi.useFakeTimers()
    const attemptsAt: number[] = []
    const t0 = Date.now()
    const c = new MqttConnection({
      url: 'mqtt://127.0.0.1:1',
      clientId: 't',
      reconnect: {minMs: 1000, maxMs: 8000},
      random: () => 1, // jitter at its top: delays are exactly min·2^(n-1), capped
      connect: () => {
        attemptsAt.push(Date.now() - t0)
        return new FailingClient()
      },
    })
    const retries: number[] = []
    c.on('retry', (r: {delayMs: number}) => retries.push(r.delayMs))
    c.start()
    await vi.advanceTimersByTimeAsync(60_000)
    await c.stop()
    expect(retries.slice(0, 6)).toEqual([1000, 2000, 4000, 8000, 8000, 8000])
    // attempt k+1 starts exactly the backoff after attempt k failed
    expect(attemptsAt.slice(0, 5)).toEqual([0, 1000, 3000, 7000, 15_000])
    expect(c.connected).toBe(false)
  })

  it('jitter spreads the delays of many bridges', async () => {
    vi.useFakeTimers()
    const delays = new Set<number>()
    for (let i = 0; i < 20; i++) {
      const c = new MqttConnection({url: 'mqtt://x', clientId: 't', reconnect: {minMs: 1000, maxMs: 8000}, connect: () => new FailingClient()})
      c.on('retry', (r: {delayMs: number}) => delays.add(r.delayMs))
      c.start()
      await vi.advanceTimersByTimeAsync(5)
      await c.stop()
    }
    expect(delays.size).toBeGreaterThan(10)
    for (const d of delays) expect(d >= 500 && d <= 1000).toBe(true)
  })
})

/** A client that connects and answers SUBSCRIBE as told: never, or with the granted QoS list. */
class SubscribingClient extends EventEmitter implements MqttClientLike {
  subscribed: string[] = []
  constructor(private readonly suback: 'never' | number[]) {
    super()
    queueMicrotask(() => this.emit('connect'))
  }
  subscribe(topics: string[], _o: object, cb: (err: Error | null, granted?: {topic: string; qos: number}[]) => void): unknown {
    this.subscribed.push(...topics)
    const s = this.suback
    if (s !== 'never')
      queueMicrotask(() =>
        cb(
          null,
          topics.map((topic, i) => ({topic, qos: s[i] ?? 1})),
        ),
      )
    return this
  }
  publish(): unknown {
    return this
  }
  end(_f: boolean, _o: object, cb: () => void): unknown {
    cb()
    return this
  }
}

describe('MqttConnection subscriptions (the downlink)', () => {
  afterEach(() => vi.useRealTimers())
  const lines: string[] = []
  const log = {debug: () => {}, info: () => {}, warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`)} as never

  it("subscribes before 'connect'; a refused filter is an error line; a broker that never sends SUBACK does not hold the readings back", async () => {
    vi.useFakeTimers()
    const topics = ['v1/gateway/rpc', 'v1/gateway/attributes']
    for (const [suback, wantConnectAt, line] of [
      [[1, 1], 0, undefined],
      [[1, 0x80], 0, 'error mqtt broker: subscription refused for v1/gateway/attributes'],
      ['never', 2000, 'warn mqtt broker: no SUBACK for v1/gateway/rpc, v1/gateway/attributes in 2000 ms; publishing anyway'],
    ] as const) {
      lines.length = 0
      const client = new SubscribingClient(suback as 'never' | number[])
      const c = new MqttConnection({
        url: 'mqtt://x',
        clientId: 't',
        reconnect: {minMs: 1000, maxMs: 8000},
        connectTimeoutMs: 2000,
        subscriptions: topics,
        log,
        connect: () => client,
      })
      const t0 = Date.now()
      let connectAt: number | undefined
      c.on('connect', () => (connectAt = Date.now() - t0))
      c.start()
      await vi.advanceTimersByTimeAsync(1999)
      if (wantConnectAt === 0) expect(connectAt).toBe(0)
      else expect(connectAt).toBeUndefined()
      await vi.advanceTimersByTimeAsync(10)
      expect(connectAt).toBe(wantConnectAt)
      expect(client.subscribed).toEqual(topics)
      expect(c.connected).toBe(true)
      if (line) expect(lines).toContainEqual(line)
      else expect(lines).toEqual([])
      await c.stop()
    }
  })
})

describe('MqttConnection against a real broker (aedes)', () => {
  it('resolves on PUBACK, counts messages/bytes, rejects pending publishes when the connection is lost, reconnects', async () => {
    const broker = await startAedes()
    const c = new MqttConnection({url: `mqtt://127.0.0.1:${broker.port}`, clientId: 'unit', reconnect: {minMs: 50, maxMs: 200}})
    try {
      await expect(c.publish('a', 'x')).rejects.toThrow(/not connected/)
      const up = new Promise(r => c.once('connect', r))
      c.start()
      await up
      await Promise.all(Array.from({length: 50}, (_, i) => c.publish('t/1', `{"i":${i}}`)))
      expect(c.stats.messagesSent).toBe(50)
      expect(c.stats.messagesAcked).toBe(50)
      expect(c.stats.bytesSent).toBe(Array.from({length: 50}, (_, i) => publishPacketSize('t/1', `{"i":${i}}`.length)).reduce((a, b) => a + b))
      expect(broker.messages.filter(m => m.topic === 't/1').map(m => JSON.parse(m.payload).i)).toEqual(Array.from({length: 50}, (_, i) => i))
      // Lose the connection with publishes in flight: they reject (the outbox re-sends them), the connection comes back.
      const down = new Promise(r => c.once('disconnect', r))
      const pending = Array.from({length: 20}, () =>
        c.publish('t/2', 'y').then(
          () => 'acked',
          () => 'rejected',
        ),
      )
      await broker.close()
      await down
      const results = await Promise.all(pending)
      expect(results.every(r => r === 'acked' || r === 'rejected')).toBe(true)
      expect(c.inflight).toBe(0)
      const broker2 = await startAedes({port: broker.port})
      try {
        await new Promise(r => c.once('connect', r))
        await c.publish('t/3', 'z')
        expect(broker2.messages.map(m => m.topic)).toContain('t/3')
        expect(c.stats.connects).toBe(2)
      } finally {
        await c.stop(1000)
        await broker2.close()
      }
    } finally {
      await c.stop()
    }
  })
})

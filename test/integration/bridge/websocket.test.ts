/**
 * mqtt over WebSocket (ws://, issue 8's URL forms): aedes behind a `ws` server on loopback (ws is
 * what mqtt.js itself uses for WebSockets), the bridge as a child process.
 */
import {writeFileSync} from 'node:fs'
import {createServer} from 'node:http'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {spawnCli, startSimulatorProcess, waitFor} from './helpers.js'

describe('bridge over ws://', {timeout: 60_000}, () => {
  const tmp = tempStore('netmon-bridge-ws-')
  afterAll(() => tmp.cleanup())

  it('publishes readings to a broker reached through a WebSocket', async () => {
    const {Aedes} = await import('aedes')
    const {WebSocketServer, createWebSocketStream} = await import('ws')
    const broker = await Aedes.createBroker()
    const received: string[] = []
    broker.on('publish', (p, client) => {
      if (client) received.push(p.topic)
    })
    const http = createServer()
    const wss = new WebSocketServer({server: http, path: '/mqtt'})
    wss.on('connection', socket => broker.handle(createWebSocketStream(socket) as never))
    await new Promise<void>(r => http.listen(0, '127.0.0.1', () => r()))
    const port = (http.address() as {port: number}).port
    const sim = await startSimulatorProcess(tmp.dir, 'sim', {meters: 1})
    const cfg = join(tmp.dir, 'ws.json')
    writeFileSync(
      cfg,
      JSON.stringify({
        mqtt: {url: `ws://127.0.0.1:${port}/mqtt`, reconnect: {min: '200ms', max: '1s'}},
        publish: {format: 'plain', topic: 'ws/{id}'},
        meters: [{id: 'w1', host: '127.0.0.1', port: sim.ports[0], poll_interval: '300ms', obis: {'1.0.1.8.0.255': 'e'}}],
      }),
    )
    const bridge = spawnCli(['bridge', 'run', '--config', cfg, '--db', tmp.db])
    try {
      await waitFor('a reading over ws://', () => received.filter(t => t === 'ws/w1').length >= 2, 30_000)
      const s = await runCli(['bridge', 'status', '--json'], {db: tmp.db})
      expect(s.json.broker).toMatchObject({url: `ws://127.0.0.1:${port}/mqtt`, connected: true})
    } finally {
      bridge.kill('SIGTERM')
      await bridge.exited
      sim.kill('SIGKILL')
      wss.close()
      await new Promise<void>(r => broker.close(() => r()))
      await new Promise<void>(r => http.close(() => r()))
    }
    expect((await bridge.exited).code).toBe(0)
  })
})

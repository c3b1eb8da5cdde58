/**
 * mqtts:// with the config's CA file (and a wrong CA refused): a self-signed certificate for
 * 127.0.0.1 made by openssl, aedes behind node's TLS server, the bridge as a child process.
 */
import {spawnSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import tls from 'node:tls'
import {afterAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {logLines, spawnCli, startSimulatorProcess, waitFor} from './helpers.js'

const OPENSSL = spawnSync('sh', ['-c', 'command -v openssl'], {encoding: 'utf8'}).stdout.trim()

describe.skipIf(!OPENSSL)('bridge over TLS (mqtts://, CA from the config) — skipped without openssl', {timeout: 120_000}, () => {
  const tmp = tempStore('netmon-bridge-tls-')
  afterAll(() => tmp.cleanup())

  const cert = (name: string) => {
    const r = spawnSync(
      OPENSSL,
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(tmp.dir, `${name}.key`),
        '-out',
        join(tmp.dir, `${name}.pem`),
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      {encoding: 'utf8'},
    )
    expect(r.status, r.stderr).toBe(0)
  }

  it('publishes over mqtts:// trusting the configured CA, and refuses a broker signed by another CA', async () => {
    cert('server')
    cert('other')
    const {Aedes} = await import('aedes')
    const broker = await Aedes.createBroker()
    const received: string[] = []
    broker.on('publish', (p, client) => {
      if (client) received.push(p.topic)
    })
    const server = tls.createServer({key: readFileSync(join(tmp.dir, 'server.key')), cert: readFileSync(join(tmp.dir, 'server.pem'))}, broker.handle)
    await new Promise<void>(r => server.listen(0, '127.0.0.1', () => r()))
    const port = (server.address() as {port: number}).port
    const sim = await startSimulatorProcess(tmp.dir, 'sim', {meters: 1})
    const config = (ca: string) => ({
      mqtt: {url: `mqtts://127.0.0.1:${port}`, ca, reconnect: {min: '200ms', max: '1s'}},
      publish: {format: 'plain', topic: 'tls/{id}'},
      meters: [{id: 't1', host: '127.0.0.1', port: sim.ports[0], poll_interval: '300ms', obis: {'1.0.1.8.0.255': 'e'}}],
    })
    writeFileSync(join(tmp.dir, 'good.json'), JSON.stringify(config('server.pem')))
    writeFileSync(join(tmp.dir, 'bad.json'), JSON.stringify(config('other.pem')))
    const good = spawnCli(['bridge', 'run', '--config', join(tmp.dir, 'good.json'), '--db', join(tmp.dir, 'good.db')])
    const bad = spawnCli(['bridge', 'run', '--config', join(tmp.dir, 'bad.json'), '--db', join(tmp.dir, 'bad.db'), '--log-format', 'json'])
    try {
      await waitFor('a reading over TLS', () => received.includes('tls/t1'), 30_000)
      // The wrongly trusted one keeps retrying and says why; its readings wait in the outbox.
      await waitFor('the certificate error', () => /certificate|self.signed|unable to verify/i.test(bad.stderr()), 30_000)
      const s = await runCli(['bridge', 'status', '--json'], {db: join(tmp.dir, 'bad.db'), timeoutMs: 60_000})
      expect(s.json.broker.connected).toBe(false)
      // An untrusted certificate is a refusal: error level, and named in the status (issue 18 item 5).
      const line = logLines(bad.stderr()).find(l => l.level === 'error' && l.refusal === 'untrusted-certificate')
      expect(line, bad.stderr()).toBeDefined()
      await waitFor(
        'status: refused (untrusted-certificate)',
        async () =>
          (await runCli(['bridge', 'status', '--json'], {db: join(tmp.dir, 'bad.db'), timeoutMs: 60_000})).json.broker.refused === 'untrusted-certificate',
        30_000,
        300,
      )
      await waitFor(
        'a backlog in the outbox',
        async () => (await runCli(['bridge', 'status', '--json'], {db: join(tmp.dir, 'bad.db'), timeoutMs: 60_000})).json.outbox.depth > 0,
        30_000,
        300,
      )
    } finally {
      good.kill('SIGTERM')
      bad.kill('SIGTERM')
      await Promise.all([good.exited, bad.exited])
      sim.kill('SIGKILL')
      await new Promise<void>(r => broker.close(() => r()))
      await new Promise<void>(r => server.close(() => r()))
    }
    expect((await good.exited).code).toBe(0)
  })

  it("mutual TLS: the config's client certificate and key are presented; without them the broker refuses", async () => {
    cert('mserver')
    cert('client')
    const {Aedes} = await import('aedes')
    const broker = await Aedes.createBroker()
    const received: string[] = []
    broker.on('publish', (p, client) => {
      if (client) received.push(p.topic)
    })
    // The broker asks every client for a certificate signed by (here: equal to) client.pem.
    const server = tls.createServer(
      {
        key: readFileSync(join(tmp.dir, 'mserver.key')),
        cert: readFileSync(join(tmp.dir, 'mserver.pem')),
        ca: readFileSync(join(tmp.dir, 'client.pem')),
        requestCert: true,
        rejectUnauthorized: true,
      },
      broker.handle,
    )
    await new Promise<void>(r => server.listen(0, '127.0.0.1', () => r()))
    const port = (server.address() as {port: number}).port
    const sim = await startSimulatorProcess(tmp.dir, 'msim', {meters: 1})
    const config = (withCert: boolean) => ({
      mqtt: {
        url: `mqtts://127.0.0.1:${port}`,
        ca: 'mserver.pem',
        ...(withCert ? {cert: 'client.pem', key: 'client.key'} : {}),
        reconnect: {min: '200ms', max: '1s'},
      },
      publish: {format: 'plain', topic: `mtls/${withCert ? 'yes' : 'no'}/{id}`},
      meters: [{id: 'm', host: '127.0.0.1', port: sim.ports[0], poll_interval: '300ms', obis: {'1.0.1.8.0.255': 'e'}}],
    })
    writeFileSync(join(tmp.dir, 'mtls-yes.json'), JSON.stringify(config(true)))
    writeFileSync(join(tmp.dir, 'mtls-no.json'), JSON.stringify(config(false)))
    const yes = spawnCli(['bridge', 'run', '--config', join(tmp.dir, 'mtls-yes.json'), '--db', join(tmp.dir, 'mtls-yes.db')])
    const no = spawnCli(['bridge', 'run', '--config', join(tmp.dir, 'mtls-no.json'), '--db', join(tmp.dir, 'mtls-no.db'), '--log-format', 'json'])
    try {
      await waitFor('a reading over mutual TLS', () => received.includes('mtls/yes/m'), 30_000)
      await waitFor(
        'the refused one keeps a backlog',
        async () => (await runCli(['bridge', 'status', '--json'], {db: join(tmp.dir, 'mtls-no.db'), timeoutMs: 60_000})).json?.outbox?.depth > 0,
        30_000,
        300,
      )
      expect(received).not.toContain('mtls/no/m')
      expect(no.stderr()).toMatch(/certificate|handshake|alert|ECONNRESET|socket hang up/i)
    } finally {
      yes.kill('SIGTERM')
      no.kill('SIGTERM')
      await Promise.all([yes.exited, no.exited])
      sim.kill('SIGKILL')
      await new Promise<void>(r => broker.close(() => r()))
      await new Promise<void>(r => server.close(() => r()))
    }
  })
})

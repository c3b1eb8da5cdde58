/**
 * Issue 10, acceptance 4 on the real command: `netmon serve --host <non-loopback>` without a token
 * refuses to start (exit 2) BEFORE binding anything (so these cases never listen off-loopback);
 * with a token (forced on loopback here) requests without it get 401. Plus start-up errors and
 * the graceful SIGTERM stop.
 */
import net from 'node:net'
import {afterAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {http, startServe} from './harness.js'

const tmp = tempStore('netmon-serve-life-')
afterAll(() => tmp.cleanup())
const TOKEN = 'c0ffee'.repeat(8)

describe('refusals before binding', () => {
  it.each(['0.0.0.0', '::', '192.0.2.10', 'netmon.example'])('--host %s without a token → exit 2, nothing listens', async host => {
    const r = await runCli(['serve', '--host', host, '--port', '0', '--json'], {db: tmp.db})
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^Error: refusing to listen on .* not a loopback address and no token was given \(pass --token-env VAR/m)
    expect(r.stderr).not.toContain('listening on')
    expect(r.json.error.code).toBe('USAGE')
  })

  it('a --token-env naming an unset variable, or a short token, → exit 2', async () => {
    const unset = await runCli(['serve', '--host', '0.0.0.0', '--port', '0', '--token-env', 'NETMON_TEST_NO_SUCH_VAR'], {
      db: tmp.db,
      env: {NETMON_TEST_NO_SUCH_VAR: undefined},
    })
    expect(unset.code).toBe(2)
    expect(unset.stderr).toContain('--token-env NETMON_TEST_NO_SUCH_VAR: the environment variable is not set or empty')
    const short = await runCli(['serve', '--port', '0', '--token-env', 'T'], {db: tmp.db, env: {T: 'abc'}})
    expect(short.code).toBe(2)
    expect(short.stderr).toContain('shorter than 16')
    // The token itself never appears in output.
    const bad = await runCli(['serve', '--port', '99999', '--token-env', 'T'], {db: tmp.db, env: {T: TOKEN}})
    expect(bad.code).toBe(2)
    expect(bad.stderr + bad.stdout).not.toContain(TOKEN)
  })

  it('a port in use → exit 1 with the way out', async () => {
    const s = net.createServer()
    await new Promise<void>(r => s.listen(0, '127.0.0.1', () => r()))
    const port = (s.address() as net.AddressInfo).port
    try {
      const r = await runCli(['serve', '--port', String(port)], {db: tmp.db})
      expect(r.code).toBe(1)
      expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${port}: the port is in use (choose another --port`)
    } finally {
      s.close()
    }
  })
})

describe('a token forced on loopback', () => {
  it('every route but /healthz and the dashboard shell needs it; SIGTERM stops with exit 0', async () => {
    const srv = await startServe(tmp.db, ['--token-env', 'NETMON_SERVE_TEST_TOKEN', '--json'], {NETMON_SERVE_TEST_TOKEN: TOKEN})
    try {
      expect(srv.stderr()).toContain('bearer token from $NETMON_SERVE_TEST_TOKEN required')
      expect(srv.stderr()).not.toContain(TOKEN)
      for (const path of ['/api/network/bandwidth/stats', '/api/network/devices', '/meters', '/metrics', '/openapi.json', '/api/server', '/api/alerts']) {
        const r = await http(srv.url + path)
        expect(r.status, path).toBe(401)
        expect(r.json.error.code).toBe('UNAUTHORIZED')
        const wrong = await http(srv.url + path, {headers: {authorization: `Bearer ${TOKEN.slice(0, -1)}0`}})
        expect(wrong.status, path).toBe(401)
        const ok = await http(srv.url + path, {headers: {authorization: `Bearer ${TOKEN}`}})
        expect(ok.status, path).toBe(200)
      }
      const post = await http(`${srv.url}/api/network/bandwidth/register`, {method: 'POST', json: {ip: '10.1.1.1', mac: 'aa:bb:cc:00:00:01'}})
      expect(post.status).toBe(401)
      // The alert ack is a write like the others: 401 without the token, 404 (no such alert) with it.
      expect((await http(`${srv.url}/api/alerts/1/ack`, {method: 'POST', json: {}})).status).toBe(401)
      expect((await http(`${srv.url}/api/alerts/1/ack`, {method: 'POST', json: {}, headers: {authorization: `Bearer ${TOKEN}`}})).status).toBe(404)
      expect((await http(`${srv.url}/healthz`)).json).toMatchObject({status: 'ok'})
      expect((await http(`${srv.url}/`)).status).toBe(200)
    } finally {
      const r = await srv.stop('SIGTERM')
      expect(r.code).toBe(0)
    }
    // --json: the summary on stdout when stopped; nothing was registered by the refused POST.
    expect(JSON.parse(srv.stdout())).toMatchObject({stopped_by: 'SIGTERM', requests: expect.any(Number), url: srv.url})
    const devices = await runCli(['devices', 'list', '--json'], {db: tmp.db})
    expect(devices.json.count).toBe(0)
  }, 60_000)

  it('SIGTERM lets a request in flight finish', async () => {
    const srv = await startServe(tmp.db)
    const listener = net.createServer(s => s.destroy())
    await new Promise<void>(r => listener.listen(0, '127.0.0.1', () => r()))
    const port = (listener.address() as net.AddressInfo).port
    try {
      // A measurement of ~1 s is under way when the signal arrives.
      const pending = http(`${srv.url}/api/network/latency/measure`, {
        method: 'POST',
        json: {hosts: ['127.0.0.1'], method: 'tcp', port, count: 10, interval: 100},
      })
      await new Promise(r => setTimeout(r, 300))
      const stopped = srv.stop('SIGTERM')
      const r = await pending
      expect(r.status).toBe(200)
      // Aborted early by the shutdown, it still answers with what it measured.
      expect(r.json.hosts[0].sent).toBeGreaterThan(0)
      expect((await stopped).code).toBe(0)
    } finally {
      listener.close()
      await srv.stop()
    }
  }, 60_000)
})

/**
 * Issue 13 through the built CLI on loopback: listeners on 127.0.0.1 send the MySQL/MariaDB
 * greetings recorded in test/vectors/mysql (see its README.md) and `scan --banners` reports the
 * readable version ("MySQL 8.0.32", not the "J" of the greeting's length byte) with service mysql
 * whatever the port, in JSON and in the text table. A port that speaks another protocol keeps its
 * line banner and its port's service name.
 */
import {readFileSync} from 'node:fs'
import net from 'node:net'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'

const vectors = (
  JSON.parse(readFileSync(join(import.meta.dirname, '../../vectors/mysql/greetings.json'), 'utf8')) as {
    greetings: {name: string; hex: string; banner: string}[]
  }
).greetings
const pick = (name: string) => vectors.find(v => v.name === name)!

describe('scan --banners: MySQL greetings decoded', () => {
  const t = tempStore('netmon-banner-mysql-')
  const servers: net.Server[] = []
  /** port → what that listener's banner must be */
  const expected = new Map<number, {banner: string; service: string | null}>()
  let sshPort = 0

  const listen = async (onConn: (c: net.Socket) => void) => {
    const s = net.createServer(c => {
      c.on('error', () => {})
      onConn(c)
    })
    await new Promise<void>(r => s.listen(0, '127.0.0.1', r))
    servers.push(s)
    return (s.address() as net.AddressInfo).port
  }

  beforeAll(async () => {
    // A greeting server waits for the client (as mysqld does); the refusal closes after sending.
    for (const name of ['mysql-8.0.32', 'mariadb-10.11.19-debian']) {
      const v = pick(name)
      const port = await listen(c => c.write(Buffer.from(v.hex, 'hex')))
      expected.set(port, {banner: v.banner, service: 'mysql'})
    }
    const refusal = pick('mariadb-10.11.19-host-not-allowed')
    expected.set(await listen(c => c.end(Buffer.from(refusal.hex, 'hex'))), {banner: refusal.banner, service: 'mysql'})
    sshPort = await listen(c => c.write('SSH-2.0-netmon-test\r\n'))
  })

  afterAll(async () => {
    for (const s of servers) await new Promise(r => s.close(r))
    t.cleanup()
  })

  const args = () => ['scan', '127.0.0.1', '--ports', [...expected.keys(), sshPort].join(','), '--banners', '--banner-timeout', '5s', '--no-rdns']

  it('--json: each MySQL port has the readable version (or refusal) and service mysql; SSH is untouched', async () => {
    const r = await runCli([...args(), '--json'], {db: t.db, timeoutMs: 60_000})
    expect(r.code, r.stderr).toBe(0)
    const ports = r.json.hosts[0].ports as {port: number; service: string | null; banner: string | null}[]
    for (const [port, want] of expected)
      expect(
        ports.find(p => p.port === port),
        `port ${port}`,
      ).toMatchObject({port, proto: 'tcp', ...want})
    const ssh = ports.find(p => p.port === sshPort)!
    expect(ssh.banner).toBe('SSH-2.0-netmon-test')
    expect(ssh.service).not.toBe('mysql')
    expect(JSON.stringify(ports)).not.toMatch(/"banner":"J"/)
  })

  it('text: the table lists each open port with its banner', async () => {
    const r = await runCli(args(), {db: t.db, timeoutMs: 60_000})
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('Open ports, banners')
    for (const [port, want] of expected) {
      const shown = want.banner.length > 60 ? `${want.banner.slice(0, 57)}...` : want.banner
      expect(r.stdout, `port ${port}`).toContain(`${port}/mysql  ${shown}`)
    }
    expect(r.stdout).toMatch(new RegExp(`${sshPort}(/\\S+)?  SSH-2.0-netmon-test`))
    // Every table line is printable ASCII (box drawing aside) and no banner runs past 60 characters.
    for (const line of r.stdout.split('\n')) expect(line).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/)
  })
})

/**
 * The MySQL/MariaDB greeting decoder (issue 13: the banner of a MySQL port was "J", the greeting's
 * length byte) against greetings recorded from real servers (test/vectors/mysql/README.md), and
 * bytes of other protocols that must not be taken for MySQL. The banner grab itself against a real
 * loopback listener that sends a greeting in two pieces.
 */
import {readFileSync} from 'node:fs'
import net from 'node:net'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {describeBanner, grabBanner} from '../../../src/core/scan/banner.js'
import {decodeMysqlGreeting, mysqlBannerText, mysqlPacketStatus} from '../../../src/core/scan/mysql.js'

interface Vector {
  name: string
  hex: string
  expect: Record<string, unknown>
  banner: string
}
const file = JSON.parse(readFileSync(join(import.meta.dirname, '../../vectors/mysql/greetings.json'), 'utf8')) as {
  greetings: Vector[]
  err_packet_doc_example: {hex: string}
}
const vectors = file.greetings
const bytes = (hex: string) => Buffer.from(hex, 'hex')
const vector = (name: string) => bytes(vectors.find(v => v.name === name)!.hex)

describe('recorded greetings', () => {
  it('has the five vectors', () => {
    expect(vectors.map(v => v.name)).toEqual([
      'mysql-8.0.32',
      'mysql-5.5.46-ubuntu',
      'mysql-5.0.22-community-nt',
      'mariadb-10.11.19-debian',
      'mariadb-10.11.19-host-not-allowed',
    ])
  })

  it.each(vectors.map(v => [v.name, v] as const))('%s decodes to its version (or error) and banner', (_, v) => {
    const b = bytes(v.hex)
    expect(mysqlPacketStatus(b)).toBe('complete')
    const g = decodeMysqlGreeting(b)
    expect(g).toEqual(v.expect)
    expect(mysqlBannerText(g!)).toBe(v.banner)
    expect(describeBanner(b)).toEqual({text: v.banner, service: 'mysql'})
  })

  it.each(vectors.map(v => [v.name, v] as const))('%s arriving in pieces: every strict prefix is "partial" (a grab waits for the rest)', (_, v) => {
    const b = bytes(v.hex)
    for (let n = 1; n < b.length; n++) expect(mysqlPacketStatus(b.subarray(0, n)), `${n} bytes`).toBe('partial')
  })

  it('a greeting cut before its scramble is not decoded, and is no banner (not "J")', () => {
    const b = vector('mysql-8.0.32')
    for (const n of [1, 4, 5, 12, 20]) {
      expect(decodeMysqlGreeting(b.subarray(0, n)), `${n} bytes`).toBeNull()
      expect(describeBanner(b.subarray(0, n)), `${n} bytes`).toBeNull()
    }
    // From the filler on the version is known.
    expect(mysqlBannerText(decodeMysqlGreeting(b.subarray(0, 4 + 21))!)).toBe('MySQL 8.0.32')
  })

  it('MariaDB without the 5.5.5- prefix (11.x style) and a MySQL-protocol server keep their version', () => {
    const maria = vector('mariadb-10.11.19-debian')
    const v = maria.subarray(5, maria.indexOf(0, 5)).toString('latin1')
    expect(v).toBe('5.5.5-10.11.19-MariaDB-0+deb12u1')
    const rest = maria.subarray(5 + v.length)
    const build = (version: string) => {
      const payload = Buffer.concat([Buffer.from([0x0a]), Buffer.from(version, 'latin1'), rest])
      return Buffer.concat([Buffer.from([payload.length & 0xff, payload.length >> 8, 0, 0]), payload])
    }
    expect(describeBanner(build('11.4.2-MariaDB-ubu2404'))).toEqual({text: 'MariaDB 11.4.2-MariaDB-ubu2404', service: 'mysql'})
    expect(describeBanner(build('5.7.25-TiDB-v7.1.0'))).toEqual({text: 'MySQL 5.7.25-TiDB-v7.1.0', service: 'mysql'})
  })
})

describe('ERR packets', () => {
  it("the MySQL docs' ERR example is refused as a first packet (sequence id 1) and decodes with sequence 0", () => {
    const doc = bytes(file.err_packet_doc_example.hex)
    expect(doc[3]).toBe(1)
    expect(decodeMysqlGreeting(doc)).toBeNull()
    expect(mysqlPacketStatus(doc)).toBeNull()
    const first = Buffer.from(doc)
    first[3] = 0
    const g = decodeMysqlGreeting(first)
    expect(g).toEqual({kind: 'error', product: 'MySQL', code: 1096, sqlState: 'HY000', message: 'No tables used'})
    expect(mysqlBannerText(g!)).toBe('MySQL error 1096 (HY000): No tables used')
  })

  it('client-side codes, codes below 1000, control characters and a cut packet are refused', () => {
    const err = (code: number, msg: Buffer | string) => {
      const m = typeof msg === 'string' ? Buffer.from(msg) : msg
      const payload = Buffer.concat([Buffer.from([0xff, code & 0xff, code >> 8]), m])
      return Buffer.concat([Buffer.from([payload.length, 0, 0, 0]), payload])
    }
    expect(decodeMysqlGreeting(err(1040, 'Too many connections'))).toMatchObject({code: 1040, message: 'Too many connections'})
    expect(decodeMysqlGreeting(err(2013, 'Lost connection'))).toBeNull()
    expect(decodeMysqlGreeting(err(5001, 'client side'))).toBeNull()
    expect(decodeMysqlGreeting(err(999, 'too low'))).toBeNull()
    expect(decodeMysqlGreeting(err(1040, Buffer.from([0x41, 0x01, 0x42])))).toBeNull()
    const real = vector('mariadb-10.11.19-host-not-allowed')
    expect(decodeMysqlGreeting(real.subarray(0, real.length - 1))).toBeNull()
  })
})

describe('other protocols are not taken for MySQL', () => {
  it.each([
    ['SSH', 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n', 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3'],
    ['FTP', '220 netmon test ftp ready\r\n', '220 netmon test ftp ready'],
    ['HTTP', 'HTTP/1.0 200 OK\r\nServer: test\r\n\r\n', 'HTTP/1.0 200 OK; Server: test'],
    ['SMTP', '220 mail.example ESMTP Postfix\r\n', '220 mail.example ESMTP Postfix'],
  ])('%s banner: status null, decoded null, its text line as before', (_, text, banner) => {
    const b = Buffer.from(text, 'latin1')
    expect(mysqlPacketStatus(b)).toBeNull()
    expect(decodeMysqlGreeting(b)).toBeNull()
    expect(describeBanner(b)).toEqual({text: banner, service: null})
  })

  it('binary bytes that start like a MySQL header but are not a greeting', () => {
    const good = vector('mysql-8.0.32')
    const cases: [string, Buffer][] = [
      ['small first byte, protocol byte, no NUL-terminated version', bytes('0500000a0a3132333434')],
      ['small first byte, version without a dot', bytes('1000000a0a313233343500010203040506070809')],
      ['version not digits.digits', bytes('1400000a0a4142432e440001000000414243444546474800')],
      ['protocol 9', Buffer.concat([good.subarray(0, 4), Buffer.from([0x09]), good.subarray(5)])],
      ['sequence id 1', Buffer.concat([good.subarray(0, 3), Buffer.from([1]), good.subarray(4)])],
      ['filler not 0x00', Buffer.from(good).fill(0x55, 4 + 20, 4 + 21)],
      ['length over 1 KiB', Buffer.concat([Buffer.from([0x00, 0x08, 0x00]), good.subarray(3)])],
      ['control character in the version', Buffer.from(good).fill(0x01, 6, 7)],
    ]
    for (const [why, b] of cases) expect(decodeMysqlGreeting(b), why).toBeNull()
    // A pseudo-random sweep: 0–255 first byte, zeros for the rest of the header, protocol byte 10, random rest.
    let seed = 12345
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff
    for (let i = 0; i < 20000; i++) {
      const b = Buffer.alloc(4 + 64)
      for (let j = 0; j < b.length; j++) b[j] = rnd()
      b[1] = 0
      b[2] = 0
      b[3] = 0
      b[4] = i % 2 ? 0x0a : 0xff
      expect(decodeMysqlGreeting(b), b.toString('hex')).toBeNull()
    }
  })
})

describe('grabBanner against a loopback listener', () => {
  let server: net.Server | undefined
  afterEach(async () => {
    if (server) await new Promise(r => server!.close(r))
    server = undefined
  })

  it('waits for the rest of a greeting whose first piece ends in its protocol byte (a newline)', async () => {
    const greeting = vector('mariadb-10.11.19-debian')
    server = net.createServer(c => {
      c.on('error', () => {})
      c.write(greeting.subarray(0, 5))
      setTimeout(() => c.write(greeting.subarray(5)), 200)
    })
    await new Promise<void>(r => server!.listen(0, '127.0.0.1', r))
    const port = (server.address() as net.AddressInfo).port
    const b = await grabBanner('127.0.0.1', port, 10_000, null)
    expect(b).toEqual({text: 'MariaDB 10.11.19-MariaDB-0+deb12u1', service: 'mysql'})
  })
})

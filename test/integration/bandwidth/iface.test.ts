/**
 * Issue 4 acceptance 4: two separate `bandwidth sample --from iface:lo` invocations a few seconds
 * apart store a delta equal to the change in /proc/net/dev for `lo`, with known loopback traffic
 * generated in between (loopback only: a TCP server on 127.0.0.1).
 */
import {readFileSync} from 'node:fs'
import {createServer, connect, type AddressInfo} from 'node:net'
import {afterAll, describe, expect, it} from 'vitest'
import {parseProcNetDev, syntheticMac} from '../../../src/core/bandwidth/iface.js'
import {runCli, tempStore} from '../../support/cli.js'
import {hostname} from 'node:os'
import {sql} from './helpers.js'
import {openStore} from '../../../src/core/store/index.js'

const lo = () => parseProcNetDev(readFileSync('/proc/net/dev', 'utf8')).find(r => r.name === 'lo')!

/** Pushes `bytes` through a loopback TCP connection and waits until the server has read them all. */
async function loopbackTraffic(bytes: number): Promise<void> {
  let got = 0
  let done!: () => void
  const finished = new Promise<void>(r => (done = r))
  const server = createServer(sock => {
    sock.on('data', d => {
      got += d.length
      if (got >= bytes) done()
    })
  })
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  const client = connect(port, '127.0.0.1')
  await new Promise<void>(r => client.once('connect', () => r()))
  const chunk = Buffer.alloc(64 * 1024, 7)
  for (let sent = 0; sent < bytes; sent += chunk.length) if (!client.write(chunk)) await new Promise(r => client.once('drain', r))
  await finished
  client.destroy()
  await new Promise(r => server.close(r))
}

describe.skipIf(process.platform !== 'linux')('bandwidth sample --from iface:lo', () => {
  const t = tempStore('netmon-bw-iface-')
  afterAll(() => t.cleanup())

  it('two invocations store exactly the counter change, which brackets the generated traffic', async () => {
    const before = lo()
    const a = await runCli(['bandwidth', 'sample', '--from', 'iface:lo', '--json'], {db: t.db})
    expect(a.code, a.stderr).toBe(0)
    expect(a.json.counter_outcomes).toEqual({baseline: 1})
    const TRAFFIC = 4 * 1024 * 1024
    await loopbackTraffic(TRAFFIC)
    await new Promise(r => setTimeout(r, 1500))
    const b = await runCli(['bandwidth', 'sample', '--from', 'iface:lo', '--json'], {db: t.db})
    expect(b.code, b.stderr).toBe(0)
    const after = lo()

    const [i1, i2] = [a.json.interfaces[0], b.json.interfaces[0]]
    // loopback has MAC 00:00:00:00:00:00: keyed by a synthetic locally-administered MAC from host + name.
    expect(i1).toMatchObject({name: 'lo', synthetic_mac: true, mac: syntheticMac(hostname(), 'lo')})
    expect(i2.mac).toBe(i1.mac)
    const [c1s, c1r, c2s, c2r] = [i1.counter_sent, i1.counter_received, i2.counter_sent, i2.counter_received].map(BigInt)
    // Each reading lies between the test's own reads of /proc/net/dev.
    expect(c1s >= before.txBytes && c2s <= after.txBytes).toBe(true)
    expect(c1r >= before.rxBytes && c2r <= after.rxBytes).toBe(true)

    expect(b.json.counters[0]).toMatchObject({outcome: 'delta', bytes_sent: Number(c2s - c1s), bytes_received: Number(c2r - c1r)})
    const all = await sql(
      t.db,
      `SELECT s.sent, s.received, s.interval_ms FROM bw_samples s JOIN devices d ON d.id = s.device_id WHERE d.mac = ? ORDER BY s.ts`,
      [i1.mac],
    )
    // The first reading is the baseline (zero bytes); the second stores the counter change over the gap.
    expect(all[0]).toEqual({sent: 0, received: 0, interval_ms: null})
    const rows = all.slice(1)
    expect(rows).toEqual([{sent: Number(c2s - c1s), received: Number(c2r - c1r), interval_ms: i2.read_at_ms - i1.read_at_ms}])
    // The stored delta contains the traffic we made (lo counts every byte as sent and received) and no
    // more than /proc/net/dev moved over the whole test.
    expect(rows[0]!.sent).toBeGreaterThanOrEqual(TRAFFIC)
    expect(rows[0]!.received).toBeGreaterThanOrEqual(TRAFFIC)
    expect(BigInt(rows[0]!.sent)).toBeLessThanOrEqual(after.txBytes - before.txBytes)

    const dev = await sql(t.db, `SELECT hostname, ip FROM devices WHERE mac = ?`, [i1.mac])
    expect(dev).toEqual([{hostname: 'lo', ip: '127.0.0.1'}])
  })

  it('--every/--count takes several readings in one process, streaming NDJSON', async () => {
    const r = await runCli(['bandwidth', 'sample', '--from', 'iface:lo', '--every', '200ms', '--count', '3', '--json'], {db: t.db})
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout
      .trim()
      .split('\n')
      .map(l => JSON.parse(l))
    expect(lines).toHaveLength(3)
    // The store already holds lo's counter from the previous test: every reading is a delta.
    expect(lines.map(l => l.counters[0].outcome)).toEqual(['delta', 'delta', 'delta'])
  })

  it('a stored reading from before this machine booted (/proc/stat btime) makes the next reading a reset, not a delta or wrap', async () => {
    // Issue 13: the previous counter was read before the last boot; the counters restarted since.
    // Counters below today's would otherwise pass as a plausible (slow) delta over the whole uptime.
    const btime = Number(/^btime\s+(\d+)/m.exec(readFileSync('/proc/stat', 'utf8'))![1]) * 1000
    const mac = syntheticMac(hostname(), 'lo')
    const [{id}] = await sql<{id: number}>(t.db, 'SELECT id FROM devices WHERE mac = ?', [mac])
    const store = await openStore({db: t.db})
    try {
      await store.batch([{sql: "UPDATE bw_counters SET ts = ?, sent = '0', received = '0' WHERE device_id = ?", args: [btime - 60_000, id]}])
    } finally {
      await store.close()
    }
    const r = await runCli(['bandwidth', 'sample', '--from', 'iface:lo', '--json'], {db: t.db})
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.counter_outcomes).toEqual({reset: 1})
    expect(r.json.counters[0]).toMatchObject({outcome: 'reset', bytes_sent: 0, bytes_received: 0})
    const [ev] = await sql<{detail: string}>(t.db, "SELECT detail FROM events WHERE device_id = ? AND type = 'counter_reset' ORDER BY id DESC LIMIT 1", [id])
    expect(JSON.parse(ev!.detail)).toMatchObject({reason: 'the source rebooted', boot_time_ms: btime})
  })

  it('an unknown interface is an input error naming the ones that exist', async () => {
    const r = await runCli(['bandwidth', 'sample', '--from', 'iface:nosuch0'], {db: t.db})
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/no interface "nosuch0".*available: .*lo/)
  })
})

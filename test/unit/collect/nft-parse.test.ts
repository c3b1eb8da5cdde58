/**
 * The nftables source's pure parts on recorded `nft -j` output (test/vectors/nft/README.md), and
 * its readings through the one collector runner into a real libSQL store: a table recreated
 * between two readings (counters restarted from zero) is a reset, never a spike, even when the
 * new counters have already grown past the old ones.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {
  NFT_RULES,
  hostReadings,
  installScript,
  parseNeighbors,
  parseNftTable,
  parsePrefix,
  parsePrefixes,
  tableReadings,
  type NftTable,
} from '../../../src/core/collect/nft-parse.js'
import {CollectorRunner} from '../../../src/core/collect/runner.js'
import type {CounterReadingIn} from '../../../src/core/collect/source.js'
import {NetmonError} from '../../../src/core/errors.js'
import {openStore} from '../../../src/core/store/index.js'
import {tempStore} from '../../support/cli.js'

const vec = (name: string) => readFileSync(join(import.meta.dirname, '..', '..', 'vectors', 'nft', name), 'utf8')
const A = '02:4E:4D:00:11:10'
const B = '02:4E:4D:00:11:11'

describe('parseNftTable (recorded nft 1.0.6 output)', () => {
  it('reads per-address counters both ways, the LAN prefixes, the rules and the creation time', () => {
    const t = parseNftTable(vec('after-pings.json'))
    expect(t.lan).toEqual(['10.77.11.0/24', 'fd77:11::/64'])
    expect(t.rules).toBe(NFT_RULES.length)
    expect(t.sets.sort()).toEqual(['rx4', 'rx6', 'tx4', 'tx6'])
    expect(t.createdMs).toBe(1796351401000)
    expect(t.handle).toBeTypeOf('number')
    // 3 pings of 1000 B from .10 (1028 B IP packets), 2 of 500 B from .11 (528 B), 4 ping6 of 200 B
    // from fd77:11::11 (248 B) and its replies; that host also sent one 72 B ICMPv6 packet that was forwarded.
    expect(Object.fromEntries([...t.hosts].map(([k, v]) => [k, [v.txBytes, v.txPackets, v.rxBytes, v.rxPackets].map(Number)]))).toEqual({
      '10.77.11.10': [3084, 3, 3084, 3],
      '10.77.11.11': [1056, 2, 1056, 2],
      'fd77:11::11': [4 * 248 + 72, 5, 4 * 248, 4],
    })
  })

  it('reads a seeded table (zero counters) and `nft -j list set`', () => {
    const seeded = parseNftTable(vec('installed-seeded.json'))
    expect([...seeded.hosts]).toEqual([['10.77.11.10', {txBytes: 0n, txPackets: 0n, rxBytes: 0n, rxPackets: 0n}]])
    const set = parseNftTable(vec('list-set-tx4.json'))
    expect(set.sets).toEqual(['tx4'])
    expect(set.hosts.get('10.77.11.10')!.txBytes).toBe(3084n)
    expect(set.hosts.get('10.77.11.10')!.rxBytes).toBe(0n)
  })

  it('ignores other tables and rejects what is not nft JSON', () => {
    const other = JSON.stringify({
      nftables: [
        {table: {family: 'ip', name: 'filter', handle: 3}},
        {set: {family: 'ip', name: 'tx4', table: 'filter', type: 'ipv4_addr', elem: [{elem: {val: '10.0.0.1', counter: {packets: 1, bytes: 9}}}]}},
      ],
    })
    const t = parseNftTable(other)
    expect(t.handle).toBeNull()
    expect(t.hosts.size).toBe(0)
    expect(() => parseNftTable('Error: No such file')).toThrow(/not JSON/)
    expect(() => parseNftTable('{}')).toThrow(/nftables/)
  })
})

describe('neighbors and readings', () => {
  it("maps addresses to MACs, sums a host's IPv4 and IPv6 addresses, keys an unresolved one by address", () => {
    const n = parseNeighbors(vec('neigh.json'))
    expect(n.get('10.77.11.10')).toBe(A)
    expect(n.get('fd77:11::11')).toBe(B)
    expect(parseNeighbors('[{"dst":"10.0.0.9","dev":"x","state":["FAILED"]},{"dst":"10.0.0.8","lladdr":"00:00:00:00:00:00","state":["STALE"]}]').size).toBe(0)
    const t = parseNftTable(vec('after-pings.json'))
    const h = hostReadings(t, ip => n.get(ip))
    expect(h.map(x => [x.mac, x.addrs, Number(x.counters.txBytes)])).toEqual([
      [A, ['10.77.11.10'], 3084],
      [B, ['10.77.11.11', 'fd77:11::11'], 1056 + 1064],
    ])
    const r = tableReadings(t, ip => (ip === '10.77.11.10' ? A : undefined), 5)
    expect(r.map(x => [x.key, x.counterId, x.ip, x.counters.bytesSent, x.counters.packetsReceived, x.bootTimeMs])).toEqual([
      [{mac: A}, 'nft:10.77.11.10', '10.77.11.10', 3084n, 3n, 1796351401000],
      [{ip: '10.77.11.11'}, 'nft:10.77.11.11', '10.77.11.11', 1056n, 2n, 1796351401000],
      [{ip: 'fd77:11::11'}, 'nft:fd77:11::11', 'fd77:11::11', 1064n, 4n, 1796351401000],
    ])
  })
})

describe('LAN prefixes and the install script', () => {
  it('canonicalises prefixes and rejects bad ones with exit 2', () => {
    expect(parsePrefix('10.77.11.9/24').text).toBe('10.77.11.0/24')
    expect(parsePrefix('FD77:0011:0:0::5/64').text).toBe('fd77:11::/64')
    expect(parsePrefixes(['10.77.11.0/24,fd77:11::/64', '10.77.11.0/24']).map(p => p.text)).toEqual(['10.77.11.0/24', 'fd77:11::/64'])
    for (const bad of ['10.77.11.0', '10.77.11.0/33', 'fd77::/129', 'nope/24', '10.0.0.0/4', '::/0']) {
      let err: unknown
      try {
        parsePrefix(bad)
      } catch (e) {
        err = e
      }
      expect(err, bad).toBeInstanceOf(NetmonError)
      expect((err as NetmonError).exitCode, bad).toBe(2)
    }
  })

  it('names only table inet netmon; a new table gets its stamp and seeds, an existing one only what is missing', () => {
    const fresh = installScript({
      add: parsePrefixes(['10.77.11.0/24', 'fd77:11::/64']),
      create: true,
      createdSec: 1700000000,
      seed: ['10.77.11.10', 'fd77:11::10'],
    })
    for (const line of fresh.trim().split('\n')) expect(line).toMatch(/^(add|flush) (table|set|chain|rule|element) inet netmon\b/)
    expect(fresh).toContain('add chain inet netmon forward { type filter hook forward priority filter + 10; policy accept; }')
    expect(fresh).toContain('flush chain inet netmon forward\n')
    for (const r of NFT_RULES) expect(fresh).toContain(`add rule inet netmon forward ${r}\n`)
    expect(fresh).toContain('add element inet netmon created { 1700000000 }')
    expect(fresh).toContain('add element inet netmon tx4 { 10.77.11.10 counter packets 0 bytes 0 }')
    expect(fresh).toContain('add element inet netmon rx6 { fd77:11::10 counter packets 0 bytes 0 }')
    const again = installScript({add: [], create: false, createdSec: 1700000999, seed: []})
    expect(again).not.toContain('element')
    expect(again).not.toMatch(/delete|destroy/)
  })
})

describe('a recreated table through the collector runner (real libSQL store)', () => {
  const t = tempStore('netmon-nft-unit-')
  afterAll(() => t.cleanup())

  /** Readings of a parsed vector, with every counter scaled and the table's creation time replaced. */
  const readingsOf = (table: NftTable, ts: number, scale: bigint, createdMs: number): CounterReadingIn[] =>
    tableReadings(
      {
        ...table,
        createdMs,
        hosts: new Map(
          [...table.hosts].map(([k, v]) => [k, {txBytes: v.txBytes * scale, txPackets: v.txPackets, rxBytes: v.rxBytes * scale, rxPackets: v.rxPackets}]),
        ),
      },
      ip => (ip === '10.77.11.10' ? A : B),
      ts,
    )

  async function run(sequence: CounterReadingIn[][]) {
    const store = await openStore({db: t.db.replace(/\.db$/, `-${Math.random().toString(36).slice(2)}.db`)})
    let i = 0
    const runner = new CollectorRunner({sources: [{name: 'nft', kind: 'nft', bits: 64, read: async () => sequence[i++]!}], store, maxRateBps: 10e9})
    const outcomes = []
    for (let n = 0; n < sequence.length; n++) outcomes.push((await runner.tick()).sources[0]!.result!.counter_outcomes)
    const totals = await store.query<{mac: string; s: number; r: number}>(
      'SELECT d.mac AS mac, t.bytes_sent AS s, t.bytes_received AS r FROM bw_totals t JOIN devices d ON d.id = t.device_id ORDER BY d.mac',
    )
    await store.close()
    return {outcomes, totals}
  }

  const table = parseNftTable(vec('after-pings.json'))
  const t0 = Date.now() - 10 * 60_000

  it('counters that restarted and grew past the old values: a reset (zero), then exact deltas', async () => {
    const {outcomes, totals} = await run([
      readingsOf(table, t0, 1n, t0 - 60_000),
      readingsOf(table, t0 + 60_000, 2n, t0 - 60_000),
      // recreated at t0 + 90 s: its counters are already 3× the first table's last ones
      readingsOf(table, t0 + 120_000, 6n, t0 + 90_000),
      readingsOf(table, t0 + 180_000, 7n, t0 + 90_000),
    ])
    expect(outcomes).toEqual([{baseline: 2}, {delta: 2}, {reset: 2}, {delta: 2}])
    // Each host: (2−1) + 0 + (7−6) times its vector counters.
    expect(totals).toEqual([
      {mac: A, s: 2 * 3084, r: 2 * 3084},
      {mac: B, s: 2 * (1056 + 1064), r: 2 * (1056 + 992)},
    ])
  })

  it('without the creation time the same counters would be a (wrong) delta: the stamp is what decides', async () => {
    const {outcomes} = await run([readingsOf(table, t0, 2n, t0 - 60_000), readingsOf(table, t0 + 120_000, 6n, t0 - 60_000)])
    expect(outcomes).toEqual([{baseline: 2}, {delta: 2}])
  })
})

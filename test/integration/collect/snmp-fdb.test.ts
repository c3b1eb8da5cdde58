/**
 * Issue 15: "Where the agent has BRIDGE-MIB / Q-BRIDGE-MIB forwarding tables (dot1dTpFdbPort /
 * dot1qTpFdbPort), record which MACs sit behind which port, so a port can be labelled with the
 * device(s) the inventory knows there."
 *
 * The agent is Debian's snmpd inside a netns host; snmpd has no BRIDGE-MIB module, so the test
 * serves the bridge subtree through snmpd's own `pass` extension (a script answering its -g/-n
 * GET/GETNEXT calls from a JSON file the test rewrites between polls). Everything on the wire —
 * GETBULK walks, index encoding, the IF-MIB side — is snmpd's; only the table content is the test's.
 */
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {registerBandwidthDevice} from '../../../src/core/bandwidth/admin.js'
import {deviceStats} from '../../../src/core/bandwidth/query.js'
import {devicesBehindPorts, snmpPortMac} from '../../../src/core/collect/fdb.js'
import {CollectorRunner} from '../../../src/core/collect/runner.js'
import {fdbEntries, snmpSource} from '../../../src/core/collect/snmp.js'
import {openStore, type Store} from '../../../src/core/store/index.js'
import {runCli, tempStore} from '../../support/cli.js'
import {createLan, type Lan, NETNS_SKIP} from '../../support/netns.js'
import {type Snmpd, SNMPD_SKIP, startSnmpd} from '../../support/snmpd.js'

describe('fdbEntries (pure)', () => {
  it('maps bridge ports to ifIndex, keeps the VLAN of Q-BRIDGE entries, and drops what cannot be placed', () => {
    const base = new Map<number, unknown>([
      [1, 11],
      [2, 12],
    ])
    const dot1d = new Map<string, unknown>([
      ['2.0.0.0.0.1', 2], // 02:00:00:00:00:01 on bridge port 2 → ifIndex 12
      ['2.0.0.0.0.2', 0], // port 0: the switch itself
      ['2.0.0.0.0.3', 9], // bridge port without an ifIndex
      ['2.0.0.0.1', 1], // five octets
      ['2.0.0.0.0.300', 1], // not an octet
      ['2.0.0.0.0.4', 'x'], // not an integer port
    ])
    const dot1q = new Map<string, unknown>([
      ['10.2.0.0.0.0.5', 1],
      ['0.2.0.0.0.0.1', 2], // FDB id 0 is the same as dot1d's entry: one row
    ])
    expect(fdbEntries(base, dot1d, dot1q)).toEqual([
      {ifIndex: 12, mac: '02:00:00:00:00:01', vlan: 0},
      {ifIndex: 11, mac: '02:00:00:00:00:05', vlan: 10},
    ])
  })
})

const PASS = `import json, sys
def key(o):
    return tuple(int(x) for x in o.strip('.').split('.'))
rows = sorted((key(o), o, t, v) for o, t, v in json.load(open(sys.argv[1])))
mode, oid = sys.argv[2], sys.argv[3]
k = key(oid)
hit = [r for r in rows if r[0] == k] if mode == '-g' else [r for r in rows if r[0] > k][:1] if mode == '-n' else []
if hit:
    print('.' + hit[0][1].strip('.')); print(hit[0][2]); print(hit[0][3])
else:
    print('NONE')
`
const BRIDGE = '1.3.6.1.2.1.17'
const macOid = (mac: string) =>
  mac
    .split(':')
    .map(h => Number.parseInt(h, 16))
    .join('.')

if (NETNS_SKIP) console.log(`snmp fdb test skipped: ${NETNS_SKIP}`)
describe.skipIf(SNMPD_SKIP || NETNS_SKIP)('snmp forwarding tables: snmpd inside a netns host, stored and shown', () => {
  const LAPTOP = '02:77:28:00:00:21'
  const PRINTER = '02:77:28:00:00:22'
  const STRANGER = '02:77:28:00:00:23'
  let lan: Lan
  let agent: Snmpd
  let store: Store
  let t: ReturnType<typeof tempStore>
  let dir: string
  let data: string
  const serve = (rows: [string, string, string][]) => writeFileSync(data, JSON.stringify(rows))

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'netmon-fdb-'))
    data = join(dir, 'bridge.json')
    writeFileSync(join(dir, 'pass.py'), PASS)
    serve([])
    lan = await createLan({subnet: '10.77.28.0/24'})
    const h = lan.addHost({ip: '10.77.28.10', mac: '02:77:28:00:00:10'})
    agent = await startSnmpd({
      address: h.ip,
      clients: lan.subnet,
      wrap: ['ip', 'netns', 'exec', h.ns],
      extraConfig: [`pass .${BRIDGE} /usr/bin/python3 ${join(dir, 'pass.py')} ${data}`],
    })
    t = tempStore('netmon-fdb-')
    store = await openStore({db: t.db})
    await registerBandwidthDevice(store, {mac: LAPTOP, ip: '10.77.28.21', hostname: 'laptop'})
    await registerBandwidthDevice(store, {mac: PRINTER, ip: '10.77.28.22', hostname: 'printer'})
  }, 60_000)
  afterAll(async () => {
    await store?.close()
    await agent?.stop()
    lan?.destroy()
    t?.cleanup()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('stores the current table, labels each port with the devices behind it, and follows a MAC that moves', async () => {
    const h = lan.hosts[0]!
    const s = snmpSource({name: 'sw', host: h.ip, port: agent.port, version: '2c', community: agent.community, timeoutMs: 2000, retries: 1, fdb: true})
    const runner = new CollectorRunner({sources: [s], store, maxRateBps: 1e12})
    // First poll: no bridge data yet (an agent without BRIDGE-MIB): counters only, no rows.
    expect((await runner.tick()).sources[0]!.error).toBeNull()
    expect(s.last()!.fdb).toEqual([])
    const lo = s.last()!.ports.find(p => p.descr === 'lo')!.ifIndex
    const eth = s.last()!.ports.find(p => p.descr === 'eth0')!.ifIndex
    expect(lo).not.toBe(eth)

    const table = (laptopPort: number): [string, string, string][] => [
      [`${BRIDGE}.1.4.1.2.1`, 'integer', String(lo)],
      [`${BRIDGE}.1.4.1.2.2`, 'integer', String(eth)],
      [`${BRIDGE}.4.3.1.2.${macOid(LAPTOP)}`, 'integer', String(laptopPort)],
      [`${BRIDGE}.4.3.1.2.${macOid(STRANGER)}`, 'integer', '2'],
      [`${BRIDGE}.4.3.1.2.${macOid('02:77:28:00:00:99')}`, 'integer', '0'], // the switch's own MAC
      [`${BRIDGE}.7.1.2.2.1.2.10.${macOid(PRINTER)}`, 'integer', '1'], // Q-BRIDGE, VLAN 10
    ]
    serve(table(2))
    expect((await runner.tick()).sources[0]!.error).toBeNull()
    expect(new Set(s.last()!.fdb!.map(e => `${e.mac}@${e.ifIndex}/${e.vlan}`))).toEqual(
      new Set([`${LAPTOP}@${eth}/0`, `${STRANGER}@${eth}/0`, `${PRINTER}@${lo}/10`]),
    )
    const ethPort = snmpPortMac('sw', eth)
    const loPort = snmpPortMac('sw', lo)
    const behind = async (port: string) =>
      ((await devicesBehindPorts(store, [port])).get(port) ?? []).map(b => `${b.mac}=${b.device?.hostname ?? '?'}/${b.vlan}`)
    expect(await behind(ethPort)).toEqual([`${LAPTOP}=laptop/0`, `${STRANGER}=?/0`])
    expect(await behind(loPort)).toEqual([`${PRINTER}=printer/10`])
    // bandwidth stats of the port and of the laptop say where it sits.
    const portStats = (await deviceStats(store, ethPort)).device
    expect(portStats.hostname).toBe('sw:eth0')
    expect(portStats.behind?.map(b => b.mac)).toEqual([LAPTOP, STRANGER])
    expect((await deviceStats(store, LAPTOP)).device.seen_on).toEqual([expect.objectContaining({agent: 'sw', if_index: eth, port: 'sw:eth0', vlan: 0})])

    // The laptop moves to bridge port 1 (lo's ifIndex): the next poll is the current table.
    serve(table(1))
    expect((await runner.tick()).sources[0]!.error).toBeNull()
    expect(await behind(ethPort)).toEqual([`${STRANGER}=?/0`])
    expect(await behind(loPort)).toEqual([`${LAPTOP}=laptop/0`, `${PRINTER}=printer/10`])
    expect((await deviceStats(store, LAPTOP)).device.seen_on?.map(p => p.port)).toEqual(['sw:lo'])
    // History is kept: the old row stays with its older last_seen, the first sighting is not reset.
    const rows = await store.query<{if_index: number; first_seen: number; last_seen: number}>(
      'SELECT if_index, first_seen, last_seen FROM snmp_fdb WHERE mac = ? ORDER BY if_index',
      [LAPTOP],
    )
    expect(rows.map(r => Number(r.if_index)).sort()).toEqual([lo, eth].sort())
    const old = rows.find(r => Number(r.if_index) === eth)!
    const now = rows.find(r => Number(r.if_index) === lo)!
    expect(Number(old.last_seen)).toBeLessThan(Number(now.last_seen))
    await runner.close()
  }, 90_000)

  it('the CLI: bandwidth sample --from snmp:// --fdb stores the table and says so; bandwidth stats labels the port', async () => {
    const h = lan.hosts[0]!
    const cli = tempStore('netmon-fdb-cli-')
    try {
      const env = {SNMP_COMMUNITY: agent.community}
      const from = `snmp://${h.ip}:${agent.port}`
      const r = await runCli(['bandwidth', 'sample', '--from', from, '--community-env', 'SNMP_COMMUNITY', '--fdb', '--json', '--db', cli.db], {env})
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      const out = JSON.parse(r.stdout)
      expect(out.fdb.map((e: {mac: string}) => e.mac).sort()).toEqual([LAPTOP, PRINTER, STRANGER].sort())
      const agentName = `${h.ip}:${agent.port}`
      const stranger = out.fdb.find((e: {mac: string}) => e.mac === STRANGER)
      expect(stranger.port).toBe(`${agentName}:eth0`)
      const port = out.interfaces.find((i: {name: string}) => i.name === `${agentName}:eth0`).mac
      const s = await runCli(['bandwidth', 'stats', '--mac', port, '--json', '--db', cli.db])
      expect(s.code).toBe(0)
      expect(JSON.parse(s.stdout).device.behind.map((b: {mac: string}) => b.mac)).toEqual([STRANGER])
      const text = await runCli(['bandwidth', 'stats', '--mac', port, '--db', cli.db])
      expect(text.stdout).toMatch(new RegExp(`behind this port\\s+.*${STRANGER}`))
      // --fdb without an SNMP source is a usage error that writes nothing.
      const bad = await runCli(['bandwidth', 'sample', '--from', 'iface:lo', '--fdb', '--db', cli.db])
      expect(bad.code).toBe(2)
      expect(bad.stderr).toMatch(/--fdb applies to --from snmp:\/\//)
    } finally {
      cli.cleanup()
    }
  }, 90_000)
})

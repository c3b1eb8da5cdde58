/**
 * IP conflicts (issue 13) on a real (namespaced) LAN, 10.77.4.0/24: two hosts configured with the
 * same address and different MACs both answer ARP, which the kernel neighbor table (one MAC per
 * address) cannot show; the scan's arping step sees both, like arp-scan's DUP.
 *
 *   .1  the bridge (this machine's side)
 *   .10 h1 02:4E:4D:00:04:01
 *   .10 h2 02:4E:4D:00:04:02  (added for the conflict tests: same address, other MAC)
 *   .11 h3 02:4E:4D:00:04:03
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {NETNS_SKIP, createLan, type Lan, type LanHost} from '../../support/netns.js'

if (NETNS_SKIP) console.warn(`skipping netns IP-conflict tests: ${NETNS_SKIP}`)

const SUBNET = '10.77.4.0/24'
const MAC = {h1: '02:4E:4D:00:04:01', h2: '02:4E:4D:00:04:02', h3: '02:4E:4D:00:04:03'}

describe.skipIf(NETNS_SKIP)('IP conflicts on a netns LAN (10.77.4.0/24)', () => {
  const t = tempStore('netmon-scan-conflict-')
  let lan: Lan
  let dup: LanHost | null = null
  const ok = async (args: string[]) => {
    const r = await runCli(args, {db: t.db, timeoutMs: 90_000})
    expect(r.code, `netmon ${args.join(' ')}: ${r.stderr}`).toBe(0)
    return r
  }
  const conflictEvents = async () => (await ok(['devices', 'timeline', '--type', 'ip_conflict', '--since', '1h', '--json'])).json.events as any[]

  beforeAll(async () => {
    lan = await createLan({subnet: SUBNET})
    lan.addHost({ip: '10.77.4.10', mac: MAC.h1})
    lan.addHost({ip: '10.77.4.11', mac: MAC.h3})
  })

  afterAll(() => {
    lan?.destroy()
    t.cleanup()
  })

  it('a LAN without a duplicate address: no conflict reported, no ip_conflict event', async () => {
    const r = await ok(['scan', '10.77.4.0/28', '--no-rdns', '--json'])
    expect(r.stderr).toBe('')
    expect(r.json.hosts.map((h: any) => h.ip)).toEqual(['10.77.4.1', '10.77.4.10', '10.77.4.11'])
    expect(r.json.conflicts).toEqual([])
    expect(r.json.summary.ip_conflict).toBe(0)
    expect(await conflictEvents()).toEqual([])
  })

  it('two MACs answering for 10.77.4.10: both in the JSON result, an ip_conflict event, a DUP warning line in the text output', async () => {
    dup = lan.addHost({ip: '10.77.4.10', mac: MAC.h2, label: 'dup'})
    const r = await ok(['scan', '10.77.4.0/28', '--no-rdns', '--json'])
    expect(r.stderr).toBe('')
    expect(r.json.conflicts).toEqual([{ip: '10.77.4.10', macs: [MAC.h1, MAC.h2]}])
    expect(r.json.summary.ip_conflict).toBe(1)
    // The kernel kept one of the two MACs: the host is reported (and its device keyed) by that one.
    const h10 = r.json.hosts.find((h: any) => h.ip === '10.77.4.10')
    expect([MAC.h1, MAC.h2]).toContain(h10.mac)

    const events = await conflictEvents()
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({type: 'ip_conflict', device_id: h10.device_id, ip: '10.77.4.10'})
    expect(events[0].detail).toEqual({ip: '10.77.4.10', macs: [MAC.h1, MAC.h2], scan_id: r.json.scan.id})

    const text = await ok(['scan', '10.77.4.0/28', '--no-rdns'])
    expect(text.stdout).toContain(`warning: IP conflict (DUP): 10.77.4.10 is answered by 2 MACs: ${MAC.h1}, ${MAC.h2}`)
    expect(text.stdout).toMatch(/1 IP conflict[,.]/)
    expect(await conflictEvents()).toHaveLength(2)

    // The timeline's text view shows it too.
    const tl = await ok(['devices', 'timeline', '--type', 'ip_conflict', '--since', '1h'])
    expect(tl.stdout).toContain('ip_conflict')
    expect(tl.stdout).toContain(MAC.h2)
  })

  it('--no-conflict-check skips the step: nothing reported, no event', async () => {
    expect(dup).not.toBeNull()
    const r = await ok(['scan', '10.77.4.0/28', '--no-rdns', '--no-conflict-check', '--json'])
    expect(r.json.conflicts).toEqual([])
    expect(await conflictEvents()).toHaveLength(2)
  })

  it('the duplicate gone: the next scan reports no conflict and records none', async () => {
    lan.removeHost(dup!)
    const r = await ok(['scan', '10.77.4.0/28', '--no-rdns', '--json'])
    expect(r.json.conflicts).toEqual([])
    expect(await conflictEvents()).toHaveLength(2)
  })
})

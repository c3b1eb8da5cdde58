/**
 * Port states and port-scan progress (issue 13) on a netns LAN, 10.77.3.0/24:
 *
 *   .10 listens on 4444, refuses every other port (RST)       → open / closed
 *   .11 drops every IP packet (answers ARP only)               → filtered
 *
 * - Each host's `ports_summary` counts its scanned ports by final state, as nmap does (open,
 *   closed = refused, filtered = no answer after every try), and the text output has nmap's
 *   "Not shown: N closed, M filtered" line; the worker-thread path counts the same as the
 *   main-thread path.
 * - Progress: a port counts as done when its first try times out, not after its last retry, so
 *   a scan of a host that drops everything moves `ports_done` long before it ends.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runEngine} from '../../../src/core/scan/engine.js'
import type {ScanProgress} from '../../../src/core/scan/types.js'
import {runCli, tempStore} from '../../support/cli.js'
import {NETNS_SKIP, createLan, testMac, type Lan} from '../../support/netns.js'

if (NETNS_SKIP) console.warn(`skipping the port-state tests: ${NETNS_SKIP}`)

const LISTENER = 4444

describe.skipIf(NETNS_SKIP)('port states on a netns LAN (10.77.3.0/24)', () => {
  const t = tempStore('netmon-port-states-')
  let lan: Lan
  const byIp = (json: any) => new Map<string, any>(json.hosts.map((h: any) => [h.ip, h]))
  const ok = async (args: string[], env: Record<string, string> = {}) => {
    const r = await runCli(args, {db: t.db, timeoutMs: 120_000, env})
    expect(r.code, `netmon ${args.join(' ')}: ${r.stderr}`).toBe(0)
    return r
  }

  beforeAll(async () => {
    lan = await createLan({subnet: '10.77.3.0/24'})
    const open = lan.addHost({ip: '10.77.3.10', mac: testMac(31)})
    const silent = lan.addHost({ip: '10.77.3.11', mac: testMac(32)})
    lan.dropAll(silent)
    await lan.listen(open, [LISTENER])
  })

  afterAll(() => {
    lan?.destroy()
    t.cleanup()
  })

  it('counts open, closed and filtered ports per host (JSON) and prints the Not-shown line (text)', async () => {
    const args = ['scan', '10.77.3.10-11', '--ports', `22,80,${LISTENER}`, '--port-timeout', '500ms', '--no-rdns']
    const r = await ok([...args, '--json'])
    const hosts = byIp(r.json)
    expect([...hosts.keys()]).toEqual(['10.77.3.10', '10.77.3.11'])
    // `ports` is unchanged: the open ports only.
    expect(hosts.get('10.77.3.10').ports.map((p: any) => p.port)).toEqual([LISTENER])
    expect(hosts.get('10.77.3.11').ports).toEqual([])
    expect(hosts.get('10.77.3.10').ports_summary).toEqual({open: 1, closed: 2, filtered: 0})
    expect(hosts.get('10.77.3.11').ports_summary).toEqual({open: 0, closed: 0, filtered: 3})

    const text = await ok(args)
    expect(text.stdout).toMatch(/^10\.77\.3\.10: Not shown: 2 closed$/m)
    expect(text.stdout).toMatch(/^10\.77\.3\.11: Not shown: 3 filtered$/m)
  })

  it('worker threads count the same states as the main thread', {timeout: 180_000}, async () => {
    // 9000 ports: above PARALLEL_MIN_PORTS (8192), so NETMON_SCAN_THREADS=2 splits them over two threads.
    const args = ['scan', '10.77.3.10-11', '--ports', '1-9000', '--port-timeout', '500ms', '--no-rdns', '--json']
    const want = {
      '10.77.3.10': {open: 1, closed: 8999, filtered: 0},
      '10.77.3.11': {open: 0, closed: 0, filtered: 9000},
    }
    for (const threads of ['2', '0']) {
      const r = await ok(args, {NETMON_SCAN_THREADS: threads})
      expect(r.json.scan.warnings, `threads=${threads}`).toEqual([])
      const hosts = byIp(r.json)
      for (const [ip, summary] of Object.entries(want)) expect(hosts.get(ip).ports_summary, `${ip} threads=${threads}`).toEqual(summary)
      expect(hosts.get('10.77.3.10').ports.map((p: any) => p.port)).toEqual([LISTENER])
    }
  })

  it('a port counts as done when its first try times out, long before its retries end', async () => {
    // Every port of .11 is dropped: 3 tries of 1.5 s each. Before issue 13 ports_done stayed 0
    // until the last try had timed out, i.e. the very end of the scan.
    const reports: {at: number; p: ScanProgress}[] = []
    const res = await runEngine({
      targets: [{ip: '10.77.3.11'}],
      methods: ['neighbor'],
      timeoutMs: 800,
      retries: 2,
      concurrency: 1,
      ports: [22, 80, LISTENER],
      portTimeoutMs: 1500,
      arpWaitMs: 0,
      rdns: {enabled: false, timeoutMs: 500},
      onProgress: p => reports.push({at: performance.now(), p}),
    })
    const end = performance.now()
    expect(res.hosts.map(h => h.ip)).toEqual(['10.77.3.11'])
    expect(res.progress).toMatchObject({ports_total: 3, ports_done: 3})
    const first = reports.find(r => r.p.ports_done > 0)
    expect(first, 'a progress report with ports done').toBeDefined()
    // The two retry rounds (2 × 1.5 s) are still to come when the first timeouts are counted;
    // a third of that is margin enough for a loaded machine.
    expect(end - first!.at).toBeGreaterThan(1000)
    // And the count never goes past the ports there are (a retry adds nothing).
    expect(Math.max(...reports.map(r => r.p.ports_done))).toBe(3)
    expect(res.hosts[0]!.ports_summary).toEqual({open: 0, closed: 0, filtered: 3})
  })
})

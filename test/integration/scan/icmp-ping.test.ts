/**
 * scan --method icmp through iputils `ping` (the fallback when fping is missing; the tool issue 5
 * names), against loopback only: replies found, a localised reply line understood, and a ping
 * that fails reported as a warning rather than as silent hosts.
 */
import {spawnSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'

const PING = spawnSync('sh', ['-c', 'command -v ping'], {encoding: 'utf8'}).stdout.trim()
const canPing = PING !== '' && spawnSync(PING, ['-n', '-c', '1', '-W', '1', '127.0.0.1']).status === 0

describe.skipIf(!canPing)('scan --method icmp with iputils ping (skipped without a working ping to 127.0.0.1)', () => {
  const t = tempStore('netmon-scan-ping-')
  afterAll(() => t.cleanup())
  const scan = (extraEnv: Record<string, string>, target = '127.0.0.1-3') =>
    runCli(['scan', target, '--method', 'icmp', '--no-rdns', '--timeout', '1s', '--json'], {db: t.db, env: {NETMON_SCAN_ICMP_TOOL: 'ping', ...extraEnv}})

  it('finds every loopback address by ICMP echo, with its RTT', async () => {
    const r = await scan({})
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.scan.icmp_tool).toBe('ping')
    expect(r.json.scan.warnings).toEqual([])
    expect(r.json.hosts.map((h: any) => h.ip)).toEqual(['127.0.0.1', '127.0.0.2', '127.0.0.3'])
    for (const h of r.json.hosts) {
      expect(h.found_by).toEqual(['icmp'])
      expect(h.rtt_ms).toBeGreaterThan(0)
    }
  })

  it('a ping that prints localised replies (decimal comma) is understood', async () => {
    const wrapper = join(t.dir, 'ping-de.sh')
    writeFileSync(
      wrapper,
      `#!/bin/sh\nfor a; do ip=$a; done\necho "PING $ip ($ip) 56(84) Bytes an Daten."\necho "64 Bytes von $ip: icmp_seq=1 ttl=64 Zeit=0,250 ms"\n`,
      {mode: 0o755},
    )
    const r = await scan({NETMON_PING: wrapper}, '127.0.0.5')
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.hosts).toEqual([expect.objectContaining({ip: '127.0.0.5', found_by: ['icmp'], rtt_ms: 0.25})])
  })

  it('a ping that cannot work (no ICMP permission) is a warning with its message, not silent hosts', async () => {
    const wrapper = join(t.dir, 'ping-denied.sh')
    writeFileSync(wrapper, `#!/bin/sh\necho "ping: socket: Operation not permitted" >&2\nexit 2\n`, {mode: 0o755})
    const r = await scan({NETMON_PING: wrapper}, '127.0.0.6')
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.hosts).toEqual([])
    expect(r.json.scan.warnings).toEqual(['method icmp: ping failed (exit 2): ping: socket: Operation not permitted'])
    expect(r.stderr).toContain('ping failed (exit 2): ping: socket: Operation not permitted')
  })

  it('NETMON_SCAN_ICMP_TOOL=ping with a ping that does not exist: the method is skipped with a warning', async () => {
    const r = await scan({NETMON_PING: join(t.dir, 'no-such-ping')}, '127.0.0.7')
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.scan.warnings).toEqual([`method icmp: ${join(t.dir, 'no-such-ping')} (NETMON_SCAN_ICMP_TOOL=ping) is not installed; skipped`])
  })
})

describe.skipIf(!canPing)('scan --method icmp with ping: per-address refusals', () => {
  const t = tempStore('netmon-scan-ping2-')
  afterAll(() => t.cleanup())
  it('ping refusing one address (a broadcast address in a wide range) is a silent host, not a broken tool', async () => {
    const wrapper = join(t.dir, 'ping-broadcast.sh')
    writeFileSync(wrapper, `#!/bin/sh\necho "Do you want to ping broadcast? Then -b. If not, check your local firewall rules" >&2\nexit 2\n`, {mode: 0o755})
    const r = await runCli(['scan', '127.0.0.8', '--method', 'icmp', '--no-rdns', '--timeout', '1s', '--json'], {
      db: t.db,
      env: {NETMON_SCAN_ICMP_TOOL: 'ping', NETMON_PING: wrapper},
    })
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.hosts).toEqual([])
    expect(r.json.scan.warnings).toEqual([])
  })
})

/**
 * nmap-compatible outputs and target lists (issue 17, acceptance 2) on a netns LAN, 10.77.21.0/24:
 *
 *   .10 listens on 22 and 80      .11 listens on 3306
 *   .12 listens on 22 (the host that --exclude / -iL leave out while it is alive)
 *   .13 drops every IP packet (answers ARP only: its ports are filtered)
 *
 * - `scan -oX` validates against nmap's own DTD (xmllint --dtdvalid /usr/share/nmap/nmap.dtd), and
 *   `ndiff` reads both a real `nmap -sT -n -p 22,80,3306 -oX` of the same hosts and netmon's XML
 *   and reports no difference. ndiff compares, per host: the state (up/down), the addresses
 *   (ipv4 and MAC), the host names, each port's state and service name/product/version/extrainfo,
 *   the extraports counts ("Not shown"), OS matches and script output. It ignores the scanner
 *   line (args, version, start time), reasons, times, runstats and MAC vendor names.
 * - `-oG`, `--csv`, `-iL`, `--exclude`/`--exclude-file` (the excluded host is never sent a packet:
 *   nft counters inside its namespace stay at 0 while they count a normal scan), `--open`.
 * Every scan names its targets explicitly, all inside this test's LAN.
 */
import {execFileSync, spawnSync} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runCli, tempStore} from '../../support/cli.js'
import {NETNS_SKIP, createLan, testMac, type Lan, type LanHost} from '../../support/netns.js'

const DTD = '/usr/share/nmap/nmap.dtd'
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0
const TOOLS_SKIP = !has('nmap')
  ? 'nmap is not installed (Debian package nmap)'
  : !has('ndiff')
    ? 'ndiff is not installed (Debian package ndiff)'
    : !has('xmllint')
      ? 'xmllint is not installed (Debian package libxml2-utils)'
      : !existsSync(DTD)
        ? `${DTD} is missing`
        : !has('nft')
          ? 'nft is not installed (Debian package nftables)'
          : null
const SKIP = NETNS_SKIP ?? TOOLS_SKIP
if (SKIP) console.warn(`skipping the nmap-output tests: ${SKIP}`)

const PORTS = '22,80,3306'
const ALL = '10.77.21.10-13'

describe.skipIf(SKIP)('nmap outputs and target lists on a netns LAN (10.77.21.0/24)', () => {
  const t = tempStore('netmon-nmapx-')
  let lan: Lan
  let excluded: LanHost
  const ok = async (args: string[]) => {
    const r = await runCli(args, {db: t.db, timeoutMs: 120_000})
    expect(r.code, `netmon ${args.join(' ')}: ${r.stderr}`).toBe(0)
    return r
  }
  const file = (name: string) => join(t.dir, name)
  const base = ['scan', '--ports', PORTS, '--port-timeout', '1s', '--no-rdns', '--no-conflict-check']

  /** Packets the excluded host received from the scanning side: IPv4 from the gateway, and ARP requests for its address. */
  const counters = (): number => {
    const out = lan.exec(excluded, ['nft', '-j', 'list', 'table', 'netdev', 'nmx'])
    return JSON.parse(out)
      .nftables.filter((x: any) => x.rule)
      .flatMap((x: any) => x.rule.expr)
      .filter((e: any) => e.counter)
      .reduce((n: number, e: any) => n + e.counter.packets, 0)
  }
  /** Packets counted from now on (anonymous rule counters cannot be reset with Debian 12's nft: a delta). */
  const startCounting = (): (() => number) => {
    const before = counters()
    return () => counters() - before
  }

  beforeAll(async () => {
    lan = await createLan({subnet: '10.77.21.0/24'})
    const web = lan.addHost({ip: '10.77.21.10', mac: testMac(2110)})
    const db = lan.addHost({ip: '10.77.21.11', mac: testMac(2111)})
    excluded = lan.addHost({ip: '10.77.21.12', mac: testMac(2112)})
    const silent = lan.addHost({ip: '10.77.21.13', mac: testMac(2113)})
    lan.dropAll(silent)
    await lan.listen(web, [22, 80])
    await lan.listen(db, [3306])
    await lan.listen(excluded, [22])
    // Ingress counters on the excluded host's eth0 (netdev: sees ARP and IP before anything else).
    const gw = lan.gatewayIp
    const rules = [
      'table netdev nmx {',
      '  chain in {',
      '    type filter hook ingress device eth0 priority 0;',
      `    ip saddr ${gw} counter`,
      '    arp operation request arp daddr ip 10.77.21.12 counter',
      '  }',
      '}',
    ].join('\n')
    execFileSync('ip', ['netns', 'exec', excluded.ns, 'nft', '-f', '-'], {input: rules})
  })

  afterAll(() => {
    lan?.destroy()
    t.cleanup()
  })

  it("-oX is valid against nmap's DTD and ndiff finds no difference from a real nmap scan of the same hosts", {timeout: 180_000}, async () => {
    const ours = file('netmon.xml')
    const theirs = file('nmap.xml')
    await ok([...base, ALL, '-oX', ours])
    execFileSync('nmap', ['-sT', '-n', '-p', PORTS, '-oX', theirs, ALL], {stdio: 'pipe', timeout: 120_000})

    const xml = readFileSync(ours, 'utf8')
    for (const ip of ['10.77.21.10', '10.77.21.11', '10.77.21.12', '10.77.21.13']) expect(xml).toContain(`<address addr="${ip}" addrtype="ipv4"/>`)
    expect(xml).toContain(`<address addr="${testMac(2110).toUpperCase()}" addrtype="mac"`)
    for (const f of [ours, theirs]) {
      const v = spawnSync('xmllint', ['--noout', '--dtdvalid', DTD, f], {encoding: 'utf8'})
      expect(v.status, `${f}: ${v.stderr}`).toBe(0)
    }
    // ndiff exits 0 when the scans are the same, 1 when they differ, 2 on error.
    const d = spawnSync('ndiff', [theirs, ours], {encoding: 'utf8'})
    expect(d.status, `ndiff:\n${d.stdout}${d.stderr}`).toBe(0)
    // It can fail: the same XML with port 80 of .10 turned closed is a difference ndiff reports.
    const changed = file('changed.xml')
    writeFileSync(
      changed,
      xml.replace(/(<address addr="10.77.21.10"[\s\S]*?<port protocol="tcp" portid="80"><state state=")open(" reason=")syn-ack/, '$1closed$2conn-refused'),
    )
    const d2 = spawnSync('ndiff', [theirs, changed], {encoding: 'utf8'})
    expect(d2.status, d2.stderr).toBe(1)
    expect(d2.stdout).toMatch(/-80\/tcp\s+open\s+http[\s\S]*\+80\/tcp\s+closed\s+http/)
  })

  it('-oG and --csv', async () => {
    const g = file('netmon.gnmap')
    const csv = await ok([...base, ALL, '-oG', g, '--csv'])
    const lines = readFileSync(g, 'utf8').split('\n')
    expect(lines).toContain('Host: 10.77.21.10 ()\tStatus: Up')
    expect(lines).toContain('Host: 10.77.21.10 ()\tPorts: 22/open/tcp//ssh///, 80/open/tcp//http///, 3306/closed/tcp//mysql///')
    expect(lines).toContain('Host: 10.77.21.13 ()\tPorts: 22/filtered/tcp//ssh///, 80/filtered/tcp//http///, 3306/filtered/tcp//mysql///')
    const rows = csv.stdout.trim().split('\n')
    expect(rows[0]).toBe('ip,mac,vendor,hostname,found_by,rtt_ms,open_ports,closed,filtered,new,self')
    expect(rows.slice(1).map(r => r.split(',')[0])).toEqual(['10.77.21.10', '10.77.21.11', '10.77.21.12', '10.77.21.13'])
    expect(rows.find(r => r.startsWith('10.77.21.11,'))).toMatch(/,3306\/mysql,2,0,/)
    // The table and summary are not mixed into the CSV: the summary goes to stderr.
    expect(csv.stderr).toMatch(/Scan #\d+ done/)
    // -oX - : the XML alone on stdout, valid against the DTD.
    const x = await ok([...base, '10.77.21.10', '-oX', '-'])
    expect(x.stdout.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n')).toBe(true)
    const v = spawnSync('xmllint', ['--noout', '--dtdvalid', DTD, '-'], {input: x.stdout, encoding: 'utf8'})
    expect(v.status, v.stderr).toBe(0)
  })

  it('--exclude: an excluded live host is absent and is never sent a packet', {timeout: 120_000}, async () => {
    // The counters can fail: a scan that includes .12 is counted.
    let sent = startCounting()
    const all = await ok([...base, ALL, '--json'])
    expect(all.json.hosts.map((h: any) => h.ip)).toContain('10.77.21.12')
    expect(sent()).toBeGreaterThan(0)

    sent = startCounting()
    const r = await ok([...base, ALL, '--exclude', '10.77.21.12', '--json'])
    expect(r.json.hosts.map((h: any) => h.ip)).toEqual(['10.77.21.10', '10.77.21.11', '10.77.21.13'])
    expect(r.json.scan.addresses).toBe(3)
    expect(sent()).toBe(0)

    // --exclude-file, with a CIDR covering .12-.15.
    const ex = file('exclude.txt')
    writeFileSync(ex, '# never touch\n10.77.21.12/30\n')
    sent = startCounting()
    const r2 = await ok([...base, ALL, '--exclude-file', ex, '--json'])
    expect(r2.json.hosts.map((h: any) => h.ip)).toEqual(['10.77.21.10', '10.77.21.11'])
    expect(sent()).toBe(0)
  })

  it('-iL reads targets with comments; .12 (alive, not listed) is not scanned', async () => {
    const list = file('targets.txt')
    writeFileSync(list, '# lab hosts\n10.77.21.10   # web\n\n10.77.21.11,10.77.21.13\n# 10.77.21.12 is not listed\n')
    const sent = startCounting()
    const r = await ok([...base, '-iL', list, '--json'])
    expect(r.json.scan.targets).toEqual(['10.77.21.10', '10.77.21.11', '10.77.21.13'])
    expect(r.json.hosts.map((h: any) => h.ip)).toEqual(['10.77.21.10', '10.77.21.11', '10.77.21.13'])
    expect(sent()).toBe(0)
  })

  it('--open: only hosts with open ports, only open ports (JSON, text, XML)', async () => {
    const x = file('open.xml')
    const r = await ok([...base, ALL, '--open', '--json', '-oX', x])
    expect(r.json.hosts.map((h: any) => h.ip)).toEqual(['10.77.21.10', '10.77.21.11', '10.77.21.12'])
    const xml = readFileSync(x, 'utf8')
    expect(xml).not.toContain('10.77.21.13')
    expect(xml).not.toMatch(/state="(closed|filtered)"/)
    expect(spawnSync('xmllint', ['--noout', '--dtdvalid', DTD, x]).status).toBe(0)
    const text = await ok([...base, ALL, '--open'])
    expect(text.stdout).not.toContain('10.77.21.13')
    expect(text.stdout).toContain('10.77.21.11')
  })

  it('bad flags exit 2 before anything is probed', async () => {
    const empty = file('empty.txt')
    writeFileSync(empty, '# nothing\n\n')
    const cases: [string[], RegExp][] = [
      [['scan', '10.77.21.10', '--open'], /--open needs a port scan/],
      [['scan', '-iL', file('missing.txt')], /-iL .*missing\.txt: cannot read it \(ENOENT\)/],
      [['scan', '-iL', empty], /names no target/],
      [['scan', '10.77.21.10', '--exclude', '10.77.21.300'], /invalid --exclude entry "10\.77\.21\.300"/],
      [['scan', '10.77.21.10', '--exclude', '10.77.21.0/24'], /every target address is excluded/],
      // --exclude takes one value: the target after it stays a target (here an invalid one, so
      // nothing is probed), never swallowed into the exclusions (which would leave no target).
      [['scan', '--exclude', '10.77.21.12', '10.77.21.300'], /invalid target "10\.77\.21\.300"/],
      [['scan', '--dns-server', '127.0.0.1', '10.77.21.300'], /invalid target "10\.77\.21\.300"/],
      [['scan', '10.77.21.10', '--exclude-file', file('nope.txt')], /--exclude-file .*nope\.txt: cannot read it/],
      [['scan', '10.77.21.10', '--ports', '22', '-oX', join(t.dir, 'no-dir', 'x.xml')], /-oX .*x\.xml: cannot write it/],
      [['scan', '10.77.21.10', '--ports', '22', '-oX', '-', '--csv'], /both write to stdout/],
      [['scan', '10.77.21.10', '--csv', '--json'], /both write to stdout/],
    ]
    for (const [args, msg] of cases) {
      const r = await runCli(args, {db: t.db})
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2)
      expect(r.stderr).toMatch(msg)
    }
  })
})

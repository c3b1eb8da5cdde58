/**
 * The nmap-compatible writers (src/core/scan/nmap-xml.ts): XML structure and escaping (checked
 * against nmap's DTD with xmllint when both are installed), grepable lines, CSV quoting, --open,
 * and the target-list / exclusion helpers they come with.
 */
import {execFileSync} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import type {ReportedHost, ScanReport} from '../../../src/core/scan/index.js'
import {csvField, hostPorts, portRanges, toCsv, toGrepable, toNmapXml, xmlAttr} from '../../../src/core/scan/nmap-xml.js'
import {excludeAddresses, parseTargetList, resolveExcludes} from '../../../src/core/scan/targets.js'

const DTD = '/usr/share/nmap/nmap.dtd'
const hasXmllint = (() => {
  try {
    execFileSync('xmllint', ['--version'], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
})()
const DTD_SKIP = !existsSync(DTD) ? `${DTD} is missing (Debian package nmap)` : !hasXmllint ? 'xmllint is missing (Debian package libxml2-utils)' : null
if (DTD_SKIP) console.warn(`skipping the DTD validation: ${DTD_SKIP}`)

const now = Date.now()

function host(over: Partial<ReportedHost> & {ip: string}): ReportedHost {
  return {
    mac: null,
    mac_kind: null,
    vendor: null,
    hostname: null,
    found_by: ['neighbor'],
    rtt_ms: null,
    interface: null,
    self: false,
    device_id: 1,
    new: false,
    seen: new Date(now).toISOString(),
    seen_ms: now,
    ...over,
  }
}

function report(hosts: ReportedHost[], ports: string | null = '22,80,3306'): ScanReport {
  return {
    scan: {
      id: 7,
      status: 'done',
      started: new Date(now - 2000).toISOString(),
      started_ms: now - 2000,
      finished: new Date(now).toISOString(),
      finished_ms: now,
      duration_ms: 2000,
      targets: ['10.0.0.0/24'],
      addresses: 254,
      methods: ['neighbor', 'tcp', 'icmp'],
      ports,
      ports_per_host: 3,
      tcp_engine: 'net',
      icmp_tool: 'fping',
      neighbor_flushed: 0,
      late_found: [],
      warnings: [],
    },
    summary: {} as ScanReport['summary'],
    hosts,
    conflicts: [],
  }
}

const NASTY = `a&b <c> "d" 'e'\u0001\u0007\ttab\nnl`
const sample = report([
  host({
    ip: '10.0.0.7',
    mac: '02:4e:4d:00:00:07',
    vendor: 'Acme & <Sons> "Ltd"',
    hostname: 'nas&co.lan',
    found_by: ['neighbor', 'tcp'],
    rtt_ms: 0.42,
    ports: [
      {port: 22, proto: 'tcp', service: 'ssh', banner: NASTY},
      {port: 80, proto: 'tcp', service: 'http'},
    ],
    ports_summary: {open: 2, closed: 1, filtered: 0},
  }),
  host({ip: '10.0.0.8', found_by: ['icmp'], ports: [], ports_summary: {open: 0, closed: 0, filtered: 3}}),
  host({ip: '10.0.0.9', found_by: ['tcp'], ports: [{port: 3306, proto: 'tcp', service: 'mysql'}], ports_summary: {open: 1, closed: 1, filtered: 1}}),
])
const opts = {
  ports: [22, 80, 3306],
  args: 'netmon scan 10.0.0.0/24 --ports 22,80,3306 -oX "a&b.xml"',
  version: '0.1.0',
  serviceName: (p: number) => ({22: 'ssh', 80: 'http', 3306: 'mysql'})[p] ?? null,
}

describe('XML escaping', () => {
  it('escapes the five specials, keeps whitespace as character references and replaces what XML 1.0 cannot carry', () => {
    expect(xmlAttr(NASTY)).toBe('a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos;\ufffd\ufffd&#x9;tab&#xa;nl')
    expect(xmlAttr('\ud800x')).toBe('\ufffdx')
    expect(xmlAttr('ünïcode ✓')).toBe('ünïcode ✓')
  })

  it('compacts port lists as nmap does', () => {
    expect(portRanges([80, 22, 23, 24, 8000, 8001, 9000, 22])).toBe('22-24,80,8000-8001,9000')
  })
})

describe('toNmapXml', () => {
  const xml = toNmapXml(sample, opts)

  it('has the nmaprun / scaninfo / host / runstats structure with ipv4 + mac addresses', () => {
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<!DOCTYPE nmaprun>\n/)
    expect(xml).toContain('<nmaprun scanner="nmap" args="netmon scan 10.0.0.0/24 --ports 22,80,3306 -oX &quot;a&amp;b.xml&quot;"')
    expect(xml).toContain('<scaninfo type="connect" protocol="tcp" numservices="3" services="22,80,3306"/>')
    expect(xml).toContain(
      '<address addr="10.0.0.7" addrtype="ipv4"/>\n<address addr="02:4E:4D:00:00:07" addrtype="mac" vendor="Acme &amp; &lt;Sons&gt; &quot;Ltd&quot;"/>',
    )
    expect(xml).toContain('<hostname name="nas&amp;co.lan" type="PTR"/>')
    expect(xml).toContain(
      '<port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="0"/><service name="ssh" method="table" conf="3"/><script id="banner" output="a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos;\ufffd\ufffd&#x9;tab&#xa;nl"/></port>',
    )
    // One non-open state: its ports are listed, named from the table, as nmap lists a few closed ports.
    expect(xml).toContain(
      '<port protocol="tcp" portid="3306"><state state="closed" reason="conn-refused" reason_ttl="0"/><service name="mysql" method="table" conf="3"/></port>',
    )
    expect(xml).toContain('<status state="up" reason="echo-reply" reason_ttl="0"/>')
    // Both closed and filtered: which port was which is unknown, so both are counts.
    expect(xml).toMatch(/<address addr="10.0.0.9"[\s\S]*<extraports state="closed" count="1">[\s\S]*<extraports state="filtered" count="1">/)
    expect(xml).toContain('<hosts up="3" down="251" total="254"/>')
    expect(xml).toMatch(/<finished time="\d+" timestr="[^"]+" summary="[^"]+" elapsed="2.00" exit="success"\/>/)
    expect(xml.trimEnd().endsWith('</nmaprun>')).toBe(true)
  })

  it('collapses a state of 26 or more ports into extraports, as nmap does', () => {
    const many = Array.from({length: 30}, (_, i) => i + 1)
    const h = host({ip: '10.0.0.1', ports: [{port: 5, proto: 'tcp', service: null}], ports_summary: {open: 1, closed: 29, filtered: 0}})
    expect(hostPorts(h, many).extra).toEqual([{state: 'closed', count: 29}])
    expect(hostPorts(h, many).listed.map(p => p.port)).toEqual([5])
    const few = {...h, ports_summary: {open: 1, closed: 2, filtered: 0}}
    expect(hostPorts(few, [4, 5, 6]).listed.map(p => `${p.port}/${p.state}`)).toEqual(['4/closed', '5/open', '6/closed'])
  })

  it('--open leaves out hosts without open ports and every port that is not open', () => {
    const x = toNmapXml(sample, {...opts, openOnly: true})
    expect(x).not.toContain('10.0.0.8')
    expect(x).not.toContain('state="closed"')
    expect(x).not.toContain('extraports')
    expect(x).toContain('<address addr="10.0.0.9"')
    // runstats still counts every host that was up.
    expect(x).toContain('<hosts up="3" down="251" total="254"/>')
  })

  it('without a port scan there is no scaninfo and no ports element', () => {
    const x = toNmapXml(report([host({ip: '10.0.0.7'})], null), {...opts, ports: null})
    expect(x).not.toContain('<scaninfo')
    expect(x).not.toContain('<ports>')
  })

  describe.skipIf(DTD_SKIP)("valid against nmap's DTD", () => {
    const dir = mkdtempSync(join(tmpdir(), 'netmon-nmapxml-'))
    afterAll(() => rmSync(dir, {recursive: true, force: true}))
    const valid = (text: string): string => {
      const f = join(dir, 'x.xml')
      writeFileSync(f, text)
      try {
        execFileSync('xmllint', ['--noout', '--dtdvalid', DTD, f], {stdio: 'pipe'})
        return 'valid'
      } catch (e) {
        return String((e as {stderr?: Buffer}).stderr ?? e)
      }
    }
    it('every variant validates (escaped values, --open, no port scan, interrupted)', () => {
      expect(valid(xml)).toBe('valid')
      expect(valid(toNmapXml(sample, {...opts, openOnly: true}))).toBe('valid')
      expect(valid(toNmapXml(report([host({ip: 'fd00::7', self: true})], null), {...opts, ports: null}))).toBe('valid')
      const interrupted = report(sample.hosts)
      interrupted.scan.status = 'interrupted'
      expect(valid(toNmapXml(interrupted, opts))).toBe('valid')
    })
    it('the validation can fail: a document missing runstats is rejected', () => {
      expect(valid(xml.replace(/<runstats>[\s\S]*<\/runstats>\n/, ''))).toMatch(/runstats|does not follow the DTD|failed/i)
    })
  })
})

describe('toGrepable', () => {
  it("writes nmap's Host/Status and Host/Ports lines with fields that never break the format", () => {
    const g = toGrepable(sample, opts).split('\n')
    expect(g[0]).toMatch(/^# netmon 0.1.0 scan initiated .* as: netmon scan 10.0.0.0\/24/)
    expect(g).toContain('Host: 10.0.0.7 (nas&co.lan)\tStatus: Up')
    // The banner's "/" → "|", "," → " ", controls → spaces: the line stays one line of fields.
    expect(g).toContain(`Host: 10.0.0.7 (nas&co.lan)\tPorts: 22/open/tcp//ssh//a&b <c> "d" 'e'   tab nl/, 80/open/tcp//http///, 3306/closed/tcp//mysql///`)
    expect(g).toContain('Host: 10.0.0.8 ()\tPorts: 22/filtered/tcp//ssh///, 80/filtered/tcp//http///, 3306/filtered/tcp//mysql///')
    expect(g).toContain('Host: 10.0.0.9 ()\tPorts: 3306/open/tcp//mysql///\tIgnored State: closed (1), filtered (1)')
    expect(g.at(-2)).toMatch(/^# netmon done at .* -- 254 IP addresses \(3 hosts up\) scanned in 2.00 seconds$/)
    const withSlash = toGrepable(
      report([host({ip: '10.0.0.1', ports: [{port: 1, proto: 'tcp', service: 'a/b,c', banner: 'x/y'}], ports_summary: {open: 1, closed: 0, filtered: 0}})]),
      opts,
    )
    expect(withSlash).toContain('Ports: 1/open/tcp//a|b c//x|y/')
  })

  it('--open: only hosts with open ports, only open ports', () => {
    const g = toGrepable(sample, {...opts, openOnly: true})
    expect(g).not.toContain('10.0.0.8')
    expect(g).not.toContain('closed')
    expect(g).toContain('Host: 10.0.0.9 ()\tPorts: 3306/open/tcp//mysql///\n')
  })
})

describe('toCsv', () => {
  it('quotes fields with commas, quotes and newlines (RFC 4180)', () => {
    expect(csvField('a,b')).toBe('"a,b"')
    expect(csvField('say "hi"')).toBe('"say ""hi"""')
    expect(csvField('two\nlines')).toBe('"two\nlines"')
    expect(csvField(null)).toBe('')
    const csv = toCsv(
      report([
        host({
          ip: '10.0.0.7',
          vendor: 'Acme, "Inc"',
          found_by: ['neighbor', 'tcp'],
          rtt_ms: 1.5,
          ports: [
            {port: 22, proto: 'tcp', service: 'ssh'},
            {port: 9, proto: 'tcp', service: null},
          ],
          ports_summary: {open: 2, closed: 1, filtered: 0},
        }),
      ]),
    )
    expect(csv.split('\n')).toEqual([
      'ip,mac,vendor,hostname,found_by,rtt_ms,open_ports,closed,filtered,new,self',
      '10.0.0.7,,"Acme, ""Inc""",,neighbor;tcp,1.5,22/ssh;9/,1,0,false,false',
      '',
    ])
  })
})

describe('target lists and exclusions', () => {
  it('reads nmap -iL files: newlines, spaces, tabs, commas; # comments', () => {
    expect(parseTargetList('# lab\n10.0.0.1  10.0.0.2\t10.0.0.3\r\n10.0.0.8/30,10.0.0.20-22 # printers\n\n  # end\n')).toEqual([
      '10.0.0.1',
      '10.0.0.2',
      '10.0.0.3',
      '10.0.0.8/30',
      '10.0.0.20-22',
    ])
  })

  it('excludes addresses, whole CIDR blocks and ranges; leaves the rest in order', async () => {
    const addrs = Array.from({length: 20}, (_, i) => ({ip: `10.0.0.${i + 1}`}))
    const ex = await resolveExcludes(['10.0.0.3', '10.0.0.8/30', '10.0.0.15-17', '8.8.8.8'])
    expect(excludeAddresses(addrs, ex).map(a => a.ip.split('.')[3])).toEqual(['1', '2', '4', '5', '6', '7', '12', '13', '14', '18', '19', '20'])
    const named = await resolveExcludes(['printer.lan'], async () => '10.0.0.2')
    expect(excludeAddresses(addrs, named).map(a => a.ip)).not.toContain('10.0.0.2')
    await expect(resolveExcludes(['10.0.0.300'])).rejects.toThrow(/invalid --exclude entry "10.0.0.300"/)
  })
})

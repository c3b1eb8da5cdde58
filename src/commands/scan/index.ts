import {Args, Flags} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {renderTable} from '../../cli/table.js'
import {startProgress, type Progress} from '../../core/progress.js'
import {scan, type IpConflict, type ReportedHost, type ScanReport} from '../../core/scan/index.js'
import {closeSync, openSync, writeSync} from 'node:fs'
import {invalidInput} from '../../core/errors.js'
import {toCsv, toGrepable, toNmapXml} from '../../core/scan/nmap-xml.js'
import {buildScanRequest} from '../../core/scan/options.js'
import {parsePorts, serviceName} from '../../core/scan/services.js'
import {vendorLabel} from '../../core/scan/vendor.js'

type PortsOf = {ports?: {port: number; service: string | null; banner?: string | null}[]}

const portName = (p: {port: number; service: string | null}) => (p.service ? `${p.port}/${p.service}` : String(p.port))

/** nmap's multi-letter single-dash options, spelled as netmon's long flags before oclif parses. */
const NMAP_SPELLINGS: Record<string, string> = {'-oX': '--output-xml', '-oG': '--output-grepable', '-iL': '--input-list'}

export function rewriteNmapFlags(argv: string[]): string[] {
  const out: string[] = []
  for (const a of argv) {
    if (a === '--') {
      out.push(...argv.slice(out.length))
      break
    }
    const eq = a.indexOf('=')
    const head = eq > 0 ? a.slice(0, eq) : a
    const long = NMAP_SPELLINGS[head]
    out.push(long ? long + (eq > 0 ? a.slice(eq) : '') : a)
  }
  return out
}

/** An output target opened before the scan (nmap fails early too); '-' is stdout. */
interface OutputFile {
  path: string
  fd: number | null
}

function openOutput(path: string, flag: string): OutputFile {
  if (path === '-') return {path, fd: null}
  try {
    return {path, fd: openSync(path, 'w')}
  } catch (e) {
    throw invalidInput(
      `${flag} ${path}: cannot write it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      'give a writable file path, or - for stdout',
    )
  }
}

function writeOutput(o: OutputFile, text: string): void {
  if (o.fd === null) process.stdout.write(text)
  else {
    writeSync(o.fd, text)
    closeSync(o.fd)
  }
}

function portsText(h: PortsOf): string {
  if (!h.ports) return ''
  return h.ports.map(portName).join(', ')
}

/** A banner for the table: printable ASCII only, at most 60 characters. */
function shortBanner(banner: string): string {
  const text = banner
    .replace(/[^\x20-\x7e]/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim()
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

/** With --banners: one line per open port, its banner after the name (`3306/mysql  MySQL 8.0.32`). */
function portsWithBanners(h: PortsOf): string {
  if (!h.ports) return ''
  return h.ports.map(p => (p.banner ? `${portName(p)}  ${shortBanner(p.banner)}` : portName(p))).join('\n')
}

/** nmap's "Not shown" line: the scanned ports that are not open, by state (empty when every port is open or none was scanned). */
function notShownText(h: {ports_summary?: {closed: number; filtered: number}}): string {
  const s = h.ports_summary
  if (!s) return ''
  const parts = [s.closed ? `${s.closed} closed` : '', s.filtered ? `${s.filtered} filtered` : ''].filter(Boolean)
  return parts.length ? `Not shown: ${parts.join(', ')}` : ''
}

export default class Scan extends NetmonCommand {
  static override summary = 'Discover devices on the LAN and remember them in the inventory'
  static override description =
    `Targets are CIDRs (192.168.1.0/24), ranges (192.168.1.1-50 or 192.168.1.1-192.168.1.50), addresses and host names, space or comma separated. Without targets, the subnets of this machine's up, non-loopback interfaces are scanned (each at most a /22 unless --force). Public address space is refused unless --allow-public.

Each address is probed by every method at once: the kernel neighbor table after a UDP nudge (finds hosts that answer nothing but ARP), TCP connects to a few common ports (a refusal proves the host is up) and ICMP echo through fping/ping. Each host is reported with the methods that found it, its MAC and vendor (locally administered MACs are reported as such), reverse-DNS name and, with --ports, its open TCP ports and how many of the others were closed (refused) or filtered (no answer), as nmap's "Not shown" line.

The inventory is updated in one transaction at the end: new devices, devices back online, devices not found at an address the scan covered (offline), IP and hostname changes, port changes and IP conflicts (two or more MACs answering ARP for one address, arp-scan's DUP; checked with arping after discovery) become events (netmon devices timeline). While the scan runs, \`netmon scan status\` in another shell shows its progress. A progress bar is drawn on stderr when it is a terminal. Ctrl-C stops the scan, keeps what was found, and exits 130.`

  static override examples = [
    '<%= config.bin %> scan 192.168.1.0/24',
    '<%= config.bin %> scan 192.168.1.1-50 192.168.1.200 --ports top100 --banners',
    '<%= config.bin %> scan 10.0.0.0/24 --method neighbor --json',
    '<%= config.bin %> scan 10.0.0.0/24 --json --stream | jq -c \'select(.type=="host") | .ip\'',
    '<%= config.bin %> scan 127.0.0.1 --ports all',
    '<%= config.bin %> scan --register',
    '<%= config.bin %> scan 192.168.1.0/24 --ports 22,80,443 -oX scan.xml -oG scan.gnmap',
    '<%= config.bin %> scan -iL targets.txt --exclude 192.168.1.1,192.168.1.250-254 --ports top100 --open',
    '<%= config.bin %> scan 192.168.1.0/24 --csv > hosts.csv',
  ]

  static override strict = false
  static override args = {
    targets: Args.string({description: 'CIDR, range, address or host name (repeatable); default: the local subnets', required: false}),
  }

  static override flags = {
    db: dbFlag,
    method: Flags.string({description: 'Discovery methods: neighbor, tcp, icmp, comma separated, or all', default: 'all', helpValue: 'LIST'}),
    timeout: Flags.string({description: 'How long each address is given to answer (all methods, all retries)', default: '800ms', helpValue: 'DURATION'}),
    retries: Flags.integer({description: 'Extra probe rounds within --timeout for addresses that have not answered (and for timed-out ports)', default: 1}),
    concurrency: Flags.integer({description: 'Addresses probed at once', default: 256}),
    ports: Flags.string({
      description: 'TCP connect scan of live hosts: a list (22,80,8000-8100), top100, top1000 or all',
      helpValue: 'LIST|top100|top1000|all',
    }),
    'port-timeout': Flags.string({description: 'Per-port connect timeout', default: '1s', helpValue: 'DURATION'}),
    'max-sockets': Flags.integer({description: 'TCP connections in flight at most', default: 4096}),
    banners: Flags.boolean({
      description: 'Read the first line each open port says (MySQL/MariaDB greetings decoded to their version; HTTP ports get one HEAD request)',
      default: false,
    }),
    'banner-timeout': Flags.string({description: 'How long to wait for a banner', default: '1s', helpValue: 'DURATION'}),
    rdns: Flags.boolean({description: 'Reverse DNS for found hosts (hosts file first; --no-rdns to skip DNS)', default: true, allowNo: true}),
    'dns-server': Flags.string({
      description: 'DNS server for reverse lookups instead of the system ones (repeatable)',
      multiple: true,
      multipleNonGreedy: true,
      helpValue: 'ADDR[:PORT]',
    }),
    'dns-timeout': Flags.string({description: 'Reverse DNS timeout', default: '500ms', helpValue: 'DURATION'}),
    'arp-wait': Flags.string({
      description:
        'How long on-link addresses are given to answer ARP/NDP from their first request: the ones still silent after --timeout are asked once more and watched together until then (0: no extra wait)',
      default: '2.5s',
      helpValue: 'DURATION',
    }),
    'conflict-check': Flags.boolean({
      description:
        'Ask every live on-link IPv4 host once more with arping (iputils, needs root or CAP_NET_RAW, ~1 s) and report addresses that two or more MACs answer (IP conflicts)',
      default: true,
      allowNo: true,
    }),
    register: Flags.boolean({description: 'Also register every found device (with a MAC) for bandwidth accounting', default: false}),
    'allow-public': Flags.boolean({description: 'Allow public address space (only networks you are authorised to scan)', default: false}),
    force: Flags.boolean({description: 'Allow more than a /22 (1024 addresses), up to a /16', default: false}),
    'output-xml': Flags.string({
      description: 'Also write nmap-compatible XML (nmap -oX; ndiff and nmap XML tools read it) to FILE, - for stdout. Spelled -oX too',
      helpValue: 'FILE',
    }),
    'output-grepable': Flags.string({description: "Also write nmap's grepable format (nmap -oG) to FILE, - for stdout. Spelled -oG too", helpValue: 'FILE'}),
    csv: Flags.boolean({description: 'Print the hosts as CSV on stdout instead of the table (header line, one row per host)', default: false}),
    'input-list': Flags.string({
      description: 'Read targets from FILE (nmap -iL): separated by newlines, spaces or commas, # starts a comment. Spelled -iL too',
      helpValue: 'FILE',
    }),
    exclude: Flags.string({
      description: 'Never probe these addresses, CIDRs, ranges or host names (comma separated, repeatable), like nmap --exclude',
      multiple: true,
      // One value per --exclude: a greedy flag would swallow the targets after it, and a scan
      // left without targets falls back to the local subnets.
      multipleNonGreedy: true,
      helpValue: 'LIST',
    }),
    'exclude-file': Flags.string({description: 'Never probe the targets listed in FILE (the -iL format), like nmap --excludefile', helpValue: 'FILE'}),
    open: Flags.boolean({description: 'Show only hosts with open ports, and only their open ports (nmap --open; needs --ports)', default: false}),
    stream: Flags.boolean({
      description: 'Print each host as it answers: NDJSON with --json ({"type":"host"} lines, then {"type":"summary"}), else one line per host',
      default: false,
    }),
  }

  async run(): Promise<ScanReport | undefined> {
    const raw = this.argv
    const {argv, flags} = await this.parse(Scan, rewriteNmapFlags(raw))
    const req = buildScanRequest(argv as string[], flags)
    const json = this.jsonEnabled()
    if (flags.open && req.ports === null) throw invalidInput('--open needs a port scan', 'add --ports, e.g. --ports top100 --open')
    const toStdout = [flags['output-xml'] === '-' && '-oX -', flags['output-grepable'] === '-' && '-oG -', flags.csv && '--csv'].filter(Boolean)
    if (toStdout.length > 1) throw invalidInput(`${toStdout.join(' and ')} both write to stdout`, 'send one of them to a file')
    if (toStdout.length && (json || flags.stream))
      throw invalidInput(`${toStdout[0]} and ${json ? '--json' : '--stream'} both write to stdout`, 'send one of them to a file')
    const scanned = req.ports === null ? null : parsePorts(req.ports)
    const xmlOut = flags['output-xml'] !== undefined ? openOutput(flags['output-xml'], '-oX') : null
    const grepOut = flags['output-grepable'] !== undefined ? openOutput(flags['output-grepable'], '-oG') : null
    const openOnly = flags.open
    /** The human table is replaced when a machine format goes to stdout. */
    const quiet = toStdout.length > 0
    const ui: {bar: Promise<Progress> | null} = {bar: null}
    const ac = new AbortController()
    const onSigint = () => ac.abort()
    process.once('SIGINT', onSigint)
    try {
      const report = await scan(req, {
        openStore: () => this.openStore(flags.db),
        signal: ac.signal,
        onNote: t => this.note(`note: ${t}`),
        onHost: h => {
          if (!flags.stream) return
          if (openOnly && !h.ports?.length) return
          const {seen_ms, ...rest} = h
          if (json) process.stdout.write(JSON.stringify({type: 'host', ...rest, seen: new Date(seen_ms).toISOString(), seen_ms}) + '\n')
          else {
            const notShown = notShownText(h)
            const line = [
              h.ip.padEnd(15),
              (h.mac ?? '-').padEnd(17),
              h.found_by.join(',').padEnd(18),
              vendorLabel(h, h.mac),
              h.hostname ?? '',
              portsText(h),
              notShown && `(${notShown})`,
            ]
            this.out(line.filter((x, i) => i < 3 || x).join('  '))
          }
        },
        onProgress: p => {
          ui.bar ??= startProgress('scan', p.hosts_total)
          void ui.bar.then(b => b.update(p.hosts_done, {found: p.found, ...(p.ports_total ? {ports: `${p.ports_done}/${p.ports_total}`} : {})}))
        },
      })
      ;(await ui.bar)?.stop()
      if (report.scan.status === 'interrupted') process.exitCode = 130
      const fileOpts = {ports: scanned, args: ['netmon', 'scan', ...raw].join(' '), version: this.config.version, openOnly, serviceName}
      if (xmlOut) writeOutput(xmlOut, toNmapXml(report, fileOpts))
      if (grepOut) writeOutput(grepOut, toGrepable(report, fileOpts))
      if (flags.csv) process.stdout.write(toCsv(report, {openOnly}))
      // --open filters every output (as nmap's does), the JSON result's hosts too.
      if (openOnly) report.hosts = report.hosts.filter(h => (h.ports?.length ?? 0) > 0)
      if (quiet) {
        for (const c of report.conflicts) this.note(conflictLine(c))
        this.note(summaryLine(report))
        return undefined
      }
      if (json && flags.stream) {
        process.stdout.write(JSON.stringify({type: 'summary', scan: report.scan, summary: report.summary, conflicts: report.conflicts}) + '\n')
        return undefined
      }
      if (!flags.stream) {
        this.out(renderHosts(report.hosts))
        const notShown = report.hosts.map(h => [h.ip, notShownText(h)]).filter(([, t]) => t)
        if (notShown.length) this.out(notShown.map(([ip, t]) => `${ip}: ${t}`).join('\n'))
      }
      for (const c of report.conflicts) this.out(conflictLine(c))
      this.out(summaryLine(report))
      return report
    } finally {
      ;(await ui.bar)?.stop()
      process.removeListener('SIGINT', onSigint)
    }
  }
}

function renderHosts(hosts: ReportedHost[]): string {
  const withPorts = hosts.some(h => h.ports)
  // Banners were asked for when the scan's ports carry the field (null when a port said nothing).
  const withBanners = hosts.some(h => h.ports?.some(p => p.banner !== undefined))
  const head = ['IP', 'MAC', 'Vendor', 'Hostname', 'Found by', 'RTT ms', ...(withPorts ? [withBanners ? 'Open ports, banners' : 'Open ports'] : []), '']
  return renderTable(
    head,
    hosts.map(h => [
      h.ip,
      h.mac ?? '',
      vendorLabel(h, h.mac),
      h.hostname ?? '',
      h.found_by.join(','),
      h.rtt_ms === null ? '' : h.rtt_ms.toFixed(2),
      ...(withPorts ? [withBanners ? portsWithBanners(h) : portsText(h)] : []),
      [h.new ? 'new' : '', h.self ? 'this machine' : ''].filter(Boolean).join(', '),
    ]),
  )
}

/** Like arp-scan's DUP: one line per address that several MACs answered. */
function conflictLine(c: IpConflict): string {
  return `warning: IP conflict (DUP): ${c.ip} is answered by ${c.macs.length} MACs: ${c.macs.join(', ')}`
}

function summaryLine(r: ScanReport): string {
  const s = r.summary
  const parts = [`${s.found} up`, `${s.new} new`]
  if (s.online) parts.push(`${s.online} back online`)
  if (s.offline) parts.push(`${s.offline} went offline`)
  if (s.ip_changed) parts.push(`${s.ip_changed} changed IP`)
  if (s.ip_conflict) parts.push(`${s.ip_conflict} IP conflict${s.ip_conflict === 1 ? '' : 's'}`)
  if (s.hostname_changed) parts.push(`${s.hostname_changed} changed hostname`)
  if (s.ports_changed) parts.push(`${s.ports_changed} changed ports`)
  if (s.merged) parts.push(`${s.merged} IP-only merged into their MAC device`)
  if (s.registered) parts.push(`${s.registered} registered for bandwidth`)
  const what = r.scan.status === 'interrupted' ? 'interrupted' : 'done'
  return `Scan #${r.scan.id} ${what}: ${r.scan.addresses} addresses (${r.scan.targets.join(' ')}) in ${(r.scan.duration_ms / 1000).toFixed(1)} s: ${parts.join(', ')}.`
}

/**
 * nmap-compatible outputs of a scan (issue 17): `-oX` XML, `-oG` grepable and `--csv`. Pure:
 * a ScanReport (plus the scanned port list and the command line) in, text out.
 *
 * The XML follows nmap's DTD (/usr/share/nmap/nmap.dtd, xmloutputversion 1.05) so ndiff and the
 * tools that read nmap XML accept it: nmaprun → scaninfo (with a port scan) → verbose/debugging →
 * host (status, address ipv4/ipv6, address mac with vendor, hostnames, ports, times) →
 * runstats (finished, hosts). Down hosts are not written, as nmap does without -v.
 *
 * Ports: netmon knows each open port, and for the others only how many ended closed and how
 * many filtered (types.ts PortsSummary). When only one of those states occurred, every non-open
 * scanned port is in it, so ports are written as nmap does: each one when there are at most 25
 * of that state, else one `<extraports>` with the count. When both closed and filtered ports
 * occurred, which port was which is unknown: both are written as `<extraports>` counts.
 */
import type {ReportedHost, ScanReport} from './index.js'
import type {Method} from './types.js'

/** nmap lists a non-open state's ports one by one up to this many, else "Not shown: N closed". */
export const NMAP_EXTRAPORTS_MIN = 26

export interface NmapOutputOptions {
  /** Every TCP port scanned on each host (parsePorts of the request), or null without a port scan. */
  ports: number[] | null
  /** The command line, for `args` (and the grepable header). */
  args: string
  /** netmon's version (nmaprun's required `version`). */
  version: string
  /** --open: only hosts with open ports, only their open ports. */
  openOnly?: boolean
  /** Names for listed closed/filtered ports (nmap names every listed port from its table); default none. */
  serviceName?: (port: number) => string | null
}

const XML_ESCAPES: Record<string, string> = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;'}

/**
 * Text safe inside an XML 1.0 attribute: the five specials escaped, tab/newline/CR as character
 * references (attribute normalisation would turn them into spaces), and characters XML 1.0 cannot
 * carry at all (other C0 controls, lone surrogates, U+FFFE/U+FFFF) replaced by U+FFFD.
 */
export function xmlAttr(text: string): string {
  let out = ''
  for (const ch of text) {
    const c = ch.codePointAt(0)!
    if (XML_ESCAPES[ch]) out += XML_ESCAPES[ch]
    else if (c === 0x9 || c === 0xa || c === 0xd) out += `&#x${c.toString(16)};`
    else if (c < 0x20 || (c >= 0xd800 && c <= 0xdfff) || c === 0xfffe || c === 0xffff) out += '\ufffd'
    else out += ch
  }
  return out
}

const attrs = (a: Record<string, string | number | null | undefined>): string =>
  Object.entries(a)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => ` ${k}="${xmlAttr(String(v))}"`)
    .join('')

/** nmap's compact port list: 22,80,8000-8100. */
export function portRanges(ports: number[]): string {
  const sorted = [...new Set(ports)].sort((a, b) => a - b)
  const parts: string[] = []
  for (let i = 0; i < sorted.length; ) {
    let j = i
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`)
    i = j + 1
  }
  return parts.join(',')
}

/** nmap's host status reasons for how netmon found the host. */
const REASON: Record<Method, string> = {neighbor: 'arp-response', tcp: 'conn-refused', icmp: 'echo-reply'}

function hostReason(h: ReportedHost): string {
  if (h.self) return 'localhost-response'
  const m = h.found_by[0]
  return m ? REASON[m] : 'user-set'
}

/** The hosts to write (--open: those with an open port) and whether their closed ports are shown. */
function shownHosts(report: ScanReport, opts: NmapOutputOptions): ReportedHost[] {
  if (!opts.openOnly) return report.hosts
  return report.hosts.filter(h => (h.ports?.length ?? 0) > 0)
}

interface PortLine {
  port: number
  state: 'open' | 'closed' | 'filtered'
  service: string | null
  banner?: string | null
}

/** A host's ports as nmap would list them, and the states collapsed into counts. */
export function hostPorts(
  h: ReportedHost,
  scanned: number[] | null,
  openOnly = false,
  name: (port: number) => string | null = () => null,
): {listed: PortLine[]; extra: {state: 'closed' | 'filtered'; count: number}[]} {
  const open: PortLine[] = (h.ports ?? []).map(p => ({port: p.port, state: 'open', service: p.service, banner: p.banner}))
  const s = h.ports_summary
  if (!s || !scanned || openOnly) return {listed: open, extra: []}
  const extra: {state: 'closed' | 'filtered'; count: number}[] = []
  const listed = [...open]
  const states = (['closed', 'filtered'] as const).filter(st => s[st] > 0)
  if (states.length === 1) {
    const st = states[0]!
    if (s[st] >= NMAP_EXTRAPORTS_MIN) extra.push({state: st, count: s[st]})
    else {
      const openSet = new Set(open.map(p => p.port))
      for (const port of scanned) if (!openSet.has(port)) listed.push({port, state: st, service: name(port)})
    }
  } else for (const st of states) extra.push({state: st, count: s[st]})
  listed.sort((a, b) => a.port - b.port)
  return {listed, extra}
}

const PORT_REASON = {open: 'syn-ack', closed: 'conn-refused', filtered: 'no-response'} as const

function unixSeconds(ms: number): number {
  return Math.floor(ms / 1000)
}

/** nmap's `startstr`/`timestr`: ctime format in local time ("Fri Dec  4 03:30:05 2026"). */
function ctime(ms: number): string {
  const d = new Date(ms)
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
  const p2 = (n: number) => String(n).padStart(2, '0')
  return `${days[d.getDay()]} ${months[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`
}

/** `scan -oX`: the report as an nmap XML document (see the file comment). */
export function toNmapXml(report: ScanReport, opts: NmapOutputOptions): string {
  const r = report.scan
  const hosts = shownHosts(report, opts)
  const out: string[] = []
  out.push('<?xml version="1.0" encoding="UTF-8"?>')
  out.push('<!DOCTYPE nmaprun>')
  out.push(`<!-- netmon ${xmlAttr(opts.version).replace(/--/g, '- -')} scan #${r.id}, nmap XML format -->`)
  out.push(
    `<nmaprun${attrs({scanner: 'nmap', args: opts.args, start: unixSeconds(r.started_ms), startstr: ctime(r.started_ms), version: opts.version, xmloutputversion: '1.05'})}>`,
  )
  if (opts.ports?.length) {
    out.push(`<scaninfo${attrs({type: 'connect', protocol: 'tcp', numservices: opts.ports.length, services: portRanges(opts.ports)})}/>`)
  }
  out.push('<verbose level="0"/>')
  out.push('<debugging level="0"/>')
  for (const h of hosts) {
    const seen = unixSeconds(h.seen_ms)
    out.push(`<host${attrs({starttime: unixSeconds(r.started_ms), endtime: Math.max(seen, unixSeconds(r.started_ms))})}>`)
    out.push(`<status${attrs({state: 'up', reason: hostReason(h), reason_ttl: 0})}/>`)
    out.push(`<address${attrs({addr: h.ip, addrtype: h.ip.includes(':') ? 'ipv6' : 'ipv4'})}/>`)
    if (h.mac) out.push(`<address${attrs({addr: h.mac.toUpperCase(), addrtype: 'mac', vendor: h.vendor})}/>`)
    out.push(h.hostname ? `<hostnames>\n<hostname${attrs({name: h.hostname, type: 'PTR'})}/>\n</hostnames>` : '<hostnames>\n</hostnames>')
    if (h.ports) {
      const {listed, extra} = hostPorts(h, opts.ports, opts.openOnly, opts.serviceName)
      out.push('<ports>')
      for (const e of extra) {
        out.push(`<extraports${attrs({state: e.state, count: e.count})}>`)
        out.push(`<extrareasons${attrs({reason: PORT_REASON[e.state], count: e.count, proto: 'tcp'})}/>`)
        out.push('</extraports>')
      }
      for (const p of listed) {
        const inner = [`<state${attrs({state: p.state, reason: PORT_REASON[p.state], reason_ttl: 0})}/>`]
        if (p.service) inner.push(`<service${attrs({name: p.service, method: 'table', conf: 3})}/>`)
        if (p.banner) inner.push(`<script${attrs({id: 'banner', output: p.banner})}/>`)
        out.push(`<port${attrs({protocol: 'tcp', portid: p.port})}>${inner.join('')}</port>`)
      }
      out.push('</ports>')
    }
    if (h.rtt_ms !== null) {
      const us = Math.max(1, Math.round(h.rtt_ms * 1000))
      out.push(`<times${attrs({srtt: us, rttvar: us, to: Math.max(100_000, us * 4)})}/>`)
    }
    out.push('</host>')
  }
  const up = report.hosts.length
  const total = Math.max(r.addresses, up)
  const elapsed = (r.duration_ms / 1000).toFixed(2)
  const summary = `netmon done at ${ctime(r.finished_ms)}; ${total} IP address${total === 1 ? '' : 'es'} (${up} host${up === 1 ? '' : 's'} up) scanned in ${elapsed} seconds`
  out.push('<runstats>')
  out.push(
    `<finished${attrs({time: unixSeconds(r.finished_ms), timestr: ctime(r.finished_ms), summary, elapsed, exit: r.status === 'done' ? 'success' : 'error', errormsg: r.status === 'done' ? undefined : 'interrupted'})}/>`,
  )
  out.push(`<hosts${attrs({up, down: total - up, total})}/>`)
  out.push('</runstats>')
  out.push('</nmaprun>')
  return `${out.join('\n')}\n`
}

/** Grepable fields must not break the line or the field separators: controls and `/`, `,` become spaces or escapes as nmap does. */
function grepField(text: string | null | undefined): string {
  if (!text) return ''
  return text
    .replace(/[\x00-\x1f\x7f]/g, ' ')
    .replace(/\//g, '|')
    .replace(/,/g, ' ')
}

/**
 * `scan -oG`: nmap's grepable format, one `Host:` line per host for its status and one for its
 * ports (with a port scan): `Host: 10.0.0.7 (name)\tStatus: Up` and
 * `Host: 10.0.0.7 (name)\tPorts: 22/open/tcp//ssh///, 80/open/tcp//http///\tIgnored State: closed (97)`.
 * Port fields are number/state/protocol/owner/service/rpc/version/; a `/` or `,` inside a
 * field becomes `|` or a space (nmap's rule is the same in spirit: fields never contain them).
 */
export function toGrepable(report: ScanReport, opts: NmapOutputOptions): string {
  const r = report.scan
  const lines: string[] = [`# netmon ${opts.version} scan initiated ${ctime(r.started_ms)} as: ${grepField(opts.args).replace(/\|/g, '/')}`]
  for (const h of shownHosts(report, opts)) {
    const id = `Host: ${h.ip} (${grepField(h.hostname)})`
    lines.push(`${id}\tStatus: Up`)
    if (!h.ports) continue
    const {listed, extra} = hostPorts(h, opts.ports, opts.openOnly, opts.serviceName)
    const fields = listed.map(p => `${p.port}/${p.state}/tcp//${grepField(p.service)}//${grepField(p.banner)}/`)
    let line = `${id}\tPorts: ${fields.join(', ')}`
    const ignored = extra.filter(e => e.count > 0)
    if (ignored.length) line += `\tIgnored State: ${ignored.map(e => `${e.state} (${e.count})`).join(', ')}`
    lines.push(line)
  }
  const up = report.hosts.length
  const total = Math.max(r.addresses, up)
  lines.push(
    `# netmon done at ${ctime(r.finished_ms)} -- ${total} IP address${total === 1 ? '' : 'es'} (${up} host${up === 1 ? '' : 's'} up) scanned in ${(r.duration_ms / 1000).toFixed(2)} seconds`,
  )
  return `${lines.join('\n')}\n`
}

/** RFC 4180 field: quoted when it holds a comma, quote, CR or LF; quotes doubled. */
export function csvField(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return ''
  const s = String(v)
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export const CSV_COLUMNS = ['ip', 'mac', 'vendor', 'hostname', 'found_by', 'rtt_ms', 'open_ports', 'closed', 'filtered', 'new', 'self'] as const

/**
 * `scan --csv`: a header line (lines end in LF), then one row per host in the columns above; `found_by` is
 * `;`-separated methods, `open_ports` `;`-separated `port/service` (service empty when unknown),
 * `closed`/`filtered` the counts (empty without a port scan).
 */
export function toCsv(report: ScanReport, opts: Pick<NmapOutputOptions, 'openOnly'> = {}): string {
  const hosts = opts.openOnly ? report.hosts.filter(h => (h.ports?.length ?? 0) > 0) : report.hosts
  const rows = [CSV_COLUMNS.join(',')]
  for (const h of hosts) {
    rows.push(
      [
        h.ip,
        h.mac,
        h.vendor,
        h.hostname,
        h.found_by.join(';'),
        h.rtt_ms,
        h.ports ? h.ports.map(p => `${p.port}/${p.service ?? ''}`).join(';') : null,
        h.ports_summary?.closed,
        h.ports_summary?.filtered,
        h.new,
        h.self,
      ]
        .map(csvField)
        .join(','),
    )
  }
  return `${rows.join('\n')}\n`
}

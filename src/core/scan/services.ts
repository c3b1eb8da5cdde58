/**
 * TCP port lists and service names (issue 5: `--ports LIST|top100|top1000|all`).
 *
 * Licensing (docs/SCAN.md): netmon does not ship nmap's nmap-services (NPSL). The ranked list
 * below is netmon's own: ports that commonly answer on LANs and servers, ordered by how often
 * they matter in practice, with their IANA service names where registered and the common
 * descriptive name otherwise (plex, home-assistant…): facts, not a copied file. Names of
 * other ports come from the system's /etc/services at run time when it exists.
 *
 * top100  = the first 100 entries of RANKED.
 * top1000 = RANKED, then every port 1–1024 not already listed, then EXTRA high ports, up to 1000.
 */
import {readFileSync} from 'node:fs'
import {invalidInput} from '../errors.js'

/** [port, IANA service name] in netmon's rank order. */
const RANKED: readonly (readonly [number, string])[] = [
  [80, 'http'],
  [443, 'https'],
  [22, 'ssh'],
  [23, 'telnet'],
  [21, 'ftp'],
  [25, 'smtp'],
  [53, 'domain'],
  [3389, 'ms-wbt-server'],
  [445, 'microsoft-ds'],
  [139, 'netbios-ssn'],
  [8080, 'http-alt'],
  [110, 'pop3'],
  [143, 'imap'],
  [135, 'msrpc'],
  [3306, 'mysql'],
  [8443, 'https-alt'],
  [993, 'imaps'],
  [995, 'pop3s'],
  [111, 'sunrpc'],
  [5900, 'vnc'],
  [587, 'submission'],
  [465, 'submissions'],
  [1723, 'pptp'],
  [8000, 'http-alt'],
  [8888, 'http-alt'],
  [5432, 'postgresql'],
  [1433, 'ms-sql-s'],
  [548, 'afp'],
  [631, 'ipp'],
  [515, 'printer'],
  [9100, 'jetdirect'],
  [554, 'rtsp'],
  [5000, 'upnp'],
  [5001, 'commplex-link'],
  [8081, 'http-alt'],
  [2049, 'nfs'],
  [389, 'ldap'],
  [636, 'ldaps'],
  [88, 'kerberos'],
  [113, 'ident'],
  [179, 'bgp'],
  [161, 'snmp'],
  [514, 'shell'],
  [513, 'login'],
  [512, 'exec'],
  [1883, 'mqtt'],
  [8883, 'secure-mqtt'],
  [5060, 'sip'],
  [5061, 'sips'],
  [6379, 'redis'],
  [27017, 'mongodb'],
  [11211, 'memcache'],
  [9200, 'elasticsearch'],
  [5672, 'amqp'],
  [15672, 'rabbitmq-mgmt'],
  [2375, 'docker'],
  [2376, 'docker-s'],
  [6443, 'kubernetes-api'],
  [10250, 'kubelet'],
  [9090, 'websm'],
  [3000, 'ppp'],
  [8008, 'http-alt'],
  [8009, 'ajp13'],
  [8082, 'http-alt'],
  [8090, 'http-alt'],
  [8123, 'home-assistant'],
  [32400, 'plex'],
  [62078, 'iphone-sync'],
  [7000, 'afs3-fileserver'],
  [49152, 'unknown'],
  [5357, 'wsdapi'],
  [5985, 'wsman'],
  [5986, 'wsmans'],
  [990, 'ftps'],
  [989, 'ftps-data'],
  [873, 'rsync'],
  [3128, 'squid-http'],
  [1080, 'socks'],
  [1194, 'openvpn'],
  [500, 'isakmp'],
  [1701, 'l2tp'],
  [1812, 'radius'],
  [3260, 'iscsi-target'],
  [6000, 'x11'],
  [6001, 'x11-1'],
  [5800, 'vnc-http'],
  [5901, 'vnc-1'],
  [6667, 'ircd'],
  [119, 'nntp'],
  [79, 'finger'],
  [7, 'echo'],
  [9, 'discard'],
  [13, 'daytime'],
  [37, 'time'],
  [70, 'gopher'],
  [502, 'mbap'],
  [102, 'iso-tsap'],
  [4059, 'dlms-cosem'],
  [20000, 'dnp'],
  [4840, 'opcua-tcp'],
  // ---- beyond the top 100
  [2000, 'cisco-sccp'],
  [1025, 'blackjack'],
  [1026, 'cap'],
  [1027, 'unknown'],
  [199, 'smux'],
  [427, 'svrloc'],
  [543, 'klogin'],
  [544, 'kshell'],
  [2121, 'ccproxy-ftp'],
  [1720, 'h323q931'],
  [10000, 'ndmp'],
  [32768, 'filenet-tms'],
  [49153, 'unknown'],
  [49154, 'unknown'],
  [49155, 'unknown'],
  [49156, 'unknown'],
  [1521, 'oracle'],
  [1900, 'upnp'],
  [2181, 'zookeeper'],
  [9092, 'kafka'],
  [2379, 'etcd-client'],
  [2380, 'etcd-server'],
  [4369, 'epmd'],
  [25565, 'minecraft'],
  [27015, 'steam'],
  [3478, 'stun'],
  [5222, 'xmpp-client'],
  [5269, 'xmpp-server'],
  [6660, 'ircu'],
  [6697, 'ircs-u'],
  [8086, 'influxdb'],
  [9000, 'cslistener'],
  [9001, 'tor-orport'],
  [9091, 'xmltec-xmlmail'],
  [9443, 'tungsten-https'],
  [9999, 'distinct'],
  [10001, 'scp-config'],
  [51820, 'wireguard'],
  [7547, 'cwmp'],
  [8291, 'mikrotik-winbox'],
  [8728, 'mikrotik-api'],
  [8729, 'mikrotik-api-ssl'],
  [4443, 'pharos'],
  [4444, 'krb524'],
  [4567, 'tram'],
  [5555, 'personal-agent'],
  [5678, 'rrac'],
  [6080, 'x11-vnc-http'],
  [7001, 'afs3-callback'],
  [7070, 'arcp'],
  [7443, 'oracleas-https'],
  [8001, 'vcom-tunnel'],
  [8010, 'http-alt'],
  [8088, 'radan-http'],
  [8180, 'http-alt'],
  [8200, 'trivnet1'],
  [8500, 'fmtp'],
  [8554, 'rtsp-alt'],
  [8834, 'nessus-xmlrpc'],
  [9042, 'cassandra'],
  [9418, 'git'],
  [10443, 'https-alt'],
  [11434, 'ollama'],
  [16992, 'amt-soap-http'],
  [16993, 'amt-soap-https'],
  [17500, 'db-lsp'],
  [19999, 'dnp-sec'],
  [28017, 'mongodb-http'],
  [50000, 'ibm-db2'],
  [50070, 'hadoop-namenode'],
]

const RANK_NAMES = new Map<number, string>()
for (const [p, n] of RANKED) if (!RANK_NAMES.has(p)) RANK_NAMES.set(p, n)

function unique(ports: number[]): number[] {
  return [...new Set(ports)]
}

export const TOP100: readonly number[] = unique(RANKED.map(r => r[0])).slice(0, 100)

export const TOP1000: readonly number[] = (() => {
  const out = unique(RANKED.map(r => r[0]))
  const have = new Set(out)
  for (let p = 1; p <= 1024 && out.length < 1000; p++) if (!have.has(p)) out.push(p)
  return out.slice(0, 1000)
})()

/** Discovery probes: ports that most often answer (or refuse) on LAN hosts; a RST proves life. */
export const DISCOVERY_PORTS: readonly number[] = [80, 443, 22, 445, 139, 8080, 3389, 53, 62078]

let etcServices: Map<number, string> | null = null

/** Parses /etc/services-format text into port → first TCP name. */
export function parseServices(text: string): Map<number, string> {
  const map = new Map<number, string>()
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim()
    if (!line) continue
    const m = /^(\S+)\s+(\d+)\/tcp\b/i.exec(line)
    if (!m) continue
    const port = Number(m[2])
    if (!map.has(port)) map.set(port, m[1]!)
  }
  return map
}

function systemServices(): Map<number, string> {
  if (etcServices) return etcServices
  try {
    etcServices = parseServices(readFileSync('/etc/services', 'utf8'))
  } catch {
    etcServices = new Map()
  }
  return etcServices
}

/** The service name of a TCP port: netmon's table, else /etc/services, else null. */
export function serviceName(port: number): string | null {
  const own = RANK_NAMES.get(port)
  if (own && own !== 'unknown') return own
  return systemServices().get(port) ?? null
}

/**
 * `--ports` value → sorted unique port numbers: `all` (or `-`), or a comma list of ports, ranges
 * and the keywords top100/top1000 (`top100,8000-8100,31337`).
 */
export function parsePorts(spec: string): number[] {
  const s = spec.trim().toLowerCase()
  if (s === 'all' || s === '-') return Array.from({length: 65535}, (_, i) => i + 1)
  if (s === '') throw invalidInput('--ports is empty', 'use a list such as 22,80,443 or 8000-8100, or top100, top1000, all')
  const set = new Set<number>()
  for (const part of s.split(',')) {
    const p = part.trim()
    if (p === 'top100' || p === 'top1000') {
      for (const x of p === 'top100' ? TOP100 : TOP1000) set.add(x)
      continue
    }
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(p)
    const bad = (why: string) =>
      invalidInput(`--ports: "${p}" ${why}`, 'use ports 1–65535 and ranges such as 8000-8100, comma separated, or top100, top1000, all')
    if (!m) throw bad('is not a port or range')
    const a = Number(m[1])
    const b = m[2] === undefined ? a : Number(m[2])
    if (a < 1 || a > 65535 || b < 1 || b > 65535) throw bad('is outside 1–65535')
    if (b < a) throw bad('ends before it starts')
    for (let x = a; x <= b; x++) set.add(x)
  }
  return [...set].sort((x, y) => x - y)
}

/**
 * Reverse DNS with a short timeout (issue 5 enrichment). Order: the hosts file, then DNS.
 * Loopback addresses are answered from the hosts file only: asking a DNS server for
 * 1.0.0.127.in-addr.arpa is pointless and would leak scan traffic off the machine.
 * `servers` (`--dns-server`) replaces the system resolvers, `enabled: false` (`--no-rdns`) skips DNS.
 */
import {Resolver} from 'node:dns/promises'
import {readFileSync} from 'node:fs'
import {isLoopback, parseIpLiteral} from './targets.js'

export interface RdnsOptions {
  enabled: boolean
  /** `host`, `host:port` or `[v6]:port`; empty = the system's resolvers. */
  servers?: string[]
  timeoutMs: number
  hostsFile?: string
}

/** Hosts-file text → canonical address → first name. */
export function parseHostsFile(text: string): Map<string, string> {
  const map = new Map<string, string>()
  for (const raw of text.split('\n')) {
    const f = raw.replace(/#.*/, '').trim().split(/\s+/)
    if (f.length < 2) continue
    const ip = parseIpLiteral(f[0]!)
    if (ip && !map.has(ip.text)) map.set(ip.text, f[1]!)
  }
  return map
}

export class ReverseResolver {
  private hosts: Map<string, string> | null = null
  private resolver: Resolver | null = null
  private running = 0
  private readonly waiting: (() => void)[] = []

  constructor(private readonly opts: RdnsOptions) {}

  private hostsMap(): Map<string, string> {
    if (!this.hosts) {
      try {
        this.hosts = parseHostsFile(readFileSync(this.opts.hostsFile ?? '/etc/hosts', 'utf8'))
      } catch {
        this.hosts = new Map()
      }
    }
    return this.hosts
  }

  async reverse(ip: string): Promise<string | null> {
    const fromHosts = this.hostsMap().get(ip)
    if (fromHosts) return fromHosts
    if (!this.opts.enabled || isLoopback(ip)) return null
    if (!this.resolver) {
      this.resolver = new Resolver({timeout: this.opts.timeoutMs, tries: 1})
      if (this.opts.servers?.length) this.resolver.setServers(this.opts.servers)
    }
    // At most 32 lookups at once: c-ares copes, resolvers on home routers often do not.
    if (this.running >= 32) await new Promise<void>(r => this.waiting.push(r))
    this.running++
    const r = this.resolver
    let timer: NodeJS.Timeout | undefined
    try {
      const names = await Promise.race([
        r.reverse(ip),
        new Promise<string[]>(resolve => {
          timer = setTimeout(() => resolve([]), this.opts.timeoutMs + 50)
        }),
      ])
      const name = names[0]
      return name ? name.replace(/\.$/, '') : null
    } catch {
      return null
    } finally {
      clearTimeout(timer)
      this.running--
      this.waiting.shift()?.()
    }
  }

  close(): void {
    this.resolver?.cancel()
  }
}

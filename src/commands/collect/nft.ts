import {Flags} from '@oclif/core'
import {NetmonCommand} from '../../cli/base.js'
import {Nft, type NftStatus} from '../../core/collect/nft.js'
import {parsePrefixes} from '../../core/collect/nft-parse.js'
import {usageError} from '../../core/errors.js'

export default class CollectNft extends NetmonCommand {
  static override summary = "Install, inspect or remove netmon's nftables table for per-host accounting on this router"
  static override description =
    `netmon counts bytes and packets per LAN host in its own table, table inet netmon (dynamic sets keyed by address, filled from a forward-hook chain at priority filter + 10 that only counts). It never touches other tables. docs/NFTABLES.md lists exactly what is added.
--install is idempotent: it creates what is missing and adds new --lan prefixes. --uninstall deletes table inet netmon and nothing else. --status shows it. Needs Linux, nftables and root (CAP_NET_ADMIN).`
  static override examples = [
    '<%= config.bin %> collect nft --install --lan 192.168.1.0/24,fd00:1::/64',
    '<%= config.bin %> collect nft --status --json',
    '<%= config.bin %> collect nft --uninstall',
  ]
  static override flags = {
    install: Flags.boolean({description: 'Create or complete the table (idempotent)', exclusive: ['uninstall', 'status']}),
    uninstall: Flags.boolean({description: 'Delete table inet netmon (only it)', exclusive: ['install', 'status']}),
    status: Flags.boolean({description: 'Show the table: LAN prefixes, rules, hosts counted', exclusive: ['install', 'uninstall']}),
    lan: Flags.string({description: 'With --install: LAN prefixes to count (IPv4/IPv6 CIDR, comma-separated or repeated)', multiple: true}),
    netns: Flags.string({description: 'Run nft inside this network namespace (ip netns exec)'}),
  }

  async run(): Promise<(NftStatus & {action: string; created?: boolean; added?: string[]; removed?: boolean}) | undefined> {
    const {flags} = await this.parse(CollectNft)
    if (!flags.install && !flags.uninstall && !flags.status)
      throw usageError('give --install, --uninstall or --status', 'e.g. netmon collect nft --install --lan 192.168.1.0/24')
    if (flags.lan && !flags.install) throw usageError('--lan only applies to --install')
    const lan = parsePrefixes(flags.lan ?? [])
    const nft = new Nft(flags.netns)
    if (flags.install) {
      const r = await nft.install(lan)
      const st = await nft.status()
      this.out(
        `${r.created ? 'created' : 'checked'} table inet netmon: LAN ${st.lan.join(', ') || '(none)'}${r.added.length ? ` (added ${r.added.join(', ')})` : ''}, ${st.hosts} host(s) counted`,
      )
      return {action: 'install', created: r.created, added: r.added, ...st}
    }
    if (flags.uninstall) {
      const removed = await nft.uninstall()
      this.out(removed ? 'deleted table inet netmon' : 'table inet netmon was not there: nothing to remove')
      return {action: 'uninstall', removed, ...(await nft.status())}
    }
    const st = await nft.status()
    this.out(
      st.installed
        ? `table inet netmon: created ${st.created_at ?? 'unknown'}, LAN ${st.lan.join(', ') || '(none)'}, ${st.rules} rule(s), ${st.hosts} host(s) counted`
        : 'table inet netmon is not installed (netmon collect nft --install --lan PREFIX)',
    )
    return {action: 'status', ...st}
  }
}

import {Args, Flags} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {renderPairs, renderTable} from '../../cli/table.js'
import {scanStatus, type ScanStatus} from '../../core/inventory/queries.js'
import {z} from 'zod'

export default class ScanStatusCommand extends NetmonCommand {
  static override summary = 'Show the running or last scan (started, progress, found)'
  static override description =
    'Reads the store only, so it works from another shell while `netmon scan` runs (the scan writes its progress about twice a second). A "running" scan whose process is gone is shown as interrupted.'
  static override examples = ['<%= config.bin %> scan status', '<%= config.bin %> scan status --json', '<%= config.bin %> scan status 12 --hosts']
  static override args = {id: Args.string({description: 'Scan number (default: the running one, else the last)', required: false})}
  static override flags = {db: dbFlag, hosts: Flags.boolean({description: 'Also list the hosts the scan found (once it has finished)'})}

  async run(): Promise<ScanStatus> {
    const {args, flags} = await this.parse(ScanStatusCommand)
    const id = args.id === undefined ? undefined : this.check(z.coerce.number().int().positive('must be a scan number'), args.id, 'scan id')
    const store = await this.openStore(flags.db)
    const st = await scanStatus(store, {id, hosts: flags.hosts})
    const s = st.scan
    if (!s) {
      this.out('No scan has run yet (start one with `netmon scan TARGET`).')
      return st
    }
    this.out(
      renderPairs([
        ['Scan', `#${s.id}`],
        ['Status', s.status + (s.stale ? ' (its process is gone)' : '')],
        ['Targets', s.targets.join(' ')],
        ['Started', s.started],
        ['Elapsed', `${(s.elapsed_ms / 1000).toFixed(1)} s`],
        ['Hosts', `${s.hosts_done}/${s.hosts_total} probed (${s.hosts_total ? Math.round((100 * s.hosts_done) / s.hosts_total) : 100}%)`],
        ['Found', s.found],
        ...(s.ports ? ([['Ports', `${s.ports_done}/${s.ports_total} probed (${s.ports})`]] as [string, string][]) : []),
        ['Progress', `${s.percent}%`],
        ...(s.summary
          ? ([
              [
                'Changes',
                Object.entries(s.summary)
                  .filter(([, v]) => v)
                  .map(([k, v]) => `${k} ${v}`)
                  .join(', '),
              ],
            ] as [string, string][])
          : []),
        ...(s.error ? ([['Notes', s.error]] as [string, string][]) : []),
      ]),
    )
    if (st.running.length > 1) this.out(`${st.running.length} scans are running: ${st.running.map(r => `#${r.id}`).join(', ')}`)
    if (st.hosts)
      this.out(
        renderTable(
          ['IP', 'MAC', 'Hostname', 'Found by', 'RTT ms'],
          st.hosts.map(h => [h.ip, h.mac, h.hostname, h.found_by.join(','), h.rtt_ms]),
        ),
      )
    return st
  }
}

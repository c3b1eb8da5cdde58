import {humanBytes, humanRate} from '../../core/format/units.js'
import {Args} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {renderPairs, renderTable} from '../../cli/table.js'
import {showDevice, type DeviceDetail} from '../../core/inventory/queries.js'
import {vendorLabel} from '../../core/scan/vendor.js'

export default class DevicesShow extends NetmonCommand {
  static override summary = 'Everything known about one device'
  static override description =
    'Identity, status, IP history, open ports (with services and banners), the last scan that saw it, the last latency measurement and bandwidth totals when there are any, and its latest events.'
  static override examples = [
    '<%= config.bin %> devices show AA:BB:CC:DD:EE:01',
    '<%= config.bin %> devices show 192.168.1.20 --json',
    '<%= config.bin %> devices show "office printer"',
  ]
  static override args = {device: Args.string({description: 'MAC (any common form), IP address, hostname or promoted name', required: true})}
  static override flags = {db: dbFlag}

  async run(): Promise<DeviceDetail> {
    const {args, flags} = await this.parse(DevicesShow)
    const store = await this.openStore(flags.db)
    const r = await showDevice(store, args.device)
    const d = r.device
    this.out(
      renderPairs([
        ['MAC', d.mac],
        ['IP', d.ip],
        ['Name', d.name],
        ['Hostname', d.hostname],
        ['Vendor', vendorLabel(d, d.mac)],
        ['Status', d.status],
        ['Known', d.known ? 'yes' : 'no'],
        ['First seen', d.first_seen],
        ['Last seen', d.last_seen],
        ['Last scan', r.last_scan ? `#${r.last_scan.scan_id} at ${r.last_scan.ts} (found by ${r.last_scan.found_by.join(',')})` : ''],
        ['Latency', r.latency ? `${r.latency.avg_ms ?? '-'} ms avg, ${r.latency.loss_pct}% loss, ${r.latency.grade ?? ''} (${r.latency.at})` : ''],
        [
          'Bandwidth',
          r.bandwidth
            ? `${humanBytes((r.bandwidth as {total: {total_bytes: number}}).total.total_bytes)} total, ${humanRate((r.bandwidth as {current: {total_bps?: number}}).current.total_bps ?? 0)} now`
            : '',
        ],
      ]),
    )
    if (r.ports.length)
      this.out(
        renderTable(
          ['Port', 'Service', 'Banner', 'Last seen'],
          r.ports.map(p => [`${p.port}/${p.proto}`, p.service, p.banner, p.last_seen]),
        ),
      )
    if (r.ips.length)
      this.out(
        renderTable(
          ['IP', 'First seen', 'Last seen', ''],
          r.ips.map(i => [i.ip, i.first_seen, i.last_seen, i.current ? 'current' : '']),
        ),
      )
    if (r.events.length)
      this.out(
        renderTable(
          ['Time', 'Event', 'Detail'],
          r.events.map(e => [e.ts, e.type, e.text]),
        ),
      )
    return r
  }
}

import {Args} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {renderTable} from '../../cli/table.js'
import {deviceHistory, type DeviceHistoryByIp} from '../../core/inventory/queries.js'

export default class DevicesHistory extends NetmonCommand {
  static override summary = "A device's IP history and events"
  static override description =
    'Every address the device was seen at (first/last seen) and every event about it (with the address it held then), oldest first. An IP finds the device that holds it now or held it before; when several devices held it over time, all are listed with the period each held it, and the history shown is that of the device there now (else the last one to hold it).'
  static override examples = [
    '<%= config.bin %> devices history AA:BB:CC:DD:EE:01',
    '<%= config.bin %> devices history aa-bb-cc-dd-ee-01 --json',
    '<%= config.bin %> devices history 192.168.1.20',
  ]
  static override args = {device: Args.string({description: 'MAC (any common form), IP address, hostname or promoted name', required: true})}
  static override flags = {db: dbFlag}

  async run(): Promise<DeviceHistoryByIp> {
    const {args, flags} = await this.parse(DevicesHistory)
    const store = await this.openStore(flags.db)
    const h = await deviceHistory(store, args.device)
    if (h.ip_holders && h.ip_holders.length > 1) {
      this.out(`${h.ip_holders.length} devices held ${args.device.trim()}:`)
      this.out(
        renderTable(
          ['Device', 'First seen there', 'Last seen there', ''],
          h.ip_holders.map(x => [
            x.name ? `${x.name} (${x.mac ?? x.ip})` : (x.mac ?? x.ip),
            x.first_seen,
            x.last_seen,
            [x.current ? 'there now' : '', x.device_id === h.device.id ? 'shown below' : ''].filter(Boolean).join(', '),
          ]),
        ),
      )
    }
    this.out(`${h.device.mac ?? h.device.ip}${h.device.name ? ` (${h.device.name})` : ''}`)
    this.out(
      renderTable(
        ['IP', 'First seen', 'Last seen', ''],
        h.ips.map(i => [i.ip, i.first_seen, i.last_seen, i.current ? 'current' : '']),
      ),
    )
    this.out(
      renderTable(
        ['Time', 'Event', 'IP', 'Detail'],
        h.events.map(e => [e.ts, e.type, e.ip_from ? `${e.ip_from} → ${e.ip}` : e.ip, e.text]),
      ),
    )
    return h
  }
}

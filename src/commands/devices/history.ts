import {Args} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {renderTable} from '../../cli/table.js'
import {deviceHistory, type DeviceHistory} from '../../core/inventory/queries.js'

export default class DevicesHistory extends NetmonCommand {
  static override summary = "A device's IP history and events"
  static override description = 'Every address the device was seen at (first/last seen) and every event about it, oldest first.'
  static override examples = ['<%= config.bin %> devices history AA:BB:CC:DD:EE:01', '<%= config.bin %> devices history aa-bb-cc-dd-ee-01 --json']
  static override args = {device: Args.string({description: 'MAC (any common form) or IP address', required: true})}
  static override flags = {db: dbFlag}

  async run(): Promise<DeviceHistory> {
    const {args, flags} = await this.parse(DevicesHistory)
    const store = await this.openStore(flags.db)
    const h = await deviceHistory(store, args.device)
    this.out(`${h.device.mac ?? h.device.ip}${h.device.name ? ` (${h.device.name})` : ''}`)
    this.out(
      renderTable(
        ['IP', 'First seen', 'Last seen', ''],
        h.ips.map(i => [i.ip, i.first_seen, i.last_seen, i.current ? 'current' : '']),
      ),
    )
    this.out(
      renderTable(
        ['Time', 'Event', 'Detail'],
        h.events.map(e => [e.ts, e.type, e.detail ? JSON.stringify(e.detail) : '']),
      ),
    )
    return h
  }
}

import {Flags} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {renderTable} from '../../cli/table.js'
import {listDevices, type DeviceView} from '../../core/inventory/queries.js'
import {vendorLabel} from '../../core/scan/vendor.js'

export default class DevicesList extends NetmonCommand {
  static override summary = 'List every device the inventory has seen'
  static override description =
    'One row per device (keyed by MAC when known, else by IP), sorted by address. Status is online/offline as of the last scan that covered its address, or unknown when no scan has (e.g. registered for bandwidth only).'
  static override examples = [
    '<%= config.bin %> devices list',
    '<%= config.bin %> devices list --online --unknown',
    '<%= config.bin %> devices list --vendor raspberry --json',
  ]
  static override flags = {
    db: dbFlag,
    online: Flags.boolean({description: 'Only devices online at the last scan', exclusive: ['offline']}),
    offline: Flags.boolean({description: 'Only devices offline at the last scan', exclusive: ['online']}),
    known: Flags.boolean({description: 'Only promoted (known) devices', exclusive: ['unknown']}),
    unknown: Flags.boolean({description: 'Only devices not promoted yet', exclusive: ['known']}),
    vendor: Flags.string({description: 'Only devices whose vendor contains this text (case-insensitive)', helpValue: 'TEXT'}),
  }

  async run(): Promise<{count: number; devices: DeviceView[]}> {
    const {flags} = await this.parse(DevicesList)
    const store = await this.openStore(flags.db)
    const devices = await listDevices(store, flags)
    this.out(
      renderTable(
        ['IP', 'MAC', 'Name', 'Hostname', 'Vendor', 'Status', 'Known', 'Open ports', 'Last seen'],
        devices.map(d => [d.ip, d.mac, d.name, d.hostname, vendorLabel(d, d.mac), d.status, d.known ? 'yes' : '', d.open_ports.join(','), d.last_seen]),
      ),
    )
    this.out(`${devices.length} device${devices.length === 1 ? '' : 's'}`)
    return {count: devices.length, devices}
  }
}

import {Args, Flags} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {promoteDevice, type PromoteResult} from '../../core/inventory/queries.js'

export default class DevicesPromote extends NetmonCommand {
  static override summary = 'Mark a device as known, optionally with a friendly name'
  static override description =
    'Known devices can be listed apart (devices list --known/--unknown), so new, unexpected devices stand out. Promoting records a `promoted` event; promoting again with another --name renames it.'
  static override examples = ['<%= config.bin %> devices promote AA:BB:CC:DD:EE:01 --name "Living room TV"', '<%= config.bin %> devices promote 192.168.1.20']
  static override args = {device: Args.string({description: 'MAC (any common form), IP address, hostname or promoted name', required: true})}
  static override flags = {db: dbFlag, name: Flags.string({description: 'Friendly name (1–100 characters)', helpValue: 'NAME'})}

  async run(): Promise<PromoteResult> {
    const {args, flags} = await this.parse(DevicesPromote)
    const store = await this.openStore(flags.db)
    const r = await promoteDevice(store, args.device, flags.name)
    const who = r.device.mac ?? r.device.ip
    this.out(
      r.changed
        ? `${who} is now known${r.device.name ? ` as "${r.device.name}"` : ''}.`
        : `${who} was already known${r.device.name ? ` as "${r.device.name}"` : ''}; nothing changed.`,
    )
    return r
  }
}

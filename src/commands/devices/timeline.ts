import {Flags} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {renderTable} from '../../cli/table.js'
import {parseTime} from '../../core/format/time.js'
import {EVENT_TYPES, timeline, type Timeline} from '../../core/inventory/queries.js'
import {z} from 'zod'

export default class DevicesTimeline extends NetmonCommand {
  static override summary = 'Inventory events over time'
  static override description =
    `Events: ${EVENT_TYPES.join(', ')} (and those other capabilities record). Oldest first; with more than --limit, the newest --limit are shown. --since is inclusive, --until exclusive. The IP column is the device's address at the time of the event (the event's own, else the one its IP history says it held then); for ip_changed, from → to.`
  static override examples = [
    '<%= config.bin %> devices timeline --since 24h',
    '<%= config.bin %> devices timeline --type new,offline --since 7d --json',
    '<%= config.bin %> devices timeline --device AA:BB:CC:DD:EE:01',
  ]
  static override flags = {
    db: dbFlag,
    since: Flags.string({description: 'From (ISO-8601, epoch ms, now, or a duration back such as 24h)', default: '7d', helpValue: 'TIME'}),
    until: Flags.string({description: 'Until (exclusive)', helpValue: 'TIME'}),
    type: Flags.string({description: 'Only these event types (comma separated)', helpValue: 'TYPES'}),
    device: Flags.string({description: 'Only events of this device: MAC, IP, hostname or promoted name', helpValue: 'DEVICE'}),
    limit: Flags.integer({description: 'At most this many events (1–100000)', default: 1000}),
  }

  async run(): Promise<Timeline> {
    const {flags} = await this.parse(DevicesTimeline)
    const limit = this.check(z.number().int().min(1, 'must be 1–100000').max(100_000, 'must be 1–100000'), flags.limit, '--limit')
    const now = Date.now()
    const since = parseTime(flags.since, now, '--since')
    const until = flags.until === undefined ? undefined : parseTime(flags.until, now, '--until')
    const store = await this.openStore(flags.db)
    const t = await timeline(store, {since, until, types: flags.type?.split(','), device: flags.device, limit})
    this.out(
      renderTable(
        ['Time', 'Event', 'Device', 'IP', 'Detail'],
        t.events.map(e => [e.ts, e.type, e.name ? (e.mac ? `${e.name} (${e.mac})` : e.name) : e.mac, e.ip_from ? `${e.ip_from} → ${e.ip}` : e.ip, e.text]),
      ),
    )
    this.out(`${t.count} event${t.count === 1 ? '' : 's'}${t.truncated ? ` (the newest ${limit}; raise --limit or narrow --since for more)` : ''}`)
    return t
  }
}

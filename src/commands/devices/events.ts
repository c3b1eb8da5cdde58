import {Flags} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {renderTable} from '../../cli/table.js'
import {describeEvent} from '../../core/devices/describe.js'
import {EVENT_TYPES, READ_EVENTS_MAX, readEvents, type EventPage, type EventType} from '../../core/devices/events.js'
import {invalidInput} from '../../core/errors.js'
import {z} from 'zod'

export default class DevicesEvents extends NetmonCommand {
  static override summary = 'Follow events by cursor (id order)'
  static override description =
    `Events with an id after --after, in the order they were recorded (ids only grow and are never reused), at most --limit. Pass the printed "next" cursor as --after to get the ones after them. Types: ${EVENT_TYPES.join(', ')}.`
  static override examples = ['<%= config.bin %> devices events --json', '<%= config.bin %> devices events --after 1200 --type new,offline --json']
  static override flags = {
    db: dbFlag,
    after: Flags.integer({description: 'Only events with an id greater than this (the previous call\'s "next")', default: 0, helpValue: 'ID'}),
    type: Flags.string({description: 'Only these event types (comma separated)', helpValue: 'TYPES'}),
    limit: Flags.integer({description: `At most this many events (1–${READ_EVENTS_MAX})`, default: 1000}),
  }

  async run(): Promise<EventPage> {
    const {flags} = await this.parse(DevicesEvents)
    const after = this.check(z.number().int().min(0, 'must be 0 or an event id'), flags.after, '--after')
    const limit = this.check(
      z.number().int().min(1, `must be 1–${READ_EVENTS_MAX}`).max(READ_EVENTS_MAX, `must be 1–${READ_EVENTS_MAX}`),
      flags.limit,
      '--limit',
    )
    const types = (flags.type?.split(',') ?? []).map(t => t.trim()).filter(Boolean)
    for (const t of types) {
      if (!(EVENT_TYPES as readonly string[]).includes(t)) throw invalidInput(`--type "${t}" is not an event type`, `use ${EVENT_TYPES.join(', ')}`)
    }
    const store = await this.openStore(flags.db)
    const page = await readEvents(store, {after, limit, types: types as EventType[]})
    this.out(
      renderTable(
        ['ID', 'Time', 'Event', 'Device', 'Detail'],
        page.events.map(e => [String(e.id), e.ts, e.type, e.mac ?? (e.device_id === null ? '' : `#${e.device_id}`), describeEvent(e.type, e.detail)]),
      ),
    )
    this.out(`${page.events.length} event${page.events.length === 1 ? '' : 's'}; next: --after ${page.next}${page.more ? ' (more follow)' : ''}`)
    return page
  }
}

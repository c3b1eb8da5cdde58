import {Flags} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {renderTable} from '../../cli/table.js'
import {listMeters, type MeterListItem} from '../../core/bridge/queries.js'

export default class MetersList extends NetmonCommand {
  static override summary = 'List the meters the bridge polls, with their last reading and state'
  static override description =
    `Meters are registered in the store when \`netmon bridge run\` starts (or reloads) with them. --all also lists meters removed from the config (their readings stay).`
  static override examples = ['<%= config.bin %> meters list', '<%= config.bin %> meters list --all --json']
  static override flags = {
    all: Flags.boolean({description: 'Include meters no longer in the config'}),
    db: dbFlag,
  }

  async run(): Promise<{meters: MeterListItem[]}> {
    const {flags} = await this.parse(MetersList)
    const store = await this.openStore(flags.db)
    const meters = await listMeters(store, {all: flags.all})
    if (meters.length === 0) this.out('No meters in this store (they are registered when `netmon bridge run` starts).')
    else
      this.out(
        renderTable(
          ['id', 'name', 'endpoint', 'framing', 'every', 'OBIS', 'state', 'readings', 'last reading', 'pending', 'last error'],
          meters.map(m => [
            m.id + (m.active ? '' : ' (removed)'),
            m.name,
            `${m.host}:${m.port}`,
            m.framing,
            `${m.poll_interval_ms / 1000} s`,
            m.obis.length,
            m.state ?? '-',
            m.readings,
            m.last_reading_at ?? '-',
            m.pending,
            m.last_error ? (m.last_error.length > 50 ? m.last_error.slice(0, 47) + '...' : m.last_error) : '',
          ]),
        ),
      )
    return {meters}
  }
}

import {NetmonCommand, dbFlag} from '../cli/base.js'
import {renderPairs} from '../cli/table.js'
import {inventoryStats, type InventoryStats} from '../core/inventory/queries.js'

export default class Stats extends NetmonCommand {
  static override summary = 'Inventory summary: devices total/online/offline/known, new in 24 h, the last scan'
  static override description = 'Counts come from the inventory (netmon devices list shows the same devices); "new" means first seen in the last 24 hours.'
  static override examples = ['<%= config.bin %> stats', '<%= config.bin %> stats --json']
  static override flags = {db: dbFlag}

  async run(): Promise<InventoryStats> {
    const {flags} = await this.parse(Stats)
    const store = await this.openStore(flags.db)
    const s = await inventoryStats(store)
    const l = s.last_scan
    this.out(
      renderPairs([
        ['Devices', s.devices.total],
        ['Online', s.devices.online],
        ['Offline', s.devices.offline],
        ['Never scanned', s.devices.unknown_status],
        ['Known', s.devices.known],
        ['Unknown', s.devices.unknown],
        ['New in 24 h', s.devices.new_24h],
        [
          'Events in 24 h',
          Object.entries(s.events_24h)
            .map(([k, v]) => `${k} ${v}`)
            .join(', '),
        ],
        ['Last scan', l ? `#${l.id} ${l.status}, ${l.started} (${(l.elapsed_ms / 1000).toFixed(1)} s), ${l.found} found of ${l.hosts_total}` : 'never'],
      ]),
    )
    return s
  }
}

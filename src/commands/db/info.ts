import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {renderPairs, renderTable} from '../../cli/table.js'
import {humanBytes} from '../../core/format/units.js'
import {storeInfo, type StoreInfo} from '../../core/store/info.js'

export default class DbInfo extends NetmonCommand {
  static override summary = 'Show where the store is, its schema version and table sizes'
  static override description = 'Creates the store (and applies pending migrations) if needed. URLs are printed with any token or password replaced by ***.'
  static override examples = ['<%= config.bin %> db info', '<%= config.bin %> db info --db ./netmon.db --json']
  static override flags = {db: dbFlag}

  async run(): Promise<StoreInfo> {
    const {flags} = await this.parse(DbInfo)
    const store = await this.openStore(flags.db)
    const info = await storeInfo(store)
    this.out(() =>
      renderPairs([
        ['location', info.location],
        ['kind', info.kind],
        ['selected by', info.source],
        ['schema version', `${info.schema_version} (latest ${info.latest_schema_version})`],
        ...(info.file_size_bytes !== undefined
          ? ([['file size', `${humanBytes(info.file_size_bytes)} (+ ${humanBytes(info.wal_size_bytes ?? 0)} WAL)`]] as [string, string][])
          : []),
      ]),
    )
    this.out(() =>
      renderTable(
        ['table', 'rows'],
        info.tables.map(t => [t.name, t.rows]),
      ),
    )
    return info
  }
}

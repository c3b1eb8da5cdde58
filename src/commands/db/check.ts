import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {renderPairs} from '../../cli/table.js'
import {checkStore, type StoreCheck} from '../../core/store/info.js'

export default class DbCheck extends NetmonCommand {
  static override summary = 'Check the store: SQLite integrity, foreign keys and schema version (exit 1 on failure)'
  static override examples = ['<%= config.bin %> db check', '<%= config.bin %> db check --json']
  static override flags = {db: dbFlag}

  async run(): Promise<StoreCheck> {
    const {flags} = await this.parse(DbCheck)
    const result = await checkStore(await this.openStore(flags.db))
    this.out(() =>
      renderPairs([
        ['result', result.ok ? 'ok' : 'FAILED'],
        ['location', result.location],
        ['integrity', result.integrity.slice(0, 10).join('; ')],
        ['foreign key violations', result.foreign_key_violations],
        ['schema version', `${result.schema_version} (latest ${result.latest_schema_version})`],
      ]),
    )
    if (!result.ok) process.exitCode = 1
    return result
  }
}

import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {renderPairs} from '../../cli/table.js'
import {checkStore, type StoreCheck} from '../../core/store/info.js'

export default class DbCheck extends NetmonCommand {
  static override summary = 'Check the store: SQLite integrity, foreign keys and schema version (exit 1 on failure)'
  static override description =
    `Runs SQLite's integrity_check and foreign_key_check and compares the schema version with this netmon's. Exit 0 when all is well, 1 when anything is wrong (the damage is listed, also when SQLite had to stop checking); nothing is written. A damaged store: restore a backup, or rebuild it with \`sqlite3 FILE .recover\`.`
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
        ['foreign key violations', result.foreign_key_violations ?? 'not checked (damaged)'],
        ['schema version', `${result.schema_version} (latest ${result.latest_schema_version})`],
      ]),
    )
    if (!result.ok) process.exitCode = 1
    return result
  }
}

import {Args} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {rulesFlag, rulesFrom} from '../../cli/alerts.js'
import {type CheckResult, runCheck} from '../../core/alerts/engine.js'
import {notFound} from '../../core/errors.js'
import {render} from './check.js'

export default class AlertsTest extends NetmonCommand {
  static override summary = 'Evaluate one rule once and print what would fire; stores and sends nothing'
  static override description =
    'Runs the rule against the store as `alerts check` would, from the stored alert state, without recording transitions, moving its event cursor or queueing notifications. Exit 0 (whatever it finds), 2 bad rules.'
  static override examples = ['<%= config.bin %> alerts test heavy-user --rules alerts.yaml --json']
  static override args = {rule: Args.string({description: 'Rule name', required: true})}
  static override flags = {rules: rulesFlag, db: dbFlag}

  async run(): Promise<CheckResult> {
    const {args, flags} = await this.parse(AlertsTest)
    const set = rulesFrom(flags.rules)
    if (!set.rules.some(r => r.name === args.rule))
      throw notFound(`no rule named "${args.rule}" in the rules file`, `rules: ${set.rules.map(r => r.name).join(', ')}`)
    const store = await this.openStore(flags.db)
    const r = await runCheck(store, set, {dryRun: true, only: [args.rule]})
    this.out(() => render(r))
    return r
  }
}

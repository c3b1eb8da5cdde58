import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {rulesFlag, rulesFrom} from '../../cli/alerts.js'
import {renderTable} from '../../cli/table.js'
import {describeRules, type RuleView} from '../../core/alerts/queries.js'

export default class AlertsRules extends NetmonCommand {
  static override summary = 'The loaded rules, their last evaluation and open alerts'
  static override description =
    'Validates the rules file (exit 2 naming the path when it is wrong) and shows each rule with when it was last evaluated. JSON: {rules:[{name, kind, severity, scope, for_ms, keep_firing_for_ms, repeat_interval_ms, channels, labels, params, last_eval_at, last_eval_at_ms, last_result, cursor, firing, pending}], channels:[{name, type}]}.'
  static override examples = ['<%= config.bin %> alerts rules --rules /etc/netmon/alerts.yaml']
  static override flags = {rules: rulesFlag, db: dbFlag}

  async run(): Promise<{rules: RuleView[]; channels: {name: string; type: string}[]}> {
    const {flags} = await this.parse(AlertsRules)
    const set = rulesFrom(flags.rules)
    const store = await this.openStore(flags.db)
    const rules = await describeRules(store, set.rules)
    const channels = [...set.channels.values()].map(c => ({name: c.name, type: c.type}))
    this.out(() =>
      renderTable(
        ['Rule', 'Kind', 'Severity', 'Channels', 'Last evaluated', 'Firing', 'Pending'],
        rules.map(r => [r.name, r.kind, r.severity, r.channels.join(','), r.last_eval_at ?? 'never', r.firing, r.pending]),
      ),
    )
    return {rules, channels}
  }
}

import {Flags} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {renderTable} from '../../cli/table.js'
import {type AlertView, listAlerts, STATES} from '../../core/alerts/queries.js'
import {parseTime} from '../../core/format/time.js'

export default class AlertsList extends NetmonCommand {
  static override summary = 'List alert instances, newest first'
  static override description =
    'JSON: {alerts:[{id, rule, kind, subject, severity, state, labels, value, values, message, started_at, started_at_ms, fired_at_ms, resolved_at_ms, updated_at_ms, acked, acked_at_ms, ack_comment}]}.'
  static override examples = ['<%= config.bin %> alerts list --state firing', '<%= config.bin %> alerts list --since 24h --json']
  static override flags = {
    state: Flags.string({description: 'Only alerts in this state', options: [...STATES]}),
    since: Flags.string({description: 'Only alerts updated since (ISO-8601, epoch ms, or a duration back from now such as 24h)'}),
    subject: Flags.string({
      description: 'Only alerts of these subjects (comma-separated: a MAC, an IP, a meter id, bridge, a job name)',
      helpValue: 'SUBJECT,…',
    }),
    limit: Flags.integer({description: 'At most this many', default: 1000, min: 1}),
    db: dbFlag,
  }

  async run(): Promise<{alerts: AlertView[]}> {
    const {flags} = await this.parse(AlertsList)
    const since = flags.since === undefined ? undefined : parseTime(flags.since, Date.now(), '--since')
    const store = await this.openStore(flags.db)
    const alerts = await listAlerts(store, {state: flags.state, since, limit: flags.limit, subjects: flags.subject?.split(',').map(s => s.trim())})
    this.out(() =>
      alerts.length === 0
        ? 'no alerts'
        : renderTable(
            ['ID', 'State', 'Rule', 'Subject', 'Severity', 'Since', 'Message'],
            alerts.map(a => [a.id, a.state + (a.acked ? ' (acked)' : ''), a.rule, a.subject, a.severity, a.started_at, a.message]),
          ),
    )
    return {alerts}
  }
}

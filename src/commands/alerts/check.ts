import {Flags} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {rulesFlag, rulesFrom} from '../../cli/alerts.js'
import {renderTable} from '../../cli/table.js'
import {type CheckResult, runCheck} from '../../core/alerts/engine.js'

export default class AlertsCheck extends NetmonCommand {
  static override summary = 'Evaluate the alert rules once, notify, and exit by what is firing (for cron)'
  static override description =
    `Evaluates every rule once against the store, records the transitions (pending → firing → resolved), queues one notification per transition for the rule's channels and delivers the outbox (a channel that is down keeps its notifications for the next check and never blocks the others).
Exit codes: 0 nothing firing · 3 something firing (silenced alerts do not count) · 2 bad rules file or flags · 1 any other error.
JSON: {evaluated_at, evaluated_at_ms, dry_run, rules:[{rule, kind, evaluated, matching, transitions}], firing:[…], firing_count, queued, delivery:[{channel, delivered, failed, dead, waiting, last_error}]}. See docs/ALERTS.md.`
  static override examples = [
    '<%= config.bin %> alerts check --rules /etc/netmon/alerts.yaml',
    '*/5 * * * * netmon alerts check --rules /etc/netmon/alerts.yaml || [ $? -eq 3 ] && echo firing',
  ]
  static override flags = {
    rules: rulesFlag,
    'no-deliver': Flags.boolean({description: 'Queue notifications but do not deliver them now'}),
    db: dbFlag,
  }

  async run(): Promise<CheckResult> {
    const {flags} = await this.parse(AlertsCheck)
    const set = rulesFrom(flags.rules)
    const store = await this.openStore(flags.db)
    const r = await runCheck(store, set, {deliver: !flags['no-deliver']})
    this.out(() => render(r))
    if (r.firing_count > 0) process.exitCode = 3
    return r
  }
}

export function render(r: CheckResult): string {
  const lines: string[] = []
  for (const x of r.rules) {
    for (const t of x.transitions) lines.push(`${t.kind.padEnd(8)} ${x.rule} ${t.subject}: ${t.value}${t.silenced ? ' (silenced)' : ''}`)
    if (x.note?.startsWith('skipped: ')) lines.push(`skipped  ${x.rule}: ${x.note.slice(9)}`)
  }
  if (r.firing.length > 0) {
    lines.push(
      renderTable(
        ['ID', 'Rule', 'Subject', 'Severity', 'Message'],
        r.firing.map(f => [f.id ?? '-', f.rule, f.subject, f.severity + (f.silenced ? ' (silenced)' : ''), f.message]),
      ),
    )
  }
  lines.push(`${r.firing_count} firing${r.dry_run ? ' (dry run: nothing stored or sent)' : `, ${r.queued} notification(s) queued`}`)
  for (const d of r.delivery)
    if (d.failed > 0 || d.waiting > 0)
      lines.push(
        `channel ${d.channel}: ${d.delivered} delivered, ${d.waiting} waiting${d.dead ? `, ${d.dead} dead` : ''}${d.last_error ? ` (${d.last_error})` : ''}`,
      )
  return lines.join('\n')
}

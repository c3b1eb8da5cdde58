import {Args} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {renderPairs, renderTable} from '../../cli/table.js'
import {type AlertEventView, type AlertView, showAlert} from '../../core/alerts/queries.js'
import {invalidInput} from '../../core/errors.js'

export const alertId = Args.string({description: 'Alert id (from alerts list)', required: true})
export function parseId(s: string): number {
  if (!/^\d+$/.test(s) || Number(s) < 1) throw invalidInput(`alert id "${s}": expected a positive whole number`, 'see `netmon alerts list`')
  return Number(s)
}

export default class AlertsShow extends NetmonCommand {
  static override summary = 'One alert with its transitions, acks and notifications'
  static override description = 'JSON: the alerts list fields plus events:[{id, ts, ts_ms, kind, from, to, value, values, notified, silenced, note}].'
  static override examples = ['<%= config.bin %> alerts show 12']
  static override args = {id: alertId}
  static override flags = {db: dbFlag}

  async run(): Promise<AlertView & {events: AlertEventView[]}> {
    const {args, flags} = await this.parse(AlertsShow)
    const id = parseId(args.id)
    const store = await this.openStore(flags.db)
    const a = await showAlert(store, id)
    this.out(() =>
      [
        renderPairs([
          ['ID', String(a.id)],
          ['Rule', `${a.rule} (${a.kind})`],
          ['Subject', a.subject],
          ['State', a.state + (a.acked ? ` (acked${a.ack_comment ? `: ${a.ack_comment}` : ''})` : '')],
          ['Severity', a.severity],
          ['Value', a.value],
          ['Message', a.message],
          ['Since', a.started_at],
        ]),
        renderTable(
          ['Time', 'Event', 'Value', 'Notified'],
          a.events.map(e => [e.ts, e.kind + (e.note ? `: ${e.note}` : ''), e.value ?? '', e.notified ? 'yes' : e.silenced ? 'silenced' : '']),
        ),
      ].join('\n'),
    )
    return a
  }
}

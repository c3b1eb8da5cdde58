import {Flags} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {ackAlert, type AlertView} from '../../core/alerts/queries.js'
import {alertId, parseId} from './show.js'

export default class AlertsAck extends NetmonCommand {
  static override summary = 'Acknowledge an alert: no repeat notifications while it fires'
  static override description = 'The resolution is still notified. Recorded in the alert history (alerts show). JSON: the alert as in alerts list.'
  static override examples = ['<%= config.bin %> alerts ack 12 --comment "looking into it"']
  static override args = {id: alertId}
  static override flags = {comment: Flags.string({description: 'Why, for the history'}), db: dbFlag}

  async run(): Promise<AlertView> {
    const {args, flags} = await this.parse(AlertsAck)
    const id = parseId(args.id)
    const store = await this.openStore(flags.db)
    const a = await ackAlert(store, id, flags.comment)
    this.out(`acknowledged alert ${a.id} (${a.rule} ${a.subject}, ${a.state})`)
    return a
  }
}

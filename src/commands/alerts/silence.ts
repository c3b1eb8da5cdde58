import {Flags} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {addSilence, parseMatchers} from '../../core/alerts/queries.js'
import {parseDuration} from '../../core/format/time.js'

export default class AlertsSilence extends NetmonCommand {
  static override summary = 'Suppress notifications of matching alerts for a while'
  static override description =
    `Alerts still change state and are recorded (marked silenced); their notifications are not sent, and silenced firing alerts do not make alerts check exit 3. --match keys: labels, rule, kind, severity, subject, device.mac, device.ip, device.name, target.
JSON: {id, rule, matchers, starts_at, ends_at, ends_at_ms, comment}.`
  static override examples = [
    '<%= config.bin %> alerts silence --rule heavy-user --for 2h',
    '<%= config.bin %> alerts silence --match device.mac=AA:BB:CC:DD:EE:01 --for 1d --comment backup night',
  ]
  static override flags = {
    rule: Flags.string({description: 'Rule name'}),
    match: Flags.string({description: 'KEY=VALUE (repeatable: all must match)', multiple: true}),
    for: Flags.string({description: 'How long, e.g. 2h', required: true}),
    comment: Flags.string({description: 'Why'}),
    db: dbFlag,
  }

  async run(): Promise<Awaited<ReturnType<typeof addSilence>>> {
    const {flags} = await this.parse(AlertsSilence)
    const forMs = parseDuration(flags.for, '--for')
    const matchers = parseMatchers(flags.match ?? [])
    const store = await this.openStore(flags.db)
    const s = await addSilence(store, {rule: flags.rule, matchers, forMs, comment: flags.comment})
    this.out(`silence ${s.id} until ${s.ends_at}`)
    return s
  }
}

import {Args, Flags} from '@oclif/core'
import {z} from 'zod'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {renderTable} from '../../cli/table.js'
import {meterReadings, type ReadingsResult} from '../../core/bridge/queries.js'
import {parseTime} from '../../core/format/time.js'

export default class MetersReadings extends NetmonCommand {
  static override summary = 'Show the readings the bridge stored for a meter'
  static override description =
    `One row per successful poll of METER (id or name), with every configured OBIS value under its telemetry key. The newest --limit rows in [--since, --until), printed oldest first.
JSON: {meter_id, meter_name, keys:[…], readings:[{ts, ts_ms, values:{key: value}, poll_ms}]}.`
  static override examples = ['<%= config.bin %> meters readings m1', '<%= config.bin %> meters readings m1 --since 1h --limit 1000 --json']
  static override args = {meter: Args.string({description: 'Meter id or name', required: true})}
  static override flags = {
    since: Flags.string({description: 'Start (inclusive): ISO-8601, epoch ms, or a duration back from now (24h)'}),
    until: Flags.string({description: 'End (exclusive)'}),
    limit: Flags.integer({description: 'At most this many (newest) readings', default: 50}),
    db: dbFlag,
  }

  async run(): Promise<ReadingsResult> {
    const {args, flags} = await this.parse(MetersReadings)
    const limit = this.check(z.number().int().min(1, {message: 'expected 1-1000000'}).max(1_000_000, {message: 'expected 1-1000000'}), flags.limit, '--limit')
    const now = Date.now()
    const sinceMs = flags.since === undefined ? undefined : parseTime(flags.since, now, '--since')
    const untilMs = flags.until === undefined ? undefined : parseTime(flags.until, now, '--until')
    const store = await this.openStore(flags.db)
    const r = await meterReadings(store, args.meter, {sinceMs, untilMs, limit})
    if (r.readings.length === 0) this.out(`No readings for meter ${r.meter_id} in this range.`)
    else
      this.out(
        renderTable(
          ['time', ...r.keys],
          r.readings.map(x => [x.ts, ...r.keys.map(k => (x.values[k] === null || x.values[k] === undefined ? '-' : String(x.values[k])))]),
        ),
      )
    return r
  }
}

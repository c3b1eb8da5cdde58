import {Flags} from '@oclif/core'
import {createInterface} from 'node:readline/promises'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {deviceFlags, pickDevice} from '../../cli/device-flag.js'
import {resetStats, type ResetResult} from '../../core/bandwidth/admin.js'
import {classifyDeviceKey} from '../../core/devices/resolve.js'
import {usageError} from '../../core/errors.js'

export default class BandwidthReset extends NetmonCommand {
  static override summary = 'Reset bandwidth totals and peaks (one device or all); history is kept unless --purge'
  static override description =
    `Zeroes bytes, sample counts and peaks, and restarts the accounting now (the seed's reset_stats). Raw samples and rollups are kept (history, top --since still see them) unless --purge deletes them too. On a terminal it asks first unless --yes. Every device needs --all unless it is confirmed at that prompt: a script (no terminal) or --yes must say --device (or --mac) or --all. --device takes a MAC, IP, hostname or promoted name.
JSON: {success, message:"Statistics reset", devices_reset, macs, purged:{raw_samples, rollup_rows}|null}.`
  static override examples = [
    '<%= config.bin %> bandwidth reset --mac AA:BB:CC:DD:EE:01 --yes',
    '<%= config.bin %> bandwidth reset --device laptop --yes',
    '<%= config.bin %> bandwidth reset --all --yes --purge --json',
  ]
  static override flags = {
    ...deviceFlags('Only this device', {exclusive: ['all']}),
    all: Flags.boolean({description: 'Every device (required unless --device/--mac, or confirmed at the prompt on a terminal)', exclusive: ['mac', 'device']}),
    yes: Flags.boolean({char: 'y', description: 'Do not ask for confirmation'}),
    purge: Flags.boolean({description: 'Also delete the raw samples and rollups'}),
    db: dbFlag,
  }

  async run(): Promise<ResetResult | undefined> {
    const {flags} = await this.parse(BandwidthReset)
    // Validate before asking (a typo should not need a confirmation to be reported).
    const device = pickDevice(flags)
    if (device !== undefined) classifyDeviceKey(device)
    const asks = !flags.yes && process.stdin.isTTY === true && process.stderr.isTTY === true
    // A script that forgot --mac (or an empty "$MAC" that dropped it) must not wipe every device.
    if (!asks && device === undefined && !flags.all) {
      throw usageError('say which devices to reset: --device DEVICE (or --mac) for one, or --all for every device', 'nothing was reset')
    }
    if (asks) {
      const rl = createInterface({input: process.stdin, output: process.stderr})
      const what = device ? `device ${device}` : 'ALL devices'
      const answer = await rl.question(`Reset bandwidth totals of ${what}${flags.purge ? ' and DELETE their history' : ''}? [y/N] `)
      rl.close()
      if (!/^y(es)?$/i.test(answer.trim())) {
        this.note('Nothing was reset.')
        return undefined
      }
    }
    const store = await this.openStore(flags.db)
    const r = await resetStats(store, {mac: device, purge: flags.purge})
    this.out(
      `${r.message}: ${r.devices_reset} device(s)${r.purged ? `; deleted ${r.purged.raw_samples} samples and ${r.purged.rollup_rows} rollup rows` : '; history kept'}`,
    )
    return r
  }
}

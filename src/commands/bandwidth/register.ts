import {Flags} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {renderPairs} from '../../cli/table.js'
import {registerBandwidthDevice, type RegisterResult} from '../../core/bandwidth/admin.js'
import {checkHostname} from '../../core/bandwidth/input.js'
import {normalizeIp} from '../../core/devices/ip.js'
import {normalizeMac} from '../../core/devices/mac.js'
import {invalidInput} from '../../core/errors.js'

export default class BandwidthRegister extends NetmonCommand {
  static override summary = 'Register a device (by MAC) for bandwidth accounting'
  static override description =
    `Upserts the device keyed by its MAC, normalised to AA:BB:CC:DD:EE:01 (accepts aa:bb:…, aa-bb-…, aabb.ccdd.eeff and bare hex). Re-registering updates the IP and hostname and keeps the totals. The registration time starts the device's accounting: its first delta sample counts as traffic since then.
JSON: {success, message:"Device registered", device:{ip, mac, hostname}, created, first_seen, first_seen_ms}.`
  static override examples = [
    '<%= config.bin %> bandwidth register --ip 192.168.1.100 --mac AA:BB:CC:DD:EE:01 --hostname laptop',
    '<%= config.bin %> bandwidth register --ip 2001:db8::10 --mac aabb.ccdd.ee02 --json',
  ]
  static override flags = {
    ip: Flags.string({description: 'IPv4 or IPv6 address', required: true}),
    mac: Flags.string({description: 'MAC address', required: true}),
    hostname: Flags.string({description: 'A name for humans'}),
    db: dbFlag,
  }

  async run(): Promise<RegisterResult> {
    const {flags} = await this.parse(BandwidthRegister)
    const mac = normalizeMac(flags.mac)
    const ip = normalizeIp(flags.ip)
    let hostname: string | undefined
    if (flags.hostname !== undefined) {
      const h = checkHostname(flags.hostname)
      if (typeof h !== 'string') throw invalidInput(`--hostname: ${h.error}`)
      hostname = h
    }
    const store = await this.openStore(flags.db)
    const r = await registerBandwidthDevice(store, {mac, ip, hostname})
    this.out(`${r.message}${r.created ? '' : ' (updated; totals kept)'}`)
    this.out(
      renderPairs([
        ['mac', r.device.mac],
        ['ip', r.device.ip],
        ['hostname', r.device.hostname],
      ]),
    )
    return r
  }
}

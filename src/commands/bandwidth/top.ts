import {Flags} from '@oclif/core'
import {z} from 'zod'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {deviceFlags, pickDevice} from '../../cli/device-flag.js'
import {renderTable} from '../../cli/table.js'
import {topPorts, type PortGrouping, type PortTop} from '../../core/bandwidth/flows.js'
import {topTalkers, type TopResult, type TopSort} from '../../core/bandwidth/query.js'
import {humanBytes, humanRate} from '../../core/format/units.js'
import {parseTime} from '../../core/format/time.js'
import {invalidInput} from '../../core/errors.js'

export default class BandwidthTop extends NetmonCommand {
  static override summary = 'Rank devices by traffic: all-time totals, or inside a time window'
  static override description =
    `Without --since, ranks by the running totals (since registration or the last reset). With --since, ranks by the traffic inside [since, until): whole days/hours/5-minute buckets come from the rollups and only the edges from raw samples. Where raw samples were already pruned, the window is widened to the enclosing bucket and "window" says so.
JSON: {sort_by, count, window?:{since, since_ms, until, until_ms, widened, …}, top_talkers:[{rank, ip, mac, hostname, name (the promoted name, null when none), current_mbps, total_mb, total_bytes_sent, total_bytes_received, peak_mbps, …_bps}]}. With --since, total_* and peak_* are for the window. current is 0 with stale: true once the latest sample is older than max(2 × its interval, 60 s) (the rule of bandwidth stats).
--by port|protocol ranks traffic by (protocol, port) or by protocol instead of by device, from flow data (the agent's netflow job; hourly buckets, so --since is floored to its hour), optionally for one device (--device MAC, IP, hostname or promoted name; --mac is an alias). JSON: {by, window:{since, since_ms, until, until_ms}, device, count, top:[{rank, protocol, protocol_name, port?, bytes_sent, bytes_received, total_bytes, flows, devices}]}. A device's port is the remote side's port when below 1024, else the lower of the two ports; 0 for protocols without ports.`
  static override examples = [
    '<%= config.bin %> bandwidth top',
    '<%= config.bin %> bandwidth top --limit 5 --sort download',
    '<%= config.bin %> bandwidth top --since 24h --json',
    '<%= config.bin %> bandwidth top --by port --since 24h',
    '<%= config.bin %> bandwidth top --by protocol --device 192.168.1.20',
  ]
  static override flags = {
    limit: Flags.integer({description: 'How many devices (1-50)', default: 10}),
    sort: Flags.string({description: 'Rank by', options: ['total', 'upload', 'download', 'current'], default: 'total'}),
    since: Flags.string({description: 'Window start: ISO-8601, epoch ms, or a duration back from now (24h)'}),
    until: Flags.string({description: 'Window end (exclusive; default now), with --since'}),
    by: Flags.string({
      description: 'Rank devices (default), or traffic by port or protocol (flow data)',
      options: ['device', 'port', 'protocol'],
      default: 'device',
    }),
    ...deviceFlags('With --by port|protocol: one device'),
    db: dbFlag,
  }

  async run(): Promise<TopResult | PortTop> {
    const {flags} = await this.parse(BandwidthTop)
    const limit = this.check(
      z.number().int().min(1, {message: 'must be between 1 and 50'}).max(50, {message: 'must be between 1 and 50'}),
      flags.limit,
      '--limit',
    )
    const now = Date.now()
    const since = flags.since === undefined ? undefined : parseTime(flags.since, now, '--since')
    if (flags.until !== undefined && since === undefined) throw invalidInput('--until needs --since')
    const until = flags.until === undefined ? undefined : parseTime(flags.until, now, '--until')
    if (since !== undefined && since >= (until ?? now)) throw invalidInput('--since must be before --until (and before now)')
    const device = pickDevice(flags)
    if (device !== undefined && flags.by === 'device')
      throw invalidInput(`${flags.device === undefined ? '--mac' : '--device'} needs --by port or --by protocol`)
    const store = await this.openStore(flags.db)
    if (flags.by !== 'device') {
      const p = await topPorts(store, {
        by: flags.by as PortGrouping,
        limit,
        ...(device !== undefined ? {macOrIp: device} : {}),
        ...(since !== undefined ? {sinceMs: since} : {}),
        ...(until !== undefined ? {untilMs: until} : {}),
      })
      if (this.jsonEnabled()) return p
      const head = [p.device ? `${p.device.name ?? p.device.hostname ?? ''} ${p.device.mac ?? ''} ${p.device.ip ?? ''}`.trim() : 'all devices']
      if (p.window.since) head.push(`since ${p.window.since} (whole hours)`)
      this.out(`Traffic by ${p.by}, ${head.join(', ')}`)
      if (p.count === 0) this.out("No flow data (the agent's netflow job fills it).")
      else
        this.out(
          renderTable(
            ['#', 'protocol', ...(p.by === 'port' ? ['port'] : []), 'total', 'sent', 'received', 'flows', 'devices'],
            p.top.map(t => [
              t.rank,
              t.protocol_name,
              ...(p.by === 'port' ? [t.port ?? ''] : []),
              humanBytes(t.total_bytes),
              humanBytes(t.bytes_sent),
              humanBytes(t.bytes_received),
              t.flows,
              t.devices,
            ]),
          ),
        )
      return p
    }
    const r = await topTalkers(store, {limit, sort: flags.sort as TopSort, since, until, now})
    if (this.jsonEnabled()) return r
    if (r.window)
      this.out(`Traffic ${r.window.since} → ${r.window.until}${r.window.widened ? ' (widened to whole buckets: raw samples there were pruned)' : ''}`)
    // A name column once some device has a promoted name (devices promote --name).
    const named = r.top_talkers.some(t => t.name)
    this.out(
      renderTable(
        ['#', ...(named ? ['name'] : []), 'hostname', 'ip', 'mac', 'current', 'total', 'sent', 'received', 'peak'],
        r.top_talkers.map(t => [
          t.rank,
          ...(named ? [t.name ?? ''] : []),
          t.hostname,
          t.ip,
          t.mac,
          t.stale ? 'stale' : humanRate(t.current_bps),
          humanBytes(t.total_bytes),
          humanBytes(t.total_bytes_sent),
          humanBytes(t.total_bytes_received),
          humanRate(t.peak_bps),
        ]),
      ),
    )
    return r
  }
}

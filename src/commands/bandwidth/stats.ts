import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {deviceFlags, pickDevice} from '../../cli/device-flag.js'
import {renderPairs, renderTable} from '../../cli/table.js'
import {deviceStats, networkStats, type DeviceStats, type NetworkStats} from '../../core/bandwidth/query.js'
import {humanBytes, humanDuration, humanRate} from '../../core/format/units.js'

export default class BandwidthStats extends NetmonCommand {
  static override summary = 'Show bandwidth statistics: one device, or the whole network'
  static override description = `Reads the running totals (never the raw samples), so it costs the same after a year as after a minute.
One device (--device: a MAC, IP, hostname or promoted name; --mac is an alias): {device:{ip, mac, hostname, name (the promoted name, null when none), current:{upload_mbps, download_mbps, total_mbps, *_bps}, total:{bytes_sent, bytes_received, total_bytes, total_mb}, average:{…}, peak:{mbps, bps, timestamp, timestamp_ms, upload:{…}, download:{…}}, uptime_seconds, sample_count, first_seen, last_update, reset_at}}.
All devices: {network:{upload_bps, download_bps, total_bps, upload_mbps, download_mbps, total_mbps, …}, devices_count, devices:[{ip, mac, hostname, name, current_mbps, total_mb, …}]}.
One device also carries by_port: its top 10 [{rank, protocol, protocol_name, port, bytes_sent, bytes_received, total_bytes, flows, devices}] from flow data (the agent's netflow job) over the retained hourly buckets; [] without flow data.
A switch port read with SNMP forwarding tables (bandwidth sample --from snmp:// --fdb, or the agent's snmp source with fdb: true) also carries behind:[{mac, vlan, last_seen_ms, device:{ip, hostname, name}|null}] (the MACs behind it in the switch's current table); a device in such a table carries seen_on:[{agent, if_index, port, vlan, last_seen_ms}].
Interface devices (bandwidth sample --from iface) also carry interface_issues:{tx_errors, rx_errors, tx_drops, rx_drops}: the kernel's errors/drops since the accounting start (absent for other devices; the text output adds columns only then).
current = the latest sample's rate while that sample is recent: once it is older than max(2 × its interval, 60 s), current is 0 with stale: true (current_as_of says when it was measured); average = total bytes × 8 / uptime; peak = the fastest sample. Mbps = 10^6 bit/s; MB = 2^20 bytes.`
  static override examples = [
    '<%= config.bin %> bandwidth stats',
    '<%= config.bin %> bandwidth stats --device laptop',
    '<%= config.bin %> bandwidth stats --mac AA:BB:CC:DD:EE:01 --json',
  ]
  static override flags = {
    ...deviceFlags('One device'),
    db: dbFlag,
  }

  async run(): Promise<{device: DeviceStats} | NetworkStats> {
    const {flags} = await this.parse(BandwidthStats)
    const store = await this.openStore(flags.db)
    const device = pickDevice(flags)
    if (device !== undefined) {
      const r = await deviceStats(store, device)
      if (this.jsonEnabled()) return r
      const d = r.device
      this.out(
        renderPairs([
          ['device', `${d.name ? `${d.name} · ` : ''}${d.hostname ?? ''} ${d.mac} ${d.ip ?? ''}`.trim()],
          [
            'current',
            d.current.stale
              ? `0 (stale: the latest sample, ${d.current_as_of}, is older than ${humanDuration(d.current.stale_after_ms)})`
              : `${humanRate(d.current.total_bps)} (up ${humanRate(d.current.upload_bps)}, down ${humanRate(d.current.download_bps)})`,
          ],
          ['total', `${humanBytes(d.total.total_bytes)} (sent ${humanBytes(d.total.bytes_sent)}, received ${humanBytes(d.total.bytes_received)})`],
          ['average', `${humanRate(d.average.total_bps)} (up ${humanRate(d.average.upload_bps)}, down ${humanRate(d.average.download_bps)})`],
          ['peak', d.peak.timestamp ? `${humanRate(d.peak.bps)} at ${d.peak.timestamp}` : '—'],
          ['peak up / down', `${humanRate(d.peak.upload.bps)} / ${humanRate(d.peak.download.bps)}`],
          ['uptime', humanDuration(d.uptime_seconds * 1000)],
          ['samples', d.sample_count],
          ['last update', d.last_update ?? '—'],
          ...(d.interface_issues
            ? ([
                ['errors tx / rx', `${d.interface_issues.tx_errors} / ${d.interface_issues.rx_errors}`],
                ['drops tx / rx', `${d.interface_issues.tx_drops} / ${d.interface_issues.rx_drops}`],
              ] as [string, string][])
            : []),
          ...(d.behind
            ? ([
                [
                  'behind this port',
                  d.behind.map(b => (b.device ? `${b.device.name ?? b.device.hostname ?? b.device.ip ?? ''} ${b.mac}`.trim() : b.mac)).join(', '),
                ],
              ] as [string, string][])
            : []),
          ...(d.seen_on
            ? ([['switch port', d.seen_on.map(p => `${p.port ?? `${p.agent}:${p.if_index}`}${p.vlan ? ` (vlan ${p.vlan})` : ''}`).join(', ')]] as [
                string,
                string,
              ][])
            : []),
        ]),
      )
      if (d.by_port?.length)
        this.out(
          renderTable(
            ['protocol', 'port', 'total', 'sent', 'received', 'flows'],
            d.by_port.map(p => [p.protocol_name, p.port ?? '', humanBytes(p.total_bytes), humanBytes(p.bytes_sent), humanBytes(p.bytes_received), p.flows]),
          ),
        )
      return r
    }
    const r = await networkStats(store)
    // Rendering a 1000-row table costs more than the query: only for humans.
    if (this.jsonEnabled()) return r
    this.out(
      `Network: ${humanRate(r.network.total_bps)} now (up ${humanRate(r.network.upload_bps)}, down ${humanRate(r.network.download_bps)}), ` +
        `${humanBytes(r.network.total_bytes)} in total, ${r.devices_count} device(s)` +
        (r.network.stale_devices ? `, ${r.network.stale_devices} with no recent sample` : ''),
    )
    if (r.devices.length) {
      // Errors/drops columns only when some device (an interface) has such counters.
      const issues = r.devices.some(d => d.interface_issues)
      const pair = (a: number | undefined, b: number | undefined) => (a === undefined ? '' : `${a} / ${b}`)
      // A name column once some device has a promoted name (devices promote --name).
      const named = r.devices.some(d => d.name)
      this.out(
        renderTable(
          [
            ...(named ? ['name'] : []),
            'hostname',
            'ip',
            'mac',
            'current',
            'total',
            'sent',
            'received',
            ...(issues ? ['errors tx/rx', 'drops tx/rx'] : []),
            'last update',
          ],
          r.devices.map(d => [
            ...(named ? [d.name ?? ''] : []),
            d.hostname,
            d.ip,
            d.mac,
            d.stale ? 'stale' : humanRate(d.current_bps),
            humanBytes(d.total_bytes),
            humanBytes(d.bytes_sent),
            humanBytes(d.bytes_received),
            ...(issues
              ? [pair(d.interface_issues?.tx_errors, d.interface_issues?.rx_errors), pair(d.interface_issues?.tx_drops, d.interface_issues?.rx_drops)]
              : []),
            d.last_update,
          ]),
        ),
      )
    }
    return r
  }
}

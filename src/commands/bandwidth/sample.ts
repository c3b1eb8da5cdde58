import {fstatSync, read} from 'node:fs'
import {Flags} from '@oclif/core'
import {z} from 'zod'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {renderTable} from '../../cli/table.js'
import {DEFAULT_MAX_RATE_BPS, parseRate, type CounterBits} from '../../core/bandwidth/counters.js'
import {parsePrefixes} from '../../core/collect/nft-parse.js'
import {runSample, type SampleResult, type SampleSource} from '../../core/bandwidth/sample.js'
import {parseSnmpUrl} from '../../core/collect/snmp-config.js'
import {usageError, invalidInput} from '../../core/errors.js'
import {humanBytes, humanRate} from '../../core/format/units.js'
import {parseDuration, parseTime} from '../../core/format/time.js'

export default class BandwidthSample extends NetmonCommand {
  static override summary = "Record traffic samples: from flags, NDJSON on stdin, or this machine's interfaces"
  static override description = `Every way of feeding samples writes one atomic batch (all or nothing); bad input exits 2 and writes nothing.
- Delta mode (default): --sent/--received are bytes since the device's previous sample (the seed's add_sample).
- Counter mode (--mode counter): they are cumulative counters; netmon stores the difference from the previous counter. A counter that goes down is a 32- or 64-bit wrap only when the wrap is the short way round (at most half the counter's range) and its rate is at most --max-rate (and the link speed, where known); else, or after a reboot (boot time known), a reset (zero traffic for that interval + a counter_reset event). See docs/BANDWIDTH.md for every rule.
- --from - reads NDJSON lines {"mac","sent","received","ts"?} (or bytes_sent/bytes_received; optional "ip", "hostname") from stdin; a bad line exits 2 naming its line number.
- --from iface[:NAME] reads this machine's interface counters (counter mode, keyed by the interface's MAC — loopback and MAC-less interfaces get a synthetic locally-administered MAC — auto-registered with the interface name as hostname). Without NAME: every interface except loopback. --every 5s --count N repeats; without them one reading is taken, and the previous counter is in the store, so cron runs give correct deltas.
- --from nft --lan PREFIX[,PREFIX…] (a Linux router, as root) reads per-host counters from netmon's own nftables table (table inet netmon, created on first use with the given IPv4/IPv6 LAN prefixes; see \`netmon collect nft\` and docs/NFTABLES.md): counter mode, one device per LAN host, addresses mapped to MACs through the neighbor table; sent = bytes the host sent.
- --from snmp://[COMMUNITY@]HOST[:PORT] reads an SNMP v2c agent's IF-MIB counters once (or --every/--count): each port is a device labelled HOST:PORT:ifName; the community comes from the URL or --community-env NAME and is never printed (docs/SOURCES.md; v3 agents are configured in the agent's config).
Samples may come out of order (--at / "ts"); each is placed by time. Two samples with the same device and time are added together.`
  static override examples = [
    '<%= config.bin %> bandwidth sample --mac AA:BB:CC:DD:EE:01 --sent 10485760 --received 52428800',
    '<%= config.bin %> bandwidth sample --mac AA:BB:CC:DD:EE:01 --mode counter --sent 123456789 --received 987654321',
    'cat samples.ndjson | <%= config.bin %> bandwidth sample --from - --auto-register --json',
    '<%= config.bin %> bandwidth sample --from iface:eth0',
    '<%= config.bin %> bandwidth sample --from iface --every 5s --count 12',
    '<%= config.bin %> bandwidth sample --from nft --lan 192.168.1.0/24,fd00:1::/64 --every 10s',
    'SNMP_COMMUNITY=s3cret <%= config.bin %> bandwidth sample --from snmp://192.0.2.2:161 --community-env SNMP_COMMUNITY',
  ]
  static override flags = {
    mac: Flags.string({description: 'Device MAC (with --sent/--received)'}),
    sent: Flags.string({description: 'Bytes sent (delta) or the sent counter (counter mode)'}),
    received: Flags.string({description: 'Bytes received (delta) or the received counter (counter mode)'}),
    mode: Flags.string({description: 'delta: bytes since the previous sample; counter: cumulative counters', options: ['delta', 'counter'], default: 'delta'}),
    from: Flags.string({
      description:
        '"-" for NDJSON on stdin, iface[:NAME] for interface counters, nft for per-host counters on this router, or snmp://[COMMUNITY@]HOST[:PORT] for an SNMP agent',
      helpValue: '-|iface[:NAME]|nft|snmp://HOST',
    }),
    lan: Flags.string({description: 'With --from nft: the LAN prefixes to count (IPv4/IPv6 CIDR, comma-separated or repeated)', multiple: true}),
    at: Flags.string({description: 'Sample time: ISO-8601, epoch ms, or a duration back from now (default now)'}),
    'auto-register': Flags.boolean({description: 'Register unknown MACs instead of rejecting them'}),
    ip: Flags.string({description: "With --mac: the device's address (used by --auto-register)"}),
    hostname: Flags.string({description: "With --mac: the device's name (used by --auto-register)"}),
    'max-rate': Flags.string({
      description: 'Highest plausible rate per direction (SI), e.g. 10G, 1000M: decides counter wraps; faster delta rates are flagged',
      default: '10G',
    }),
    'counter-bits': Flags.string({
      description: 'Counter mode: counter width (auto decides per wrap; interfaces default to 64 on 64-bit systems)',
      options: ['32', '64', 'auto'],
    }),
    every: Flags.string({description: 'With --from iface or nft: repeat every DURATION (e.g. 5s)'}),
    count: Flags.integer({description: 'With --every: number of readings (default: until interrupted)'}),
    'community-env': Flags.string({description: 'With --from snmp://HOST: the environment variable holding the v2c community', helpValue: 'NAME'}),
    'snmp-timeout': Flags.string({description: 'With --from snmp://: per-request timeout (one retry)', default: '2s'}),
    fdb: Flags.boolean({
      description: 'With --from snmp://: also read the forwarding tables (BRIDGE-MIB, Q-BRIDGE-MIB) and store which MACs sit behind each port',
    }),
    db: dbFlag,
  }

  async run(): Promise<SampleResult | undefined> {
    const {flags} = await this.parse(BandwidthSample)
    const source = this.source(flags)
    const maxRate = parseRate(flags['max-rate'])
    if (maxRate === null) throw invalidInput(`--max-rate "${flags['max-rate']}" is not a rate`, 'e.g. 10G, 2.5G, 100M or 1000000000')
    const everyMs = flags.every === undefined ? undefined : parseDuration(flags.every, '--every')
    if (everyMs !== undefined && !['iface', 'nft', 'snmp'].includes(source.kind)) throw usageError('--every only applies to --from iface, nft or snmp://')
    if (flags.lan !== undefined && source.kind !== 'nft') throw usageError('--lan only applies to --from nft')
    if (everyMs !== undefined && everyMs < 100) throw invalidInput('--every must be at least 100ms')
    if (flags.count !== undefined) {
      this.check(z.number().int().min(1, {message: 'expected a positive integer'}), flags.count, '--count')
      if (everyMs === undefined && flags.count > 1) throw usageError('--count needs --every', 'e.g. --every 5s --count 12')
    }
    const bits = flags['counter-bits'] === undefined ? undefined : ((flags['counter-bits'] === 'auto' ? 'auto' : Number(flags['counter-bits'])) as CounterBits)
    const repeating = everyMs !== undefined && flags.count !== 1
    const abort = new AbortController()
    // The reason names the signal: an interrupted NDJSON import exits 128 + its number. Handlers
    // are `once`, so a second Ctrl-C ends the process the default way.
    const stop = (signal: NodeJS.Signals) => abort.abort(signal)
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    process.once('SIGHUP', stop)
    try {
      const last = await runSample(
        () => this.openStore(flags.db),
        {
          source,
          mode: ['iface', 'nft', 'snmp'].includes(source.kind) ? 'counter' : (flags.mode as 'delta' | 'counter'),
          autoRegister: flags['auto-register'],
          maxRateBps: maxRate ?? DEFAULT_MAX_RATE_BPS,
          bits,
          everyMs,
          count: flags.count,
          signal: abort.signal,
        },
        r => {
          if (repeating && this.jsonEnabled()) process.stdout.write(JSON.stringify(r) + '\n')
          else this.render(r)
        },
      )
      // Repeated readings were streamed as NDJSON, one object per reading.
      return repeating ? undefined : last
    } finally {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      process.off('SIGHUP', stop)
    }
  }

  private source(flags: {
    mac?: string
    sent?: string
    received?: string
    from?: string
    at?: string
    ip?: string
    hostname?: string
    lan?: string[]
    'community-env'?: string
    'snmp-timeout'?: string
    fdb?: boolean
  }): SampleSource {
    if (flags.fdb && !/^snmp:/i.test(flags.from ?? '')) throw usageError('--fdb applies to --from snmp://HOST')
    if (flags.from !== undefined) {
      if (flags.mac !== undefined || flags.sent !== undefined || flags.received !== undefined) {
        throw usageError('--from cannot be combined with --mac/--sent/--received')
      }
      if (flags.at !== undefined) throw usageError('--at applies to --mac samples; NDJSON lines carry their own "ts"')
      if (flags.from === '-') return {kind: 'ndjson', input: stdinStream()}
      const m = /^iface(?::(.+))?$/.exec(flags.from)
      if (m) return {kind: 'iface', name: m[1]}
      if (flags.from === 'nft') {
        const lan = flags.lan ?? []
        parsePrefixes(lan) // exit 2 on a bad prefix before anything runs
        return {kind: 'nft', lan}
      }
      if (/^snmp:/i.test(flags.from)) {
        const timeoutMs = parseDuration(flags['snmp-timeout'] ?? '2s', '--snmp-timeout')
        return {
          kind: 'snmp',
          options: {...parseSnmpUrl(flags.from, {communityEnv: flags['community-env'], env: process.env, timeoutMs}), fdb: flags.fdb === true},
        }
      }
      if (flags['community-env'] !== undefined) throw usageError('--community-env applies to --from snmp://HOST')
      throw invalidInput(
        `--from "${flags.from}" is not a source`,
        'use --from - (NDJSON on stdin), --from iface[:NAME], --from nft or --from snmp://[COMMUNITY@]HOST[:PORT]',
      )
    }
    if (flags.mac === undefined || flags.sent === undefined || flags.received === undefined) {
      throw usageError('give --mac, --sent and --received, or --from', 'see `netmon bandwidth sample --help`')
    }
    return {
      kind: 'flags',
      mac: flags.mac,
      sent: flags.sent,
      received: flags.received,
      at: flags.at === undefined ? undefined : parseTime(flags.at, Date.now(), '--at'),
      ip: flags.ip,
      hostname: flags.hostname,
    }
  }

  private render(r: SampleResult): void {
    if (this.jsonEnabled()) return
    const stamp = r.interfaces?.[0]?.read_at ?? (r.hosts?.[0] ? new Date(r.hosts[0].read_at_ms).toISOString() : '')
    this.out(
      `${stamp ? stamp + ' ' : ''}${r.message}: ${humanBytes(r.bytes_sent)} sent, ${humanBytes(r.bytes_received)} received, ${r.devices} device(s)` +
        (r.samples_late ? `, ${r.samples_late} placed out of order` : '') +
        (r.registered.length ? `, registered ${r.registered.length} new` : ''),
    )
    if (r.counter_outcomes) {
      this.out(
        'counter readings: ' +
          Object.entries(r.counter_outcomes)
            .map(([k, v]) => `${k} ${v}`)
            .join(', '),
      )
    }
    for (const e of r.events) this.note(`event: ${e.type} for ${e.mac} at ${e.ts}`)
    if (r.hosts) {
      this.out(
        renderTable(
          ['host', 'addresses', 'sent counter', 'received counter', 'packets sent', 'packets received'],
          r.hosts.map(h => [h.key, h.counter_id.replace(/^nft:/, ''), h.counter_sent, h.counter_received, h.packets_sent, h.packets_received]),
        ),
      )
    } else if (r.interfaces && r.counters) {
      const byMac = new Map(r.counters.map(c => [c.mac, c]))
      this.out(
        renderTable(
          ['interface', 'mac', 'tx counter', 'rx counter', 'outcome', 'sent', 'received'],
          r.interfaces.map(i => {
            const c = byMac.get(i.mac)
            return [
              i.name,
              i.mac + (i.synthetic_mac ? ' (synthetic)' : ''),
              i.counter_sent,
              i.counter_received,
              c?.outcome,
              c?.bytes_sent == null ? '' : humanBytes(c.bytes_sent),
              c?.bytes_received == null ? '' : humanBytes(c.bytes_received),
            ]
          }),
        ),
      )
    } else if (r.samples && r.samples.length <= 20) {
      this.out(
        renderTable(
          ['mac', 'time', 'sent', 'received', 'rate'],
          r.samples.map(s => [s.mac, s.ts, humanBytes(s.bytes_sent), humanBytes(s.bytes_received), s.total_bps === null ? '—' : humanRate(s.total_bps)]),
        ),
      )
    }
  }
}

/**
 * stdin for --from -. A regular file (`< samples.ndjson`) is read 1 MiB at a time from where its
 * offset is, into one reused buffer: readNdjson copies what it keeps (a partial line) before it
 * asks for the next chunk. process.stdin would read it 64 KiB at a time into a fresh buffer each,
 * freed only by a garbage collection, which the byte parser's few allocations rarely cause.
 * Pipes and terminals stay process.stdin.
 */
function stdinStream(): AsyncIterable<string | Buffer> {
  try {
    if (fstatSync(0).isFile()) return readFileChunks(0)
  } catch {
    /* no stdin: process.stdin reports it */
  }
  return process.stdin
}

async function* readFileChunks(fd: number): AsyncGenerator<Buffer> {
  const buf = Buffer.allocUnsafe(1 << 20)
  for (;;) {
    const n = await new Promise<number>((resolve, reject) => read(fd, buf, 0, buf.length, null, (e, bytes) => (e ? reject(e) : resolve(bytes))))
    if (n === 0) return
    yield buf.subarray(0, n)
  }
}

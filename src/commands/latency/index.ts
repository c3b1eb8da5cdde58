import {Args, Flags} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {renderTable} from '../../cli/table.js'
import {parseDuration} from '../../core/format/time.js'
import {measureLatency, planLatency, type HostResult, type LatencyResult, type RoundResult} from '../../core/latency/measure.js'
import {fpingSummaryLines} from '../../core/latency/fping-format.js'
import {DEFAULT_CONCURRENCY, LIMITS} from '../../core/latency/options.js'
import {DEFAULT_MAX_TARGETS, MAX_TARGETS_LIMIT} from '../../core/latency/targets.js'
import {startProgress, type Progress} from '../../core/progress.js'
import {invalidInput} from '../../core/errors.js'
import type {Probe} from '../../core/latency/probe.js'
import {gradeTableText, type LatencyStats} from '../../core/latency/stats.js'
import type {Target} from '../../core/latency/targets.js'

const ms = (v: number | null): string => (v === null ? '-' : v < 10 ? v.toFixed(3) : v < 100 ? v.toFixed(2) : v.toFixed(1))
const pct = (v: number): string => `${Number.isInteger(v) ? v : v.toFixed(2)}%`

export default class Latency extends NetmonCommand {
  static override summary = 'Measure RTT, loss and jitter to several hosts at once, with a quality grade'
  static override description =
    `Probes the hosts concurrently (up to --concurrency at once): ICMP echo through the system ping (iputils), or the time of a TCP connect to --port (no privileges needed; a refused connection still counts as a reply). Without --method, ICMP is used when ping works, else TCP.

Per host: sent, received, loss %, RTT min/avg/max/median/stddev (population), jitter (mean |RTT(i) − RTT(i−1)| over consecutive replies, RFC 3550 style) and a grade. A host that never answers shows 100 % loss; that is a result, not an error (exit 0; exit 1 with --fail-on-loss).

Targets, as fping takes them: HOST arguments (addresses, CIDRs, ranges, names), -g CIDR or -g START END (fping's generate; an IPv4 subnet's network and broadcast addresses are skipped up to a /30), and -f FILE or -f - (one target per line, # comments). Duplicates are probed once. At most ${DEFAULT_MAX_TARGETS} targets per run unless --max-targets N (up to ${MAX_TARGETS_LIMIT}); --concurrency hosts are probed at once (default ${DEFAULT_CONCURRENCY}).

Output: a table by default; -a lists the hosts that answered, -u those that did not (one per line, for scripts); -q prints fping -q's summary line per host ("10.0.0.1 : xmt/rcv/%loss = 3/3/0%, min/avg/max = 0.05/0.07/0.09"; on stderr when combined with -a or -u, which keep stdout for the list). --json gives the whole result whatever else is asked. A progress bar is drawn on stderr when it is a terminal. Exit 0 even when hosts are unreachable (--fail-on-loss: 1).

Every run is stored (each probe and the summary) and linked to the inventory device with that address; see \`netmon latency history\`.

--watch keeps probing until Ctrl-C: a live table on a terminal, or NDJSON with --json (one object per probe and per round of --count probes); each round is stored as a run.

${gradeTableText()}`

  static override examples = [
    '<%= config.bin %> latency 192.0.2.1 192.0.2.10',
    '<%= config.bin %> latency -g 192.0.2.0/24 -c 3 -a',
    '<%= config.bin %> latency -g 192.0.2.1 192.0.2.20 -c 3 -q',
    '<%= config.bin %> latency -f hosts.txt -u',
    'grep -v ^# hosts.txt | <%= config.bin %> latency -f - -c 1 --json',
    '<%= config.bin %> latency router.lan --count 20 --interval 200ms',
    '<%= config.bin %> latency 192.0.2.10 --method tcp --port 22 --json',
    '<%= config.bin %> latency 192.0.2.1 192.0.2.10 --watch',
    '<%= config.bin %> latency 192.0.2.1 --watch --json | jq -c \'select(.type=="summary")\'',
  ]

  static override strict = false
  static override args = {
    host: Args.string({
      description: 'IP address, CIDR, range (192.168.1.1-20) or host name (several allowed); with -g: a CIDR, or START END',
      required: false,
      // oclif would otherwise read a piped stdin as the HOST when none is given; stdin is -f -'s.
      ignoreStdin: true,
    }),
  }

  static override flags = {
    count: Flags.integer({char: 'c', description: 'Probes per host (with --watch: per stored round)', default: 10}),
    interval: Flags.string({char: 'i', description: 'Time between probes to one host (500ms, 1s, …)', default: '1s'}),
    timeout: Flags.string({char: 't', description: 'A probe without an answer within this time is lost', default: '1s'}),
    method: Flags.string({
      char: 'm',
      description: 'icmp (system ping) or tcp (connect time); default: icmp when ping works, else tcp',
      options: ['icmp', 'tcp'],
    }),
    port: Flags.integer({char: 'p', description: 'TCP port for --method tcp', default: 443}),
    watch: Flags.boolean({char: 'w', description: 'Keep probing until Ctrl-C (live table, or NDJSON with --json)', default: false}),
    'fail-on-loss': Flags.boolean({description: 'Exit 1 when any host did not answer at all', default: false}),
    generate: Flags.boolean({
      char: 'g',
      description: "fping's generate: the arguments are one CIDR (-g 192.168.1.0/24) or a start and an end address (-g 192.168.1.1 192.168.1.20)",
      default: false,
    }),
    file: Flags.string({
      char: 'f',
      description: 'Read targets from FILE, - for standard input (fping -f): one per line, # starts a comment',
      helpValue: 'FILE',
    }),
    alive: Flags.boolean({char: 'a', description: 'Print only the hosts that answered, one per line (fping -a)', default: false, exclusive: ['unreachable']}),
    unreachable: Flags.boolean({
      char: 'u',
      description: 'Print only the hosts that never answered, one per line (fping -u)',
      default: false,
      exclusive: ['alive'],
    }),
    quiet: Flags.boolean({
      char: 'q',
      description: "One summary line per host in fping -q's format instead of the table (to stderr with -a/-u)",
      default: false,
    }),
    'max-targets': Flags.integer({
      description: `The cap on targets per run (a guard against a mistyped prefix); up to ${MAX_TARGETS_LIMIT}`,
      default: DEFAULT_MAX_TARGETS,
    }),
    concurrency: Flags.integer({
      description: `Hosts probed at once (1 – ${LIMITS.maxConcurrency}); each ICMP host is one ping process`,
      default: DEFAULT_CONCURRENCY,
    }),
    db: dbFlag,
  }

  async run(): Promise<LatencyResult | undefined> {
    const {argv, flags} = await this.parse(Latency)
    const list = flags.alive ? '-a' : flags.unreachable ? '-u' : null
    if (flags.watch && (list || flags.quiet)) {
      throw invalidInput(`${list ?? '-q'} reports a finished run and cannot be used with --watch`, 'drop --watch, or use --watch --json for a stream')
    }
    // Hosts, files, names and ping are checked before the store is opened: bad input writes nothing.
    const plan = await planLatency({
      hosts: argv as string[],
      generate: flags.generate,
      file: flags.file,
      maxTargets: flags['max-targets'],
      concurrency: flags.concurrency,
      method: (flags.method ?? 'auto') as 'icmp' | 'tcp' | 'auto',
      count: flags.count,
      interval: parseDuration(flags.interval, '--interval'),
      timeout: parseDuration(flags.timeout, '--timeout'),
      port: flags.port,
      watch: flags.watch,
    })
    const opts = plan.opts
    const store = await this.openStore(flags.db)
    const json = this.jsonEnabled()
    // Count mode: a bar on stderr (only when it is a terminal, see core/progress.ts) of probes settled.
    const ui: {bar: Promise<Progress> | null; probes: number; hosts: string} = {bar: null, probes: 0, hosts: ''}
    const tick = () => void ui.bar?.then(b => b.update(ui.probes, {hosts: ui.hosts}))
    const ac = new AbortController()
    let interrupts = 0
    const onSignal = () => {
      // A second Ctrl-C while the last round is being stored: leave now.
      if (++interrupts > 1) process.exit(130)
      ac.abort()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    const emit = (obj: unknown) => process.stdout.write(JSON.stringify(obj) + '\n')
    const live = opts.watch && !json ? new LiveView(process.stdout.isTTY === true) : null

    let result: LatencyResult
    try {
      result = await measureLatency(store, plan, {
        signal: ac.signal,
        onNote: t => this.note(`netmon: ${t}`),
        onStart: ({method, targets, devices}) => {
          if (opts.watch && json)
            emit({
              type: 'start',
              method,
              port: method === 'tcp' ? opts.port : null,
              interval_ms: opts.interval,
              timeout_ms: opts.timeout,
              count: opts.count,
              hosts: targets.map(t => ({host: t.host, ip: t.ip, device_id: devices.get(t.ip)?.id ?? null})),
            })
          live?.start(method, targets, opts)
          if (!opts.watch) {
            ui.hosts = `0/${targets.length}`
            ui.bar = startProgress('latency', targets.length * opts.count)
          }
        },
        onProbe: opts.watch
          ? (target, probe, stats) => {
              if (json) emit(probeLine(target, probe))
              else live?.update(target, stats)
            }
          : () => {
              ui.probes++
              tick()
            },
        onHostDone: p => {
          ui.hosts = `${p.hosts_done}/${p.hosts_total} alive ${p.alive}`
          tick()
        },
        onRound: opts.watch
          ? round => {
              if (json) emit({type: 'summary', scope: 'round', ...round})
              else live?.round(round)
            }
          : undefined,
      })
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      ;(await ui.bar)?.stop()
    }
    if (result.interrupted) this.note(`netmon: interrupted: ${plan.targets.length - result.hosts.length} of ${plan.targets.length} targets not probed`)
    // Ctrl-C ends a --watch normally; a counted run it cuts short (what was measured is kept), as scan.
    if (!opts.watch && ac.signal.aborted) process.exitCode = 130

    if (result.unreachable.length > 0 && flags['fail-on-loss']) {
      this.note(`netmon: no reply at all from ${result.unreachable.join(', ')}`)
      process.exitCode = 1
    }
    if (opts.watch) {
      if (json) {
        for (const h of result.hosts) emit({type: 'summary', scope: 'session', ...h})
        return undefined
      }
      live?.finish(result)
      return result
    }
    if (!json) {
      const lines = flags.quiet ? fpingSummaryLines(result.hosts) : []
      if (list) {
        const names = flags.alive ? result.alive : result.unreachable
        if (names.length) process.stdout.write(names.join('\n') + '\n')
        // As fping -a -q -c N: the list on stdout, the summaries on stderr.
        if (lines.length) process.stderr.write(lines.join('\n') + '\n')
      } else if (flags.quiet) {
        if (lines.length) process.stdout.write(lines.join('\n') + '\n')
      } else {
        this.out(heading(result))
        this.out(resultTable(result.hosts))
      }
    }
    return result
  }
}

function probeLine(target: Target, p: Probe) {
  return {
    type: 'probe',
    host: target.host,
    ip: target.ip,
    seq: p.seq,
    ts: new Date(p.ts).toISOString(),
    ts_ms: p.ts,
    rtt_ms: p.rtt_ms,
    status: p.status,
    ...(p.detail ? {detail: p.detail} : {}),
  }
}

function heading(r: LatencyResult): string {
  const how = r.method === 'icmp' ? 'ICMP echo (ping)' : `TCP connect to port ${r.port}`
  return `${how}: ${r.count} probe${r.count === 1 ? '' : 's'} per host every ${r.interval_ms} ms, timeout ${r.timeout_ms} ms`
}

function deviceLabel(h: HostResult): string {
  return h.device ? (h.device.name ?? h.device.hostname ?? h.device.mac ?? `#${h.device.id}`) : ''
}

function resultTable(hosts: HostResult[]): string {
  return renderTable(
    ['host', 'address', 'device', 'sent', 'recv', 'loss', 'min ms', 'avg ms', 'max ms', 'median ms', 'stddev ms', 'jitter ms', 'grade'],
    hosts.map(h => [
      h.host,
      h.host === h.ip ? '' : h.ip,
      deviceLabel(h),
      h.sent,
      h.received,
      pct(h.loss_pct),
      ms(h.min_ms),
      ms(h.avg_ms),
      ms(h.max_ms),
      ms(h.median_ms),
      ms(h.stddev_ms),
      ms(h.jitter_ms),
      (h.grade ?? '-') + (h.error ? ` (${h.error})` : ''),
    ]),
  )
}

/**
 * --watch without --json. On a terminal: one table redrawn in place (at most 5 times a second,
 * cursor moved up over the previous drawing). Elsewhere (pipe, log file): one line per stored
 * round, since redrawing makes no sense there.
 */
class LiveView {
  private readonly rows = new Map<string, LatencyStats & {last_ms: number | null; ip: string}>()
  private targets: Target[] = []
  private header = ''
  private drawn = 0
  private timer: NodeJS.Timeout | null = null
  private dirty = false

  constructor(private readonly tty: boolean) {}

  start(method: string, targets: Target[], opts: {interval: number; timeout: number; count: number; port: number}): void {
    this.targets = targets
    this.header = `${method === 'icmp' ? 'ICMP echo (ping)' : `TCP connect to port ${opts.port}`} every ${opts.interval} ms, timeout ${opts.timeout} ms; a run is stored every ${opts.count} probes. Ctrl-C stops.`
    if (!this.tty) process.stdout.write(this.header + '\n')
    else this.draw()
  }

  update(target: Target, stats: LatencyStats & {last_ms: number | null}): void {
    this.rows.set(target.host, {...stats, ip: target.ip})
    if (!this.tty) return
    this.dirty = true
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null
        if (this.dirty) this.draw()
      }, 200)
    }
  }

  round(r: RoundResult): void {
    if (this.tty) return
    process.stdout.write(
      `${r.ended?.iso ?? ''} ${r.host}${r.host === r.ip ? '' : ` (${r.ip})`} round ${r.round}: ${r.received}/${r.sent} received, loss ${pct(r.loss_pct)}, avg ${ms(r.avg_ms)} ms, median ${ms(r.median_ms)} ms, jitter ${ms(r.jitter_ms)} ms, ${r.grade ?? '-'}\n`,
    )
  }

  private table(): string {
    return renderTable(
      ['host', 'sent', 'recv', 'loss', 'last ms', 'min ms', 'avg ms', 'max ms', 'median ms', 'jitter ms', 'grade'],
      this.targets.map(t => {
        const s = this.rows.get(t.host)
        if (!s) return [t.host, 0, 0, '-', '-', '-', '-', '-', '-', '-', '-']
        return [
          t.host,
          s.sent,
          s.received,
          pct(s.loss_pct),
          s.last_ms === null ? 'lost' : ms(s.last_ms),
          ms(s.min_ms),
          ms(s.avg_ms),
          ms(s.max_ms),
          ms(s.median_ms),
          ms(s.jitter_ms),
          s.grade ?? '-',
        ]
      }),
    )
  }

  private draw(): void {
    this.dirty = false
    const text = `${this.header}\n${this.table()}\n`
    // Moving the cursor up cannot go above the screen: a table taller than the terminal is
    // redrawn from the top of a cleared screen instead.
    const lines = text.split('\n').length - 1
    const rows = process.stdout.rows ?? 0 // 0: a pty without a size (script(1), some CI)
    const tooTall = rows > 0 && rows <= lines
    const up = tooTall ? '\x1b[H\x1b[2J' : this.drawn > 0 ? `\x1b[${this.drawn}A\x1b[J` : ''
    process.stdout.write(up + text)
    this.drawn = lines
  }

  finish(result: LatencyResult): void {
    if (this.timer) clearTimeout(this.timer)
    const stored = result.hosts.reduce((a, h) => a + h.runs, 0)
    if (this.tty) {
      const up = this.drawn > 0 ? `\x1b[${this.drawn}A\x1b[J` : ''
      process.stdout.write(up)
    }
    process.stdout.write(`Session totals (${stored} run${stored === 1 ? '' : 's'} stored):\n${resultTable(result.hosts)}\n`)
  }
}

import {Flags} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {runAgentProcess, type AgentRunSummary} from '../../core/agent/run.js'

export default class AgentRun extends NetmonCommand {
  static override summary = 'Run every periodic job of a config in one process: collectors, scans, latency probes, prune, the meter bridge, serve'
  static override description =
    `Jobs (docs/AGENT.md): collector (interface/nftables counters on a fixed interval through the one collector runner), scan and latency (named targets on an interval, every: 5m, or a cron expression, cron: "*/5 * * * *"), prune (retention), bridge (the meter bridge daemon) and serve (the HTTP API and dashboard).
Each job keeps one status row in the store; \`netmon agent status\` reads them from another shell. A job that fails or overruns never stops the others; a scheduled run still going when it is due again is skipped and counted as an overrun.

Signals: SIGTERM/SIGINT stop scheduling, let running jobs finish (bounded by shutdown_timeout, default 10 s) and exit 0; a second signal exits at once. SIGHUP re-reads --config: jobs are added, removed or restarted; an invalid file is logged and the running config kept.
Logs: one line per event on stderr; --log-format json for journald/Loki. Secrets come from *_env / *_file keys and never appear in logs or status.`
  static override examples = [
    '<%= config.bin %> agent run --config /etc/netmon/agent.yaml',
    '<%= config.bin %> agent run --config agent.yaml --log-format json --db /var/lib/netmon/netmon.db',
  ]
  static override flags = {
    config: Flags.string({char: 'c', description: 'Agent config (YAML or JSON), see docs/AGENT.md', helpValue: 'FILE', required: true}),
    'log-format': Flags.string({description: 'Log line format on stderr', options: ['text', 'json'], default: 'text'}),
    'log-level': Flags.string({description: 'Minimum level logged', options: ['debug', 'info', 'warn', 'error'], default: 'info'}),
    db: dbFlag,
  }

  async run(): Promise<AgentRunSummary> {
    const {flags} = await this.parse(AgentRun)
    return runAgentProcess({
      configPath: flags.config,
      db: flags.db,
      openStore: db => this.openStore(db),
      logFormat: flags['log-format'] as 'text' | 'json',
      logLevel: flags['log-level'] as 'debug' | 'info' | 'warn' | 'error',
      version: this.config.version,
    })
  }
}

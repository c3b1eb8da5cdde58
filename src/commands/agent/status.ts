import {Flags} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {renderTable} from '../../cli/table.js'
import {agentStatus, type AgentStatus} from '../../core/agent/repo.js'
import {humanDuration} from '../../core/bridge/text.js'

const ago = (ms: number | null) => (ms === null ? 'never' : `${humanDuration(Math.max(0, Date.now() - ms))} ago`)
const until = (ms: number | null) => (ms === null ? '-' : ms <= Date.now() ? 'due' : `in ${humanDuration(ms - Date.now())}`)

export default class AgentStatusCommand extends NetmonCommand {
  static override summary = "Show the agent's jobs: last run, outcome, next run, failures, overruns"
  static override description =
    `Reads the status rows the running agent writes (works from any shell while \`netmon agent run\` runs, or after it stopped). A job whose agent has stopped heart-beating (killed, host down) shows as stale. --all includes jobs removed from the config.
Exit status is 0 whether or not the agent runs: scripts read "state" from --json.`
  static override examples = ['<%= config.bin %> agent status', '<%= config.bin %> agent status --db /var/lib/netmon/netmon.db --json']
  static override flags = {
    all: Flags.boolean({description: 'Include jobs no longer in the config'}),
    db: dbFlag,
  }

  async run(): Promise<AgentStatus> {
    const {flags} = await this.parse(AgentStatusCommand)
    const store = await this.openStore(flags.db)
    const s = await agentStatus(store, {all: flags.all})
    if (s.state === 'never-started') {
      this.out('The agent has never run on this store (start it with `netmon agent run --config FILE`).')
      return s
    }
    const hb = s.jobs.find(j => j.heartbeat_age_ms !== null)
    this.out(
      `agent: ${s.state === 'running' ? `running (pid ${s.pid} on ${s.hostname})` : s.state === 'stale' ? `NOT running: stale heartbeat (${ago(hb ? Date.now() - hb.heartbeat_age_ms! : null)}, pid ${s.pid} on ${s.hostname})` : 'stopped'}`,
    )
    this.out(() =>
      renderTable(
        ['job', 'kind', 'schedule', 'state', 'last run', 'took', 'outcome', 'next', 'runs', 'fails', 'overruns', 'last error'],
        s.jobs.map(j => [
          j.name,
          j.kind,
          j.schedule,
          j.state + (j.active ? '' : ' (removed)'),
          ago(j.last_start_ms),
          j.last_duration_ms === null ? '-' : `${j.last_duration_ms} ms`,
          j.last_outcome ?? '-',
          until(j.next_run_ms),
          j.runs,
          j.failures,
          j.overruns,
          j.last_error ? (j.last_error.length > 60 ? `${j.last_error.slice(0, 57)}...` : j.last_error) : '',
        ]),
      ),
    )
    // A netflow job's counters (the listener's, as of its last flush).
    for (const j of s.jobs) {
      if (j.kind !== 'netflow' || !j.detail || typeof j.detail !== 'object') continue
      const d = j.detail as NetflowStatusDetail
      if (!d.datagrams) continue
      this.out(
        `${j.name}: ${d.listen}: datagrams ${d.datagrams.received} received, ${d.datagrams.decoded} decoded, ${d.datagrams.dropped} dropped, ${d.datagrams.malformed} malformed; ` +
          `flows ${d.flows?.decoded ?? 0} (${d.flows?.unattributed ?? 0} outside the LAN, ${d.flows?.overflow ?? 0} over the caps); ` +
          `${d.hosts ?? 0} host(s) in the last flush; template evictions ${d.templates?.evictions ?? 0}; ` +
          `written ${d.written?.samples ?? 0} sample(s) (sampled exports scaled by their interval)`,
      )
    }
    return s
  }
}

interface NetflowStatusDetail {
  listen?: string
  datagrams?: {received: number; decoded: number; dropped: number; malformed: number}
  flows?: {decoded: number; unattributed: number; overflow: number}
  templates?: {evictions: number}
  hosts?: number
  written?: {samples: number}
}

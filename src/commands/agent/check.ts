import {Flags} from '@oclif/core'
import {NetmonCommand} from '../../cli/base.js'
import {renderTable} from '../../cli/table.js'
import {checkAgentConfig, type AgentCheck} from '../../core/agent/check.js'

export default class AgentCheckCommand extends NetmonCommand {
  static override summary = 'Validate an agent config without running anything'
  static override description =
    `Parses the YAML/JSON file and validates every job (an error names its path, e.g. jobs[2].every: invalid duration "soon", and exits 2), checks that the environment variables and files it names for secrets exist, and lists the jobs with their schedules. Nothing is contacted and nothing is written.`
  static override examples = ['<%= config.bin %> agent check --config agent.yaml', '<%= config.bin %> agent check -c agent.yaml --json']
  static override flags = {
    config: Flags.string({char: 'c', description: 'Agent config (YAML or JSON)', helpValue: 'FILE', required: true}),
  }

  async run(): Promise<AgentCheck> {
    const {flags} = await this.parse(AgentCheckCommand)
    const r = checkAgentConfig(flags.config)
    this.out(() =>
      renderTable(
        ['job', 'kind', 'schedule', 'what'],
        r.jobs.map(j => [j.name, j.kind + (j.enabled ? '' : ' (disabled)'), j.schedule, j.what]),
      ),
    )
    this.out(`OK: ${r.jobs.length} job(s)`)
    return r
  }
}

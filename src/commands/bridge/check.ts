import {Flags} from '@oclif/core'
import {NetmonCommand} from '../../cli/base.js'
import {renderPairs, renderTable} from '../../cli/table.js'
import {checkConfig, type ConfigCheck} from '../../core/bridge/check.js'

export default class BridgeCheck extends NetmonCommand {
  static override summary = 'Validate a bridge config without connecting to anything'
  static override description =
    `Parses the YAML/JSON file, validates every field (an error names its path, e.g. meters[3].port: expected 1-65535, and exits 2), checks that the environment variables it names are set and that TLS files exist, and prints what the bridge would do. Nothing is contacted and nothing is written.`
  static override examples = ['<%= config.bin %> bridge check --config bridge.yaml', '<%= config.bin %> bridge check -c bridge.yaml --json']
  static override flags = {
    config: Flags.string({char: 'c', description: 'Bridge config (YAML or JSON)', helpValue: 'FILE', required: true}),
  }

  async run(): Promise<ConfigCheck> {
    const {flags} = await this.parse(BridgeCheck)
    const r = checkConfig(flags.config)
    this.out(
      renderPairs([
        ['config', r.path],
        ['broker', r.mqtt.url],
        ['client id', r.mqtt.client_id],
        ['credentials', r.mqtt.credentials],
        ['format', `${r.format}${r.format === 'plain' ? ` (topic ${r.topic})` : ''}`],
        ['outbox bound', `${r.outbox.max_rows} rows, ${r.outbox.max_age_seconds} s (oldest dropped first)`],
        [
          'downlink',
          r.downlink.enabled
            ? `ThingsBoard RPC + shared attributes, replies within ${(r.downlink.rpc_timeout_ms ?? 0) / 1000} s; writes allowed on ${
                r.meters
                  .filter(m => m.allow_write)
                  .map(m => m.id)
                  .join(', ') || 'no meter'
              }`
            : 'off',
        ],
        ['metrics', `a row every ${r.metrics.interval_ms / 1000} s, interfaces ${r.metrics.interfaces?.join(', ') ?? 'all but loopback'}`],
        ...(r.push ? ([['push listener', `${r.push.listen} (${r.push.framing})`]] as [string, string][]) : []),
      ]),
    )
    this.out(
      renderTable(
        ['id', 'name', 'endpoint', 'framing', 'auth', 'every', 'OBIS → key'],
        r.meters.map(m => [
          m.id,
          m.name,
          m.host ? `${m.host}:${m.port}` : 'push only',
          m.framing,
          m.auth,
          `${m.poll_interval_ms / 1000} s`,
          m.obis.map(o => `${o.obis} → ${o.key}${o.unit ? ` (${o.unit})` : ''}`).join('\n'),
        ]),
      ),
    )
    for (const m of r.meters) if (m.push) this.out(`${m.id} pushes: ${m.push}`)
    this.out(`OK: ${r.meters.length} meter(s)${r.disabled.length ? `, ${r.disabled.length} disabled` : ''}`)
    return r
  }
}

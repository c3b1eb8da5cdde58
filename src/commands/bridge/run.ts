import {Flags} from '@oclif/core'
import {z} from 'zod'
import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {runBridgeProcess, type RunSummary} from '../../core/bridge/run.js'
import {usageError} from '../../core/errors.js'
import {parseDuration} from '../../core/format/time.js'

const demoSchema = z.object({
  meters: z.number().int().min(1, {message: 'expected 1-200'}).max(200, {message: 'expected 1-200'}),
  mqttPort: z.number().int().min(0).max(65535, {message: 'expected 0-65535'}),
})

export default class BridgeRun extends NetmonCommand {
  static override summary = 'Run the meter bridge: poll DLMS meters, publish readings to MQTT (QoS 1), record its own network use'
  static override description =
    `Polls every configured meter on its own schedule (association kept open, re-association with backoff), writes each reading to the store (readings + outbox) and then publishes it with QoS 1; an outbox row is deleted only on PUBACK, so nothing is lost while the broker is down or the daemon restarts.
Every metrics interval (default 60 s) one network_metrics row per meter records DLMS requests/responses/bytes, MQTT messages/bytes and the interface bandwidth.
Other shells read it live: \`netmon bridge status\`, \`netmon meters stats METER\`, \`netmon meters readings METER\`.

Signals: SIGTERM/SIGINT stop polling, write what is pending and a final metrics row, wait (bounded by shutdown_timeout) for PUBACKs and exit 0; a second signal exits at once. SIGHUP re-reads --config and adds/removes/restarts meters without a restart.
Logs: one line per event on stderr; --log-format json for journald/Loki. Secrets (MQTT password, tokens, meter passwords) come from environment variables named in the config and never appear in logs or status.

--demo needs no hardware: it starts simulated meters and an in-process MQTT broker on 127.0.0.1 (see docs/BRIDGE.md).`
  static override examples = [
    '<%= config.bin %> bridge run --config /etc/netmon/bridge.yaml',
    '<%= config.bin %> bridge run --config bridge.yaml --log-format json --db /var/lib/netmon/netmon.db',
    '<%= config.bin %> bridge run --demo',
    '<%= config.bin %> bridge run --demo --meters 5 --mqtt-port 1883',
  ]
  static override flags = {
    config: Flags.string({char: 'c', description: 'Bridge config (YAML or JSON), see docs/examples/bridge.yaml', helpValue: 'FILE', exclusive: ['demo']}),
    demo: Flags.boolean({description: 'Simulated meters + an in-process MQTT broker on 127.0.0.1: the whole pipeline with no hardware'}),
    meters: Flags.integer({description: 'Demo: number of simulated meters [default: 3]', dependsOn: ['demo']}),
    'mqtt-port': Flags.integer({description: 'Demo: port of the in-process broker (0 = any free port) [default: 0]', dependsOn: ['demo']}),
    interval: Flags.string({description: 'Demo: poll interval [default: 3s]', dependsOn: ['demo']}),
    'metrics-interval': Flags.string({description: 'Demo: network_metrics row interval [default: 10s]', dependsOn: ['demo']}),
    'log-format': Flags.string({description: 'Log line format on stderr', options: ['text', 'json'], default: 'text'}),
    'log-level': Flags.string({description: 'Minimum level logged', options: ['debug', 'info', 'warn', 'error'], default: 'info'}),
    db: dbFlag,
  }

  async run(): Promise<RunSummary> {
    const {flags} = await this.parse(BridgeRun)
    if (!flags.config && !flags.demo) throw usageError('give --config FILE (or --demo to try it without hardware)', 'see netmon bridge run --help')
    const demo = flags.demo
      ? {
          ...this.check(demoSchema, {meters: flags.meters ?? 3, mqttPort: flags['mqtt-port'] ?? 0}, 'bridge run'),
          pollIntervalMs: this.check(
            z.number().min(100, {message: 'expected at least 100ms'}),
            parseDuration(flags.interval ?? '3s', '--interval'),
            '--interval',
          ),
          metricsIntervalMs: this.check(
            z.number().min(500, {message: 'expected at least 500ms'}),
            parseDuration(flags['metrics-interval'] ?? '10s', '--metrics-interval'),
            '--metrics-interval',
          ),
        }
      : undefined
    return runBridgeProcess({
      configPath: flags.config,
      demo,
      db: flags.db,
      openStore: db => this.openStore(db),
      logFormat: flags['log-format'] as 'text' | 'json',
      logLevel: flags['log-level'] as 'debug' | 'info' | 'warn' | 'error',
      print: text => this.out(text),
    })
  }
}

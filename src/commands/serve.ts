import {Flags} from '@oclif/core'
import {NetmonCommand, dbFlag} from '../cli/base.js'
import {createLogger} from '../core/log.js'
import {resolveServeOptions} from '../core/serve/options.js'

export interface ServeSummary {
  url: string
  stopped_by: string
  uptime_seconds: number
  requests: number
}

export default class Serve extends NetmonCommand {
  static override summary = 'Serve the REST API, Prometheus metrics and the web dashboard over the store'
  static override description = `Answers HTTP on --host:--port until SIGTERM/SIGINT:
  /                 the dashboard (network totals, top talkers, device history, inventory, timeline, latency, meters)
  /api/network/...  the LAN hub's REST API (bandwidth, devices, scan, latency): the same JSON as the CLI's --json
  /meters/...       the meter bridge's API (meters, network_stats, readings)
  /metrics          Prometheus text format (device byte counters, rates, latency, bridge counters, outbox depth)
  /openapi.json     OpenAPI 3.1 description of every route; /healthz liveness (never needs a token)

Binds to loopback (127.0.0.1) by default. Any other --host requires a token: --token-env VAR names the environment variable holding it (at least 16 characters; tokens never go in flags). With a token, every route except /healthz and the dashboard's static files needs "Authorization: Bearer <token>"; the dashboard asks for it once.

--port 0 binds any free port. The bound URL is printed on stderr ("listening on http://…"); with --json, the summary is printed on stdout when the server stops. See docs/SERVE.md.`

  static override examples = [
    '<%= config.bin %> serve',
    '<%= config.bin %> serve --port 9000 --db /var/lib/netmon/netmon.db',
    'NETMON_TOKEN=$(openssl rand -hex 32) <%= config.bin %> serve --host 0.0.0.0 --token-env NETMON_TOKEN',
    'curl -s localhost:8080/api/network/bandwidth/stats | jq .network',
  ]

  static override flags = {
    host: Flags.string({description: 'Address to listen on; anything but loopback requires --token-env', default: '127.0.0.1'}),
    port: Flags.integer({char: 'p', description: 'TCP port (0 = any free port)', default: 8080}),
    'token-env': Flags.string({description: 'Name of the environment variable holding the bearer token', helpValue: 'VAR'}),
    'access-log': Flags.boolean({description: 'Log one line per request on stderr', default: false}),
    'log-format': Flags.string({description: 'Log line format on stderr', options: ['text', 'json'], default: 'text'}),
    db: dbFlag,
  }

  async run(): Promise<ServeSummary> {
    const {flags} = await this.parse(Serve)
    // Everything is checked before the store is opened or a port bound (non-loopback without a token → exit 2).
    const opts = resolveServeOptions({host: flags.host, port: flags.port, tokenEnv: flags['token-env']})
    const store = await this.openStore(flags.db)
    const log = createLogger({format: flags['log-format'] as 'text' | 'json', name: 'serve'})
    store.onRetry = (attempt, e) => log.warn('store busy, retrying', {attempt, error: String((e as Error)?.message ?? e).split('\n')[0]})
    const {startServer} = await import('../core/serve/server.js')
    const server = await startServer({...opts, store, log, accessLog: flags['access-log'], version: this.config.version})
    const auth = opts.token ? `bearer token from ${opts.tokenSource} required` : 'no token (loopback only)'
    this.note(`netmon serve: listening on ${server.url} (dashboard ${server.url}/, API ${server.url}/api, metrics ${server.url}/metrics; ${auth})`)

    const started = Date.now()
    const signal = await new Promise<string>(resolve => {
      const stop = (sig: string) => () => resolve(sig)
      process.once('SIGTERM', stop('SIGTERM'))
      process.once('SIGINT', stop('SIGINT'))
    })
    this.note(`netmon serve: ${signal}, stopping (in-flight requests get up to 10 s)`)
    // A second signal while draining: leave now.
    const again = () => process.exit(130)
    process.once('SIGTERM', again)
    process.once('SIGINT', again)
    await server.close(10_000)
    process.off('SIGTERM', again)
    process.off('SIGINT', again)
    return {url: server.url, stopped_by: signal, uptime_seconds: Math.round((Date.now() - started) / 1000), requests: server.stats.total}
  }
}

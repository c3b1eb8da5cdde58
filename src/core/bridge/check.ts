/** `netmon bridge check`: validate and describe a config; never connects. */
import {loadConfig, readConfigFile} from './config.js'

export interface ConfigCheck {
  ok: true
  path: string
  format: string
  topic: string | null
  mqtt: {url: string; client_id: string; credentials: string; tls: boolean; max_inflight: number}
  meters: {
    id: string
    name: string
    host: string
    port: number
    framing: string
    auth: string
    poll_interval_ms: number
    timeout_ms: number
    obis: {obis: string; key: string; class: number; unit?: string}[]
    /** How its pushes are matched and protected (never the keys); null: it does not push. */
    push: string | null
    allow_write: boolean
    device_type: string | null
    profiles: {obis: string; every_ms: number; max_rows: number; backfill_ms: number; mode: string; columns: Record<string, string>}[]
  }[]
  downlink: {enabled: boolean; rpc_timeout_ms: number | null}
  /** The push listener, null when push.listen is not set. */
  push: {listen: string; framing: string} | null
  disabled: string[]
  outbox: {max_rows: number; max_age_seconds: number}
  metrics: {interval_ms: number; heartbeat_ms: number; interfaces: string[] | null}
}

export function checkConfig(path: string, env: NodeJS.ProcessEnv = process.env): ConfigCheck {
  const c = loadConfig(path, env)
  const raw = readConfigFile(path) as {meters?: {id?: string; enabled?: boolean}[]; mqtt?: {password_env?: string; token_env?: string}}
  const m = c.mqtt
  return {
    ok: true,
    path: c.path ?? path,
    format: c.format,
    topic: c.format === 'plain' ? c.topic : null,
    mqtt: {
      url: m.url,
      client_id: m.clientId,
      // Says where credentials come from, never what they are.
      credentials:
        c.format === 'thingsboard-device'
          ? 'per-meter access tokens (token_env)'
          : raw.mqtt?.token_env
            ? `access token from $${raw.mqtt.token_env}`
            : raw.mqtt?.password_env
              ? `username ${m.username}, password from $${raw.mqtt.password_env}`
              : m.username
                ? `username ${m.username}, no password`
                : 'none (anonymous)',
      tls: Boolean(m.ca || m.cert) || /^(mqtts|wss|ssl):/i.test(m.url),
      max_inflight: m.maxInflight,
    },
    meters: c.meters.map(x => ({
      id: x.id,
      name: x.name,
      host: x.host,
      port: x.port,
      framing: x.framing,
      auth:
        x.auth.mechanism === 'low'
          ? `LLS (password from $${x.auth.passwordEnv}), client ${x.clientAddress}`
          : x.auth.mechanism === 'hls-gmac'
            ? `HLS-GMAC (client system title ${Buffer.from(x.auth.security.systemTitle).toString('hex').toUpperCase()}, EK from ${x.auth.keysFrom.ek}, AK from ${x.auth.keysFrom.ak}, security control 0x${(x.auth.security.securityControl ?? 0x30).toString(16)}), client ${x.clientAddress}`
            : `none, client ${x.clientAddress}`,
      poll_interval_ms: x.pollIntervalMs,
      timeout_ms: x.timeoutMs,
      obis: x.obis.map(o => ({obis: o.obis, key: o.key, class: o.classId, ...(o.unit ? {unit: o.unit} : {})})),
      push: x.push
        ? [
            x.poll === false ? 'push only' : 'polled and pushing',
            x.push.systemTitle ? `system title ${x.push.systemTitle}` : null,
            x.push.logicalDeviceName ? `logical device name ${x.push.logicalDeviceName}` : null,
            x.push.keys ? `ciphered (keys configured, at least SC 0x${x.push.require.toString(16)})` : 'plain',
            x.push.objectList || Object.keys(x.push.objectLists).length ? 'object list configured' : 'object list sent by the meter or self-describing',
          ]
            .filter(Boolean)
            .join(', ')
        : null,
      // Downlink (docs/BRIDGE.md): whether RPCs may change this meter, and its ThingsBoard device profile.
      allow_write: x.allowWrite === true,
      device_type: x.deviceType ?? null,
      profiles: (x.profiles ?? []).map(p => ({
        obis: p.obis,
        every_ms: p.everyMs,
        max_rows: p.maxRows,
        backfill_ms: p.backfillMs,
        mode: p.mode,
        columns: Object.fromEntries(Object.entries(p.columns).map(([k, v]) => [k, v.key])),
      })),
    })),
    downlink: {enabled: c.downlink?.enabled === true, rpc_timeout_ms: c.downlink?.rpcTimeoutMs ?? null},
    push: c.push ? {listen: `${c.push.host.includes(':') ? `[${c.push.host}]` : c.push.host}:${c.push.port}`, framing: c.push.framing} : null,
    disabled: (raw.meters ?? []).filter(x => x.enabled === false).map(x => String(x.id)),
    outbox: {max_rows: c.outbox.maxRows, max_age_seconds: Math.round(c.outbox.maxAgeMs / 1000)},
    metrics: {interval_ms: c.metrics.intervalMs, heartbeat_ms: c.metrics.heartbeatMs, interfaces: c.metrics.interfaces ?? null},
  }
}

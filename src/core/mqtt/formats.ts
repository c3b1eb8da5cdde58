/**
 * What a reading looks like at the broker (issue 8, docs/BRIDGE.md):
 * - thingsboard-gateway: topic v1/gateway/telemetry, payload {"<meter name>":[{"ts":ms,"values":{…}}]};
 *   v1/gateway/connect {"device":"<name>","type":"<device profile>"} announces each meter when the
 *   connection comes up ("type" only when device_type is configured).
 * - thingsboard-device: topic v1/devices/me/telemetry on the meter's own connection (its token),
 *   payload {"ts":ms,"values":{…}}.
 * - plain: a topic template (`netmon/meters/{name}`), payload
 *   {"meter_id":"…","name":"…","ts":ms,"time":"ISO","values":{…}}.
 * The values arrive as the JSON text stored in the outbox and are spliced in without re-parsing.
 */
export type Format = 'thingsboard-gateway' | 'thingsboard-device' | 'plain'

export const GATEWAY_TELEMETRY = 'v1/gateway/telemetry'
export const GATEWAY_CONNECT = 'v1/gateway/connect'
export const GATEWAY_DISCONNECT = 'v1/gateway/disconnect'
export const DEVICE_TELEMETRY = 'v1/devices/me/telemetry'

export interface MeterRef {
  id: string
  name: string
}

export interface Message {
  topic: string
  payload: string
}

export function renderTopic(template: string, m: MeterRef): string {
  // A name may contain "/" or wildcards; they would change the topic's level structure: replace them.
  const safe = (s: string): string => s.replace(/[/#+\u0000]/g, '_')
  return template.replace(/\{id\}/g, safe(m.id)).replace(/\{name\}/g, safe(m.name))
}

/** `valuesJson` is a JSON object text, e.g. {"energy_kwh":12.5}. */
export function telemetryMessage(format: Format, template: string, m: MeterRef, ts: number, valuesJson: string): Message {
  switch (format) {
    case 'thingsboard-gateway':
      return {topic: GATEWAY_TELEMETRY, payload: `{${JSON.stringify(m.name)}:[{"ts":${ts},"values":${valuesJson}}]}`}
    case 'thingsboard-device':
      return {topic: DEVICE_TELEMETRY, payload: `{"ts":${ts},"values":${valuesJson}}`}
    case 'plain':
      return {
        topic: renderTopic(template, m),
        payload: `{"meter_id":${JSON.stringify(m.id)},"name":${JSON.stringify(m.name)},"ts":${ts},"time":"${new Date(ts).toISOString()}","values":${valuesJson}}`,
      }
  }
}

/** `type` is the ThingsBoard device profile (omitted: ThingsBoard uses "default"). */
export function gatewayConnectMessage(name: string, type?: string): Message {
  return {topic: GATEWAY_CONNECT, payload: JSON.stringify(type === undefined ? {device: name} : {device: name, type})}
}

export function gatewayDisconnectMessage(name: string): Message {
  return {topic: GATEWAY_DISCONNECT, payload: JSON.stringify({device: name})}
}

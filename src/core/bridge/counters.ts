/**
 * Per-meter protocol counters (the seed's NetworkMonitor application counters): DLMS frames hooked at
 * the client's transport (DlmsClientOptions.onFrame) and MQTT publishes hooked where the bridge
 * publishes. Monotonic for the life of the process; network_metrics rows store deltas.
 */
import type {DlmsFrameEvent} from '../dlms/link/types.js'

export interface CounterSnapshot {
  dlmsRequestsSent: number
  dlmsResponsesRecv: number
  dlmsBytesSent: number
  dlmsBytesRecv: number
  /** APDU bytes carried by request/response frames (control frames excluded). */
  dlmsPayloadBytes: number
  /** APDUs (requests + responses) the payload bytes belong to. */
  dlmsApdus: number
  /** Readings (telemetry PUBLISHes) only: the `mqtt_messages_sent` / `_acked` / `mqtt_bytes_sent` columns. */
  mqttMessagesSent: number
  mqttMessagesAcked: number
  mqttBytesSent: number
  /** Control messages for the meter (ThingsBoard gateway connect / disconnect announcements), counted apart. */
  mqttControlSent: number
  mqttControlBytes: number
}

export const zeroCounters = (): CounterSnapshot => ({
  dlmsRequestsSent: 0,
  dlmsResponsesRecv: 0,
  dlmsBytesSent: 0,
  dlmsBytesRecv: 0,
  dlmsPayloadBytes: 0,
  dlmsApdus: 0,
  mqttMessagesSent: 0,
  mqttMessagesAcked: 0,
  mqttBytesSent: 0,
  mqttControlSent: 0,
  mqttControlBytes: 0,
})

export class MeterCounters {
  readonly c: CounterSnapshot = zeroCounters()

  /** The DLMS counter hook: every frame sent or received on the meter's connection. */
  readonly onFrame = (ev: DlmsFrameEvent): void => {
    const c = this.c
    if (ev.direction === 'sent') {
      c.dlmsBytesSent += ev.bytes
      if (ev.kind === 'request') {
        c.dlmsPayloadBytes += ev.payloadBytes
        if (ev.apduComplete) {
          c.dlmsRequestsSent++
          c.dlmsApdus++
        }
      }
    } else {
      c.dlmsBytesRecv += ev.bytes
      if (ev.kind === 'response') {
        c.dlmsPayloadBytes += ev.payloadBytes
        if (ev.apduComplete) {
          c.dlmsResponsesRecv++
          c.dlmsApdus++
        }
      }
    }
  }

  mqttSent(bytes: number): void {
    this.c.mqttMessagesSent++
    this.c.mqttBytesSent += bytes
  }

  /** A control PUBLISH (gateway connect/disconnect): not a reading, so not in mqtt_messages_sent. */
  mqttControl(bytes: number): void {
    this.c.mqttControlSent++
    this.c.mqttControlBytes += bytes
  }

  mqttAcked(): void {
    this.c.mqttMessagesAcked++
  }

  snapshot(): CounterSnapshot {
    return {...this.c}
  }
}

export function diffCounters(now: CounterSnapshot, before: CounterSnapshot): CounterSnapshot {
  const out = zeroCounters()
  for (const k of Object.keys(out) as (keyof CounterSnapshot)[]) out[k] = now[k] - before[k]
  return out
}

/** Average APDU size over the interval (bytes, 2 decimals); 0 when nothing was exchanged. */
export const avgPayload = (d: CounterSnapshot): number => (d.dlmsApdus > 0 ? Math.round((d.dlmsPayloadBytes / d.dlmsApdus) * 100) / 100 : 0)

/** Recent latencies (ms) for p50/p99, bounded. */
export class LatencyWindow {
  private readonly buf: number[] = []
  private next = 0
  constructor(private readonly capacity = 2000) {}

  add(ms: number): void {
    if (this.buf.length < this.capacity) this.buf.push(ms)
    else {
      this.buf[this.next] = ms
      this.next = (this.next + 1) % this.capacity
    }
  }

  get count(): number {
    return this.buf.length
  }

  summary(): {count: number; p50_ms: number | null; p99_ms: number | null; max_ms: number | null} {
    if (this.buf.length === 0) return {count: 0, p50_ms: null, p99_ms: null, max_ms: null}
    const s = [...this.buf].sort((a, b) => a - b)
    const q = (p: number): number => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!
    return {count: s.length, p50_ms: q(0.5), p99_ms: q(0.99), max_ms: s[s.length - 1]!}
  }
}

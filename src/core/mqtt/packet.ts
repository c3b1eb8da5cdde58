/**
 * Size on the wire of an MQTT PUBLISH packet (MQTT 3.1.1 §3.3; what mqtt-packet serializes for
 * protocol version 4): fixed header byte + Remaining Length (1–4 byte varint) + topic (2-byte length
 * + UTF-8) + packet id (QoS > 0) + payload. The bridge counts this per message as "MQTT bytes sent"
 * (issue 8: bytes = the serialized packet size), without serializing twice.
 */
export function varintLength(n: number): number {
  if (n < 128) return 1
  if (n < 16_384) return 2
  if (n < 2_097_152) return 3
  return 4
}

export function publishPacketSize(topic: string, payloadBytes: number, qos: 0 | 1 | 2 = 1): number {
  const remaining = 2 + Buffer.byteLength(topic, 'utf8') + (qos > 0 ? 2 : 0) + payloadBytes
  return 1 + varintLength(remaining) + remaining
}

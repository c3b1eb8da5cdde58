/**
 * Capped exponential backoff with jitter, shared by the meter workers (re-association) and the MQTT
 * connection (reconnect). mqtt.js reconnects on a fixed period, which makes every bridge of a fleet
 * hammer a recovering broker in lockstep; jitter spreads them out (docs/BRIDGE.md).
 *
 * delay(n) = min(max, min · 2^(n-1)) scaled by a random factor in [0.5, 1] ("equal jitter"), so the
 * wait never collapses to 0 and never exceeds the cap.
 */
export interface BackoffPolicy {
  minMs: number
  maxMs: number
}

export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(attempt))
  // 2^(n-1) overflows to Infinity for large n; min() caps it first.
  const base = Math.min(policy.maxMs, policy.minMs * 2 ** Math.min(n - 1, 40))
  return Math.round(base * (0.5 + 0.5 * random()))
}

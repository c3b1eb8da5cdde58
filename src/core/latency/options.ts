/**
 * The options of `netmon latency`, validated as a whole before anything is probed or stored
 * (bad counts/ports/intervals → exit 2). Durations arrive already parsed to milliseconds.
 */
import {z} from 'zod'

export const LIMITS = {
  maxCount: 1_000_000,
  minIntervalMs: 1,
  maxIntervalMs: 3_600_000,
  minTimeoutMs: 1,
  maxTimeoutMs: 60_000,
} as const

export const latencyOptionsSchema = z.object({
  hosts: z.array(z.string()).min(1, 'name at least one host'),
  method: z.enum(['icmp', 'tcp', 'auto']),
  count: z.number().int('must be a whole number').min(1, 'must be at least 1').max(LIMITS.maxCount, `must be at most ${LIMITS.maxCount}`),
  /** --interval, milliseconds. */
  interval: z.number().min(LIMITS.minIntervalMs, `must be at least ${LIMITS.minIntervalMs}ms`).max(LIMITS.maxIntervalMs, 'must be at most 1h'),
  /** --timeout, milliseconds. */
  timeout: z.number().min(LIMITS.minTimeoutMs, `must be at least ${LIMITS.minTimeoutMs}ms`).max(LIMITS.maxTimeoutMs, 'must be at most 60s'),
  port: z.number().int('must be a whole number').min(1, 'must be 1-65535').max(65535, 'must be 1-65535'),
  watch: z.boolean(),
})

export type LatencyOptions = z.infer<typeof latencyOptionsSchema>

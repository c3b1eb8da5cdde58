/**
 * The options of `netmon latency`, validated as a whole before anything is probed or stored
 * (bad counts/ports/intervals → exit 2). Durations arrive already parsed to milliseconds.
 */
import {z} from 'zod'
import {DEFAULT_MAX_TARGETS, MAX_TARGETS_LIMIT} from './targets.js'

export const LIMITS = {
  maxCount: 1_000_000,
  minIntervalMs: 1,
  maxIntervalMs: 3_600_000,
  minTimeoutMs: 1,
  maxTimeoutMs: 60_000,
  /** --concurrency: hosts probed at once (each ICMP host is one `ping` process). */
  maxConcurrency: 1024,
} as const

/** The default --concurrency: as many hosts at once as the old fixed limit (256), so a /24 takes one round. */
export const DEFAULT_CONCURRENCY = 256

export const latencyOptionsSchema = z.object({
  /** HOST arguments (with `generate`: fping -g's CIDR, or START END). */
  hosts: z.array(z.string()),
  /** fping -g: the arguments are one CIDR or a START and an END address. */
  generate: z.boolean().default(false),
  /** fping -f: a file of targets, one per line; '-' = standard input. */
  file: z.string().min(1, 'give a file name, or - for standard input').optional(),
  /** The cap on targets per run (--max-targets). */
  maxTargets: z
    .number()
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(MAX_TARGETS_LIMIT, `must be at most ${MAX_TARGETS_LIMIT}`)
    .default(DEFAULT_MAX_TARGETS),
  /** Hosts probed at once (--concurrency). */
  concurrency: z
    .number()
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(LIMITS.maxConcurrency, `must be at most ${LIMITS.maxConcurrency}`)
    .default(DEFAULT_CONCURRENCY),
  method: z.enum(['icmp', 'tcp', 'auto']),
  count: z.number().int('must be a whole number').min(1, 'must be at least 1').max(LIMITS.maxCount, `must be at most ${LIMITS.maxCount}`),
  /** --interval, milliseconds. */
  interval: z.number().min(LIMITS.minIntervalMs, `must be at least ${LIMITS.minIntervalMs}ms`).max(LIMITS.maxIntervalMs, 'must be at most 1h'),
  /** --timeout, milliseconds. */
  timeout: z.number().min(LIMITS.minTimeoutMs, `must be at least ${LIMITS.minTimeoutMs}ms`).max(LIMITS.maxTimeoutMs, 'must be at most 60s'),
  port: z.number().int('must be a whole number').min(1, 'must be 1-65535').max(65535, 'must be 1-65535'),
  watch: z.boolean(),
})

/** What callers pass (defaults may be left out). */
export type LatencyInput = z.input<typeof latencyOptionsSchema>
export type LatencyOptions = z.infer<typeof latencyOptionsSchema>

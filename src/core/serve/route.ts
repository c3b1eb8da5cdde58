/**
 * One REST route of `netmon serve`: its zod input schemas (path, query, body), the documented
 * response schema, the CLI command it mirrors, and a `run` that calls the SAME core function as
 * that command (issue 10: "no logic twice"; the JSON is the command's `--json`). The table of
 * these drives the HTTP wiring (app.ts), the OpenAPI document (openapi.ts) and the tests.
 */
import {z} from 'zod'
import {tryNormalizeMac} from '../devices/mac.js'
import {ipVersion, normalizeIp} from '../devices/ip.js'
import {parseDuration, parseTime} from '../format/time.js'
import type {Logger} from '../log.js'
import type {Store} from '../store/index.js'

export type Method = 'GET' | 'POST'

export interface RouteContext {
  store: Store
  /** Aborted when the server shuts down (long measurements and scans stop early). */
  signal: AbortSignal
  log: Logger
  /** Runs `fn` after the response was sent, tracked so shutdown waits for it (background scans). */
  background: (name: string, fn: (signal: AbortSignal) => Promise<void>) => void
}

export interface RouteInput<P, Q, B> {
  params: P
  query: Q
  body: B
}

export type Capability = 'bandwidth' | 'inventory' | 'latency' | 'bridge' | 'alerts'

export interface RouteDef<P = any, Q = any, B = any> {
  method: Method
  /** OpenAPI style: /api/network/history/{mac}. */
  path: string
  operationId: string
  summary: string
  description?: string
  capability: Capability
  /** The command whose `--json` this route returns (docs, OpenAPI, tests). */
  cli: string
  params?: z.ZodType<P>
  query?: z.ZodType<Q>
  body?: z.ZodType<B>
  /** The documented response shape (OpenAPI; the tests validate real answers against it). */
  response: z.ZodType
  /** false: the capability is not wired in this build; the route answers 501 (dashboard skips it). */
  ready?: boolean
  /**
   * GET only: true when the answer depends on nothing but the store's content and the input
   * (no clock: no relative time, no ages). Such answers are reused until the store changes.
   */
  cacheable?: (input: RouteInput<P, Q, B>) => boolean
  /** Success status (default 200). */
  status?: 200 | 201 | 202
  /** When the status depends on the answer (e.g. 202 accepted vs 200 finished). */
  statusOf?: (result: unknown) => 200 | 201 | 202
  run: (ctx: RouteContext, input: RouteInput<P, Q, B>) => Promise<unknown>
}

/** Typed constructor: infers P/Q/B from the schemas. */
export function route<P = Record<string, never>, Q = Record<string, never>, B = undefined>(def: RouteDef<P, Q, B>): RouteDef<P, Q, B> {
  return def
}

// ---------- reusable input schemas (query values and path segments arrive as strings) ----------

/** A MAC in any accepted form, normalised to AA:BB:CC:DD:EE:01. */
export const mac = z
  .string()
  .trim()
  .refine(s => tryNormalizeMac(s) !== null, {message: 'malformed MAC address (use AA:BB:CC:DD:EE:01, aa-bb-cc-dd-ee-01, aabb.ccdd.ee01 or aabbccddee01)'})
  .transform(s => tryNormalizeMac(s)!)
  .meta({description: 'MAC address in any common form; normalised to AA:BB:CC:DD:EE:01', example: 'AA:BB:CC:DD:EE:01'})

export const ip = z
  .string()
  .trim()
  .refine(s => ipVersion(s) !== 0, {message: 'malformed IP address (use 192.0.2.10 or 2001:db8::10)'})
  .transform(s => normalizeIp(s))
  .meta({description: 'IPv4 or IPv6 address', example: '192.0.2.10'})

/** A query integer: "10" → 10, with the range in the message. */
export const queryInt = (min: number, max: number, description: string) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, {message: `expected a whole number ${min}-${max}`})
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(min, {message: `expected ${min}-${max}`})
        .max(max, {message: `expected ${min}-${max}`}),
    )
    .meta({description})

/** ISO-8601, epoch ms, `now`, or a duration back from now (`24h`): the CLI's --since/--until. */
export const queryTime = (description: string) =>
  z
    .string()
    .trim()
    .min(1, {message: 'empty time'})
    .transform((s, ctx) => {
      try {
        return parseTime(s, Date.now(), 'time')
      } catch (_e) {
        ctx.addIssue({code: 'custom', message: `invalid time "${s}" (use ISO-8601, epoch ms, now, or a duration back from now such as 24h)`})
        return z.NEVER
      }
    })
    .meta({description, example: '24h'})

export const bodyDuration = (description: string) =>
  z
    .union([z.number().int().positive(), z.string()])
    .transform((v, ctx) => {
      if (typeof v === 'number') return v
      try {
        return parseDuration(v, 'duration')
      } catch {
        ctx.addIssue({code: 'custom', message: `invalid duration "${v}" (use 500ms, 1s, 5m or a number of milliseconds)`})
        return z.NEVER
      }
    })
    .meta({description})

export const queryBool = (description: string) =>
  z
    .enum(['true', 'false', '1', '0', ''])
    .transform(v => v === 'true' || v === '1' || v === '')
    .meta({description})

/** Query objects reject unknown parameters: a typo (`?lmit=5`) is a 400, not a silent default. */
export const query = <T extends z.core.$ZodLooseShape>(shape: T) =>
  z.strictObject(shape, {
    error: iss => (iss.code === 'unrecognized_keys' ? `unknown parameter ${iss.keys.map(k => `"${k}"`).join(', ')} (see /openapi.json)` : undefined),
  })

/** Request bodies reject unknown fields for the same reason. */
export const body = <T extends z.core.$ZodLooseShape>(shape: T) =>
  z.strictObject(shape, {
    error: iss => (iss.code === 'unrecognized_keys' ? `unknown field ${iss.keys.map(k => `"${k}"`).join(', ')} (see /openapi.json)` : undefined),
  })

// ---------- response building blocks ----------

export const isoTime = z.string().meta({format: 'date-time'})
export const nullableIso = isoTime.nullable()
export const stampSchema = z.object({iso: isoTime, ms: z.number().int()})

/**
 * `netmon serve` options, checked completely BEFORE anything is bound (issue 10, acceptance 4):
 * a non-loopback `--host` without a token is refused with exit 2, so a misconfigured server
 * never listens on the LAN unauthenticated, not even for a moment.
 */
import {isIP} from 'node:net'
import ipaddr from 'ipaddr.js'
import {z} from 'zod'
import {invalidInput, usageError} from '../errors.js'
import {registerSecret} from '../secrets.js'
import {validate} from '../validate.js'

/** A shorter token is guessable; `openssl rand -hex 32` gives 64 characters. */
export const MIN_TOKEN_LENGTH = 16

export interface ServeOptions {
  host: string
  port: number
  /** Bearer token; when set, every route except /healthz requires it (on loopback too). */
  token: string | null
  /** Where the token came from, for the start-up line (never the token itself). */
  tokenSource: string | null
  loopback: boolean
}

/**
 * True for addresses that cannot be reached from another machine: 127.0.0.0/8, ::1, the
 * IPv4-mapped ::ffff:127.x.y.z, and the name `localhost`. Anything else (0.0.0.0, ::, a LAN
 * address, any other host name, whose resolution could change) counts as non-loopback.
 */
export function isLoopbackHost(host: string): boolean {
  let h = host.trim().toLowerCase()
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1)
  if (h === 'localhost' || h === 'localhost.') return true
  if (!ipaddr.isValid(h) || isIP(h) === 0) return false
  // process() turns ::ffff:127.0.0.1 into 127.0.0.1; range() knows 127/8 and ::1 in any spelling.
  return ipaddr.process(h).range() === 'loopback'
}

const HOST_NAME = /^(?!-)[a-z0-9-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9-]{1,63}(?<!-))*\.?$/i

export const serveFlagsSchema = z.object({
  host: z
    .string()
    .trim()
    .min(1, 'give an address or host name')
    .refine(h => isIP(h.replace(/^\[|\]$/g, '')) !== 0 || HOST_NAME.test(h), 'expected an IP address or a host name'),
  port: z.number().int('must be a whole number').min(0, 'expected 0-65535 (0 = any free port)').max(65535, 'expected 0-65535 (0 = any free port)'),
  tokenEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name such as NETMON_TOKEN')
    .optional(),
})

export type ServeFlags = z.input<typeof serveFlagsSchema>

/** Validates flags, reads the token from the named environment variable, applies the loopback rule. */
export function resolveServeOptions(flags: ServeFlags, env: NodeJS.ProcessEnv = process.env): ServeOptions {
  const f = validate(serveFlagsSchema, flags)
  const host = f.host.replace(/^\[|\]$/g, '')
  const loopback = isLoopbackHost(host)
  let token: string | null = null
  if (f.tokenEnv !== undefined) {
    const value = env[f.tokenEnv]
    if (value === undefined || value.trim() === '') {
      throw invalidInput(
        `--token-env ${f.tokenEnv}: the environment variable is not set or empty`,
        `export ${f.tokenEnv}=$(openssl rand -hex 32) before starting netmon serve`,
      )
    }
    token = value.trim()
    if (token.length < MIN_TOKEN_LENGTH) {
      throw invalidInput(
        `--token-env ${f.tokenEnv}: the token is shorter than ${MIN_TOKEN_LENGTH} characters`,
        'use a long random token, e.g. openssl rand -hex 32',
      )
    }
    registerSecret(token)
  }
  if (!loopback && token === null) {
    throw usageError(
      `refusing to listen on ${host}: it is not a loopback address and no token was given`,
      'pass --token-env VAR with a token in $VAR (clients then send "Authorization: Bearer <token>"), or bind to 127.0.0.1',
    )
  }
  return {host, port: f.port, token, tokenSource: f.tokenEnv ? `$${f.tokenEnv}` : null, loopback}
}

/**
 * NetmonError: the one error type that reaches the user.
 * Its kind decides the exit code (docs/CONVENTIONS.md): `input`/`usage` → 2, everything else → 1.
 * The message is one line saying what was wrong; `hint` says how to fix it.
 */
export type ErrorKind =
  | 'usage' // bad flags/arguments
  | 'input' // bad data (malformed MAC, negative bytes, broken NDJSON line, invalid CIDR…)
  | 'not_found' // a thing the user named does not exist (exit 1: valid input, failed lookup)
  | 'store' // the store cannot be opened/used
  | 'network' // connection refused, timeout…
  | 'protocol' // a peer spoke wrongly (malformed frame…)
  | 'internal'

const CODES: Record<ErrorKind, string> = {
  usage: 'USAGE',
  input: 'INVALID_INPUT',
  not_found: 'NOT_FOUND',
  store: 'STORE_ERROR',
  network: 'NETWORK_ERROR',
  protocol: 'PROTOCOL_ERROR',
  internal: 'INTERNAL',
}

export interface NetmonErrorOptions {
  hint?: string
  code?: string
  cause?: unknown
  exitCode?: number
}

export class NetmonError extends Error {
  readonly kind: ErrorKind
  readonly hint?: string
  readonly code: string
  readonly exitCode: number

  constructor(kind: ErrorKind, message: string, opts: NetmonErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : {cause: opts.cause})
    this.name = 'NetmonError'
    this.kind = kind
    this.hint = opts.hint
    this.code = opts.code ?? CODES[kind]
    this.exitCode = opts.exitCode ?? exitCodeFor(kind)
  }
}

export function exitCodeFor(kind: ErrorKind): number {
  return kind === 'input' || kind === 'usage' ? 2 : 1
}

export const invalidInput = (message: string, hint?: string): NetmonError => new NetmonError('input', message, {hint})
export const usageError = (message: string, hint?: string): NetmonError => new NetmonError('usage', message, {hint})
export const notFound = (message: string, hint?: string): NetmonError => new NetmonError('not_found', message, {hint})

export function isNetmonError(e: unknown): e is NetmonError {
  return e instanceof NetmonError
}

/**
 * HTTP errors of `netmon serve`: always JSON `{"error":{"code","message","hint"?}}` (issue 10), the
 * same object the CLI prints under `--json`, with a status derived from the NetmonError kind, so
 * a route reports exactly what the equivalent command would have said.
 */
import {isNetmonError} from '../errors.js'
import {redact} from '../secrets.js'

export type HttpStatus = 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 500 | 501 | 503

/** An error that already knows its HTTP status (auth, unknown route, not implemented…). */
export class HttpError extends Error {
  constructor(
    readonly status: HttpStatus,
    readonly code: string,
    message: string,
    readonly hint?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
    this.name = 'HttpError'
  }
}

export interface ErrorBody {
  error: {code: string; message: string; hint?: string}
}

/**
 * NetmonError kinds → status: bad input/usage → 400, a named thing missing → 404, everything
 * else (store, network, protocol, internal) → 500. Unknown errors become a generic 500 whose
 * details go to the server log only (they may name paths or internals).
 */
export function toHttpError(e: unknown): {status: HttpStatus; body: ErrorBody; headers: Record<string, string>; logged: boolean} {
  if (e instanceof HttpError) {
    return {status: e.status, body: body(e.code, e.message, e.hint), headers: e.headers, logged: e.status >= 500 && e.status !== 501}
  }
  if (isNetmonError(e)) {
    const status: HttpStatus = e.kind === 'input' || e.kind === 'usage' ? 400 : e.kind === 'not_found' ? 404 : 500
    return {status, body: body(e.code, e.message, e.hint), headers: {}, logged: status >= 500}
  }
  return {status: 500, body: body('INTERNAL', 'internal server error', 'the server log has the details'), headers: {}, logged: true}
}

function body(code: string, message: string, hint?: string): ErrorBody {
  return {error: {code, message: redact(message), ...(hint ? {hint: redact(hint)} : {})}}
}

export const unauthorized = (message: string): HttpError =>
  new HttpError(401, 'UNAUTHORIZED', message, 'send "Authorization: Bearer <token>" with the token the server was started with (--token-env)', {
    'WWW-Authenticate': 'Bearer realm="netmon"',
  })

export const routeNotFound = (method: string, path: string): HttpError =>
  new HttpError(404, 'NOT_FOUND', `no route ${method} ${path}`, 'GET /openapi.json lists every route')

export const methodNotAllowed = (method: string, path: string, allow: string[]): HttpError =>
  new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}`, `use ${allow.join(' or ')}`, {Allow: allow.join(', ')})

/** A route whose capability has not been built into this version of netmon yet. */
export const notImplemented = (what: string, detail: string): HttpError =>
  new HttpError(501, 'NOT_IMPLEMENTED', `${what} is not available in this build of netmon`, detail)

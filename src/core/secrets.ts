/**
 * Secret scrubbing. Anything that may carry a credential (an auth token, a URL with a password or
 * an `authToken=` query, an MQTT password) is registered here, and every path that writes text
 * for a human or a script (errors, logs, `db info`, JSON results) passes through `redact()`.
 */
const secrets = new Set<string>()

export function registerSecret(value: string | undefined | null): void {
  // Very short values would redact innocent text everywhere; tokens are long.
  if (value && value.length >= 4) secrets.add(value)
}

export const REDACTED = '***'

/** Removes userinfo passwords and token-like query parameters from a URL-ish string. */
export function redactUrl(url: string): string {
  let out = url.replace(/(\/\/[^/@\s:]*:)[^@/\s]*@/g, `$1${REDACTED}@`)
  out = out.replace(/([?&](?:authToken|auth_token|token|password|jwt)=)[^&\s]*/gi, `$1${REDACTED}`)
  return redact(out)
}

/** Replaces every registered secret (and URL credentials) in a text. */
export function redact(text: string): string {
  let out = text
  for (const s of secrets) {
    if (out.includes(s)) out = out.split(s).join(REDACTED)
  }
  return out
}

/** Deep-redacts strings inside a JSON-able value (used on results and error objects). */
export function redactDeep<T>(value: T): T {
  if (secrets.size === 0) return value
  if (typeof value === 'string') return redact(value) as T
  if (Array.isArray(value)) return value.map(v => redactDeep(v)) as T
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v)
    return out as T
  }
  return value
}

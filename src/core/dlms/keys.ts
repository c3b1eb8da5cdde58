/**
 * HLS-GMAC key material for the CLI and config files: keys come from environment variables or files only
 * (never from flags or config values), as 32 hex digits; each is registered with src/core/secrets.ts so no
 * error, log, DEBUG line or JSON result can print it. System titles are identifiers, not secrets: hex (16
 * digits) or 8 ASCII characters ("MMM00001" style titles are common).
 */
import {readFileSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {NetmonError} from '../errors.js'
import {registerSecret} from '../secrets.js'
import type {HlsGmacSecurity} from './security-context.js'

export interface KeySource {
  /** Environment variable holding the key (hex). */
  env?: string
  /** File holding the key (hex; whitespace ignored). */
  file?: string
}

export interface HlsSecuritySources {
  systemTitle: string
  meterSystemTitle?: string
  ek: KeySource
  ak: KeySource
  securityControl?: 0 | 0x10 | 0x20 | 0x30
  ciphering?: 'auto' | 'glo' | 'general-glo'
}

/** Names for --security: authenticated encryption (0x30), auth only (0x10), encryption only (0x20), none (0). */
export const SECURITY_POLICIES = {'auth-enc': 0x30, auth: 0x10, enc: 0x20, none: 0} as const
export type SecurityPolicyName = keyof typeof SECURITY_POLICIES

export function parseSystemTitle(text: string, what: string): Uint8Array {
  const t = text.trim()
  if (/^[0-9a-fA-F]{16}$/.test(t)) return new Uint8Array(Buffer.from(t, 'hex'))
  if (t.length === 8 && /^[\x20-\x7e]{8}$/.test(t)) return new Uint8Array(Buffer.from(t, 'latin1'))
  throw new NetmonError('input', `${what} must be 8 octets: 16 hex digits or 8 ASCII characters (got "${t.slice(0, 24)}")`)
}

/** Reads one 16-octet key from an env var or a file; the value is registered as a secret and never echoed. */
export async function loadKey(src: KeySource, what: string, env: NodeJS.ProcessEnv = process.env): Promise<Uint8Array> {
  if (src.env && src.file) throw new NetmonError('input', `${what}: give an environment variable or a file, not both`)
  let text: string
  let from: string
  if (src.env) {
    const v = env[src.env]
    if (v === undefined || v === '')
      throw new NetmonError('usage', `environment variable ${src.env} (${what}) is not set`, {hint: `export it with the ${what} as 32 hex digits`})
    text = v
    from = `environment variable ${src.env}`
  } else if (src.file) {
    try {
      text = await readFile(src.file, 'utf8')
    } catch (e) {
      throw new NetmonError('input', `cannot read the ${what} file ${src.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
    }
    from = `file ${src.file}`
  } else throw new NetmonError('usage', `the ${what} is missing`, {hint: 'give it through an environment variable or a file (never on the command line)'})
  return parseKeyText(text, what, from)
}

/** loadKey for synchronous callers (the bridge config is resolved synchronously); same rules, same secrecy. */
export function loadKeySync(src: KeySource, what: string, env: NodeJS.ProcessEnv = process.env): Uint8Array {
  if (src.env && src.file) throw new NetmonError('input', `${what}: give an environment variable or a file, not both`)
  if (src.env) {
    const v = env[src.env]
    if (v === undefined || v === '')
      throw new NetmonError('usage', `environment variable ${src.env} (${what}) is not set`, {hint: `export it with the ${what} as 32 hex digits`})
    return parseKeyText(v, what, `environment variable ${src.env}`)
  }
  if (src.file) {
    let text: string
    try {
      text = readFileSync(src.file, 'utf8')
    } catch (e) {
      throw new NetmonError('input', `cannot read the ${what} file ${src.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
    }
    return parseKeyText(text, what, `file ${src.file}`)
  }
  throw new NetmonError('usage', `the ${what} is missing`, {hint: 'give it through an environment variable or a file (never in the config)'})
}

/** Registers the key text as a secret (every spelling), then checks it is 32 hex digits. */
function parseKeyText(text: string, what: string, from: string): Uint8Array {
  const clean = text.trim().replace(/[\s:]/g, '')
  registerSecret(text.trim())
  registerSecret(clean)
  registerSecret(clean.toLowerCase())
  registerSecret(clean.toUpperCase())
  if (!/^[0-9a-fA-F]{32}$/.test(clean))
    throw new NetmonError('input', `the ${what} in ${from} must be 16 octets as 32 hex digits (got ${clean.length} characters; value not shown)`)
  return new Uint8Array(Buffer.from(clean, 'hex'))
}

export async function loadHlsSecurity(src: HlsSecuritySources, env: NodeJS.ProcessEnv = process.env): Promise<HlsGmacSecurity> {
  const ek = await loadKey(src.ek, 'encryption key', env)
  const ak = await loadKey(src.ak, 'authentication key', env)
  return {
    level: 'hls-gmac',
    systemTitle: parseSystemTitle(src.systemTitle, 'the client system title'),
    ...(src.meterSystemTitle ? {peerSystemTitle: parseSystemTitle(src.meterSystemTitle, 'the meter system title')} : {}),
    ek,
    ak,
    securityControl: src.securityControl ?? 0x30,
    ciphering: src.ciphering ?? 'auto',
  }
}

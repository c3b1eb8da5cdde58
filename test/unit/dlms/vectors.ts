/** Loads the interop vectors copied into test/vectors/dlms (see its README.md for provenance). */
import {readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'

export const VECTOR_DIR = join(import.meta.dirname, '..', '..', 'vectors', 'dlms')

export interface SessionStep {
  dir: 'c2s' | 's2c'
  hex: string
  meaning: string
}

export interface SessionVector {
  name: string
  description: string
  framing: 'wrapper' | 'hdlc'
  client_address: number
  server_address: number
  server_logical?: number
  server_physical?: number
  steps: SessionStep[]
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  decoded: any
  password_sent?: string
}

export function loadVector<T = any>(name: string): T {
  return JSON.parse(readFileSync(join(VECTOR_DIR, `${name}.json`), 'utf8')) as T
}

export function sessionVectors(): SessionVector[] {
  return readdirSync(VECTOR_DIR)
    .filter(f => /^(wrapper|hdlc)-.*\.json$/.test(f))
    .sort()
    .map(f => ({name: f.replace(/\.json$/, ''), ...(JSON.parse(readFileSync(join(VECTOR_DIR, f), 'utf8')) as Omit<SessionVector, 'name'>)}))
}

export const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

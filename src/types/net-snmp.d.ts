// The part of net-snmp (pure-JS SNMP v1/v2c/v3) that src/core/collect/snmp.ts uses; the package ships no types.
declare module 'net-snmp' {
  export interface Varbind {
    oid: string
    type: number
    value: unknown
  }
  export interface SessionOptions {
    port?: number
    retries?: number
    timeout?: number
    backoff?: number
    transport?: 'udp4' | 'udp6'
    version?: number
    idBitsSize?: 16 | 32
  }
  export interface User {
    name: string
    level: number
    authProtocol?: number
    authKey?: string
    privProtocol?: number
    privKey?: string
  }
  export interface Session {
    get(oids: string[], cb: (error: Error | null, varbinds: Varbind[]) => void): void
    subtree(oid: string, maxRepetitions: number, feed: (varbinds: Varbind[]) => boolean | undefined, done: (error: Error | null) => void): void
    close(): void
    on(event: 'error', cb: (e: Error) => void): void
    on(event: 'close', cb: () => void): void
  }
  export function createSession(target: string, community: string, options?: SessionOptions): Session
  export function createV3Session(target: string, user: User, options?: SessionOptions): Session
  export function isVarbindError(v: Varbind): boolean
  export function varbindError(v: Varbind): string
  export const Version2c: number
  export const Version3: number
  export const SecurityLevel: {noAuthNoPriv: number; authNoPriv: number; authPriv: number}
  export const AuthProtocols: Record<'md5' | 'sha' | 'sha224' | 'sha256' | 'sha384' | 'sha512', number>
  export const PrivProtocols: Record<'des' | 'aes' | 'aes256b' | 'aes256r', number>
  export const ObjectType: Record<string, number>
  export const ResponseInvalidCode: Record<string, number>
  const snmp: {
    createSession: typeof createSession
    createV3Session: typeof createV3Session
    isVarbindError: typeof isVarbindError
    varbindError: typeof varbindError
    Version2c: number
    Version3: number
    SecurityLevel: typeof SecurityLevel
    AuthProtocols: typeof AuthProtocols
    PrivProtocols: typeof PrivProtocols
    ObjectType: typeof ObjectType
    ResponseInvalidCode: typeof ResponseInvalidCode
  }
  export default snmp
}

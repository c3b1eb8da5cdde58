/** The four whole HLS-GMAC associations of codec-security.json, as session steps plus the fixed inputs. */
import type {HlsGmacSecurity} from '../../../src/core/dlms/security-context.js'
import {hex, loadVector, type SessionVector} from './vectors.js'

type Any = any

export interface HlsSession extends SessionVector {
  fixed: Any
  raw: Any
}

export const SECURITY_VECTORS: Any = loadVector('codec-security')

export function hlsSessions(): HlsSession[] {
  return (SECURITY_VECTORS.sessions as Any[]).map(s => ({
    name: s.name,
    description: s.description,
    framing: s.framing,
    client_address: s.client_address,
    server_address: s.server_address,
    steps: (s.steps as Any[]).map(st => ({dir: st.dir, hex: st.wrapper_frame, meaning: st.meaning})),
    decoded: undefined,
    fixed: s.fixed_inputs,
    raw: s,
  }))
}

const ic = (h: string): number => Number.parseInt(h, 16)

/** The client's security settings of a session (its fixed challenge and first counter). */
export function clientSecurity(s: HlsSession): HlsGmacSecurity {
  const f = s.fixed
  return {
    level: 'hls-gmac',
    systemTitle: hex(f.client_system_title),
    ek: hex(f.block_cipher_key),
    ak: hex(f.authentication_key),
    securityControl: f.security_control_for_apdus === null ? 0 : (ic(f.security_control_for_apdus) as 0x30),
    peerSystemTitle: hex(f.server_system_title),
    invocationCounter: ic(f.client_first_ic),
    challenge: () => hex(f.ctos),
  }
}

/** The meter's security settings of a session. */
export function serverSecurity(s: HlsSession): HlsGmacSecurity {
  const f = s.fixed
  return {
    level: 'hls-gmac',
    systemTitle: hex(f.server_system_title),
    ek: hex(f.block_cipher_key),
    ak: hex(f.authentication_key),
    securityControl: f.security_control_for_apdus === null ? 0 : (ic(f.security_control_for_apdus) as 0x30),
    invocationCounter: ic(f.server_first_ic),
    challenge: () => hex(f.stoc),
  }
}

/** Conformance the recorded AARE granted (from its InitiateResponse plaintext). */
export function grantedConformance(s: HlsSession): number {
  const ui = s.raw.steps[1].user_information
  const plain: string = ui.plaintext_apdu ?? ui.hex
  return Number.parseInt(plain.slice(14, 20), 16)
}

/**
 * Faults the simulator can inject, per meter, to exercise a client's (and the bridge's) resilience.
 * Set them at start (options / CLI --fault), at run time (Simulator.setFault), or for the CLI by editing
 * the config file and sending SIGHUP (docs/DLMS.md).
 */
import {NetmonError} from '../../errors.js'

export type Fault =
  /** Close the TCP connection instead of answering the next request. */
  | {type: 'drop'; once?: boolean}
  /** Answer every request `ms` late. */
  | {type: 'delay'; ms: number; once?: boolean}
  /** Damage the next answer frame (HDLC: FCS; wrapper: header version) so the client sees a malformed frame. */
  | {type: 'corrupt'; once?: boolean}
  /** Reject every association (AARE rejected-permanent, authentication-failure), whatever the password. */
  | {type: 'reject-password'; once?: boolean}
  /** Never answer requests (the client times out). */
  | {type: 'silent'; once?: boolean}
  /** Send only the first half of the answer frame: a frame that never completes. */
  | {type: 'truncate'; once?: boolean}

export const FAULT_TYPES = ['drop', 'delay', 'corrupt', 'reject-password', 'silent', 'truncate'] as const

/**
 * Text form used by the CLI and config files: `drop`, `delay:1500`, `corrupt`, `reject-password`, `silent`,
 * `truncate`, `none`; append `:once` to clear the fault after it fired once (`corrupt:once`, `delay:800:once`).
 */
export function parseFault(text: string): Fault | null {
  const parts = text.trim().toLowerCase().split(':')
  const once = parts.at(-1) === 'once'
  if (once) parts.pop()
  const [type, arg] = parts
  const bad = (): never => {
    throw new NetmonError('usage', `invalid fault "${text}"`, {hint: `use one of none, ${FAULT_TYPES.join(', ')} (delay:<ms>), optionally followed by :once`})
  }
  switch (type) {
    case 'none':
    case 'off':
      return null
    case 'delay': {
      const ms = Number(arg)
      if (!Number.isInteger(ms) || ms < 0 || ms > 600_000) bad()
      return once ? {type, ms, once} : {type, ms}
    }
    case 'drop':
    case 'corrupt':
    case 'reject-password':
    case 'silent':
    case 'truncate':
      if (arg !== undefined) bad()
      return once ? {type, once} : {type}
    default:
      return bad()
  }
}

export function formatFault(f: Fault | null): string {
  if (!f) return 'none'
  return `${f.type}${f.type === 'delay' ? `:${f.ms}` : ''}${f.once ? ':once' : ''}`
}

/**
 * Faults the simulator can inject, per meter, to exercise a client's (and the bridge's) resilience.
 * Set them at start (options / CLI --fault), at run time (Simulator.setFault), or for the CLI by editing
 * the config file and sending SIGHUP (docs/DLMS.md).
 */
import {NetmonError} from '../../errors.js'
import {formatObis, parseObis} from '../codec/obis.js'

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
  /**
   * Answer attribute 2 of one object (by OBIS) with a value that does not decode (an unknown A-XDR tag,
   * 0xff) inside an otherwise well-formed frame and APDU; the other objects are answered normally.
   */
  | {type: 'bad-value'; obis: string; once?: boolean}

export const FAULT_TYPES = ['drop', 'delay', 'corrupt', 'reject-password', 'silent', 'truncate', 'bad-value'] as const

/**
 * Text form used by the CLI and config files: `drop`, `delay:1500`, `corrupt`, `reject-password`, `silent`,
 * `truncate`, `bad-value:<OBIS>` (e.g. `bad-value:1.0.32.7.0.255`), `none`; append `:once` to clear the fault after it fired once (`corrupt:once`, `delay:800:once`).
 */
export function parseFault(text: string): Fault | null {
  const parts = text.trim().toLowerCase().split(':')
  const once = parts.at(-1) === 'once'
  if (once) parts.pop()
  const [type, arg] = parts
  const bad = (): never => {
    throw new NetmonError('usage', `invalid fault "${text}"`, {
      hint: `use one of none, ${FAULT_TYPES.join(', ')} (delay:<ms>, bad-value:<OBIS>), optionally followed by :once`,
    })
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
    case 'bad-value': {
      let obis: string
      try {
        obis = formatObis(parseObis(parts.slice(1).join(':'))) // the IEC form (1-0:32.7.0*255) has a ':' of its own
      } catch {
        return bad()
      }
      return once ? {type, obis, once} : {type, obis}
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
  return `${f.type}${f.type === 'delay' ? `:${f.ms}` : f.type === 'bad-value' ? `:${f.obis}` : ''}${f.once ? ':once' : ''}`
}

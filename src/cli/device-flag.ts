/**
 * `--device` (a MAC, IP, hostname or promoted name: core/devices/resolve.ts) on every command that
 * takes one device, and `--mac`, the flag those commands had first, kept as an alias of it: the
 * same rule, so `--mac laptop` works too and old scripts keep working (docs/SCAN.md "Naming a device").
 */
import {Flags} from '@oclif/core'

export const DEVICE_HELP = 'MAC, IP, hostname or promoted name'

export function deviceFlags(what: string, opts: {exclusive?: string[]; required?: boolean} = {}) {
  const exclusive = opts.exclusive ?? []
  return {
    device: Flags.string({description: `${what}: ${DEVICE_HELP}`, helpValue: 'DEVICE', exclusive: ['mac', ...exclusive]}),
    mac: Flags.string({
      description: 'Alias of --device (the older spelling; takes the same MAC, IP or name)',
      helpValue: 'DEVICE',
      exclusive: ['device', ...exclusive],
    }),
  }
}

/** The device the user named with either flag. */
export const pickDevice = (flags: {device?: string; mac?: string}): string | undefined => flags.device ?? flags.mac

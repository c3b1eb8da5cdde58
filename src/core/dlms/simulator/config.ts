/**
 * Simulator config file (YAML or JSON) for `netmon meters simulate --config FILE`:
 *
 *   port: 4061
 *   framing: hdlc          # wrapper | hdlc
 *   meters: 3
 *   password_env: METER_PW # LLS password of client 17 from this env variable (default 12345678)
 *   max_pdu: 512
 *   hdlc_max_info: 128
 *   profile_rows: 96
 *   preset: default        # default | gurux
 *   hls:                   # HLS-GMAC for client 1 (keys from env vars / files only)
 *     system_title: 4D4D4D0000BC614E
 *     ek_env: METER_EK       # or ek_file: /path
 *     ak_file: /etc/netmon/meter.ak
 *     security: auth-enc     # auth-enc | auth | enc | none
 *   push:                  # push mode: DataNotifications to a push listener (loopback only)
 *     to: 127.0.0.1:4059
 *     every: 10s
 *     object_list: sent      # sent | omitted (the receiver must be configured with it)
 *     ciphered: true         # with hls keys: general-glo-ciphering (default true)
 *   faults:                # by meter index, or "all"; see faults.ts for the syntax
 *     0: delay:1500
 *     2: corrupt:once
 *
 * On SIGHUP the CLI re-reads `faults` from the file and applies them (the other keys need a restart).
 */
import {readFile} from 'node:fs/promises'
import {parse as parseYaml} from 'yaml'
import {z} from 'zod'
import {NetmonError} from '../../errors.js'
import {validate} from '../../validate.js'
import {parseFault, type Fault} from './faults.js'

const schema = z
  .object({
    port: z.number().int().min(0).max(65535).optional(),
    framing: z.enum(['wrapper', 'hdlc']).optional(),
    meters: z.number().int().min(1).max(1000).optional(),
    password_env: z.string().min(1).optional(),
    max_pdu: z.number().int().min(64).max(65535).optional(),
    hdlc_max_info: z.number().int().min(32).max(2030).optional(),
    profile_rows: z.number().int().min(0).max(100_000).optional(),
    preset: z.enum(['default', 'gurux']).optional(),
    faults: z.record(z.string(), z.string().nullable()).optional(),
    push: z
      .object({
        to: z.string().min(1),
        every: z.union([z.string().min(1), z.number().positive()]).optional(),
        object_list: z.enum(['sent', 'omitted']).optional(),
        ciphered: z.boolean().optional(),
      })
      .strict()
      .optional(),
    hls: z
      .object({
        system_title: z.string().min(1).optional(),
        ek_env: z.string().min(1).optional(),
        ek_file: z.string().min(1).optional(),
        ak_env: z.string().min(1).optional(),
        ak_file: z.string().min(1).optional(),
        security: z.enum(['auth-enc', 'auth', 'enc', 'none']).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()

export type SimulatorConfig = z.infer<typeof schema>

export async function loadSimulatorConfig(file: string): Promise<SimulatorConfig> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (e) {
    throw new NetmonError('input', `cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  let data: unknown
  try {
    data = parseYaml(text)
  } catch (e) {
    throw new NetmonError('input', `config file ${file} is not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}`)
  }
  return validate(schema, data ?? {}, `config ${file}`)
}

/** `{0: "drop", all: "delay:100"}` → fault per meter index (null = none). */
export function faultsFromConfig(faults: Record<string, string | null> | undefined, meters: number): Array<Fault | null> | undefined {
  if (!faults) return undefined
  const out: Array<Fault | null> = Array.from({length: meters}, () => null)
  // "all" first, so that per-meter entries override it whatever the key order
  const entries = Object.entries(faults).sort(([a], [b]) => Number(!(a === 'all' || a === '*')) - Number(!(b === 'all' || b === '*')))
  for (const [key, spec] of entries) {
    const f = spec === null ? null : parseFault(spec)
    if (key === 'all' || key === '*') out.fill(f)
    else {
      const i = Number(key)
      if (!Number.isInteger(i) || i < 0 || i >= meters) throw new NetmonError('input', `faults: no meter "${key}" (0..${meters - 1} or "all")`)
      out[i] = f
    }
  }
  return out
}

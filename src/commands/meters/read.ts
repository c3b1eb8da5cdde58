import {Args, Flags} from '@oclif/core'
import {createInterface} from 'node:readline'
import {Writable} from 'node:stream'
import {z} from 'zod'
import {NetmonCommand} from '../../cli/base.js'
import {renderTable} from '../../cli/table.js'
import {readMeter, parseTarget, DEFAULT_TARGETS, type MeterReadResult, type MeterReading} from '../../core/dlms/read.js'
import {NetmonError, invalidInput} from '../../core/errors.js'
import {parseDuration} from '../../core/format/time.js'
import {registerSecret} from '../../core/secrets.js'

const schema = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  framing: z.enum(['wrapper', 'hdlc']),
  clientAddress: z.number().int().min(0).max(0xffff),
  serverAddress: z.number().int().min(0).max(0x3fff),
  physicalAddress: z.number().int().min(0).max(0x3fff).optional(),
  addressSize: z.union([z.literal(1), z.literal(2), z.literal(4)]).optional(),
  auth: z.enum(['none', 'low']),
  timeoutMs: z.number().int().min(1).max(600_000),
})

/** Reads a password without echo from the terminal. */
function promptPassword(question: string): Promise<string> {
  return new Promise(resolve => {
    let muted = false
    const out = new Writable({
      write(chunk, _enc, cb) {
        if (!muted) process.stderr.write(chunk)
        cb()
      },
    })
    const rl = createInterface({input: process.stdin, output: out, terminal: true})
    rl.question(question, answer => {
      rl.close()
      process.stderr.write('\n')
      resolve(answer)
    })
    muted = true
  })
}

export default class MetersRead extends NetmonCommand {
  static override summary = 'Read values from a DLMS/COSEM meter (registers with scaler and unit, clock, profiles, data)'
  static override description =
    `Connects over TCP (IEC 62056-47 wrapper or HDLC), associates (no authentication, or LLS with a password), reads each OBIS code and releases.
OBIS codes are written 1.0.1.8.0.255 or 1-0:1.8.0*255; the class is guessed (clock, profile, register, data) unless given as a suffix, e.g. 1.0.1.6.0.255:4 for an extended register.
Without OBIS codes: clock, active energy, voltage, current and power.
The LLS password is read from the environment variable named by --password-env, or prompted on a terminal; never from a flag.`
  static override examples = [
    '<%= config.bin %> meters read --host 127.0.0.1 --port 4061',
    '<%= config.bin %> meters read --host 127.0.0.1 --port 4061 --framing hdlc 1.0.1.8.0.255 0.0.1.0.0.255',
    'METER_PW=12345678 <%= config.bin %> meters read --host 127.0.0.1 --port 4061 --auth low --password-env METER_PW 1-0:32.7.0*255 --json',
  ]
  static override strict = false
  static override args = {obis: Args.string({description: 'OBIS codes to read (optionally :class)', required: false})}
  static override flags = {
    host: Flags.string({description: 'Meter (or TCP gateway) address', required: true}),
    port: Flags.integer({description: 'TCP port (4059 is the DLMS default)', default: 4059}),
    framing: Flags.string({description: 'Framing over TCP', options: ['wrapper', 'hdlc'], default: 'wrapper'}),
    'client-address': Flags.integer({description: 'Client SAP (default 16 with --auth none, 17 with --auth low)'}),
    'server-address': Flags.integer({description: 'Server logical device address', default: 1}),
    'physical-address': Flags.integer({description: 'HDLC physical device address (lower HDLC address)'}),
    'address-size': Flags.string({
      description: 'HDLC server address size in bytes (default: the smallest that fits; some meters want 4 even for small addresses)',
      options: ['1', '2', '4'],
    }),
    auth: Flags.string({description: 'Authentication: none, or low (LLS password)', options: ['none', 'low'], default: 'none'}),
    'password-env': Flags.string({description: 'Environment variable holding the LLS password', helpValue: 'VAR'}),
    timeout: Flags.string({description: 'Timeout per answer (e.g. 5s, 1500ms)', default: '5s'}),
    from: Flags.string({description: 'Profiles: only rows from this time (ISO 8601 with offset)'}),
    to: Flags.string({description: 'Profiles: only rows up to this time (ISO 8601 with offset)'}),
  }

  async run(): Promise<MeterReadResult> {
    const {flags, argv} = await this.parse(MetersRead)
    const opts = this.check(
      schema,
      {
        host: flags.host,
        port: flags.port,
        framing: flags.framing,
        clientAddress: flags['client-address'] ?? (flags.auth === 'low' ? 17 : 16),
        serverAddress: flags['server-address'],
        physicalAddress: flags['physical-address'],
        addressSize: flags['address-size'] === undefined ? undefined : Number(flags['address-size']),
        auth: flags.auth,
        timeoutMs: parseDuration(flags.timeout, '--timeout'),
      },
      'meters read',
    )
    if (opts.addressSize !== undefined && opts.framing !== 'hdlc') throw invalidInput('--address-size applies to --framing hdlc only')
    if (opts.addressSize === 1 && opts.serverAddress > 0x7f)
      throw invalidInput('a 1-byte HDLC address holds server addresses up to 127', 'use --address-size 2 or 4')
    if (opts.addressSize === 1 && opts.physicalAddress !== undefined)
      throw invalidInput('a 1-byte HDLC address has no physical part', 'use --address-size 2 or 4, or drop --physical-address')
    if (opts.addressSize === 2 && (opts.serverAddress > 0x7f || (opts.physicalAddress ?? 0) > 0x7f))
      throw invalidInput('a 2-byte HDLC address holds addresses up to 127', 'use --address-size 4')
    const targets = argv.length > 0 ? (argv as string[]).map(parseTarget) : DEFAULT_TARGETS
    let password: string | undefined
    if (opts.auth === 'low') {
      if (flags['password-env']) {
        password = process.env[flags['password-env']]
        if (password === undefined || password === '')
          throw new NetmonError('usage', `environment variable ${flags['password-env']} is not set`, {hint: 'export it with the meter password'})
      } else if (process.stdin.isTTY) password = await promptPassword('LLS password: ')
      else throw new NetmonError('usage', '--auth low needs a password', {hint: 'pass --password-env VAR (or run in a terminal to be prompted)'})
      registerSecret(password)
    }
    const result = await readMeter(
      {
        host: opts.host,
        port: opts.port,
        framing: opts.framing,
        clientAddress: opts.clientAddress,
        serverAddress: opts.serverAddress,
        physicalAddress: opts.physicalAddress,
        ...(opts.addressSize !== undefined ? {addressSize: opts.addressSize} : {}),
        auth: opts.auth === 'low' ? {mechanism: 'low', password: password!} : {mechanism: 'none'},
        timeoutMs: opts.timeoutMs,
        profileFrom: flags.from,
        profileTo: flags.to,
      },
      targets,
    )
    this.render(result)
    const failed = result.readings.filter(r => !r.ok)
    if (failed.length > 0) {
      if (!this.jsonEnabled()) for (const f of failed) this.note(`Error: ${f.error!.message}`)
      process.exitCode = 1
    }
    return result
  }

  private render(r: MeterReadResult): void {
    const value = (x: MeterReading): string => {
      if (!x.ok) return `error: ${x.error!.message.replace(/^.*?: /, '')}`
      if (x.kind === 'profile') return `${x.value} rows`
      if (x.value === null || x.value === undefined) return ''
      return typeof x.value === 'object' ? JSON.stringify(x.value) : String(x.value)
    }
    this.out(
      renderTable(
        ['obis', 'name', 'class', 'value', 'unit', 'scaler', 'raw'],
        r.readings.map(x => [
          x.obis,
          x.name ?? '',
          x.class_id,
          value(x),
          x.unit ?? '',
          x.scaler ?? '',
          x.ok && (x.kind === 'register' || x.kind === 'extended-register') ? String(x.raw) : '',
        ]),
      ),
    )
    for (const p of r.readings.filter(x => x.kind === 'profile' && x.ok && x.rows && x.rows.length > 0))
      this.out(
        `${p.obis}\n` +
          renderTable(
            p.columns!,
            p.rows!.map(row => row.map(c => (c === null ? '' : typeof c === 'object' ? JSON.stringify(c) : String(c)))),
          ),
      )
  }
}

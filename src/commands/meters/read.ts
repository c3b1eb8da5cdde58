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
import {loadHlsSecurity, SECURITY_POLICIES, type SecurityPolicyName} from '../../core/dlms/keys.js'
import {InvocationCounterStore} from '../../core/dlms/counters.js'
import type {HlsGmacSecurity} from '../../core/dlms/security-context.js'

const schema = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  framing: z.enum(['wrapper', 'hdlc']),
  clientAddress: z.number().int().min(0).max(0xffff),
  serverAddress: z.number().int().min(0).max(0x3fff),
  physicalAddress: z.number().int().min(0).max(0x3fff).optional(),
  addressSize: z.union([z.literal(1), z.literal(2), z.literal(4)]).optional(),
  auth: z.enum(['none', 'low', 'hls-gmac']),
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
The LLS password is read from the environment variable named by --password-env, or prompted on a terminal; never from a flag.
HLS-GMAC (--auth hls-gmac, security suite 0): --system-title is the client's; the encryption and authentication keys come from environment variables (--ek-env, --ak-env) or files (--ek-file, --ak-file) as 32 hex digits, never from flags; the client invocation counter is kept in the store per meter (reserved ahead, so a restart never reuses one) unless --invocation-counter is given.`
  static override examples = [
    '<%= config.bin %> meters read --host 127.0.0.1 --port 4061',
    '<%= config.bin %> meters read --host 127.0.0.1 --port 4061 --framing hdlc 1.0.1.8.0.255 0.0.1.0.0.255',
    'METER_PW=12345678 <%= config.bin %> meters read --host 127.0.0.1 --port 4061 --auth low --password-env METER_PW 1-0:32.7.0*255 --json',
    '<%= config.bin %> meters read --host 127.0.0.1 --port 4061 --auth hls-gmac --system-title 4D4D4D0000000001 --ek-env METER_EK --ak-file /etc/netmon/meter.ak',
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
    auth: Flags.string({
      description: 'Authentication: none, low (LLS password) or hls-gmac (HLS mechanism 5, AES-GCM-128)',
      options: ['none', 'low', 'hls-gmac'],
      default: 'none',
    }),
    'password-env': Flags.string({description: 'Environment variable holding the LLS password', helpValue: 'VAR'}),
    'system-title': Flags.string({description: 'HLS: client system title (16 hex digits or 8 ASCII characters)'}),
    'meter-system-title': Flags.string({description: 'HLS: expected meter system title (refused if the AARE says otherwise)'}),
    'ek-env': Flags.string({description: 'HLS: environment variable holding the global encryption key (hex)', helpValue: 'VAR'}),
    'ek-file': Flags.string({description: 'HLS: file holding the global encryption key (hex)', helpValue: 'FILE'}),
    'ak-env': Flags.string({description: 'HLS: environment variable holding the authentication key (hex)', helpValue: 'VAR'}),
    'ak-file': Flags.string({description: 'HLS: file holding the authentication key (hex)', helpValue: 'FILE'}),
    security: Flags.string({
      description: 'HLS: APDU protection: auth-enc (0x30), auth (0x10), enc (0x20), none (HLS authentication only)',
      options: Object.keys(SECURITY_POLICIES),
      default: 'auth-enc',
    }),
    ciphering: Flags.string({description: 'HLS: protected APDU form', options: ['auto', 'glo', 'general-glo'], default: 'auto'}),
    'invocation-counter': Flags.integer({description: 'HLS: first invocation counter to send (default: the one kept in the store for this meter)'}),
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
        clientAddress: flags['client-address'] ?? (flags.auth === 'low' ? 17 : flags.auth === 'hls-gmac' ? 1 : 16),
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
    let security: HlsGmacSecurity | undefined
    let counters: {store: InvocationCounterStore; meter: string} | undefined
    if (opts.auth === 'hls-gmac') {
      if (!flags['system-title']) throw invalidInput('--auth hls-gmac needs --system-title (the client system title)')
      security = await loadHlsSecurity({
        systemTitle: flags['system-title'],
        meterSystemTitle: flags['meter-system-title'],
        ek: {env: flags['ek-env'], file: flags['ek-file']},
        ak: {env: flags['ak-env'], file: flags['ak-file']},
        securityControl: SECURITY_POLICIES[flags.security as SecurityPolicyName],
        ciphering: flags.ciphering as 'auto' | 'glo' | 'general-glo',
      })
      if (flags['invocation-counter'] !== undefined) {
        if (flags['invocation-counter'] < 0 || flags['invocation-counter'] > 0xffffffff) throw invalidInput('--invocation-counter must be 0..4294967295')
        security.invocationCounter = flags['invocation-counter']
      } else counters = {store: new InvocationCounterStore(await this.openStore(flags.db)), meter: `${opts.host}:${opts.port}/${opts.serverAddress}`}
    } else if (flags['system-title'] || flags['ek-env'] || flags['ek-file'] || flags['ak-env'] || flags['ak-file'])
      throw invalidInput('--system-title and the key flags apply to --auth hls-gmac only')
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
        ...(security ? {security} : {}),
        ...(counters ? {counters} : {}),
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

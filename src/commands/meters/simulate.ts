import {Flags} from '@oclif/core'
import {z} from 'zod'
import {NetmonCommand} from '../../cli/base.js'
import {startSimulator, type Simulator, type SimulatorEvent} from '../../core/dlms/simulator/server.js'
import {faultsFromConfig, loadSimulatorConfig, type SimulatorConfig} from '../../core/dlms/simulator/config.js'
import {formatFault, parseFault, type Fault} from '../../core/dlms/simulator/faults.js'
import {NetmonError} from '../../core/errors.js'
import {parseDuration} from '../../core/format/time.js'
import {registerSecret} from '../../core/secrets.js'
import {loadKey, parseSystemTitle, SECURITY_POLICIES, type SecurityPolicyName} from '../../core/dlms/keys.js'
import type {SimulatorSecurity} from '../../core/dlms/simulator/server.js'
import type {SimulatorPushOptions} from '../../core/dlms/simulator/push.js'

const schema = z.object({
  port: z.number().int().min(0).max(65535),
  framing: z.enum(['wrapper', 'hdlc']),
  meters: z.number().int().min(1).max(1000),
  maxPdu: z.number().int().min(64).max(65535),
  hdlcMaxInfo: z.number().int().min(32).max(2030),
  profileRows: z.number().int().min(0).max(100_000),
  preset: z.enum(['default', 'gurux']),
})

const describeEvent = (e: SimulatorEvent): string => {
  switch (e.type) {
    case 'listening':
      return `meter ${e.meter} listening on port ${e.port}`
    case 'connection':
      return `meter ${e.meter}: connection from ${e.remote}`
    case 'disconnect':
      return `meter ${e.meter}: disconnected`
    case 'associated':
      return `meter ${e.meter}: client ${e.clientAddress} associated (${e.mechanism === 'low' ? 'LLS' : e.mechanism === 'high-gmac' ? 'HLS-GMAC' : 'no authentication'})`
    case 'rejected':
      return `meter ${e.meter}: client ${e.clientAddress} rejected (diagnostic ${e.diagnostic})`
    case 'fault':
      return `meter ${e.meter}: fault ${e.fault}`
    case 'error':
      return `meter ${e.meter}: ${e.message}`
  }
}

export default class MetersSimulate extends NetmonCommand {
  static override summary = 'Run simulated DLMS/COSEM meters on loopback (for tests, demos and users without a meter)'
  static override description =
    `Each meter is a COSEM server on 127.0.0.1 (consecutive ports from --port; --port 0 lets the OS pick) answering association with no authentication (client 16) or LLS (client 17, password 12345678 unless --password-env), GET normal, with-list and block transfer, SET of the clock.
Objects: clock 0.0.1.0.0.255, energy 1.0.1.8.0.255, voltage 1.0.32.7.0.255, current 1.0.31.7.0.255, power 1.0.1.7.0.255, frequency 1.0.14.7.0.255, max demand 1.0.1.6.0.255 (class 4), serial 0.0.96.1.0.255, load profile 1.0.99.1.0.255, and more (docs/DLMS.md).
Faults: --fault [METER=]SPEC with SPEC one of drop, delay:<ms>, corrupt, reject-password, silent, truncate, bad-value:<OBIS> (append :once to fire once). With --config FILE, SIGHUP re-reads the file's faults.
Push mode (--push HOST:PORT, --push-every S): every meter connects to a push listener on loopback (e.g. the bridge's push.listen) and sends DataNotifications of its periodic push setup 0.0.25.9.0.255 (logical device name, clock, registers); with --hls they are ciphered with the meter's keys (general-glo-ciphering).
HLS-GMAC (--hls): client 1 must then associate with HLS mechanism 5 and security suite 0; meter i has --system-title plus i; keys from --ek-env/--ek-file and --ak-env/--ak-file (32 hex digits), never from flags.
Runs until interrupted (or for --duration). With --json, prints NDJSON events: first {"event":"listening",…}.`
  static override examples = [
    '<%= config.bin %> meters simulate --port 4061',
    '<%= config.bin %> meters simulate --framing hdlc --meters 3 --port 4061 --fault 1=delay:2000',
    '<%= config.bin %> meters simulate --config sim.yaml --json',
    '<%= config.bin %> meters simulate --meters 3 --push 127.0.0.1:4059 --push-every 10s',
  ]
  static override flags = {
    port: Flags.integer({description: 'First TCP port (meter i listens on port + i); 0 = any free port', default: 4061}),
    framing: Flags.string({description: 'Framing over TCP', options: ['wrapper', 'hdlc']}),
    meters: Flags.integer({description: 'Number of meters'}),
    config: Flags.string({description: 'YAML/JSON config file (flags override it)', helpValue: 'FILE'}),
    'password-env': Flags.string({description: 'Environment variable holding the LLS password of client 17 (default password 12345678)', helpValue: 'VAR'}),
    fault: Flags.string({description: 'Inject a fault: [METER=]SPEC, repeatable (no METER = every meter)', multiple: true}),
    'max-pdu': Flags.integer({description: 'Server max PDU size (block transfer beyond it)'}),
    'hdlc-max-info': Flags.integer({description: 'HDLC max information field length (segmentation beyond it)'}),
    'profile-rows': Flags.integer({description: 'Rows in the load profile'}),
    preset: Flags.string({description: 'default (changing values) or gurux (the fixed values of the recorded Gurux meter)', options: ['default', 'gurux']}),
    duration: Flags.string({description: 'Stop after this long (e.g. 30s); default: run until interrupted'}),
    hls: Flags.boolean({description: 'Offer HLS-GMAC (mechanism 5, AES-GCM-128) to client 1'}),
    'system-title': Flags.string({description: 'HLS: system title of meter 0 (16 hex digits or 8 ASCII characters)', default: '4D4D4D0000BC614E'}),
    'ek-env': Flags.string({description: 'HLS: environment variable holding the encryption key (hex)', helpValue: 'VAR'}),
    'ek-file': Flags.string({description: 'HLS: file holding the encryption key (hex)', helpValue: 'FILE'}),
    'ak-env': Flags.string({description: 'HLS: environment variable holding the authentication key (hex)', helpValue: 'VAR'}),
    'ak-file': Flags.string({description: 'HLS: file holding the authentication key (hex)', helpValue: 'FILE'}),
    security: Flags.string({description: 'HLS: APDU protection required', options: Object.keys(SECURITY_POLICIES), default: 'auth-enc'}),
    push: Flags.string({description: 'Push mode: every meter connects to this push listener (loopback) and sends DataNotifications', helpValue: 'HOST:PORT'}),
    'push-every': Flags.string({description: 'Push mode: send a periodic push this often (e.g. 10s; a number is seconds)', helpValue: 'DURATION'}),
  }

  async run(): Promise<void> {
    const {flags, metadata} = await this.parse(MetersSimulate)
    const portGiven = !(metadata.flags.port?.setFromDefault ?? false)
    const config: SimulatorConfig = flags.config ? await loadSimulatorConfig(flags.config) : {}
    const opts = this.check(
      schema,
      {
        // A flag given on the command line wins over the file, even when it equals the default.
        port: portGiven || config.port === undefined ? flags.port : config.port,
        framing: flags.framing ?? config.framing ?? 'wrapper',
        meters: flags.meters ?? config.meters ?? 1,
        maxPdu: flags['max-pdu'] ?? config.max_pdu ?? 512,
        hdlcMaxInfo: flags['hdlc-max-info'] ?? config.hdlc_max_info ?? 128,
        profileRows: flags['profile-rows'] ?? config.profile_rows ?? 96,
        preset: flags.preset ?? config.preset ?? 'default',
      },
      'meters simulate',
    )
    const passwordEnv = flags['password-env'] ?? config.password_env
    let password: string | undefined
    if (passwordEnv) {
      password = process.env[passwordEnv]
      if (!password)
        throw new NetmonError('usage', `environment variable ${passwordEnv} is not set`, {hint: 'export it with the password meters should accept'})
      registerSecret(password)
    }
    const faults: Array<Fault | null> = faultsFromConfig(config.faults, opts.meters) ?? Array.from({length: opts.meters}, () => null)
    for (const spec of flags.fault ?? []) {
      const m = /^(\d+)=(.*)$/.exec(spec)
      const f = parseFault(m ? m[2]! : spec)
      if (!m) faults.fill(f)
      else if (Number(m[1]) >= opts.meters) throw new NetmonError('usage', `--fault ${spec}: no meter ${m[1]} (0..${opts.meters - 1})`)
      else faults[Number(m[1])] = f
    }
    let security: SimulatorSecurity | undefined
    const hls = config.hls
    if (flags.hls || hls) {
      const stGiven = !(metadata.flags['system-title']?.setFromDefault ?? false)
      const secGiven = !(metadata.flags.security?.setFromDefault ?? false)
      const pick = (env: string | undefined, file: string | undefined, cenv: string | undefined, cfile: string | undefined) =>
        env || file ? {env, file} : {env: cenv, file: cfile}
      security = {
        systemTitle: parseSystemTitle(stGiven || !hls?.system_title ? flags['system-title'] : hls.system_title, 'the meter system title'),
        ek: await loadKey(pick(flags['ek-env'], flags['ek-file'], hls?.ek_env, hls?.ek_file), 'encryption key'),
        ak: await loadKey(pick(flags['ak-env'], flags['ak-file'], hls?.ak_env, hls?.ak_file), 'authentication key'),
        securityControl: SECURITY_POLICIES[(secGiven || !hls?.security ? flags.security : hls.security) as SecurityPolicyName],
      }
    }
    const pushTo = flags.push ?? config.push?.to
    let push: SimulatorPushOptions | undefined
    if (flags['push-every'] && !pushTo) throw new NetmonError('usage', '--push-every needs --push HOST:PORT (or push.to in the config file)')
    if (pushTo) {
      const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(pushTo)
      if (!m || Number(m[3]) < 1 || Number(m[3]) > 65535) throw new NetmonError('input', `--push ${pushTo}: expected HOST:PORT, e.g. 127.0.0.1:4059`)
      const every = flags['push-every'] ?? config.push?.every
      const everyMs =
        every === undefined ? 10_000 : typeof every === 'number' || /^\d+(\.\d+)?$/.test(every) ? Number(every) * 1000 : parseDuration(every, '--push-every')
      if (!(everyMs >= 100)) throw new NetmonError('input', `--push-every ${every}: expected at least 100ms`)
      push = {
        host: m[1] ?? m[2]!,
        port: Number(m[3]),
        intervalMs: everyMs,
        objectList: config.push?.object_list ?? 'sent',
        ciphered: config.push?.ciphered ?? true,
      }
    }
    const json = this.jsonEnabled()
    const emit = (obj: Record<string, unknown>, text: string): void => {
      if (json) process.stdout.write(JSON.stringify(obj) + '\n')
      else this.note(text)
    }
    const sim: Simulator = await startSimulator({
      host: '127.0.0.1',
      port: opts.port,
      framing: opts.framing,
      meters: opts.meters,
      password,
      maxPduSize: opts.maxPdu,
      hdlcMaxInfo: opts.hdlcMaxInfo,
      profileRows: opts.profileRows,
      preset: opts.preset,
      seed: Math.floor(Math.random() * 0x7fffffff),
      faults,
      ...(security ? {security} : {}),
      ...(push ? {push} : {}),
      onEvent: e => {
        if (e.type !== 'listening') emit({event: e.type, ...e, type: undefined, ts: new Date().toISOString()}, describeEvent(e))
      },
    })
    const summary = {
      event: 'listening',
      host: sim.host,
      ports: sim.ports,
      framing: sim.framing,
      meters: opts.meters,
      server_address: 1,
      clients: security ? {1: 'hls-gmac', 16: 'none', 17: 'low'} : {16: 'none', 17: 'low'},
      ...(security ? {system_titles: sim.ports.map((_, i) => systemTitleOf(security.systemTitle, i))} : {}),
      faults: faults.map(formatFault),
      ...(push
        ? {push: {to: `${push.host}:${push.port}`, every_ms: push.intervalMs, object_list: push.objectList, ciphered: Boolean(security && push.ciphered)}}
        : {}),
    }
    if (json) process.stdout.write(JSON.stringify(summary) + '\n')
    else
      this.out(
        sim.ports
          .map(
            (p, i) =>
              `meter ${i}: ${sim.host}:${p} (${sim.framing}, server address 1, client 16 = no auth, 17 = LLS${security ? `, 1 = HLS-GMAC system title ${systemTitleOf(security.systemTitle, i)}` : ''}${faults[i] ? `, fault ${formatFault(faults[i]!)}` : ''})`,
          )
          .join('\n'),
      )
    if (push && !json)
      this.out(
        `pushing to ${push.host}:${push.port} every ${(push.intervalMs ?? 0) / 1000} s (object list ${push.objectList}${security && push.ciphered ? ', ciphered: general-glo-ciphering' : ''})`,
      )

    await new Promise<void>(resolve => {
      const stop = (): void => resolve()
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
      if (flags.duration) setTimeout(stop, parseDuration(flags.duration, '--duration')).unref()
      if (flags.config) {
        const file = flags.config
        process.on('SIGHUP', () => {
          loadSimulatorConfig(file)
            .then(c => {
              const next = faultsFromConfig(c.faults ?? {}, opts.meters) ?? []
              for (let i = 0; i < opts.meters; i++) sim.setFault(i, next[i] ?? null)
            })
            .catch((e: Error) => this.note(`Error: cannot reload ${file}: ${e.message}`))
        })
      }
    })
    await sim.close()
    emit({event: 'stopped', ts: new Date().toISOString()}, 'simulator stopped')
  }
}

/** Meter i's system title: the base with i added to its last 4 octets (as the simulator does). */
function systemTitleOf(base: Uint8Array, i: number): string {
  const st = Uint8Array.from(base)
  const v = new DataView(st.buffer)
  v.setUint32(4, (v.getUint32(4) + i) >>> 0)
  return Buffer.from(st).toString('hex')
}

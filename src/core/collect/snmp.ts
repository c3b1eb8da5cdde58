/**
 * SNMP agents as a counter source (issue 15, docs/SOURCES.md): IF-MIB interface counters of a
 * switch, router or host, read with GETBULK walks over numeric OIDs (no MIB files), one request in
 * flight per agent (the runner reads all agents in parallel). v2c (community) and v3 (USM user,
 * authNoPriv/authPriv). Library: net-snmp (pure JS).
 *
 *   const s = snmpSource({name: 'core-sw', host: '10.0.0.2', version: '2c', community})
 *   new CollectorRunner({sources: [s], store, maxRateBps})
 *
 * Each agent+ifIndex is a keyed device ({source: 'snmp:<agent>', key: '<ifIndex>'}), labelled
 * `<agent>:<ifName>`. Direction (default `device`): the port is seen from the device behind it, so
 * the port's ifOutOctets (the switch transmits) are the device's bytes *received* and ifInOctets
 * its bytes *sent*; `direction: 'interface'` keeps the agent's own view (a host's snmpd: out = sent).
 * 64-bit ifHC* counters where the agent has them, else the 32-bit ifIn/OutOctets (that reading's
 * counter width is 32). sysUpTime gives the boot time: an agent restart is a reset, never a wrap.
 * Secrets (community, keys) are registered with secrets.ts and never appear in an error.
 */
import snmp, {type Session, type Varbind} from 'net-snmp'
import {NetmonError} from '../errors.js'
import {redact, registerSecret} from '../secrets.js'
import {type FdbEntry, recordFdb} from './fdb.js'
import type {CounterReadingIn, CounterSource, Counters} from './source.js'

export type SnmpAuthProtocol = 'md5' | 'sha' | 'sha224' | 'sha256' | 'sha384' | 'sha512'
export type SnmpPrivProtocol = 'des' | 'aes' | 'aes256b' | 'aes256r'

export interface SnmpUser {
  name: string
  level: 'authNoPriv' | 'authPriv'
  authProtocol: SnmpAuthProtocol
  authKey: string
  privProtocol?: SnmpPrivProtocol
  privKey?: string
}

export interface SnmpSourceOptions {
  /** The agent's name: in labels (`<name>:<ifName>`), keys and errors. */
  name: string
  host: string
  /** UDP port (default 161). */
  port?: number
  version: '2c' | '3'
  community?: string
  user?: SnmpUser
  /** Per request (default 2000 ms); a request is sent 1 + retries times. */
  timeoutMs?: number
  retries?: number
  /** GETBULK max-repetitions (default 25). */
  maxRepetitions?: number
  /** device (default): the device behind the port (port out = device received); interface: the agent's own view. */
  direction?: 'device' | 'interface'
  /**
   * Also walk the forwarding tables (BRIDGE-MIB dot1dTpFdbPort and Q-BRIDGE-MIB dot1qTpFdbPort):
   * which MACs sit behind which port. In `last().fdb`, and stored after the counters (fdb.ts).
   */
  fdb?: boolean
}

/** Numeric IF-MIB / SNMPv2-MIB / BRIDGE-MIB OIDs. */
export const OID = {
  sysUpTime: '1.3.6.1.2.1.1.3.0',
  ifDescr: '1.3.6.1.2.1.2.2.1.2',
  ifOperStatus: '1.3.6.1.2.1.2.2.1.8',
  ifInOctets: '1.3.6.1.2.1.2.2.1.10',
  ifInDiscards: '1.3.6.1.2.1.2.2.1.13',
  ifInErrors: '1.3.6.1.2.1.2.2.1.14',
  ifOutOctets: '1.3.6.1.2.1.2.2.1.16',
  ifOutDiscards: '1.3.6.1.2.1.2.2.1.19',
  ifOutErrors: '1.3.6.1.2.1.2.2.1.20',
  ifName: '1.3.6.1.2.1.31.1.1.1.1',
  ifHCInOctets: '1.3.6.1.2.1.31.1.1.1.6',
  ifHCInUcastPkts: '1.3.6.1.2.1.31.1.1.1.7',
  ifHCOutOctets: '1.3.6.1.2.1.31.1.1.1.10',
  ifHCOutUcastPkts: '1.3.6.1.2.1.31.1.1.1.11',
  ifHighSpeed: '1.3.6.1.2.1.31.1.1.1.15',
  ifAlias: '1.3.6.1.2.1.31.1.1.1.18',
  dot1dBasePortIfIndex: '1.3.6.1.2.1.17.1.4.1.2',
  dot1dTpFdbPort: '1.3.6.1.2.1.17.4.3.1.2',
  dot1qTpFdbPort: '1.3.6.1.2.1.17.7.1.2.2.1.2',
} as const

const OPER_STATUS = ['', 'up', 'down', 'testing', 'unknown', 'dormant', 'notPresent', 'lowerLayerDown']

/** One interface as the agent reported it (the raw side of a reading, for `bandwidth sample --json`). */
export interface SnmpPort {
  ifIndex: number
  name: string
  descr: string
  alias: string
  operStatus: string | null
  /** ifHighSpeed (Mbit/s), 0 or null when unknown. */
  highSpeedMbps: number | null
  /** 64: ifHC* counters; 32: the ifIn/OutOctets fallback. */
  bits: 32 | 64
  inOctets: bigint
  outOctets: bigint
  inUcastPkts: bigint | null
  outUcastPkts: bigint | null
  inErrors: bigint | null
  outErrors: bigint | null
  inDiscards: bigint | null
  outDiscards: bigint | null
}

export interface SnmpPoll {
  /** When sysUpTime was answered (the reading's time), epoch ms. */
  ts: number
  /** sysUpTime in hundredths of a second. */
  upTimeTicks: number
  bootTimeMs: number
  ports: SnmpPort[]
  /** Forwarding tables (with `fdb`): MACs seen behind each ifIndex; vlan 0 = dot1dTpFdbTable. */
  fdb?: FdbEntry[]
}

export interface SnmpSource extends CounterSource {
  readonly agent: string
  /** host:port, as in errors. */
  readonly target: string
  /** The raw result of the last successful read. */
  last(): SnmpPoll | null
}

/** A Counter32/Counter64/Gauge value (Counter64 arrives as big-endian bytes) as a bigint. */
export function counterValue(v: unknown): bigint | null {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return BigInt(Math.trunc(v))
  if (typeof v === 'bigint') return v
  if (Buffer.isBuffer(v)) {
    let n = 0n
    for (const b of v) n = (n << 8n) | BigInt(b)
    return n
  }
  return null
}

const textValue = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString('utf8').replace(/\0+$/, '') : typeof v === 'string' ? v : '')

/** The ifIndex (last sub-identifier) of a column instance OID. */
const lastIndex = (oid: string): number => Number(oid.slice(oid.lastIndexOf('.') + 1))

/** Errors of one agent, one line, naming the agent and what to check, never a secret. */
export function snmpError(agent: string, target: string, version: '2c' | '3', timeoutMs: number, tries: number, e: unknown): NetmonError {
  const err = e as {name?: string; message?: string; code?: number}
  const who = agent === target ? `snmp agent ${target}` : `snmp agent ${agent} (${target})`
  const codes = snmp.ResponseInvalidCode
  if (err?.name === 'RequestTimedOutError') {
    return new NetmonError('network', `${who}: no answer within ${timeoutMs} ms × ${tries} ${tries === 1 ? 'try' : 'tries'}`, {
      code: 'SNMP_TIMEOUT',
      hint:
        version === '2c'
          ? 'check that the agent runs and listens on that address/port, that a firewall lets UDP through, and the community (community_env/community_file): an agent silently drops a wrong community'
          : 'check that the agent runs and listens on that address/port, and the v3 user, auth/priv protocols and priv key (a wrong priv key makes the agent drop the request)',
    })
  }
  if (err?.name === 'ResponseInvalidError' && (err.code === codes.EAuthFailure || err.code === codes.ECouldNotDecrypt)) {
    // net-snmp's text here is the USM report's reason (Wrong Digest, Unknown User Name …): no secret in it.
    return new NetmonError('network', `${who}: SNMPv3 authentication failed: ${redact(err.message ?? 'rejected')}`, {
      code: 'SNMP_AUTH',
      hint: 'check the v3 user name, security level, auth protocol and auth key (auth_key_env/auth_key_file), and the priv protocol/key',
    })
  }
  if (err?.name === 'ResponseInvalidError' && err.code === codes.ECommunityNoMatch) {
    return new NetmonError('protocol', `${who}: the answer carried another community than the request`, {code: 'SNMP_PROTOCOL'})
  }
  if (err?.name === 'RequestFailedError') {
    return new NetmonError('network', `${who}: the agent refused the request (${redact(err.message ?? 'error')})`, {
      code: 'SNMP_REFUSED',
      hint: "check that the community or user may read IF-MIB (the agent's view/access settings)",
    })
  }
  return new NetmonError('network', `${who}: ${redact(err?.message ?? String(e))}`, {code: 'SNMP_ERROR'})
}

export function snmpSource(o: SnmpSourceOptions): SnmpSource {
  const port = o.port ?? 161
  const target = `${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`
  const timeoutMs = o.timeoutMs ?? 2000
  const retries = o.retries ?? 1
  const maxRep = o.maxRepetitions ?? 25
  const direction = o.direction ?? 'device'
  if (o.version === '2c') {
    if (!o.community) throw new NetmonError('input', `snmp agent ${o.name} (${target}): v2c needs a community`, {hint: 'set community_env or community_file'})
    registerSecret(o.community)
  } else {
    if (!o.user?.name) throw new NetmonError('input', `snmp agent ${o.name} (${target}): v3 needs a user`, {hint: 'set user.name, user.auth_key_env …'})
    registerSecret(o.user.authKey)
    registerSecret(o.user.privKey)
    if (o.user.level === 'authPriv' && !o.user.privKey) {
      throw new NetmonError('input', `snmp agent ${o.name} (${target}): authPriv needs a priv key`, {hint: 'set user.priv_key_env or user.priv_key_file'})
    }
  }
  let session: Session | undefined
  let last: SnmpPoll | null = null
  let inFlight: Promise<unknown> = Promise.resolve()

  const open = (): Session => {
    if (session) return session
    const options = {port, retries, timeout: timeoutMs, transport: o.host.includes(':') ? ('udp6' as const) : ('udp4' as const), idBitsSize: 32 as const}
    const s =
      o.version === '2c'
        ? snmp.createSession(o.host, o.community!, {...options, version: snmp.Version2c})
        : snmp.createV3Session(
            o.host,
            {
              name: o.user!.name,
              level: snmp.SecurityLevel[o.user!.level],
              authProtocol: snmp.AuthProtocols[o.user!.authProtocol],
              authKey: o.user!.authKey,
              ...(o.user!.level === 'authPriv' ? {privProtocol: snmp.PrivProtocols[o.user!.privProtocol ?? 'aes'], privKey: o.user!.privKey} : {}),
            },
            {...options, version: snmp.Version3},
          )
    // A socket error fails the request in flight (net-snmp), and must not be an unhandled 'error'.
    s.on('error', () => {})
    session = s
    return s
  }
  const drop = () => {
    try {
      session?.close()
    } catch {
      /* already closed */
    }
    session = undefined
  }

  const get = (s: Session, oids: string[]) => new Promise<Varbind[]>((resolve, reject) => s.get(oids, (e, vbs) => (e ? reject(e) : resolve(vbs))))

  /** GETBULK walk of one column: ifIndex → value. A column the agent lacks is empty. */
  const column = (s: Session, base: string) =>
    new Promise<Map<number, unknown>>((resolve, reject) => {
      const out = new Map<number, unknown>()
      s.subtree(
        base,
        maxRep,
        vbs => {
          for (const vb of vbs) if (!snmp.isVarbindError(vb)) out.set(lastIndex(vb.oid), vb.value)
        },
        e => (e ? reject(e) : resolve(out)),
      )
    })

  /** A walk keyed by the whole instance suffix (the FDB's 6-octet MAC index). */
  const suffixWalk = (s: Session, base: string) =>
    new Promise<Map<string, unknown>>((resolve, reject) => {
      const out = new Map<string, unknown>()
      s.subtree(
        base,
        maxRep,
        vbs => {
          for (const vb of vbs) if (!snmp.isVarbindError(vb)) out.set(vb.oid.slice(base.length + 1), vb.value)
        },
        e => (e ? reject(e) : resolve(out)),
      )
    })

  async function poll(signal: AbortSignal): Promise<SnmpPoll> {
    const s = open()
    const [up] = await get(s, [OID.sysUpTime])
    const ts = Date.now()
    const ticks = up && !snmp.isVarbindError(up) && typeof up.value === 'number' ? up.value : null
    if (ticks === null)
      throw new NetmonError('protocol', `snmp agent ${o.name} (${target}): no sysUpTime.0 in the answer`, {hint: 'the agent must expose SNMPv2-MIB system'})
    const col = async (oid: string) => {
      signal.throwIfAborted()
      return column(s, oid)
    }
    const descr = await col(OID.ifDescr)
    const name = await col(OID.ifName)
    const alias = await col(OID.ifAlias)
    const oper = await col(OID.ifOperStatus)
    const speed = await col(OID.ifHighSpeed)
    const hcIn = await col(OID.ifHCInOctets)
    const hcOut = await col(OID.ifHCOutOctets)
    const hcInPk = await col(OID.ifHCInUcastPkts)
    const hcOutPk = await col(OID.ifHCOutUcastPkts)
    const indexes = [...new Set([...descr.keys(), ...hcIn.keys()])].sort((a, b) => a - b)
    // The 32-bit columns only when some interface has no 64-bit pair (HC absent: older or small agents).
    const need32 = indexes.some(i => !hcIn.has(i) || !hcOut.has(i))
    const in32 = need32 ? await col(OID.ifInOctets) : new Map<number, unknown>()
    const out32 = need32 ? await col(OID.ifOutOctets) : new Map<number, unknown>()
    const inErr = await col(OID.ifInErrors)
    const outErr = await col(OID.ifOutErrors)
    const inDisc = await col(OID.ifInDiscards)
    const outDisc = await col(OID.ifOutDiscards)
    const c = (m: Map<number, unknown>, i: number) => counterValue(m.get(i))
    const ports: SnmpPort[] = []
    for (const i of indexes) {
      const hi = c(hcIn, i)
      const ho = c(hcOut, i)
      const hc = hi !== null && ho !== null
      const inOctets = hc ? hi : c(in32, i)
      const outOctets = hc ? ho : c(out32, i)
      if (inOctets === null || outOctets === null) continue
      const sp = c(speed, i)
      const st = oper.get(i)
      ports.push({
        ifIndex: i,
        name: textValue(name.get(i)) || textValue(descr.get(i)) || String(i),
        descr: textValue(descr.get(i)),
        alias: textValue(alias.get(i)),
        operStatus: typeof st === 'number' ? (OPER_STATUS[st] ?? String(st)) : null,
        highSpeedMbps: sp === null ? null : Number(sp),
        bits: hc ? 64 : 32,
        inOctets,
        outOctets,
        inUcastPkts: c(hcInPk, i),
        outUcastPkts: c(hcOutPk, i),
        inErrors: c(inErr, i),
        outErrors: c(outErr, i),
        inDiscards: c(inDisc, i),
        outDiscards: c(outDisc, i),
      })
    }
    const result: SnmpPoll = {ts, upTimeTicks: ticks, bootTimeMs: ts - ticks * 10, ports}
    if (o.fdb) {
      signal.throwIfAborted()
      // Bridge port → ifIndex, then each table's entries (index: [fdbId.]six MAC octets; value: bridge port).
      const basePort = await column(s, OID.dot1dBasePortIfIndex)
      result.fdb = fdbEntries(basePort, await suffixWalk(s, OID.dot1dTpFdbPort), await suffixWalk(s, OID.dot1qTpFdbPort))
    }
    return result
  }

  const src: SnmpSource = {
    name: `snmp:${o.name}`,
    kind: 'snmp',
    bits: 'auto',
    agent: o.name,
    target,
    last: () => last,
    read(signal: AbortSignal): Promise<CounterReadingIn[]> {
      // One request in flight per agent: a read waits for the previous one to end.
      const run = inFlight.then(async () => {
        const onAbort = () => drop()
        signal.addEventListener('abort', onAbort, {once: true})
        try {
          const p = await poll(signal)
          last = p
          return snmpReadings(o.name, p, direction)
        } catch (e) {
          if (e instanceof NetmonError) throw e
          if (signal.aborted) throw new NetmonError('network', `snmp agent ${o.name} (${target}): the read was stopped (deadline)`, {code: 'SNMP_TIMEOUT'})
          // A session whose request failed may hold stale v3 engine state: start afresh next time.
          drop()
          throw snmpError(o.name, target, o.version, timeoutMs, retries + 1, e)
        } finally {
          signal.removeEventListener('abort', onAbort)
        }
      })
      inFlight = run.catch(() => {})
      return run
    },
    async afterWrite(store) {
      // The forwarding table of the read just written (fdb: true), stored by its owner (fdb.ts).
      if (o.fdb && last?.fdb) await recordFdb(store, o.name, last.ts, last.fdb)
    },
    async close() {
      drop()
    },
  }
  return src
}

/**
 * The forwarding entries of one poll: dot1dTpFdbPort (index = MAC) and dot1qTpFdbPort (index =
 * FDB id + MAC), bridge ports mapped to ifIndex through dot1dBasePortIfIndex. Entries on port 0
 * (the switch itself, or unknown) or on a bridge port without an ifIndex are left out.
 */
export function fdbEntries(basePort: Map<number, unknown>, dot1d: Map<string, unknown>, dot1q: Map<string, unknown>): FdbEntry[] {
  const out = new Map<string, FdbEntry>()
  const add = (parts: number[], vlan: number, port: unknown) => {
    if (parts.length !== 6 || parts.some(b => !(b >= 0 && b <= 255)) || typeof port !== 'number' || port <= 0) return
    const ifIndex = basePort.get(port)
    if (typeof ifIndex !== 'number') return
    const mac = parts.map(b => b.toString(16).padStart(2, '0').toUpperCase()).join(':')
    out.set(`${ifIndex}|${mac}|${vlan}`, {ifIndex, mac, vlan})
  }
  for (const [suffix, v] of dot1d) add(suffix.split('.').map(Number), 0, v)
  for (const [suffix, v] of dot1q) {
    const [fdbId, ...mac] = suffix.split('.').map(Number)
    if (fdbId !== undefined && Number.isInteger(fdbId) && fdbId >= 0) add(mac, fdbId, v)
  }
  return [...out.values()]
}

/** One agent's ports as counter readings (keys, labels, counters per the direction). */
export function snmpReadings(agent: string, p: SnmpPoll, direction: 'device' | 'interface' = 'device'): CounterReadingIn[] {
  return p.ports.map(port => {
    const dev = direction === 'device'
    const counters: Counters = {
      bytesSent: dev ? port.inOctets : port.outOctets,
      bytesReceived: dev ? port.outOctets : port.inOctets,
    }
    const pick = (k: keyof Counters, v: bigint | null) => {
      if (v !== null) counters[k] = v
    }
    pick('packetsSent', dev ? port.inUcastPkts : port.outUcastPkts)
    pick('packetsReceived', dev ? port.outUcastPkts : port.inUcastPkts)
    pick('errorsSent', dev ? port.inErrors : port.outErrors)
    pick('errorsReceived', dev ? port.outErrors : port.inErrors)
    pick('dropsSent', dev ? port.inDiscards : port.outDiscards)
    pick('dropsReceived', dev ? port.outDiscards : port.inDiscards)
    return {
      key: {source: `snmp:${agent}`, key: String(port.ifIndex)},
      ts: p.ts,
      counters,
      label: `${agent}:${port.name}`,
      counterId: `snmp:${agent}:${port.ifIndex}`,
      linkSpeedBps: port.highSpeedMbps ? port.highSpeedMbps * 1_000_000 : null,
      bootTimeMs: p.bootTimeMs,
      bits: port.bits,
    }
  })
}

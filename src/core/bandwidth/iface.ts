/**
 * This machine's interface counters for `bandwidth sample --from iface[:NAME]` (counter mode).
 *
 * On Linux the counters come from /proc/net/dev (microseconds; systeminformation's networkStats
 * costs ~160 ms and forks 8 processes, shared/FACTS.md) and MAC/IP from os.networkInterfaces()
 * and /sys/class/net/NAME/address. Elsewhere systeminformation is loaded lazily for both.
 *
 * Keying: an interface is the device with its MAC. Interfaces without a usable MAC — loopback
 * (00:00:00:00:00:00), tunnels — and interfaces that share a MAC with another interface (a
 * bridge and its port) get a synthetic, stable, locally-administered MAC derived from this
 * host's name and the interface name: 02:xx:xx:xx:xx:xx from SHA-256("netmon-iface:HOST:NAME"),
 * so `lo` is the same device on every run and different on each host sharing a store.
 */
import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {hostname as osHostname, networkInterfaces} from 'node:os'
import {invalidInput, NetmonError} from '../errors.js'
import {tryNormalizeMac} from '../devices/mac.js'
import {fromSystemInformation, parseProcNetDev, type ProcNetDevRow} from '../collect/procnetdev.js'

/** The one /proc/net/dev parser lives in collect/procnetdev.ts (re-exported for existing callers). */
export {parseProcNetDev, type ProcNetDevRow} from '../collect/procnetdev.js'

/**
 * /sys/class/net/NAME/speed: Mbit/s → bits/s. Unknown speeds read as -1 (or fail: loopback, a
 * down link, Wi-Fi); old kernels and drivers said 65535 or 4294967295 for "unknown".
 */
export function parseLinkSpeed(text: string): number | null {
  const t = text.trim()
  if (!/^\d+$/.test(t)) return null
  const mbit = Number(t)
  return mbit > 0 && mbit !== 65535 && mbit < 2 ** 31 ? mbit * 1e6 : null
}

/** /proc/stat's `btime N`: when this machine booted (epoch seconds) → epoch ms. */
export function parseBootTime(procStat: string): number | null {
  const m = /^btime\s+(\d+)\s*$/m.exec(procStat)
  return m ? Number(m[1]) * 1000 : null
}

function readOr<T>(path: string, parse: (text: string) => T | null): T | null {
  try {
    return parse(readFileSync(path, 'utf8'))
  } catch {
    return null
  }
}

export function syntheticMac(host: string, name: string): string {
  const h = createHash('sha256').update(`netmon-iface:${host}:${name}`).digest()
  h[0] = (h[0]! & 0xfc) | 0x02 // locally administered, unicast
  return [...h.subarray(0, 6)].map(b => b.toString(16).padStart(2, '0').toUpperCase()).join(':')
}

export interface InterfaceReading {
  name: string
  mac: string
  /** true when the MAC is synthetic (see header). */
  synthetic_mac: boolean
  ip: string | null
  /** Transmitted by the interface = the device's "sent". */
  tx_bytes: bigint
  rx_bytes: bigint
  /** Packets, errors and drops each way (cumulative, as the kernel counts them); packets null where the platform has none (systeminformation). */
  tx_packets: bigint | null
  rx_packets: bigint | null
  tx_errors: bigint
  rx_errors: bigint
  tx_drops: bigint
  rx_drops: bigint
  ts: number
  loopback: boolean
  /** Link speed (bits/s) where the interface reports one: bounds what a counter wrap may imply. */
  link_speed_bps: number | null
  /** When this machine booted (epoch ms): a boot after the previous reading is a counter reset, never a wrap. */
  boot_time_ms: number | null
}

const ZERO_MAC = '00:00:00:00:00:00'

function sysMac(name: string): string | null {
  try {
    return tryNormalizeMac(readFileSync(`/sys/class/net/${name}/address`, 'utf8').trim())
  } catch {
    return null
  }
}

interface Meta {
  mac: string | null
  ip: string | null
  loopback: boolean
  linkSpeedBps?: number | null
}

/** Keys each interface: its MAC unless missing, all-zero or shared (then synthetic). */
export function keyInterfaces(
  rows: ({name: string; rx: bigint; tx: bigint} & Partial<Omit<ProcNetDevRow, 'name' | 'rxBytes' | 'txBytes'>>)[],
  meta: (name: string) => Meta,
  host: string,
  ts: number,
  bootTimeMs: number | null = null,
): InterfaceReading[] {
  const metas = rows.map(r => meta(r.name))
  const count = new Map<string, number>()
  for (const m of metas) if (m.mac && m.mac !== ZERO_MAC) count.set(m.mac, (count.get(m.mac) ?? 0) + 1)
  return rows.map((r, i) => {
    const m = metas[i]!
    const real = m.mac && m.mac !== ZERO_MAC && count.get(m.mac) === 1 ? m.mac : null
    return {
      name: r.name,
      mac: real ?? syntheticMac(host, r.name),
      synthetic_mac: real === null,
      ip: m.ip,
      tx_bytes: r.tx,
      rx_bytes: r.rx,
      tx_packets: r.txPackets ?? null,
      rx_packets: r.rxPackets ?? null,
      tx_errors: r.txErrors ?? 0n,
      rx_errors: r.rxErrors ?? 0n,
      tx_drops: r.txDrops ?? 0n,
      rx_drops: r.rxDrops ?? 0n,
      ts,
      loopback: m.loopback,
      link_speed_bps: m.linkSpeedBps ?? null,
      boot_time_ms: bootTimeMs,
    }
  })
}

function pickIp(addrs: {address: string; family: string | number; internal?: boolean}[] | undefined): string | null {
  if (!addrs?.length) return null
  const v4 = addrs.find(a => a.family === 'IPv4' || a.family === 4)
  if (v4) return v4.address
  const v6 = addrs.find(a => (a.family === 'IPv6' || a.family === 6) && !a.address.toLowerCase().startsWith('fe80'))
  return (v6 ?? addrs[0]!).address.split('%')[0]!
}

async function readLinux(): Promise<InterfaceReading[]> {
  const text = readFileSync('/proc/net/dev', 'utf8')
  const ts = Date.now()
  const os = networkInterfaces()
  const rows = parseProcNetDev(text).map(r => ({...r, rx: r.rxBytes, tx: r.txBytes}))
  return keyInterfaces(
    rows,
    name => {
      const addrs = os[name]
      const mac = tryNormalizeMac(addrs?.[0]?.mac ?? '') ?? sysMac(name)
      // A name from /proc/net/dev never contains "/", so the path stays inside /sys/class/net.
      const linkSpeedBps = readOr(`/sys/class/net/${name}/speed`, parseLinkSpeed)
      return {mac, ip: pickIp(addrs), loopback: name === 'lo' || Boolean(addrs?.some(a => a.internal)), linkSpeedBps}
    },
    osHostname(),
    ts,
    readOr('/proc/stat', parseBootTime),
  )
}

async function readOther(): Promise<InterfaceReading[]> {
  const si = (await import('systeminformation')).default
  const stats = await si.networkStats('*')
  const ts = Date.now()
  const ifs = await si.networkInterfaces()
  const list = Array.isArray(ifs) ? ifs : [ifs]
  const rows = stats.map(s => {
    const {rxPackets: _rp, txPackets: _tp, ...r} = fromSystemInformation(s)
    return {...r, rx: r.rxBytes, tx: r.txBytes}
  })
  return keyInterfaces(
    rows,
    name => {
      const i = list.find(x => x.iface === name)
      return {mac: tryNormalizeMac(i?.mac ?? ''), ip: i?.ip4 || i?.ip6 || null, loopback: Boolean(i?.internal)}
    },
    osHostname(),
    ts,
  )
}

/**
 * Reads interface counters. With `name`, exactly that interface (exit 2 naming the available
 * ones if it does not exist); without, every interface except loopback.
 */
export async function readInterfaces(name?: string): Promise<InterfaceReading[]> {
  let all: InterfaceReading[]
  try {
    all = process.platform === 'linux' ? await readLinux() : await readOther()
  } catch (e) {
    throw new NetmonError('internal', `cannot read interface counters (${(e as Error).message})`, {cause: e})
  }
  if (name !== undefined) {
    const one = all.filter(r => r.name === name)
    if (one.length === 0) {
      throw invalidInput(`no interface "${name}" on this machine`, `available: ${all.map(r => r.name).join(', ') || 'none'}`)
    }
    return one
  }
  return all.filter(r => !r.loopback)
}

/** Counters on 64-bit kernels are 64-bit; elsewhere they may be 32-bit, so decide per wrap. */
export const platformCounterBits = (): 64 | 'auto' =>
  ['x64', 'arm64', 'ppc64', 's390x', 'riscv64', 'loong64', 'mips64el'].includes(process.arch) ? 64 : 'auto'

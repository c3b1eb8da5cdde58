/**
 * Debian's snmpd (net-snmp) started by a test on 127.0.0.1 (or inside a netns host) on a random
 * high port, with its own config and persistent dir in a temp dir (never /var/lib/snmp): a v2c
 * community, a community restricted to a view without the 64-bit ifHC* columns (to exercise the
 * 32-bit fallback), and a v3 authPriv user (SHA/AES).
 *
 *   const agent = await startSnmpd()
 *   …snmpSource({host: '127.0.0.1', port: agent.port, version: '2c', community: agent.community})
 *   await agent.restart(); await agent.stop()
 *
 * `SNMPD_SKIP` is a reason string when /usr/sbin/snmpd is not installed, else null.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createSocket} from 'node:dgram'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

export const SNMPD = '/usr/sbin/snmpd'
export const SNMPD_SKIP: string | null = existsSync(SNMPD) ? null : `${SNMPD} is not installed (apt-get install snmpd)`

export interface SnmpdOptions {
  /** Listen address (default 127.0.0.1). */
  address?: string
  port?: number
  /** Who may ask (snmpd source restriction; default the listen address). */
  clients?: string
  /** Prefix for the command (e.g. ['ip', 'netns', 'exec', ns]). */
  wrap?: string[]
  /** The v2c read-only community (default: a random one). */
  community?: string
  /** More snmpd.conf lines (e.g. a `pass` handler serving a MIB snmpd has no module for). */
  extraConfig?: string[]
}

export interface Snmpd {
  address: string
  port: number
  community: string
  /** A community whose view lacks ifHCInOctets/ifHCOutOctets (the agent looks 32-bit only). */
  community32: string
  user: {name: string; authKey: string; privKey: string}
  dir: string
  output(): string
  restart(): Promise<void>
  stop(): Promise<void>
}

/** A free UDP port on the address (bound then released; snmpd binds it next). */
async function freeUdpPort(address: string): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = 20000 + Math.floor(Math.random() * 40000)
    const ok = await new Promise<boolean>(resolve => {
      const s = createSocket('udp4')
      s.once('error', () => resolve(false))
      s.bind(port, address, () => s.close(() => resolve(true)))
    })
    if (ok) return port
  }
  throw new Error('no free UDP port')
}

export async function startSnmpd(opts: SnmpdOptions = {}): Promise<Snmpd> {
  const address = opts.address ?? '127.0.0.1'
  const port = opts.port ?? (opts.wrap ? 16100 + Math.floor(Math.random() * 1000) : await freeUdpPort(address))
  const dir = mkdtempSync(join(tmpdir(), 'netmon-snmpd-'))
  const community = opts.community ?? `nm-ro-${Math.random().toString(36).slice(2, 10)}`
  const community32 = `nm-32-${Math.random().toString(36).slice(2, 10)}`
  const user = {name: 'netmonv3', authKey: `auth-${Math.random().toString(36).slice(2, 12)}`, privKey: `priv-${Math.random().toString(36).slice(2, 12)}`}
  const conf = join(dir, 'snmpd.conf')
  writeFileSync(
    conf,
    [
      `[snmp] persistentDir ${join(dir, 'persist')}`,
      `agentAddress udp:${address}:${port}`,
      `rocommunity ${community} ${opts.clients ?? address}`,
      'view no64 included .1',
      'view no64 excluded .1.3.6.1.2.1.31.1.1.1.6',
      'view no64 excluded .1.3.6.1.2.1.31.1.1.1.10',
      `rocommunity ${community32} ${opts.clients ?? address} -V no64`,
      `createUser ${user.name} SHA "${user.authKey}" AES "${user.privKey}"`,
      `rouser ${user.name} priv`,
      ...(opts.extraConfig ?? []),
      '',
    ].join('\n'),
  )
  let child: ChildProcess | undefined
  let out = ''
  const launch = async () => {
    const argv = [...(opts.wrap ?? []), SNMPD, '-f', '-Lo', '-C', '-c', conf, '-p', join(dir, 'pid'), '-M', '/nonexistent', '-m', '']
    const c = spawn(argv[0]!, argv.slice(1), {stdio: ['ignore', 'pipe', 'pipe']})
    child = c
    c.stdout!.setEncoding('utf8').on('data', d => (out += d))
    c.stderr!.setEncoding('utf8').on('data', d => (out += d))
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`snmpd did not start within 10 s:\n${out}`)), 10_000)
      const check = setInterval(() => {
        if (/NET-SNMP version/.test(out)) {
          clearTimeout(t)
          clearInterval(check)
          resolve()
        }
      }, 25)
      c.once('exit', code => {
        clearTimeout(t)
        clearInterval(check)
        reject(new Error(`snmpd exited (${code}):\n${out}`))
      })
    })
  }
  const kill = async () => {
    const c = child
    if (!c || c.exitCode !== null || c.signalCode !== null) return
    await new Promise<void>(resolve => {
      c.once('exit', () => resolve())
      c.kill('SIGTERM')
    })
  }
  await launch()
  return {
    address,
    port,
    community,
    community32,
    user,
    dir,
    output: () => out,
    async restart() {
      await kill()
      out = ''
      await launch()
    },
    async stop() {
      await kill()
      rmSync(dir, {recursive: true, force: true})
    },
  }
}

/** Bytes received/transmitted of one interface from /proc/net/dev (of this namespace, or `text`). */
export function procNetDev(iface: string, text: string): {rx: bigint; tx: bigint} {
  for (const line of text.split('\n')) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line)
    if (!m || m[1] !== iface) continue
    const f = m[2]!.trim().split(/\s+/)
    return {rx: BigInt(f[0]!), tx: BigInt(f[8]!)}
  }
  throw new Error(`no ${iface} in /proc/net/dev`)
}

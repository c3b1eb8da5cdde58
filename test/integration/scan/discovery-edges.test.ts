/**
 * Discovery edge cases from the review of issue 13, on a namespaced LAN (10.77.9.0/24) that the
 * built CLI scans: how a host was found must not depend on how busy the machine is; a host
 * whose ARP answers come late is still found, and one whose neighbor entry is REACHABLE is not
 * marked offline on one miss; two MACs answering for one address are an `ip_conflict`.
 */
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {chmodSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {findExecutable} from '../../../src/core/scan/icmp.js'
import {runCli, tempStore} from '../../support/cli.js'
import {realClockEnv} from '../../support/clock.js'
import {NETNS_SKIP, createLan, type Lan, type LanHost} from '../../support/netns.js'

if (NETNS_SKIP) console.warn(`skipping netns scan edge tests: ${NETNS_SKIP}`)
const FPING = findExecutable('fping')
if (!NETNS_SKIP && !FPING) console.warn('skipping the slow-ICMP-tool test: fping is not installed (apt-get install fping)')

const SUBNET = '10.77.9.0/24'
const PYTHON = findExecutable('python3')
if (!NETNS_SKIP && !PYTHON) console.warn('skipping the slow-ARP test: it needs python3 for its raw-socket ARP responder')

/**
 * A late ARP responder (the host's kernel is told to ignore ARP, arp_ignore=8): answers every
 * request for its address after DELAY seconds, as a sleeping or overloaded device does.
 */
const SLOW_ARP = `
import socket, struct, sys, threading, time
dev, ip, delay = sys.argv[1], socket.inet_aton(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind((dev, 0x0806))
me = s.getsockname()[4]
def reply(f):
    time.sleep(delay)
    sha, spa = f[22:28], f[28:32]
    s.send(f[6:12] + me + b'\\x08\\x06' + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 2) + me + ip + sha + spa)
    print('sent', flush=True)
print('ready', flush=True)
while True:
    f = s.recv(2048)
    if len(f) >= 42 and f[12:14] == b'\\x08\\x06' and f[20:22] == b'\\x00\\x01' and f[38:42] == ip:
        print('asked', flush=True)
        threading.Thread(target=reply, args=(f,), daemon=True).start()
`

function ignoreArp(lan: Lan, h: LanHost, on: boolean): void {
  for (const dev of ['all', 'eth0']) lan.exec(h, ['sysctl', '-qw', `net.ipv4.conf.${dev}.arp_ignore=${on ? 8 : 0}`])
}

describe.skipIf(NETNS_SKIP)('scan discovery edges on a netns LAN (10.77.9.0/24)', () => {
  const t = tempStore('netmon-scan-edges-')
  const bin = mkdtempSync(join(tmpdir(), 'netmon-scan-edges-bin-'))
  let lan: Lan
  const hosts: Record<string, LanHost> = {}
  let responder: ChildProcess | undefined
  /** The slow responder's requests seen and replies sent, and when the last of either happened. */
  const arp = {asked: 0, sent: 0, at: 0}
  /**
   * Waits until the slow responder has answered every request it saw and the kernel has stopped
   * asking (it re-solicits once a second), then drops the neighbor entry: a late reply to an
   * earlier scan's request would otherwise complete the next scan's entry early.
   */
  const arpSettled = async () => {
    while (arp.asked !== arp.sent || performance.now() - arp.at < 2500) await new Promise(r => setTimeout(r, 100))
    spawnSync('ip', ['neigh', 'del', '10.77.9.20', 'dev', lan.bridge])
    expect(spawnSync('ip', ['neigh', 'show', '10.77.9.20', 'dev', lan.bridge], {encoding: 'utf8'}).stdout.trim()).toBe('')
  }
  const ok = async (args: string[], env?: Record<string, string>) => {
    const r = await runCli(args, {db: t.db, timeoutMs: 90_000, env})
    expect(r.code, `netmon ${args.join(' ')}: ${r.stderr}`).toBe(0)
    return r
  }

  beforeAll(async () => {
    lan = await createLan({subnet: SUBNET})
    hosts.a = lan.addHost({ip: '10.77.9.10', mac: '02:4e:4d:09:00:0a'})
    hosts.slow = lan.addHost({ip: '10.77.9.20', mac: '02:4e:4d:09:00:14'})
    hosts.quiet = lan.addHost({ip: '10.77.9.30', mac: '02:4e:4d:09:00:1e'})
    lan.dropAll(hosts.quiet)
    if (PYTHON) {
      ignoreArp(lan, hosts.slow, true)
      // On the real clock: under libfaketime (the suite run 60 days ahead) Python's time.sleep fails with EINVAL.
      const env = realClockEnv()
      responder = spawn('ip', ['netns', 'exec', hosts.slow.ns, PYTHON, '-c', SLOW_ARP, 'eth0', '10.77.9.20', '1.2'], {stdio: ['ignore', 'pipe', 'pipe'], env})
      await new Promise<void>((resolve, reject) => {
        let err = ''
        responder!.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d))
        responder!.stdout!.setEncoding('utf8').on('data', (d: string) => {
          for (const line of d.split('\n')) {
            if (line === 'ready') resolve()
            else if (line === 'asked' || line === 'sent') {
              arp[line]++
              arp.at = performance.now()
            }
          }
        })
        responder!.on('exit', code => reject(new Error(`slow ARP responder exited (${code}): ${err}`)))
      })
    }
  })

  afterAll(() => {
    responder?.kill('SIGKILL')
    lan?.destroy()
    t.cleanup()
    rmSync(bin, {recursive: true, force: true})
  })

  it.skipIf(!FPING)('a slow-starting ICMP tool still counts: found_by does not depend on a wall-clock window', async () => {
    // fping that takes 1.5 s to start, as on a loaded machine, answered within its own timeout:
    // the echo reply is real and must be counted, not cut off by the 800 ms discovery window.
    const slow = join(bin, 'fping')
    writeFileSync(slow, `#!/bin/sh\nsleep 1.5\nexec ${FPING} "$@"\n`)
    chmodSync(slow, 0o755)
    const r = await ok(['scan', '10.77.9.10', '--no-rdns', '--json'], {PATH: `${bin}:${process.env.PATH}`})
    expect(r.json.scan.icmp_tool).toBe('fping')
    expect(r.json.hosts.map((h: any) => [h.ip, h.found_by])).toEqual([['10.77.9.10', ['neighbor', 'tcp', 'icmp']]])
  })

  it.skipIf(!PYTHON)('a host answering ARP after 1.2 s is found (by the ARP wait), and was missed without it', async () => {
    // Without the wait (the old fixed 800 ms window): missed, every time.
    const before = await ok(['scan', '10.77.9.20', '--no-rdns', '--arp-wait', '0', '--json'])
    expect(before.json.hosts).toEqual([])
    expect(arp.asked).toBeGreaterThan(0)
    await arpSettled()
    const r = await ok(['scan', '10.77.9.20', '--no-rdns', '--json'])
    expect(r.json.hosts.map((h: any) => [h.ip, h.mac, h.found_by])).toEqual([['10.77.9.20', '02:4E:4D:09:00:14', ['neighbor', 'tcp', 'icmp']]])
    expect(r.json.scan.late_found).toEqual(['10.77.9.20'])
    // In a sweep too, with the silent neighbors around it.
    const sweep = await ok(['scan', '10.77.9.16-23', '--no-rdns', '--json'])
    expect(sweep.json.hosts.map((h: any) => h.ip)).toEqual(['10.77.9.20'])
  })

  it('a device whose neighbor entry is REACHABLE is not marked offline on one miss; without the entry it is', async () => {
    // Found by the neighbor method (it drops all IP traffic, ARP only).
    const first = await ok(['scan', '10.77.9.30', '--method', 'neighbor', '--no-rdns', '--json'])
    expect(first.json.hosts.map((h: any) => h.ip)).toEqual(['10.77.9.30'])
    // A tcp-only scan cannot find it, but its ARP answer to the probe left the entry REACHABLE.
    const miss = await ok(['scan', '10.77.9.30', '--method', 'tcp', '--no-rdns', '--json'])
    expect(miss.json.hosts).toEqual([])
    expect(miss.json.summary).toMatchObject({offline: 0, kept_online: 1})
    expect((await ok(['devices', 'show', '10.77.9.30', '--json'])).json.device.status).toBe('online')
    // Gone for ARP as well, and its entry dropped: the next miss is a real one.
    ignoreArp(lan, hosts.quiet, true)
    spawnSync('ip', ['neigh', 'del', '10.77.9.30', 'dev', lan.bridge])
    const gone = await ok(['scan', '10.77.9.30', '--method', 'tcp', '--no-rdns', '--json'])
    expect(gone.json.summary).toMatchObject({offline: 1, kept_online: 0})
    expect((await ok(['devices', 'show', '10.77.9.30', '--json'])).json.device.status).toBe('offline')
  })
})

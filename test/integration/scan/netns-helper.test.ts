/**
 * The shared netns LAN helper (test/support/netns.ts) does what the scan and latency tests rely on:
 * hosts with chosen MACs answer on the bridge, listeners accept, dropAll silences everything but
 * ARP, changeIp/removeHost take effect, and destroy leaves nothing behind.
 */
import {execFileSync} from 'node:child_process'
import {connect} from 'node:net'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {NETNS_SKIP, createLan, noLeftovers, testMac, type Lan} from '../../support/netns.js'

if (NETNS_SKIP) console.warn(`skipping netns helper tests: ${NETNS_SKIP}`)

function tcp(ip: string, port: number, timeoutMs = 800): Promise<'open' | 'refused' | 'timeout' | string> {
  return new Promise(resolve => {
    const s = connect({host: ip, port})
    const t = setTimeout(() => {
      s.destroy()
      resolve('timeout')
    }, timeoutMs)
    s.on('connect', () => {
      clearTimeout(t)
      s.destroy()
      resolve('open')
    })
    s.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(t)
      resolve(e.code === 'ECONNREFUSED' ? 'refused' : String(e.code))
    })
  })
}

function neighMac(ip: string): string | undefined {
  const rows = JSON.parse(execFileSync('ip', ['-j', 'neigh', 'show', 'to', ip], {encoding: 'utf8'})) as {lladdr?: string; state?: string[]}[]
  return rows.find(r => r.lladdr && !r.state?.includes('FAILED'))?.lladdr
}

describe.skipIf(NETNS_SKIP)('netns test LAN helper', () => {
  let lan: Lan
  beforeAll(async () => {
    // Its own subnet (still netmon's 10.77 test space) so it does not wait for lan.test.ts's lock.
    lan = await createLan({subnet: '10.77.1.0/24'})
  })
  afterAll(() => lan?.destroy())

  it('hosts get their MAC and IP, listeners accept, closed ports refuse', async () => {
    const a = lan.addHost({ip: '10.77.1.10', mac: testMac(1)})
    await lan.listen(a, [{port: 2222, banner: 'hello\n'}])
    expect(await tcp('10.77.1.10', 2222)).toBe('open')
    expect(await tcp('10.77.1.10', 2223)).toBe('refused')
    expect(neighMac('10.77.1.10')).toBe(testMac(1))
  })

  it('dropAll silences TCP but ARP still resolves', async () => {
    const b = lan.addHost({ip: '10.77.1.11', mac: testMac(2)})
    lan.dropAll(b)
    expect(await tcp('10.77.1.11', 80, 500)).toBe('timeout')
    expect(neighMac('10.77.1.11')).toBe(testMac(2))
  })

  it('changeIp and removeHost take effect', async () => {
    const c = lan.addHost({ip: '10.77.1.12', mac: testMac(3)})
    expect(await tcp('10.77.1.12', 1)).toBe('refused')
    lan.changeIp(c, '10.77.1.13')
    expect(await tcp('10.77.1.13', 1)).toBe('refused')
    lan.removeHost(c)
    expect(await tcp('10.77.1.13', 1, 500)).not.toBe('refused')
  })

  it('destroy removes every namespace and link of this process', () => {
    lan.destroy()
    expect(noLeftovers()).toBe(true)
    const links = execFileSync('ip', ['-o', 'link', 'show'], {encoding: 'utf8'})
    expect(links).not.toContain(lan.bridge)
  })
})

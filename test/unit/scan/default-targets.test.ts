/**
 * `netmon scan` without a target scans the machine's own subnets. The path through scan() with
 * interfaces that offer nothing usable: every skip is explained on stderr (onNote), the command is
 * exit 2, and the store is never opened (nothing written). No packet is sent: the request fails
 * before probing, and the fake interfaces are all unusable.
 */
import {describe, expect, it} from 'vitest'
import {scan} from '../../../src/core/scan/index.js'
import {buildScanRequest} from '../../../src/core/scan/options.js'
import {SCAN_DEFAULTS} from '../../../src/core/serve/routes/inventory.js'
import type {InterfaceInfo} from '../../../src/core/scan/targets.js'

const itf = (name: string, up: boolean, address: string, netmask: string, family: 'IPv4' | 'IPv6' = 'IPv4', internal = false): InterfaceInfo => ({
  name,
  up,
  addresses: [{address, netmask, family, internal}],
})

describe('scan with no target and no usable interface', () => {
  it('explains every skipped interface, fails with exit 2 and never opens the store', async () => {
    const notes: string[] = []
    let opened = false
    const run = scan(buildScanRequest([], SCAN_DEFAULTS), {
      interfaces: [
        itf('lo', true, '127.0.0.1', '255.0.0.0', 'IPv4', true),
        itf('eth1', false, '10.77.50.2', '255.255.255.0'),
        itf('eth2', true, '169.254.7.7', '255.255.0.0'),
        itf('tun0', true, '10.77.51.9', '255.255.255.255'),
        itf('wan0', true, '198.51.100.20', '255.255.255.0'),
      ],
      openStore: async () => {
        opened = true
        throw new Error('must not be opened')
      },
      onNote: t => notes.push(t),
    })
    await expect(run).rejects.toMatchObject({exitCode: 2, message: 'no targets given and no usable interface subnet found'})
    expect(opened).toBe(false)
    expect(notes).toEqual(
      expect.arrayContaining([
        'eth1: skipped (down)',
        expect.stringMatching(/^eth2: skipped link-local 169\.254\.7\.7\/16$/),
        expect.stringMatching(/^tun0: skipped 10\.77\.51\.9\/32 \(no other hosts on a \/32\)$/),
        expect.stringMatching(/^wan0: skipped 198\.51\.100\.0\/24 \(public address space; add --allow-public/),
      ]),
    )
    expect(notes.some(n => n.startsWith('lo:'))).toBe(false) // loopback is not a LAN: silently left out
  })
})

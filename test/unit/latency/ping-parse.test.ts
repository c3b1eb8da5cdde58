/**
 * The ping line parser on real iputils captures (fixtures/README.md) and on the documented
 * variants it must also survive.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parsePingLine, unwrapSeq, type PingLine} from '../../../src/core/latency/ping-parse.js'

const fixture = (name: string): PingLine[] =>
  readFileSync(join(import.meta.dirname, 'fixtures', `iputils-${name}.txt`), 'utf8')
    .split('\n')
    .map(parsePingLine)
    .filter((x): x is PingLine => x !== null)

describe('real iputils captures', () => {
  it('replies with -D stamps (netns host)', () => {
    const ev = fixture('ok')
    expect(ev[0]).toEqual({kind: 'header', address: '10.78.0.2'})
    expect(ev.filter(e => e.kind === 'reply')).toEqual([
      {kind: 'reply', seq: 1, rtt_ms: 0.343, dup: false, from: '10.78.0.2', recv_ms: 1795453729675.702, bound: false},
      {kind: 'reply', seq: 2, rtt_ms: 0.054, dup: false, from: '10.78.0.2', recv_ms: 1795453729881.425, bound: false},
      {kind: 'reply', seq: 3, rtt_ms: 0.049, dup: false, from: '10.78.0.2', recv_ms: 1795453730085.434, bound: false},
    ])
    expect(ev.at(-1)).toEqual({kind: 'summary', transmitted: 3, received: 3, duplicates: 0, errors: 0})
  })

  it('partial loss: no-answer lines between replies', () => {
    const ev = fixture('partial')
    expect(ev.map(e => (e.kind === 'reply' || e.kind === 'no_answer' ? `${e.kind}:${e.seq}` : e.kind))).toEqual([
      'header',
      'reply:1',
      'no_answer:2',
      'reply:3',
      'no_answer:4',
      'reply:5',
      'summary',
    ])
    expect(ev[2]).toEqual({kind: 'no_answer', seq: 2, at_ms: 1795453752489.432})
    expect(ev.at(-1)).toMatchObject({transmitted: 6, received: 3})
  })

  it('dropped host: only no-answer lines, 0 received', () => {
    const ev = fixture('drop')
    expect(ev.filter(e => e.kind === 'reply')).toHaveLength(0)
    expect(ev.filter(e => e.kind === 'no_answer').map(e => (e as {seq: number}).seq)).toEqual([1, 2])
    expect(ev.at(-1)).toEqual({kind: 'summary', transmitted: 3, received: 0, duplicates: 0, errors: 0})
  })

  it('absent host: Destination Host Unreachable per seq, errors in the summary', () => {
    const ev = fixture('absent6')
    const errs = ev.filter(e => e.kind === 'error_reply')
    expect(errs).toHaveLength(6)
    expect(errs[0]).toEqual({kind: 'error_reply', seq: 1, from: '10.78.0.1', message: 'Destination Host Unreachable', at_ms: 1795453734569.964})
    expect(errs.map(e => (e as {seq: number}).seq)).toEqual([1, 2, 3, 4, 5, 6])
    expect(ev.at(-1)).toEqual({kind: 'summary', transmitted: 6, received: 0, duplicates: 0, errors: 6})
  })

  it('DUP! replies are flagged; the first reply per seq is not', () => {
    const replies = fixture('dup').filter((e): e is Extract<PingLine, {kind: 'reply'}> => e.kind === 'reply')
    expect(replies).toHaveLength(9)
    expect(replies.map(r => `${r.seq}${r.dup ? 'D' : ''}`)).toEqual(['1', '1D', '1D', '1D', '2', '2D', '2D', '2D', '3'])
    expect(fixture('dup').at(-1)).toMatchObject({duplicates: 6})
  })

  it('IPv6: the address keeps its colons', () => {
    const ev = fixture('v6')
    expect(ev[0]).toEqual({kind: 'header', address: '::1'})
    expect(ev[1]).toMatchObject({kind: 'reply', seq: 1, rtt_ms: 0.176, from: '::1'})
  })

  it('a fatal error line carries no probe', () => {
    expect(fixture('netunreach')).toEqual([])
  })
})

describe('variants', () => {
  it('older iputils: icmp_req=', () => {
    // iputils ≤ s20121221 spelt the sequence icmp_req.
    expect(parsePingLine('64 bytes from 127.0.0.1: icmp_req=7 ttl=64 time=0.045 ms')).toMatchObject({kind: 'reply', seq: 7, rtt_ms: 0.045})
  })

  it('time<1 ms: below the clock resolution, midpoint of [0, 1)', () => {
    expect(parsePingLine('64 bytes from 10.0.0.1: icmp_seq=2 ttl=64 time<1 ms')).toMatchObject({kind: 'reply', seq: 2, rtt_ms: 0.5, bound: true})
  })

  it('decimal comma and a translated word (a localised ping that ignored LC_ALL=C)', () => {
    expect(parsePingLine('64 Bytes von 10.0.0.1: icmp_seq=3 ttl=64 Zeit=0,045 ms')).toMatchObject({kind: 'reply', seq: 3, rtt_ms: 0.045})
    expect(parsePingLine('64 bytes from 10.0.0.1: icmp_seq=4 ttl=64 time=12,5 ms')).toMatchObject({kind: 'reply', seq: 4, rtt_ms: 12.5})
  })

  it('rtt of 100 ms and more (iputils drops decimals)', () => {
    expect(parsePingLine('64 bytes from 10.0.0.1: icmp_seq=5 ttl=52 time=123 ms')).toMatchObject({rtt_ms: 123})
  })

  it('BusyBox: seq= and seq 0', () => {
    expect(parsePingLine('64 bytes from 127.0.0.1: seq=0 ttl=64 time=0.061 ms')).toMatchObject({kind: 'reply', seq: 0, rtt_ms: 0.061})
  })

  it('BSD/macOS: Request timeout, and their summary wording', () => {
    expect(parsePingLine('Request timeout for icmp_seq 3')).toEqual({kind: 'timeout', seq: 3})
    expect(parsePingLine('5 packets transmitted, 4 packets received, 20.0% packet loss')).toEqual({
      kind: 'summary',
      transmitted: 5,
      received: 4,
      duplicates: 0,
      errors: 0,
    })
  })

  it('other ICMP errors are error replies', () => {
    expect(parsePingLine('From 10.0.0.254 icmp_seq=9 Time to live exceeded')).toEqual({
      kind: 'error_reply',
      seq: 9,
      from: '10.0.0.254',
      message: 'Time to live exceeded',
      at_ms: null,
    })
  })

  it('name-resolved reply lines (without -n)', () => {
    expect(parsePingLine('64 bytes from localhost (127.0.0.1): icmp_seq=1 ttl=64 time=0.020 ms')).toMatchObject({seq: 1, rtt_ms: 0.02, from: 'localhost'})
  })

  it('lines without a probe are ignored', () => {
    for (const l of [
      '',
      '--- 127.0.0.1 ping statistics ---',
      'rtt min/avg/max/mdev = 0.014/0.014/0.015/0.000 ms',
      'WARNING: pinging broadcast address',
      'pipe 6',
    ]) {
      expect(parsePingLine(l)).toBeNull()
    }
  })
})

describe('unwrapSeq (16-bit icmp_seq in a long --watch)', () => {
  it('keeps small numbers, follows the wrap past 65535', () => {
    expect(unwrapSeq(5, 5)).toBe(5)
    expect(unwrapSeq(65535, 65535)).toBe(65535)
    expect(unwrapSeq(0, 65536)).toBe(65536)
    expect(unwrapSeq(3, 65538)).toBe(65539)
    expect(unwrapSeq(65534, 65537)).toBe(65534) // a late reply from before the wrap
    expect(unwrapSeq(10, 2 * 65536 + 5)).toBe(2 * 65536 + 10)
  })
})

/**
 * Issue 17 (acceptance 6): one time format and one unit scheme in all human output. Units: bytes
 * in IEC binary units (B, KiB, MiB, GiB, TiB), rates in SI bit/s (bit/s, kbit/s, Mbit/s, Gbit/s).
 * Times: local time with its zone (`2026-12-04 21:05:07 +01:00`; with --utc `… UTC`), never a raw
 * ISO-8601 string (the commands run here in Europe/Vienna, where a UTC time cannot pass). Every
 * command in the manifest is either run here against a store holding data of every capability
 * (the serve tests' seed: bandwidth, a loopback scan, latency runs, a bridge with meters) and its
 * stdout put through the checker, or listed with the reason it is not (it needs a network, a
 * daemon or a config). A new command fails this test until it is put in one of the two lists.
 * The seed-compatible JSON fields (`*_mb`, `*_mbps`, `*_kbps`) are JSON only and not checked here.
 */
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ROOT, runCli, tempStore} from '../../support/cli.js'
import {DEVICES, seedStore} from '../serve/seed.js'

const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, unknown>}

const MAC = DEVICES[1]!.mac
/** Commands run, with the arguments that make them print their fullest human output. */
const RUN: Record<string, string[][]> = {
  'agent:status': [[]],
  'alerts:list': [[]],
  'alerts:rules': [['--rules', '@rules']],
  'alerts:test': [['heavy', '--rules', '@rules']],
  'alerts:check': [['--rules', '@rules']],
  'alerts:show': [['1']],
  'bandwidth:history': [
    ['--mac', MAC],
    ['--mac', MAC, '--since', '7d'],
  ],
  'bandwidth:report': [[], ['--hourly'], ['--daily', '--all'], ['--monthly'], ['--top', '3'], ['--5min', '--mac', MAC]],
  'bandwidth:stats': [[], ['--mac', MAC]],
  'bandwidth:top': [[], ['--since', '24h'], ['--by', 'port']],
  'bridge:status': [[]],
  'db:check': [[]],
  'db:info': [[]],
  'devices:events': [[]],
  'devices:history': [[MAC]],
  'devices:list': [[]],
  'devices:map': [[]],
  'devices:show': [[MAC], ['127.0.0.1']],
  'devices:timeline': [[]],
  'latency:history': [['127.0.0.2']],
  'meters:list': [[]],
  'meters:readings': [['m1']],
  'meters:stats': [['m1']],
  'metrics:export': [['--list']],
  'scan:status': [[]],
  stats: [[]],
}
/** Not run, and why. */
const SKIP: Record<string, string> = {
  'agent:check': 'needs an agent config file; prints no units',
  'agent:run': 'a daemon',
  'alerts:ack': 'a write (ack); prints the alert like alerts show',
  'alerts:silence': 'a write; prints the silence (durations, no units)',
  'bandwidth:register': 'a write; prints the device',
  'bandwidth:reset': 'a write',
  'bandwidth:sample': 'a write; prints counts',
  'bridge:check': 'needs a bridge config and meters',
  'bridge:run': 'a daemon',
  'collect:nft': 'needs root and nftables; changes the firewall',
  'db:prune': 'a write; prints row counts',
  'devices:promote': 'a write; prints the device',
  latency: 'sends probes (network)',
  'meters:read': 'talks to a meter (network)',
  'meters:simulate': 'a server',
  scan: 'sends probes (network)',
  serve: 'a server',
}

const ZONE = 'Europe/Vienna'
/** An ISO-8601 time as core results carry it (human output shows humanTime instead). */
const RAW_TIME = /\b\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)?/g
/** humanTime: date, hh:mm[:ss], zone (UTC or ±hh:mm). */
const HUMAN_TIME = /\b\d{4}-\d\d-\d\d \d\d:\d\d(?::\d\d)? (?:UTC|[+-]\d\d:\d\d)/g

/** Unit spellings outside the scheme: decimal byte units, "bps"-style rates, per-second bytes. */
const WRONG = /\b\d+(?:[.,]\d+)?\s?(KB|kB|MB|GB|TB|Kbps|kbps|Mbps|mbps|Gbps|gbps|bps|KiB\/s|MiB\/s|GiB\/s|B\/s|Kbit\/s|kb\/s|Mb\/s)(?![\w/])/g

describe('one unit scheme in human output', () => {
  const t = tempStore('netmon-units-')
  let rules: string
  beforeAll(async () => {
    await seedStore(t.db)
    rules = join(t.dir, 'rules.yaml')
    writeFileSync(
      rules,
      'rules:\n  - {name: heavy, kind: bandwidth_usage, window: rolling_24h, above: 1MiB}\n  - {name: fast, kind: bandwidth_rate, above: 1Mbps, for: 0s}\n',
    )
    // One alert exists for alerts show / list.
    const r = await runCli(['alerts', 'check', '--rules', rules], {db: t.db})
    expect([0, 3], r.stderr).toContain(r.code)
  }, 120_000)
  afterAll(() => t.cleanup())

  it('every command is either checked or skipped with a reason', () => {
    const ids = Object.keys(manifest.commands)
    expect(ids.filter(id => !(id in RUN) && !(id in SKIP))).toEqual([])
    expect(Object.keys({...RUN, ...SKIP}).filter(id => !ids.includes(id))).toEqual([])
  })

  for (const [id, variants] of Object.entries(RUN))
    for (const args of variants)
      it(`netmon ${id.replaceAll(':', ' ')} ${args.join(' ')}`.trim(), async () => {
        const r = await runCli([...id.split(':'), ...args.map(a => (a === '@rules' ? rules : a))], {db: t.db, env: {TZ: ZONE}})
        expect([0, 3], r.stderr).toContain(r.code)
        expect(r.stdout.trim().length, 'printed something').toBeGreaterThan(0)
        expect([...r.stdout.matchAll(WRONG)].map(m => m[0])).toEqual([])
        expect(
          [...r.stdout.matchAll(RAW_TIME)].map(m => m[0]),
          'raw ISO times',
        ).toEqual([])
        // Every time printed carries its zone: the zone's offset, never UTC (Vienna is never at +00:00).
        for (const m of r.stdout.matchAll(HUMAN_TIME)) expect(m[0], 'local time with its offset').toMatch(/ \+0[12]:00$/)
      }, 60_000)

  it('--utc: the same times in UTC, marked so', async () => {
    const local = await runCli(['devices', 'timeline'], {db: t.db, env: {TZ: ZONE}})
    const utc = await runCli(['devices', 'timeline', '--utc'], {db: t.db, env: {TZ: ZONE}})
    const times = (x: string) => [...x.matchAll(HUMAN_TIME)].map(m => m[0])
    expect(times(local.stdout).length).toBeGreaterThan(3)
    expect(times(utc.stdout).every(x => x.endsWith(' UTC'))).toBe(true)
    // The same instants: parse both back (the strings are RFC 3339 with a space, which --since reads).
    const ms = (x: string) =>
      Date.parse(
        x
          .replace(' UTC', 'Z')
          .replace(/ ([+-]\d\d:\d\d)$/, '$1')
          .replace(' ', 'T'),
      )
    expect(times(utc.stdout).map(ms)).toEqual(times(local.stdout).map(ms))
    // bandwidth report's calendar periods follow it too (its --tz wins when given).
    const rep = await runCli(['bandwidth', 'report', '--utc', '--json'], {db: t.db, env: {TZ: ZONE}})
    expect(rep.json.time_zone).toBe('UTC')
    expect((await runCli(['bandwidth', 'report', '--json'], {db: t.db, env: {TZ: ZONE}})).json.time_zone).toBe(ZONE)
    // JSON stays ISO-8601 UTC whatever the zone or --utc.
    const j = await runCli(['devices', 'timeline', '--json'], {db: t.db, env: {TZ: ZONE}})
    expect(j.json.events[0].ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  })

  it('the checker catches what it is for', () => {
    const bad = 'total 12.5 MB, 3 Mbps now, 100 kbps, 5 KB, 1.2 GB, 10 bps, 2 MiB/s'
    expect([...bad.matchAll(WRONG)].map(m => m[1])).toEqual(['MB', 'Mbps', 'kbps', 'KB', 'GB', 'bps', 'MiB/s'])
    const good = 'total 12.50 MiB (sent 1.00 KiB, received 900 B), 3.00 Mbit/s now, 120.0 kbit/s, 80 bit/s, 1.20 GiB'
    expect([...good.matchAll(WRONG)]).toEqual([])
    expect([...'at 2026-12-04T20:05:07.123Z and 2026-12-04T21:05+01:00'.matchAll(RAW_TIME)]).toHaveLength(2)
    expect([...'at 2026-12-04 21:05:07 +01:00 and 2026-12-04 20:05 UTC'.matchAll(RAW_TIME)]).toHaveLength(0)
  })
})

/**
 * Evaluation of device_offline, device_ip_changed and latency_quality on a real store, and the
 * "one statement per rule" property over many devices. Devices come from `registerBandwidthDevice`
 * and bandwidth samples from the real writer; events and latency runs are fixture rows (their
 * writers need a LAN scan / ICMP), inserted here by the test only.
 */
import {afterEach, describe, expect, it} from 'vitest'
import {runCheck} from '../../../src/core/alerts/engine.js'
import {evaluateRule} from '../../../src/core/alerts/evaluate.js'
import {resolveRules} from '../../../src/core/alerts/rules.js'
import {registerBandwidthDevice} from '../../../src/core/bandwidth/admin.js'
import {openStore, type Store} from '../../../src/core/store/index.js'
import {tempStore} from '../../support/cli.js'
import {MINUTE} from '../../support/clock.js'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function store(): Promise<Store> {
  const t = tempStore('netmon-alerts-eval-')
  const s = await openStore({db: t.db})
  cleanups.push(t.cleanup, () => s.close())
  return s
}

const mac = (i: number) => `AA:BB:CC:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`.toUpperCase()

describe('alert evaluation', () => {
  it('device_offline, device_ip_changed (cursor: once, across checks) and latency_quality fire and resolve', async () => {
    const s = await store()
    const now = Date.now()
    await registerBandwidthDevice(s, {mac: mac(1), ip: '10.77.17.11', hostname: 'old'})
    await registerBandwidthDevice(s, {mac: mac(2), ip: '10.77.17.12', hostname: 'fresh'})
    await s.batch([
      {sql: 'UPDATE devices SET last_seen = ? WHERE mac = ?', args: [now - 60 * MINUTE, mac(1)]},
      {sql: 'UPDATE devices SET last_seen = ? WHERE mac = ?', args: [now, mac(2)]},
    ])
    const set = resolveRules({
      rules: [
        {name: 'gone', kind: 'device_offline', not_seen_for: '30m', channels: []},
        {name: 'moved', kind: 'device_ip_changed', scope: {mac: mac(2)}, channels: []},
        {name: 'slow', kind: 'latency_quality', loss_above: 20, rtt_above: '100ms', channels: []},
      ],
    })
    const quiet = (line: string) => void line
    let r = await runCheck(s, set, {now, stderr: quiet})
    expect(r.firing.map(f => `${f.rule}:${f.subject}`)).toEqual([`gone:${mac(1)}`])

    const dev2 = (await s.get<{id: number}>('SELECT id FROM devices WHERE mac = ?', [mac(2)]))!.id
    const dev1 = (await s.get<{id: number}>('SELECT id FROM devices WHERE mac = ?', [mac(1)]))!.id
    await s.batch([
      {
        sql: `INSERT INTO events(ts, device_id, type, detail) VALUES (?, ?, 'ip_changed', ?)`,
        args: [now, dev2, JSON.stringify({from: '10.77.17.12', to: '10.77.17.13'})],
      },
      // Out of the rule's scope: never alerts.
      {
        sql: `INSERT INTO events(ts, device_id, type, detail) VALUES (?, ?, 'ip_changed', ?)`,
        args: [now, dev1, JSON.stringify({from: '10.77.17.11', to: '10.77.17.14'})],
      },
      {
        sql: `INSERT INTO latency_runs(host, ip, method, interval_ms, timeout_ms, started_at, ended_at, sent, received, loss_pct, avg_ms, jitter_ms, grade)
              VALUES ('router', '10.77.17.1', 'icmp', 1000, 1000, ?, ?, 10, 5, 50, 300, 10, 'bad')`,
        args: [now, now],
      },
    ])
    // Device 1 is seen again: gone resolves.
    await s.batch([{sql: 'UPDATE devices SET last_seen = ? WHERE mac = ?', args: [now + MINUTE, mac(1)]}])
    r = await runCheck(s, set, {now: now + MINUTE, stderr: quiet})
    const byRule = Object.fromEntries(r.rules.map(x => [x.rule, x.transitions.map(t => `${t.kind}:${t.subject}`)]))
    expect(byRule).toEqual({
      gone: [`resolved:${mac(1)}`],
      moved: [`pending:${mac(2)}`, `firing:${mac(2)}`],
      slow: ['pending:10.77.17.1', 'firing:10.77.17.1'],
    })
    expect(r.rules.find(x => x.rule === 'moved')!.transitions[1]!.value).toBe('10.77.17.12 → 10.77.17.13')
    expect(r.firing.find(f => f.rule === 'slow')!.value).toBe('loss 50%, rtt 300.0 ms')

    // The same event is not alerted again; a better run resolves latency.
    await s.batch([
      {
        sql: `INSERT INTO latency_runs(host, ip, method, interval_ms, timeout_ms, started_at, ended_at, sent, received, loss_pct, avg_ms, jitter_ms, grade)
              VALUES ('router', '10.77.17.1', 'icmp', 1000, 1000, ?, ?, 10, 10, 0, 2, 1, 'excellent')`,
        args: [now + MINUTE, now + MINUTE],
      },
    ])
    r = await runCheck(s, set, {now: now + 2 * MINUTE, stderr: quiet})
    const again = Object.fromEntries(r.rules.map(x => [x.rule, x.transitions.map(t => `${t.kind}${t.notify ? '!' : ''}`)]))
    expect(again).toEqual({gone: [], moved: ['resolved'], slow: ['resolved!']})
    const events = await s.query<{kind: string}>(`SELECT e.kind FROM alert_events e JOIN alerts a ON a.id = e.alert_id WHERE a.rule = 'moved' ORDER BY e.id`)
    expect(events.map(e => e.kind)).toEqual(['pending', 'firing', 'resolved'])
  })

  it('one store statement per rule, however many devices', async () => {
    const s = await store()
    const n = 200
    for (let i = 0; i < n; i++) await registerBandwidthDevice(s, {mac: mac(i), ip: `10.77.17.${i % 250}`})
    const set = resolveRules({
      rules: [
        {name: 'rate', kind: 'bandwidth_rate', above: '1M'},
        {name: 'usage', kind: 'bandwidth_usage', above: '1GB', window: 'month'},
        {name: 'off', kind: 'device_offline', not_seen_for: '1h', scope: {known: false}},
        {name: 'lat', kind: 'latency_quality', grade_at_or_below: 'poor'},
        {name: 'new', kind: 'device_new'},
      ],
    })
    let calls = 0
    const counted = new Proxy(s, {
      get(target, p, recv) {
        const v = Reflect.get(target, p, recv)
        if (typeof v === 'function' && ['query', 'get', 'readBatch'].includes(String(p)))
          return (...a: unknown[]) => {
            calls++
            return (v as (...x: unknown[]) => unknown).apply(target, a)
          }
        return typeof v === 'function' ? v.bind(target) : v
      },
    })
    const perRule: Record<string, number> = {}
    for (const rule of set.rules) {
      calls = 0
      await evaluateRule(counted, rule, {now: Date.now(), cursor: 0})
      perRule[rule.name] = calls
    }
    // bandwidth_usage: topTalkers (totals, retention, window) + the scope; device_new: one page of
    // `new` events + their devices (one statement each, whatever the number of devices).
    expect(perRule).toEqual({rate: 1, usage: 4, off: 1, lat: 1, new: 2})
  })
})

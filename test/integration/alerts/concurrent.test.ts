/**
 * Two checks at once (cron's `alerts check` beside the agent's alerts job, or two cron runs that
 * overlap): both read the open alerts, both find a new condition, both want to open the alert.
 * The second to write must neither fail on the one-open-alert-per-(rule, subject) index nor
 * notify the transition again: it skips the rule and says so. Made deterministic by holding the
 * first check at its write transaction (a Store whose writeTx waits) while the second runs whole,
 * on two connections to one real libSQL file, as two processes would be.
 */
import {afterEach, describe, expect, it} from 'vitest'
import {runCheck} from '../../../src/core/alerts/engine.js'
import {resolveRules} from '../../../src/core/alerts/rules.js'
import {registerBandwidthDevice} from '../../../src/core/bandwidth/admin.js'
import {runSample} from '../../../src/core/bandwidth/sample.js'
import {openStore, type Store} from '../../../src/core/store/index.js'
import {tempStore} from '../../support/cli.js'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function* chunk(text: string): AsyncIterable<string> {
  yield text
}

describe('concurrent checks', () => {
  it('the later writer of a new alert skips the rule: one alert, one notification, no error', async () => {
    const t = tempStore('netmon-alerts-race-')
    cleanups.push(t.cleanup)
    const a = await openStore({db: t.db})
    const b = await openStore({db: t.db})
    cleanups.push(
      () => a.close(),
      () => b.close(),
    )
    const mac = 'AA:BB:CC:00:09:01'
    const now = Date.now()
    await registerBandwidthDevice(a, {mac, ip: '10.77.26.9', now: now - 3_600_000})
    await runSample(a, {
      source: {kind: 'ndjson', input: chunk(JSON.stringify({mac, sent: 5_000_000, received: 5_000_000, ts: now - 60_000}))},
      mode: 'delta',
      autoRegister: false,
      maxRateBps: 10e9,
    })
    const set = resolveRules({
      channels: {ok: {type: 'exec', command: ['/bin/true']}},
      rules: [{name: 'heavy', kind: 'bandwidth_usage', window: 'rolling_24h', above: '1MB', channels: ['ok']}],
    })
    const quiet = (line: string) => void line

    // Check A reads and evaluates, then waits at its write transaction.
    let reached!: () => void
    const atWrite = new Promise<void>(r => (reached = r))
    let release!: () => void
    const gate = new Promise<void>(r => (release = r))
    const held = Object.create(a) as Store
    held.writeTx = async fn => {
      reached()
      await gate
      return a.writeTx(fn)
    }
    const first = runCheck(held, set, {now, stderr: quiet, deliver: false})
    await atWrite
    // Check B runs whole meanwhile: it opens the alert (firing at once: no `for`) and queues one notification.
    const second = await runCheck(b, set, {now, stderr: quiet, deliver: false})
    expect(second.firing.map(f => f.subject)).toEqual([mac])
    expect(second.queued).toBe(1)
    release()
    const r = await first
    expect(r.rules[0]!.note).toBe('skipped: another check evaluated this rule at the same time')
    expect(r.queued).toBe(0)
    expect((await a.query<{n: number}>(`SELECT count(*) AS n FROM alerts WHERE rule = 'heavy'`))[0]!.n).toBe(1)
    expect((await a.query<{n: number}>(`SELECT count(*) AS n FROM alert_events WHERE notified = 1`))[0]!.n).toBe(1)
    // The next check carries on normally: the alert stays firing, nothing new is sent.
    const next = await runCheck(a, set, {now: now + 1000, stderr: quiet, deliver: false})
    expect(next.rules[0]!.note).toBeUndefined()
    expect(next.firing.map(f => f.subject)).toEqual([mac])
    expect(next.queued).toBe(0)
  })
})

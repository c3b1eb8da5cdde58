/**
 * Issue 10, acceptance 3: the dashboard in a real headless Chromium (Debian's /usr/bin/chromium
 * driven by playwright-core) against a real `netmon serve` over a seeded store: every page loads
 * with no console errors, its charts are drawn from the store's data, auto-refresh picks up new
 * samples, host names from the network are shown as text (never HTML), and a server with a token
 * asks for it. Screenshots go to test-artifacts/serve/ (gitignored, kept by CI as artifacts).
 */
import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {chromium, type BrowserContext, type Page} from 'playwright-core'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ROOT, runCli, tempStore} from '../../support/cli.js'
import {realClockEnv, UNDER_FAKETIME} from '../../support/clock.js'
import {http, startServe, type ServeProc} from './harness.js'
import {seedStore} from './seed.js'
import {writeFlowBuckets} from '../../../src/core/bandwidth/flows.js'
import {keyedMac} from '../../../src/core/collect/runner.js'
import {NetflowListener} from '../../../src/core/netflow/index.js'
import {openStore} from '../../../src/core/store/index.js'
import {FLOW4, flow4Record, ipfix, set, v9Template} from '../../unit/netflow/vectors.js'

const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = join(ROOT, 'test-artifacts', 'serve')
const TOKEN = 'dashboard-token-0123456789'
const haveChromium = existsSync(CHROMIUM)

/**
 * Under libfaketime (issue 13's acceptance runs the suite with the clock 60 days ahead) Chromium
 * crawls: page loads took minutes and timed out under load. The browser runs on the real clock
 * and its pages get the test's clock instead: Date is shifted by the difference, so the charts'
 * "last 15 minutes" and the "x s ago" labels agree with the server's store. Without faketime the
 * shift is 0 and nothing is replaced.
 */
const browserEnv = UNDER_FAKETIME ? realClockEnv() : undefined
function clockShiftScript(): string | null {
  if (!UNDER_FAKETIME) return null
  const real = Number(execFileSync('date', ['+%s%3N'], {env: browserEnv, encoding: 'utf8'}).trim())
  const shift = Date.now() - real
  return `(() => {
    const RealDate = Date, realNow = Date.now, shift = ${shift}
    class ShiftedDate extends RealDate {
      constructor(...a) { if (a.length === 0) super(realNow.call(RealDate) + shift); else super(...a) }
      static now() { return realNow.call(RealDate) + shift }
    }
    globalThis.Date = ShiftedDate
  })()`
}

const tmp = tempStore('netmon-serve-ui-')
let srv: ServeProc
let browser: BrowserContext
let profile: string

beforeAll(async () => {
  if (!haveChromium) return
  mkdirSync(ARTIFACTS, {recursive: true})
  await seedStore(tmp.db)
  srv = await startServe(tmp.db)
  profile = mkdtempSync(join(tmpdir(), 'netmon-chromium-'))
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: {width: 1280, height: 900},
    ...(browserEnv ? {env: browserEnv} : {}),
  })
  const shift = clockShiftScript()
  if (shift) await browser.addInitScript({content: shift})
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await srv?.stop()
  if (profile) rmSync(profile, {recursive: true, force: true})
  tmp.cleanup()
})

interface Watched {
  page: Page
  problems: string[]
}

async function openPage(opts: {allow?: RegExp} = {}): Promise<Watched> {
  const page = await browser.newPage()
  const problems: string[] = []
  page.on('console', m => {
    if ((m.type() === 'error' || m.type() === 'warning') && !opts.allow?.test(m.text())) problems.push(`console ${m.type()}: ${m.text()}`)
  })
  page.on('pageerror', e => problems.push(`page error: ${e.message}`))
  page.on('requestfailed', r => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`))
  // Offline for real: any request off this server is a failure (no CDN).
  await page.route('**/*', route => (route.request().url().startsWith(srv.url) ? route.continue() : route.abort()))
  return {page, problems}
}

async function visit(w: Watched, hash: string, page: string): Promise<void> {
  await w.page.evaluate(() => delete document.body.dataset.ready).catch(() => undefined)
  await w.page.goto(`${srv.url}/${hash}`)
  await w.page.waitForFunction(p => document.body.dataset.ready === p || document.body.dataset.ready === 'error', page, {timeout: 15_000})
  expect(await w.page.evaluate(() => document.body.dataset.ready), `${hash}: ${await w.page.locator('main').innerText()}`).toBe(page)
}

/** For each uPlot chart on the page: its data points and how many canvas pixels were painted. */
async function charts(w: Watched): Promise<Record<string, {points: number; painted: number}>> {
  return w.page.evaluate(() => {
    const out: Record<string, {points: number; painted: number}> = {}
    for (const [id, u] of (window as any).netmonDashboard.charts as Map<string, any>) {
      const canvas = u.ctx.canvas as HTMLCanvasElement
      const px = u.ctx.getImageData(0, 0, canvas.width, canvas.height).data as Uint8ClampedArray
      let painted = 0
      for (let i = 3; i < px.length; i += 4) if (px[i]! > 0) painted++
      out[id] = {points: u.data[0].length, painted}
    }
    return out
  })
}

/** The y-axis ticks uPlot drew for a chart (its computed splits). */
async function yTicks(w: Watched, id: string): Promise<number[]> {
  return w.page.evaluate(i => (window as any).netmonDashboard.charts.get(i).axes[1]._splits as number[], id)
}

/** Canvas pixels of a chart whose colour is (nearly) `rgb` and opaque: a line's stroke. */
async function strokePixels(w: Watched, id: string, rgb: [number, number, number]): Promise<number> {
  return w.page.evaluate(
    ([i, c]) => {
      const u = (window as any).netmonDashboard.charts.get(i)
      const canvas = u.ctx.canvas as HTMLCanvasElement
      const px = u.ctx.getImageData(0, 0, canvas.width, canvas.height).data as Uint8ClampedArray
      let n = 0
      for (let k = 0; k < px.length; k += 4)
        if (px[k + 3]! > 200 && Math.abs(px[k]! - c[0]) < 24 && Math.abs(px[k + 1]! - c[1]) < 24 && Math.abs(px[k + 2]! - c[2]) < 24) n++
      return n
    },
    [id, rgb] as const,
  )
}

async function shot(w: Watched, name: string): Promise<void> {
  const file = join(ARTIFACTS, `${name}.png`)
  await w.page.screenshot({path: file, fullPage: true})
  expect(statSync(file).size).toBeGreaterThan(10_000)
}

describe.skipIf(!haveChromium)('dashboard in headless Chromium', () => {
  it('every page renders the seeded store with no console errors; charts drawn; screenshots saved', async () => {
    // The test's own pixel readbacks (getImageData) make Chromium suggest willReadFrequently.
    const w = await openPage({allow: /willReadFrequently/})
    try {
      await visit(w, '#/', 'overview')
      const main = async () => (await w.page.locator('main').textContent()) ?? ''
      expect(await main()).toContain('Top talkers')
      // Top talkers in the seed's order, in the table.
      const rows = await w.page.locator('main table.data tbody tr td:nth-child(2)').allInnerTexts()
      expect(rows.slice(0, 3)).toEqual(['desktop', 'laptop', 'phone'])
      let c = await charts(w)
      expect(c.top).toMatchObject({points: 3})
      expect(c.top!.painted).toBeGreaterThan(500)
      // Byte ticks in round binary steps (a power of two bytes: 8 MiB, 16 MiB…), not decimal ones.
      const ticks = await yTicks(w, 'top')
      expect(ticks[0]).toBe(0)
      const step = ticks[1]!
      expect(Math.log2(step) % 1, `step ${step}`).toBe(0)
      expect(
        ticks.every((t, i) => t === i * step),
        ticks.join(' '),
      ).toBe(true)
      // Seeded from the stored network total (the seed's samples come every 10 min: at least one
      // complete 5-minute bucket in the last 15 minutes), plus this refresh's point.
      expect(c.live!.points).toBeGreaterThanOrEqual(2)
      await shot(w, 'overview')

      await visit(w, '#/devices', 'devices')
      const text = await main()
      expect(text).toContain('this machine')
      expect(text).toMatch(/online/)
      expect(text).toContain('locally administered')
      await shot(w, 'devices')

      await visit(w, '#/device/AA:BB:CC:DD:EE:02', 'device')
      c = await charts(w)
      // 24 h of 10-minute samples in 5-minute buckets (seed.ts): well over 100 points.
      expect(c.device!.points).toBeGreaterThan(100)
      expect(c.device!.painted).toBeGreaterThan(2000)
      await shot(w, 'device-24h')
      await w.page.getByRole('button', {name: '7d'}).click()
      await w.page.waitForFunction(() => (window as any).netmonDashboard.charts.get('device')?.data[0].length < 100)
      expect(await main()).toContain('1h resolution')
      await shot(w, 'device-7d')
      // 30 days: daily buckets (the seed has one day of data: one or two points).
      await w.page.getByRole('button', {name: '30d'}).click()
      await w.page.waitForFunction(() => /1d resolution/.test(document.querySelector('main')?.textContent ?? ''))
      c = await charts(w)
      expect(c.device!.points).toBeGreaterThanOrEqual(1)
      expect(c.device!.points).toBeLessThanOrEqual(31)
      await shot(w, 'device-30d')

      // The phone sends as much as it receives: both lines stay visible (upload under the dashed
      // download, wider), not one hidden under the other.
      await visit(w, '#/device/AA:BB:CC:DD:EE:03', 'device')
      const [up, down] = [await strokePixels(w, 'device', [0xd9, 0x77, 0x06]), await strokePixels(w, 'device', [0x25, 0x63, 0xeb])]
      expect(up, `upload pixels ${up}, download ${down}`).toBeGreaterThan(300)
      expect(down).toBeGreaterThan(300)
      await shot(w, 'device-equal-tx-rx')

      await visit(w, '#/timeline', 'timeline')
      expect(await main()).toContain('promoted')
      // Details are text, not JSON.
      expect(await main()).toContain('named "this machine"')
      expect(await main()).not.toMatch(/\{"/)

      await visit(w, '#/latency', 'latency')
      expect(await w.page.locator('.badge.grade-fair, .badge.grade-poor, .badge.grade-bad, .badge.grade-good, .badge.grade-excellent').count()).toBeGreaterThan(
        0,
      )
      c = await charts(w)
      expect(c.latency!.points).toBeGreaterThan(0)
      await shot(w, 'latency')

      await visit(w, '#/meters', 'meters')
      expect(await main()).toContain('Meter 1')
      expect(await main()).toContain('timeout after 3000 ms')
      await shot(w, 'meters')

      await visit(w, '#/meter/m1', 'meter')
      const m = await main()
      for (const label of [
        'Real-time TX',
        'DLMS requests sent',
        'MQTT messages sent',
        'Data consumption',
        'peak TX',
        'Bandwidth history',
        'Packet rate history',
      ])
        expect(m).toContain(label)
      expect(m).toContain('1800') // 30 rows × 60 DLMS requests
      c = await charts(w)
      expect(c['meter-bw']).toMatchObject({points: 30})
      expect(c['meter-pk']).toMatchObject({points: 30})
      expect(c['meter-bw']!.painted).toBeGreaterThan(2000)
      expect(c['meter-reading-energy_import_kwh']!.points).toBe(40)
      // Section E: m1's interface errors/drops (seed.ts: 3 errors, 42 drops) are shown …
      expect(await w.page.locator('#meter-issues').count()).toBe(1)
      const issues = (await w.page.locator('#meter-issues').textContent()) ?? ''
      expect(issues).toMatch(/Network errors\s*3/)
      expect(issues).toMatch(/Packet drops\s*42/)
      expect(issues).toContain('TX 12 · RX 30')
      await shot(w, 'meter')
      // … and m2, with none, shows no such section.
      await visit(w, '#/meter/m2', 'meter')
      expect(await main()).toContain('Meter 2')
      expect(await w.page.locator('#meter-issues').count()).toBe(0)
      expect(await main()).not.toContain('Packet drops')

      expect(w.problems).toEqual([])
    } finally {
      await w.page.close()
    }
  }, 120_000)

  it('auto-refresh shows new samples without a reload', async () => {
    const w = await openPage()
    try {
      await w.page.goto(`${srv.url}/?refresh=1000#/`)
      await w.page.waitForFunction(() => document.body.dataset.ready === 'overview')
      const before = await w.page.locator('main table.data tbody tr').first().innerText()
      // The phone suddenly moves 50 GiB: it must take the first row by itself.
      const r = await http(`${srv.url}/api/network/bandwidth/sample`, {
        method: 'POST',
        json: {mac: 'AA:BB:CC:DD:EE:03', bytes_sent: 50 * 2 ** 30, bytes_received: 0},
      })
      expect(r.status).toBe(200)
      await w.page.waitForFunction(() => document.querySelector('main table.data tbody tr td:nth-child(2)')?.textContent === 'phone', null, {timeout: 15_000})
      expect(before).toContain('desktop')
      expect(w.problems).toEqual([])
    } finally {
      await w.page.close()
    }
  }, 60_000)

  it('names from the network are text, never markup', async () => {
    const evil = '<img src=x onerror="window.__pwned=1">'
    const r = await http(`${srv.url}/api/network/bandwidth/register`, {method: 'POST', json: {ip: '10.66.0.1', mac: 'aa:bb:cc:66:00:01', hostname: evil}})
    expect(r.status).toBe(200)
    const w = await openPage()
    try {
      await visit(w, '#/devices', 'devices')
      expect(await w.page.locator('main').innerText()).toContain(evil)
      expect(await w.page.evaluate(() => (window as any).__pwned)).toBeUndefined()
      expect(await w.page.locator('main img').count()).toBe(0)
    } finally {
      await w.page.close()
    }
  }, 60_000)

  it('promoted names in the top talkers table and on the device page, which a name opens (issue 17)', async () => {
    const r = await http(`${srv.url}/api/network/devices/AA:BB:CC:DD:EE:02/promote`, {method: 'POST', json: {name: 'Office desktop'}})
    expect(r.status, r.text).toBe(200)
    const w = await openPage()
    try {
      await visit(w, '#/', 'overview')
      const rows = await w.page.locator('main table.data tbody tr td:nth-child(2)').allInnerTexts()
      // Earlier tests add samples and devices (order and rows vary): the named one is what matters.
      expect(rows).toContain('Office desktop')
      expect(rows).toContain('laptop')
      expect(rows).not.toContain('desktop')
      await visit(w, '#/device/AA:BB:CC:DD:EE:02', 'device')
      expect(await w.page.locator('main h1').innerText()).toContain('Office desktop')
      // The device page by its name: the API resolves it (devices/resolve.ts).
      await visit(w, `#/device/${encodeURIComponent('office desktop')}`, 'device')
      expect(await w.page.locator('main h1').innerText()).toContain('Office desktop')
      await shot(w, 'device-named')
      expect(w.problems).toEqual([])
    } finally {
      await w.page.close()
    }
  }, 60_000)

  it('the overview lists firing alerts, and hides the list when none fire', async () => {
    const w = await openPage()
    try {
      await visit(w, '#/', 'overview')
      expect(await w.page.locator('#overview-alerts').count()).toBe(0)
      // Alerts from `alerts check` on the served store: one rule firing for every device, one only pending.
      const rules = join(tmp.dir, 'ui-alerts.yaml')
      writeFileSync(
        rules,
        `rules:
  - {name: ui-heavy, kind: bandwidth_usage, window: rolling_24h, above: 1B, severity: critical, message: "{{device.name}} used {{value}}"}
  - {name: ui-later, kind: bandwidth_usage, window: rolling_24h, above: 1B, for: 1h}
`,
      )
      const r = await runCli(['alerts', 'check', '--rules', rules, '--json'], {db: tmp.db})
      const firing = r.json.firing as {id: number; rule: string; message: string}[]
      expect(firing.length).toBeGreaterThan(0)
      await visit(w, '#/', 'overview')
      const box = w.page.locator('#overview-alerts')
      await box.waitFor({state: 'visible'})
      expect(await box.locator('h2').innerText()).toBe(`Firing alerts (${firing.length})`)
      const items = await box.locator('li').allInnerTexts()
      expect(items).toHaveLength(firing.length)
      for (const f of firing)
        expect(
          items.some(t => t.includes('critical') && t.includes(f.rule) && t.includes(f.message)),
          f.message,
        ).toBe(true)
      // The pending rule is not listed.
      expect(items.join('\n')).not.toContain('ui-later')
      await shot(w, 'overview-alerts')

      // Each device page lists that device's alerts (firing first), its meter page the meter's.
      const mine = (await runCli(['alerts', 'list', '--subject', 'AA:BB:CC:DD:EE:02', '--json'], {db: tmp.db})).json.alerts as {rule: string; state: string}[]
      expect(mine.map(a => `${a.rule} ${a.state}`).sort()).toEqual(['ui-heavy firing', 'ui-later pending'])
      await visit(w, '#/device/AA:BB:CC:DD:EE:02', 'device')
      const dev = w.page.locator('#device-alerts')
      await dev.waitFor({state: 'visible'})
      expect(await dev.locator('h2').innerText()).toBe('Alerts (1 firing)')
      expect(await dev.locator('li').evaluateAll(l => l.map(x => (x as HTMLElement).dataset.state))).toEqual(['firing', 'pending'])
      expect((await dev.locator('li').allInnerTexts()).join('\n')).toMatch(/critical ui-heavy firing · Office desktop used/)
      await shot(w, 'device-alerts')
      const meterRules = join(tmp.dir, 'ui-meter.yaml')
      writeFileSync(meterRules, 'rules:\n  - {name: ui-meter-quiet, kind: meter_down, no_reading_for: 1s, scope: {meter: m2}}\n')
      expect((await runCli(['alerts', 'check', '--rules', meterRules], {db: tmp.db})).code).toBe(3)
      await visit(w, '#/meter/m2', 'meter')
      expect(await w.page.locator('#meter-alerts li').allInnerTexts()).toEqual([expect.stringMatching(/ui-meter-quiet firing/)])
      await visit(w, '#/meter/m1', 'meter')
      expect(await w.page.locator('#meter-alerts').count()).toBe(0)
      expect(w.problems).toEqual([])
    } finally {
      await w.page.close()
    }
  }, 60_000)

  it("a flow host's device page shows its traffic by protocol and port (issue 15)", async () => {
    // Real IPFIX bytes through the listener and the agent's write path into the served store.
    const ip4 = (a: string) => a.split('.').map(Number)
    const rec = (src: string, dst: string, sp: number, dp: number, proto: number, octets: number) => flow4Record(ip4(src), ip4(dst), sp, dp, proto, octets, 1)
    const l = new NetflowListener({localSubnets: ['10.88.0.0/16'], intervalMs: 60_000})
    const at = Date.now() - 120_000
    l.ingest(
      ipfix(
        [
          set(2, v9Template(256, FLOW4)),
          set(
            256,
            [
              rec('10.88.0.5', '93.184.216.34', 40000, 443, 6, 300_000),
              rec('93.184.216.34', '10.88.0.5', 443, 40000, 6, 7_000_000),
              rec('10.88.0.5', '9.9.9.9', 53124, 53, 17, 900),
            ].flat(),
          ),
        ],
        {exportSecs: Math.floor(at / 1000)},
      ),
      '127.0.0.1',
    )
    const store = await openStore({db: tmp.db})
    try {
      const w = await writeFlowBuckets(store, l.drain(), {intervalMs: 60_000})
      expect(w.port_rows).toBe(2)
    } finally {
      await store.close()
    }
    const mac = keyedMac('ip', '10.88.0.5')
    const page = await openPage()
    try {
      await visit(page, `#/device/${mac}`, 'device')
      const box = page.page.locator('#device-ports')
      await box.waitFor({state: 'visible'})
      const rows = (await box.locator('tbody tr').allInnerTexts()).map(t => t.split('\t').map(c => c.trim()))
      // Ranked by total: tcp/443 (300,000 B up, 7,000,000 B down), then udp/53 (900 B up).
      expect(rows).toEqual([
        ['tcp/443', '293.0 KiB', '6.68 MiB', '6.96 MiB', '2'],
        ['udp/53', '900 B', '0 B', '900 B', '1'],
      ])
      // One bucket: the time axis spans an hour around it, not years.
      const x = await page.page.evaluate(() => {
        const u = (window as any).netmonDashboard.charts.get('device')
        return {points: u.data[0].length as number, span: (u.scales.x.max - u.scales.x.min) as number}
      })
      expect(x.points).toBe(1)
      expect(x.span).toBeLessThanOrEqual(3600)
      expect(await page.page.locator('main').innerText()).toContain('first seen at 10.88.0.5, by bandwidth')
      await shot(page, 'device-ports')
      expect(page.problems).toEqual([])
    } finally {
      await page.page.close()
    }
  }, 60_000)

  it('a server with a token: the page asks for it, then shows the data', async () => {
    const secured = await startServe(tmp.db, ['--token-env', 'NETMON_UI_TOKEN'], {NETMON_UI_TOKEN: TOKEN})
    // The first API call is refused (401) by design; that one console line is expected.
    const w = await openPage({allow: /status of 401/})
    await w.page.route('**/*', route => (route.request().url().startsWith(secured.url) ? route.continue() : route.abort()))
    try {
      await w.page.goto(`${secured.url}/#/meters`)
      const dialog = w.page.locator('dialog#login')
      await dialog.waitFor({state: 'visible'})
      await w.page.fill('#token', TOKEN)
      await w.page.click('#login-form button[type=submit]')
      await w.page.waitForFunction(() => document.body.dataset.ready === 'meters', null, {timeout: 15_000})
      expect(await w.page.locator('main').innerText()).toContain('Meter 1')
      await shot(w, 'token-meters')
      expect(w.problems).toEqual([])
    } finally {
      await w.page.close()
      await secured.stop()
    }
  }, 60_000)
})

// netmon dashboard (issue 10). Plain browser JavaScript, no build step, no CDN: it talks only to
// the netmon serve that delivered it, through the same REST API scripts use. Every value that came
// from the network (host names, vendors, meter names) is inserted as text, never as HTML.
;(() => {
  // ?refresh=MS changes the auto-refresh period (default 5 s; at least 1 s).
  const REFRESH_MS = Math.max(1000, Number(new URLSearchParams(location.search).get('refresh')) || 5000)
  const main = document.getElementById('main')
  const charts = new Map() // id → uPlot instance (reused across refreshes)
  const state = {
    server: null,
    page: null,
    token: sessionStorage.getItem('netmon-token'),
    timer: null,
    range: '24h',
    sort: 'total',
    latencyTarget: null,
    live: [],
  }
  // For tests and the curious: what is on screen.
  window.netmonDashboard = {charts, state}

  // ---------- helpers ----------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag)
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue
      if (k === 'class') el.className = v
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v)
      else if (k === 'dataset') Object.assign(el.dataset, v)
      else el.setAttribute(k, v === true ? '' : String(v))
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue
      el.append(c instanceof Node ? c : document.createTextNode(String(c)))
    }
    return el
  }
  const fmtRate = bps => {
    if (bps === null || bps === undefined || Number.isNaN(bps)) return '–'
    if (bps >= 1e9) return (bps / 1e9).toFixed(2) + ' Gbit/s'
    if (bps >= 1e6) return (bps / 1e6).toFixed(2) + ' Mbit/s'
    if (bps >= 1e3) return (bps / 1e3).toFixed(1) + ' kbit/s'
    return Math.round(bps) + ' bit/s'
  }
  const fmtBytes = b => {
    if (b === null || b === undefined) return '–'
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
    let v = b
    let i = 0
    while (Math.abs(v) >= 1024 && i < units.length - 1) {
      v /= 1024
      i++
    }
    return i === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 1 : 2)} ${units[i]}`
  }
  const fmtMs = v => (v === null || v === undefined ? '–' : v < 10 ? v.toFixed(3) : v < 100 ? v.toFixed(2) : v.toFixed(1))
  const fmtTime = iso => (iso ? new Date(iso).toLocaleString() : '–')
  const ago = ms => {
    if (ms === null || ms === undefined) return '–'
    const s = Math.round((Date.now() - ms) / 1000)
    if (s < 60) return `${s}s ago`
    if (s < 3600) return `${Math.round(s / 60)}m ago`
    if (s < 86400) return `${Math.round(s / 3600)}h ago`
    return `${Math.round(s / 86400)}d ago`
  }
  const metric = (label, value, sub) =>
    h('div', {class: 'card metric'}, h('div', {class: 'label'}, label), h('div', {class: 'value'}, value), sub ? h('div', {class: 'sub'}, sub) : null)
  const card = (title, ...body) => h('section', {class: 'card'}, title ? h('h2', {}, title) : null, ...body)
  const table = (headers, rows, onRow) =>
    h(
      'div',
      {class: 'table-wrap'},
      h(
        'table',
        {class: 'data'},
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            headers.map(x => h('th', {class: x.num ? 'num' : ''}, x.label ?? x)),
          ),
        ),
        h(
          'tbody',
          {},
          rows.length === 0 ? h('tr', {}, h('td', {colspan: headers.length, class: 'muted'}, 'Nothing yet.')) : null,
          rows.map((r, i) =>
            h(
              'tr',
              {class: onRow ? 'link' : '', onclick: onRow ? () => onRow(i) : null},
              r.map((c, j) => h('td', {class: headers[j].num ? 'num' : ''}, c)),
            ),
          ),
        ),
      ),
    )
  /** Replaces the page content; null/false entries (panels not shown) are skipped. */
  const render = (...nodes) => main.replaceChildren(...nodes.flat().filter(n => n !== null && n !== undefined && n !== false))
  const gradeBadge = g => (g ? h('span', {class: `badge grade-${g}`}, g) : h('span', {class: 'muted'}, '–'))
  const notice = text => h('div', {class: 'notice'}, text)
  const devName = d => d.name || d.hostname || d.mac || d.ip || '?'

  class ApiError extends Error {
    constructor(status, body) {
      super(body?.error?.message || `HTTP ${status}`)
      this.status = status
      this.code = body?.error?.code
    }
  }

  async function api(path) {
    const headers = {Accept: 'application/json'}
    if (state.token) headers.Authorization = `Bearer ${state.token}`
    const res = await fetch(path, {headers})
    let body = null
    try {
      body = await res.json()
    } catch {
      body = null
    }
    if (res.status === 401) {
      await askToken(state.token ? 'That token was not accepted.' : '')
      return api(path)
    }
    if (!res.ok) throw new ApiError(res.status, body)
    return body
  }

  let tokenPrompt = null
  function askToken(message) {
    if (tokenPrompt) return tokenPrompt
    const dlg = document.getElementById('login')
    document.getElementById('login-error').textContent = message
    tokenPrompt = new Promise(resolve => {
      document.getElementById('login-form').onsubmit = () => {
        state.token = document.getElementById('token').value.trim()
        sessionStorage.setItem('netmon-token', state.token)
        tokenPrompt = null
        resolve()
      }
    })
    dlg.showModal()
    return tokenPrompt
  }

  /** Routes whose capability is not in this build are skipped instead of failing. */
  const ready = cap => state.server?.capabilities[cap] !== false

  // ---------- charts (uPlot) ----------
  const css = name => getComputedStyle(document.documentElement).getPropertyValue(name).trim()

  /**
   * Y ticks for byte charts in round binary units (0, 256 KiB, 512 KiB, … or 0, 2 GiB, 4 GiB, …):
   * uPlot's own steps are decimal, which reads as 47.68 MiB on a byte axis. Returns the scale top
   * (a whole number of steps) and the ticks.
   */
  function binaryTicks(max) {
    if (!(max > 0)) return {top: 1, ticks: [0]}
    let unit = 1
    while (max / unit >= 1024) unit *= 1024
    const m = max / unit
    const step = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024].find(x => m / x <= 5) * unit
    const top = Math.ceil(max / step) * step
    const ticks = []
    for (let v = 0; v <= top; v += step) ticks.push(v)
    return {top, ticks}
  }

  function chart(container, id, {series, data, yFmt, bars, xLabels, height = 240, xRange, points}) {
    const hasData = data[0].length > 0
    let u = charts.get(id)
    if (!hasData) {
      if (u) {
        u.destroy()
        charts.delete(id)
      }
      container.replaceChildren(h('div', {class: 'empty'}, 'No data in this range.'))
      return null
    }
    if (typeof window.uPlot !== 'function') {
      container.replaceChildren(h('div', {class: 'empty'}, 'Chart library not loaded.'))
      return null
    }
    const width = Math.max(300, container.clientWidth || 600)
    if (u?.root.isConnected && u.root.parentElement === container && u.series.length === series.length + 1) {
      u.setData(data)
      return u
    }
    if (u) u.destroy()
    container.replaceChildren()
    const fg = css('--muted') || '#6b7280'
    const grid = css('--line') || '#e3e6eb'
    const axis = {stroke: fg, grid: {stroke: grid, width: 1}, ticks: {stroke: grid}}
    const opts = {
      width,
      height,
      scales: {x: {time: !bars}},
      legend: {live: true},
      cursor: {drag: {x: !bars, y: false}},
      series: [
        bars ? {label: 'device', value: (_u, v) => (v === null ? '–' : (xLabels?.[v] ?? v))} : {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: s.color,
          fill: bars ? s.color + 'cc' : s.color + '22',
          width: bars ? 0 : i === 0 ? 2.5 : 1.5,
          // Two lines with equal values (TX = RX) stay distinguishable: the second is dashed and
          // thinner, drawn over the first.
          dash: bars || i === 0 ? undefined : [6, 4],
          points: {show: points ?? data[0].length < 3},
          paths: bars && window.uPlot.paths?.bars ? window.uPlot.paths.bars({size: [0.6, 80]}) : undefined,
          value: (_u, v) => (yFmt ? yFmt(v) : v),
        })),
      ],
      axes: [
        bars ? {...axis, values: (_u, vals) => vals.map(v => (Number.isInteger(v) ? (xLabels?.[v] ?? '') : '')), gap: 4} : axis,
        {
          ...axis,
          size: 95,
          values: (_u, vals) => vals.map(v => (yFmt ? yFmt(v) : v)),
          ...(yFmt === fmtBytes ? {splits: (_u, _i, _min, max) => binaryTicks(max).ticks} : {}),
        },
      ],
    }
    if (yFmt === fmtBytes) opts.scales.y = {range: (_u, _min, max) => [0, binaryTicks(max).top]}
    if (bars) opts.scales.x.range = (_u, min, max) => [min - 0.5, max + 0.5]
    else if (xRange) opts.scales.x.range = () => xRange()
    // One point (or all at one time): uPlot widens that to 86,400,000 s (it assumes ms stamps),
    // which reads as years; show the hour around it instead.
    else
      opts.scales.x.range = (u, min, max) => {
        const xs = u.data[0]
        const a = xs[0]
        const b = xs[xs.length - 1]
        return xs.length && b - a < 60 ? [a - 1800, b + 1800] : [min, max]
      }
    u = new window.uPlot(opts, data, container)
    charts.set(id, u)
    return u
  }

  window.addEventListener('resize', () => {
    for (const u of charts.values()) {
      const w = u.root.parentElement?.clientWidth
      if (w) u.setSize({width: Math.max(300, w), height: u.height})
    }
  })

  // ---------- pages ----------
  const pages = {
    async overview() {
      const [stats, top, inv, bridge, alerts] = await Promise.all([
        ready('bandwidth') ? api('/api/network/bandwidth/stats') : null,
        ready('bandwidth') ? api(`/api/network/bandwidth/top-talkers?limit=10&sort_by=${state.sort}`) : null,
        ready('inventory') ? api('/api/network/stats').catch(() => null) : null,
        ready('bridge') ? api('/api/bridge/status').catch(() => null) : null,
        ready('alerts') ? api('/api/alerts?state=firing&limit=20').catch(() => null) : null,
      ])
      const out = [h('h1', {}, 'Network')]
      // Firing alerts (issue 16): a small list, only when something fires.
      if (alerts?.alerts.length) {
        const order = {critical: 0, warning: 1, info: 2}
        const list = [...alerts.alerts].sort((a, b) => (order[a.severity] ?? 3) - (order[b.severity] ?? 3) || b.started_at_ms - a.started_at_ms)
        out.push(
          h(
            'section',
            {class: 'card alerts', id: 'overview-alerts'},
            h('h2', {}, `Firing alerts (${list.length}${list.length === 20 ? '+' : ''})`),
            h(
              'ul',
              {},
              list.map(a =>
                h(
                  'li',
                  {'data-alert': String(a.id)},
                  h('span', {class: `badge sev-${a.severity}`}, a.severity),
                  ' ',
                  h('strong', {}, a.rule),
                  ' ',
                  a.message || a.subject,
                  ' ',
                  h('span', {class: 'muted'}, `since ${ago(a.fired_at_ms ?? a.started_at_ms)}${a.acked ? ' · acked' : ''}`),
                ),
              ),
            ),
          ),
        )
      }
      if (stats) {
        const n = stats.network
        out.push(
          h(
            'div',
            {class: 'grid'},
            metric('Upload now', fmtRate(n.upload_bps)),
            metric('Download now', fmtRate(n.download_bps)),
            // "Now" is the API's: devices whose latest sample is too old count 0 (stale_devices).
            metric('Total now', fmtRate(n.total_bps), n.stale_devices ? `${n.stale_devices} device(s) with no recent sample` : ''),
            metric('Traffic counted', fmtBytes(n.total_bytes), `${fmtBytes(n.bytes_sent)} up · ${fmtBytes(n.bytes_received)} down`),
            metric(
              'Devices',
              String(inv ? inv.devices.total : stats.devices_count),
              inv ? `${inv.devices.online} online · ${inv.devices.new_24h} new in 24 h` : 'with bandwidth accounting',
            ),
            inv?.last_scan
              ? metric(
                  'Last scan',
                  inv.last_scan.status === 'running' ? `${inv.last_scan.percent}%` : `${inv.last_scan.found} found`,
                  `${ago(inv.last_scan.started_ms)} · ${inv.last_scan.targets.join(' ')}`,
                )
              : null,
            bridge ? metric('Bridge', bridge.state, `outbox ${bridge.outbox.depth}`) : null,
          ),
        )
        // Live network rate: one point per refresh while the page is open, seeded on the first
        // load with the stored network total of the last 15 minutes (complete 5-minute buckets,
        // each at its end, as its average rate), so the chart does not start empty.
        const now = Date.now() / 1000
        if (!state.live.length && ready('bandwidth')) {
          const past = await api('/api/network/bandwidth/history?since=20m&resolution=5m').catch(() => null)
          for (const p of past?.points ?? []) {
            const end = (p.ts_ms + 300_000) / 1000
            if (end <= now && end > now - 900 && p.upload_bps !== null) state.live.push([end, p.upload_bps, p.download_bps])
          }
        }
        state.live.push([now, n.upload_bps, n.download_bps])
        state.live = state.live.filter(p => p[0] > now - 900)
      } else out.push(notice('Bandwidth accounting is not available in this build.'))

      if (top) {
        const liveEl = h('div', {class: 'chart', id: 'chart-live'})
        const topEl = h('div', {class: 'chart', id: 'chart-top'})
        const sortButtons = h(
          'div',
          {class: 'buttons'},
          h('span', {class: 'muted'}, 'sort by'),
          ['total', 'upload', 'download', 'current'].map(s =>
            h('button', {class: state.sort === s ? 'active' : '', onclick: () => ((state.sort = s), refresh())}, s),
          ),
        )
        out.push(
          h('div', {class: 'cols'}, card('Top talkers', sortButtons, topEl), card('Network rate (live, this page)', liveEl)),
          card(
            'Top talkers',
            table(
              [
                '#',
                'device',
                'IP',
                'MAC',
                {label: 'now', num: true},
                {label: 'sent', num: true},
                {label: 'received', num: true},
                {label: 'total', num: true},
                {label: 'peak', num: true},
              ],
              top.top_talkers.map(t => [
                t.rank,
                // The promoted name (devices promote --name) first, as everywhere: devName.
                devName(t),
                t.ip || '–',
                t.mac || '–',
                t.stale ? 'stale' : fmtRate(t.current_bps),
                fmtBytes(t.total_bytes_sent),
                fmtBytes(t.total_bytes_received),
                fmtBytes(t.total_bytes),
                fmtRate(t.peak_bps),
              ]),
              i => go(`#/device/${encodeURIComponent(top.top_talkers[i].mac)}`),
            ),
          ),
        )
        render(...out)
        const labels = top.top_talkers.map(t => devName(t))
        const key =
          state.sort === 'upload'
            ? 'total_bytes_sent'
            : state.sort === 'download'
              ? 'total_bytes_received'
              : state.sort === 'current'
                ? 'current_bps'
                : 'total_bytes'
        chart(topEl, 'top', {
          bars: true,
          xLabels: labels,
          series: [{label: state.sort === 'current' ? 'rate now' : 'bytes', color: '#2563eb'}],
          data: [top.top_talkers.map((_t, i) => i), top.top_talkers.map(t => t[key])],
          yFmt: state.sort === 'current' ? fmtRate : fmtBytes,
        })
        chart(liveEl, 'live', {
          series: [
            {label: 'upload', color: '#d97706'},
            {label: 'download', color: '#2563eb'},
          ],
          data: [state.live.map(p => p[0]), state.live.map(p => p[1]), state.live.map(p => p[2])],
          yFmt: fmtRate,
          // The last 15 minutes, filling up from the right while the page is open.
          xRange: () => [Date.now() / 1000 - 900, Date.now() / 1000 + 5],
        })
      } else render(...out)
    },

    async devices() {
      let rows
      let inventory = false
      if (ready('inventory')) {
        const r = await api('/api/network/devices')
        inventory = true
        rows = r.devices
      } else {
        const r = await api('/api/network/bandwidth/stats')
        rows = r.devices.map(d => ({...d, status: 'unknown', last_seen_ms: d.last_update_ms}))
      }
      const bw = ready('bandwidth') && inventory ? await api('/api/network/bandwidth/stats').catch(() => null) : null
      const rate = new Map((bw?.devices ?? []).map(d => [d.mac, d]))
      const online = rows.filter(d => d.status === 'online').length
      render(
        h('h1', {}, 'Devices'),
        inventory
          ? h('p', {class: 'muted'}, `${rows.length} devices, ${online} online at their last scan`)
          : notice('The device inventory is not available in this build; showing the devices with bandwidth accounting.'),
        card(
          null,
          table(
            ['status', 'name', 'IP', 'MAC', 'vendor', 'known', 'open ports', 'last seen', {label: 'now', num: true}, {label: 'total', num: true}],
            rows.map(d => {
              const b = rate.get(d.mac) ?? d
              const on = d.status === 'online' ? 'on' : d.status === 'offline' ? 'off' : ''
              return [
                h('span', {}, h('span', {class: `dot ${on}`}), d.status === 'unknown' ? 'not scanned' : d.status),
                devName(d),
                d.ip || '–',
                d.mac || '–',
                d.vendor || (d.mac_kind === 'local' ? 'locally administered (random)' : '–'),
                d.known ? 'yes' : '',
                (d.open_ports ?? []).join(', '),
                ago(d.last_seen_ms),
                b.current_bps !== undefined ? fmtRate(b.current_bps) : '–',
                b.total_bytes !== undefined ? fmtBytes(b.total_bytes) : '–',
              ]
            }),
            i => go(`#/device/${encodeURIComponent(rows[i].mac || rows[i].ip)}`),
          ),
        ),
      )
    },

    async device(mac) {
      const ranges = {'24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000}
      const [stats, hist, events, lat] = await Promise.all([
        ready('bandwidth')
          ? api(`/api/network/bandwidth/stats?mac=${encodeURIComponent(mac)}`).catch(e => (e.status === 404 ? null : Promise.reject(e)))
          : null,
        ready('bandwidth')
          ? api(`/api/network/bandwidth/history/${encodeURIComponent(mac)}?since=${state.range}`).catch(e => (e.status === 404 ? null : Promise.reject(e)))
          : null,
        ready('inventory') ? api(`/api/network/devices/${encodeURIComponent(mac)}`).catch(e => (e.status === 404 ? null : Promise.reject(e))) : null,
        ready('latency') ? api(`/api/network/latency/${encodeURIComponent(mac)}?since=${state.range}`).catch(() => null) : null,
      ])
      const d = stats?.device
      const inv = events?.device
      // Its alerts (issue 16): device kinds name the MAC, latency the IP.
      const subjects = [...new Set([inv?.mac, d?.mac, inv?.ip, d?.ip].filter(Boolean))]
      const alerts = ready('alerts') && subjects.length ? await subjectAlerts(subjects) : null
      const chartEl = h('div', {class: 'chart', id: 'chart-device'})
      const latEl = h('div', {class: 'chart', id: 'chart-device-latency'})
      render(
        h('h1', {}, inv ? `${devName(inv)} (${inv.ip || '–'})` : d ? `${devName(d)} (${d.ip || '–'})` : mac),
        inv
          ? h(
              'p',
              {class: 'muted'},
              h('span', {class: `dot ${inv.status === 'online' ? 'on' : inv.status === 'offline' ? 'off' : ''}`}),
              `${inv.status === 'unknown' ? 'not scanned' : inv.status} · ${inv.vendor || (inv.mac_kind === 'local' ? 'locally administered MAC' : 'vendor unknown')} · ${inv.known ? 'known' : 'not promoted'} · first seen ${fmtTime(inv.first_seen)} · last seen ${ago(inv.last_seen_ms)}`,
              events.ports.length ? ` · open ports ${events.ports.map(p => p.port + (p.service ? ` (${p.service})` : '')).join(', ')}` : '',
            )
          : null,
        d && d.sample_count > 0
          ? h(
              'div',
              {class: 'grid'},
              metric(
                'Now',
                fmtRate(d.current.total_bps),
                d.current.stale
                  ? `no recent sample (latest ${fmtTime(d.current_as_of)})`
                  : `${fmtRate(d.current.upload_bps)} up · ${fmtRate(d.current.download_bps)} down`,
              ),
              metric('Average', fmtRate(d.average.total_bps)),
              metric('Peak', fmtRate(d.peak.bps), d.peak.timestamp_iso ? fmtTime(d.peak.timestamp_iso) : ''),
              metric('Total', fmtBytes(d.total.total_bytes), `${fmtBytes(d.total.bytes_sent)} up · ${fmtBytes(d.total.bytes_received)} down`),
              metric('Samples', String(d.sample_count), `since ${fmtTime(d.first_seen)}`),
            )
          : notice('No bandwidth samples for this device (register it with `netmon bandwidth register` and feed `bandwidth sample`).'),
        d &&
          d.sample_count > 0 &&
          card(
            `Bandwidth history (${hist ? hist.resolution : '–'} resolution)`,
            h(
              'div',
              {class: 'buttons'},
              Object.keys(ranges).map(r => h('button', {class: state.range === r ? 'active' : '', onclick: () => ((state.range = r), refresh())}, r)),
            ),
            chartEl,
          ),
        lat && lat.summary.sent > 0
          ? card(
              `Latency (${lat.ip ?? ''})`,
              h(
                'p',
                {},
                `avg ${fmtMs(lat.summary.avg_ms)} ms · jitter ${fmtMs(lat.summary.jitter_ms)} ms · loss ${lat.summary.loss_pct}% `,
                gradeBadge(lat.summary.grade),
              ),
              latEl,
            )
          : null,
        d?.by_port?.length
          ? card(
              'Traffic by protocol and port (flow sources)',
              h(
                'div',
                {id: 'device-ports'},
                table(
                  ['protocol/port', {label: 'up', num: true}, {label: 'down', num: true}, {label: 'total', num: true}, {label: 'flows', num: true}],
                  d.by_port.map(p => [
                    p.port ? `${p.protocol_name}/${p.port}` : p.protocol_name,
                    fmtBytes(p.bytes_sent),
                    fmtBytes(p.bytes_received),
                    fmtBytes(p.total_bytes),
                    String(p.flows),
                  ]),
                ),
              ),
            )
          : null,
        events && events.ips.length > 1
          ? card(
              'Addresses',
              table(
                ['IP', 'first seen', 'last seen', ''],
                events.ips.map(i => [i.ip, fmtTime(i.first_seen), fmtTime(i.last_seen), i.current ? 'current' : '']),
              ),
            )
          : null,
        alertsCard(alerts, 'device-alerts'),
        events ? card('Events', eventsTable(events.events, false)) : null,
      )
      if (hist) {
        const pts = hist.points
        chart(chartEl, 'device', {
          series: [
            {label: 'upload', color: '#d97706'},
            {label: 'download', color: '#2563eb'},
          ],
          data: [pts.map(p => p.ts_ms / 1000), pts.map(p => p.upload_bps), pts.map(p => p.download_bps)],
          yFmt: fmtRate,
        })
      }
      if (lat && lat.summary.sent > 0) latencyChart(latEl, 'device-latency', lat)
    },

    async timeline() {
      if (!ready('inventory')) return render(h('h1', {}, 'Timeline'), notice('The device inventory is not available in this build.'))
      const r = await api('/api/network/timeline')
      render(
        h('h1', {}, 'Timeline'),
        h('p', {class: 'muted'}, `${r.count} events since ${fmtTime(r.since)}${r.truncated ? ' (the newest shown)' : ''}, newest first`),
        card(null, eventsTable(r.events)),
      )
    },

    async latency() {
      const r = await api('/api/network/latency')
      const targets = r.targets
      if (!state.latencyTarget && targets.length) state.latencyTarget = targets[0].ip
      const chartEl = h('div', {class: 'chart', id: 'chart-latency'})
      const hist = state.latencyTarget
        ? await api(`/api/network/latency/${encodeURIComponent(state.latencyTarget)}?since=${state.range}`).catch(() => null)
        : null
      render(
        h('h1', {}, 'Latency'),
        card(
          'Measured addresses (latest run)',
          table(
            [
              'address',
              'host',
              'device',
              'method',
              {label: 'sent', num: true},
              {label: 'loss', num: true},
              {label: 'avg ms', num: true},
              {label: 'median ms', num: true},
              {label: 'jitter ms', num: true},
              'grade',
              'measured',
            ],
            targets.map(t => [
              t.ip,
              t.host === t.ip ? '' : t.host,
              t.device ? devName(t.device) : '',
              t.method + (t.port ? `:${t.port}` : ''),
              t.last.sent,
              `${t.last.loss_pct}%`,
              fmtMs(t.last.avg_ms),
              fmtMs(t.last.median_ms),
              fmtMs(t.last.jitter_ms),
              gradeBadge(t.last.grade),
              ago(t.last.ended_at_ms),
            ]),
            i => ((state.latencyTarget = targets[i].ip), refresh()),
          ),
        ),
        hist
          ? card(
              `${hist.query}: ${hist.summary.received}/${hist.summary.sent} replies, avg ${fmtMs(hist.summary.avg_ms)} ms, jitter ${fmtMs(hist.summary.jitter_ms)} ms `,
              gradeBadge(hist.summary.grade),
              h(
                'div',
                {class: 'buttons'},
                ['24h', '7d', '30d'].map(x => h('button', {class: state.range === x ? 'active' : '', onclick: () => ((state.range = x), refresh())}, x)),
              ),
              chartEl,
            )
          : null,
      )
      if (hist) latencyChart(chartEl, 'latency', hist)
    },

    async meters() {
      const [list, bridge] = await Promise.all([api('/meters'), api('/api/bridge/status').catch(() => null)])
      const st = new Map((bridge?.meters ?? []).map(m => [m.id, m]))
      render(
        h('h1', {}, 'Meters'),
        bridge
          ? h(
              'div',
              {class: 'grid'},
              metric('Bridge', bridge.state, bridge.uptime_seconds !== null ? `up ${Math.round(bridge.uptime_seconds / 60)} min` : ''),
              metric('Broker', bridge.broker.connected ? 'connected' : 'disconnected', bridge.broker.format ?? ''),
              metric('Outbox', String(bridge.outbox.depth), `dropped ${bridge.outbox.dropped}`),
              metric('Published', String(bridge.published)),
              bridge.network ? metric('Host TX / RX', `${fmtRate(bridge.network.tx_bps)}`, `${fmtRate(bridge.network.rx_bps)} received`) : null,
            )
          : null,
        card(
          null,
          table(
            [
              'meter',
              'name',
              'endpoint',
              'state',
              {label: 'polls', num: true},
              {label: 'failures', num: true},
              {label: 'readings', num: true},
              'last reading',
              {label: 'pending', num: true},
              'last error',
            ],
            list.meters.map(m => {
              const s = st.get(m.id)
              return [
                m.id,
                m.name,
                `${m.host}:${m.port}`,
                s?.state ?? m.state ?? '–',
                s?.polls ?? '–',
                s?.failures ?? '–',
                m.readings,
                m.last_reading_at ? ago(m.last_reading_at_ms) : '–',
                m.pending,
                m.last_error ?? '',
              ]
            }),
            i => go(`#/meter/${encodeURIComponent(list.meters[i].id)}`),
          ),
        ),
      )
    },

    async meter(id) {
      const [s, r] = await Promise.all([api(`/meters/${encodeURIComponent(id)}/network_stats`), api(`/meters/${encodeURIComponent(id)}/readings?limit=200`)])
      // Its alerts (issue 16): meter kinds name the meter id.
      const alerts = ready('alerts') ? await subjectAlerts([String(s.meter_id), id]) : null
      const bwEl = h('div', {class: 'chart', id: 'chart-meter-bw'})
      const pkEl = h('div', {class: 'chart', id: 'chart-meter-pk'})
      const rdEl = h('div', {class: 'cols', id: 'chart-meter-readings'})
      const a = s.application
      const numericKeys = r.keys.filter(k => r.readings.some(x => typeof x.values[k] === 'number'))
      render(
        h('h1', {}, `${s.meter_name} (${s.meter_id})`),
        h(
          'p',
          {class: 'muted'},
          s.timestamp ? `latest metrics row ${fmtTime(s.timestamp)}, ${s.rows} rows` : 'No network metrics yet (the bridge writes a row per metrics interval).',
        ),
        alertsCard(alerts, 'meter-alerts'),
        h(
          'div',
          {class: 'grid'},
          metric('Real-time TX', `${s.current.bandwidth_tx_kbps} kbit/s`, `${s.current.packets_tx_ps} packets/s`),
          metric('Real-time RX', `${s.current.bandwidth_rx_kbps} kbit/s`, `${s.current.packets_rx_ps} packets/s`),
          metric('Real-time total', `${s.current.bandwidth_total_kbps} kbit/s`),
          metric(
            'Data consumption',
            fmtBytes(a.dlms_total_bytes_sent + a.dlms_total_bytes_recv + a.mqtt_total_bytes_sent),
            `DLMS ${fmtBytes(a.dlms_total_bytes_sent + a.dlms_total_bytes_recv)} · MQTT ${fmtBytes(a.mqtt_total_bytes_sent)}`,
          ),
        ),
        // Section E of the seed's dashboard: interface errors and drops, shown only when there are any.
        s.issues && s.issues.network_errors + s.issues.packet_drops > 0
          ? h(
              'div',
              {class: 'grid', id: 'meter-issues'},
              metric('Network errors', String(s.issues.network_errors), `TX ${s.issues.tx_errors} · RX ${s.issues.rx_errors}`),
              metric('Packet drops', String(s.issues.packet_drops), `TX ${s.issues.tx_drops} · RX ${s.issues.rx_drops}`),
            )
          : null,
        h(
          'div',
          {class: 'cols'},
          card(
            'DLMS / MQTT counters',
            h(
              'dl',
              {class: 'kv'},
              [
                ['DLMS requests sent', a.dlms_requests_sent],
                ['DLMS responses received', a.dlms_responses_recv],
                ['DLMS bytes sent', fmtBytes(a.dlms_total_bytes_sent)],
                ['DLMS bytes received', fmtBytes(a.dlms_total_bytes_recv)],
                ['DLMS average APDU', `${a.dlms_avg_payload_size} B`],
                ['MQTT messages sent', a.mqtt_messages_sent],
                ['MQTT bytes sent', fmtBytes(a.mqtt_total_bytes_sent)],
              ].map(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]),
            ),
          ),
          card(
            'Averages and peaks',
            h(
              'dl',
              {class: 'kv'},
              [
                ['average TX', `${s.averages.bandwidth_tx_mbps} Mbit/s`],
                ['average RX', `${s.averages.bandwidth_rx_mbps} Mbit/s`],
                ['peak TX', `${s.peaks.bandwidth_tx_mbps} Mbit/s`],
                ['peak RX', `${s.peaks.bandwidth_rx_mbps} Mbit/s`],
                ['peak packets TX', `${s.peaks.packets_tx_ps}/s`],
                ['peak packets RX', `${s.peaks.packets_rx_ps}/s`],
              ].map(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]),
            ),
          ),
        ),
        h('div', {class: 'cols'}, card('Bandwidth history', bwEl), card('Packet rate history', pkEl)),
        numericKeys.length ? card('Readings', rdEl) : null,
        card(
          'Latest readings',
          table(
            ['time', ...r.keys, {label: 'poll ms', num: true}],
            r.readings
              .slice(-20)
              .reverse()
              .map(x => [fmtTime(x.ts), ...r.keys.map(k => (x.values[k] === null || x.values[k] === undefined ? '–' : String(x.values[k]))), x.poll_ms]),
          ),
        ),
      )
      const t = s.history.timestamp_ms.map(ms => ms / 1000)
      chart(bwEl, 'meter-bw', {
        series: [
          {label: 'TX', color: '#d97706'},
          {label: 'RX', color: '#2563eb'},
        ],
        data: [t, s.history.bandwidth_tx_mbps.map(v => v * 1e6), s.history.bandwidth_rx_mbps.map(v => v * 1e6)],
        yFmt: fmtRate,
      })
      chart(pkEl, 'meter-pk', {
        series: [
          {label: 'TX packets/s', color: '#d97706'},
          {label: 'RX packets/s', color: '#2563eb'},
        ],
        data: [t, s.history.packets_tx_ps, s.history.packets_rx_ps],
        yFmt: v => (v === null || v === undefined ? '–' : `${Math.round(v * 100) / 100}/s`),
      })
      // One small chart per value: kWh and volts do not share an axis.
      const palette = ['#2563eb', '#d97706', '#16a34a', '#9333ea', '#dc2626', '#0891b2']
      numericKeys.slice(0, 6).forEach((k, i) => {
        const el = h('div', {class: 'chart small', id: `chart-meter-reading-${i}`})
        rdEl.append(el)
        chart(el, `meter-reading-${k}`, {
          height: 150,
          series: [{label: k, color: palette[i]}],
          data: [r.readings.map(x => x.ts_ms / 1000), r.readings.map(x => (typeof x.values[k] === 'number' ? x.values[k] : null))],
        })
      })
    },
  }

  // Pages defined in their own files (map.js: Map and Scan, issue 17), loaded before this one.
  Object.assign(pages, window.netmonPages || {})

  /** Alerts of these subjects (newest first, at most 20), or null when the route fails. */
  async function subjectAlerts(subjects) {
    return api(`/api/alerts?subject=${encodeURIComponent([...new Set(subjects)].join(','))}&limit=20`).catch(() => null)
  }

  /** A card listing alerts (firing, then pending, then resolved), hidden when there are none. */
  function alertsCard(r, id) {
    if (!r?.alerts.length) return null
    const order = {firing: 0, pending: 1, resolved: 2}
    const list = [...r.alerts].sort((a, b) => (order[a.state] ?? 3) - (order[b.state] ?? 3) || b.updated_at_ms - a.updated_at_ms)
    return h(
      'section',
      {class: 'card alerts', id},
      h('h2', {}, `Alerts (${list.filter(a => a.state === 'firing').length} firing)`),
      h(
        'ul',
        {},
        list.map(a =>
          h(
            'li',
            {'data-alert': String(a.id), 'data-state': a.state},
            h('span', {class: `badge sev-${a.severity}`}, a.severity),
            ' ',
            h('strong', {}, a.rule),
            ` ${a.state} · `,
            a.message || a.subject,
            ' ',
            h('span', {class: 'muted'}, `since ${ago(a.fired_at_ms ?? a.started_at_ms)}${a.acked ? ' · acked' : ''}`),
          ),
        ),
      ),
    )
  }

  function eventsTable(events, withDevice = true) {
    const rows = [...events].reverse()
    return table(
      withDevice ? ['time', 'event', 'device', 'IP', 'detail'] : ['time', 'event', 'detail'],
      rows.map(e => [
        fmtTime(e.ts),
        e.type,
        ...(withDevice ? [e.name || e.mac || '', e.ip_from ? `${e.ip_from} → ${e.ip}` : e.ip || ''] : []),
        e.text ?? (e.detail ? JSON.stringify(e.detail) : ''),
      ]),
      withDevice &&
        (i => {
          const e = rows[i]
          const ref = e.mac || e.current_ip || e.ip
          if (ref) go(`#/device/${encodeURIComponent(ref)}`)
        }),
    )
  }

  function latencyChart(el, id, hist) {
    const raw = hist.resolution === 'raw'
    const pts = hist.points
    chart(el, id, {
      series: [{label: raw ? 'RTT ms' : 'median ms', color: '#16a34a'}],
      data: [pts.map(p => p.ts_ms / 1000), pts.map(p => (raw ? p.rtt_ms : p.median_ms))],
      yFmt: v => (v === null || v === undefined ? '–' : `${fmtMs(v)} ms`),
      // The whole requested range: runs are short bursts, the gaps between them are information.
      xRange: () => [hist.since.ms / 1000, hist.until.ms / 1000],
      points: true,
    })
  }

  // ---------- navigation and refresh ----------
  function go(hash) {
    if (location.hash === hash) refresh()
    else location.hash = hash
  }

  function route() {
    const parts = (location.hash.replace(/^#\/?/, '') || '').split('/')
    const name = parts[0] || 'overview'
    if (name === 'device' && parts[1]) return {page: 'device', arg: decodeURIComponent(parts[1]), nav: 'devices'}
    if (name === 'meter' && parts[1]) return {page: 'meter', arg: decodeURIComponent(parts[1]), nav: 'meters'}
    if (pages[name] && name !== 'device' && name !== 'meter') return {page: name, nav: name}
    return {page: 'overview', nav: 'overview'}
  }

  let loading = null
  async function refresh() {
    if (loading) return loading
    const r = route()
    for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.page === r.nav)
    const label = document.getElementById('refresh-state')
    document.body.dataset.page = r.page
    loading = (async () => {
      try {
        if (!state.server) state.server = await api('/api/server')
        if (state.page !== `${r.page}/${r.arg ?? ''}`) {
          for (const u of charts.values()) u.destroy()
          charts.clear()
          state.page = `${r.page}/${r.arg ?? ''}`
        }
        await pages[r.page](r.arg)
        label.textContent = `updated ${new Date().toLocaleTimeString()}`
        document.body.dataset.ready = r.page
      } catch (e) {
        label.textContent = 'update failed'
        render(h('h1', {}, 'Something went wrong'), h('p', {class: 'error'}, e.message || String(e)))
        document.body.dataset.ready = 'error'
      } finally {
        loading = null
      }
    })()
    return loading
  }

  function schedule() {
    clearInterval(state.timer)
    if (document.getElementById('auto').checked) state.timer = setInterval(() => document.visibilityState === 'visible' && refresh(), REFRESH_MS)
  }

  window.addEventListener('hashchange', () => {
    state.live = []
    refresh()
  })
  document.getElementById('auto').addEventListener('change', schedule)
  // What the pages of other files use (map.js).
  window.netmonDashboard.lib = {
    h,
    api,
    askToken,
    render,
    card,
    table,
    metric,
    notice,
    go,
    refresh,
    route,
    ready,
    fmtRate,
    fmtBytes,
    fmtMs,
    fmtTime,
    ago,
    devName,
    gradeBadge,
    ApiError,
  }
  schedule()
  refresh()
})()

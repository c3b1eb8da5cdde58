// netmon dashboard: the Map and Scan pages (issue 17). Loaded before app.js, which adds these pages
// to its own and hands them its helpers (window.netmonDashboard.lib) before the first page is drawn.
// The map is drawn by cytoscape (served from its npm package under /vendor/, no CDN); every value
// that came from the network is inserted as text (cytoscape labels are canvas text, never HTML).
;(() => {
  const lib = () => window.netmonDashboard.lib
  const dash = () => window.netmonDashboard
  const ms = {root: null, cy: null, key: null, map: null}
  const ss = {root: null, scanId: null, timer: null, shown: null, result: null}

  async function post(path, body) {
    const {state} = dash()
    const headers = {Accept: 'application/json', 'Content-Type': 'application/json'}
    if (state.token) headers.Authorization = `Bearer ${state.token}`
    const res = await fetch(path, {method: 'POST', headers, body: JSON.stringify(body)})
    let json = null
    try {
      json = await res.json()
    } catch {
      json = null
    }
    if (res.status === 401) {
      await lib().askToken(state.token ? 'That token was not accepted.' : '')
      return post(path, body)
    }
    if (!res.ok) throw new (lib().ApiError)(res.status, json)
    return json
  }

  const deviceHash = n => `#/device/${encodeURIComponent(n.mac || n.ip)}`
  const STATUS_COLOR = {online: '#16a34a', offline: '#dc2626', unknown: '#9ca3af'}
  const SHAPE = {
    router: 'diamond',
    switch: 'round-rectangle',
    printer: 'rectangle',
    nas: 'barrel',
    camera: 'triangle',
    phone: 'round-tag',
    media: 'hexagon',
    iot: 'octagon',
    server: 'round-rectangle',
    computer: 'ellipse',
    unknown: 'ellipse',
  }

  // ---------------------------------------------------------------- Map

  function nodeSize(n, maxBytes) {
    // Area grows with the bytes counted (sqrt), 24–64 px; no accounting = the smallest size.
    if (!n.total_bytes) return 24
    return Math.round(24 + 40 * Math.sqrt(n.total_bytes / maxBytes))
  }

  // An FDB link's port is `<agent>:<ifName>`; on the line the interface name says enough.
  const portLabel = e => (e.port ? e.port.slice(e.port.lastIndexOf(':') + 1) : '')

  function drawGraph(el, m) {
    const {h, go} = lib()
    if (typeof window.cytoscape !== 'function') {
      el.replaceChildren(h('div', {class: 'empty'}, 'Graph library not loaded.'))
      return
    }
    if (m.nodes.length === 0) {
      if (ms.cy) ms.cy.destroy()
      ms.cy = null
      ms.key = null
      el.replaceChildren(h('div', {class: 'empty'}, 'No devices yet: run a scan (Scan page, or `netmon scan`).'))
      return
    }
    const maxBytes = Math.max(1, ...m.nodes.map(n => n.total_bytes || 0))
    const nodeData = n => ({
      ...n,
      open_ports: n.open_ports.join(','),
      size: nodeSize(n, maxBytes),
      color: STATUS_COLOR[n.status] || STATUS_COLOR.unknown,
      shape: SHAPE[n.type] || 'ellipse',
      display: `${n.label}\n${n.type}${n.role === 'gateway' ? ' · gateway' : n.role === 'self' ? ' · this machine' : ''}`,
      border: n.role === 'gateway' ? 4 : n.role === 'switch' ? 3 : 1,
    })
    const key = [...m.nodes.map(n => n.id), ...m.edges.map(e => `${e.source}>${e.target}`)].join('|')
    if (ms.cy && ms.key === key && ms.cy.container() === el) {
      // Same graph: new colours, sizes and labels in place (the layout and the zoom stay).
      for (const n of m.nodes) ms.cy.getElementById(n.id).data(nodeData(n))
      return
    }
    if (ms.cy) ms.cy.destroy()
    el.replaceChildren()
    const fg = getComputedStyle(document.documentElement).getPropertyValue('--fg').trim() || '#1d2430'
    const line = getComputedStyle(document.documentElement).getPropertyValue('--muted').trim() || '#6b7280'
    const bg = getComputedStyle(document.documentElement).getPropertyValue('--bg').trim() || '#f6f7f9'
    // The trees' roots: nodes no link points to (a gateway, or a switch that reports the gateway behind a port).
    const targets = new Set(m.edges.map(e => e.target))
    const roots = m.nodes.filter(n => !targets.has(n.id)).map(n => n.id)
    ms.cy = window.cytoscape({
      container: el,
      elements: [...m.nodes.map(n => ({group: 'nodes', data: nodeData(n)})), ...m.edges.map(e => ({group: 'edges', data: {...e, label: portLabel(e)}}))],
      style: [
        {
          selector: 'node',
          style: {
            width: 'data(size)',
            height: 'data(size)',
            shape: 'data(shape)',
            'background-color': 'data(color)',
            'border-width': 'data(border)',
            'border-color': fg,
            label: 'data(display)',
            'text-wrap': 'wrap',
            'text-valign': 'bottom',
            'text-margin-y': 4,
            'font-size': 11,
            color: fg,
          },
        },
        {
          selector: 'edge',
          style: {
            width: 1.5,
            'line-color': line,
            'curve-style': 'bezier',
            label: 'data(label)',
            'font-size': 10,
            color: fg,
            'text-background-color': bg,
            'text-background-opacity': 1,
            'text-background-padding': 2,
          },
        },
        {selector: 'edge[?inferred]', style: {'line-style': 'dashed'}},
      ],
      // A tree from the roots; past a few dozen nodes one row per level gets too wide: rings instead.
      layout: {
        name: 'breadthfirst',
        directed: true,
        roots: roots.length ? roots : undefined,
        circle: m.nodes.length > 30,
        spacingFactor: 1.15,
        padding: 24,
        animate: false,
      },
      minZoom: 0.2,
      maxZoom: 3,
    })
    ms.key = key
    ms.cy.on('tap', 'node', ev => {
      const d = ev.target.data()
      if (d.device_id !== null) go(deviceHash(d))
    })
    dash().cy = ms.cy
  }

  async function mapPage() {
    const {h, api, render, card, table, notice, go, fmtBytes, fmtRate, ready} = lib()
    if (!ready('inventory')) return render(h('h1', {}, 'Map'), notice('The device inventory is not available in this build.'))
    const m = await api('/api/network/map')
    ms.map = m
    if (!ms.root?.isConnected) {
      ms.root = h(
        'div',
        {id: 'map-page'},
        h('h1', {}, 'Network map'),
        h('p', {class: 'muted', id: 'map-summary'}),
        h(
          'section',
          {class: 'card'},
          h(
            'div',
            {class: 'legend muted'},
            h('span', {class: 'dot on'}),
            'online ',
            h('span', {class: 'dot off'}),
            'offline ',
            h('span', {class: 'dot'}),
            'unknown · size = traffic counted · thick border = gateway/switch · dashed = assumed link (no switch reported it) · click a device for its page',
          ),
          h(
            'div',
            {class: 'legend muted'},
            'shape = type: diamond router · rounded square switch or server · square printer · barrel NAS · triangle camera · tag phone · hexagon media · octagon IoT · circle computer or unknown',
          ),
          h('div', {id: 'map-graph'}),
        ),
        h('div', {id: 'map-tables'}),
      )
      if (ms.cy) ms.cy.destroy()
      ms.cy = null
      ms.key = null
      render(ms.root)
    }
    const gw =
      m.gateways.map(g => `${g.ip} (${g.source === 'route' ? 'default route' : g.source === 'dhcp' ? 'DHCP lease' : 'DNS + HTTP'})`).join(', ') || 'none found'
    ms.root.querySelector('#map-summary').textContent =
      `${m.counts.nodes} nodes, ${m.counts.edges} links, ${m.counts.online} online · gateway ${gw} · ${m.subnets.length} subnet${m.subnets.length === 1 ? '' : 's'}`
    drawGraph(ms.root.querySelector('#map-graph'), m)

    const rows = s => m.nodes.filter(n => n.subnet === s)
    const nodeTable = list =>
      table(
        ['', 'IP', 'name', 'type', 'role', 'vendor', 'open ports', {label: 'now', num: true}, {label: 'traffic', num: true}],
        list.map(n => [
          h('span', {class: `dot ${n.status === 'online' ? 'on' : n.status === 'offline' ? 'off' : ''}`, title: n.status}),
          n.ip || '–',
          n.label === n.ip ? '' : n.label,
          n.type,
          n.role === 'host' ? '' : n.role,
          n.vendor_group,
          n.open_ports.join(', '),
          n.current_bps === null ? '–' : fmtRate(n.current_bps),
          n.total_bytes === null ? '–' : fmtBytes(n.total_bytes),
        ]),
        i => list[i].device_id !== null && go(deviceHash(list[i])),
      )
    const cards = m.subnets.map(s =>
      card(
        `${s.cidr} · ${s.devices} devices, ${s.online} online${s.gateway ? ` · gateway ${s.gateway}` : ''}${s.source === 'assumed' ? ' (assumed)' : s.iface ? ` · on ${s.iface}` : ''}`,
        nodeTable(rows(s.cidr)),
      ),
    )
    const loose = m.nodes.filter(n => !n.subnet)
    if (loose.length) cards.push(card('No address', nodeTable(loose)))
    cards.push(
      card(
        'By vendor',
        table(
          ['vendor', {label: 'devices', num: true}, 'addresses'],
          m.vendors.map(v => [v.vendor, v.count, v.nodes.map(id => m.nodes.find(n => n.id === id)?.ip || id).join(', ')]),
        ),
      ),
    )
    ms.root.querySelector('#map-tables').replaceChildren(...cards)
  }

  // ---------------------------------------------------------------- Scan

  function scanLine(s) {
    const parts = [`#${s.id} ${s.status}`, `${s.hosts_done}/${s.hosts_total} addresses`, `${s.found} found`]
    if (s.ports) parts.push(`ports ${s.ports_done}/${s.ports_total}`)
    parts.push(`${(s.elapsed_ms / 1000).toFixed(1)} s`)
    if (s.error) parts.push(s.error)
    return `${parts.join(' · ')} — ${s.targets.join(' ')}`
  }

  function showProgress(s) {
    const {h} = lib()
    const el = ss.root.querySelector('#scan-progress')
    ss.root.dataset.scanState = s ? s.status : 'none'
    if (!s) return el.replaceChildren(h('p', {class: 'muted'}, 'No scan yet.'))
    el.replaceChildren(h('progress', {max: 100, value: s.status === 'running' ? s.percent : 100, id: 'scan-bar'}), h('p', {id: 'scan-line'}, scanLine(s)))
  }

  async function showResult(id) {
    const {h, api, table, go} = lib()
    const [st, devs] = await Promise.all([api(`/api/network/scan/status?id=${id}&hosts=true`), api('/api/network/devices').catch(() => null)])
    const byIp = new Map((devs?.devices || []).map(d => [d.ip, d]))
    const hosts = st.hosts || []
    ss.shown = id
    const el = ss.root.querySelector('#scan-result')
    const measure = async (ip, btn, cell) => {
      btn.disabled = true
      btn.textContent = 'measuring…'
      try {
        const r = await post('/api/network/latency/measure', {hosts: [ip], count: 5, interval: '200ms'})
        const x = r.hosts[0]
        cell.textContent = x.error
          ? x.error
          : `avg ${x.avg_ms === null ? '–' : x.avg_ms.toFixed(2)} ms · loss ${x.loss_pct}%${x.grade ? ` · ${x.grade}` : ''} (${r.method})`
      } catch (e) {
        cell.textContent = e.message || String(e)
      } finally {
        btn.disabled = false
        btn.textContent = 'measure'
      }
    }
    const rows = hosts.map(x => {
      const d = byIp.get(x.ip)
      const cell = h('span', {class: 'latency', 'data-ip': x.ip})
      const btn = h(
        'button',
        {
          class: 'measure',
          onclick: ev => {
            ev.stopPropagation()
            measure(x.ip, btn, cell)
          },
        },
        'measure',
      )
      return [
        x.ip,
        x.mac || '–',
        d?.name || x.hostname || '',
        d ? (d.vendor ?? (d.mac_kind === 'local' ? '(locally administered)' : '')) : '',
        x.found_by.join(', '),
        x.rtt_ms === null ? '–' : x.rtt_ms.toFixed(2),
        d ? d.open_ports.join(', ') : '',
        h('span', {}, btn, ' ', cell),
      ]
    })
    el.replaceChildren(
      h('p', {class: 'muted'}, `${hosts.length} host${hosts.length === 1 ? '' : 's'} found by scan #${id}`),
      h(
        'div',
        {id: 'scan-result-table', 'data-scan-id': String(id)},
        table(['IP', 'MAC', 'name', 'vendor', 'found by', {label: 'RTT ms', num: true}, 'open ports', 'latency'], rows, i =>
          go(`#/device/${encodeURIComponent(hosts[i].mac || hosts[i].ip)}`),
        ),
      ),
    )
  }

  function poll(id) {
    clearTimeout(ss.timer)
    const {api} = lib()
    const tick = async () => {
      if (!ss.root?.isConnected) return
      try {
        const st = await api(`/api/network/scan/status?id=${id}`)
        showProgress(st.scan)
        if (st.scan.status === 'running') ss.timer = setTimeout(tick, 1000)
        else await showResult(id)
      } catch (e) {
        ss.root.querySelector('#scan-error').textContent = e.message || String(e)
        ss.timer = setTimeout(tick, 2000)
      }
    }
    tick()
  }

  async function start(ev) {
    ev.preventDefault()
    const form = ss.root.querySelector('#scan-form')
    const err = ss.root.querySelector('#scan-error')
    err.textContent = ''
    const targets = form
      .querySelector('#scan-targets')
      .value.split(/[\s,]+/)
      .filter(Boolean)
    if (targets.length === 0) {
      err.textContent = 'Name a target: a CIDR (192.168.1.0/24), a range (192.168.1.1-50), an address or a host name.'
      return
    }
    const body = {targets}
    if (form.querySelector('#scan-ports-on').checked) body.ports = form.querySelector('#scan-ports').value.trim() || 'top100'
    const btn = form.querySelector('#scan-start')
    btn.disabled = true
    // The previous scan's result goes at once: what shows next is this scan's.
    clearTimeout(ss.timer)
    ss.root.querySelector('#scan-result').replaceChildren()
    ss.root.dataset.scanState = 'starting'
    try {
      const r = await post('/api/network/scan', body)
      ss.scanId = r.scan_id
      ss.root.dataset.scanState = 'running'
      if (r.scan_id !== null) poll(r.scan_id)
    } catch (e) {
      ss.root.dataset.scanState = 'refused'
      err.textContent = e.message || String(e)
    } finally {
      btn.disabled = false
    }
  }

  async function scanPage() {
    const {h, api, render, card, notice, ready} = lib()
    if (!ready('inventory')) return render(h('h1', {}, 'Scan'), notice('The device inventory is not available in this build.'))
    if (!ss.root?.isConnected) {
      const portsOn = h('input', {type: 'checkbox', id: 'scan-ports-on'})
      const ports = h('input', {type: 'text', id: 'scan-ports', value: 'top100', size: 18, disabled: true, 'aria-label': 'ports'})
      portsOn.addEventListener('change', () => {
        ports.disabled = !portsOn.checked
      })
      ss.root = h(
        'div',
        {id: 'scan-page'},
        h('h1', {}, 'Scan'),
        card(
          'Start a scan',
          h(
            'form',
            {id: 'scan-form', class: 'scan-form', onsubmit: start},
            h('label', {}, 'Targets ', h('input', {type: 'text', id: 'scan-targets', size: 36, placeholder: '192.168.1.0/24 192.168.1.7', required: true})),
            h('label', {}, portsOn, ' port scan '),
            ports,
            h('button', {type: 'submit', id: 'scan-start'}, 'Start scan'),
          ),
          h(
            'p',
            {class: 'muted'},
            'Private, loopback and link-local space only, at most 1024 addresses (a /22), one scan at a time: the same rules as netmon scan without --allow-public/--force. Found devices update the inventory.',
          ),
          h('p', {class: 'error', id: 'scan-error'}),
        ),
        card('Progress', h('div', {id: 'scan-progress'})),
        card('Result', h('div', {id: 'scan-result'})),
      )
      render(ss.root)
      // What is running (or ran last) when the page opens.
      const st = await api('/api/network/scan/status')
      showProgress(st.scan)
      if (st.scan) {
        ss.scanId = st.scan.id
        if (st.scan.status === 'running') poll(st.scan.id)
        else await showResult(st.scan.id)
      }
    }
    // Auto-refresh leaves the form alone (typing is not interrupted); polling shows the progress.
  }

  window.netmonPages = {...(window.netmonPages || {}), map: mapPage, scan: scanPage}
})()

/**
 * The human rendering of `netmon devices map`: one tree per subnet (gateway at the root, switch
 * ports below their switch, the rest below the gateway), then the devices grouped by vendor.
 * Pure (docs/SCAN.md "Network map" shows an example).
 */
import type {DeviceMap, MapNode} from './topology.js'

function nodeLine(n: MapNode, via: string | null): string {
  const parts = [n.ip ?? n.mac ?? n.label, n.type]
  if (n.label !== n.ip && n.label !== n.mac) parts.push(`"${n.label}"`)
  if (n.vendor) parts.push(n.vendor)
  else if (n.mac_kind === 'local') parts.push('(locally administered MAC)')
  if (n.open_ports.length) parts.push(`ports ${n.open_ports.join(',')}`)
  parts.push(n.status)
  if (n.role !== 'host') parts.push(`[${n.role === 'self' ? 'this machine' : n.role}]`)
  if (!n.in_inventory) parts.push('(not in the inventory)')
  return `${via ? `${via}: ` : ''}${parts.join('  ')}`
}

export function renderMapText(map: DeviceMap): string {
  const lines: string[] = []
  const byId = new Map(map.nodes.map(n => [n.id, n]))
  const children = new Map<string, {id: string; via: string | null}[]>()
  const parentOf = new Map<string, string>()
  for (const e of map.edges) {
    const kid = {id: e.target, via: e.kind === 'fdb' ? `port ${e.port}` : null}
    const list = children.get(e.source)
    if (list) list.push(kid)
    else children.set(e.source, [kid])
    parentOf.set(e.target, e.source)
  }
  const printed = new Set<string>()
  const walk = (id: string, via: string | null, prefix: string, last: boolean, root: boolean) => {
    const n = byId.get(id)
    if (!n || printed.has(id)) return
    printed.add(id)
    lines.push(`${prefix}${root ? '' : last ? '└── ' : '├── '}${nodeLine(n, via)}`)
    const kids = children.get(id) ?? []
    const next = root ? prefix : prefix + (last ? '    ' : '│   ')
    kids.forEach((k, i) => walk(k.id, k.via, next, i === kids.length - 1, false))
  }

  for (const g of map.gateways) {
    const how =
      g.source === 'route'
        ? `default route${g.iface ? ` via ${g.iface}` : ''}${g.dhcp ? ' (and DHCP lease)' : ''}`
        : g.source === 'dhcp'
          ? `DHCP lease on ${g.iface}`
          : 'DNS + HTTP(S) on the subnet'
    lines.push(`Gateway ${g.ip}${g.mac ? ` (${g.mac})` : ''}: ${how}`)
  }
  if (map.gateways.length === 0) lines.push('Gateway: none found (no default route here, and no device answers DNS + HTTP(S))')
  for (const s of map.subnets) {
    lines.push('')
    const where = s.source === 'interface' ? `on ${s.iface}` : s.source === 'scan' ? 'scanned' : 'assumed: the /24 or /64 around addresses seen'
    lines.push(`${s.cidr} (${where}) · ${s.devices} device${s.devices === 1 ? '' : 's'}, ${s.online} online`)
    const roots = map.nodes.filter(n => n.subnet === s.cidr && (!parentOf.has(n.id) || byId.get(parentOf.get(n.id)!)?.subnet !== s.cidr))
    roots.forEach(r => walk(r.id, null, '  ', true, true))
    // Anything of this subnet not reached (its parent printed elsewhere): list it flat.
    for (const n of map.nodes) if (n.subnet === s.cidr && !printed.has(n.id)) walk(n.id, null, '  ', true, true)
  }
  const rest = map.nodes.filter(n => !printed.has(n.id))
  if (rest.length) {
    lines.push('')
    lines.push('No subnet (no address):')
    for (const n of rest) walk(n.id, null, '  ', true, true)
  }
  if (map.vendors.length) {
    lines.push('')
    lines.push('By vendor:')
    for (const v of map.vendors) lines.push(`  ${v.vendor} (${v.count}): ${v.nodes.map(id => byId.get(id)?.ip ?? byId.get(id)?.label).join(', ')}`)
  }
  const types = Object.entries(map.counts.by_type)
    .sort((a, b) => b[1] - a[1])
    .map(([t, n]) => `${n} ${t}`)
    .join(', ')
  lines.push('')
  lines.push(
    `${map.counts.nodes} node${map.counts.nodes === 1 ? '' : 's'} (${types || 'none'}), ${map.counts.edges} link${map.counts.edges === 1 ? '' : 's'}, ${map.counts.online} online` +
      (map.counts.left_out ? `; ${map.counts.left_out} device${map.counts.left_out === 1 ? '' : 's'} outside every known subnet left out` : ''),
  )
  return lines.join('\n')
}

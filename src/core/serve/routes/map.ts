/**
 * The network map (issue 17): GET /api/network/map = `netmon devices map --json`, for the
 * dashboard's Map page (cytoscape) or any D3/cytoscape front end.
 */
import {z} from 'zod'
import {deviceMap} from '../../inventory/map.js'
import {DEVICE_TYPES} from '../../inventory/topology.js'
import {isoTime, route, type RouteDef} from '../route.js'

const int = z.number().int()

export const mapNodeSchema = z.object({
  id: z.string().meta({description: 'd<device id>; gw:<ip> or sw:<agent> for a gateway or switch not in the inventory'}),
  device_id: int.nullable(),
  label: z.string(),
  type: z.enum(DEVICE_TYPES),
  type_reason: z.string().nullable(),
  role: z.enum(['gateway', 'switch', 'self', 'host']),
  status: z.enum(['online', 'offline', 'unknown']),
  ip: z.string().nullable(),
  mac: z.string().nullable(),
  mac_kind: z.enum(['universal', 'local', 'multicast']).nullable(),
  name: z.string().nullable(),
  hostname: z.string().nullable(),
  vendor: z.string().nullable(),
  vendor_group: z.string(),
  known: z.boolean(),
  subnet: z.string().nullable(),
  open_ports: z.array(int),
  total_bytes: int.nullable(),
  current_bps: int.nullable(),
  last_seen_ms: int.nullable(),
  in_inventory: z.boolean(),
})

export const mapEdgeSchema = z.object({
  id: z.string(),
  source: z.string(),
  target: z.string(),
  kind: z.enum(['fdb', 'gateway']),
  port: z.string().nullable(),
  if_index: int.nullable(),
  vlan: int.nullable(),
  inferred: z.boolean(),
})

export const deviceMapSchema = z.object({
  generated: isoTime,
  generated_ms: int,
  gateways: z.array(
    z.object({
      ip: z.string(),
      mac: z.string().nullable(),
      iface: z.string().nullable(),
      node: z.string().nullable(),
      source: z.enum(['route', 'dhcp', 'ports']),
      dhcp: z.boolean(),
      subnet: z.string().nullable(),
    }),
  ),
  subnets: z.array(
    z.object({
      cidr: z.string(),
      source: z.enum(['interface', 'scan', 'assumed']),
      iface: z.string().nullable(),
      gateway: z.string().nullable(),
      gateway_node: z.string().nullable(),
      gateway_source: z.enum(['route', 'dhcp', 'ports']).nullable(),
      devices: int,
      online: int,
    }),
  ),
  vendors: z.array(z.object({vendor: z.string(), count: int, nodes: z.array(z.string())})),
  counts: z.object({nodes: int, edges: int, online: int, offline: int, by_type: z.record(z.string(), int), left_out: int}),
  nodes: z.array(mapNodeSchema),
  edges: z.array(mapEdgeSchema),
})

export function mapRoutes(): RouteDef[] {
  return [
    route({
      method: 'GET',
      path: '/api/network/map',
      operationId: 'deviceMap',
      summary: 'The network map: gateways, subnets, devices by vendor, each node typed (ports, vendor) and linked (SNMP FDB, else the gateway)',
      description:
        "Nodes and edges take cytoscape's {data: …} and D3's force links ({source, target} by id) as they are. The gateway comes from the server machine's default route and neighbor table.",
      capability: 'inventory',
      cli: 'netmon devices map',
      response: deviceMapSchema,
      run: async ({store}) => deviceMap(store),
    }),
  ]
}

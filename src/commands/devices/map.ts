import {NetmonCommand, dbFlag} from '../../cli/base.js'
import {deviceMap, type DeviceMap} from '../../core/inventory/map.js'
import {renderMapText} from '../../core/inventory/map-text.js'

export default class DevicesMap extends NetmonCommand {
  static override summary = 'The network map the store knows: gateway, subnets, device types, links'
  static override description =
    "Read-only over the inventory, bandwidth totals and SNMP forwarding tables, plus this machine's routes, neighbor table and DHCP leases (the default gateway and its MAC). Each device gets a type from its open ports and vendor (router, switch, printer, nas, camera, phone, media, iot, server, computer, unknown) and a role (gateway, switch, self, host). Links come from switch ports (SNMP FDB) when a switch reported them, else from each subnet's gateway.\nJSON: {generated, generated_ms, gateways:[{ip, mac, iface, node, source: route|dhcp|ports, dhcp, subnet}], subnets:[{cidr, source, iface, gateway, gateway_node, gateway_source, devices, online}], vendors:[{vendor, count, nodes}], counts:{nodes, edges, online, offline, by_type, left_out}, nodes:[{id, device_id, label, type, type_reason, role, status, ip, mac, mac_kind, name, hostname, vendor, vendor_group, known, subnet, open_ports, total_bytes, current_bps, last_seen_ms, in_inventory}], edges:[{id, source, target, kind, port, if_index, vlan, inferred}]} (nodes/edges as cytoscape and D3 take them: docs/SCAN.md)."
  static override examples = ['<%= config.bin %> devices map', "<%= config.bin %> devices map --json | jq '.nodes[] | {ip, type, role}'"]
  static override flags = {db: dbFlag}

  async run(): Promise<DeviceMap> {
    const {flags} = await this.parse(DevicesMap)
    const store = await this.openStore(flags.db)
    const map = await deviceMap(store)
    this.out(() => renderMapText(map))
    return map
  }
}

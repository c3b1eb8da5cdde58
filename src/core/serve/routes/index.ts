/** Every REST route of `netmon serve`, by capability. */
import type {RouteDef} from '../route.js'
import {alertRoutes} from './alerts.js'
import {bandwidthRoutes} from './bandwidth.js'
import {inventoryRoutes} from './inventory.js'
import {latencyRoutes} from './latency.js'
import {mapRoutes} from './map.js'
import {meterRoutes} from './meters.js'

export function allRoutes(): RouteDef[] {
  return [...bandwidthRoutes(), ...inventoryRoutes(), ...mapRoutes(), ...latencyRoutes(), ...meterRoutes(), ...alertRoutes()]
}

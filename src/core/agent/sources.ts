/**
 * The counter sources a collector job can name (docs/AGENT.md), built from their config through
 * one small registry. The nftables and SNMP sources (collect/nft.ts, collect/snmp.ts) are loaded only
 * when a job names them, so an agent that only counts interfaces never loads them (or net-snmp).
 */
import {ifaceSource} from '../collect/iface.js'
import type {CounterSource} from '../collect/source.js'
import type {SourceSpec} from './config.js'

type Factory<S extends SourceSpec> = (spec: S) => Promise<CounterSource[]>

const FACTORIES: {[K in SourceSpec['type']]: Factory<Extract<SourceSpec, {type: K}>>} = {
  async interfaces(spec) {
    // ifaceSource reads one named interface or all non-loopback ones: one source per name.
    if (!spec.names) return [ifaceSource()]
    return spec.names.map(n => ifaceSource(n))
  },
  async nftables(spec) {
    const {nftSource} = await import('../collect/nft.js')
    return [nftSource({...(spec.name ? {name: spec.name} : {}), lan: spec.lan})]
  },
  async snmp(spec) {
    // One source per agent: each has its own session, status row and deadline.
    const {snmpSource} = await import('../collect/snmp.js')
    return spec.agents.map(a => snmpSource(a))
  },
}

/** Builds every source of a collector job. Rejects (NetmonError) when one cannot be built. */
export async function buildSources(specs: SourceSpec[]): Promise<CounterSource[]> {
  const out: CounterSource[] = []
  for (const s of specs) out.push(...(await (FACTORIES[s.type] as Factory<SourceSpec>)(s)))
  return out
}

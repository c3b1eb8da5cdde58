/**
 * The counter sources a collector job can name (docs/AGENT.md), built from their config through
 * one small registry. The nftables source lives in collect/nft.ts and is loaded only when a job
 * names it, so an agent that only counts interfaces never loads it.
 */
import {ifaceSource} from '../collect/iface.js'
import type {CounterSource} from '../collect/source.js'
import {NetmonError} from '../errors.js'
import type {SourceSpec} from './config.js'

type Factory<S extends SourceSpec> = (spec: S) => Promise<CounterSource[]>

/** What the nft module is expected to export (collect/nft.ts, written alongside this). */
interface NftModule {
  nftSource(opts: {name?: string; lan: string[]; table?: string}): CounterSource
}

async function loadNft(): Promise<NftModule> {
  // TODO(merge, issue 14): once src/core/collect/nft.ts is on this branch, replace this with a
  // static lazy `await import('../collect/nft.js')` (so the bundler splits it into a chunk) and
  // adapt the options passed to nftSource() to its signature. Until then the module is looked up
  // next to this file at run time (dist/core/collect/nft.js) and its absence is one clear error.
  const url = new URL('../collect/nft.js', import.meta.url).href
  let mod: Partial<NftModule>
  try {
    mod = (await import(url)) as Partial<NftModule>
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'ENOENT')
      throw new NetmonError('not_found', 'nftables source not available in this build', {
        hint: 'use an interfaces source, or a netmon build with the nft source',
      })
    throw e
  }
  if (typeof mod.nftSource !== 'function') throw new NetmonError('not_found', 'nftables source not available in this build')
  return mod as NftModule
}

const FACTORIES: {[K in SourceSpec['type']]: Factory<Extract<SourceSpec, {type: K}>>} = {
  async interfaces(spec) {
    // ifaceSource reads one named interface or all non-loopback ones: one source per name.
    if (!spec.names) return [ifaceSource()]
    return spec.names.map(n => ifaceSource(n))
  },
  async nftables(spec) {
    const {nftSource} = await loadNft()
    return [nftSource({...(spec.name ? {name: spec.name} : {}), lan: spec.lan, ...(spec.table ? {table: spec.table} : {})})]
  },
}

/** Builds every source of a collector job. Rejects (NetmonError) when one cannot be built. */
export async function buildSources(specs: SourceSpec[]): Promise<CounterSource[]> {
  const out: CounterSource[] = []
  for (const s of specs) out.push(...(await (FACTORIES[s.type] as Factory<SourceSpec>)(s)))
  return out
}

/**
 * Template state of the NetFlow v9 / IPFIX codec, owned by the caller so decode() stays pure.
 *
 * Keyed by exporter (the datagram's source address, as the caller names it) and, inside an
 * exporter, by (source id / observation domain, template id). Bounded: at most `maxExporters`
 * exporters (least recently seen evicted first) and at most `maxTemplatesPerExporter` templates per
 * exporter across its domains (least recently defined evicted first). Every eviction is counted.
 */
import type {SamplingInfo} from './types.js'

export interface TemplateField {
  type: number
  /** 65535 = variable length (IPFIX). */
  length: number
  /** 0 for IANA IEs. */
  enterprise: number
}

export interface Template {
  id: number
  options: boolean
  fields: TemplateField[]
  /** Number of leading scope fields (options templates). */
  scopeCount: number
  /** Byte length of one record, or -1 when a field is variable-length. */
  fixedLength: number
  /** Smallest possible record (varlen fields count 1 byte); always ≥ 1. */
  minLength: number
}

export interface ExporterStats {
  /** Data sets skipped because their template was unknown. */
  unknownSets: number
  /** Bytes of those sets. */
  unknownBytes: number
  /** Datagrams from this exporter that decoded / were malformed (counted by decode()). */
  decoded: number
  malformed: number
  /** Templates currently held for this exporter (all domains). */
  templates: number
  /** Templates evicted from this exporter because of the per-exporter cap. */
  evicted: number
  withdrawn: number
}

export interface DomainState {
  templates: Map<number, Template>
  /** Domain-wide sampling (options record not scoped to a sampler id). */
  sampling: SamplingInfo | null
  /** Per sampler/selector id (v9 48 FLOW_SAMPLER_ID, IPFIX 48/302). */
  samplers: Map<number, SamplingInfo>
  /** IPFIX systemInitTimeMilliseconds (160) from options data, to resolve 21/22 uptime stamps. */
  systemInitMs: number | null
}

interface ExporterState {
  domains: Map<number, DomainState>
  /** (domain, id) in definition order, for per-exporter LRU eviction. Key = domain * 65536 + id. */
  order: Map<number, true>
  stats: ExporterStats
}

export interface TemplateCacheOptions {
  /** Default 1024. */
  maxExporters?: number
  /** Default 512 (templates of all domains of one exporter). */
  maxTemplatesPerExporter?: number
  /** Default 8 (domains per exporter; their sampling state is small but still bounded). */
  maxDomainsPerExporter?: number
}

export class TemplateCache {
  readonly maxExporters: number
  readonly maxTemplatesPerExporter: number
  readonly maxDomainsPerExporter: number
  private readonly exporters = new Map<string, ExporterState>()
  /** Totals over the cache's life. */
  readonly totals = {evictedExporters: 0, evictedTemplates: 0, evictedDomains: 0}

  constructor(opts: TemplateCacheOptions = {}) {
    this.maxExporters = Math.max(1, opts.maxExporters ?? 1024)
    this.maxTemplatesPerExporter = Math.max(1, opts.maxTemplatesPerExporter ?? 512)
    this.maxDomainsPerExporter = Math.max(1, opts.maxDomainsPerExporter ?? 8)
  }

  /** Exporters held right now. */
  get exporterCount(): number {
    return this.exporters.size
  }

  /** Templates held right now over all exporters. */
  get templateCount(): number {
    let n = 0
    for (const e of this.exporters.values()) n += e.order.size
    return n
  }

  exporterNames(): string[] {
    return [...this.exporters.keys()]
  }

  stats(exporter: string): ExporterStats | undefined {
    const e = this.exporters.get(exporter)
    if (!e) return undefined
    e.stats.templates = e.order.size
    return {...e.stats}
  }

  /** Looks up a template without touching recency (the hot path). */
  get(exporter: string, domain: number, id: number): Template | undefined {
    return this.exporters.get(exporter)?.domains.get(domain)?.templates.get(id)
  }

  /** The domain state, or undefined (no creation). */
  domain(exporter: string, domain: number): DomainState | undefined {
    return this.exporters.get(exporter)?.domains.get(domain)
  }

  /** Exporter state, created (and made most recent) when missing; evicts the least recent exporter at the cap. */
  private exporterState(exporter: string): ExporterState {
    let e = this.exporters.get(exporter)
    if (e) {
      // Refresh recency: Map keeps insertion order.
      this.exporters.delete(exporter)
      this.exporters.set(exporter, e)
      return e
    }
    while (this.exporters.size >= this.maxExporters) {
      const oldest = this.exporters.keys().next().value as string
      this.exporters.delete(oldest)
      this.totals.evictedExporters++
    }
    e = {
      domains: new Map(),
      order: new Map(),
      stats: {unknownSets: 0, unknownBytes: 0, decoded: 0, malformed: 0, templates: 0, evicted: 0, withdrawn: 0},
    }
    this.exporters.set(exporter, e)
    return e
  }

  /** Per-exporter stats object to count into (creates the exporter). */
  counters(exporter: string): ExporterStats {
    return this.exporterState(exporter).stats
  }

  /** Domain state, created when missing (evicting the exporter's oldest domain at the cap). */
  domainState(exporter: string, domain: number): DomainState {
    const e = this.exporterState(exporter)
    let d = e.domains.get(domain)
    if (d) return d
    while (e.domains.size >= this.maxDomainsPerExporter) {
      const oldest = e.domains.keys().next().value as number
      const od = e.domains.get(oldest)
      if (od) for (const id of od.templates.keys()) e.order.delete(oldest * 65536 + id)
      e.domains.delete(oldest)
      this.totals.evictedDomains++
    }
    d = {templates: new Map(), sampling: null, samplers: new Map(), systemInitMs: null}
    e.domains.set(domain, d)
    return d
  }

  /** Defines or refreshes a template; evicts the exporter's oldest template at the cap. */
  set(exporter: string, domain: number, t: Template): void {
    const d = this.domainState(exporter, domain)
    const e = this.exporters.get(exporter) as ExporterState
    const key = domain * 65536 + t.id
    if (e.order.has(key)) e.order.delete(key)
    else {
      while (e.order.size >= this.maxTemplatesPerExporter) {
        const oldest = e.order.keys().next().value as number
        e.order.delete(oldest)
        e.domains.get(Math.floor(oldest / 65536))?.templates.delete(oldest % 65536)
        e.stats.evicted++
        this.totals.evictedTemplates++
      }
    }
    e.order.set(key, true)
    d.templates.set(t.id, t)
  }

  /**
   * IPFIX withdrawal: one template id, or all data (id 2) / all options (id 3) templates of the
   * domain. Returns how many were removed.
   */
  withdraw(exporter: string, domain: number, id: number): number {
    const e = this.exporters.get(exporter)
    const d = e?.domains.get(domain)
    if (!e || !d) return 0
    let n = 0
    const drop = (tid: number) => {
      if (d.templates.delete(tid)) {
        e.order.delete(domain * 65536 + tid)
        n++
      }
    }
    if (id === 2 || id === 3) {
      for (const t of [...d.templates.values()]) if (t.options === (id === 3)) drop(t.id)
    } else drop(id)
    e.stats.withdrawn += n
    return n
  }

  /** Forgets one exporter entirely. */
  delete(exporter: string): boolean {
    return this.exporters.delete(exporter)
  }
}

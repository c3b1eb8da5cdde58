/**
 * Public API of netmon's NetFlow v5 / v9 / IPFIX codec (pure: bytes in, records out). See docs/SOURCES.md.
 */
export {decode, MAX_TEMPLATE_FIELDS} from './decode.js'
export type {DecodeOptions} from './decode.js'
export {TemplateCache} from './templates.js'
export type {Template, TemplateField, TemplateCacheOptions, ExporterStats, DomainState} from './templates.js'
export type {FlowRecord, SamplingInfo, MalformedReason, DecodeOk, DecodeError, DecodeResult} from './types.js'
export {ipv4At, ipv6At} from './ip.js'

import type {FlowRecord} from './types.js'

/** Octets scaled up by the record's sampling interval (what the link carried, estimated). */
export function scaledOctets(r: FlowRecord): number {
  return r.octets * r.samplingInterval
}

/** Packets scaled up by the record's sampling interval. */
export function scaledPackets(r: FlowRecord): number {
  return r.packets * r.samplingInterval
}
export {NetflowListener, parseCidr, portOf} from './listener.js'
export type {NetflowListenerOptions, HostTotals, Bucket, ListenerCounters, PortTotals} from './listener.js'

/**
 * Shapes of netmon's NetFlow v5 / v9 (RFC 3954) / IPFIX (RFC 7011) codec. See docs/SOURCES.md.
 */

/** One decoded flow record, normalised across the three versions. */
export interface FlowRecord {
  /** 4 or 6 (from the address fields present; 0 when the record carries no address). */
  ipVersion: 0 | 4 | 6
  src: string
  dst: string
  srcPort: number
  dstPort: number
  protocol: number
  /** Octets and packets as the exporter counted them (NOT scaled by sampling; see samplingInterval). */
  octets: number
  packets: number
  /** Absolute Unix milliseconds, or null when the record has no (resolvable) timestamp. */
  startMs: number | null
  endMs: number | null
  /** IPFIX flowDirection / v9 DIRECTION (61): 0 ingress, 1 egress; null when absent. */
  direction: number | null
  inputIf: number | null
  outputIf: number | null
  tcpFlags: number
  tos: number
  /**
   * 1-in-N sampling in force for this record (1 = unsampled or unknown). A consumer scales
   * octets/packets by it: v5 from the header, v9/IPFIX from options data (fields 34/35, 305/306, 50,
   * per sampler id 48/302 when the record names one).
   */
  samplingInterval: number
  /** Template id (0 for v5). */
  templateId: number
}

/** Sampling announced by an exporter's options data (v9 fields 34/35, IPFIX 305/306/50/34/35). */
export interface SamplingInfo {
  interval: number
  /** 1 deterministic, 2 random (v9 SAMPLING_ALGORITHM / IPFIX samplingAlgorithm 35); null when unstated. */
  algorithm: number | null
  /** Sampler / selector id the options record was scoped to (48 / 302), null for the whole domain. */
  samplerId: number | null
}

export type MalformedReason =
  /** Shorter than the version's header (or empty). */
  | 'truncated-header'
  /** Version is not 5, 9 or 10. */
  | 'unknown-version'
  /** A header length/count field disagrees with the datagram size (v5 count, IPFIX message length). */
  | 'length-mismatch'
  /** A set header says the set is longer than the bytes left, or shorter than its own header. */
  | 'set-length'
  /** A set whose length field is 0 (would never advance). */
  | 'zero-length-set'
  /** A template's field list (or a record's variable-length field) runs past the end of its set. */
  | 'field-beyond-set'
  /** A template with no fields in v9, or more than the field cap, or a record longer than a datagram. */
  | 'template-field-count'
  /** A template id below 256 (it would name a set, not a template), or a template whose records are 0 bytes long. */
  | 'template-loop'
  /** A variable-length IE (65535) where the version has none (v9), or a malformed varlen prefix. */
  | 'variable-length'
  /** A set id 4-255 (reserved). */
  | 'reserved-set-id'

export interface DecodeOk {
  ok: true
  version: 5 | 9 | 10
  /** v9 source id / IPFIX observation domain / v5 (engine type << 8 | engine id). */
  domain: number
  sequence: number
  /** Export time of the datagram (Unix ms). */
  exportMs: number
  records: FlowRecord[]
  /** Templates (data + options) learned or refreshed by this datagram. */
  templates: number
  /** Templates withdrawn by this datagram (IPFIX only). */
  withdrawn: number
  /** Options data records seen (sampling etc.). */
  optionsRecords: number
  /** Data sets skipped because their template is not (yet) known; also counted per exporter in the cache. */
  unknownSets: number
}

export interface DecodeError {
  ok: false
  reason: MalformedReason
  /** Byte offset in the datagram where decoding gave up. */
  offset: number
  detail: string
  /** The version when the header got that far, else 0. */
  version: number
}

export type DecodeResult = DecodeOk | DecodeError

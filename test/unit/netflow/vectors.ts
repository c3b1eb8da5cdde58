/**
 * The recorded NetFlow/IPFIX vectors (test/vectors/netflow/, see its README) and a small datagram
 * builder for the hand-made malformed cases.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

export const VECTOR_DIR = join(import.meta.dirname, '..', '..', 'vectors', 'netflow')

export interface ExpectedFlow {
  protocol: number
  src: string
  srcPort: number
  dst: string
  dstPort: number
  bytes: number
  packets: number
  firstMs: number
  lastMs: number
}

export interface NfdumpRecord {
  proto: number
  src4_addr?: string
  dst4_addr?: string
  src6_addr?: string
  dst6_addr?: string
  src_port: number
  dst_port: number
  in_bytes: number
  in_packets: number
  first: string
  last: string
  direction: number
}

export interface Vector {
  name: string
  exporter: string
  netflowVersion: 5 | 9 | 10
  samplingRate?: number
  datagrams: string[]
  expected: ExpectedFlow[]
  nfdump: {version: string; command: string; records: NfdumpRecord[]}
}

export function vectorNames(): string[] {
  return (JSON.parse(readFileSync(join(VECTOR_DIR, 'index.json'), 'utf8')) as {vectors: string[]}).vectors
}

export function loadVector(file: string): Vector {
  const v = JSON.parse(readFileSync(join(VECTOR_DIR, file), 'utf8')) as Vector
  v.name = file
  return v
}

export const fromHex = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'))

/** nfdump prints local time without a zone; the vectors were recorded with TZ=UTC. */
export const nfdumpMs = (s: string) => Date.parse(`${s}Z`)

// --- builder -------------------------------------------------------------------------------------

export function be(n: number, bytes: number): number[] {
  const out: number[] = []
  for (let i = bytes - 1; i >= 0; i--) out.push(Math.floor(n / 2 ** (8 * i)) % 256)
  return out
}

export const set = (id: number, body: number[], lenOverride?: number) => [...be(id, 2), ...be(lenOverride ?? body.length + 4, 2), ...body]

/** A v9 template record: id and [type, length] pairs. */
export const v9Template = (id: number, fields: Array<[number, number]>) => [
  ...be(id, 2),
  ...be(fields.length, 2),
  ...fields.flatMap(([t, l]) => [...be(t, 2), ...be(l, 2)]),
]

export function v9(sets: number[][], {uptime = 100_000, unixSecs = 1_700_000_000, seq = 1, sourceId = 7} = {}): Uint8Array {
  const body = sets.flat()
  return Uint8Array.from([...be(9, 2), ...be(sets.length, 2), ...be(uptime, 4), ...be(unixSecs, 4), ...be(seq, 4), ...be(sourceId, 4), ...body])
}

export function ipfix(
  sets: number[][],
  {exportSecs = 1_700_000_000, seq = 1, domain = 7, lenOverride}: {exportSecs?: number; seq?: number; domain?: number; lenOverride?: number} = {},
): Uint8Array {
  const body = sets.flat()
  return Uint8Array.from([...be(10, 2), ...be(lenOverride ?? 16 + body.length, 2), ...be(exportSecs, 4), ...be(seq, 4), ...be(domain, 4), ...body])
}

/** Fields of a small IPv4 flow template and one record of it. */
export const FLOW4: Array<[number, number]> = [
  [8, 4],
  [12, 4],
  [7, 2],
  [11, 2],
  [4, 1],
  [1, 4],
  [2, 4],
]
export const flow4Record = (src: number[], dst: number[], sp: number, dp: number, proto: number, octets: number, packets: number) => [
  ...src,
  ...dst,
  ...be(sp, 2),
  ...be(dp, 2),
  proto,
  ...be(octets, 4),
  ...be(packets, 4),
]

/**
 * Turns pages of raw rows (arrays in the dataset's column order, as read by the engine) into
 * CSV, NDJSON or a streamed JSON array. Each call returns one string chunk that the engine
 * writes before reading the next page, so memory holds one page at a time.
 */
import {isoOf} from '../format/time.js'
import {CsvBuilder, csvHeader, type Cell} from './csv.js'
import {excelSafe} from './excel.js'
import type {ColumnDef, ExportFormat, OutputColumn} from './types.js'

export interface Writer {
  /** Text before the first row (CSV header, `[`). */
  start(): string
  /** A chunk for the sink: text, or (CSV) bytes valid until the next call. */
  rows(raw: unknown[][]): string | Uint8Array
  /** Text after the last row. */
  end(): string
}

export interface WriterOptions {
  excelSafe: boolean
  /** UTF-8 byte order mark before a CSV (for Excel, which otherwise guesses a legacy code page). */
  bom?: boolean
}

/** `time` columns become `<name>` (ISO-8601 UTC) and `<name>_ms`; the rest map one to one. */
export function outputColumns(columns: readonly ColumnDef[]): OutputColumn[] {
  const out: OutputColumn[] = []
  for (const c of columns) {
    if (c.type === 'time') {
      out.push({name: c.name, type: 'time_iso', description: `${c.description} (ISO-8601 UTC)`})
      out.push({name: `${c.name}_ms`, type: 'time_ms', description: `${c.description} (epoch ms)`})
    } else out.push({name: c.name, type: c.type, description: c.description})
  }
  return out
}

/**
 * ISO strings for epoch ms, memoised: time-series rows share instants (every device is sampled
 * at the same minute), and toISOString is the costliest step per row after parsing.
 */
class IsoCache {
  private map = new Map<number, string>()
  get(ms: number): string {
    let s = this.map.get(ms)
    if (s === undefined) {
      if (this.map.size >= 65_536) this.map.clear()
      s = isoOf(ms)
      this.map.set(ms, s)
    }
    return s
  }
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : typeof v === 'number' ? v : Number(v))
const str = (v: unknown): string | null => (v === null || v === undefined ? null : typeof v === 'string' ? v : String(v))
const bool = (v: unknown): boolean | null => (v === null || v === undefined ? null : Boolean(Number(v)))

function parseJsonText(v: unknown): unknown {
  if (v === null || v === undefined) return null
  if (typeof v !== 'string') return v
  try {
    return JSON.parse(v)
  } catch {
    // Not JSON after all: keep the text rather than fail the export.
    return v
  }
}

export function createWriter(format: ExportFormat, columns: readonly ColumnDef[], opts: WriterOptions): Writer {
  return format === 'csv' ? csvWriter(columns, opts) : jsonWriter(format, columns, opts)
}

function csvWriter(columns: readonly ColumnDef[], opts: WriterOptions): Writer {
  const names = outputColumns(columns).map(c => c.name)
  const types = columns.map(c => c.type)
  const width = names.length
  const iso = new IsoCache()
  const safe = opts.excelSafe ? excelSafe : (s: string) => s
  const builder = new CsvBuilder()
  return {
    start: () => (opts.bom ? '\uFEFF' : '') + csvHeader(names),
    rows(raw) {
      const row: Cell[] = new Array(width)
      for (let r = 0; r < raw.length; r++) {
        const src = raw[r]!
        let o = 0
        for (let c = 0; c < types.length; c++) {
          const v = src[c]
          switch (types[c]) {
            case 'integer':
            case 'real':
              row[o++] = num(v)
              break
            case 'time':
              if (v === null || v === undefined) {
                row[o++] = null
                row[o++] = null
              } else {
                const ms = num(v)!
                row[o++] = iso.get(ms)
                row[o++] = ms
              }
              break
            case 'boolean': {
              const b = bool(v)
              row[o++] = b === null ? null : b ? 'true' : 'false'
              break
            }
            default: {
              // text and json (kept as its text in CSV)
              const s = str(v)
              row[o++] = s === null ? null : safe(s)
            }
          }
        }
        builder.add(row)
      }
      return builder.take()
    },
    end: () => '',
  }
}

function jsonWriter(format: 'json' | 'ndjson', columns: readonly ColumnDef[], opts: WriterOptions): Writer {
  const types = columns.map(c => c.type)
  const names = columns.map(c => c.name)
  const msNames = columns.map(c => `${c.name}_ms`)
  const iso = new IsoCache()
  const safe = opts.excelSafe ? excelSafe : (s: string) => s
  let count = 0
  const toObject = (src: unknown[]): Record<string, unknown> => {
    const o: Record<string, unknown> = {}
    for (let c = 0; c < types.length; c++) {
      const v = src[c]
      switch (types[c]) {
        case 'integer':
        case 'real':
          o[names[c]!] = num(v)
          break
        case 'time': {
          const ms = num(v)
          o[names[c]!] = ms === null ? null : iso.get(ms)
          o[msNames[c]!] = ms
          break
        }
        case 'boolean':
          o[names[c]!] = bool(v)
          break
        case 'json':
          o[names[c]!] = parseJsonText(v)
          break
        default: {
          const s = str(v)
          o[names[c]!] = s === null ? null : safe(s)
        }
      }
    }
    return o
  }
  if (format === 'ndjson') {
    return {
      start: () => '',
      rows(raw) {
        let s = ''
        for (const r of raw) s += JSON.stringify(toObject(r)) + '\n'
        count += raw.length
        return s
      },
      end: () => '',
    }
  }
  // A JSON array streamed one object per line: `[` … `,\n` … `]`, valid JSON at the end only.
  return {
    start: () => '[',
    rows(raw) {
      let s = ''
      for (const r of raw) {
        s += (count === 0 ? '\n' : ',\n') + JSON.stringify(toObject(r))
        count++
      }
      return s
    },
    end: () => (count === 0 ? ']\n' : '\n]\n'),
  }
}

/**
 * One line of plain text for an event's detail, for people: `devices timeline`, `devices show`,
 * `devices history` and the dashboard show it instead of the raw JSON (which stays in `--json` as
 * `detail`, next to this `text`). Pure: type + detail in, text out. Unknown types or shapes fall
 * back to `key value` pairs, never to JSON.
 */
import {humanBytes, humanRate} from '../format/units.js'

type Detail = Record<string, unknown> | null | undefined

const s = (v: unknown): string => (v === null || v === undefined || v === '' ? '–' : String(v))
const list = (v: unknown): string => (Array.isArray(v) && v.length ? v.join(', ') : 'none')
const bytes = (v: unknown): string | null => {
  const n = typeof v === 'string' ? Number(v) : v
  return typeof n === 'number' && Number.isFinite(n) ? humanBytes(n) : null
}
const reading = (v: unknown): string => {
  if (!v || typeof v !== 'object') return s(v)
  const r = v as {sent?: unknown; received?: unknown}
  return `sent ${s(r.sent)} / received ${s(r.received)}`
}

/** Fallback: `key value · key value` of the scalar fields (nested values summarized). */
function pairs(d: Detail, skip: readonly string[] = []): string {
  if (!d) return ''
  return Object.entries(d)
    .filter(([k, v]) => !skip.includes(k) && v !== null && v !== undefined)
    .map(([k, v]) => `${k.replace(/_/g, ' ')} ${Array.isArray(v) ? list(v) : typeof v === 'object' ? reading(v) : String(v)}`)
    .join(' · ')
}

const scanRef = (d: Detail): string => (d && d.scan_id !== undefined && d.scan_id !== null ? ` (scan ${d.scan_id})` : '')

export function describeEvent(type: string, detail: Detail): string {
  const d = detail ?? {}
  switch (type) {
    case 'new': {
      const by = d.by ? `by ${d.by}` : Array.isArray(d.found_by) && d.found_by.length ? `found by ${list(d.found_by)}` : ''
      const parts = [d.ip ? `at ${d.ip}` : '', d.hostname ? `named ${d.hostname}` : '', d.vendor ? `vendor ${d.vendor}` : '', by].filter(Boolean)
      return `first seen${parts.length ? ` ${parts.join(', ')}` : ''}${scanRef(d)}`
    }
    case 'online':
      return `back online${d.ip ? ` at ${d.ip}` : ''}${scanRef(d)}`
    case 'offline':
      return `not found by the scan${typeof d.last_seen === 'number' ? `; last seen ${new Date(Number(d.last_seen)).toISOString()}` : ''}${scanRef(d)}`
    case 'ip_changed':
      return `address ${s(d.from)} → ${s(d.to)}${d.by ? ` (by ${d.by})` : ''}${scanRef(d)}`
    case 'ip_conflict':
      return `${s(d.ip)} answered by ${Array.isArray(d.macs) ? d.macs.length : 'several'} MACs: ${list(d.macs)}${scanRef(d)}`
    case 'hostname_changed':
      return `name ${s(d.from)} → ${s(d.to)}${scanRef(d)}`
    case 'ports_changed':
      return `opened ${list(d.opened)}; closed ${list(d.closed)}; open now ${list(d.open)}${scanRef(d)}`
    case 'promoted':
      return `named "${s(d.name)}"${d.previous_name ? ` (was "${d.previous_name}")` : ''}${d.was_known === false ? ', now known' : ''}`
    case 'merged':
      return `merged device #${s(d.from_device_id)} into this one${d.ip ? ` (same address ${d.ip})` : ''}`
    case 'bandwidth_reset':
      return d.purge ? 'accounting reset, history purged' : 'accounting reset (history kept)'
    case 'counter_wrap': {
      const up = bytes(d.bytes_sent)
      const down = bytes(d.bytes_received)
      return `counter wrapped${d.bits ? ` (${d.bits}-bit)` : ''}: counted ${up ?? '–'} up, ${down ?? '–'} down; ${reading(d.previous)} → ${reading(d.reading)}`
    }
    case 'counter_reset':
    case 'counter_spike': {
      const what = type === 'counter_reset' ? 'counter reset' : 'counter jump ignored'
      return `${what}${d.reason ? ` (${d.reason})` : ''}: ${reading(d.previous)} → ${reading(d.reading)}`
    }
    case 'clock_backwards': {
      const up = bytes(d.unrecorded_bytes_sent)
      const down = bytes(d.unrecorded_bytes_received)
      return `source clock went backwards; not recorded: ${up ?? '–'} up, ${down ?? '–'} down`
    }
    case 'rate_implausible': {
      const up = typeof d.upload_bps === 'number' ? humanRate(d.upload_bps) : '–'
      const down = typeof d.download_bps === 'number' ? humanRate(d.download_bps) : '–'
      const max = typeof d.max_rate_bps === 'number' ? humanRate(d.max_rate_bps) : '–'
      return `implausible rate ${up} up / ${down} down over ${s(d.interval_ms)} ms (max ${max}): bytes counted, not used as a rate or peak`
    }
    default:
      return pairs(d)
  }
}

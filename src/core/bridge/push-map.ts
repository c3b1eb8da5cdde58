/**
 * From a decoded DataNotification to a meter and a reading (issue 18 item 4), pure: no sockets, no store.
 *
 * What each element of the notification body is comes from the push setup's push_object_list (class 40
 * attribute 2: array of structure {class_id, logical_name, attribute_index, data_index}), in this order:
 *   1. sent: the body's first element IS that list (the push setup object's attribute 2 is itself in its
 *      object list, as Gurux's GeneratePushSetupMessage and some meters do), describing every element;
 *   2. configured per push setup: the first element is a 6-octet logical name (the IDIS convention: element 1
 *      is the push setup's logical_name, attribute 1) found in meters[i].push.object_lists;
 *   3. configured: meters[i].push.object_list;
 *   4. self-describing: the body is a list of structures {OBIS, value[, scaler_unit]} (the Aidon/Kaifa HAN form).
 *
 * The sender is found by its system title (general-glo-ciphering, before this module) or by its logical device
 * name: the value of 0.0.42.0.0.255 attribute 2 when the list is known, otherwise any top-level text element of
 * the body equal to a configured logical_device_name (the convention puts it first or second).
 */
import {dataToNumber, type DlmsData} from '../dlms/codec/axdr.js'
import type {DataNotification} from '../dlms/codec/apdu/notification.js'
import {dateTimeToDate} from '../dlms/codec/datetime.js'
import {formatObis} from '../dlms/codec/obis.js'
import {dataToDateTime, parseScalerUnit, type ScalerUnit} from '../dlms/cosem.js'
import type {MeterConfig, ObisSpec, PushObjectSpec} from './config.js'
import {convertValue} from './worker.js'

export const LOGICAL_DEVICE_NAME = '0.0.42.0.0.255'
export const CLOCK = '0.0.1.0.0.255'
export const PUSH_SETUP_CLASS = 40

export type ListSource = 'sent' | 'configured' | 'self-describing' | 'none'

export interface MappedPush {
  /** Telemetry key → value, like a poll's values (only objects the meter has a key for). */
  values: Record<string, number | string | boolean | null>
  /** Capture time: the notification's date-time, else the pushed clock, else undefined (the caller uses receive time). */
  ts?: number
  source: ListSource
  /** The push setup's logical name when the push says it (periodic 0.0.25.9.0.255, alarm 0.4.25.9.0.255, …). */
  pushSetup?: string
  logicalDeviceName?: string
  /** Body elements that were not mapped to a telemetry key (identification, objects without a key). */
  unmapped: number
  /** Things the operator should know once (no scaler known, list shorter than the body…). */
  notes: string[]
}

const elements = (body: DlmsData): DlmsData[] => (body.type === 'structure' || body.type === 'array' ? body.value : [body])

const isLogicalName = (d: DlmsData | undefined): d is {type: 'octet-string'; value: Uint8Array} => d?.type === 'octet-string' && d.value.length === 6

/** The push_object_list when the body's first element is it (array of structure {uint16, octet-string(6), int8, uint16}). */
export function sentObjectList(body: DlmsData): PushObjectSpec[] | undefined {
  const first = body.type === 'structure' ? body.value[0] : undefined
  if (first?.type !== 'array' || first.value.length === 0) return undefined
  const out: PushObjectSpec[] = []
  for (const e of first.value) {
    if (e.type !== 'structure' || e.value.length < 3) return undefined
    const [c, ln, a] = e.value
    const classId = c && dataToNumber(c)
    const attribute = a && dataToNumber(a)
    if (classId === undefined || attribute === undefined || !isLogicalName(ln)) return undefined
    out.push({classId, obis: formatObis(ln.value), attribute: attribute < 0 ? attribute + 256 : attribute})
  }
  return out
}

/** Text of a string-like element (octet-strings only when printable and not a 6-octet logical name). */
export function elementText(d: DlmsData | undefined): string | undefined {
  if (!d) return undefined
  if (d.type === 'visible-string' || d.type === 'utf8-string') return d.value
  if (d.type === 'octet-string' && d.value.length > 0 && d.value.every(b => b >= 0x20 && b < 0x7f)) return Buffer.from(d.value).toString('latin1')
  return undefined
}

/** Top-level texts of the body: where a logical device name can be when no object list says which element it is. */
export function bodyTexts(n: DataNotification): string[] {
  const texts: string[] = []
  for (const e of elements(n.body)) {
    const t = elementText(e)
    if (t !== undefined) texts.push(t)
  }
  return texts
}

/** The meter a plain push comes from, by logical device name. */
export function matchByName(n: DataNotification, meters: readonly MeterConfig[]): MeterConfig | undefined {
  const byName = new Map<string, MeterConfig>()
  for (const m of meters) if (m.push?.logicalDeviceName) byName.set(m.push.logicalDeviceName, m)
  if (byName.size === 0) return undefined
  const list = sentObjectList(n.body)
  if (list) {
    const i = list.findIndex(o => o.obis === LOGICAL_DEVICE_NAME && o.attribute === 2)
    const t = i >= 0 ? elementText(elements(n.body)[i]) : undefined
    if (t !== undefined) return byName.get(t)
  }
  for (const t of bodyTexts(n)) {
    const m = byName.get(t)
    if (m) return m
  }
  return undefined
}

function listFor(n: DataNotification, m: MeterConfig): {list?: PushObjectSpec[]; source: ListSource; pushSetup?: string} {
  const sent = sentObjectList(n.body)
  if (sent) {
    const setup = sent.find(o => o.classId === PUSH_SETUP_CLASS)
    return {list: sent, source: 'sent', ...(setup ? {pushSetup: setup.obis} : {})}
  }
  const first = elements(n.body)[0]
  if (isLogicalName(first)) {
    const ln = formatObis(first.value)
    const l = m.push?.objectLists[ln]
    if (l) return {list: l, source: 'configured', pushSetup: ln}
  }
  if (m.push?.objectList) return {list: m.push.objectList, source: 'configured'}
  return {source: 'none'}
}

/** Rounds away binary noise from scaling (0.1 * 3 → 0.30000000000000004), as the poller does. */
export interface MapOptions {
  /** The scaler the poller read for this OBIS (used when the push does not carry attribute 3). */
  scalerFor?: (obis: string) => ScalerUnit | undefined
}

/** A pushed value converted as a polled one is (worker.ts convertValue); what it could not do goes to `notes`. */
function convert(o: ObisSpec, d: DlmsData, su: ScalerUnit | undefined, notes: string[]): number | string | boolean | null {
  return convertValue(o, d, su, p =>
    notes.push(
      p.kind === 'no_scaler'
        ? `${o.obis} (${o.key}): no scaler_unit in the push and none read by polling; stored unscaled`
        : `${o.obis} (${o.key}): cannot convert ${p.from || 'a unitless value'} to ${p.to}; stored unconverted`,
    ),
  )
}

/** Maps a notification of meter `m` to telemetry values. */
export function mapPush(n: DataNotification, m: MeterConfig, opts: MapOptions = {}): MappedPush {
  const specs = [...m.obis, ...(m.push?.obis ?? [])]
  const byObis = new Map<string, ObisSpec>()
  for (const o of specs) if (!byObis.has(o.obis)) byObis.set(o.obis, o)
  const values: MappedPush['values'] = {}
  const notes: string[] = []
  let unmapped = 0
  let ts = n.dateTime ? (dateTimeToDate(n.dateTime)?.getTime() ?? undefined) : undefined
  let logicalDeviceName: string | undefined
  const {list, source, pushSetup} = listFor(n, m)
  const els = elements(n.body)

  if (list) {
    if (els.length !== list.length)
      notes.push(`the push has ${els.length} element(s) but its object list ${list.length}: mapped the first ${Math.min(els.length, list.length)}`)
    const raw = new Map<string, DlmsData>()
    const scalers = new Map<string, ScalerUnit>()
    list.forEach((d, i) => {
      const e = els[i]
      if (!e) return
      if (d.obis === LOGICAL_DEVICE_NAME && d.attribute === 2) logicalDeviceName = elementText(e)
      if (d.classId === 8 && d.obis === CLOCK && d.attribute === 2 && ts === undefined) {
        const dt = dataToDateTime(e)
        const at = dt ? dateTimeToDate(dt) : null
        if (at) ts = at.getTime()
      }
      if ((d.classId === 3 || d.classId === 4) && d.attribute === 3) {
        try {
          scalers.set(d.obis, parseScalerUnit(e))
        } catch {
          notes.push(`${d.obis}: the pushed scaler_unit is malformed`)
        }
        return
      }
      if (d.attribute === 2 && byObis.has(d.obis)) raw.set(d.obis, e)
      else unmapped++
    })
    for (const [obis, e] of raw) {
      const o = byObis.get(obis)!
      values[o.key] = convert(o, e, scalers.get(obis) ?? opts.scalerFor?.(obis), notes)
    }
  } else {
    // Self-describing: a list of {OBIS, value[, scaler_unit]}.
    const items = els.filter(e => e.type === 'structure' && e.value.length >= 2 && isLogicalName(e.value[0]))
    if (items.length === 0) notes.push('no object list for this push (the meter sends none and push.object_list is not configured)')
    unmapped += els.length - items.length
    for (const it of items) {
      const [ln, v, su] = (it as {value: DlmsData[]}).value
      const obis = formatObis((ln as {value: Uint8Array}).value)
      if (obis === LOGICAL_DEVICE_NAME) logicalDeviceName = elementText(v)
      if (obis === CLOCK && ts === undefined) {
        const dt = v ? dataToDateTime(v) : undefined
        const at = dt ? dateTimeToDate(dt) : null
        if (at) ts = at.getTime()
      }
      const o = byObis.get(obis)
      if (!o || !v) {
        unmapped++
        continue
      }
      let scaler: ScalerUnit | undefined
      if (su) {
        try {
          scaler = parseScalerUnit(su)
        } catch {
          notes.push(`${obis}: the pushed scaler_unit is malformed`)
        }
      }
      values[o.key] = convert(o, v, scaler ?? opts.scalerFor?.(obis), notes)
    }
  }
  return {
    values,
    ...(ts !== undefined ? {ts} : {}),
    source: list ? source : Object.keys(values).length > 0 || logicalDeviceName ? 'self-describing' : 'none',
    ...(pushSetup ? {pushSetup} : {}),
    ...(logicalDeviceName !== undefined ? {logicalDeviceName} : {}),
    unmapped,
    notes,
  }
}

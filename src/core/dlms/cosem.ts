/**
 * COSEM interface classes (Blue Book, IEC 62056-6-2) as far as netmon reads them: attribute numbers,
 * how their values are laid out, and conversions from A-XDR Data to JS values. Used by the client to
 * interpret answers and by the simulator to build them, so both sides agree by construction.
 */
import {D, dataToNumber, toPlain, type DlmsData, type PlainValue} from './codec/axdr.js'
import {dateTimeToIso, decodeDateTime, encodeDateTime, type CosemDateTime} from './codec/datetime.js'
import {formatObis, parseObis} from './codec/obis.js'
import {DlmsError} from './errors.js'

export const ClassId = {
  DATA: 1,
  REGISTER: 3,
  EXTENDED_REGISTER: 4,
  DEMAND_REGISTER: 5,
  PROFILE_GENERIC: 7,
  CLOCK: 8,
  ASSOCIATION_LN: 15,
  DISCONNECT_CONTROL: 70,
} as const

export const CLASS_NAMES: Record<number, string> = {
  1: 'data',
  3: 'register',
  4: 'extended register',
  5: 'demand register',
  7: 'profile generic',
  8: 'clock',
  15: 'association LN',
  70: 'disconnect control',
}

/** Attribute indexes (Blue Book 4.3.x / 4.5.x). Attribute 1 is always logical_name. */
export const Attr = {
  LOGICAL_NAME: 1,
  DATA_VALUE: 2,
  REGISTER_VALUE: 2,
  REGISTER_SCALER_UNIT: 3,
  EXT_REGISTER_STATUS: 4,
  EXT_REGISTER_CAPTURE_TIME: 5,
  PROFILE_BUFFER: 2,
  PROFILE_CAPTURE_OBJECTS: 3,
  PROFILE_CAPTURE_PERIOD: 4,
  PROFILE_SORT_METHOD: 5,
  PROFILE_SORT_OBJECT: 6,
  PROFILE_ENTRIES_IN_USE: 7,
  PROFILE_ENTRIES: 8,
  CLOCK_TIME: 2,
  CLOCK_TIME_ZONE: 3,
  CLOCK_STATUS: 4,
  CLOCK_DST_BEGIN: 5,
  CLOCK_DST_END: 6,
  CLOCK_DST_DEVIATION: 7,
  CLOCK_DST_ENABLED: 8,
  CLOCK_BASE: 9,
  /** Disconnect control (class 70, Blue Book 4.5.8): output_state boolean, control_state enum, control_mode enum. */
  DISCONNECT_OUTPUT_STATE: 2,
  DISCONNECT_CONTROL_STATE: 3,
  DISCONNECT_CONTROL_MODE: 4,
} as const

/** Disconnect control (class 70) methods: remote_disconnect (1) and remote_reconnect (2), each with integer(0). */
export const DisconnectMethod = {REMOTE_DISCONNECT: 1, REMOTE_RECONNECT: 2} as const

/** control_state of a disconnect control object (Blue Book 4.5.8). */
export const DISCONNECT_CONTROL_STATES: Record<number, string> = {0: 'disconnected', 1: 'connected', 2: 'ready_for_reconnection'}

/** The disconnect control object of IEC 62056-6-1 (0-0:96.3.10.255). */
export const DISCONNECT_CONTROL_OBIS = '0.0.96.3.10.255'

/** Well-known OBIS codes (IEC 62056-6-1) with a human name, for display. */
export const WELL_KNOWN_OBIS: Record<string, string> = {
  '0.0.1.0.0.255': 'clock',
  '0.0.42.0.0.255': 'logical device name',
  '0.0.96.1.0.255': 'meter serial number',
  '0.0.96.1.1.255': 'meter configuration (LLS only in the simulator)',
  '1.0.0.2.0.255': 'firmware version',
  '1.0.1.8.0.255': 'active energy import (+A)',
  '1.0.2.8.0.255': 'active energy export (-A)',
  '1.0.3.8.0.255': 'reactive energy import (+R)',
  '1.0.1.7.0.255': 'active power import (+P)',
  '1.0.1.6.0.255': 'maximum demand, active power import',
  '1.0.14.7.0.255': 'supply frequency',
  '1.0.31.7.0.255': 'current L1',
  '1.0.32.7.0.255': 'voltage L1',
  '1.0.99.1.0.255': 'load profile 1',
}

export function obisName(obis: string | Uint8Array): string | undefined {
  return WELL_KNOWN_OBIS[typeof obis === 'string' ? formatObis(parseObis(obis)) : formatObis(obis)]
}

// ---------- scaler_unit ----------

export interface ScalerUnit {
  scaler: number
  unit: number
}

/** scaler_unit ::= structure { scaler integer, unit enum } (Blue Book 4.3.2). */
export function parseScalerUnit(d: DlmsData): ScalerUnit {
  if (d.type === 'structure' && d.value.length === 2) {
    const [s, u] = d.value
    const scaler = s && (s.type === 'int8' || s.type === 'int16' || s.type === 'uint8') ? s.value : undefined
    const unit = u && (u.type === 'enum' || u.type === 'uint8') ? u.value : undefined
    if (scaler !== undefined && unit !== undefined) return {scaler: s!.type === 'uint8' ? (scaler << 24) >> 24 : scaler, unit}
  }
  throw new DlmsError('MALFORMED_FRAME', `scaler_unit is not a structure {integer, enum}: ${JSON.stringify(toPlain(d))}`)
}

export const scalerUnitData = (su: ScalerUnit): DlmsData => D.struct(D.int8(su.scaler), D.enum(su.unit))

// ---------- date-time held in attributes ----------

/** A COSEM date-time from an attribute value: 12-byte octet-string (the usual form) or the date-time type (tag 25). */
export function dataToDateTime(d: DlmsData): CosemDateTime | undefined {
  if (d.type === 'date-time') return d.value
  if (d.type === 'octet-string' && d.value.length === 12) {
    const res = decodeDateTime(d.value)
    return res.status === 'ok' ? res.value : undefined
  }
  return undefined
}

export const dateTimeData = (dt: CosemDateTime): DlmsData => ({type: 'octet-string', value: encodeDateTime(dt)})

// ---------- profile generic ----------

export interface CaptureObject {
  classId: number
  obis: string
  attribute: number
  dataIndex: number
}

/** capture_objects ::= array of structure { class_id long-unsigned, logical_name octet-string, attribute_index integer, data_index long-unsigned }. */
export function parseCaptureObjects(d: DlmsData): CaptureObject[] {
  if (d.type !== 'array') throw new DlmsError('MALFORMED_FRAME', 'capture_objects is not an array')
  return d.value.map((item, i) => {
    if (item.type !== 'structure' || item.value.length !== 4) throw new DlmsError('MALFORMED_FRAME', `capture object ${i} is not a structure of 4 elements`)
    const [c, ln, a, di] = item.value as [DlmsData, DlmsData, DlmsData, DlmsData]
    if (ln.type !== 'octet-string' || ln.value.length !== 6) throw new DlmsError('MALFORMED_FRAME', `capture object ${i} has no 6-byte logical name`)
    const classId = dataToNumber(c)
    const attribute = dataToNumber(a)
    const dataIndex = dataToNumber(di)
    if (classId === undefined || attribute === undefined || dataIndex === undefined)
      throw new DlmsError('MALFORMED_FRAME', `capture object ${i} has non-numeric fields`)
    return {classId, obis: formatObis(ln.value), attribute, dataIndex}
  })
}

export const captureObjectData = (c: CaptureObject): DlmsData =>
  D.struct(D.uint16(c.classId), D.octets(parseObis(c.obis)), D.int8(c.attribute), D.uint16(c.dataIndex))

export function isClockColumn(c: CaptureObject): boolean {
  return c.classId === ClassId.CLOCK && c.attribute === Attr.CLOCK_TIME
}

/**
 * range_descriptor (selector 1, Blue Book 4.3.6): structure { restricting_object (a capture object
 * definition), from_value, to_value, selected_values array (empty = all columns) }.
 */
export function rangeDescriptor(restricting: CaptureObject, from: CosemDateTime, to: CosemDateTime, selected: CaptureObject[] = []): DlmsData {
  return D.struct(captureObjectData(restricting), dateTimeData(from), dateTimeData(to), D.array(selected.map(captureObjectData)))
}

/** entry_descriptor (selector 2): structure { from_entry u32, to_entry u32 (0 = last), from_selected_value u16, to_selected_value u16 (0 = last) }. */
export function entryDescriptor(fromEntry: number, toEntry: number, fromValue = 1, toValue = 0): DlmsData {
  return D.struct(D.uint32(fromEntry), D.uint32(toEntry), D.uint16(fromValue), D.uint16(toValue))
}

/** A profile row value as plain JS: date-times (clock columns, or typed date-time) as ISO text, the rest via toPlain. */
export function rowValue(d: DlmsData, column: CaptureObject | undefined): PlainValue {
  if (d.type === 'date-time' || (column && isClockColumn(column))) {
    const dt = dataToDateTime(d)
    if (dt) return dateTimeToIso(dt) ?? toPlain(d)
  }
  return toPlain(d)
}

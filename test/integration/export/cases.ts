/**
 * Per dataset: how to seed it (plain SQL matching its migration), how to read the store's rows
 * independently of the exporter, and what each row must look like once exported (mapped by
 * hand here, so a writer bug cannot hide behind shared code).
 */
import type {Store} from '../../../src/core/store/index.js'
import {HOSTILE, iso, seedDevices, seedEvents} from '../../unit/export/fixtures.js'

type Obj = Record<string, unknown>
type Row = Record<string, any>

export interface DatasetCase {
  args: string[]
  /** The store's rows, in export order. */
  storeSql: string
  expected(rows: Row[]): Obj[]
  /** The JSON/NDJSON form of an expected row (JSON-text columns embedded as values). */
  asJson(o: Obj): Obj
}

export const T0 = Date.UTC(2026, 10, 23, 10, 0, 0)
const bool = (v: unknown) => (v === null || v === undefined ? null : Number(v) !== 0)
const same = (o: Obj) => o
const embed = (...cols: string[]) => (o: Obj) => {
  const out = {...o}
  for (const c of cols) if (typeof out[c] === 'string') out[c] = JSON.parse(out[c] as string)
  return out
}

export async function seedAll(store: Store): Promise<void> {
  await seedDevices(store, [
    {mac: 'AA:BB:CC:DD:EE:01', ip: '192.0.2.1', hostname: 'router', name: 'Wohnzimmer, "TV"', vendor: 'Ünïcødé 東京', known: 1, online: 1, first_seen: T0, last_seen: T0 + 60_000},
    {mac: null, ip: '192.0.2.2', hostname: null, name: null, vendor: null, known: 0, online: null, first_seen: T0 + 1, last_seen: T0 + 2},
    ...HOSTILE.map((h, i) => ({
      mac: `02:00:00:00:01:${(i + 16).toString(16).toUpperCase()}`,
      ip: `192.0.2.${10 + i}`,
      hostname: h,
      name: HOSTILE[(i + 3) % HOSTILE.length],
      vendor: i % 2 ? 'Acme' : null,
      known: i % 2,
      online: i % 3 === 0 ? null : i % 3 === 1 ? 1 : 0,
      first_seen: T0 - i * 1000,
      last_seen: T0 + i * 1000,
    })),
  ])
  await seedEvents(store, [
    {ts: T0, device_id: 1, type: 'new_device', detail: JSON.stringify({mac: 'AA:BB:CC:DD:EE:01', note: 'a,"b"\nc'})},
    {ts: T0, device_id: null, type: 'scan_done', detail: null},
    {ts: T0, device_id: 3, type: "=cmd|' /C calc'!A0", detail: JSON.stringify({hostname: "=cmd|' /C calc'!A0"})},
    {ts: T0 + 1, device_id: 2, type: 'ip_changed', detail: JSON.stringify({from: '192.0.2.9', to: '192.0.2.2', ünï: '東京'})},
    {ts: T0 + 1, device_id: 1, type: 'offline', detail: '-1'},
    {ts: T0 - 5, device_id: 4, type: 'online', detail: '[1,2,3]'},
    {ts: T0 + 60_000, device_id: null, type: 'comma, type', detail: JSON.stringify('just a string')},
  ])
}

export const DATASET_CASES: DatasetCase[] = [
  {
    args: ['--what', 'devices'],
    storeSql: 'SELECT * FROM devices ORDER BY id',
    expected: (rows) =>
      rows.map((r) => ({
        id: r.id,
        mac: r.mac,
        ip: r.ip,
        hostname: r.hostname,
        name: r.name,
        vendor: r.vendor,
        known: bool(r.known),
        online: bool(r.online),
        first_seen: iso(r.first_seen),
        first_seen_ms: r.first_seen,
        last_seen: iso(r.last_seen),
        last_seen_ms: r.last_seen,
      })),
    asJson: same,
  },
  {
    args: ['--what', 'events'],
    storeSql: 'SELECT e.*, d.mac FROM events e LEFT JOIN devices d ON d.id = e.device_id ORDER BY e.ts, e.id',
    expected: (rows) =>
      rows.map((r) => ({ts: iso(r.ts), ts_ms: r.ts, id: r.id, type: r.type, device_id: r.device_id, mac: r.mac, detail: r.detail})),
    asJson: embed('detail'),
  },
]

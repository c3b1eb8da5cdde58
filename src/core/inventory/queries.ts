/**
 * Reads and small writes behind `devices list|show|history|promote|timeline`, `stats` and
 * `scan status` (issue 5; the seed hub's GET /devices, /history/{mac}, /timeline, /stats,
 * /scan/status and POST /devices/{mac}/promote). JSON shapes are documented in docs/SCAN.md.
 */
import {describeEvent} from '../devices/describe.js'
import {hostname as machineName} from 'node:os'
import {addEvent, findDevice, requireDevice, setKnown, type DeviceRow} from '../devices/repo.js'
import {addressTimelines, ipAt, ipHolders, type AddressTimeline} from '../devices/ip-history.js'
import {ipVersion} from '../devices/ip.js'
import {tryNormalizeMac} from '../devices/mac.js'
import {candidateLabel, devicesNamed, looksLikeAddress} from '../devices/resolve.js'
import {invalidInput, notFound} from '../errors.js'
import {isoOf} from '../format/time.js'
import {compareIp} from '../scan/targets.js'
import {macKind, type MacKind} from '../scan/vendor.js'
import type {Store} from '../store/index.js'
import {EVENT_TYPES, type EventType} from './plan.js'

export interface DeviceView {
  id: number
  mac: string | null
  mac_kind: MacKind | null
  ip: string | null
  name: string | null
  hostname: string | null
  vendor: string | null
  known: boolean
  /** online | offline | unknown (never checked by a scan) */
  status: 'online' | 'offline' | 'unknown'
  first_seen: string
  first_seen_ms: number
  last_seen: string
  last_seen_ms: number
  open_ports: number[]
}

interface DeviceRowX extends DeviceRow {
  ports_scanned_at: number | null
  open_ports?: string | null
}

function view(d: DeviceRowX): DeviceView {
  return {
    id: Number(d.id),
    mac: d.mac,
    mac_kind: d.mac ? macKind(d.mac) : null,
    ip: d.ip,
    name: d.name,
    hostname: d.hostname,
    vendor: d.vendor,
    known: Number(d.known) === 1,
    status: d.online === null ? 'unknown' : Number(d.online) === 1 ? 'online' : 'offline',
    first_seen: isoOf(Number(d.first_seen)),
    first_seen_ms: Number(d.first_seen),
    last_seen: isoOf(Number(d.last_seen)),
    last_seen_ms: Number(d.last_seen),
    open_ports: d.open_ports
      ? d.open_ports
          .split(',')
          .map(Number)
          .sort((a, b) => a - b)
      : [],
  }
}

export interface ListFilter {
  online?: boolean
  offline?: boolean
  known?: boolean
  unknown?: boolean
  vendor?: string
}

const DEVICE_SELECT = `SELECT d.*, (SELECT group_concat(port) FROM device_ports p WHERE p.device_id = d.id AND p.proto = 'tcp') AS open_ports FROM devices d`

/** Devices sorted by address (numerically), devices without an address last. */
export async function listDevices(store: Store, f: ListFilter = {}): Promise<DeviceView[]> {
  if (f.online && f.offline) throw invalidInput('--online and --offline exclude each other', 'give one of them')
  if (f.known && f.unknown) throw invalidInput('--known and --unknown exclude each other', 'give one of them')
  const where: string[] = []
  const args: (string | number)[] = []
  if (f.online) where.push('d.online = 1')
  if (f.offline) where.push('d.online = 0')
  if (f.known) where.push('d.known = 1')
  if (f.unknown) where.push('d.known = 0')
  if (f.vendor !== undefined) {
    if (f.vendor.trim() === '') throw invalidInput('--vendor is empty', 'give part of a vendor name, e.g. --vendor raspberry')
    where.push(`d.vendor LIKE ? ESCAPE '\\'`)
    args.push(`%${f.vendor.trim().replace(/[\\%_]/g, c => '\\' + c)}%`)
  }
  const rows = await store.query<DeviceRowX>(`${DEVICE_SELECT}${where.length ? ' WHERE ' + where.join(' AND ') : ''}`, args)
  return rows.map(view).sort((a, b) => {
    if (!a.ip || !b.ip) return a.ip ? -1 : b.ip ? 1 : a.id - b.id
    return compareIp(a.ip, b.ip) || a.id - b.id
  })
}

export interface EventView {
  id: number
  ts: string
  ts_ms: number
  type: string
  device_id: number | null
  mac: string | null
  /**
   * The device's address at the time of the event: the event's own (`detail.ip`; for
   * ip_changed `detail.to`), else the one it held then by its IP history (ipAt).
   */
  ip: string | null
  /** ip_changed only: the address it moved from (`detail.from`); null for other events. */
  ip_from: string | null
  /** The device's address now. */
  current_ip: string | null
  name: string | null
  detail: Record<string, unknown> | null
  /** The detail as one line of text for people (devices/describe.ts); `detail` keeps the data. */
  text: string
}

interface EventRow {
  id: number
  ts: number
  type: string
  device_id: number | null
  mac?: string | null
  ip?: string | null
  name?: string | null
  detail: string | null
}

/** `addresses`: the address timelines of the events' devices (addressTimelines). */
function eventView(r: EventRow, addresses: Map<number, AddressTimeline>): EventView {
  let detail: Record<string, unknown> | null = null
  if (r.detail) {
    try {
      const parsed: unknown = JSON.parse(r.detail)
      detail = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {raw: r.detail}
    } catch {
      detail = {raw: r.detail}
    }
  }
  const deviceId = r.device_id === null ? null : Number(r.device_id)
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null)
  const moved = r.type === 'ip_changed' && str(detail?.to) !== null
  const ip = moved ? str(detail!.to) : (str(detail?.ip) ?? (deviceId === null ? null : ipAt(addresses.get(deviceId), Number(r.ts))))
  return {
    id: Number(r.id),
    ts: isoOf(Number(r.ts)),
    ts_ms: Number(r.ts),
    type: r.type,
    device_id: deviceId,
    mac: r.mac ?? null,
    ip,
    ip_from: moved ? str(detail!.from) : null,
    current_ip: deviceId === null ? null : (r.ip ?? addresses.get(deviceId)?.current ?? null),
    name: r.name ?? null,
    detail,
    text: describeEvent(r.type, detail),
  }
}

async function eventViews(store: Store, rows: EventRow[]): Promise<EventView[]> {
  const addresses = await addressTimelines(
    store,
    rows.flatMap(r => (r.device_id === null ? [] : [Number(r.device_id)])),
  )
  return rows.map(r => eventView(r, addresses))
}

export interface IpHistoryView {
  ip: string
  current: boolean
  first_seen: string
  first_seen_ms: number
  last_seen: string
  last_seen_ms: number
}

export interface PortView {
  port: number
  proto: string
  service: string | null
  banner: string | null
  first_seen: string
  first_seen_ms: number
  last_seen: string
  last_seen_ms: number
}

async function ipHistory(store: Store, d: DeviceRow): Promise<IpHistoryView[]> {
  const rows = await store.query<{ip: string; first_seen: number; last_seen: number}>(
    `SELECT ip, first_seen, last_seen FROM device_ips WHERE device_id = ? ORDER BY first_seen, ip`,
    [d.id],
  )
  return rows.map(r => ({
    ip: r.ip,
    current: r.ip === d.ip,
    first_seen: isoOf(Number(r.first_seen)),
    first_seen_ms: Number(r.first_seen),
    last_seen: isoOf(Number(r.last_seen)),
    last_seen_ms: Number(r.last_seen),
  }))
}

async function deviceEvents(store: Store, id: number, limit?: number): Promise<EventView[]> {
  const rows = await store.query<{id: number; ts: number; type: string; device_id: number; detail: string | null}>(
    `SELECT id, ts, type, device_id, detail FROM events WHERE device_id = ? ORDER BY ts DESC, id DESC${limit ? ` LIMIT ${limit}` : ''}`,
    [id],
  )
  return (await eventViews(store, rows)).reverse()
}

export interface DeviceHistory {
  device: DeviceView
  ips: IpHistoryView[]
  events: EventView[]
}

export interface IpHolderView {
  device_id: number
  mac: string | null
  name: string | null
  /** The device's address now. */
  ip: string | null
  /** The device is at the looked-up address now. */
  current: boolean
  /** First and last sighting of the device at the looked-up address. */
  first_seen: string
  first_seen_ms: number
  last_seen: string
  last_seen_ms: number
}

export interface DeviceHistoryByIp extends DeviceHistory {
  /**
   * Looked up by IP: every device that held that address, oldest first; `device` is the one at
   * the address now (the most recently seen if several), else the one that held it last.
   * Null when looked up by MAC.
   */
  ip_holders: IpHolderView[] | null
}

async function deviceById(store: Store, id: number): Promise<DeviceView> {
  return view((await store.get<DeviceRowX>(`${DEVICE_SELECT} WHERE d.id = ?`, [id]))!)
}

async function lookup(store: Store, macOrIp: string): Promise<DeviceRow> {
  return requireDevice(store, macOrIp.trim())
}

/**
 * IP history and every event of one device (oldest first). By IP, a former address finds the
 * device too: see DeviceHistoryByIp.
 */
export async function deviceHistory(store: Store, macOrIp: string): Promise<DeviceHistoryByIp> {
  const key = macOrIp.trim()
  let d: DeviceRow
  let holders: IpHolderView[] | null = null
  if (!tryNormalizeMac(key) && ipVersion(key)) {
    const found = await ipHolders(store, key)
    if (!found.length) return deviceHistoryOf(store, await lookup(store, key), null)
    const rows = await store.query<DeviceRow>(`SELECT * FROM devices WHERE id IN (SELECT value FROM json_each(?))`, [
      JSON.stringify(found.map(h => h.device_id)),
    ])
    const byId = new Map(rows.map(r => [Number(r.id), r]))
    holders = found.map(h => {
      const dev = byId.get(h.device_id)!
      return {
        device_id: h.device_id,
        mac: dev.mac,
        name: dev.name,
        ip: dev.ip,
        current: h.current,
        first_seen: isoOf(h.first_seen),
        first_seen_ms: h.first_seen,
        last_seen: isoOf(h.last_seen),
        last_seen_ms: h.last_seen,
      }
    })
    // The device there now (as `devices show IP` finds it), else the last one to hold it.
    d = (await findDevice(store, key)) ?? byId.get([...found].sort((a, b) => b.last_seen - a.last_seen || b.device_id - a.device_id)[0]!.device_id)!
  } else d = await lookup(store, key)
  return deviceHistoryOf(store, d, holders)
}

async function deviceHistoryOf(store: Store, d: DeviceRow, holders: IpHolderView[] | null): Promise<DeviceHistoryByIp> {
  return {device: await deviceById(store, d.id), ips: await ipHistory(store, d), events: await deviceEvents(store, d.id), ip_holders: holders}
}

export interface DeviceDetail extends DeviceHistory {
  ports: PortView[]
  ports_scanned: string | null
  ports_scanned_ms: number | null
  last_scan: {scan_id: number; ts: string; ts_ms: number; found_by: string[]; rtt_ms: number | null} | null
  latency: Record<string, unknown> | null
  bandwidth: Record<string, unknown> | null
}

async function tableExists(store: Store, name: string): Promise<boolean> {
  return !!(await store.get(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`, [name]))
}

/** Everything known about one device, with its last latency run and bandwidth totals when present. */
export async function showDevice(store: Store, macOrIp: string): Promise<DeviceDetail> {
  const d = (await lookup(store, macOrIp)) as DeviceRowX
  const ports = await store.query<{port: number; proto: string; service: string | null; banner: string | null; first_seen: number; last_seen: number}>(
    `SELECT port, proto, service, banner, first_seen, last_seen FROM device_ports WHERE device_id = ? ORDER BY proto, port`,
    [d.id],
  )
  const last = await store.get<{scan_id: number; found_by: string; rtt_ms: number | null; ts: number}>(
    `SELECT h.scan_id, h.found_by, h.rtt_ms, coalesce(s.finished_at, s.started_at) AS ts
       FROM scan_hosts h JOIN scans s ON s.id = h.scan_id WHERE h.device_id = ? ORDER BY h.scan_id DESC LIMIT 1`,
    [d.id],
  )
  let latency: DeviceDetail['latency'] = null
  if (await tableExists(store, 'latency_runs')) {
    const r = await store.get<Record<string, unknown>>(
      `SELECT host, ip, method, port, ended_at, sent, received, loss_pct, min_ms, avg_ms, max_ms, median_ms, jitter_ms, grade, error
         FROM latency_runs WHERE device_id = ?1 OR (device_id IS NULL AND ip = ?2) ORDER BY ended_at DESC LIMIT 1`,
      [d.id, d.ip ?? ''],
    )
    if (r) latency = {...r, at: isoOf(Number(r.ended_at)), at_ms: Number(r.ended_at)}
  }
  let bandwidth: DeviceDetail['bandwidth'] = null
  if ((await tableExists(store, 'bw_totals')) && (await store.get(`SELECT 1 FROM bw_totals WHERE device_id = ?`, [d.id]))) {
    // The bandwidth capability's own shape (docs/BANDWIDTH.md), not a copy of its SQL.
    const {deviceStats} = await import('../bandwidth/query.js')
    bandwidth = (await deviceStats(store, d.mac ?? d.ip ?? '')).device as unknown as Record<string, unknown>
  }
  return {
    device: await deviceById(store, d.id),
    ips: await ipHistory(store, d),
    events: await deviceEvents(store, d.id, 50),
    ports: ports.map(p => ({
      port: Number(p.port),
      proto: p.proto,
      service: p.service,
      banner: p.banner,
      first_seen: isoOf(Number(p.first_seen)),
      first_seen_ms: Number(p.first_seen),
      last_seen: isoOf(Number(p.last_seen)),
      last_seen_ms: Number(p.last_seen),
    })),
    ports_scanned: d.ports_scanned_at === null ? null : isoOf(Number(d.ports_scanned_at)),
    ports_scanned_ms: d.ports_scanned_at === null ? null : Number(d.ports_scanned_at),
    last_scan: last
      ? {
          scan_id: Number(last.scan_id),
          ts: isoOf(Number(last.ts)),
          ts_ms: Number(last.ts),
          found_by: JSON.parse(last.found_by) as string[],
          rtt_ms: last.rtt_ms,
        }
      : null,
    latency,
    bandwidth,
  }
}

export interface PromoteResult {
  device: DeviceView
  /** False when the device was already known under the same name (nothing written). */
  changed: boolean
}

/** Marks a device known, optionally naming it; a `promoted` event records the change. */
export async function promoteDevice(store: Store, macOrIp: string, name?: string, now = Date.now()): Promise<PromoteResult> {
  if (name !== undefined && (name.trim() === '' || name.length > 100)) {
    throw invalidInput('--name must be 1–100 characters', 'e.g. --name "Living room TV"')
  }
  // A name that reads as a MAC or an IP could never be used to find the device (resolve.ts).
  if (name !== undefined && looksLikeAddress(name)) {
    throw invalidInput(`--name "${name.trim()}" reads as a MAC or IP address`, 'give a name such as "office printer"')
  }
  const result = await store.writeTx(async tx => {
    const d = await requireDevice(tx, macOrIp)
    const newName = name === undefined ? d.name : name.trim()
    // One name, one device: a second device under the same name would make the name ambiguous.
    if (newName !== null) {
      const clash = (await devicesNamed(tx, newName)).filter(o => Number(o.id) !== Number(d.id))
      if (clash.length) {
        throw invalidInput(`the name "${newName}" is already given to ${candidateLabel(clash[0]!)}`, 'pick another name, or rename that device first')
      }
    }
    if (Number(d.known) === 1 && newName === d.name) return {id: d.id, changed: false}
    await setKnown(tx, d.id, newName)
    await addEvent(tx, {ts: now, deviceId: d.id, type: 'promoted', detail: {name: newName, previous_name: d.name, was_known: Number(d.known) === 1}})
    return {id: d.id, changed: true}
  })
  return {device: await deviceById(store, result.id), changed: result.changed}
}

export interface TimelineOptions {
  since?: number
  until?: number
  types?: string[]
  device?: string
  limit: number
}

export interface Timeline {
  since: string | null
  since_ms: number | null
  until: string | null
  until_ms: number | null
  count: number
  truncated: boolean
  events: EventView[]
}

/** Events in [since, until), oldest first; the newest `limit` when there are more. */
export async function timeline(store: Store, o: TimelineOptions): Promise<Timeline> {
  const known = new Set<string>(EVENT_TYPES)
  const types = (o.types ?? []).map(t => t.trim()).filter(Boolean)
  for (const t of types) {
    // Other capabilities may add event types; accept anything stored, but catch typos of ours.
    if (!known.has(t) && !/^[a-z][a-z0-9_]*$/.test(t)) throw invalidInput(`--type "${t}" is not an event type`, `use ${EVENT_TYPES.join(', ')}`)
  }
  if (o.since !== undefined && o.until !== undefined && o.until <= o.since) throw invalidInput('--until is not after --since', 'give a later --until')
  const where: string[] = []
  const args: (string | number)[] = []
  if (o.since !== undefined) {
    where.push('e.ts >= ?')
    args.push(o.since)
  }
  if (o.until !== undefined) {
    where.push('e.ts < ?')
    args.push(o.until)
  }
  if (types.length) {
    where.push(`e.type IN (SELECT value FROM json_each(?))`)
    args.push(JSON.stringify(types))
  }
  if (o.device !== undefined) {
    const d = await lookup(store, o.device)
    where.push('e.device_id = ?')
    args.push(d.id)
  }
  const rows = await store.query<{
    id: number
    ts: number
    type: string
    device_id: number | null
    mac: string | null
    ip: string | null
    name: string | null
    detail: string | null
  }>(
    `SELECT e.id, e.ts, e.type, e.device_id, d.mac, d.ip, d.name, e.detail
       FROM events e LEFT JOIN devices d ON d.id = e.device_id
      ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
      ORDER BY e.ts DESC, e.id DESC LIMIT ?`,
    [...args, o.limit + 1],
  )
  const truncated = rows.length > o.limit
  const events = (await eventViews(store, rows.slice(0, o.limit))).reverse()
  return {
    since: o.since === undefined ? null : isoOf(o.since),
    since_ms: o.since ?? null,
    until: o.until === undefined ? null : isoOf(o.until),
    until_ms: o.until ?? null,
    count: events.length,
    truncated,
    events,
  }
}

export interface ScanView {
  id: number
  status: 'running' | 'done' | 'interrupted' | 'failed'
  /** A "running" row whose process is gone (killed): reported as interrupted. */
  stale: boolean
  started: string
  started_ms: number
  updated: string
  updated_ms: number
  finished: string | null
  finished_ms: number | null
  elapsed_ms: number
  targets: string[]
  methods: string[]
  ports: string | null
  hosts_total: number
  hosts_done: number
  found: number
  ports_total: number
  ports_done: number
  percent: number
  pid: number | null
  host: string | null
  error: string | null
  summary: Record<string, number> | null
}

interface ScanRow {
  id: number
  started_at: number
  updated_at: number
  finished_at: number | null
  status: string
  targets: string
  methods: string
  ports: string | null
  hosts_total: number
  hosts_done: number
  found: number
  ports_total: number
  ports_done: number
  pid: number | null
  hostname: string | null
  error: string | null
  summary: string | null
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** A running scan not updated for this long, on another machine, is considered dead. */
const STALE_MS = 60_000

function scanView(r: ScanRow, now: number): ScanView {
  let status = r.status as ScanView['status']
  let stale = false
  if (status === 'running') {
    const here = r.hostname === machineName()
    if ((here && r.pid !== null && !pidAlive(Number(r.pid))) || (!here && now - Number(r.updated_at) > STALE_MS)) {
      status = 'interrupted'
      stale = true
    }
  }
  const total = Number(r.hosts_total) + Number(r.ports_total)
  const done = Number(r.hosts_done) + Number(r.ports_done)
  const end = r.finished_at === null ? (stale ? Number(r.updated_at) : now) : Number(r.finished_at)
  return {
    id: Number(r.id),
    status,
    stale,
    started: isoOf(Number(r.started_at)),
    started_ms: Number(r.started_at),
    updated: isoOf(Number(r.updated_at)),
    updated_ms: Number(r.updated_at),
    finished: r.finished_at === null ? null : isoOf(Number(r.finished_at)),
    finished_ms: r.finished_at === null ? null : Number(r.finished_at),
    elapsed_ms: Math.max(0, end - Number(r.started_at)),
    targets: JSON.parse(r.targets) as string[],
    methods: JSON.parse(r.methods) as string[],
    ports: r.ports,
    hosts_total: Number(r.hosts_total),
    hosts_done: Number(r.hosts_done),
    found: Number(r.found),
    ports_total: Number(r.ports_total),
    ports_done: Number(r.ports_done),
    percent: total === 0 ? 100 : Math.round((1000 * done) / total) / 10,
    pid: r.pid === null ? null : Number(r.pid),
    host: r.hostname,
    error: r.error,
    summary: r.summary ? (JSON.parse(r.summary) as Record<string, number>) : null,
  }
}

export interface ScanStatus {
  /** The scan shown: the running one (newest first), else the last one; null when none ever ran. */
  scan: ScanView | null
  running: ScanView[]
  hosts?: {ip: string; mac: string | null; found_by: string[]; rtt_ms: number | null; hostname: string | null}[]
}

/** `scan status [ID]`: the running scan(s), else the last one, from the store only. */
export async function scanStatus(store: Store, opts: {id?: number; hosts?: boolean; now?: number} = {}): Promise<ScanStatus> {
  const now = opts.now ?? Date.now()
  let shown: ScanView | null = null
  const runningRows = await store.query<ScanRow>(`SELECT * FROM scans WHERE status = 'running' ORDER BY id DESC`)
  const running = runningRows.map(r => scanView(r, now)).filter(v => v.status === 'running')
  if (opts.id !== undefined) {
    const r = await store.get<ScanRow>(`SELECT * FROM scans WHERE id = ?`, [opts.id])
    if (!r) throw notFound(`no scan #${opts.id} in the store`, 'run `netmon scan status` for the last one')
    shown = scanView(r, now)
  } else if (running.length) shown = running[0]!
  else {
    const r = await store.get<ScanRow>(`SELECT * FROM scans ORDER BY id DESC LIMIT 1`)
    shown = r ? scanView(r, now) : null
  }
  const out: ScanStatus = {scan: shown, running}
  if (opts.hosts && shown) {
    const rows = await store.query<{ip: string; mac: string | null; found_by: string; rtt_ms: number | null; hostname: string | null}>(
      `SELECT ip, mac, found_by, rtt_ms, hostname FROM scan_hosts WHERE scan_id = ?`,
      [shown.id],
    )
    out.hosts = rows
      .map(r => ({ip: r.ip, mac: r.mac, found_by: JSON.parse(r.found_by) as string[], rtt_ms: r.rtt_ms, hostname: r.hostname}))
      .sort((a, b) => compareIp(a.ip, b.ip))
  }
  return out
}

export interface InventoryStats {
  devices: {total: number; online: number; offline: number; unknown_status: number; known: number; unknown: number; new_24h: number}
  events_24h: Record<string, number>
  last_scan: ScanView | null
  generated: string
  generated_ms: number
}

/** `netmon stats`: inventory counts and the last scan. */
export async function inventoryStats(store: Store, now = Date.now()): Promise<InventoryStats> {
  const dayAgo = now - 86_400_000
  const [counts, events, lastScan] = await store.readBatch([
    {
      sql: `SELECT count(*) AS total,
                   coalesce(sum(online = 1), 0) AS online,
                   coalesce(sum(online = 0), 0) AS offline,
                   coalesce(sum(online IS NULL), 0) AS unknown_status,
                   coalesce(sum(known = 1), 0) AS known,
                   coalesce(sum(first_seen >= ?), 0) AS new_24h
              FROM devices`,
      args: [dayAgo],
    },
    {sql: `SELECT type, count(*) AS n FROM events WHERE ts >= ? GROUP BY type ORDER BY type`, args: [dayAgo]},
    {sql: `SELECT * FROM scans ORDER BY id DESC LIMIT 1`, args: []},
  ])
  const c = counts![0]! as Record<string, number>
  const ev: Record<string, number> = {}
  for (const r of events! as {type: string; n: number}[]) ev[r.type] = Number(r.n)
  return {
    devices: {
      total: Number(c.total),
      online: Number(c.online),
      offline: Number(c.offline),
      unknown_status: Number(c.unknown_status),
      known: Number(c.known),
      unknown: Number(c.total) - Number(c.known),
      new_24h: Number(c.new_24h),
    },
    events_24h: ev,
    last_scan: lastScan!.length ? scanView(lastScan![0] as unknown as ScanRow, now) : null,
    generated: isoOf(now),
    generated_ms: now,
  }
}

export {EVENT_TYPES, type EventType}

/**
 * `bandwidth register` (the seed's register_device) and `bandwidth reset` (the seed's reset_stats).
 */
import {addEvent, findDevice, registerDevice} from '../devices/repo.js'
import {notFound} from '../errors.js'
import type {Store, Tx} from '../store/index.js'

export interface RegisterResult {
  success: true
  message: string
  device: {ip: string | null; mac: string | null; hostname: string | null}
  created: boolean
  first_seen: string
  first_seen_ms: number
}

/**
 * Opens bandwidth accounting (a bw_totals row) for devices that have none, inside the caller's
 * transaction; the one place this is done (`bandwidth register`, `scan --register`).
 */
export async function openAccounting(tx: Pick<Tx, 'execute'>, deviceIds: readonly number[], now: number): Promise<void> {
  if (deviceIds.length === 0) return
  await tx.execute(`INSERT INTO bw_totals(device_id, since_ts) SELECT value, ? FROM json_each(?) WHERE true ON CONFLICT(device_id) DO NOTHING`, [
    now,
    JSON.stringify(deviceIds),
  ])
}

/**
 * Upserts the device by MAC and opens its accounting (bw_totals) if it has none yet.
 * Re-registering updates ip/hostname and keeps the totals. The registration time is the
 * accounting start: a device's first delta sample is "bytes since registration".
 */
export async function registerBandwidthDevice(store: Store, input: {mac: string; ip: string; hostname?: string | null; now?: number}): Promise<RegisterResult> {
  const now = input.now ?? Date.now()
  return store.writeTx(async tx => {
    const {device, created} = await registerDevice(tx, {mac: input.mac, ip: input.ip, hostname: input.hostname ?? null, now})
    await openAccounting(tx, [device.id], now)
    return {
      success: true as const,
      message: 'Device registered',
      device: {ip: device.ip, mac: device.mac, hostname: device.hostname},
      created,
      first_seen: new Date(Number(device.first_seen)).toISOString(),
      first_seen_ms: Number(device.first_seen),
    }
  })
}

export interface ResetResult {
  success: true
  message: string
  devices_reset: number
  macs: string[]
  purged: {raw_samples: number; rollup_rows: number} | null
}

/**
 * Zeroes totals, sample counts and peaks (the accounting restarts now). History (raw samples,
 * rollups) is kept unless `purge`. The latest sample ("current") and counter state describe the
 * device, not the accounting, so they stay — except that purge removes the samples they refer to.
 */
export async function resetStats(store: Store, opts: {mac?: string; purge?: boolean; now?: number}): Promise<ResetResult> {
  const now = opts.now ?? Date.now()
  return store.writeTx(async tx => {
    let targets: {id: number; mac: string}[]
    if (opts.mac !== undefined) {
      const d = await findDevice(tx, opts.mac)
      if (!d) throw notFound(`no device ${opts.mac} in the store`, 'list devices with `netmon bandwidth stats`')
      targets = [{id: d.id, mac: String(d.mac)}]
      await tx.execute(`INSERT INTO bw_totals(device_id) VALUES (?) ON CONFLICT(device_id) DO NOTHING`, [d.id])
    } else {
      targets = (await tx.query<{id: number; mac: string}>(`SELECT d.id, d.mac FROM bw_totals t JOIN devices d ON d.id = t.device_id ORDER BY d.mac`)).map(
        r => ({id: Number(r.id), mac: String(r.mac)}),
      )
    }
    const ids = JSON.stringify(targets.map(t => t.id))
    await tx.execute(
      `UPDATE bw_totals SET since_ts = ?, reset_ts = ?, first_ts = NULL, last_ts = NULL, bytes_sent = 0, bytes_received = 0, sample_count = 0,
         peak_bps = NULL, peak_ts = NULL, peak_up_bps = NULL, peak_up_ts = NULL, peak_down_bps = NULL, peak_down_ts = NULL
       WHERE device_id IN (SELECT value FROM json_each(?))`,
      [now, now, ids],
    )
    let purged: ResetResult['purged'] = null
    if (opts.purge) {
      const raw = await tx.execute(`DELETE FROM bw_samples WHERE device_id IN (SELECT value FROM json_each(?))`, [ids])
      let rollupRows = 0
      // Interface errors/drops history goes with the byte history (the cumulative reference stays).
      await tx.execute(`DELETE FROM bw_iface_errors WHERE device_id IN (SELECT value FROM json_each(?))`, [ids])
      // So does the traffic by protocol/port (flows.ts).
      await tx.execute(`DELETE FROM bw_ports WHERE device_id IN (SELECT value FROM json_each(?))`, [ids])
      for (const t of ['bw_rollup_5m', 'bw_rollup_1h', 'bw_rollup_1d']) {
        rollupRows += (await tx.execute(`DELETE FROM ${t} WHERE device_id IN (SELECT value FROM json_each(?))`, [ids])).rowsAffected
      }
      await tx.execute(
        `UPDATE bw_totals SET cur_ts = NULL, cur_sent = NULL, cur_received = NULL, cur_interval_ms = NULL WHERE device_id IN (SELECT value FROM json_each(?))`,
        [ids],
      )
      purged = {raw_samples: raw.rowsAffected, rollup_rows: rollupRows}
    }
    for (const t of targets) await addEvent(tx, {ts: now, deviceId: t.id, type: 'bandwidth_reset', detail: {purge: Boolean(opts.purge)}})
    return {
      success: true as const,
      message: 'Statistics reset',
      devices_reset: targets.length,
      macs: targets.map(t => t.mac),
      purged,
    }
  })
}

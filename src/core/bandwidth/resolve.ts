/**
 * A batch's MACs → device ids inside the write transaction (issue 14's split of ingest.ts).
 * Devices are created and refreshed through src/core/devices/ (their one owner), in bulk.
 */
import {invalidInput} from '../errors.js'
import type {BulkRows} from '../devices/events.js'
import {ensureDevicesByMac, refreshAddresses, refreshHostnames, registerDevice} from '../devices/repo.js'
import type {Tx} from '../store/index.js'
import {jsonChunks, writeJsonRows, type Sink} from './bulk.js'
import type {IngestOptions} from './ingest.js'
import type {SampleBatch} from './input.js'
import {lookup, type Loaded} from './totals-repo.js'

/** The devices module's bulk writes over this batch's sink (chunked under its request budget). */
export function bulkRows(sink: Sink, tx: Pick<Tx, 'query'> | null): BulkRows {
  return {
    write: (sql, rows) => writeJsonRows(sink, sql, rows),
    query: async <T>(sql: string, rows: readonly string[]) => {
      if (!tx) throw new Error('bulk query needs a transaction')
      const out: T[] = []
      for (const chunk of jsonChunks(rows, sql, sink.maxBytes)) out.push(...(await tx.query<T>(sql, [chunk])))
      return out
    },
  }
}

/**
 * Resolves the batch's MACs to device ids inside the transaction: unknown MACs are registered
 * with --auto-register, else rejected (exit 2, naming where the MAC first appeared). ip/hostname
 * given with the samples refresh the device (like re-registering). Set-based: a constant number of
 * statements whatever the number of devices, except a MAC whose hinted address belongs to a
 * device the scanner knew by IP only (that one is merged by registerDevice, one by one).
 */
export async function resolveDevices(
  tx: Tx,
  sink: Sink,
  batch: SampleBatch,
  opts: IngestOptions,
  now: number,
): Promise<{ids: number[]; registered: string[]; loaded: Map<string, Loaded>}> {
  const loaded = await lookup(tx, batch.macs, sink.maxBytes)
  if (!opts.autoRegister) {
    const k = batch.macs.findIndex(m => !loaded.has(m))
    if (k >= 0) {
      const where = batch.firstLine[k] ? ` (first on line ${batch.firstLine[k]})` : ''
      throw invalidInput(
        `unknown device ${batch.macs[k]}${where}`,
        'register it first with `netmon bandwidth register --ip IP --mac MAC`, or pass --auto-register',
      )
    }
  }
  const hintedIps = [...new Set(batch.hints.flatMap(h => (h?.ip ? [JSON.stringify(h.ip)] : [])))]
  const ipOnly = new Set<string>()
  const ipOnlySql = `SELECT ip FROM devices WHERE mac IS NULL AND ip IN (SELECT value FROM json_each(?))`
  for (const chunk of jsonChunks(hintedIps, ipOnlySql, sink.maxBytes)) {
    for (const r of await tx.query<{ip: string}>(ipOnlySql, [chunk])) ipOnly.add(String(r.ip))
  }
  const ids: number[] = new Array(batch.macs.length)
  const registered: string[] = []
  const merged: string[] = []
  const newRows: string[] = []
  const ipRows: string[] = []
  const hostRows: string[] = []
  for (let k = 0; k < batch.macs.length; k++) {
    const mac = batch.macs[k]!
    const hint = batch.hints[k]
    const found = loaded.get(mac)
    if (hint?.ip && ipOnly.has(hint.ip)) {
      ipOnly.delete(hint.ip)
      const r = await registerDevice(tx, {mac, ip: hint.ip, hostname: found ? (hint.hostname ?? null) : (hint.hostname ?? hint.label ?? null), now})
      ids[k] = r.device.id
      if (r.created) registered.push(mac)
      merged.push(mac)
    } else if (found) {
      ids[k] = Number(found.id)
      if (hint?.ip) ipRows.push(JSON.stringify([ids[k], hint.ip, hint.hostname ?? null, now]))
      else if (hint?.hostname) hostRows.push(JSON.stringify([ids[k], hint.hostname]))
    } else {
      newRows.push(JSON.stringify([mac, hint?.ip ?? null, hint?.hostname ?? hint?.label ?? null, now]))
    }
  }
  const bulk = bulkRows(sink, tx)
  await refreshAddresses(bulk, ipRows)
  await refreshHostnames(bulk, hostRows)
  if (newRows.length) {
    // Created devices raise `new` like those a scan finds (devices/repo.ts, in bulk).
    const created = await ensureDevicesByMac(bulk, newRows, now, 'bandwidth')
    for (let k = 0; k < batch.macs.length; k++) {
      const id = created.get(batch.macs[k]!)
      if (id === undefined) continue
      ids[k] = id
      registered.push(batch.macs[k]!)
    }
  }
  // A merged device may bring accounting of its own: read its state as it is now.
  if (merged.length) for (const [mac, row] of await lookup(tx, merged, sink.maxBytes)) loaded.set(mac, row)
  return {ids, registered, loaded}
}

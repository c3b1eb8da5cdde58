/**
 * Writing one validated batch: atomically (one transaction, or ingest's one-request fast paths),
 * then the hourly auto-prune. Shared by `bandwidth sample` and the collector runner.
 */
import {NetmonError} from '../errors.js'
import type {Store, Tx} from '../store/index.js'
import type {CounterBits} from './counters.js'
import type {IssueDetail} from './ifaceissues.js'
import {applyBatch, ingestBatch, type IngestResult} from './ingest.js'
import type {SampleBatch} from './input.js'
import {autoPrune} from './retention.js'

export interface InterfaceSample {
  name: string
  mac: string
  synthetic_mac: boolean
  ip: string | null
  counter_sent: string
  counter_received: string
  read_at: string
  read_at_ms: number
  /** Cumulative kernel counters (decimal), where the platform has them. */
  counter_tx_errors?: string
  counter_rx_errors?: string
  counter_tx_drops?: string
  counter_rx_drops?: string
}

/** One device's counters as the nftables source read them (`bandwidth sample --from nft`). */
export interface HostSample {
  /** The device's MAC, or ip:ADDR for an address the neighbor table never resolved. */
  key: string
  counter_id: string
  counter_sent: string
  counter_received: string
  packets_sent: string
  packets_received: string
  read_at_ms: number
}

export type SampleResult = IngestResult & {
  interfaces?: InterfaceSample[]
  /** `--from snmp:// --fdb`: the agent's forwarding entries stored with this reading (collect/fdb.ts). */
  fdb?: {if_index: number; port: string; mac: string; vlan: number}[]
  hosts?: HostSample[]
  table_created_at?: string | null
  auto_pruned?: boolean
  interface_issues?: IssueDetail[]
}

const SIGNAL_EXIT: Record<string, number> = {SIGINT: 130, SIGTERM: 143, SIGHUP: 129}

/** The error for an import stopped by a signal: one line, exit 128 + the signal's number. */
export function interrupted(reason: unknown): NetmonError {
  const sig = typeof reason === 'string' && reason in SIGNAL_EXIT ? reason : 'SIGINT'
  return new NetmonError('internal', `interrupted by ${sig}: nothing was recorded (the unfinished batch was rolled back)`, {
    code: 'INTERRUPTED',
    exitCode: SIGNAL_EXIT[sig],
  })
}

/**
 * The transaction as seen by applyBatch, failing (so rolling back) once `signal` is aborted.
 * A local store runs the whole transaction without returning to the event loop (the SQLite
 * binding is synchronous), so a signal handler could only run after COMMIT: each statement
 * first yields to the loop once. The statements are few and large (json_each), so this is cheap.
 */
function stoppable(tx: Tx, signal: AbortSignal): Tx {
  const check = async () => {
    await new Promise(setImmediate)
    if (signal.aborted) throw interrupted(signal.reason)
  }
  return {
    query: async (sql, args) => (await check(), tx.query(sql, args)),
    get: async (sql, args) => (await check(), tx.get(sql, args)),
    execute: async (sql, args) => (await check(), tx.execute(sql, args)),
    batch: async stmts => (await check(), tx.batch(stmts)),
  }
}

/**
 * Yields `input` until `signal` aborts, then fails with `interrupted`, even while waiting for
 * the next chunk of an open pipe; a stream (stdin) is destroyed so it no longer holds the process.
 */
export async function* untilAborted<T>(input: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  let onAbort = () => {}
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      ;(input as {destroy?: () => void}).destroy?.()
      reject(interrupted(signal.reason))
    }
  })
  aborted.catch(() => {})
  if (signal.aborted) onAbort()
  else signal.addEventListener('abort', onAbort, {once: true})
  const it = input[Symbol.asyncIterator]()
  try {
    for (;;) {
      const r = await Promise.race([it.next(), aborted])
      if (r.done) return
      yield r.value
      if (signal.aborted) await aborted
    }
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/** Writes one batch atomically, then prunes if an hour has passed since the last prune. */
export async function writeBatch(
  store: Store,
  batch: SampleBatch,
  opts: {
    autoRegister: boolean
    counter?: {maxRateBps: number; bits: CounterBits}
    signal?: AbortSignal
    /** More writes in the same transaction, after the samples (their devices exist then): e.g. bw_ports (flows.ts). */
    alsoInTx?: (tx: Tx) => Promise<void>
  },
): Promise<SampleResult> {
  const {signal, alsoInTx, ...apply} = opts
  try {
    // A stream that a signal may stop goes through one transaction whose statements fail once the
    // signal is seen; so do batches with writes of their own; everything else takes ingestBatch's
    // fast paths (one request on a remote).
    const result: SampleResult =
      signal || alsoInTx
        ? await store.writeTx(async tx => {
            const t = signal ? stoppable(tx, signal) : tx
            const r = await applyBatch(t, batch, {...apply, local: store.isLocal})
            if (alsoInTx) await alsoInTx(t)
            // Last chance before COMMIT: a signal now still means nothing is recorded.
            if (signal?.aborted) throw interrupted(signal.reason)
            return r
          })
        : await ingestBatch(store, batch, apply)
    // Retention must never fail a sample that was already committed.
    try {
      result.auto_pruned = (await autoPrune(store)) !== null
    } catch {
      result.auto_pruned = false
    }
    return result
  } finally {
    batch.spool.close()
  }
}

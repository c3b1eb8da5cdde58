/**
 * Background delivery for a long-running evaluator (the agent's alerts job, issue 16): each run
 * evaluates, then `kick()`s a drain of every channel that has queued notifications and is not
 * already draining, without waiting for it. A channel that is down or slow (a receiver that
 * accepts the connection and never answers holds a send for its whole `timeout`) therefore never
 * delays evaluation, nor the other channels, nor a later run: while its drain is still going, the
 * next runs leave it alone and only one drain per channel is ever in flight, so the outbox's order
 * per channel holds. `alerts check` (cron) does not use this: it evaluates, then drains and waits,
 * because the process exits afterwards.
 */
import {ChannelOutbox, type ChannelReport} from '../outbox/queue.js'
import type {Store} from '../store/index.js'
import {senderFor} from './channels.js'
import {OUTBOX_TABLE} from './engine.js'
import type {RuleSet} from './rules.js'

export class BackgroundDelivery {
  private readonly inflight = new Map<string, Promise<void>>()
  private finished: ChannelReport[] = []

  constructor(
    private readonly store: Store,
    private readonly set: RuleSet,
    private readonly opts: {stderr?: (line: string) => void; onError?: (channel: string, e: unknown) => void} = {},
  ) {}

  /** Starts a drain for every configured channel with pending rows that is not draining already. */
  async kick(): Promise<void> {
    const outbox = new ChannelOutbox(this.store, OUTBOX_TABLE)
    const queued = await outbox.channelsWithPending()
    for (const name of queued) {
      const ch = this.set.channels.get(name)
      if (!ch || this.inflight.has(name)) continue
      const p = outbox
        .drainChannel(name, senderFor(ch, {stderr: this.opts.stderr}))
        .then(
          r => void this.finished.push(r),
          e => {
            // A store error inside a drain (busy, closed at shutdown): the rows stay queued.
            this.finished.push({channel: name, delivered: 0, failed: 0, dead: 0, waiting: -1, last_error: String((e as Error)?.message ?? e)})
            this.opts.onError?.(name, e)
          },
        )
        .finally(() => this.inflight.delete(name))
      this.inflight.set(name, p)
    }
  }

  /** The reports of the drains that finished since the last call, and the channels still draining. */
  take(): {reports: ChannelReport[]; delivering: string[]} {
    const reports = this.finished
    this.finished = []
    return {reports, delivering: [...this.inflight.keys()].sort()}
  }

  /** Waits for the running drains; false when some were still going after `ms`. */
  async idle(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined
    const all = Promise.all([...this.inflight.values()]).then(() => true)
    const t = new Promise<boolean>(r => (timer = setTimeout(() => r(false), ms)))
    const ok = await Promise.race([all, t])
    clearTimeout(timer)
    return ok
  }
}

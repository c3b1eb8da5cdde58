/**
 * Progress on stderr, only when stderr is a terminal (never in pipes, cron or CI logs), so
 * `--json` output and scripts are unaffected. cli-progress is loaded lazily.
 */
export interface Progress {
  update(done: number, extra?: Record<string, string | number>): void
  setTotal(total: number): void
  stop(): void
}

const NOOP: Progress = {update() {}, setTotal() {}, stop() {}}

export async function startProgress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Promise<Progress> {
  if (!stream.isTTY || process.env.NETMON_NO_PROGRESS) return NOOP
  const {default: cliProgress} = await import('cli-progress')
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {value}/{total} {percentage}% {extra}`,
      stream,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  )
  bar.start(total, 0, {extra: ''})
  return {
    update(done, extra) {
      bar.update(done, {
        extra: extra
          ? Object.entries(extra)
              .map(([k, v]) => `${k}: ${v}`)
              .join(' ')
          : '',
      })
    },
    setTotal(t) {
      bar.setTotal(t)
    },
    stop() {
      bar.stop()
    },
  }
}

import {redact} from './secrets.js'

/**
 * Logs go to stderr, one line per event, never to stdout (stdout carries only results).
 * `json` format emits one JSON object per line for journald/Loki.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export type LogFormat = 'text' | 'json'

const ORDER: Record<LogLevel, number> = {debug: 10, info: 20, warn: 30, error: 40}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
}

export function createLogger(opts: {format?: LogFormat; level?: LogLevel; write?: (line: string) => void; name?: string} = {}): Logger {
  const format = opts.format ?? 'text'
  const min = ORDER[opts.level ?? (process.env.DEBUG ? 'debug' : 'info')]
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'))
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return
    const ts = new Date().toISOString()
    if (format === 'json') {
      write(redact(JSON.stringify({ts, level, ...(opts.name ? {logger: opts.name} : {}), msg, ...fields})))
    } else {
      const extra = fields
        ? ' ' +
          Object.entries(fields)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ')
        : ''
      write(redact(`${ts} ${level.padEnd(5)} ${msg}${extra}`))
    }
  }
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  }
}

/**
 * oclif glue shared by every command (core knows nothing of oclif):
 * - `--json` on every command (oclif's JSON flag): stdout then carries only the result.
 * - One mapping from errors to exit codes: NetmonError kinds (input/usage → 2, else 1), oclif's
 *   own parse errors → 2. An error is one line on stderr (and `{"error":{code,message}}` on
 *   stdout under --json); a stack only when DEBUG is set. Secrets are scrubbed from all of it.
 * - The store: opened lazily from `--db`/env/default and closed when the command ends.
 */
import {Command, Errors, Flags, type Interfaces} from '@oclif/core'
import type {z} from 'zod'
import {NetmonError, isNetmonError} from '../core/errors.js'
import {redact, redactDeep} from '../core/secrets.js'
import type {Store} from '../core/store/index.js'
import {validate} from '../core/validate.js'
import {humanizeTimes} from '../core/format/time.js'
import {closest} from './did-you-mean.js'

export const dbFlag = Flags.string({
  description: 'Store to use: a file path, file:PATH, or libsql:// / https:// URL (default: $NETMON_DB_URL, else ~/.local/share/netmon/netmon.db)',
  helpValue: 'URL|PATH',
  helpGroup: 'GLOBAL',
})

/** Table output for scripts (docs/CONVENTIONS.md "Output"): on every command, like --db. */
export const columnsFlag = Flags.string({
  description: 'Tables: only these columns, in this order (comma-separated headings, case-insensitive)',
  helpValue: 'COL,COL',
  helpGroup: 'GLOBAL',
})
export const headerFlag = Flags.boolean({
  description: 'Tables: print the heading row (--no-header leaves only the data rows, for scripts)',
  allowNo: true,
  default: true,
  helpGroup: 'GLOBAL',
})

export const utcFlag = Flags.boolean({
  description: 'Human output: times in UTC instead of the local time zone ($TZ); JSON is always UTC',
  helpGroup: 'GLOBAL',
})

// oclif's FlagOutput/ArgOutput, which its Interfaces namespace does not re-export.
type Parsed = {[name: string]: any}

export abstract class NetmonCommand extends Command {
  static override enableJsonFlag = true
  // Every command takes --db (docs/CONVENTIONS.md), so a script can pass the same flags to all of
  // them; commands that never open the store (bridge check, meters read/simulate) still check it.
  static override baseFlags = {db: dbFlag, columns: columnsFlag, header: headerFlag, utc: utcFlag}

  private storeHandle?: Store
  /** --utc: human output's times in UTC (else the local zone). */
  protected utc = false

  /** Opens (and migrates) the store selected by --db / NETMON_DB_URL / the default path. */
  protected async openStore(db: string | undefined): Promise<Store> {
    if (this.storeHandle) return this.storeHandle
    const {openStore} = await import('../core/store/index.js')
    this.storeHandle = await openStore({db})
    return this.storeHandle
  }

  protected override async parse<F extends Parsed, B extends Parsed, A extends Parsed>(
    options?: Interfaces.Input<F, B, A>,
    argv?: string[],
  ): Promise<Interfaces.ParserOutput<F, B, A>> {
    const out = await super.parse(options, argv)
    const f = out.flags as {db?: unknown; columns?: unknown; header?: unknown; utc?: unknown}
    const db = f.db
    this.utc = f.utc === true
    if (f.columns !== undefined || f.header === false || this.utc) {
      const columns = typeof f.columns === 'string' ? f.columns.split(',').map(c => c.trim()) : undefined
      if (columns?.some(c => c === ''))
        throw new NetmonError('usage', '--columns: empty column name', {hint: 'give headings separated by commas, e.g. --columns mac,ip'})
      ;(await import('./table.js')).setTableOptions({columns, header: f.header !== false, utc: this.utc})
    }
    // A wrong --db is exit 2 whether or not this command gets as far as opening the store.
    if (typeof db === 'string') (await import('../core/store/location.js')).resolveStoreLocation(db)
    return out
  }

  /** zod validation of already-parsed flags/args; failures exit 2 with the path named. */
  protected check<S extends z.ZodType>(schema: S, value: unknown, what = ''): z.infer<S> {
    return validate(schema, value, what)
  }

  /**
   * Human output goes through here: suppressed under --json. Pass a function to skip building
   * tables at all under --json (rendering costs start-up time: cli-table3 loads cold).
   */
  protected out(text: string | (() => string)): void {
    if (this.jsonEnabled()) return
    const t = humanizeTimes(typeof text === 'function' ? text() : text, {utc: this.utc})
    process.stdout.write(t.endsWith('\n') ? t : t + '\n')
  }

  /** Diagnostics for humans: always stderr. */
  protected note(text: string): void {
    process.stderr.write(redact(text) + '\n')
  }

  protected override logJson(json: unknown): void {
    process.stdout.write(JSON.stringify(json, null, 2) + '\n')
  }

  protected override toSuccessJson(result: unknown): unknown {
    return redactDeep(result)
  }

  protected override async catch(err: Interfaces.CommandError): Promise<unknown> {
    // this.exit() is not an error to report.
    if (err instanceof Errors.ExitError) throw err
    const e = toNetmonError(err)
    // A parse failure is reported here; don't let oclif add its "did not parse" dev warning.
    this.parsed = true
    const message = redact(e.message)
    const hint = e.hint ? redact(e.hint) : undefined
    if (this.jsonEnabled()) {
      process.stdout.write(JSON.stringify({error: {code: e.code, message, ...(hint ? {hint} : {})}}, null, 2) + '\n')
    }
    process.stderr.write(`Error: ${message}${hint ? ` (${hint})` : ''}\n`)
    if (process.env.DEBUG) {
      const stack = (err as Error)?.stack ?? String(err)
      process.stderr.write(redact(stack) + '\n')
      const cause = (err as {cause?: Error}).cause
      if (cause?.stack) process.stderr.write('caused by: ' + redact(cause.stack) + '\n')
    }
    process.exitCode = e.exitCode
    return undefined
  }

  protected override async finally(err: Error | undefined): Promise<unknown> {
    try {
      await this.storeHandle?.close()
    } catch {
      /* closing must not mask the command's own result */
    }
    return super.finally(err)
  }
}

export function toNetmonError(err: unknown): NetmonError {
  if (isNetmonError(err)) return err
  const any = err as {oclif?: {exit?: number}; message?: string; name?: string}
  if (err instanceof Errors.CLIError) {
    const unknown = unknownFlags(err)
    if (unknown) return unknown
  }
  // oclif parse/validation errors (missing/unknown flags, bad option values) are usage errors.
  if (err instanceof Errors.CLIError || any?.oclif?.exit === 2) {
    const first = String(any?.message ?? err)
      .split('\n')
      .map(l => l.trim())
      .filter(l => l && !l.startsWith('See more help'))
    return new NetmonError('usage', first.join(' ').replace(/\s+/g, ' '), {hint: 'see --help'})
  }
  const msg = String(any?.message ?? err).split('\n')[0]
  return new NetmonError('internal', msg || 'unexpected error', {hint: 'run with DEBUG=1 for details', cause: err})
}

/**
 * oclif's "Nonexistent flag: --limt" becomes `unknown flag --limt` with the closest flags of that
 * command as the hint, as a mistyped command gets the closest commands (hooks/not-found.ts).
 */
function unknownFlags(err: Errors.CLIError): NetmonError | undefined {
  const e = err as Errors.CLIError & {flags?: unknown; parse?: {input?: {flags?: Record<string, {char?: string; aliases?: string[]; hidden?: boolean}>}}}
  if (!Array.isArray(e.flags) || !/^Nonexistent flag/.test(err.message)) return undefined
  const typed = e.flags.map(f => String(f).replace(/=.*$/s, ''))
  const known: string[] = []
  for (const [name, def] of Object.entries(e.parse?.input?.flags ?? {})) {
    if (def.hidden) continue
    known.push(`--${name}`, ...(def.aliases ?? []).map(a => `--${a}`))
    if (def.char) known.push(`-${def.char}`)
  }
  const ideas = typed.map(t =>
    t.startsWith('--')
      ? closest(
          t,
          known.filter(k => k.startsWith('--')),
        )
      : [],
  )
  const message = `unknown flag${typed.length === 1 ? '' : 's'} ${typed.join(', ')}`
  const hint =
    typed.length === 1
      ? ideas[0]!.length
        ? `did you mean ${ideas[0]!.join(', ')}? see --help`
        : 'see --help'
      : [...typed.flatMap((t, i) => (ideas[i]!.length ? [`${t}: did you mean ${ideas[i]!.join(', ')}?`] : [])), 'see --help'].join('; ')
  return new NetmonError('usage', message, {hint})
}

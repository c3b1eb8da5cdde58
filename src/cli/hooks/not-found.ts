/**
 * oclif's `command_not_found` hook: an unknown command is a usage error like any other (exit 2,
 * one line on stderr, the {"error":…} object on stdout under --json), with the closest command
 * names as the hint, instead of oclif's own multi-line message.
 */
import {distance} from '../did-you-mean.js'

interface NotFoundOptions {
  id: string
  argv?: string[]
  config: {commandIDs: string[]; topicSeparator?: string; bin: string}
}

export function suggestions(id: string, commandIds: string[]): string[] {
  // Topics too: `netmon bandwith` is closest to the topic `bandwidth`.
  const ids = [...new Set([...commandIds, ...commandIds.filter(c => c.includes(':')).map(c => c.slice(0, c.indexOf(':')))])]
  const scored = ids
    .filter(c => !c.startsWith('autocomplete') || id.startsWith('auto'))
    .map(c => ({c, d: c.startsWith(id + ':') ? 0 : distance(id, c)}))
    .filter(x => x.d <= Math.max(2, Math.floor(id.length / 3)))
    .sort((a, b) => a.d - b.d || a.c.localeCompare(b.c))
  if (scored.length) return scored.slice(0, 3).map(x => x.c)
  // `netmon db nosuch`: the commands of that topic.
  const topic = id.includes(':') ? id.slice(0, id.lastIndexOf(':') + 1) : null
  return topic
    ? ids
        .filter(c => c.startsWith(topic))
        .sort()
        .slice(0, 5)
    : []
}

export default async function notFound(opts: NotFoundOptions): Promise<void> {
  const sep = opts.config.topicSeparator ?? ' '
  // `netmon --json nosuch`: oclif takes the first word, here the flag, as the command id.
  const argv = opts.argv ?? []
  const flagFirst = opts.id.startsWith('-')
  const id = flagFirst ? (argv.find(a => !a.startsWith('-')) ?? opts.id) : opts.id
  const json = opts.id === '--json' || argv.includes('--json')
  const shown = id.split(':').join(sep)
  const close = suggestions(id, opts.config.commandIDs).map(c => `${opts.config.bin} ${c.split(':').join(sep)}`)
  const message = `unknown command "${shown}"`
  const hint = close.length
    ? `did you mean ${close.join(', ')}? \`${opts.config.bin} --help\` lists the commands`
    : `\`${opts.config.bin} --help\` lists the commands`
  if (json) {
    process.stdout.write(JSON.stringify({error: {code: 'USAGE', message, hint}}, null, 2) + '\n')
  }
  process.stderr.write(`Error: ${message} (${hint})\n`)
  process.exitCode = 2
}

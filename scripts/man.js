// Man pages from the oclif manifest (issue 17: "man pages generated from the commands, installed
// with the package"). One page per command, git style (`man netmon-bandwidth-report`), and
// netmon(1) listing them all with the global flags, environment, files and exit codes.
//
//   node scripts/man.js           writes man/man1/*.1 (run by `npm run build`, after the manifest)
//   node scripts/man.js --check   exits 1 when man/ differs from what the manifest gives
//
// npm installs man/man1 through package.json `directories.man`. Pages are plain man(7) roff.
import {mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

/**
 * Escapes text for a roff line: backslashes, hyphens (so flags copy and search as `-`), non-ASCII
 * as `\[uXXXX]` (groff and mandoc both read it, whatever the locale), and a leading `.` or `'`
 * that would be a request.
 */
export function roff(text) {
  return String(text)
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/[^\x00-\x7f]/gu, ch => `\\[u${ch.codePointAt(0).toString(16).toUpperCase().padStart(4, '0')}]`)
    .split('\n')
    .map(line => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join('\n')
}

const bin = 'netmon'
const pageName = id => `${bin}-${id.replace(/:/g, '-')}`
const spaced = id => `${bin} ${id.replace(/:/g, ' ')}`

function flagLabel(f) {
  const long = f.type === 'boolean' && f.allowNo ? `--[no-]${f.name}` : `--${f.name}`
  const names = f.char ? `-${f.char}, ${long}` : long
  if (f.type === 'boolean') return names
  return `${names} ${f.helpValue ?? (f.options ? f.options.join('|') : 'VALUE')}`
}

function flagText(f) {
  let t = f.description ?? f.summary ?? ''
  if (f.options?.length && !(f.helpValue ?? '').includes('|')) t += ` (one of: ${f.options.join(', ')})`
  if (f.default !== undefined && f.default !== false && typeof f.default !== 'object') t += ` (default: ${f.default})`
  if (f.multiple) t += ' (may be given more than once)'
  if (f.required) t += ' (required)'
  return t
}

const sortFlags = flags =>
  Object.values(flags)
    .filter(f => !f.hidden)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))

function header(name, date, version, title) {
  return [`.TH ${name.toUpperCase().replace(/-/g, '\\-')} 1 "${date}" "${bin} ${version}" "${title}"`]
}

function synopsis(c) {
  const args = Object.values(c.args ?? {}).map(a => (a.required ? a.name.toUpperCase() : `[${a.name.toUpperCase()}]`))
  return `.B ${roff(spaced(c.id))}\n${roff(['[FLAGS]', ...args].join(' '))}`
}

/** The page of one command, from its manifest entry. */
export function commandPage(c, {date, version}) {
  const out = header(pageName(c.id), date, version, 'netmon manual')
  out.push('.SH NAME', `${roff(pageName(c.id))} \\- ${roff(c.summary ?? '')}`)
  out.push('.SH SYNOPSIS', synopsis(c))
  out.push('.SH DESCRIPTION')
  for (const para of String(c.description ?? c.summary ?? '').split(/\n\s*\n/)) out.push('.PP', roff(para.trim()))
  const args = Object.values(c.args ?? {})
  if (args.length) {
    out.push('.SH ARGUMENTS')
    for (const a of args) out.push('.TP', `.B ${roff(a.name.toUpperCase())}`, roff(`${a.description ?? ''}${a.required ? '' : ' (optional)'}`))
  }
  const flags = sortFlags(c.flags ?? {})
  const own = flags.filter(f => f.helpGroup !== 'GLOBAL')
  const global = flags.filter(f => f.helpGroup === 'GLOBAL')
  if (own.length) {
    out.push('.SH OPTIONS')
    for (const f of own) out.push('.TP', `.B ${roff(flagLabel(f))}`, roff(flagText(f)))
  }
  if (global.length) {
    out.push('.SH GLOBAL OPTIONS')
    for (const f of global) out.push('.TP', `.B ${roff(flagLabel(f))}`, roff(flagText(f)))
  }
  const examples = (c.examples ?? []).map(e => (typeof e === 'string' ? e : e.command)).filter(Boolean)
  if (examples.length) {
    out.push('.SH EXAMPLES')
    for (const e of examples) out.push('.PP', '.nf', roff(e.replace(/<%= config\.bin %>/g, bin)), '.fi')
  }
  out.push('.SH EXIT STATUS', roff('0 on success, 2 for invalid input or usage, 1 for anything else (see netmon(1)).'), '.SH SEE ALSO', `.BR ${bin} (1)`)
  return `${out.join('\n')}\n`
}

/** netmon(1): the command index, global options, environment, files and exit codes. */
export function indexPage(manifest, pkg, {date, version}) {
  const commands = Object.values(manifest.commands).sort((a, b) => (a.id < b.id ? -1 : 1))
  const topics = pkg.oclif?.topics ?? {}
  const out = header(bin, date, version, 'netmon manual')
  out.push('.SH NAME', `${bin} \\- ${roff(pkg.description ?? '')}`)
  out.push('.SH SYNOPSIS', `.B ${bin}`, 'COMMAND [FLAGS]')
  out.push(
    '.SH DESCRIPTION',
    roff(
      'Every command accepts --json (stdout carries only the result; logs and progress go to stderr) and --db. Each command has its own page: man netmon-TOPIC-COMMAND, e.g. man netmon-bandwidth-report.',
    ),
  )
  out.push('.SH COMMANDS')
  let topic = null
  for (const c of commands) {
    const t = c.id.includes(':') ? c.id.split(':')[0] : null
    if (t && t !== topic && topics[t]) out.push('.SS', roff(`${t}: ${topics[t].description}`))
    topic = t
    out.push('.TP', `.BR ${roff(pageName(c.id))} (1)`, roff(`${spaced(c.id)}: ${c.summary ?? ''}`))
  }
  out.push(
    '.SH ENVIRONMENT',
    '.TP',
    '.B NETMON_DB_URL',
    roff('The store when --db is not given: a file path or a libsql:// / https:// URL.'),
    '.TP',
    '.B NETMON_DB_AUTH_TOKEN',
    roff('Auth token for a remote store; never printed.'),
    '.TP',
    '.B DEBUG',
    roff('When set, errors carry a stack trace (secrets are still redacted).'),
    '.TP',
    '.B NETMON_NO_PROGRESS',
    roff('1 turns the progress bar off (it appears only when stderr is a terminal).'),
    '.SH FILES',
    '.TP',
    '.I ~/.local/share/netmon/netmon.db',
    roff('The embedded store by default ($XDG_DATA_HOME/netmon/netmon.db).'),
    '.SH EXIT STATUS',
    roff(
      '0 success; 2 invalid input or usage (nothing is written); 1 anything else; 3 alerts check only: something is firing; 128+signal when stopped by a signal.',
    ),
    '.SH SEE ALSO',
    roff('The docs/ folder of the package: CONVENTIONS.md, BANDWIDTH.md, SCAN.md, LATENCY.md, DLMS.md, BRIDGE.md, AGENT.md, ALERTS.md, SERVE.md, EXPORT.md.'),
  )
  return `${out.join('\n')}\n`
}

/** Every page: file name → text. No date on the pages (only the version), so a build is reproducible. */
export function renderManPages(manifest, pkg) {
  const opts = {date: '', version: pkg.version ?? manifest.version}
  const pages = new Map([[`${bin}.1`, indexPage(manifest, pkg, opts)]])
  for (const c of Object.values(manifest.commands)) if (!c.hidden) pages.set(`${pageName(c.id)}.1`, commandPage(c, opts))
  return pages
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = new URL('..', import.meta.url)
  const manifest = JSON.parse(readFileSync(new URL('oclif.manifest.json', root), 'utf8'))
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'))
  const dir = fileURLToPath(new URL('man/man1/', root))
  const pages = renderManPages(manifest, pkg)
  // npm installs the pages listed in package.json `man` (it does not expand directories.man on pack).
  const listed = [...pages.keys()].sort().map(f => `./man/man1/${f}`)
  const listStale = JSON.stringify(pkg.man ?? []) !== JSON.stringify(listed)
  if (process.argv.includes('--check')) {
    if (listStale) {
      console.error('package.json "man" does not list the man pages: run npm run build')
      process.exit(1)
    }
    let existing = []
    try {
      existing = readdirSync(dir)
    } catch {}
    const stale = [...pages].filter(([f, text]) => {
      try {
        return readFileSync(dir + f, 'utf8') !== text
      } catch {
        return true
      }
    })
    const extra = existing.filter(f => !pages.has(f))
    if (stale.length || extra.length) {
      console.error(`man pages are stale (${[...stale.map(([f]) => f), ...extra].join(', ')}): run npm run build`)
      process.exit(1)
    }
  } else {
    rmSync(dir, {recursive: true, force: true})
    mkdirSync(dir, {recursive: true})
    for (const [f, text] of pages) writeFileSync(dir + f, text)
    if (listStale) writeFileSync(new URL('package.json', root), `${JSON.stringify({...pkg, man: listed}, null, 2)}\n`)
  }
}

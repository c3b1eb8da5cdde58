#!/usr/bin/env node
// Bundles the CLI for start-up time (issue 3: `netmon --version` and `netmon db info` within 2.5×
// a bare `node -e 0`). Measurements and rejected alternatives: docs/PERFORMANCE-NOTES.md.
//
// Runs after `tsc` (which still emits every dist/**.js file: benchmarks import dist/core, worker
// threads start from it) and before `oclif manifest`. It writes:
//   dist/oclif/core.cjs   @oclif/core and its ~170 modules as one CommonJS file. bin/run.js
//                         compiles it with V8's code cache (made by scripts/code-cache.js).
//   dist/commands/**.js   each command bundled with our own modules and the pure-JS packages in
//                         BUNDLED (ESM; modules shared by several commands go to dist/chunks/, so
//                         `await import()` stays lazy). Their '@oclif/core' is a stand-in that
//                         hands out the instance bin/run.js loaded: the process runs ONE oclif.
// oclif finds commands through the manifest's per-command relativePath
// (dist/commands/<topic>/<verb>.js) exactly as with tsc's output, so `oclif manifest`, --help and
// the plugins behave the same.
//
// Each bundled module keeps the import.meta.url it has in tsc's output (dist/<path>.js), so code
// that finds files next to itself (worker scripts, package assets, createRequire) works unchanged.
//
// Usage: node scripts/bundle.js [--dev]
//   --dev: when bundling fails (e.g. someone's half-written command), keep tsc's unbundled output
//          and exit 0, as `npm run build:dev` tolerates type errors. bin/run.js then runs the
//          plain @oclif/core package: slower start, same behaviour.
import {createHash} from 'node:crypto'
import {mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join, relative, sep} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dev = process.argv.includes('--dev')
const src = join(root, 'src')
const dist = join(root, 'dist')
const coreDir = join(dist, 'oclif')
const requireHere = createRequire(join(root, 'package.json'))

/**
 * Pure-JS packages inlined into the command bundles. Measured (CPU time of a command that imports
 * them, same-run medians): zod 4 −29 ms, yaml −23 ms versus loading their dozens of files from
 * node_modules; @libsql/client + @libsql/core (the store's `await import()`, which stays a lazy
 * chunk) −6 ms for `db info`. Their own dependencies stay ordinary imports, like everything not
 * listed: the native `libsql` binding, packages loaded lazily by the commands that need them
 * (mqtt, aedes, systeminformation, cli-progress, cli-table3), data read from disk (oui-data).
 */
const BUNDLED = new Set(['zod', 'yaml', '@libsql/client', '@libsql/core'])

const pkgOf = spec => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0])

function tsFiles(dir) {
  const out = []
  for (const e of readdirSync(dir, {withFileTypes: true})) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...tsFiles(p))
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p)
  }
  return out.sort()
}

/** Writes via a temporary file + rename: a CLI started meanwhile sees the old file or the new one. */
function writeAtomic(path, data) {
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, data)
  renameSync(tmp, path)
}

async function bundleCore(build) {
  // bin/run.js compiles this file with vm.Script (the only way to use V8's code cache on Node 20),
  // and code compiled that way cannot run `import()` (it needs --experimental-vm-modules). oclif
  // imports ESM command files and lilconfig config files with `await import(url)`: those calls are
  // pointed at a function bin/run.js passes in.
  const r = await build({
    entryPoints: [requireHere.resolve('@oclif/core')],
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    write: false,
    outfile: join(coreDir, 'core.cjs'),
    logLevel: 'warning',
    legalComments: 'none',
  })
  let rewritten = 0
  // In esbuild's output, comments are gone and imports of bundled modules became require calls:
  // each `import(` left is a runtime one. The look-behind skips the text "import()" in a message.
  const code = r.outputFiles[0].text.replace(/(?<![\w$."'`])import\(/g, () => {
    rewritten++
    return '__netmonImport('
  })
  if (rewritten === 0) throw new Error('found no import() in the bundled @oclif/core: could it still load ESM commands?')
  const id = createHash('sha256').update(code).digest('hex').slice(0, 16)
  mkdirSync(coreDir, {recursive: true})
  // The first line names this build; bin/run.js names the code cache file after it, so a cache is
  // only ever offered for the source it was made from (V8 itself only compares source lengths).
  writeAtomic(join(coreDir, 'core.cjs'), `//netmon-core ${id}\n${code}`)
  for (const f of readdirSync(coreDir)) if (f.endsWith('.v8cache') && !f.includes(id)) rmSync(join(coreDir, f), {force: true})
  return {id, kib: Math.round(code.length / 1024)}
}

async function bundleCommands(build) {
  const exportNames = Object.keys(requireHere('@oclif/core'))
  const shim = [
    "import {createRequire} from 'node:module'",
    "const core = globalThis[Symbol.for('netmon.oclif-core')] ?? createRequire(import.meta.url)('@oclif/core')",
    `export const {${exportNames.join(', ')}} = core`,
  ].join('\n')
  const commands = tsFiles(join(src, 'commands'))
  const result = await build({
    entryPoints: commands.map(c => ({in: c, out: relative(src, c).replace(/\.ts$/, '').split(sep).join('/')})),
    outdir: dist,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    chunkNames: 'chunks/[name]-[hash]',
    logLevel: 'warning',
    legalComments: 'none',
    metafile: true,
    write: false,
    banner: {
      js: [
        // CommonJS packages inlined here (yaml) call require() for Node's built-ins.
        "import {createRequire as __netmonCreateRequire} from 'node:module';",
        "import {fileURLToPath as __netmonFileURLToPath} from 'node:url';",
        'const require = __netmonCreateRequire(import.meta.url);',
        // dist/ as a URL: set by bin/run.js; otherwise (e.g. `oclif manifest` importing a command) from
        // this file's own place, which is always inside dist/.
        "const __netmonDist = globalThis[Symbol.for('netmon.dist')] ?? new URL(import.meta.url.slice(0, import.meta.url.lastIndexOf('/dist/') + 6));",
      ].join(''),
    },
    plugins: [
      {
        name: 'netmon',
        setup(b) {
          b.onResolve({filter: /^@oclif\/core$/}, () => ({path: 'oclif-core', namespace: 'netmon-shim'}))
          b.onLoad({filter: /.*/, namespace: 'netmon-shim'}, () => ({contents: shim, loader: 'js', resolveDir: root}))
          b.onResolve({filter: /^[^./]/}, args => {
            if (args.namespace === 'netmon-shim' || args.path.startsWith('node:')) return {external: true}
            return BUNDLED.has(pkgOf(args.path)) ? undefined : {external: true}
          })
          // Our modules: import.meta.url/dirname/filename as in tsc's output (see the header).
          b.onLoad({filter: /\.ts$/}, args => {
            if (!args.path.startsWith(src + sep)) return undefined
            const rel = relative(src, args.path).replace(/\.ts$/, '.js').split(sep).join('/')
            const url = `new URL(${JSON.stringify(rel)}, __netmonDist).href`
            let text = readFileSync(args.path, 'utf8')
            text = text
              .replace(/\bimport\.meta\.url\b/g, `(${url})`)
              .replace(/\bimport\.meta\.filename\b/g, `__netmonFileURLToPath(${url})`)
              .replace(/\bimport\.meta\.dirname\b/g, `__netmonFileURLToPath(new URL('.', ${url}))`)
            // import.meta.resolve() would resolve from the bundle's place, not the module's.
            if (/\bimport\.meta\.resolve\b/.test(text))
              throw new Error(`${relative(root, args.path)}: use createRequire(import.meta.url).resolve() instead of import.meta.resolve() (bundled code)`)
            return {contents: text, loader: 'ts'}
          })
        },
      },
    ],
  })
  // Write all outputs, then drop chunks no command references any more. Chunk names carry a content
  // hash, so a CLI started during a rebuild finds every file its (old or new) command imports.
  mkdirSync(join(dist, 'chunks'), {recursive: true})
  const written = new Set()
  for (const f of result.outputFiles) {
    mkdirSync(dirname(f.path), {recursive: true})
    writeAtomic(f.path, f.contents)
    written.add(f.path)
  }
  for (const f of readdirSync(join(dist, 'chunks'))) {
    const p = join(dist, 'chunks', f)
    if (!written.has(p)) rmSync(p, {force: true})
  }
  return {commands: commands.length, files: result.outputFiles.length}
}

try {
  const {build} = await import('esbuild')
  const core = await bundleCore(build)
  const cmds = await bundleCommands(build)
  console.error(`bundle: @oclif/core → dist/oclif/core.cjs (${core.kib} KiB, ${core.id}); ${cmds.commands} commands → ${cmds.files} files`)
} catch (e) {
  // Without dist/oclif, bin/run.js loads the plain @oclif/core package, which is what tsc's output
  // of the commands imports.
  rmSync(coreDir, {recursive: true, force: true})
  console.error(`bundle: failed: ${e?.message ?? e}`)
  if (!dev) process.exit(1)
  console.error('bundle: --dev: keeping the unbundled tsc output in dist/ (slower start-up, same behaviour)')
}

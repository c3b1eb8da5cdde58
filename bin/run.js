#!/usr/bin/env node
// The netmon command. Start-up time is a goal of issue 3 (`netmon --version` and `netmon db info`
// within 2.5× a bare `node -e 0`); docs/PERFORMANCE-NOTES.md has the measurements behind this.
//
// The build (scripts/bundle.js) puts @oclif/core and its ~170 modules into one file,
// dist/oclif/core.cjs, and scripts/code-cache.js records V8's compiled code for it. Compiling it
// here with vm.Script and that cache skips most of the parsing and compiling on every run (Node 20
// has no module compile cache). The bundled commands take '@oclif/core' from the global set below,
// so the process runs one copy of oclif. Without dist/oclif (a build that did not bundle), or with
// NETMON_STARTUP=plain, this is the stock `execute` of the @oclif/core package.
import {existsSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {Script} from 'node:vm'

// Native modules' loaders (libsql's @neon-rs/load) call process.report.getReport(), which by default
// reverse-resolves every open socket's addresses: blocking DNS queries nobody asked for. Never.
if (process.report) process.report.excludeNetwork = true

const distUrl = new URL('../dist/', import.meta.url)
const coreFile = fileURLToPath(new URL('oclif/core.cjs', distUrl))
// Bundled modules resolve their own import.meta.url against this (scripts/bundle.js).
globalThis[Symbol.for('netmon.dist')] = distUrl

/** Runs dist/oclif/core.cjs as CommonJS, with V8's code cache when the build made one for it. */
function loadBundledCore() {
  const source = readFileSync(coreFile, 'utf8')
  // Line 1 is `//netmon-core <id>`; the cache is named after it, so it always matches the source.
  const id = /^\/\/netmon-core ([0-9a-f]+)\n/.exec(source)?.[1]
  const cacheFile = id && join(dirname(coreFile), `core.${id}.v8cache`)
  const mode = process.env.NETMON_CODE_CACHE // 'write' (scripts/code-cache.js) | 'debug' | unset
  let cachedData
  if (cacheFile && mode !== 'write') {
    try {
      cachedData = readFileSync(cacheFile)
    } catch {
      /* no cache: V8 compiles as usual */
    }
  }
  // The wrapper of Node's CommonJS loader, on the same line, so stack line numbers stay right.
  const wrapped = `(function (exports, require, module, __filename, __dirname, __netmonImport) {${source}\n})`
  const script = new Script(wrapped, {filename: coreFile, cachedData})
  const module = {exports: {}, filename: coreFile, id: coreFile}
  // Code compiled by vm.Script cannot use import() on Node 20 without --experimental-vm-modules:
  // the bundle calls this instead (oclif passes file URLs of command modules).
  const dynamicImport = specifier => import(specifier)
  script.runInThisContext().call(module.exports, module.exports, createRequire(coreFile), module, coreFile, dirname(coreFile), dynamicImport)
  if (mode === 'write' && cacheFile) {
    // At exit, so the functions this run compiled are in the cache too.
    process.once('exit', () => {
      writeFileSync(`${cacheFile}.${process.pid}.tmp`, script.createCachedData())
      renameSync(`${cacheFile}.${process.pid}.tmp`, cacheFile)
    })
  }
  if (mode === 'debug') process.stderr.write(`code cache: ${cachedData ? (script.cachedDataRejected ? 'rejected' : 'used') : 'none'}\n`)
  return module.exports
}

let core
if (process.env.NETMON_STARTUP !== 'plain' && existsSync(coreFile)) {
  core = loadBundledCore()
  globalThis[Symbol.for('netmon.oclif-core')] = core
} else {
  core = await import('@oclif/core')
}

await core.execute({dir: import.meta.url})

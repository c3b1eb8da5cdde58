// `oclif manifest` lists commands in the order its parallel directory walk finishes, which differs
// from run to run; sorting them makes the committed manifest change only when a command changes.
import {readFileSync, writeFileSync} from 'node:fs'

const path = new URL('../oclif.manifest.json', import.meta.url)
const manifest = JSON.parse(readFileSync(path, 'utf8'))
manifest.commands = Object.fromEntries(Object.entries(manifest.commands).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
writeFileSync(path, JSON.stringify(manifest, null, 2) + '\n')

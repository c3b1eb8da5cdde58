/**
 * The dashboard's static files, shipped in the package (issue 10: no CDN, works offline):
 * `assets/web/*` of this package plus uPlot's and cytoscape's own dist files from their npm
 * packages (runtime dependencies, so they are installed wherever netmon is). An allowlist read once at start: no
 * path from a request ever reaches the file system, so there is nothing to traverse.
 */
import {createHash} from 'node:crypto'
import {existsSync, readFileSync, readdirSync, statSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, extname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

export interface Asset {
  body: Buffer
  type: string
  etag: string
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
}

/** src/core/serve/static.ts and dist/core/serve/static.js are both three levels below the package root. */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
export const ASSETS_DIR = join(PACKAGE_ROOT, 'assets', 'web')

function asset(body: Buffer, file: string): Asset {
  return {body, type: TYPES[extname(file)] ?? 'application/octet-stream', etag: `"${createHash('sha1').update(body).digest('base64url')}"`}
}

/** URL path → file contents. `/` and `/index.html` are the dashboard; uPlot is under /vendor/. */
export function loadAssets(dir = ASSETS_DIR): Map<string, Asset> {
  const out = new Map<string, Asset>()
  if (existsSync(dir)) {
    const walk = (d: string, prefix: string) => {
      for (const name of readdirSync(d)) {
        const full = join(d, name)
        if (statSync(full).isDirectory()) walk(full, `${prefix}${name}/`)
        else if (TYPES[extname(name)]) out.set(`/${prefix}${name}`, asset(readFileSync(full), name))
      }
    }
    walk(dir, '')
  }
  const index = out.get('/index.html')
  if (index) out.set('/', index)
  const require = createRequire(import.meta.url)
  for (const [url, spec] of [
    ['/vendor/uPlot.iife.min.js', 'uplot/dist/uPlot.iife.min.js'],
    ['/vendor/uPlot.min.css', 'uplot/dist/uPlot.min.css'],
    // The Map page's graph (issue 17): cytoscape's self-contained browser build, no CDN.
    ['/vendor/cytoscape.min.js', 'cytoscape/dist/cytoscape.min.js'],
  ] as const) {
    try {
      out.set(url, asset(readFileSync(require.resolve(spec)), spec))
    } catch {
      // Without uPlot (cytoscape) the dashboard still shows its tables; charts (the map) say why they are missing.
    }
  }
  return out
}

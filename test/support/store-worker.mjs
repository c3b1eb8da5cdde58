// A separate process that uses netmon's store module (from dist/) the way a command or the
// daemon does. Used by the concurrency tests: `node store-worker.mjs write|read|open DB ID N START_AT`.
import {openStore} from '../../dist/core/store/index.js'

const [mode, db, idText, nText, startAtText] = process.argv.slice(2)
const id = Number(idText)
const n = Number(nText)
const startAt = Number(startAtText)

// Start together: all workers wait for the same instant.
const wait = startAt - Date.now()
if (wait > 0) await new Promise(r => setTimeout(r, wait))

const store = await openStore({db})
let retries = 0
store.onRetry = () => retries++
try {
  if (mode === 'write') {
    for (let b = 0; b < n; b++) {
      const stmts = []
      for (let i = 0; i < 5; i++) {
        stmts.push({sql: 'INSERT INTO events(ts, device_id, type, detail) VALUES (?, NULL, ?, ?)', args: [Date.now(), 'test', `w${id}-b${b}-r${i}`]})
      }
      await store.batch(stmts)
    }
  } else if (mode === 'read') {
    const until = Date.now() + n
    let reads = 0
    while (Date.now() < until) {
      await store.query('SELECT count(*) AS n FROM events')
      reads++
    }
    process.stdout.write(JSON.stringify({reads}) + '\n')
  }
  // 'open' just opens (and migrates) the store.
} finally {
  await store.close()
}
if (mode === 'write') process.stdout.write(JSON.stringify({id, retries}) + '\n')

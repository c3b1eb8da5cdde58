// Preloaded into a CLI under test (NODE_OPTIONS=--require this file): every host-name lookup fails
// with ENOTFOUND without reaching a resolver, and is recorded in $NO_DNS_LOG, so a test can show
// that a command did not look anything up (and a regression cannot send a query).
const dns = require('node:dns')
const {appendFileSync} = require('node:fs')
const {syncBuiltinESMExports} = require('node:module')

const record = name => {
  if (process.env.NO_DNS_LOG) appendFileSync(process.env.NO_DNS_LOG, `${name}\n`)
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${name} (lookups are disabled in this test)`), {code: 'ENOTFOUND', hostname: name})
}
dns.lookup = (name, opts, cb) => {
  const done = typeof opts === 'function' ? opts : cb
  const err = record(name)
  process.nextTick(() => done(err))
}
dns.promises.lookup = async name => {
  throw record(name)
}
for (const m of ['resolve', 'resolve4', 'resolve6', 'resolveAny', 'reverse']) {
  dns[m] = (name, ...rest) => {
    const err = record(name)
    const done = rest.pop()
    process.nextTick(() => done(err))
  }
  dns.promises[m] = async name => {
    throw record(name)
  }
}
syncBuiltinESMExports()

/**
 * ICMP echo through the system `ping` (Node has no raw sockets): one `ping` process per host, all
 * running at once, each parsed line by line (ping-parse.ts).
 *
 *   ping -n -D -O -i INTERVAL -W TIMEOUT [-c COUNT] ADDRESS     (LC_ALL=C)
 *
 * - `-n` no reverse DNS; `-D` receive timestamps, so each probe's send time is exact
 *   (receive − RTT) even when our event loop reads the pipe late; `-O` prints "no answer yet"
 *   when the next probe goes out, which tells us a probe was sent.
 * - LC_ALL=C: iputils reads `-i 0.2` with strtod, which a comma-decimal locale would reject, and
 *   prints localised numbers otherwise.
 * - With `-c`, ping's own end-of-run logic applies to the LAST probe: it waits max(2 × max RTT,
 *   interval) after the last send when something was received, else `-W`. Earlier probes get the
 *   full --timeout. In --watch (no `-c`) we settle losses ourselves when a probe's deadline passes.
 * - A reply slower than --timeout counts as lost (status timeout, detail "late reply"), the same
 *   rule as the TCP method, so both methods mean the same thing by "loss".
 * - iputils refuses intervals under its user minimum (2 ms today, 200 ms in older releases)
 *   unless run as root; checkPing() finds that out before anything is probed.
 */
import {spawn} from 'node:child_process'
import {accessSync, constants} from 'node:fs'
import {delimiter, join} from 'node:path'
import {parsePingLine, unwrapSeq} from './ping-parse.js'
import type {Probe, ProbeStatus, Session, SessionEnd, SessionOptions} from './probe.js'

/** NETMON_PING overrides the binary (a path); otherwise `ping` from PATH. */
export function pingCommand(env: NodeJS.ProcessEnv = process.env): string {
  return env.NETMON_PING && env.NETMON_PING.trim() !== '' ? env.NETMON_PING.trim() : 'ping'
}

/** Locates an executable like the shell would (for the "not found" message; spawn does the rest). */
export function whichExecutable(cmd: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const candidates = cmd.includes('/')
    ? [cmd]
    : (env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map(d => join(d, cmd))
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK)
      return c
    } catch {
      /* next */
    }
  }
  return null
}

export type PingCheck = {ok: true; path: string} | {ok: false; reason: 'missing' | 'permission' | 'interval' | 'broken'; message: string}

const secs = (ms: number): string => String(Math.round(ms) / 1000)

/**
 * Can `ping` probe at this interval? Runs one echo to 127.0.0.1 (loopback only), which shows a
 * missing binary, missing privileges (no setuid/capability, no ping_group_range) and an interval
 * below the user minimum, before any target is probed.
 */
export async function checkPing(intervalMs: number, env: NodeJS.ProcessEnv = process.env): Promise<PingCheck> {
  const cmd = pingCommand(env)
  const path = whichExecutable(cmd, env)
  if (!path) return {ok: false, reason: 'missing', message: `the ping program was not found (${cmd.includes('/') ? cmd : `"${cmd}" on PATH`})`}
  return new Promise(resolve => {
    let stderr = ''
    let stdout = ''
    let settled = false
    const finish = (r: PingCheck) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(r)
    }
    const child = spawn(path, ['-n', '-c', '1', '-W', '1', '-i', secs(intervalMs), '127.0.0.1'], {
      env: {...env, LC_ALL: 'C'},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      finish({ok: true, path})
    }, 5000)
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', e => {
      const code = (e as NodeJS.ErrnoException).code
      finish({ok: false, reason: code === 'EACCES' ? 'permission' : 'missing', message: `cannot run ${path} (${code ?? e.message})`})
    })
    child.on('close', code => {
      const text = (stderr || stdout).trim().split('\n')[0] ?? ''
      if (code === 0 || code === 1) return finish({ok: true, path})
      if (/minimal interval|cannot flood|interval.*(too short|allowed)/i.test(stderr)) {
        return finish({ok: false, reason: 'interval', message: text})
      }
      if (/not permitted|permission denied|privilege|socket:|cap_net_raw/i.test(stderr)) {
        return finish({ok: false, reason: 'permission', message: text})
      }
      if (!/^PING /m.test(stdout) && /usage|invalid option|illegal option|unknown option/i.test(stderr)) {
        return finish({ok: false, reason: 'broken', message: `${path} is not an iputils-compatible ping (${text})`})
      }
      // Anything else (e.g. loopback unreachable on a very odd host) does not prove ping unusable.
      finish({ok: true, path})
    })
  })
}

/** One `ping` per host. Spawned at once; see the module comment for the semantics. */
export function startIcmpSession(opts: SessionOptions, pingPath: string, env: NodeJS.ProcessEnv = process.env): Session {
  const {target, count, intervalMs, timeoutMs, onProbe, onDuplicate} = opts
  const settled = new Set<number>() // settled seqs ≥ lowest (those below are all settled)
  const replied = new Set<number>() // seqs answered in time: a second reply is a duplicate
  let duplicates = 0
  let stopped = false
  let lowest = 1 // lowest seq not yet settled (watch timer scans from here)
  let maxSent = 0
  let anchor: {seq: number; ts: number} | null = null
  let fatal: string | null = null
  let transmitted: number | null = null
  let timer: NodeJS.Timeout | undefined

  const est = (seq: number): number => (anchor ? anchor.ts + (seq - anchor.seq) * intervalMs : Date.now())

  const settle = (seq: number, rtt: number | null, status: ProbeStatus, ts: number, detail?: string) => {
    if (isSettled(seq)) return
    settled.add(seq)
    if (rtt !== null) replied.add(seq)
    while (settled.has(lowest)) {
      settled.delete(lowest) // bounded memory in a long --watch
      if (replied.size > 4096) replied.delete(lowest - 4096)
      lowest++
    }
    const p: Probe = {seq, ts: Math.round(ts), rtt_ms: rtt, status}
    if (detail) p.detail = detail
    onProbe(p)
  }

  const isSettled = (seq: number) => seq < lowest || settled.has(seq)

  const args = ['-n', '-D', '-O', '-i', secs(intervalMs), '-W', secs(Math.max(timeoutMs, 1))]
  if (count !== null) args.push('-c', String(count))
  args.push(target.ip)
  const child = spawn(pingPath, args, {env: {...env, LC_ALL: 'C'}, stdio: ['ignore', 'pipe', 'pipe']})

  const handle = (line: string) => {
    const ev = parsePingLine(line)
    if (!ev) return
    switch (ev.kind) {
      case 'header':
        // ping prints this right before sending probe 1.
        if (!anchor) anchor = {seq: 1, ts: Date.now()}
        maxSent = Math.max(maxSent, 1)
        break
      case 'reply': {
        const seq = unwrapSeq(ev.seq, Math.max(maxSent, lowest))
        maxSent = Math.max(maxSent, seq)
        if (ev.dup || replied.has(seq)) {
          duplicates++
          onDuplicate?.(seq)
          break
        }
        // A reply for a probe already declared lost (--watch deadline) stays lost.
        if (isSettled(seq)) break
        const ts = ev.recv_ms !== null ? ev.recv_ms - ev.rtt_ms : est(seq)
        anchor = {seq, ts}
        if (ev.rtt_ms > timeoutMs) settle(seq, null, 'timeout', ts, `late reply (${ev.rtt_ms} ms)`)
        else settle(seq, ev.rtt_ms, 'reply', ts)
        break
      }
      case 'no_answer': {
        // Printed as probe seq+1 goes out.
        const seq = unwrapSeq(ev.seq, Math.max(maxSent, lowest))
        maxSent = Math.max(maxSent, seq + 1)
        anchor = {seq: seq + 1, ts: ev.at_ms ?? Date.now()}
        break
      }
      case 'error_reply': {
        const seq = unwrapSeq(ev.seq, Math.max(maxSent, lowest))
        maxSent = Math.max(maxSent, seq)
        settle(seq, null, 'unreachable', est(seq), ev.from ? `${ev.message} (from ${ev.from})` : ev.message)
        break
      }
      case 'timeout': {
        const seq = unwrapSeq(ev.seq, Math.max(maxSent, lowest))
        maxSent = Math.max(maxSent, seq)
        settle(seq, null, 'timeout', est(seq))
        break
      }
      case 'summary':
        transmitted = ev.transmitted
        break
    }
  }

  let stderr = ''
  lineReader(child.stdout, handle)
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += stderr.length > 8192 ? '' : d))

  // --watch: nobody closes the run for us, so a probe is lost once its deadline has passed.
  // The grace covers the pipe and our event loop; the RTT rule above stays exact.
  const GRACE_MS = 50
  if (count === null) {
    timer = setInterval(
      () => {
        if (!anchor) return
        const now = Date.now()
        // Only probes ping has shown us it sent (a reply, or `no answer yet` printed as the next one
        // goes out): guessing from the clock would invent losses whenever ping paces slower than
        // asked (≈ 16 ms for -i 0.01 on a coarse-timer VM).
        for (let s = lowest; s <= maxSent; s++) {
          if (isSettled(s)) continue
          const t = est(s)
          if (t + timeoutMs + GRACE_MS < now) settle(s, null, 'timeout', t)
          else break
        }
      },
      Math.min(100, Math.max(10, intervalMs)),
    )
  }

  const done = new Promise<SessionEnd>(resolve => {
    let spawnError: string | null = null
    child.on('error', e => {
      spawnError = `cannot run ${pingPath} (${(e as NodeJS.ErrnoException).code ?? e.message})`
    })
    child.on('close', code => {
      if (timer) clearInterval(timer)
      const now = Date.now()
      if (spawnError || (code === 2 && maxSent === 0)) {
        // ping could not send at all ("connect: Network is unreachable"): every probe is lost,
        // with the reason, so the host shows 100 % loss rather than vanishing from the report.
        fatal =
          spawnError ??
          (stderr
            .trim()
            .split('\n')[0]
            ?.replace(/^ping:\s*/, '') ||
            `ping exited with status ${code}`)
        if (!stopped) {
          const n = count ?? 1
          const t0 = anchor?.ts ?? now
          for (let s = 1; s <= n; s++) settle(s, null, 'error', t0 + (s - 1) * intervalMs, fatal)
        }
      } else {
        const last = transmitted ?? (count !== null && !stopped ? count : maxSent)
        for (let s = lowest; s <= last; s++) {
          if (isSettled(s)) continue
          const t = est(s)
          // Interrupted: a probe whose deadline had not passed was still in flight: not reported.
          if (stopped && t + timeoutMs > now) continue
          settle(s, null, 'timeout', t)
        }
      }
      resolve({duplicates, error: fatal})
    })
  })

  return {
    done,
    stop() {
      if (stopped) return
      stopped = true
      // SIGINT makes ping print its summary (transmitted count) and exit.
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT')
    },
  }
}

/** Splits a stream into lines (handles chunks that end mid-line). */
export function lineReader(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buf = ''
  stream.setEncoding('utf8')
  stream.on('data', (d: string) => {
    buf += d
    let i: number
    while ((i = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, i))
      buf = buf.slice(i + 1)
    }
  })
  stream.on('end', () => {
    if (buf) onLine(buf)
    buf = ''
  })
}

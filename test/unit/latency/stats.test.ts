/**
 * Acceptance 1: statistics and grade on fixed RTT series, expected values computed by hand
 * (the working is in each comment), including loss and jitter.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parsePingLine} from '../../../src/core/latency/ping-parse.js'
import {GRADE_TABLE, RunningStats, gradeOf, gradeTableText, summarize} from '../../../src/core/latency/stats.js'

describe('summarize: hand-computed series', () => {
  it('series with a loss in the middle: 10, 20, lost, 30, 20 ms', () => {
    // sent 5, received 4 → loss 1/5 = 20 %. min 10, max 30, avg (10+20+30+20)/4 = 20.
    // sorted 10,20,20,30 → median (20+20)/2 = 20.
    // population variance ((−10)²+0²+10²+0²)/4 = 50 → stddev √50 = 7.0711 → 7.071.
    // jitter over consecutive REPLIES (the lost probe is skipped): |20−10|,|30−20|,|20−30| = 10,10,10 → 10.
    // grade: avg 20 ≤ 20 but jitter 10 > 5 (not excellent); loss 20 % > 10 % (not good/fair/poor) → bad.
    const s = summarize([10, 20, null, 30, 20])
    expect(s).toEqual({
      sent: 5,
      received: 4,
      lost: 1,
      loss_pct: 20,
      min_ms: 10,
      avg_ms: 20,
      max_ms: 30,
      median_ms: 20,
      stddev_ms: 7.071,
      jitter_ms: 10,
      grade: 'bad',
    })
  })

  it('sub-millisecond LAN series: 1.0, 1.5, 1.2, 1.3 ms', () => {
    // avg 5.0/4 = 1.25; median (1.2+1.3)/2 = 1.25; deviations −.25,+.25,−.05,+.05 →
    // variance (.0625+.0625+.0025+.0025)/4 = .0325 → stddev .180278 → 0.18.
    // jitter |0.5|,|−0.3|,|0.1| → 0.9/3 = 0.3. No loss, avg ≤ 20, jitter ≤ 5 → excellent.
    const s = summarize([1.0, 1.5, 1.2, 1.3])
    expect(s.loss_pct).toBe(0)
    expect(s.avg_ms).toBe(1.25)
    expect(s.median_ms).toBe(1.25)
    expect(s.min_ms).toBe(1)
    expect(s.max_ms).toBe(1.5)
    expect(s.stddev_ms).toBe(0.18)
    expect(s.jitter_ms).toBe(0.3)
    expect(s.grade).toBe('excellent')
  })

  it('odd count median and a WAN-like series with one loss in ten: 40,42,41,45,40,null,43,41,44,42', () => {
    // received 9 of 10 → loss 10 %. sum 378 → avg 42. sorted 40,40,41,41,42,43,44,45 + 42 →
    // 40,40,41,41,42,42,43,44,45 → median (5th of 9) 42.
    // deviations −2,0,−1,3,−2,1,−1,2,0 → squares 4,0,1,9,4,1,1,4,0 = 24 → var 24/9 → stddev 1.63299 → 1.633.
    // replies in order 40,42,41,45,40,43,41,44,42 → diffs 2,1,4,5,3,2,3,2 = 22 / 8 = 2.75.
    // grade: avg 42 ≤ 50 (not ≤ 20), jitter 2.75 ≤ 10, loss 10 > 1 and > 3 but ≤ 10 → poor.
    const s = summarize([40, 42, 41, 45, 40, null, 43, 41, 44, 42])
    expect(s).toMatchObject({
      sent: 10,
      received: 9,
      lost: 1,
      loss_pct: 10,
      avg_ms: 42,
      median_ms: 42,
      min_ms: 40,
      max_ms: 45,
      stddev_ms: 1.633,
      jitter_ms: 2.75,
      grade: 'poor',
    })
  })

  it('loss percentage with a repeating fraction: 1 of 3 lost', () => {
    // 1/3 = 33.333… % → two decimals 33.33. Replies 5 and 7: jitter |7−5| = 2.
    const s = summarize([5, null, 7])
    expect(s.loss_pct).toBe(33.33)
    expect(s.jitter_ms).toBe(2)
    expect(s.avg_ms).toBe(6)
    expect(s.stddev_ms).toBe(1)
  })

  it('all lost: 100 % loss, no RTT statistics, grade bad', () => {
    expect(summarize([null, null, null])).toEqual({
      sent: 3,
      received: 0,
      lost: 3,
      loss_pct: 100,
      min_ms: null,
      avg_ms: null,
      max_ms: null,
      median_ms: null,
      stddev_ms: null,
      jitter_ms: null,
      grade: 'bad',
    })
  })

  it('one reply: stddev 0, jitter undefined (null), graded on avg and loss only', () => {
    const s = summarize([3.5])
    expect(s).toMatchObject({received: 1, avg_ms: 3.5, median_ms: 3.5, stddev_ms: 0, jitter_ms: null, grade: 'excellent'})
  })

  it('nothing sent: no grade', () => {
    expect(summarize([])).toMatchObject({sent: 0, received: 0, loss_pct: 0, grade: null})
  })

  it('jitter can be supplied as differences (history buckets spanning runs)', () => {
    // two runs' replies merged: the caller gives the within-run differences 1 and 3 → jitter 2.
    expect(summarize([1, 2, 10, 13], [1, 3]).jitter_ms).toBe(2)
    expect(summarize([1, 10], []).jitter_ms).toBeNull()
  })
})

describe('grade table', () => {
  it('boundaries are inclusive, each limit decides on its own', () => {
    expect(gradeOf(20, 5, 0, 10)).toBe('excellent')
    expect(gradeOf(20.001, 5, 0, 10)).toBe('good') // avg just over 20
    expect(gradeOf(1, 5.001, 0, 10)).toBe('good') // jitter just over 5
    expect(gradeOf(1, 0, 1, 100)).toBe('good') // 1 lost of 100
    expect(gradeOf(1, 0, 1.01, 100)).toBe('fair')
    expect(gradeOf(100, 20, 3, 100)).toBe('fair')
    expect(gradeOf(1, 0, 10, 100)).toBe('poor')
    expect(gradeOf(200, 50, 10, 100)).toBe('poor')
    expect(gradeOf(200.5, 0, 0, 100)).toBe('bad')
    expect(gradeOf(1, 50.5, 0, 100)).toBe('bad')
    expect(gradeOf(1, 0, 11, 100)).toBe('bad')
    expect(gradeOf(null, null, 100, 5)).toBe('bad')
    expect(gradeOf(5, null, 0, 1)).toBe('excellent') // no jitter with one reply: not held against it
    expect(gradeOf(null, null, 0, 0)).toBeNull()
  })

  it('series grades follow the table: 100 probes with 1, 3 and 11 lost', () => {
    const series = (lost: number) => Array.from({length: 100}, (_, i) => (i < lost ? null : 2))
    expect(summarize(series(0)).grade).toBe('excellent')
    expect(summarize(series(1)).grade).toBe('good')
    expect(summarize(series(3)).grade).toBe('fair')
    expect(summarize(series(10)).grade).toBe('poor')
    expect(summarize(series(11)).grade).toBe('bad')
  })

  it('the printed table lists every row of GRADE_TABLE with its limits', () => {
    const text = gradeTableText()
    for (const r of GRADE_TABLE) {
      expect(text).toMatch(new RegExp(`${r.grade}\\s+avg ≤\\s+${r.avg_ms} ms\\s+jitter ≤\\s+${r.jitter_ms} ms\\s+loss ≤\\s+${r.loss_pct} %`))
    }
    expect(text).toContain('bad')
  })
})

describe('agreement with iputils on captured runs', () => {
  // iputils prints "rtt min/avg/max/mdev" where mdev is the population standard deviation; the
  // stored series of each capture must reproduce its own summary (to ping's µs truncation).
  // (Not the DUP! capture: iputils folds duplicate replies into its RTT stats; netmon counts
  // them as `duplicates` and keeps one RTT per probe, as fping does.)
  for (const name of ['ok', 'partial', 'loopback', 'v6']) {
    it(`fixture iputils-${name}.txt`, () => {
      const text = readFileSync(join(import.meta.dirname, 'fixtures', `iputils-${name}.txt`), 'utf8')
      const rtts = new Map<number, number>()
      for (const line of text.split('\n')) {
        const ev = parsePingLine(line)
        if (ev?.kind === 'reply' && !ev.dup && !rtts.has(ev.seq)) rtts.set(ev.seq, ev.rtt_ms)
      }
      const m = /rtt min\/avg\/max\/mdev = ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(text)!
      const [min, avg, max, mdev] = m.slice(1).map(Number)
      const s = summarize([...rtts.values()])
      expect(s.min_ms).toBe(min)
      expect(s.max_ms).toBe(max)
      expect(Math.abs(s.avg_ms! - avg!)).toBeLessThanOrEqual(0.0011)
      expect(Math.abs(s.stddev_ms! - mdev!)).toBeLessThanOrEqual(0.0011)
    })
  }
})

describe('RunningStats (the --watch accumulator) equals summarize()', () => {
  it('on a long pseudo-random series with losses', () => {
    let x = 12345
    const rnd = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    const series: (number | null)[] = Array.from({length: 5001}, () => (rnd() < 0.07 ? null : Math.round(rnd() * 50_000) / 1000))
    const run = new RunningStats()
    for (let i = 0; i < series.length; i++) {
      run.add(series[i]!)
      if (i === 0 || i === 1 || i === 2 || i === 999 || i === 5000) expect(run.snapshot()).toEqual(summarize(series.slice(0, i + 1)))
    }
    expect(run.last).toBe(series[5000])
  })

  it('on the hand-computed series', () => {
    const run = new RunningStats()
    for (const v of [10, 20, null, 30, 20]) run.add(v)
    expect(run.snapshot()).toEqual(summarize([10, 20, null, 30, 20]))
  })
})

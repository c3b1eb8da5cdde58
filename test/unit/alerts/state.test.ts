import {describe, expect, it} from 'vitest'
import {type Instance, type StepRule, step} from '../../../src/core/alerts/state.js'

const MIN = 60_000
const seen = (v: number) => ({value: String(v), values: {v}, vars: {}})
const key = {rule: 'r', subject: 's'}

/** Runs checks at the given offsets (minutes from an arbitrary origin) with the condition true/false. */
function run(rule: StepRule, checks: [number, number | null][], origin = Date.now()) {
  let inst: Instance | undefined
  const log: string[] = []
  for (const [m, v] of checks) {
    const r = step(inst, v === null ? undefined : seen(v), rule, origin + m * MIN, key)
    inst = r.next
    for (const t of r.transitions) log.push(`${m}:${t.kind}${t.notify ? '!' : ''}`)
  }
  return {inst, log}
}

const threshold: StepRule = {forMs: 5 * MIN, keepFiringForMs: 0, repeatMs: 0, event: false}

describe('alert state machine', () => {
  it('pending → firing only after `for`, one notification per transition', () => {
    const {inst, log} = run(threshold, [
      [0, 1],
      [2, 2],
      [4, 3],
      [5, 4],
      [6, 5],
      [7, null],
    ])
    expect(log).toEqual(['0:pending', '5:firing!', '7:resolved!'])
    expect(inst).toMatchObject({state: 'resolved', values: {v: 5}})
  })

  it('a condition that clears before `for` never fires', () => {
    expect(
      run(threshold, [
        [0, 1],
        [3, null],
        [4, 1],
        [10, 1],
      ]).log,
    ).toEqual(['0:pending', '3:cleared', '4:pending', '10:firing!'])
  })

  it('for: 0 fires at the first check', () => {
    expect(run({...threshold, forMs: 0}, [[0, 1]]).log).toEqual(['0:pending', '0:firing!'])
  })

  it('keep_firing_for: a short clear does not resolve; a long one does', () => {
    const rule = {...threshold, forMs: 0, keepFiringForMs: 10 * MIN}
    const {log} = run(rule, [
      [0, 1],
      [5, null],
      [10, 1],
      [12, null],
      [20, null],
      [22, null],
    ])
    expect(log).toEqual(['0:pending', '0:firing!', '22:resolved!'])
  })

  it('repeat interval while firing, not while acknowledged', () => {
    const rule = {...threshold, forMs: 0, repeatMs: 30 * MIN}
    expect(
      run(rule, [
        [0, 1],
        [20, 1],
        [30, 1],
        [50, 1],
        [61, 1],
      ]).log,
    ).toEqual(['0:pending', '0:firing!', '30:repeat!', '61:repeat!'])
    const origin = Date.now()
    const first = step(undefined, seen(1), rule, origin, key).next!
    const acked = {...first, ackedAt: origin + MIN}
    expect(step(acked, seen(1), rule, origin + 60 * MIN).transitions).toEqual([])
  })

  it('event kinds fire at once, notify per further event, and resolve silently', () => {
    const rule: StepRule = {forMs: 0, keepFiringForMs: 0, repeatMs: 0, event: true}
    expect(
      run(rule, [
        [0, 1],
        [1, 2],
        [2, null],
        [3, 3],
      ]).log,
    ).toEqual(['0:pending', '0:firing!', '1:event!', '2:resolved', '3:pending', '3:firing!'])
  })

  it('a resolved instance is never reopened: a new one starts', () => {
    const origin = Date.now()
    const r1 = step(undefined, seen(1), {...threshold, forMs: 0}, origin, key).next!
    const r2 = step(r1, undefined, threshold, origin + MIN).next!
    const r3 = step({...r2, id: 7}, seen(2), threshold, origin + 2 * MIN).next!
    expect(r3.id).toBeUndefined()
    expect(r3).toMatchObject({state: 'pending', startedAt: origin + 2 * MIN, rule: 'r', subject: 's'})
  })
})

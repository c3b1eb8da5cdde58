/**
 * The alert state machine (issue 16), pure: one alert instance per rule + subject.
 *
 *   (condition holds)  → pending ──(held for `for`)──→ firing ──(clear for `keep_firing_for`)──→ resolved
 *   pending whose condition clears before `for` → resolved without ever firing (no notification)
 *
 * One notification per transition into firing and into resolved; while firing, a `repeat` every
 * `repeat_interval` (0 = never; not while acknowledged). Event kinds (device_new …) fire on the
 * event itself, notify again for each further event while firing, and resolve silently.
 * Time comes from the caller (`now`): evaluation happens at checks, so `for` is measured between
 * the first check that saw the condition and a later one.
 */
export type AlertState = 'pending' | 'firing' | 'resolved'
export type TransitionKind = 'pending' | 'firing' | 'repeat' | 'event' | 'resolved' | 'cleared'

export interface Instance {
  id?: number
  rule: string
  subject: string
  state: AlertState
  startedAt: number
  firedAt: number | null
  resolvedAt: number | null
  lastActiveAt: number
  /** First check that saw the condition clear while firing (keep_firing_for counts from here). */
  clearSince: number | null
  lastNotifiedAt: number | null
  ackedAt: number | null
  value: string
  values: Record<string, unknown>
  vars: Record<string, unknown>
}

export interface Transition {
  kind: TransitionKind
  from: AlertState | null
  to: AlertState
  at: number
  notify: boolean
  value: string
  values: Record<string, unknown>
}

export interface StepRule {
  forMs: number
  keepFiringForMs: number
  repeatMs: number
  /** An event kind: fires at once, each new event notifies, resolves without a notification. */
  event: boolean
}

export interface Seen {
  value: string
  values: Record<string, unknown>
  vars: Record<string, unknown>
}

export interface StepResult {
  /** The instance after this check (undefined: there is none). */
  next: Instance | undefined
  transitions: Transition[]
}

export function step(prev: Instance | undefined, seen: Seen | undefined, rule: StepRule, now: number, subject?: {rule: string; subject: string}): StepResult {
  const t = (
    kind: TransitionKind,
    from: AlertState | null,
    to: AlertState,
    notify: boolean,
    s: {value: string; values: Record<string, unknown>},
  ): Transition => ({
    kind,
    from,
    to,
    at: now,
    notify,
    value: s.value,
    values: s.values,
  })
  const open = prev && prev.state !== 'resolved' ? prev : undefined
  if (!open) {
    if (!seen) return {next: undefined, transitions: []}
    const key = subject ?? {rule: prev!.rule, subject: prev!.subject}
    const inst: Instance = {
      rule: key.rule,
      subject: key.subject,
      state: 'pending',
      startedAt: now,
      firedAt: null,
      resolvedAt: null,
      lastActiveAt: now,
      clearSince: null,
      lastNotifiedAt: null,
      ackedAt: null,
      ...seen,
    }
    const out = [t('pending', null, 'pending', false, seen)]
    if (rule.event || rule.forMs <= 0) {
      inst.state = 'firing'
      inst.firedAt = now
      inst.lastNotifiedAt = now
      out.push(t('firing', 'pending', 'firing', true, seen))
    }
    return {next: inst, transitions: out}
  }
  const inst: Instance = {...open}
  if (seen) {
    Object.assign(inst, seen)
    inst.lastActiveAt = now
    inst.clearSince = null
    if (inst.state === 'pending') {
      if (now - inst.startedAt >= rule.forMs) {
        inst.state = 'firing'
        inst.firedAt = now
        inst.lastNotifiedAt = now
        return {next: inst, transitions: [t('firing', 'pending', 'firing', true, seen)]}
      }
      return {next: inst, transitions: []}
    }
    if (rule.event) {
      inst.lastNotifiedAt = now
      return {next: inst, transitions: [t('event', 'firing', 'firing', true, seen)]}
    }
    if (rule.repeatMs > 0 && inst.ackedAt === null && inst.lastNotifiedAt !== null && now - inst.lastNotifiedAt >= rule.repeatMs) {
      inst.lastNotifiedAt = now
      return {next: inst, transitions: [t('repeat', 'firing', 'firing', true, seen)]}
    }
    return {next: inst, transitions: []}
  }
  // The condition does not hold now.
  if (inst.state === 'pending') {
    inst.state = 'resolved'
    inst.resolvedAt = now
    return {next: inst, transitions: [t('cleared', 'pending', 'resolved', false, inst)]}
  }
  inst.clearSince ??= now
  if (now - inst.clearSince >= rule.keepFiringForMs) {
    inst.state = 'resolved'
    inst.resolvedAt = now
    const notify = !rule.event
    if (notify) inst.lastNotifiedAt = now
    return {next: inst, transitions: [t('resolved', 'firing', 'resolved', notify, inst)]}
  }
  return {next: inst, transitions: []}
}
